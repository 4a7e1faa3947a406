"""``kernels.finalize.finalize_shard``: every per-fiber figure and every exact total of an audit
(SPEC section 2) from a shard's records, against ``finalize_oracle`` on the same fibers.

Contract (from the kernel's docstring, the module's ACC_/CNT_ layout and ``metrics.py``): the
records are ``kernels.counting``'s layout; only fibers ``0..nf-1`` are read; an action with 0
rows in a fiber is absent from it (its weight is not read); unweighted, a row weighs 1.
``acc``/``cnt`` are *added to* (shards accumulate into one pair); the per-fiber slices ``tot_*``,
``major``, ``maj_*``, ``n_actions`` may be empty (then only ``support`` and ``cls`` are written).
The majority is by weight, ties to the lowest ``arank`` (canonical rank of the action value, not
its code). A fiber below ``min_support`` is thin even when pure or mixed; ``skip_thin`` leaves
thin fibers out of the fiber and mixed-fiber counts only."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, strategies as st

from dcb_fast.kernels import finalize as kf

from .reference import fiber_records_oracle, finalize_oracle, fixed_value


def test_layout_constants_match_the_oracle_layout():
    assert (kf.ACC_TOTAL, kf.ACC_CERT, kf.ACC_AMB, kf.ACC_THIN, kf.ACC_RISK, kf.ACC_ACTION) == (0, 1, 2, 3, 4, 5)
    assert (kf.CNT_FIBERS, kf.CNT_MIXED, kf.CNT_THIN, kf.CNT_ACTION) == (0, 1, 2, 3)


@st.composite
def shards(draw):
    na = draw(st.integers(1, 4))
    weighted = draw(st.booleans())
    nf = draw(st.integers(0, 12))
    fibers = []
    for f in range(nf):
        acts = draw(st.lists(st.integers(0, na - 1), min_size=1, max_size=na, unique=True))
        cells = {}
        for a in acts:
            rows = draw(st.integers(1, 6))
            # weights with ties (small multiples of 1/4) and fractions that carry
            w = draw(st.sampled_from([Fraction(1, 4), Fraction(1, 2), Fraction(3, 4), Fraction(1), Fraction(2),
                                      Fraction(2**64 - 1, 2**64), Fraction(2**63 + 1, 2**64), Fraction(2**40 + 1, 3 * 2**20)])) \
                if weighted else Fraction(rows)
            cells[a] = [rows, w]
        fibers.append(([f, f % 3], cells))
    arank = draw(st.permutations(range(na)))
    return na, weighted, fibers, np.array(arank, np.int64)


def run(na, weighted, fibers, arank, s, skip, keep=True, extra=0, acc=None, cnt=None):
    rec = fiber_records_oracle(fibers, 2, na, weighted)
    if extra:  # records past nf must not be read
        rec = np.vstack([rec, np.full((extra, rec.shape[1]), 3, np.int64)])
    nf = len(fibers)
    m = nf if keep else 0
    out = {"support": np.full(nf, -1, np.int64), "cls": np.full(nf, -1, np.int8),
           "tot_hi": np.zeros(m, np.int64), "tot_lo": np.zeros(m, np.uint64), "major": np.zeros(m, np.int64),
           "maj_hi": np.zeros(m, np.int64), "maj_lo": np.zeros(m, np.uint64), "n_actions": np.zeros(m, np.int64)}
    acc = np.zeros((kf.ACC_ACTION + 2 * na, 2), np.int64) if acc is None else acc
    cnt = np.zeros(kf.CNT_ACTION + 3 * na, np.int64) if cnt is None else cnt
    kf.finalize_shard(rec, nf, 1, na, weighted, arank, s, skip, out["support"], out["tot_hi"], out["tot_lo"],
                      out["major"], out["maj_hi"], out["maj_lo"], out["n_actions"], out["cls"], acc, cnt)
    return out, acc, cnt


def acc_values(acc):
    return [fixed_value(acc[i, 0], np.int64(acc[i, 1]).view(np.uint64)) for i in range(acc.shape[0])]


@given(shards(), st.integers(1, 12), st.booleans(), st.integers(0, 2))
def test_finalize_shard_matches_the_oracle(shard, s, skip, extra):
    na, weighted, fibers, arank = shard
    out, acc, cnt = run(na, weighted, fibers, arank, s, skip, extra=extra)
    per, want_acc, want_cnt = finalize_oracle(fibers, na, arank.tolist(), s, skip)
    assert out["support"].tolist() == per["support"]
    assert out["cls"].tolist() == per["cls"]
    assert [fixed_value(h, x) for h, x in zip(out["tot_hi"], out["tot_lo"])] == per["total"]
    assert out["major"].tolist() == per["major"]
    assert [fixed_value(h, x) for h, x in zip(out["maj_hi"], out["maj_lo"])] == per["major_weight"]
    assert out["n_actions"].tolist() == per["n_actions"]
    assert acc_values(acc) == want_acc
    assert cnt.tolist() == want_cnt


@given(shards(), st.integers(1, 12), st.booleans(), st.integers(0, 12))
def test_totals_without_per_fiber_slices_and_across_shards(shard, s, skip, cut):
    """Empty per-fiber slices give the same totals; two shards accumulated into one acc/cnt give
    the totals of the whole."""
    na, weighted, fibers, arank = shard
    _, acc, cnt = run(na, weighted, fibers, arank, s, skip)
    out, acc2, cnt2 = run(na, weighted, fibers[:cut], arank, s, skip, keep=False)
    assert out["tot_hi"].size == 0
    _, acc2, cnt2 = run(na, weighted, fibers[cut:], arank, s, skip, keep=False, acc=acc2, cnt=cnt2)
    assert acc_values(acc2) == acc_values(acc) and cnt2.tolist() == cnt.tolist()


def test_hand_shard():
    # three fibers, actions 0/1, arank says action 1 ranks first (its value sorts lower):
    # f0: a0 x2 (w 1.5), a1 x1 (w 1.5)  -> mixed, tie by weight -> majority a1 (lower rank)
    # f1: a0 x3 (w 3)                   -> certified a0
    # f2: a1 x1 (w 0.25)                -> thin with s = 2
    fibers = [([0, 0], {0: [2, Fraction(3, 2)], 1: [1, Fraction(3, 2)]}), ([1, 0], {0: [3, Fraction(3)]}),
              ([2, 0], {1: [1, Fraction(1, 4)]})]
    out, acc, cnt = run(2, True, fibers, np.array([1, 0]), 2, False)
    assert out["support"].tolist() == [3, 3, 1] and out["cls"].tolist() == [1, 0, 2]
    assert out["major"].tolist() == [1, 0, 1] and out["n_actions"].tolist() == [2, 1, 1]
    u = 2**64
    # total 6.25, certified 3, ambiguous 3, thin 0.25, risk 1.5; a0 4.5 (certified 3), a1 1.75
    assert acc_values(acc) == [int(6.25 * u), 3 * u, 3 * u, u // 4, int(1.5 * u), int(4.5 * u), 3 * u,
                               int(1.75 * u), 0]
    # fibers 3, mixed 1, thin 1; a0: rows 5, certified rows 3, fibers 1; a1: rows 2, 0, 0
    assert cnt.tolist() == [3, 1, 1, 5, 3, 1, 2, 0, 0]
    _, _, cnt = run(2, True, fibers, np.array([1, 0]), 2, True)
    assert cnt.tolist()[:3] == [2, 1, 1]  # skip: the thin fiber is not counted as a fiber
