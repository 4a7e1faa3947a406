"""Partitioned counting (kernels.partitions, fiber_tables.Partitions) against the dict-of-tuples
oracle: exact counts and 128-bit weights whatever the partition bits, batch split, buffer size,
table growth (more partitions, more room) and thread count."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import dcb_fast.fibers.store as FT
from dcb_fast.fibers.store import Partitions, Tables, bits_for_rows
from dcb_fast.kernels import counting as kc
from dcb_fast.kernels import partitions as kp

from .reference import code_fibers_oracle, stable_partition_oracle


def counted(p: Partitions, k: int):
    """The partitions' fibers as {key tuple: {action: [rows, exact weight]}} (each fiber once)."""
    p.settle()
    t = p.tables
    out = {}
    kw, na = p.kw, p.na
    for q in np.flatnonzero(t.nf):
        rec = t.records(int(q))
        m = rec.shape[0]
        keys = np.empty((m, k), np.int32)
        counts = np.empty((m, na), np.int64)
        whi = np.empty((m, na), np.int64)
        wlo = np.empty((m, na), np.uint64)
        kc.unpack_table(rec, m, k, kw, na, p.groups == 3, keys, counts, whi, wlo)
        for f in range(m):
            key = tuple(int(x) for x in keys[f])
            assert key not in out, "a fiber is in two partitions or twice in one"
            cells = {}
            for a in range(na):
                if counts[f, a]:
                    w = (int(whi[f, a]) + Fraction(int(wlo[f, a]), 2**64)) if p.groups == 3 else Fraction(int(counts[f, a]))
                    cells[a] = [int(counts[f, a]), w]
            out[key] = cells
    return out


