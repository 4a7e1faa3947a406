"""``kernels.sorting``'s kernels called directly: the order-preserving keys (``float_keys``,
``int_keys``) and one stable radix sort (``radix_pass_all``), against Python's sort.

Already covered in tests/test_sorting.py: the wrappers ``lexsort`` (equal to ``np.lexsort`` on
float/int keys with ties, signed zeros and extremes, and on 200,000 random rows) and
``sortable`` (monotone, rejects strings). New here: the kernels without the wrappers: key order
over the whole int64 and double range, ``radix_pass_all``'s stability, its skipped passes (digits
equal in every row), which buffers hold the result, n = 0 and n = 1.

Contract (docstrings): ``float_keys`` takes float64 bits with -0.0 already folded into 0.0;
``radix_pass_all`` stably reorders ``idx`` by ``key`` (both overwritten) and returns the pair of
arrays holding the sorted keys and indices: either the inputs or the ``tmp_*`` buffers."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, strategies as st

from dcb_fast.kernels import sorting as ks


@given(st.lists(st.one_of(st.floats(allow_nan=False), st.sampled_from([0.0, 5e-324, -5e-324, math.inf, -math.inf])),
                max_size=20))
def test_float_keys_sort_like_the_values(vals):
    v = np.array(vals, np.float64) + 0.0  # the caller folds -0.0 into 0.0
    out = np.zeros(len(v), np.uint64)
    ks.float_keys(v.view(np.uint64), out)
    k = [int(x) for x in out]
    for i in range(len(vals)):
        for j in range(len(vals)):
            assert (k[i] < k[j]) == (v[i] < v[j]) and (k[i] == k[j]) == (v[i] == v[j])


@given(st.lists(st.integers(-(2**63), 2**63 - 1), max_size=20))
def test_int_keys_are_the_values_offset_by_2_pow_63(vals):
    out = np.zeros(len(vals), np.uint64)
    ks.int_keys(np.array(vals, np.int64), out)
    assert [int(x) for x in out] == [x + 2**63 for x in vals]


KEY = st.one_of(st.integers(0, 2**64 - 1), st.integers(0, 3), st.sampled_from([2**63, 2**64 - 1, 256, 255, 2**56]))


@given(st.lists(KEY, max_size=60))
def test_radix_pass_all_is_a_stable_sort(keys):
    n = len(keys)
    key = np.array(keys, np.uint64)
    idx = np.arange(n, dtype=np.int64) * 10  # any payload travels along
    tk, ti = np.zeros(n, np.uint64), np.zeros(n, np.int64)
    bufs = {id(key), id(tk)}, {id(idx), id(ti)}
    sk, si = ks.radix_pass_all(key, idx, tk, ti)
    order = sorted(range(n), key=lambda i: keys[i])  # Python's sort is stable
    assert sk.tolist() == [keys[i] for i in order]
    assert si.tolist() == [10 * i for i in order]
    assert id(sk) in bufs[0] and id(si) in bufs[1]
    assert (sk is key) == (si is idx)  # keys and indices land in the same pair of buffers


def test_passes_whose_digit_never_varies_are_skipped():
    # keys that differ only in their lowest byte: one pass, the result in the spare buffers;
    # keys that differ in two bytes: two passes, back in the inputs
    key = np.array([3, 1, 2, 1], np.uint64) | np.uint64(0xAB00)
    tk, ti = np.zeros(4, np.uint64), np.zeros(4, np.int64)
    sk, si = ks.radix_pass_all(key, np.arange(4, dtype=np.int64), tk, ti)
    assert sk is tk and si is ti and si.tolist() == [1, 3, 2, 0]
    key = np.array([0x0102, 0x0201, 0x0101, 0x0202], np.uint64)
    idx = np.arange(4, dtype=np.int64)
    sk, si = ks.radix_pass_all(key, idx, np.zeros(4, np.uint64), np.zeros(4, np.int64))
    assert sk is key and si is idx and si.tolist() == [2, 0, 1, 3]
    # every key equal: no pass at all, nothing moves
    key = np.full(3, 7, np.uint64)
    idx = np.array([2, 0, 1], np.int64)
    sk, si = ks.radix_pass_all(key, idx, np.zeros(3, np.uint64), np.zeros(3, np.int64))
    assert si is idx and si.tolist() == [2, 0, 1]
