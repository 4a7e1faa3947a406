"""Leaderboard replays (SPEC section 6): many models in one long table, a row per (model, item).

The table holds, per row, the model, the item id, the model's prediction (the evidence), the
true label (the action) and, for an error-window tolerance, the model's error on the item. Each
split assigns **items** to calibration or test, the same items for every model: the split of
seed ``seed`` and index ``k`` draws ``round(f * n_items)`` calibration items from a generator
seeded ``[seed, k]`` over the distinct item ids in sorted order (see :func:`item_split`), so a
result depends only on the set of rows and the seed, never on row order or file split.

Per model and split: the tolerance is the mean |error| over the model's calibration rows
(``tolerance="mae:COL"``) or a fixed number; a test row's window is the model's calibration rows
whose prediction is within the tolerance of its prediction (inclusive); a window with fewer than
``min_support`` rows is ambiguous and its fiber majority is the model's global (calibration)
majority. The four policies of :mod:`dcb_fast.methods.replay` are scored on the model's test rows,
summarised per model and pooled over all (model, split) runs, with lambda* per run. Model
choice per split: the benchmark picks the lowest calibration MAE, certification the lowest error
among certified (nothing certified counts as 1), then the highest certified fraction.

Rows are read once, encoded (model, item and action codes; items and actions ranked by value)
and sorted by (model, prediction) once; a split is then one pass of a kernel over the sorted rows.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._threads import parallel_map
from ..core.summary import envelope
from ..errors import DcbError
from ..io import arrow as A
from ..io.sources import DEFAULT_BATCH_ROWS, open_source
from .replay import (LAMBDAS, parse_tolerance, FIELDS, ReplayResult, break_even, model_choices, split_stats,
                        summarize_policies)
from ..kernels.leaderboard import (CAL_MAE, CERTIFIED, FD_GLOBAL, FD_MAJORITY, N_CAL, N_OUT, N_TEST, TOL,
                                   WRONG_CERTIFIED, leaderboard_split)


class Board:
    """A leaderboard read into arrays sorted by (model, prediction): ``values``, ``actions``
    (canonical ranks), ``items`` (rank of the item id among the sorted distinct ids) and
    ``abs_err``; model m holds rows ``offsets[m]:offsets[m + 1]``. ``models`` and ``action_values``
    are sorted by value, ``n_items`` distinct items, ``dropped`` rows had a null."""

    def __init__(self, values, actions, items, abs_err, offsets, models, action_values, n_items, dropped=0):
        self.values, self.actions, self.items, self.abs_err = values, actions, items, abs_err
        self.offsets, self.models, self.action_values = offsets, models, action_values
        self.n_items, self.dropped = n_items, dropped

    @property
    def n_rows(self) -> int:
        return int(self.offsets[-1])


def _encode(pieces: list[pa.Array]) -> tuple[list, list[np.ndarray]]:
    """Global codes of the values of several arrays, ranked by value (nulls: -1): each piece
    is dictionary-encoded on its own, only the (small) dictionaries are merged and sorted."""
    encs = []
    for arr in pieces:
        if not pa.types.is_dictionary(arr.type):
            arr = arr.dictionary_encode()
        encs.append(arr)
    if not encs:
        return [], []
    vtype = encs[0].type.value_type
    dicts = [e.dictionary if e.dictionary.type == vtype else e.dictionary.cast(vtype) for e in encs]
    uniq = pc.unique(pa.concat_arrays(dicts)).drop_null()
    values = uniq.take(pc.sort_indices(uniq))
    codes = []
    for e, d in zip(encs, dicts):
        pos = A.np_values(pc.index_in(d, value_set=values).fill_null(-1)).astype(np.int32)
        idx = A.np_values(e.indices.fill_null(-1))
        pos = np.append(pos, np.int32(-1))  # index -1 (a null) maps to -1
        codes.append(pos[idx])
    return values.to_pylist(), codes


def read_board(source, group_by: str, id_col: str, evidence: str, action: str, error: str | None = None,
               batch_rows: int = DEFAULT_BATCH_ROWS) -> tuple[Board, object]:
    """Read a long leaderboard (a row per (model, item)) into a :class:`Board`; returns it and the
    source. Rows with a null (or NaN) in any of the columns are dropped; a (model, item) pair
    given twice is an error."""
    cols = list(dict.fromkeys([group_by, id_col, evidence, action] + ([error] if error else [])))
    if len(cols) < 4 + bool(error):
        raise DcbError(f"the model, id, evidence, action (and error) columns must differ; got {', '.join(cols)}")
    src = open_source(source, cols, batch_rows)
    parts = {c: [] for c in cols}
    for _, batch in src.batches(cols):
        for c in cols:
            parts[c].append(A.as_array(batch.column(c)))
    for c in (evidence,) + ((error,) if error else ()):
        t = parts[c][0].type if parts[c] else pa.float64()
        if pa.types.is_dictionary(t):
            t = t.value_type
        if not (pa.types.is_integer(t) or pa.types.is_floating(t)):
            raise DcbError(f"column '{c}' is {t}, not numeric; a leaderboard's prediction and error are numbers")
    models, mcodes = _encode(parts[group_by])
    items, icodes = _encode(parts[id_col])
    acts, acodes = _encode(parts[action])
    num = lambda c: (np.concatenate([A.np_values(pc.cast(a, pa.float64()) if a.type != pa.float64() else a,
                                                 nan_nulls=True) for a in parts[c]])
                     if parts[c] else np.zeros(0))
    model = np.concatenate(mcodes) if mcodes else np.zeros(0, np.int32)
    item = np.concatenate(icodes) if icodes else np.zeros(0, np.int32)
    act = np.concatenate(acodes) if acodes else np.zeros(0, np.int32)
    del mcodes, icodes, acodes
    value = num(evidence)
    err = np.abs(num(error)) if error else np.zeros(len(value))
    del parts
    keep = (model >= 0) & (item >= 0) & (act >= 0) & ~np.isnan(value) & ~np.isnan(err)
    dropped = int(len(keep) - keep.sum())
    if dropped:
        model, item, act, value, err = model[keep], item[keep], act[keep], value[keep], err[keep]
    if len(model) == 0:
        raise DcbError("empty input: no rows" + (" left after dropping nulls" if dropped else ""))
    # items keep their rank among the ids that survive the null filter
    present = np.zeros(len(items), dtype=bool)
    present[item] = True
    if not present.all():
        remap = (np.cumsum(present) - 1).astype(np.int32)
        item = remap[item]
        items = [x for x, p in zip(items, present) if p]
    n_items = len(items)
    # group rows by model (stable: a file written model by model is already grouped, so this is
    # one linear pass), then sort each model's rows by prediction: 67 sorts of 257k values cost
    # far less than one lexsort of 17M (value, model) pairs
    by_model = np.argsort(model, kind="stable")
    offsets = np.searchsorted(model[by_model], np.arange(len(models) + 1)).astype(np.int64)
    order = np.empty_like(by_model)
    for m in range(len(models)):
        seg = by_model[offsets[m]:offsets[m + 1]]
        if len(seg) > 1 and np.bincount(item[seg], minlength=n_items).max() > 1:
            k = int(np.flatnonzero(np.bincount(item[seg], minlength=n_items) > 1)[0])
            raise DcbError(f"model '{models[m]}' has item '{items[k]}' in column '{id_col}' more than "
                           "once; a leaderboard has one row per (model, item): deduplicate the input")
        order[offsets[m]:offsets[m + 1]] = seg[np.argsort(value[seg], kind="stable")]
    board = Board(np.ascontiguousarray(value[order]), act[order], item[order],
                  np.ascontiguousarray(err[order]), offsets, [str(m) for m in models], acts, n_items, dropped)
    return board, src


def item_split(n_items: int, calib_fraction: float, seed: int, index: int) -> np.ndarray:
    """Calibration flags (uint8) over the ``n_items`` distinct item ids in sorted order for split
    ``index`` of ``seed``: the first ``round(calib_fraction * n_items)`` positions of a permutation
    drawn by ``numpy.random.default_rng([seed, index])``. The same flags serve every model.

    >>> cal = item_split(10, 0.5, seed=0, index=0)
    >>> int(cal.sum()), len(cal)
    (5, 10)
    """
    rng = np.random.default_rng([seed, index])
    cal = np.zeros(n_items, dtype=np.uint8)
    cal[rng.permutation(n_items)[:int(round(calib_fraction * n_items))]] = 1
    return cal


def evaluate_board_split(board: Board, item_cal: np.ndarray, min_support: int, tolerance: float | None) -> np.ndarray:
    """The kernel's figures for every model on one split: an ``(n_models, 8)`` array (columns
    named in :mod:`dcb_fast.kernels.leaderboard`). ``tolerance`` None: each model's calibration
    MAE."""
    out = np.zeros((len(board.models), N_OUT))
    counts = np.zeros(len(board.action_values), dtype=np.int64)
    flag = np.zeros(int(np.diff(board.offsets).max(initial=0)), dtype=np.uint8)
    leaderboard_split(board.values, board.actions, board.items, board.abs_err, board.offsets, item_cal,
                      -1.0 if tolerance is None else float(tolerance), min_support, len(board.action_values),
                      counts, flag, out)
    return out


def figures(row: np.ndarray) -> dict:
    """One model's kernel row as the policy figures of :func:`dcb_fast.methods.replay.evaluate_split`:
    ``{policy: (certified fraction, error among certified, false decisions, acquisitions)}``."""
    W = row[N_TEST]
    cert, wrong = row[CERTIFIED], row[WRONG_CERTIFIED]
    c = float(cert / W)
    err = float(wrong / cert) if cert > 0 else math.nan
    fdm, fdg = float(row[FD_MAJORITY] / W), float(row[FD_GLOBAL] / W)
    return {"certify_only": (c, err, float(wrong / W), 0.0), "fiber_majority": (1.0, fdm, fdm, 0.0),
            "global_majority": (1.0, fdg, fdg, 0.0), "certify_then_acquire": (c, err, float(wrong / W), 1.0 - c)}


def leaderboard_replay(source, group_by: str, id: str, evidence, action: str, tolerance="mae:error",
                       splits: int = 50, calib_fraction: float = 0.5, seed: int = 0, min_support: int = 1,
                       error: str | None = None, batch_rows: int = DEFAULT_BATCH_ROWS, threads: int | None = None,
                       scheduler=None, checkpoint: str | None = None) -> ReplayResult:
    """Held-out replay of certify-then-acquire on a long leaderboard (SPEC section 6,
    "Leaderboard replays"): a row per (model, item), ``group_by`` names the model, ``id`` the
    item, ``evidence`` the prediction, ``action`` the true label.

    Each split assigns items (:func:`item_split`), the same for every model. ``tolerance``:
    ``"mae:COL"`` (per model and split, the mean |COL| over the model's calibration rows; COL is
    the model's error, prediction - reference) or a fixed number. A test row's window is the
    model's calibration rows within the tolerance of its prediction (inclusive); fewer than
    ``min_support`` rows: ambiguous, fiber majority = the model's global majority.

    ``metrics["policies"]`` pools all (model, split) runs; ``metrics["models"]`` is per model;
    lambda* is computed per run (``break_even_lambda_splits``: mean, median, p10, p90 over runs;
    ``break_even_lambda_models`` per model over its splits). ``model_choice`` compares, per
    split, the lowest calibration MAE (the benchmark's pick) with certification's pick; with a
    fixed tolerance the MAE needs ``error`` (the error column), else no model choice is made.

    Runs in one process: its unit is the row, not the fiber (see :func:`read_board`), so
    ``scheduler`` and ``checkpoint`` are refused with a one-line error.

    >>> from dcb_fast.tools.synth import leaderboard
    >>> r = leaderboard_replay(leaderboard(models=3, items=400), "model", "item", "pred", "label", splits=5)
    >>> r.metrics["n_models"], r.metrics["runs"], len(r.metrics["models"])
    (3, 15, 3)
    """
    if scheduler is not None or checkpoint is not None:
        raise DcbError("replay --group-by reads the leaderboard row by row (one per model and item), not into fibers, "
                       "so it runs in one process only; drop --scheduler and --checkpoint")
    if isinstance(evidence, (list, tuple)):
        if len(evidence) != 1:
            raise DcbError("a leaderboard replay has one evidence column: the model's prediction (--evidence PRED)")
        evidence = evidence[0]
    if splits < 1:
        raise DcbError(f"splits must be at least 1, got {splits}")
    if not (0 < calib_fraction < 1):
        raise DcbError(f"calibration fraction must be in (0, 1), got {calib_fraction}")
    if tolerance is None:
        raise DcbError("a leaderboard replay needs a tolerance: a number or mae:ERROR_COL")
    tol, err_col = parse_tolerance(tolerance)
    if error is not None and err_col is not None and error != err_col:
        raise DcbError(f"two error columns: --tolerance mae:{err_col} and --error {error}; give one")
    err_col = err_col or error
    board, src = read_board(source, group_by, id, evidence, action, err_col, batch_rows)

    def one(k):
        out = evaluate_board_split(board, item_split(board.n_items, calib_fraction, seed, k), min_support, tol)
        for m, name in enumerate(board.models):
            if out[m, N_CAL] == 0 or out[m, N_TEST] == 0:
                part = "calibration" if out[m, N_CAL] == 0 else "test"
                raise DcbError(f"model '{name}' has no {part} rows on split {k} (it has "
                               f"{int(board.offsets[m + 1] - board.offsets[m])} items); drop models with so few "
                               "items or use a calibration fraction nearer 0.5")
        return out

    outs = parallel_map(one, range(splits), threads or 2)
    names = board.models
    results = [{name: figures(o[m]) for m, name in enumerate(names)} for o in outs]
    tols = np.array([o[:, TOL] for o in outs])  # splits x models
    maes = np.array([o[:, CAL_MAE] for o in outs])
    return _summarize(results, names, tols, maes, board, src, dict(
        action=action, evidence=[evidence], group_by=group_by, id=id, splits=splits, calib_fraction=calib_fraction,
        seed=seed, min_support=min_support, tolerance=tol if tol is not None else tolerance, error=err_col))


def _summarize(results, names, tols, maes, board, src, params) -> ReplayResult:
    splits = len(results)
    rows = []
    for k, res in enumerate(results):
        for m, name in enumerate(names):
            lam = break_even(res[name])
            for p, vals in res[name].items():
                rec = {"split": k, "model": name, "policy": p, **dict(zip(FIELDS, vals))}
                rec = {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in rec.items()}
                rec["break_even_lambda"] = None if p != "certify_then_acquire" or math.isnan(lam) else lam
                rec["tolerance"] = float(tols[k, m])
                rec["calibration_mae"] = float(maes[k, m])
                rows.append(rec)
    keys = ["split", "model", "policy"] + FIELDS + ["break_even_lambda", "tolerance", "calibration_mae"]
    types = {"split": pa.int64(), "model": pa.string(), "policy": pa.string()}
    table = pa.table({key: pa.array([r[key] for r in rows], types.get(key, pa.float64())) for key in keys})
    runs = [res[n] for res in results for n in names]
    pooled = summarize_policies(runs)
    lam_runs = split_stats([break_even(r) for r in runs])
    per = {n: summarize_policies([res[n] for res in results]) for n in names}
    lams = {n: split_stats([break_even(res[n]) for res in results]) for n in names}
    fd_base = pooled["fiber_majority"]["false_decisions"]["mean"]
    fd_acq = pooled["certify_then_acquire"]["false_decisions"]["mean"]
    acq = pooled["certify_then_acquire"]["acquisitions"]["mean"]
    lam = lam_runs["mean"]
    grid = sorted(set(LAMBDAS + ([lam] if lam is not None else [])))
    cost_curve = [{"lambda": x, "base_cost": fd_base, "acquire_cost": fd_acq + x * acq,
                   "reduction": (1 - (fd_acq + x * acq) / fd_base) if fd_base > 0 else None} for x in grid]
    metrics = {
        "splits": splits, "n_rows": board.n_rows, "n_models": len(names), "n_items": board.n_items,
        "dropped_rows": board.dropped, "runs": len(runs),
        "policies": pooled, "break_even_lambda": lam, "break_even_lambda_splits": lam_runs,
        "cost_curve": cost_curve, "models": per, "break_even_lambda_models": lams,
        "tolerance_models": {n: split_stats(tols[:, m]) for m, n in enumerate(names)},
        "calibration_mae_models": {n: split_stats(maes[:, m]) for m, n in enumerate(names)},
    }
    if params["error"] and len(names) > 1:
        metrics["model_choice"] = choices_by_mae(results, names, maes)
    headline = (f"{len(names)} models x {splits} splits: acting on the benchmark (window majority) "
                f"{fd_base:.3%} false decisions; certify then acquire {fd_acq:.3%} with {acq:.2%} of items acquired"
                + (f"; break-even price {lam:.3%} of a false decision (mean over runs)" if lam is not None else ""))
    summary = envelope("replay", params,
                       input=src.describe(),
                       metrics=metrics,
                       headline=headline)
    return ReplayResult(summary, table)


def choices_by_mae(results: list[dict], names: list[str], maes: np.ndarray) -> dict:
    """Per split: the model with the lowest calibration MAE (``maes[split, model]``; the
    benchmark's pick, the first of tied models) vs certification's pick
    (:func:`dcb_fast.methods.replay.model_choices`), with each pick's error among certified."""
    return model_choices(results, names, lambda k, res: names[int(np.argmin(maes[k]))], "lowest calibration MAE",
                         errors=True)
