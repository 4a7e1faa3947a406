"""Baselines of the leaderboard replay (issue 19): what the authors' JARVIS scripts do, a loop
per model and split over a long table, in two forms.

- ``numpy``: per (model, split) run, sort the model's calibration predictions and find every
  test window with ``searchsorted`` and prefix sums of the labels: the vectorised loop a
  competent numpy user writes;
- ``loop``: the authors' shape (``scripts/operational_decision_replay.py``): per test value a
  boolean mask ``|cal_x - value| <= tol`` over the calibration predictions, O(n_test x n_cal) per
  run. Far too slow for the full board; the benchmark times it on one run and extrapolates.

Both draw the same item splits as ``dcb_fast`` (``default_rng([seed, k]).permutation`` over the
sorted distinct item ids, the first ``round(f n)`` calibration) so results agree digit for digit.
Labels are two-valued (False/True or 0/1). Each returns ``{(split, model): (certified fraction,
false decisions of certify-only, window-majority false decisions, global-majority false
decisions)}``.
"""

from __future__ import annotations

import numpy as np


def _load(source, model="model", item="item", pred="pred", label="label", error="error"):
    import pyarrow.parquet as pq

    df = pq.read_table(source, columns=[model, item, pred, label, error]).to_pandas()
    ids = np.sort(df[item].unique())
    rank = np.searchsorted(ids, df[item].to_numpy())
    groups = df.groupby(model, observed=True).indices
    return (df[pred].to_numpy(np.float64), df[label].to_numpy().astype(np.int64),
            np.abs(df[error].to_numpy(np.float64)), rank, len(ids), groups)


def _cal_items(n_items, f, seed, k):
    cal = np.zeros(n_items, dtype=bool)
    cal[np.random.default_rng([seed, k]).permutation(n_items)[:int(round(f * n_items))]] = True
    return cal


def _bounds(cx, tx, tol):
    """[lo, hi) of calibration values within tol of each test value, exactly |c - t| <= tol."""
    n = len(cx)
    lo = np.searchsorted(cx, tx - tol, "left")
    hi = np.searchsorted(cx, tx + tol, "right")
    # tx - tol can round: move each bound until the definition holds at it, a whole run of tied
    # calibration values at a time (one step per tie group would be quadratic on tied data)
    while True:
        bad = np.flatnonzero((lo > 0) & (tx - cx[np.maximum(lo - 1, 0)] <= tol))
        if not len(bad):
            break
        lo[bad] = np.searchsorted(cx, cx[lo[bad] - 1], "left")
    while True:
        bad = np.flatnonzero((lo < n) & (tx - cx[np.minimum(lo, n - 1)] > tol))
        if not len(bad):
            break
        lo[bad] = np.searchsorted(cx, cx[lo[bad]], "right")
    while True:
        bad = np.flatnonzero((hi < n) & (cx[np.minimum(hi, n - 1)] - tx <= tol))
        if not len(bad):
            break
        hi[bad] = np.searchsorted(cx, cx[hi[bad]], "right")
    while True:
        bad = np.flatnonzero((hi > 0) & (cx[np.maximum(hi - 1, 0)] - tx > tol))
        if not len(bad):
            break
        hi[bad] = np.searchsorted(cx, cx[hi[bad] - 1], "left")
    return lo, hi


def _run(x, y, e, cal, min_support, windows):
    cx, cy, tx, ty = x[cal], y[cal], x[~cal], y[~cal]
    tol = e[cal].mean()
    k1_all = int(cy.sum())
    glob = int(k1_all > len(cy) - k1_all)  # ties: the lower label
    n, k1 = windows(cx, cy, tx, tol)
    k0 = n - k1
    ok = n >= min_support
    cert = ok & ((k1 == 0) | (k0 == 0))
    cert_act = (k1 > 0).astype(np.int64)
    major = np.where(ok, (k1 > k0).astype(np.int64), glob)
    W = len(tx)
    return (cert.sum() / W, (cert & (cert_act != ty)).sum() / W, (major != ty).sum() / W, (glob != ty).sum() / W)


def _sorted_windows(cx, cy, tx, tol):
    o = np.argsort(cx, kind="stable")
    cx, cy = cx[o], cy[o]
    ones = np.concatenate([[0], np.cumsum(cy)])
    lo, hi = _bounds(cx, tx, tol)
    return hi - lo, ones[hi] - ones[lo]


def _mask_windows(cx, cy, tx, tol):
    n = np.empty(len(tx), dtype=np.int64)
    k1 = np.empty(len(tx), dtype=np.int64)
    for j, v in enumerate(tx):
        mask = np.abs(cx - v) <= tol
        n[j] = mask.sum()
        k1[j] = cy[mask].sum()
    return n, k1


def _replay(source, splits, seed, min_support, calib_fraction, windows, runs=None):
    x, y, e, rank, n_items, groups = _load(source)
    out = {}
    for k in range(splits):
        cal_items = _cal_items(n_items, calib_fraction, seed, k)
        for i, (m, idx) in enumerate(sorted(groups.items())):
            if runs is not None and len(out) >= runs:
                return out
            out[(k, str(m))] = _run(x[idx], y[idx], e[idx], cal_items[rank[idx]], min_support, windows)
    return out


def leaderboard_numpy(source, splits=50, seed=0, min_support=5, calib_fraction=0.5, runs=None):
    """Vectorised numpy per (model, split) run: sort, searchsorted, prefix sums."""
    return _replay(source, splits, seed, min_support, calib_fraction, _sorted_windows, runs)


def leaderboard_loop(source, splits=50, seed=0, min_support=5, calib_fraction=0.5, runs=None):
    """The authors' shape: a boolean mask over the calibration predictions per test value."""
    return _replay(source, splits, seed, min_support, calib_fraction, _mask_windows, runs)
