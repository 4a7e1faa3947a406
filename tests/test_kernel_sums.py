"""``kernels.sums``: grouped 128-bit sums, per-fiber totals and "all but the chosen action"
against exact Python-int sums.

Contract (from the module and ``production.py``, its caller): weights are 128-bit fixed point
(``kernels.hashing``); ``group_sum128`` *adds* into ``out`` (int64[G, 2]: integer parts, fraction
bit patterns), skipping rows whose group is negative; ``row_totals`` writes the sum over actions
of ``whi``/``wlo`` [fiber, action]; ``minus_chosen`` writes total minus the chosen action's
weight, or the whole total when the chosen action is negative or >= the number of actions (no
action chosen: every row of the fiber is a false decision). Weights are >= 0, so no result
wraps."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from dcb_fast.kernels import sums as ks

from .reference import fixed_parts, fixed_value, group_sums_oracle

# weights as the fixed point holds them: integer parts up to 2**40, any fraction (carries)
WEIGHT = st.tuples(st.integers(0, 2**40), st.one_of(st.integers(0, 2**64 - 1), st.sampled_from([0, 2**64 - 1, 2**63])))


def arrays(pairs):
    return (np.array([p[0] for p in pairs], np.int64).reshape(-1),
            np.array([p[1] for p in pairs], np.uint64).reshape(-1))


@given(st.integers(1, 5).flatmap(lambda G: st.tuples(
    st.just(G), st.lists(st.tuples(st.integers(-2, G - 1), WEIGHT), max_size=40),
    st.lists(WEIGHT, min_size=G, max_size=G))))
def test_group_sum128_adds_exact_group_sums_into_out(data):
    G, rows, start = data
    groups = np.array([g for g, _ in rows], np.int64)
    hi, lo = arrays([w for _, w in rows])
    out = np.zeros((G, 2), np.int64)
    out[:, 0], out[:, 1] = arrays(start)[0], arrays(start)[1].view(np.int64)
    ks.group_sum128(groups, hi, lo, out)
    want = group_sums_oracle(groups.tolist(), [fixed_value(*w) for _, w in rows], G)
    got = [fixed_value(out[g, 0], np.int64(out[g, 1]).view(np.uint64)) for g in range(G)]
    assert got == [fixed_value(*s) + w for s, w in zip(start, want)]


def test_group_sum128_fraction_carries():
    # 3 x (2**63 / 2**64) = 1.5: two carries out of the fraction
    out = np.zeros((1, 2), np.int64)
    ks.group_sum128(np.zeros(3, np.int64), np.zeros(3, np.int64), np.full(3, 2**63, np.uint64), out)
    assert (int(out[0, 0]), int(np.int64(out[0, 1]).view(np.uint64))) == (1, 2**63)


def cell_table(draw_cells):
    nf, na, cells = draw_cells
    whi = np.array([[c[0] for c in row] for row in cells], np.int64).reshape(nf, na)
    wlo = np.array([[c[1] for c in row] for row in cells], np.uint64).reshape(nf, na)
    return whi, wlo


CELLS = st.tuples(st.integers(0, 6), st.integers(1, 4)).flatmap(
    lambda s: st.tuples(st.just(s[0]), st.just(s[1]),
                        st.lists(st.lists(WEIGHT, min_size=s[1], max_size=s[1]), min_size=s[0], max_size=s[0])))


@given(CELLS)
def test_row_totals_sum_over_actions(cells):
    nf, na, rows = cells
    whi, wlo = cell_table(cells)
    th, tl = np.full(nf, -7, np.int64), np.zeros(nf, np.uint64)
    ks.row_totals(whi, wlo, th, tl)
    want = [fixed_parts(sum(fixed_value(*c) for c in row)) for row in rows]
    assert [(int(h), int(x)) for h, x in zip(th, tl)] == want


@given(CELLS, st.data())
def test_minus_chosen_leaves_out_the_chosen_action(cells, data):
    nf, na, rows = cells
    whi, wlo = cell_table(cells)
    chosen = np.array(data.draw(st.lists(st.integers(-2, na + 1), min_size=nf, max_size=nf)), np.int64)
    th, tl = np.empty(nf, np.int64), np.empty(nf, np.uint64)
    ks.row_totals(whi, wlo, th, tl)
    oh, ol = np.empty(nf, np.int64), np.empty(nf, np.uint64)
    ks.minus_chosen(th, tl, whi, wlo, chosen, oh, ol)
    want = []
    for row, a in zip(rows, chosen.tolist()):
        total = sum(fixed_value(*c) for c in row)
        want.append(fixed_parts(total - fixed_value(*row[a]) if 0 <= a < na else total))
    assert [(int(h), int(x)) for h, x in zip(oh, ol)] == want
