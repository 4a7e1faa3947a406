"""``kernels.selection``: order-preserving float keys (``keys_of``, ``key_to_float``) and the
histogram / collect passes of the exact streamed quantiles, against their definitions.

Already covered through ``quantiles.exact_quantiles`` / ``quantile_edges`` (tests/test_rules.py:
equal to ``np.quantile`` over batches and in the multi-pass path with a tiny budget). New here:
the key order itself over every kind of double (signed zeros, subnormals, infinities), nulls by
an offset bitmap and NaN skipped, the prefix lookup at shift 64, histograms and collection
against plain-Python loops.

Contract (docstrings and ``quantiles.py``): ``keys_of`` writes, in input order, a uint64 key of
every valid non-NaN value, with key order = numeric order and -0.0, 0.0 sharing a key, and
returns how many; ``key_to_float`` inverts it (0.0 for the zeros). ``histogram_digit`` adds to
``hist[prefix index]`` the digit counts of the keys of ``keys[:n]`` under a prefix; ``collect``
appends those keys to ``out`` from ``m`` on and returns the new end; ``prefixes`` are sorted."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, strategies as st

from dcb_fast.kernels import selection as ksel

from .reference import digit_histogram_oracle

DOUBLES = st.one_of(st.floats(allow_nan=False), st.sampled_from([0.0, -0.0, 5e-324, -5e-324, math.inf, -math.inf,
                                                                 1.7976931348623157e308, 2.2250738585072014e-308]))


def keys(values, valid=None, voff=0):
    v = np.array(values, np.float64)
    bm = np.zeros(0, np.uint8)
    if valid is not None:
        bits = [0] * voff + [int(x) for x in valid]
        bm = np.zeros(len(bits) // 8 + 1, np.uint8)
        for i, b in enumerate(bits):
            bm[i >> 3] |= b << (i & 7)
    out = np.zeros(len(v), np.uint64)
    m = ksel.keys_of(v, v.view(np.uint64), bm, voff, out)
    return [int(k) for k in out[:m]]


@given(DOUBLES, DOUBLES)
def test_key_order_is_the_numeric_order(x, y):
    kx, ky = keys([x, y])
    assert (kx < ky) == (x < y) and (kx == ky) == (x == y)  # -0.0 == 0.0 share a key
    assert ksel.key_to_float(kx) == x and (math.copysign(1, ksel.key_to_float(kx)) == 1 or x != 0)


@given(st.lists(st.one_of(DOUBLES, st.just(math.nan), st.none()), max_size=30), st.integers(0, 9))
def test_keys_of_skips_nulls_and_nan_in_input_order(values, voff):
    valid = [v is not None for v in values]
    vals = [math.nan if v is None else v for v in values]
    kept = [v for v in values if v is not None and not math.isnan(v)]
    got = keys(vals, valid, voff)
    assert len(got) == len(kept)
    assert [ksel.key_to_float(k) for k in got] == [v + 0.0 for v in kept]  # -0.0 comes back as 0.0
    assert sorted(range(len(got)), key=lambda i: got[i]) == sorted(range(len(kept)), key=lambda i: (kept[i], i))


U64 = st.integers(0, 2**64 - 1)


@given(st.lists(st.one_of(U64, st.integers(0, 40)), max_size=30), st.sampled_from([(64, 60, 4), (60, 56, 4),
       (62, 42, 20), (4, 0, 4), (44, 24, 20)]), st.data())
def test_histogram_and_collect_match_plain_loops(ks, shifts, data):
    shift_prefix, shift_digit, digit = shifts
    top = [k >> shift_prefix if shift_prefix < 64 else 0 for k in ks]
    extra = data.draw(st.lists(st.integers(0, 2 ** (64 - min(shift_prefix, 63)) - 1), max_size=3))
    prefixes = sorted(set(data.draw(st.lists(st.sampled_from(top), max_size=3)) if top else []) | set(extra))
    n = data.draw(st.integers(0, len(ks)))
    arr = np.array(ks + [2**64 - 1], np.uint64)  # a key past n that must not be read
    p = np.array(prefixes, np.uint64)
    hist = np.zeros((len(prefixes), 1 << digit), np.int64)
    ksel.histogram_digit(arr, n, p, shift_prefix, shift_digit, digit, hist)
    assert hist.tolist() == digit_histogram_oracle(ks[:n], prefixes, shift_prefix, shift_digit, digit)
    out = np.zeros(len(ks) + 2, np.uint64)
    m = ksel.collect(arr, n, p, shift_prefix, out, 2)
    want = [k for k in ks[:n] if (k >> shift_prefix if shift_prefix < 64 else 0) in prefixes]
    assert m == 2 + len(want) and out[2:m].tolist() == want


def test_prefix_index():
    prefixes = np.array([1, 5, 9], np.uint64)
    assert [ksel.prefix_index(prefixes, np.uint64(k << 60), 60) for k in (0, 1, 5, 9, 15)] == [-1, 0, 1, 2, -1]
    assert ksel.prefix_index(np.array([0], np.uint64), np.uint64(2**64 - 1), 64) == 0  # depth 0: every key