@st.composite
def batches(draw):
    k = draw(st.integers(1, 5))
    n = draw(st.integers(0, 300))
    card = draw(st.integers(1, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    codes = rng.integers(0, card, (k, n)).astype(np.int32)
    if n and draw(st.booleans()):
        codes[rng.integers(0, k, n // 7), rng.integers(0, n, n // 7)] = -1  # dropped nulls
    acodes = rng.integers(0, draw(st.integers(1, 6)), n).astype(np.int32)
    kind = draw(st.sampled_from([None, "float", "int"]))
    weights = None
    if kind == "float":
        weights = rng.random(n) * rng.choice([1e-12, 1.0, 1e9], n)
    elif kind == "int":
        weights = rng.integers(0, 1 << 40, n).astype(np.int64)
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=4)))
    return k, codes, acodes, kind, weights, [0] + cuts + [n]


def _feed(p, codes, acodes, kind, weights, cuts):
    dropped = 0
    for lo, hi in zip(cuts[:-1], cuts[1:]):
        a = acodes[lo:hi].copy()
        if kind == "float":
            dropped += p.add(codes[:, lo:hi], a, weights=weights[lo:hi])
        elif kind == "int":
            dropped += p.add(codes[:, lo:hi], a, chi=weights[lo:hi])
        else:
            dropped += p.add(codes[:, lo:hi], a)
        top = int(a.max(initial=-1)) + 1
        if top > p.na:
            p.widen(top)
    return dropped


@settings(max_examples=80, deadline=None)
@given(batches(), st.sampled_from([0, 16, 10_000]), st.sampled_from([1, 2, 3]), st.sampled_from([0, 5_000]),
       st.sampled_from([None, 0, 2, 5]), st.sampled_from([8, 1 << 13]))
def test_partitioned_counts_equal_the_oracle(data, expected, threads, pending, bits, per_part):
    """Any start (partition bits, reserved room), buffer size, thread count, and growth (small
    ``per_part``: the tables split into more partitions as they fill) counts the same."""
    k, codes, acodes, kind, weights, cuts = data
    want, want_dropped = code_fibers_oracle(codes, acodes, weights, kind=kind or "float")
    old = FT.PENDING_ROWS, FT.FIBERS_PER_PART
    FT.PENDING_ROWS = pending or old[0]
    FT.FIBERS_PER_PART = per_part
    try:
        p = Partitions(k, kind is not None, threads, expected_rows=expected, capacity=16)
        if bits is not None:
            p.tables = Tables(bits, 16, p.width)
        dropped = _feed(p, codes, acodes, kind, weights, cuts)
    finally:
        FT.PENDING_ROWS, FT.FIBERS_PER_PART = old
    assert dropped == want_dropped
    assert counted(p, k) == want


def test_tables_grow_into_more_partitions_and_keep_every_fiber():
    # one small table to start with: growing splits it into partitions and doubles their room
    rng = np.random.default_rng(5)
    k, n = 3, 60_000
    codes = rng.integers(0, 60, (k, n)).astype(np.int32)
    acodes = rng.integers(0, 3, n).astype(np.int32)
    w = rng.random(n)
    old = FT.FIBERS_PER_PART
    FT.FIBERS_PER_PART = 512
    try:
        p = Partitions(k, True, 2, capacity=16)
        p.widen(3)
        for lo in range(0, n, 7_000):
            p.add(codes[:, lo : lo + 7_000], acodes[lo : lo + 7_000].copy(), weights=w[lo : lo + 7_000])
        p.settle()
    finally:
        FT.FIBERS_PER_PART = old
    assert p.tables.b >= 4  # it did split
    assert counted(p, k) == code_fibers_oracle(codes, acodes, w)[0]


def test_cells_with_fixed_point_weights_add_exactly():
    # cells carry (rows, integer part, fraction): a fraction carry into the integer part
    codes = np.array([[1, 1, 2, 1], [0, 0, 0, 0]], np.int32)
    acodes = np.array([0, 0, 1, 0], np.int32)
    cnt = np.array([3, 4, 1, 2], np.int64)
    hi = np.array([5, 7, 0, 1], np.int64)
    lo = np.array([2**63, 2**63 + 1, 9, 2**64 - 1], np.uint64)
    p = Partitions(2, True, 1)
    p.widen(2)
    p.add(codes, acodes.copy(), cnt=cnt, chi=hi, clo=lo)
    # by hand: rows 3 + 4 + 2; weight 5 + 7 + 1 + (2**63 + 2**63 + 1 + 2**64 - 1) / 2**64 = 13 + 2
    want = {(1, 0): {0: [9, Fraction(15)]}, (2, 0): {1: [1, Fraction(9, 2**64)]}}
    assert counted(p, 2) == want
    assert counted(p, 2) == code_fibers_oracle(codes, acodes, list(zip(hi, lo)), cnt, kind="fixed")[0]


def test_hash_and_scatter_list_rows_by_partition_in_input_order():
    rng = np.random.default_rng(1)
    k, n, b = 3, 5_000, 4
    codes = rng.integers(0, 9, (k, n)).astype(np.int32)
    codes[0, ::11] = -1
    acodes = rng.integers(0, 3, n).astype(np.int32)
    w = rng.random(n)
    hashes = np.empty(n, np.uint64)
    hist = np.zeros(1 << b, np.int64)
    dropped = kp.hash_part(codes, acodes, b, hashes, hist)
    kept = [i for i in range(n) if codes[0, i] >= 0]
    assert dropped == n - len(kept) and all(acodes[i] == -1 for i in range(n) if codes[0, i] < 0)
    parts = [int(hashes[i]) >> (64 - b) for i in kept]
    assert hist.tolist() == np.bincount(parts, minlength=1 << b).tolist()
    # equal keys hash alike
    by_key = {}
    for i in kept:
        assert by_key.setdefault(tuple(codes[:, i]), hashes[i]) == hashes[i]
    starts = np.concatenate([[0], np.cumsum(hist)])
    cursor = starts[:-1].copy()
    W = 2 + 2 + 1
    buf = np.zeros((n, W), np.int64)
    kp.scatter(codes, acodes, w, np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64), b, hashes,
               cursor, buf, buf.view(np.float64))
    order = stable_partition_oracle(parts, kept)
    got = buf[: len(kept)]
    assert got[:, 0].view(np.uint64).tolist() == [int(hashes[i]) for i in order]
    assert got[:, 1].tolist() == [int(codes[0, i]) | int(codes[1, i]) << 32 for i in order]
    assert got[:, 2].tolist() == [int(codes[2, i]) for i in order]
    assert got[:, 3].tolist() == [int(acodes[i]) for i in order]
    assert got[:, 4].view(np.float64).tolist() == [float(w[i]) for i in order]


@pytest.mark.parametrize("b", [0, 3, 8])
def test_lookup_finds_every_fiber_at_its_table_index(b):
    rng = np.random.default_rng(b)
    k, n = 2, 3_000
    codes = rng.integers(0, 80, (k, n)).astype(np.int32)
    p = Partitions(k, False, 1)
    p.tables = Tables(b, 64, p.width)
    p.add(codes, np.zeros(n, np.int32))
    p.settle()
    t = p.tables
    offs = t.offsets()
    probe = np.concatenate([codes, np.array([[80, -1], [0, 3]], np.int32)], axis=1)
    got = p.lookup(probe)
    assert got[-2:].tolist() == [-1, -1]  # an absent key, a negative code
    for i in range(n):
        q = int(got[i])
        part = int(np.searchsorted(offs, q, side="right")) - 1
        rec = t.records(part)[q - offs[part]]
        assert (int(rec[0]) & 0xFFFFFFFF, int(rec[0]) >> 32) == (codes[0, i], codes[1, i])


def test_partition_bits_grow_with_the_input():
    assert bits_for_rows(1_000, 1) == 0
    assert bits_for_rows(10_000_000, 2) == 10  # 610 partitions of 16,384 rows -> 1024
    assert bits_for_rows(40_000, 2) == 3  # at least 4 per thread
    assert bits_for_rows(10**10, 2) == FT.MAX_BITS
