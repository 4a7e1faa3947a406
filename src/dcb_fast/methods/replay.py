"""Certify-then-acquire: held-out replays, acquisition cost and model choice (SPEC section 6).

The input is read once into **joint cells** (:mod:`dcb_fast.methods.cells`): one per distinct
(evidence of every model, weight, action), with its row count; a split is a draw of per-cell
calibration counts, so N splits cost N passes over the cells, never over the rows. Splits run on
all cores.

Splits are drawn once per split over the joint cells, so every model and every policy of a replay
sees the same calibration and test rows. The draw walks the cells in a canonical order (by the
evidence values, column by column in sorted column-name order, then the weight, then the action
value; null last), so a split depends only on the multiset of rows, the seed and the split index:
not on the input's row order, its file split, its batch size or the order in which models are
listed. Rows with a (dropped) null in any model's column are left out for every model.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from .._threads import parallel_map
from ..core.summary import envelope
from ..errors import DcbError
from ..io.sources import DEFAULT_BATCH_ROWS, open_source
from ..core.results import Result

from ..fibers.finalize import check_cell_weights
from ..core.validation import check_columns, check_types, fix_rules, resolve_rules
from ..core.quantiles import mean_abs, mean_signed
from ..core.rules import Window
from .cells import Cells, read_cells, split_counts  # noqa: F401  (read_cells, split_counts: part of the replay's interface)

POLICIES = ["certify_only", "fiber_majority", "global_majority", "certify_then_acquire"]
FIELDS = ["certified_fraction", "error_among_certified", "false_decisions", "acquisitions"]
LAMBDAS = [0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]


def _per_fiber(fiber, action, values, nf, na):
    """Sum ``values`` per (fiber, action): one bincount (numpy's add.at is ~20x slower)."""
    return np.bincount(fiber * na + action, weights=values, minlength=nf * na).reshape(nf, na)


def evaluate_split(cells: Cells, cal: np.ndarray, test: np.ndarray, min_support: int, tol: float | None = None,
                   model: str | None = None, empty: bool = False, groups: np.ndarray | None = None,
                   n_groups: int = 0):
    """The four policies on one split (SPEC section 6) for one model (default: the first).

    Per policy: ``(certified fraction, error among certified, false decisions over all test
    rows, acquisitions)`` as weighted shares of the test part; the error among certified is NaN
    when nothing is certified. Fiber majority uses the global majority for keys unseen in
    calibration and, with a tolerance window, for windows with fewer than ``min_support``
    calibration rows. Ties between actions go to the lowest canonical action. ``empty``: a test
    part without weight (a slice absent from this split's test rows) gives NaN figures instead
    of an error. ``groups`` (a group number per cell, e.g. its slice) gives a list of such
    figures, one per group, over each group's test rows (NaN for a group without test rows), in
    one pass over the cells.

    >>> c = Cells(np.array([2, 1, 1]), np.array([0, 0, 1]), np.ones(3), 2, {"m": np.array([0, 1, 1])})
    >>> r = evaluate_split(c, np.array([1, 1, 0]), np.array([1, 0, 1]), min_support=1)
    >>> r["certify_only"][:3], r["certify_then_acquire"][3]
    ((1.0, 0.5, 0.5), 0.0)
    """
    name = model or cells.models[0]
    fiber = cells.fibers[name]
    na = cells.n_actions
    cal_w = cal * cells.w
    test_w = test * cells.w
    glob = np.bincount(cells.action, weights=cal_w, minlength=na).astype(np.float64)
    g = int(np.argmax(glob))  # ties: lowest canonical action
    if tol is None:
        nf = int(fiber.max()) + 1
        cal_rows = _per_fiber(fiber, cells.action, cal, nf, na)
        cal_wt = _per_fiber(fiber, cells.action, cal_w, nf, na)
        tw = _per_fiber(fiber, cells.action, test_w, nf, na)
    else:
        cal_rows, cal_wt, tw = _windows(cells.values[name], cells.action, na, cal, cal_w, test_w, tol)
    support = cal_rows.sum(axis=1)
    present = (cal_rows > 0).sum(axis=1)
    certified = (support >= min_support) & (present == 1)
    # exact fibers: any calibration row gives a local majority; a window needs min_support rows
    local = support >= (min_support if tol is not None else 1)
    major = np.where(local, cal_wt.argmax(axis=1), g)
    cert_act = cal_rows.argmax(axis=1)
    if groups is not None:
        unit = fiber if tol is None else np.unique(cells.values[name], return_inverse=True)[1].reshape(-1)
        a, cert = cells.action, certified[unit]

        def per(x):
            return np.bincount(groups, weights=test_w * x, minlength=n_groups)

        sums = zip(per(1.0), per(cert), per(cert & (cert_act[unit] != a)), per(major[unit] != a), per(g != a))
        return [_figures(*s) if s[0] > 0 else dict.fromkeys(POLICIES, (math.nan,) * 4) for s in sums]
    tot = tw.sum(axis=1)
    W = tot.sum()
    if W <= 0:
        if empty:
            return dict.fromkeys(POLICIES, (math.nan,) * 4)
        raise DcbError("a test part has no weight; use more rows or a larger test fraction")
    cert_w = tot[certified].sum()
    wrong_cert = (tot - tw[np.arange(len(tw)), cert_act])[certified].sum()
    fd_major = (tot - tw[np.arange(len(tw)), major]).sum()
    fd_glob = W - tw[:, g].sum()
    return _figures(W, cert_w, wrong_cert, fd_major, fd_glob)


def _figures(W, cert_w, wrong_cert, fd_major, fd_glob) -> dict:
    """The four policies' figures from the test weight ``W`` and its certified, wrongly
    certified and false-decision parts."""
    c = float(cert_w / W)
    err_c = float(wrong_cert / cert_w) if cert_w > 0 else math.nan
    fd_c, fd_major, fd_glob = float(wrong_cert / W), float(fd_major / W), float(fd_glob / W)
    return {
        "certify_only": (c, err_c, fd_c, 0.0),
        "fiber_majority": (1.0, fd_major, fd_major, 0.0),
        "global_majority": (1.0, fd_glob, fd_glob, 0.0),
        "certify_then_acquire": (c, err_c, fd_c, 1.0 - c),
    }


def _windows(value, action, na, cal, cal_w, test_w, tol):
    """Per distinct test value: calibration rows and weights per action within ``tol`` of it,
    and test weights per action (prefix sums over the sorted distinct values)."""
    vals, inv = np.unique(value, return_inverse=True)
    inv = inv.reshape(-1)
    m = len(vals)
    cr = _per_fiber(inv, action, cal, m, na)
    cw = _per_fiber(inv, action, cal_w, m, na)
    tw = _per_fiber(inv, action, test_w, m, na)
    pr = np.vstack([np.zeros((1, na)), np.cumsum(cr, axis=0)])
    pw = np.vstack([np.zeros((1, na)), np.cumsum(cw, axis=0)])
    lo = np.searchsorted(vals, vals - tol, side="left")
    hi = np.searchsorted(vals, vals + tol, side="right")
    # searchsorted on v -+ tol can be one off where v - tol rounds; fix to |v_q - v_p| <= tol
    while True:
        bad = (lo > 0) & (vals - vals[np.maximum(lo - 1, 0)] <= tol)
        if not bad.any():
            break
        lo[bad] -= 1
    bad = (lo < m) & (vals - vals[np.minimum(lo, m - 1)] > tol)
    lo[bad] += 1
    while True:
        bad = (hi < m) & (vals[np.minimum(hi, m - 1)] - vals <= tol)
        if not bad.any():
            break
        hi[bad] += 1
    bad = (hi > 0) & (vals[np.maximum(hi - 1, 0)] - vals > tol)
    hi[bad] -= 1
    return pr[hi] - pr[lo], pw[hi] - pw[lo], tw


def break_even(figures: dict) -> float:
    """``lambda* = (FD_base - FD_acq) / acquisitions`` of one split (FD_base: the fiber
    majority's false decisions); NaN when nothing is acquired."""
    acq = figures["certify_then_acquire"][3]
    if not acq > 0:
        return math.nan
    return (figures["fiber_majority"][2] - figures["certify_then_acquire"][2]) / acq


def split_stats(x) -> dict:
    """Mean, median, p10 and p90 of a figure over the splits where it is defined (not NaN), and
    ``n_splits``, their count; the statistics are None when no split defines it.

    >>> split_stats([0.1, float("nan"), 0.3])["mean"], split_stats([0.1, float("nan"), 0.3])["n_splits"]
    (0.2, 2)
    """
    x = np.asarray(x, dtype=np.float64)
    x = x[~np.isnan(x)]
    if len(x) == 0:
        return {"mean": None, "median": None, "p10": None, "p90": None, "n_splits": 0}
    return {"mean": float(np.mean(x)), "median": float(np.median(x)), "p10": float(np.quantile(x, 0.1)),
            "p90": float(np.quantile(x, 0.9)), "n_splits": int(len(x))}


class ReplayResult(Result):
    """``summary`` (kind "replay") and ``splits`` (one row per split, policy and model)."""

    FILES = {"splits": "replay_splits"}

    def __init__(self, summary: dict, splits: pa.Table):
        super().__init__(summary)
        self.splits = splits


def parse_tolerance(tolerance) -> tuple[float | None, str | None]:
    """A replay's ``tolerance`` as ``(number, None)`` or ``(None, error column)`` for ``"mae:COL"``.

    >>> parse_tolerance("mae:error"), parse_tolerance(0.5)
    ((None, 'error'), (0.5, None))
    """
    if isinstance(tolerance, str) and tolerance.startswith("mae:"):
        if not tolerance[4:]:
            raise DcbError("tolerance mae: needs an error column, e.g. --tolerance mae:error")
        return None, tolerance[4:]
    try:
        tol = float(tolerance)
    except (TypeError, ValueError):
        raise DcbError(f"tolerance must be a number or mae:COLUMN, got '{tolerance}'") from None
    if not tol >= 0:
        raise DcbError(f"tolerance must be >= 0, got {tolerance}")
    return tol, None


def replay(source, evidence=None, action=None, splits: int = 100, calib_fraction: float = 0.5, seed: int = 0,
           min_support: int = 1, weight: str | None = None, models: dict | None = None,
           score: str | None = None, tolerance=None, nulls: str = "drop", rules=None,
           batch_rows: int = DEFAULT_BATCH_ROWS, threads: int | None = None, scheduler=None,
           checkpoint: str | None = None, by: str | None = None) -> ReplayResult:
    """Held-out replay of certify-then-acquire over ``splits`` seeded splits.

    Per split, a certificate is built on the calibration part (minimum support
    ``min_support``; keys unseen in calibration are not certified) and four policies act on the
    test part: *certify only*, *fiber majority* (unseen: global majority), *global majority*,
    *certify then acquire* (certified rows use the certificate, every other row acquires its
    true action). Reports mean, median, p10 and p90 over splits; the error among certified is
    summarised over the splits that certify something (``n_splits`` says how many). The
    break-even acquisition price ``lambda* = (FD_base - FD_acq) / acquisitions`` (FD_base:
    acting on the benchmark via the fiber majority) is computed per split and summarised
    (``break_even_lambda`` is its mean); ``cost_curve`` is the relative cost reduction of the
    mean figures over a grid of prices.

    A split is drawn once over the rows (see :func:`split_counts`): every model and policy sees
    the same calibration and test rows, and the result depends only on the multiset of rows and
    the seed.

    ``models`` ({name: evidence columns}) replays several models on the same rows and, per
    split, compares the model a benchmark score picks with the model certification picks
    (lowest error among certified, a model certifying nothing counting as error 1, then highest
    certified fraction). ``score`` ({name: column}) gives each model's benchmark score as the
    mean of its column over the input (lower is better: an error, a loss), the leaderboard's
    choice; without it the benchmark choice is the model whose fiber majority makes the fewest
    false decisions on the split. Ties go to the model listed first.

    ``tolerance`` makes each model's (single, numeric) evidence column a window: each test
    value's fiber is the calibration rows within the tolerance (a number, or ``"mae:COL"`` for
    the mean of |COL| over the input); a window with fewer than ``min_support`` calibration rows
    is ambiguous and its fiber majority is the global majority.

    ``by`` (a column that is no model's evidence: a day, a tenant) adds ``metrics["by"]``: per
    value, the policies' figures over that value's test rows, from the same splits and the same
    certificates (built on all calibration rows); the values' figures, weighted by their share
    of each split's test weight (``test_share`` in the splits table), add up to the split's
    (certified fraction, false decisions, acquisitions). The split is drawn on the cells without
    the slice column (the same seed gives the same split, so the whole replay is the one without
    ``by``); each cell's calibration rows are then spread over its slices by a second seeded
    draw. A null slice value is a slice of its own.

    ``scheduler`` and ``checkpoint`` choose the engine of the counting pass
    (:func:`dcb_fast.engines.run`); the splits run on the cells in this process.

    >>> t = pa.table({"e": [0, 0, 1, 1] * 25, "d": ["a", "a", "b", "a"] * 25})
    >>> r = replay(t, ["e"], "d", splits=10, seed=1)
    >>> round(r.metrics["policies"]["certify_then_acquire"]["false_decisions"]["mean"], 3)
    0.0
    """
    if models:
        models = {n: ([c.strip() for c in cols.split(",")] if isinstance(cols, str) else list(cols))
                  for n, cols in models.items()}
        if evidence:
            raise DcbError("give either evidence columns or models, not both")
    else:
        models = {"model": check_columns(evidence, action, weight)}
    for name, cols in models.items():
        check_columns(cols, action, weight)
    if splits < 1:
        raise DcbError(f"splits must be at least 1, got {splits}")
    if not (0 < calib_fraction < 1):
        raise DcbError(f"calibration fraction must be in (0, 1), got {calib_fraction}")
    if score is not None:
        if len(models) < 2:
            raise DcbError("a score only matters when comparing several models (--model NAME=COLS)")
        missing = [n for n in models if n not in score]
        if missing or set(score) - set(models):
            raise DcbError(f"give one score column per model (--score-col NAME=COL); missing or unknown: "
                           f"{', '.join(sorted(set(missing) | (set(score) - set(models))))}")
    all_cols = list(dict.fromkeys(c for cols in models.values() for c in cols))
    if by is not None and (by in all_cols or by in (action, weight) or by in (score or {}).values()):
        raise DcbError(f"by column '{by}' is also an evidence, action, weight or score column; slice by another column")
    tol_col = None
    if tolerance is not None:
        if any(len(cols) != 1 for cols in models.values()):
            raise DcbError("a tolerance window needs one numeric evidence column per model")
        tolerance, tol_col = parse_tolerance(tolerance)
    rules = resolve_rules(all_cols, rules)
    for col, r in rules.items():
        if r.overlapping:  # a replay's window is around each test value over the calibration values
            raise DcbError(f"rule {r.spec()} for '{col}' is not a replay rule: numeric evidence in a replay uses a "
                           "tolerance window over each split's calibration values; give --tolerance TOL (or "
                           "mae:COLUMN) instead, or a binned rule (quantile:N, width:W)")
    extra = [c for c in [weight, tol_col, by] + list((score or {}).values()) if c]
    src = open_source(source, all_cols + [action] + extra, batch_rows)
    check_types(src, weight, rules)
    rules = fix_rules(src, rules)
    recorded = {"nulls": nulls, "rules": {c: r.describe() for c, r in rules.items()}}  # they change the result
    if tol_col:
        tolerance = mean_abs(lambda: (b.column(tol_col) for _, b in src.batches([tol_col])))
    if tolerance is not None:
        rules = {c: Window(tol=tolerance) for c in all_cols}
    cells, _ = read_cells(src, models, action, weight, nulls, rules, threads, scheduler, checkpoint, by=by)
    if weight:
        check_cell_weights(cells.w, cells.count, weight, cells.n_rows)
    score_means = None
    if score is not None:
        score_means = {n: mean_signed(lambda c=c: (b.column(c) for _, b in src.batches([c])))
                       for n, c in score.items()}

    n_slices = len(cells.by_values) if by else 0

    def one(k):
        cal, test = split_counts(cells, calib_fraction, seed, k)
        whole = {name: evaluate_split(cells, cal, test, min_support, tolerance, model=name) for name in models}
        if not by:
            return whole, None
        test_w = test * cells.w
        shares = np.bincount(cells.by, weights=test_w, minlength=n_slices) / test_w.sum()
        per = {name: evaluate_split(cells, cal, test, min_support, tolerance, model=name, groups=cells.by,
                                    n_groups=n_slices) for name in models}
        return whole, [(float(shares[v]), {name: per[name][v] for name in models}) for v in range(n_slices)]

    both = parallel_map(one, range(splits), threads or 2)
    results = [w for w, _ in both]
    slices = [s for _, s in both] if by else None
    result = _summarize(results, models, splits, calib_fraction, seed, min_support, weight, tolerance, score,
                        score_means, src, action, cells.n_rows, recorded)
    if by:
        _add_slices(result, slices, cells, models, by)
    result.run_info = cells.run_info
    return result


def _add_slices(result: ReplayResult, slices: list, cells: Cells, models: dict, by: str) -> None:
    """``metrics["by"]`` (per slice value: its rows and, per model, the policies over splits) and
    the slices' rows of the splits table (``slice`` true, ``by``, ``test_share``)."""
    labels = cells.by_values.to_pylist()
    rows_of = np.bincount(cells.by, weights=cells.count, minlength=len(labels))
    name0 = next(iter(models))
    out = []
    for v, label in enumerate(labels):
        per = {name: summarize_policies([s[v][1][name] for s in slices]) for name in models}
        entry = {"value": _jsonable(label), "n_rows": int(rows_of[v]),
                 "test_share": split_stats([s[v][0] for s in slices]), "policies": per[name0]}
        if len(models) > 1:
            entry["models"] = per
        out.append(entry)
    result.summary["metrics"]["by"] = out
    result.summary["parameters"]["by"] = by
    t = result.splits
    n = t.num_rows
    extra = {"split": [], "model": [], "policy": [], **{f: [] for f in FIELDS}, "break_even_lambda": [],
             "slice": [], "by": [], "test_share": []}
    for k, s in enumerate(slices):
        for v, (share, res) in enumerate(s):
            for name, pol in res.items():
                lam = break_even(pol)
                for p, vals in pol.items():
                    extra["split"].append(k)
                    extra["model"].append(name)
                    extra["policy"].append(p)
                    for f, x in zip(FIELDS, vals):
                        extra[f].append(None if math.isnan(x) else x)
                    extra["break_even_lambda"].append(None if p != "certify_then_acquire" or math.isnan(lam) else lam)
                    extra["slice"].append(True)
                    extra["by"].append(None if labels[v] is None else str(labels[v]))
                    extra["test_share"].append(share)
    # ``slice`` tells the whole replay's rows (False) from the slices' (True): a null slice value
    # has ``by`` null too
    whole = t.append_column("slice", pa.array([False] * n)).append_column(
        "by", pa.array([None] * n, pa.string())).append_column("test_share", pa.array([1.0] * n, pa.float64()))
    result.splits = pa.concat_tables([whole, pa.table(extra, schema=whole.schema)])


def _jsonable(v):
    return v if v is None or isinstance(v, (bool, int, float, str)) else str(v)


def summarize_policies(results: list[dict]) -> dict:
    """Per policy and figure, :func:`split_stats` over the splits of one model (``results``: one
    :func:`evaluate_split` answer per split)."""
    return {p: {fld: split_stats([res[p][i] for res in results]) for i, fld in enumerate(FIELDS)} for p in POLICIES}


def _summarize(results, models, splits, f, seed, s, weight, tol, score, score_means, src, action, n_rows, recorded):
    rows = []
    for k, res in enumerate(results):
        for name, pol in res.items():
            lam = break_even(pol)
            for p, vals in pol.items():
                rec = {"split": k, "model": name, "policy": p, **dict(zip(FIELDS, vals))}
                rec = {key: (None if isinstance(v, float) and math.isnan(v) else v) for key, v in rec.items()}
                rec["break_even_lambda"] = None if p != "certify_then_acquire" or math.isnan(lam) else lam
                rows.append(rec)
    keys = ["split", "model", "policy"] + FIELDS + ["break_even_lambda"]
    types = {"split": pa.int64(), "model": pa.string(), "policy": pa.string()}
    table = pa.table({key: pa.array([r[key] for r in rows], types.get(key, pa.float64())) for key in keys})
    per = {name: summarize_policies([res[name] for res in results]) for name in models}
    lams = {name: split_stats([break_even(res[name]) for res in results]) for name in models}
    name0 = next(iter(models))
    pol = per[name0]
    fd_base = pol["fiber_majority"]["false_decisions"]["mean"]
    fd_acq = pol["certify_then_acquire"]["false_decisions"]["mean"]
    acq = pol["certify_then_acquire"]["acquisitions"]["mean"]
    lam = lams[name0]["mean"]
    # the curve is of the mean figures, so the price it breaks even at is the ratio of the means
    # (where its reduction is 0), not the mean of per-split break-even prices reported above
    curve_lam = (fd_base - fd_acq) / acq if acq > 0 else None
    grid = sorted(set(LAMBDAS + ([curve_lam] if curve_lam is not None and curve_lam >= 0 else [])))
    cost_curve = [{"lambda": x, "base_cost": fd_base, "acquire_cost": fd_acq + x * acq,
                   "reduction": (1 - (fd_acq + x * acq) / fd_base) if fd_base > 0 else None} for x in grid]
    metrics = {
        "splits": splits, "n_rows": n_rows,
        "policies": pol,
        "break_even_lambda": lam,
        "break_even_lambda_splits": lams[name0],
        "cost_curve": cost_curve,
    }
    if len(models) > 1:
        metrics["models"] = per
        metrics["break_even_lambda_models"] = lams
        metrics["model_choice"] = _choices(results, list(models), score_means)
        if score_means is not None:
            metrics["benchmark_scores"] = score_means
    params = {"action": action, "splits": splits, "calib_fraction": f, "seed": seed, "min_support": s,
              "weight": weight, "tolerance": tol, "score": score, **recorded}
    if len(models) > 1:
        params["models"] = models
    else:
        params["evidence"] = models[name0]
    headline = (f"acting on the benchmark: {fd_base:.3%} false decisions; certify then acquire: {fd_acq:.3%} "
                f"with {acq:.2%} of rows acquired" + (f"; break-even price {lam:.3%} of a false decision"
                                                      if lam is not None else ""))
    summary = envelope("replay", params,
                       input=src.describe(),
                       metrics=metrics,
                       headline=headline)
    return ReplayResult(summary, table)


def certification_key(figures: dict) -> tuple[float, float]:
    """How certification ranks a model on a split (smaller is better): error among certified,
    1 when it certifies nothing (so certifying nothing never wins), then the certified fraction,
    larger first."""
    c, err = figures["certify_only"][:2]
    return (1.0 if math.isnan(err) else err, -c)


def _choices(results, names, score_means=None) -> dict:
    """Per split: the model a benchmark score picks vs the one certification picks."""
    if score_means is not None:
        def bench(k, res):
            return min(names, key=lambda n: (score_means[n], names.index(n)))
    else:
        def bench(k, res):
            return min(names, key=lambda n: (res[n]["fiber_majority"][2], names.index(n)))
    return model_choices(results, names, bench,
                         "lowest mean score" if score_means is not None else "fewest fiber-majority false decisions")


def model_choices(results: list[dict], names: list[str], bench, benchmark_choice: str, errors: bool = False) -> dict:
    """Per split (``results[k]``: :func:`evaluate_split` per model), the model ``bench(k, res)``
    picks (the benchmark's choice) vs certification's pick (:func:`certification_key`; ties go
    to the model first in ``names``): counts of picks, how often they differ, the false
    decisions each pick makes (benchmark: its fiber or window majority; certification: certify
    then acquire) and, with ``errors``, each pick's error among certified."""
    differ, fd_bench, fd_cert, err_bench, err_cert = 0, [], [], [], []
    n_bench, n_cert = dict.fromkeys(names, 0), dict.fromkeys(names, 0)
    for k, res in enumerate(results):
        b = bench(k, res)
        cert = min(names, key=lambda n: (*certification_key(res[n]), names.index(n)))
        differ += b != cert
        n_bench[b] += 1
        n_cert[cert] += 1
        fd_bench.append(res[b]["fiber_majority"][2])
        fd_cert.append(res[cert]["certify_then_acquire"][2])
        err_bench.append(res[b]["certify_only"][1])
        err_cert.append(res[cert]["certify_only"][1])
    out = {"differ_fraction": differ / len(results), "benchmark_choice": benchmark_choice,
           "benchmark_choices": n_bench, "certification_choices": n_cert,
           "benchmark_choice_false_decisions": split_stats(fd_bench),
           "certification_choice_false_decisions": split_stats(fd_cert)}
    if errors:
        out["benchmark_choice_error_among_certified"] = split_stats(err_bench)
        out["certification_choice_error_among_certified"] = split_stats(err_cert)
    return out
