"""``kernels.hashing``: the 128-bit fixed point (add128, sub128, less128, to_fixed,
weights_to_fixed) against Python ints over the full int64/uint64 range, carries and borrows
included, and the hash mixers (mix64, hash_bytes) against their published definitions.

Contract, as the kernels use it (read from the module and its callers): a fixed-point number is
a pair (signed int64 integer part ``hi``, uint64 fraction ``lo``) worth ``hi + lo / 2**64``.
``add128`` is exact addition modulo 2**128 (two's complement: callers never overflow, the
integer part of a weight total stays far below 2**63); ``sub128`` is documented for ``a >= b``
(the callers subtract a part from its total) and is then exact; ``less128`` is the signed order.
``to_fixed`` takes a finite weight ``0 <= w < 2**63`` and truncates its fraction to a multiple
of 2**-64 (exact for every weight >= 2**-11, the module docstring)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from dcb_fast.kernels import hashing as kh

from .reference import (
    add128_oracle,
    fixed_value,
    hash_bytes_oracle,
    less128_oracle,
    mix64_oracle,
    sub128_oracle,
    to_fixed_oracle,
)

I64 = st.one_of(st.integers(-(2**63), 2**63 - 1), st.sampled_from([0, 1, -1, 2**63 - 1, -(2**63), 2**62]))
U64 = st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 1, 2**63, 2**64 - 1, 2**64 - 2, 2**63 - 1]))
FIXED = st.tuples(I64, U64)


def call(fn, a, b):
    return fn(np.int64(a[0]), np.uint64(a[1]), np.int64(b[0]), np.uint64(b[1]))


def pair(r):
    return int(r[0]), int(r[1])


@given(FIXED, FIXED)
@example((5, 2**64 - 1), (0, 1))  # a fraction carry into the integer part
@example((-1, 2**63), (0, 2**63))  # -1/2 + 1/2 = 0 with a carry
@example((2**63 - 1, 2**64 - 1), (0, 1))  # wraps to the most negative value
def test_add128_is_addition_modulo_2_128(a, b):
    assert pair(call(kh.add128, a, b)) == add128_oracle(a, b)
    assert pair(call(kh.add128, a, b)) == pair(call(kh.add128, b, a))


@given(FIXED, FIXED)
@example((1, 0), (0, 1))  # a borrow from the integer part
@example((0, 0), (0, 0))
@example((-(2**63), 0), (-(2**63), 0))
def test_sub128_is_exact_for_a_at_least_b(a, b):
    if fixed_value(*a) < fixed_value(*b):
        a, b = b, a
    got = pair(call(kh.sub128, a, b))
    assert got == sub128_oracle(a, b)
    if fixed_value(*a) - fixed_value(*b) < 2**127:  # the difference is representable: no wrap
        assert fixed_value(*got) == fixed_value(*a) - fixed_value(*b)
    assert pair(call(kh.add128, got, b)) == (a[0], a[1])  # add128 undoes it


@given(FIXED, FIXED)
@example((0, 2**64 - 1), (1, 0))  # the fraction is unsigned: 1 - 2**-64 < 1
@example((-1, 2**64 - 1), (0, 0))  # -2**-64 < 0
@example((3, 7), (3, 7))
def test_less128_is_the_signed_order(a, b):
    assert bool(call(kh.less128, a, b)) == less128_oracle(a, b)
    assert bool(call(kh.less128, b, a)) == less128_oracle(b, a)


WEIGHTS = st.one_of(st.floats(0.0, 2.0**63, exclude_max=True, allow_subnormal=True),
                    st.sampled_from([0.0, 2.0**-1074, 2.0**-64, 2.0**-65, 2.0**-11, 0.5, 1.0 - 2.0**-53, 1.0, 3.25,
                                     2.0**52 + 1, 2.0**62, 2.0**63 - 1024]))


@given(WEIGHTS)
def test_to_fixed_truncates_to_multiples_of_2_pow_minus_64(w):
    hi, lo = kh.to_fixed(np.float64(w))
    assert (int(hi), int(lo)) == to_fixed_oracle(w)
    if w >= 2.0**-11:  # exact: the pair holds the weight itself
        assert fixed_value(hi, lo) == w * 2**64


@given(st.lists(WEIGHTS, max_size=30))
def test_weights_to_fixed_is_to_fixed_per_row(ws):
    w = np.array(ws, np.float64)
    hi, lo = np.empty(len(w), np.int64), np.empty(len(w), np.uint64)
    kh.weights_to_fixed(w, hi, lo)
    assert [(int(h), int(x)) for h, x in zip(hi, lo)] == [to_fixed_oracle(x) for x in ws]


def test_sums_of_fixed_weights_do_not_depend_on_the_order():
    # the reason for the fixed point: 0.1 + 0.2 + 0.3 in float64 depends on the order, here not
    ws = [0.1, 0.2, 0.3, 1e-3, 7.5]
    totals = set()
    for order in ([0, 1, 2, 3, 4], [4, 3, 2, 1, 0], [2, 0, 4, 1, 3]):
        acc = (0, 0)
        for i in order:
            acc = pair(call(kh.add128, acc, to_fixed_oracle(ws[i])))
        totals.add(acc)
    assert totals == {add128_oracle(add128_oracle(add128_oracle(add128_oracle(
        to_fixed_oracle(0.1), to_fixed_oracle(0.2)), to_fixed_oracle(0.3)), to_fixed_oracle(1e-3)),
        to_fixed_oracle(7.5))}


@given(U64)
@example(0)
@example(2**64 - 1)
def test_mix64_is_splitmix64s_finaliser(x):
    assert int(kh.mix64(np.uint64(x))) == mix64_oracle(x)


def test_mix64_known_value():
    # splitmix64 with seed 0: the first output is mix64(0x9E3779B97F4A7C15) = 0xE220A8397B1DCDAF
    assert int(kh.mix64(kh.GOLDEN)) == 0xE220A8397B1DCDAF == mix64_oracle(0x9E3779B97F4A7C15)


@given(st.binary(max_size=40), st.data())
def test_hash_bytes_is_fnv1a_of_the_slice_mixed_with_its_length(data, draw):
    buf = np.frombuffer(b"\xff" + data + b"\x00\x07", np.uint8)  # the slice sits inside a larger buffer
    assert int(kh.hash_bytes(buf, 1, 1 + len(data))) == hash_bytes_oracle(data)
    a = draw.draw(st.integers(0, len(buf)))
    b = draw.draw(st.integers(a, len(buf)))
    assert int(kh.hash_bytes(buf, a, b)) == hash_bytes_oracle(bytes(buf[a:b]))


def test_hash_bytes_tells_empty_from_nul():
    buf = np.zeros(2, np.uint8)
    assert kh.hash_bytes(buf, 0, 0) != kh.hash_bytes(buf, 0, 1) != kh.hash_bytes(buf, 0, 2)
    # FNV-1a of the empty string is its offset basis
    assert hash_bytes_oracle(b"") == mix64_oracle(0xCBF29CE484222325)


@pytest.mark.parametrize("w", [np.nextafter(2.0**-11, 0), 2.0**-70])
def test_tiny_weights_are_truncated_not_rounded(w):
    hi, lo = kh.to_fixed(np.float64(w))
    assert fixed_value(hi, lo) <= w * 2**64 < fixed_value(hi, lo) + 1
