"""``kernels.counting``: the fiber record layout (``unpack_table``), weight validation
(``count_invalid_weights``) and dense counting (``count_dense``) against the dict-of-tuples
oracle (``code_fibers_oracle``) and the record layout written out in ``fiber_records_oracle``.

Already covered elsewhere: ``count_shard`` is ``kernels.partitions.aggregate`` under its old name
(tests/test_partitions.py and tests/test_kernel_partitions.py count through it); this file only
checks the alias.

Contract of ``count_dense`` (from its docstring and ``fibers.py``): the dense cell of a row is
``sum_j codes[j, i] * strides[j]`` (the caller's mixed radix: codes in ``[0, radix[j])``,
``strides`` the running products); only rows ``lo..hi-1`` are read; a row with a negative code
or a negative action is skipped and counted in the return value; ``counts``/``whi``/``wlo`` are
*added to* (a table is fed batch after batch); float weights are truncated to the fixed point
per row, int64 weights are exact integer parts; with both weight arrays empty nothing but
``counts`` is written."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, strategies as st

from dcb_fast.kernels import counting as kc
from dcb_fast.kernels import partitions as kp

from .reference import code_fibers_oracle, fiber_records_oracle, fixed_value


def test_count_shard_is_the_partition_aggregate():
    assert kc.count_shard is kp.aggregate


@given(st.integers(0, 5), st.integers(0, 4), st.booleans(), st.data())
def test_unpack_table_inverts_the_record_layout(k, na, weighted, data):
    nf = data.draw(st.integers(0, 8))
    code = st.one_of(st.integers(-(2**31), 2**31 - 1), st.sampled_from([0, 1, -1, 2**31 - 1]))
    fibers = []
    for _ in range(nf):
        key = data.draw(st.lists(code, min_size=k, max_size=k))
        cells = {}
        for a in range(na):
            rows = data.draw(st.integers(0, 2**40))
            weight = Fraction(data.draw(st.integers(0, 2**100)), 2**64) if weighted else Fraction(rows)
            cells[a] = [rows, weight]
        fibers.append((key, cells))
    rec = fiber_records_oracle(fibers, k, na, weighted)
    keys = np.full((nf, k), 99, np.int32)
    counts = np.full((nf, na), -5, np.int64)
    whi = np.full((nf, na), -5, np.int64)
    wlo = np.full((nf, na), 5, np.uint64)
    kc.unpack_table(rec, nf, k, (k + 1) // 2, na, weighted, keys, counts, whi, wlo)
    for f, (key, cells) in enumerate(fibers):
        assert keys[f].tolist() == key
        for a, (rows, weight) in cells.items():
            assert counts[f, a] == rows
            if weighted:
                assert fixed_value(whi[f, a], wlo[f, a]) == weight * 2**64
    if not weighted:  # the weight arrays are not touched
        assert (whi == -5).all() and (wlo == 5).all()


def test_unpack_table_reads_only_the_first_nf_records():
    fibers = [([1, 2, 3], {0: [4, Fraction(4)]}), ([5, 6, 7], {0: [8, Fraction(8)]})]
    rec = fiber_records_oracle(fibers, 3, 1, False)
    keys, counts = np.zeros((2, 3), np.int32), np.zeros((2, 1), np.int64)
    kc.unpack_table(rec, 1, 3, 2, 1, False, keys, counts, counts, counts.view(np.uint64))
    assert keys.tolist() == [[1, 2, 3], [0, 0, 0]] and counts.tolist() == [[4], [0]]


BAD = [float("nan"), float("inf"), -float("inf"), -1.0, -0.0001, 2.0**62, 1e300]
GOOD = [0.0, -0.0, 1.0, 2.0**62 - 1024, 5e-324, 0.5]


@given(st.lists(st.one_of(st.sampled_from(BAD + GOOD), st.floats(allow_nan=True, allow_infinity=True)), max_size=40))
def test_count_invalid_weights_counts_what_is_not_finite_in_0_to_2_pow_62(ws):
    import math

    want = sum(not (math.isfinite(x) and 0 <= x < 2**62) for x in ws)
    assert kc.count_invalid_weights(np.array(ws, np.float64)) == want


@st.composite
def dense_batches(draw):
    k = draw(st.integers(1, 3))
    radix = draw(st.lists(st.integers(1, 5), min_size=k, max_size=k))
    n = draw(st.integers(0, 60))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    codes = np.stack([rng.integers(0, r, n) for r in radix]).astype(np.int32).reshape(k, n)
    if n and draw(st.booleans()):
        codes[rng.integers(0, k, n // 5), rng.integers(0, n, n // 5)] = -1
    na = draw(st.integers(1, 4))
    acodes = rng.integers(0, na, n).astype(np.int32)
    if n and draw(st.booleans()):
        acodes[rng.integers(0, n, n // 6)] = -1
    kind = draw(st.sampled_from(["none", "float", "int"]))
    weights = None
    if kind == "float":
        weights = rng.random(n) * rng.choice([1e-25, 1.0, 1e12], n)
    elif kind == "int":
        weights = rng.integers(0, 1 << 50, n).astype(np.int64)
    lo = draw(st.integers(0, n))
    hi = draw(st.integers(lo, n))
    return radix, codes, acodes, na, kind, weights, lo, hi


@given(dense_batches(), st.booleans())
def test_count_dense_matches_the_fiber_oracle(batch, twice):
    radix, codes, acodes, na, kind, weights, lo, hi = batch
    k = len(radix)
    strides = np.cumprod([1] + radix[:-1]).astype(np.int64)
    cells = int(np.prod(radix))
    counts = np.zeros((cells, na), np.int64)
    whi = np.zeros((cells, na), np.int64)
    wlo = np.zeros((cells, na), np.uint64)
    fw = weights if kind == "float" else np.zeros(0, np.float64)
    iw = weights if kind == "int" else np.zeros(0, np.int64)
    rounds = 2 if twice else 1
    dropped = 0
    for _ in range(rounds):  # a table fed twice holds twice the counts
        dropped += kc.count_dense(codes, acodes, fw, iw, lo, hi, strides, counts, whi, wlo)
    sl = slice(lo, hi)
    want, want_dropped = code_fibers_oracle(codes[:, sl], acodes[sl], None if weights is None else weights[sl],
                                            kind="float" if kind == "none" else kind)
    assert dropped == rounds * want_dropped
    got = {}
    for idx in np.flatnonzero(counts.any(axis=1)):
        key = tuple(int(idx // strides[j]) % radix[j] for j in range(k))
        got[key] = {a: [int(counts[idx, a]), Fraction(fixed_value(whi[idx, a], wlo[idx, a]), 2**64)]
                    for a in range(na) if counts[idx, a]}
    if kind == "none":  # unweighted: the weight arrays stay zero; the oracle's weight is the row count
        assert not whi.any() and not wlo.any()
        got = {key: {a: [r, Fraction(r)] for a, (r, _) in c.items()} for key, c in got.items()}
    want = {key: {a: [rounds * r, rounds * w] for a, (r, w) in c.items()} for key, c in want.items()}
    assert got == want
