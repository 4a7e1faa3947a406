"""``kernels.windows`` called directly: tolerance and kNN window bounds against SPEC 2's
definitions (``window_bounds_oracle``, built on the ``_knn_members`` / ``_tolerance_members``
oracles of the window audits), and the sliding classification ``window_classes`` against
``window_classes_oracle`` (every window recounted from scratch).

Already covered through ``audit`` with window rules (tests/test_rules.py and
tests/test_window_ties.py: whole audits against ``window_audit_oracle``, ties, row order, files,
relabelled actions). New here: the bounds themselves per sorted row, windows whose edge falls
exactly at the tolerance, k >= n, and the kernel's accumulator layout with weights that carry.

Contract (docstrings and ``windows.py``): values arrive sorted (ties in any order); the bounds
are half-open sorted positions and non-decreasing; ``window_classes`` reads rows in that sorted
order (``acodes``, ``weights`` sorted alike; ``weights`` empty: unweighted), adds into ``acc``
/ ``cnt`` and counts a window once per run of rows sharing the same bounds."""

from __future__ import annotations

import numpy as np
from hypothesis import example, given, strategies as st

from dcb_fast.kernels import windows as kw

from .reference import fixed_value, window_bounds_oracle, window_classes_oracle

VALUES = st.lists(st.sampled_from([-1.0, 0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 3.0, 0.1, 0.2, 0.30000000000000004]),
                  max_size=30)


def bounds(sv, rule, param):
    v = np.array(sv, np.float64)
    lo, hi = np.full(len(v), -1, np.int64), np.full(len(v), -1, np.int64)
    if rule == "knn":
        kw.knn_bounds(v, param, lo, hi)
    else:
        kw.tolerance_bounds(v, float(param), lo, hi)
    return lo, hi


@given(VALUES, st.sampled_from([0.0, 0.1, 0.25, 0.5, 1.0, 10.0]))
def test_tolerance_bounds_match_the_definition(values, tol):
    sv = sorted(values)
    lo, hi = bounds(sv, "window", tol)
    assert (lo.tolist(), hi.tolist()) == window_bounds_oracle(sv, "window", tol)


@given(VALUES, st.integers(1, 35))
# a tie group in the middle: the window starts from the group's middle position, not its first
@example([-1.0] * 5 + [0.0] * 4 + [1.0] * 5, 8)
@example([0.0] * 6 + [1.0, 2.0], 4)
def test_knn_bounds_match_the_definition(values, k):
    sv = sorted(values)
    lo, hi = bounds(sv, "knn", k)
    assert (lo.tolist(), hi.tolist()) == window_bounds_oracle(sv, "knn", k)
    assert all(h - l >= min(k, len(sv)) for l, h in zip(lo, hi))  # at least k rows (all when n < k)


def test_hand_bounds():
    sv = [0.0, 0.25, 0.5, 0.5, 1.0]
    lo, hi = bounds(sv, "window", 0.25)
    assert lo.tolist() == [0, 0, 1, 1, 4] and hi.tolist() == [2, 4, 4, 4, 5]  # edges at exactly 0.25
    # kNN k = 2: 0.0 -> pos 0, start -1 -> 0: [0, 2); 0.5 (group [2, 4)) -> pos 2, start 1: rows 1-2,
    # widened to the whole group of 0.5: [1, 4); 1.0 -> pos 4, start 3 -> n - k = 3: [2, 5) widened
    lo, hi = bounds(sv, "knn", 2)
    assert lo.tolist() == [0, 0, 1, 1, 2] and hi.tolist() == [2, 2, 4, 4, 5]


@st.composite
def classified(draw):
    sv = sorted(draw(VALUES))
    n = len(sv)
    na = draw(st.integers(1, 3))
    acodes = draw(st.lists(st.integers(0, na - 1), min_size=n, max_size=n))
    weighted = draw(st.booleans())
    weights = draw(st.lists(st.sampled_from([0.0, 0.5, 1.0, 3.25, 1e-30, 0.1, 2.0**40]), min_size=n, max_size=n)) \
        if weighted else None
    rule = draw(st.sampled_from(["window", "knn"]))
    param = draw(st.integers(1, 12)) if rule == "knn" else draw(st.sampled_from([0.0, 0.25, 0.5, 2.0]))
    return sv, acodes, weights, na, rule, param


@given(classified(), st.integers(1, 8), st.booleans())
def test_window_classes_match_the_oracle(data, s, skip):
    sv, acodes, weights, na, rule, param = data
    if not sv:
        return
    lo, hi = bounds(sv, rule, param)
    support = np.full(len(sv), -1, np.int64)
    acc = np.zeros((6 + 2 * na, 2), np.int64)
    cnt = np.zeros(4 + 3 * na, np.int64)
    w = np.zeros(0, np.float64) if weights is None else np.array(weights, np.float64)
    kw.window_classes(np.array(acodes, np.int32), w, lo, hi, na, s, skip, support, acc, cnt)
    want_support, want_acc, want_cnt = window_classes_oracle(acodes, weights, lo.tolist(), hi.tolist(), na, s, skip)
    assert support.tolist() == want_support
    assert [fixed_value(acc[i, 0], np.int64(acc[i, 1]).view(np.uint64)) for i in range(len(acc))] == want_acc
    assert cnt.tolist() == want_cnt


def run_classes(sv, acodes, weights, rule, param, na, s=1):
    lo, hi = bounds(sv, rule, param)
    support = np.zeros(len(sv), np.int64)
    acc = np.zeros((6 + 2 * na, 2), np.int64)
    cnt = np.zeros(4 + 3 * na, np.int64)
    w = np.zeros(0, np.float64) if weights is None else np.array(weights, np.float64)
    kw.window_classes(np.array(acodes, np.int32), w, lo, hi, na, s, False, support, acc, cnt)
    return acc, cnt, window_classes_oracle(acodes, weights, lo.tolist(), hi.tolist(), na, s, False)


def test_majority_ties_in_overlapping_windows_go_to_the_lowest_code():
    # values 0, 1, 2 with tolerance 1: windows {0, 1}, {0, 1, 2}, {1, 2}; actions 0, 1, 0.
    # Rows 0 and 2 see a 1-1 tie: the majority is action 0, their own: no risk. Row 1's window
    # holds two 0s: majority 0, its action 1: risk 1 (of 3). Ties to the highest code would give 3.
    for weights in (None, [1.0, 1.0, 1.0]):
        acc, cnt, (_, want_acc, want_cnt) = run_classes([0.0, 1.0, 2.0], [0, 1, 0], weights, "window", 1.0, 2)
        assert acc[4, 0] == 1 and acc[0, 0] == 3 and want_acc[4] == 2**64
        assert cnt.tolist() == want_cnt == [3, 3, 0, 0, 2, 0, 0, 1, 0, 0]
