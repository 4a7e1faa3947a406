"""Leaderboard replays (SPEC section 6): every model's tolerance windows on one split, one pass.

Rows are grouped by model and sorted by prediction within each model (once per replay). A split
is a calibration flag per item; per model the kernel sums |error| over the model's calibration
rows (the tolerance ``mae``), counts the calibration actions (the global majority), then slides
two pointers over the sorted predictions: the window of test row p is every calibration row q of
the same model with ``|v_q - v_p| <= tol``. Both bounds only move forward, so a model costs
O(rows * actions) per split, whatever the tolerance.
"""

import numpy as np

from .._jit import kernel

# columns of the per-model output row
N_CAL, N_TEST, TOL, CAL_MAE, CERTIFIED, WRONG_CERTIFIED, FD_MAJORITY, FD_GLOBAL = range(8)
N_OUT = 8


@kernel
def leaderboard_split(values, actions, items, abs_err, offsets, item_cal, fixed_tol, min_support, n_actions,
                      counts, flag, out):
    """One split for every model. ``values`` / ``actions`` (canonical ranks) / ``items`` (item
    codes) / ``abs_err`` are the rows sorted by (model, value); model m holds rows
    ``offsets[m]:offsets[m + 1]``. ``item_cal[item]`` is 1 for calibration items. ``fixed_tol``
    < 0 means the tolerance is the model's calibration MAE (mean of ``abs_err``). ``counts`` is
    an ``n_actions`` scratch row, ``flag`` a uint8 scratch as long as the largest model (its rows'
    calibration flags, gathered once so that the window pass reads them in order); ``out[m]``
    receives the figures named by the module constants
    (counts of test rows; NaN tolerance when the model has no calibration row)."""
    n_models = offsets.shape[0] - 1
    for m in range(n_models):
        a0 = offsets[m]
        a1 = offsets[m + 1]
        for a in range(n_actions):
            counts[a] = 0
        n_cal = 0
        err_sum = 0.0
        for p in range(a0, a1):
            f = item_cal[items[p]]
            flag[p - a0] = f
            if f:
                n_cal += 1
                err_sum += abs_err[p]
                counts[actions[p]] += 1
        glob = 0
        for a in range(1, n_actions):
            if counts[a] > counts[glob]:  # ties: the lowest canonical action
                glob = a
        mae = err_sum / n_cal if n_cal > 0 else np.nan
        tol = fixed_tol if fixed_tol >= 0 else mae
        for a in range(n_actions):
            counts[a] = 0
        lo = a0
        hi = a0
        in_window = 0
        n_test = 0
        certified = 0
        wrong = 0
        fd_major = 0
        fd_glob = 0
        for p in range(a0, a1):
            if flag[p - a0]:
                continue
            v = values[p]
            truth = actions[p]
            n_test += 1
            if n_cal > 0:
                # compare differences, as the definition reads: |v_q - v_p| <= tol
                while hi < a1 and values[hi] - v <= tol:
                    if flag[hi - a0]:
                        counts[actions[hi]] += 1
                        in_window += 1
                    hi += 1
                while v - values[lo] > tol:
                    if flag[lo - a0]:
                        counts[actions[lo]] -= 1
                        in_window -= 1
                    lo += 1
            major = glob
            if in_window >= min_support:
                best = 0
                present = 0
                for a in range(n_actions):
                    if counts[a] > 0:
                        present += 1
                    if counts[a] > counts[best]:
                        best = a
                major = best
                if present == 1:
                    certified += 1
                    if best != truth:
                        wrong += 1
            if major != truth:
                fd_major += 1
            if glob != truth:
                fd_glob += 1
        out[m, N_CAL] = n_cal
        out[m, N_TEST] = n_test
        out[m, TOL] = tol
        out[m, CAL_MAE] = mae
        out[m, CERTIFIED] = certified
        out[m, WRONG_CERTIFIED] = wrong
        out[m, FD_MAJORITY] = fd_major
        out[m, FD_GLOBAL] = fd_glob
