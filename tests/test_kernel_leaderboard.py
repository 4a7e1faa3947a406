"""``kernels.leaderboard.leaderboard_split`` called directly: every model's eight figures on one
split against ``leaderboard_kernel_oracle`` (plain loops over the rows, SPEC section 6).

Already covered in tests/test_leaderboard.py through ``leaderboard_replay``: whole replays
against ``leaderboard_split_oracle`` (Fractions per policy), item splits, invariances. New here:
the kernel's raw counts, tolerance windows whose edges fall exactly on |v_q - v_p| = tol, tied
predictions in any order, models without calibration or test rows, a fixed tolerance vs the
MAE, and reused scratch arrays (``counts``, ``flag``) between calls.

Contract (docstring and ``leaderboard.evaluate_board_split``): rows sorted by (model, value),
model m at ``offsets[m]:offsets[m+1]``; actions are canonical ranks 0..n_actions-1 (ties of a
majority go to the lowest rank); ``item_cal[item]`` 1 marks calibration; ``fixed_tol`` < 0 uses
the model's calibration MAE (NaN without calibration rows, and then every test row takes the
global majority, rank 0); ``out`` float64[models, 8] is overwritten."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, strategies as st

from dcb_fast.kernels import leaderboard as kl

from .reference import leaderboard_kernel_oracle


def run(models, item_cal, fixed_tol, s, na, scratch=None):
    rows = [r for m in models for r in sorted(m, key=lambda r: r[0])]
    offsets = np.cumsum([0] + [len(m) for m in models]).astype(np.int64)
    values = np.array([r[0] for r in rows], np.float64)
    actions = np.array([r[1] for r in rows], np.int64)
    items = np.array([r[2] for r in rows], np.int64)
    err = np.array([r[3] for r in rows], np.float64)
    counts, flag = scratch or (np.zeros(na, np.int64), np.zeros(max([len(m) for m in models] + [0]), np.uint8))
    out = np.full((len(models), kl.N_OUT), -3.0)
    kl.leaderboard_split(values, actions, items, err, offsets, np.asarray(item_cal, np.uint8), float(fixed_tol), s, na,
                         counts, flag, out)
    return out


def same(got, want):
    for g, w in zip(got.tolist(), want):
        assert len(g) == 8
        for x, y in zip(g, w):
            assert (math.isnan(x) and math.isnan(y)) or x == y, (g, w)


@st.composite
def boards(draw):
    n_items = draw(st.integers(1, 14))
    na = draw(st.integers(1, 3))
    models = []
    for _ in range(draw(st.integers(1, 4))):
        items = draw(st.lists(st.integers(0, n_items - 1), unique=True, max_size=n_items))
        # values on a grid of 1/4 (ties, window edges exactly at the tolerance); errors on 1/8
        models.append([(draw(st.integers(-6, 6)) / 4, draw(st.integers(0, na - 1)), it, draw(st.integers(0, 8)) / 8)
                       for it in items])
    item_cal = draw(st.lists(st.integers(0, 1), min_size=n_items, max_size=n_items))
    return models, item_cal, na


@given(boards(), st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.75]), st.integers(1, 4), st.randoms(use_true_random=False))
def test_leaderboard_split_matches_the_oracle(board, tol, s, rnd):
    models, item_cal, na = board
    want = leaderboard_kernel_oracle(models, item_cal, tol, s, na)
    same(run(models, item_cal, tol, s, na), want)
    # tied predictions in another order within the model: the same figures
    shuffled = []
    for m in models:
        m = list(m)
        rnd.shuffle(m)
        shuffled.append(m)
    same(run(shuffled, item_cal, tol, s, na), want)


def test_hand_split():
    # one model, items 0..5, calibration 0, 1, 2: values 0.0 (a), 0.5 (b), 1.0 (a), errors 0.5
    # each -> MAE 0.5. Test rows: 0.25 (a): window {0.0, 0.5}: mixed, majority tie -> a (rank 0);
    # 1.5 (b): window {1.0}: certified a, wrong; 3.0 (b): empty window -> global majority a.
    rows = [(0.0, 0, 0, 0.5), (0.5, 1, 1, 0.5), (1.0, 0, 2, 0.5), (0.25, 0, 3, 0.0), (1.5, 1, 4, 0.0),
            (3.0, 1, 5, 0.0)]
    cal = [1, 1, 1, 0, 0, 0]
    out = run([rows], cal, -1.0, 1, 2)
    assert out[0].tolist() == [3, 3, 0.5, 0.5, 1, 1, 2, 2]
    # s = 2: the 1.5 window (one row) is too thin to certify and takes the global majority
    assert run([rows], cal, -1.0, 2, 2)[0].tolist() == [3, 3, 0.5, 0.5, 0, 0, 2, 2]


def test_a_model_without_calibration_rows_has_a_nan_tolerance():
    models = [[(0.0, 1, 0, 0.25), (1.0, 1, 1, 0.25)], [(0.0, 0, 2, 0.5)]]
    out = run(models, [0, 0, 1], -1.0, 1, 2)
    assert math.isnan(out[0, kl.TOL]) and math.isnan(out[0, kl.CAL_MAE])
    assert out[0, kl.N_CAL] == 0 and out[0, kl.N_TEST] == 2 and out[0, kl.FD_MAJORITY] == 2  # rank 0 is wrong
    assert out[1].tolist()[:4] == [1, 0, 0.5, 0.5]


def test_scratch_arrays_are_reset_between_models_and_calls():
    models = [[(0.0, 2, 0, 1.0), (0.0, 2, 1, 1.0)], [(0.0, 0, 0, 1.0), (0.1, 1, 1, 1.0)]]
    na = 3
    scratch = (np.full(na, 77, np.int64), np.full(2, 1, np.uint8))  # dirty scratch
    first = run(models, [1, 0], -1.0, 1, na, scratch)
    again = run(models, [1, 0], -1.0, 1, na, scratch)
    assert first.tolist() == again.tolist()
    same(first, leaderboard_kernel_oracle(models, [1, 0], -1.0, 1, na))
