"""``kernels.refine``: atom summaries, scoring a split of every fiber by one more column, the
stable split itself and the row gather, each against a pure-Python oracle.

Already covered through ``completion`` (tests/test_completion*.py: greedy completion curves vs
``greedy_completion_oracle``). New here: the kernels alone on random segments, atoms without
rows, mixed atoms, ``col = -1`` (the fibers as they are), weighted and unweighted summaries.

Contract (docstrings and ``completion.Atoms``): an atom's action is its single action, -2 when it
holds two or more (mixed), -1 when it has no rows (skipped by scoring); unweighted, an atom's
weight is its row count. ``score_split`` *adds* to ``acc`` (int64[4, 2] 128-bit weights: all,
certified, ambiguous, thin) and ``cnt`` (fibers, mixed, thin; thin fibers out of the first two
with ``skip_thin``); a sub-fiber is the atoms of one segment with one code in ``col``, codes in
``[0, ncodes)``. ``apply_split`` writes ``new_perm[position] = old position`` (stable, codes
ascending within each segment) and the sub-segment bounds, and returns their number."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from dcb_fast.kernels import refine as kr

from .reference import fixed_value, refine_scores_oracle, stable_split_oracle


@st.composite
def atom_sets(draw):
    n = draw(st.integers(0, 25))
    na = draw(st.integers(1, 3))
    k = draw(st.integers(1, 3))
    ncodes = draw(st.integers(1, 5))
    counts = np.array(draw(st.lists(st.lists(st.sampled_from([0, 0, 1, 2, 5]), min_size=na, max_size=na),
                                    min_size=n, max_size=n)), np.int64).reshape(n, na)
    whi = np.array(draw(st.lists(st.lists(st.integers(0, 3), min_size=na, max_size=na), min_size=n, max_size=n)),
                   np.int64).reshape(n, na)
    wlo = np.array(draw(st.lists(st.lists(st.sampled_from([0, 1, 2**63, 2**64 - 1]), min_size=na, max_size=na),
                                 min_size=n, max_size=n)), np.uint64).reshape(n, na)
    whi[counts == 0], wlo[counts == 0] = 0, 0  # a weight only where there are rows
    codes = np.array(draw(st.lists(st.lists(st.integers(0, ncodes - 1), min_size=k, max_size=k), min_size=n,
                                   max_size=n)), np.int32).reshape(n, k)
    cuts = sorted(set(draw(st.lists(st.integers(0, n), max_size=5))) | {0, n})
    return counts, whi, wlo, codes, ncodes, np.array(cuts, np.int64)


def summarize(counts, whi, wlo, weighted):
    n = len(counts)
    out = (np.empty(n, np.int64), np.empty(n, np.int64), np.empty(n, np.uint64), np.empty(n, np.int64))
    kr.summarize_atoms(counts, whi, wlo, weighted, *out)
    return out


@given(atom_sets(), st.booleans())
def test_summarize_atoms(atoms, weighted):
    counts, whi, wlo, *_ = atoms
    rows, thi, tlo, act = summarize(counts, whi, wlo, weighted)
    for i in range(len(counts)):
        present = [a for a in range(counts.shape[1]) if counts[i, a]]
        assert rows[i] == sum(counts[i])
        want_w = sum(fixed_value(whi[i, a], wlo[i, a]) for a in present) if weighted else int(sum(counts[i])) * 2**64
        assert fixed_value(thi[i], tlo[i]) == want_w
        assert act[i] == (-1 if not present else present[0] if len(present) == 1 else -2)


def test_summarize_reads_strided_views():
    rec = np.arange(24, dtype=np.int64).reshape(4, 6) % 3  # counts are columns 1..2 of a record table
    view = rec[:, 1:3]
    assert not view.flags.c_contiguous
    rows, thi, tlo, act = summarize(view, view, view.view(np.uint64), False)
    assert rows.tolist() == view.sum(axis=1).tolist()
    assert act.tolist() == [-2 if (r > 0).all() else (-1 if not r.any() else int(np.flatnonzero(r)[0]))
                            for r in view]


@given(atom_sets(), st.booleans(), st.integers(1, 8), st.booleans(), st.data())
def test_score_split_matches_the_oracle(atoms, weighted, s, skip, data):
    counts, whi, wlo, codes, ncodes, seg = atoms
    col = data.draw(st.integers(-1, codes.shape[1] - 1))
    rows, thi, tlo, act = summarize(counts, whi, wlo, weighted)
    acc = np.zeros((4, 2), np.int64)
    cnt = np.zeros(3, np.int64)
    for _ in range(2):  # it adds: twice gives twice
        kr.score_split(seg, codes, col, ncodes if col >= 0 else 1, rows, thi, tlo, act, s, skip, acc, cnt)
    units = [{a: [int(counts[i, a]), fixed_value(whi[i, a], wlo[i, a]) if weighted else int(counts[i, a]) * 2**64]
              for a in range(counts.shape[1])} for i in range(len(counts))]
    want_acc, want_cnt = refine_scores_oracle(seg.tolist(), codes.tolist(), col, units, s, skip)
    assert [fixed_value(acc[j, 0], np.int64(acc[j, 1]).view(np.uint64)) for j in range(4)] == [2 * x for x in want_acc]
    assert cnt.tolist() == [2 * x for x in want_cnt]


@given(atom_sets(), st.data())
def test_apply_split_sorts_each_segment_stably(atoms, data):
    _, _, _, codes, ncodes, seg = atoms
    col = data.draw(st.integers(0, codes.shape[1] - 1))
    n = len(codes)
    perm = np.full(n, -1, np.int64)
    new_seg = np.full(n + 1, -1, np.int64)
    ns = kr.apply_split(seg, codes, col, ncodes, perm, new_seg)
    want_perm, want_seg = stable_split_oracle(seg.tolist(), codes.tolist(), col)
    assert perm.tolist() == want_perm
    assert ns == len(want_seg) - 1 and new_seg[: ns + 1].tolist() == want_seg


@given(st.integers(0, 12), st.integers(1, 4), st.randoms(use_true_random=False))
def test_gather_rows(n, w, rnd):
    src = np.arange(n * w, dtype=np.int64).reshape(n, w) * 7
    perm = list(range(n))
    rnd.shuffle(perm)
    dst = np.empty_like(src)
    kr.gather_rows(src, np.array(perm, np.int64), dst)
    assert dst.tolist() == [src[p].tolist() for p in perm]


def test_hand_split_and_score():
    # one fiber of 4 atoms, split by codes [1, 0, 1, 0]: sub-fiber 0 = atoms 1, 3 (actions a, a),
    # sub-fiber 1 = atoms 0, 2 (a, b): one certified (2 rows), one mixed (2 rows)
    counts = np.array([[1, 0], [1, 0], [0, 1], [1, 0]], np.int64)
    codes = np.array([[1], [0], [1], [0]], np.int32)
    seg = np.array([0, 4], np.int64)
    rows, thi, tlo, act = summarize(counts, counts, counts.view(np.uint64), False)
    acc, cnt = np.zeros((4, 2), np.int64), np.zeros(3, np.int64)
    kr.score_split(seg, codes, 0, 2, rows, thi, tlo, act, 1, False, acc, cnt)
    assert acc[:, 0].tolist() == [4, 2, 2, 0] and cnt.tolist() == [2, 1, 0]
    perm, new_seg = np.empty(4, np.int64), np.empty(5, np.int64)
    assert kr.apply_split(seg, codes, 0, 2, perm, new_seg) == 2
    assert perm.tolist() == [1, 3, 0, 2] and new_seg[:3].tolist() == [0, 2, 4]
