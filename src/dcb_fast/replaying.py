"""Certify-then-acquire: held-out replays, acquisition cost and model choice (SPEC section 6).

The input is read once into cells: (fiber, action) with their row counts (and, when weighted,
one weight per cell: the weight is part of the cell key). A split of the rows into calibration
and test is then a draw of per-cell counts (multivariate hypergeometric: exactly what a random
permutation of the rows gives), so N splits cost N passes over the cells, never over the rows,
and each split is reproducible from ``(seed, split index)`` alone. Splits run on all cores.
"""

from __future__ import annotations


import numpy as np
import pyarrow as pa

from . import __version__
from ._threads import parallel_map
from .errors import DcbError
from .io import arrow as A
from .fibers import FiberState
from .io.sources import DEFAULT_BATCH_ROWS, open_source
from .results import Result
from .metrics import canonical_order

POLICIES = ["certify_only", "fiber_majority", "global_majority", "certify_then_acquire"]
FIELDS = ["certified_fraction", "error_among_certified", "false_decisions", "acquisitions"]
LAMBDAS = [0.0, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0]


class Cells:
    """Per (fiber, action) row counts of one model's evidence, in canonical order.

    ``fiber`` numbers the evidence fibers; ``value`` is the numeric evidence for window replays;
    ``w`` the weight of every row of a cell (1 when unweighted)."""

    def __init__(self, fiber, action, count, w, n_actions, value=None):
        self.fiber = fiber
        self.action = action
        self.count = count
        self.w = w
        self.n_actions = n_actions
        self.value = value

    @property
    def n_rows(self) -> int:
        return int(self.count.sum())


def read_cells(src, evidence, action, weight, nulls, rules, threads=None, action_values=None) -> tuple[Cells, pa.Array]:
    """Read the input once into cells (the fiber engine does the grouping)."""
    from .engines.local import run_partials

    key = evidence + ([weight] if weight else [])
    state = run_partials(src.batches(list(dict.fromkeys(key + [action]))),
                         lambda: FiberState(key, action, None, nulls, rules, shards=threads,
                                            expected_rows=src.total_rows),
                         labels=dict(src.parts()))
    if state.n_rows == 0:
        raise DcbError("empty input: no rows" + (" left after dropping nulls" if state.rows_read else ""))
    order = canonical_order(state)
    keys, counts, _, _ = state.table_arrays()
    keys, counts = keys[order], counts[order]
    k = len(evidence)
    # fiber id = distinct evidence key (atoms differ only by weight within a fiber); canonical
    # order sorts by the evidence columns first, so a fiber is a run of equal leading codes
    change = np.ones(len(keys), dtype=bool)
    if len(keys) and k:
        change[1:] = (keys[1:, :k] != keys[:-1, :k]).any(axis=1)
    fiber = np.cumsum(change, dtype=np.int64) - 1
    w = (A.np_values(state.encoders[k].values(), nan_nulls=True)[keys[:, k]].astype(np.float64)
         if weight else np.ones(len(keys)))
    cell_atom, cell_action = np.nonzero(counts)
    actions = state.action_encoder.values()
    ranks = state.action_encoder.sort_ranks()  # action codes in canonical order
    value = None
    if rules and evidence and rules.get(evidence[0]) is not None and rules[evidence[0]].name == "window":
        value = A.np_values(state.encoders[0].values(), nan_nulls=True)[keys[:, 0]].astype(np.float64)[cell_atom]
    cells = Cells(fiber[cell_atom], ranks[cell_action].astype(np.int64), counts[cell_atom, cell_action].astype(np.int64),
                  w[cell_atom], len(actions), value)
    actions = actions.take(pa.array(np.argsort(ranks)))
    return cells, actions


def split_counts(cells: Cells, calib_fraction: float, seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Calibration and test counts per cell for split ``index``: ``round(f * n)`` calibration rows
    drawn uniformly without replacement."""
    rng = np.random.default_rng([seed, index])
    n = cells.n_rows
    cal = rng.multivariate_hypergeometric(cells.count, int(round(calib_fraction * n)), method="marginals")
    return cal, cells.count - cal


def _per_fiber(fiber, action, values, nf, na):
    """Sum ``values`` per (fiber, action): one bincount (numpy's add.at is ~20x slower)."""
    return np.bincount(fiber * na + action, weights=values, minlength=nf * na).reshape(nf, na)


def evaluate_split(cells: Cells, cal: np.ndarray, test: np.ndarray, min_support: int, tol: float | None = None):
    """The four policies on one split (SPEC section 6): per policy the certified fraction, error
    among certified, false decisions over all test rows and acquisitions (weighted shares)."""
    na = cells.n_actions
    cal_w = cal * cells.w
    test_w = test * cells.w
    glob = np.bincount(cells.action, weights=cal_w, minlength=na).astype(np.float64)
    g = int(np.argmax(glob))  # ties: lowest canonical action
    if tol is None:
        nf = int(cells.fiber.max()) + 1
        cal_rows = _per_fiber(cells.fiber, cells.action, cal, nf, na)
        cal_wt = _per_fiber(cells.fiber, cells.action, cal_w, nf, na)
        tw = _per_fiber(cells.fiber, cells.action, test_w, nf, na)
    else:
        cal_rows, cal_wt, tw = _windows(cells, cal, cal_w, test_w, tol)
    support = cal_rows.sum(axis=1)
    present = (cal_rows > 0).sum(axis=1)
    certified = (support >= min_support) & (present == 1)
    seen = support > 0
    major = np.where(seen, cal_wt.argmax(axis=1), g)
    cert_act = cal_rows.argmax(axis=1)
    tot = tw.sum(axis=1)
    W = tot.sum()
    if W <= 0:
        raise DcbError("a test part has no weight; use more rows or a larger test fraction")
    cert_w = tot[certified].sum()
    wrong_cert = (tot - tw[np.arange(len(tw)), cert_act])[certified].sum()
    fd_major = (tot - tw[np.arange(len(tw)), major]).sum()
    fd_glob = W - tw[:, g].sum()
    c = cert_w / W
    err_c = wrong_cert / cert_w if cert_w else 0.0
    return {
        "certify_only": (c, err_c, wrong_cert / W, 0.0),
        "fiber_majority": (1.0, fd_major / W, fd_major / W, 0.0),
        "global_majority": (1.0, fd_glob / W, fd_glob / W, 0.0),
        "certify_then_acquire": (c, err_c, wrong_cert / W, 1.0 - c),
    }


def _windows(cells: Cells, cal, cal_w, test_w, tol):
    """Per distinct test value: calibration rows and weights per action within ``tol`` of it,
    and test weights per action (prefix sums over the sorted distinct values)."""
    na = cells.n_actions
    vals, inv = np.unique(cells.value, return_inverse=True)
    inv = inv.reshape(-1)
    m = len(vals)
    cr = _per_fiber(inv, cells.action, cal, m, na)
    cw = _per_fiber(inv, cells.action, cal_w, m, na)
    tw = _per_fiber(inv, cells.action, test_w, m, na)
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


def _stats(x: np.ndarray) -> dict:
    return {"mean": float(np.mean(x)), "median": float(np.median(x)), "p10": float(np.quantile(x, 0.1)),
            "p90": float(np.quantile(x, 0.9))}


class ReplayResult(Result):
    """``summary`` (kind "replay") and ``splits`` (one row per split, policy and model)."""

    FILES = {"splits": "replay_splits"}

    def __init__(self, summary: dict, splits: pa.Table):
        super().__init__(summary)
        self.splits = splits


def replay(source, evidence=None, action=None, splits: int = 100, calib_fraction: float = 0.5, seed: int = 0,
           min_support: int = 1, weight: str | None = None, models: dict | None = None,
           score: str | None = None, tolerance=None, nulls: str = "drop", rules=None,
           batch_rows: int = DEFAULT_BATCH_ROWS, threads: int | None = None) -> ReplayResult:
    """Held-out replay of certify-then-acquire over ``splits`` seeded splits.

    Per split, a certificate is built on the calibration part (minimum support
    ``min_support``; keys unseen in calibration are not certified) and four policies act on the
    test part: *certify only*, *fiber majority* (unseen: global majority), *global majority*,
    *certify then acquire* (certified rows use the certificate, every other row acquires its
    true action). Reports mean, median, p10 and p90 over splits, the break-even acquisition
    price ``lambda* = (FD_base - FD_acq) / acquisitions`` (FD_base: acting on the benchmark via
    the fiber majority) and the relative cost reduction over a grid of prices.

    ``models`` ({name: evidence columns}) replays several models on the same rows and, per
    split, compares the model a benchmark score picks with the model certification picks
    (lowest error among certified, then highest certified fraction). ``score`` ({name: column})
    gives each model's benchmark score as the mean of its column over the input (lower is
    better: an error, a loss), the leaderboard's choice; without it the benchmark choice is the
    model whose fiber majority makes the fewest false decisions on the split.

    ``tolerance`` makes the (single, numeric) evidence column a window: each test value's fiber
    is the calibration rows within the tolerance (a number, or ``"mae:COL"`` for the mean of
    |COL| over the input).

    >>> t = pa.table({"e": [0, 0, 1, 1] * 25, "d": ["a", "a", "b", "a"] * 25})
    >>> r = replay(t, ["e"], "d", splits=10, seed=1)
    >>> round(r.metrics["policies"]["certify_then_acquire"]["false_decisions"]["mean"], 3)
    0.0
    """
    from .auditing import check_columns, check_types, resolve_quantiles, resolve_rules

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
    tol_col = None
    if tolerance is not None:
        if any(len(cols) != 1 for cols in models.values()):
            raise DcbError("a tolerance window needs one numeric evidence column per model")
        if isinstance(tolerance, str) and tolerance.startswith("mae:"):
            tol_col = tolerance[4:]
        else:
            try:
                tolerance = float(tolerance)
            except ValueError:
                raise DcbError(f"tolerance must be a number or mae:COLUMN, got '{tolerance}'") from None
            if not tolerance >= 0:
                raise DcbError(f"tolerance must be >= 0, got {tolerance}")
    rules = resolve_rules(all_cols, rules)
    extra = [c for c in [weight, tol_col] + list((score or {}).values()) if c]
    src = open_source(source, all_cols + [action] + extra, batch_rows)
    check_types(src, weight, rules)
    rules = resolve_quantiles(src, rules)
    if tol_col:
        from .quantiles import mean_abs

        tolerance = mean_abs(lambda: (b.column(tol_col) for _, b in src.batches([tol_col])))

    from .rules import Window

    per_model = {}
    for name, cols in models.items():
        mrules = {c: rules[c] for c in cols if c in rules}
        if tolerance is not None:
            mrules = {cols[0]: Window(tol=tolerance)}
        cells, actions = read_cells(src, cols, action, weight, nulls, mrules, threads)
        per_model[name] = cells
    score_means = None
    if score is not None:
        from .quantiles import mean_signed

        score_means = {n: mean_signed(lambda c=c: (b.column(c) for _, b in src.batches([c])))
                       for n, c in score.items()}

    def one(k):
        out = {}
        first = next(iter(per_model.values()))
        cal, test = split_counts(first, calib_fraction, seed, k)
        for name, cells in per_model.items():
            if cells is not first:
                cal_m, test_m = split_counts(cells, calib_fraction, seed, k)
            else:
                cal_m, test_m = cal, test
            out[name] = evaluate_split(cells, cal_m, test_m, min_support, tolerance)
        return out

    results = parallel_map(one, range(splits), threads or 2)
    return _summarize(results, models, splits, calib_fraction, seed, min_support, weight, tolerance, score,
                      score_means, src, action, per_model)


def _summarize(results, models, splits, f, seed, s, weight, tol, score, score_means, src, action, per_model):
    rows = []
    for k, res in enumerate(results):
        for name, pol in res.items():
            for p, vals in pol.items():
                rows.append({"split": k, "model": name, "policy": p, **dict(zip(FIELDS, vals))})
    table = pa.table({key: [r[key] for r in rows] for key in ["split", "model", "policy"] + FIELDS})
    per = {}
    for name in models:
        per[name] = {p: {fld: _stats(np.array([res[name][p][i] for res in results])) for i, fld in enumerate(FIELDS)}
                     for p in POLICIES}
    name0 = next(iter(models))
    pol = per[name0]
    fd_base = pol["fiber_majority"]["false_decisions"]["mean"]
    fd_acq = pol["certify_then_acquire"]["false_decisions"]["mean"]
    acq = pol["certify_then_acquire"]["acquisitions"]["mean"]
    lam = (fd_base - fd_acq) / acq if acq > 0 else None
    grid = sorted(set(LAMBDAS + ([lam] if lam is not None else [])))
    cost_curve = [{"lambda": x, "base_cost": fd_base, "acquire_cost": fd_acq + x * acq,
                   "reduction": (1 - (fd_acq + x * acq) / fd_base) if fd_base > 0 else None} for x in grid]
    metrics = {
        "splits": splits, "n_rows": per_model[name0].n_rows,
        "policies": pol,
        "break_even_lambda": lam,
        "cost_curve": cost_curve,
    }
    if len(models) > 1:
        metrics["models"] = per
        metrics["model_choice"] = _choices(results, list(models), score_means)
        if score_means is not None:
            metrics["benchmark_scores"] = score_means
    params = {"action": action, "splits": splits, "calib_fraction": f, "seed": seed, "min_support": s,
              "weight": weight, "tolerance": tol, "score": score}
    if len(models) > 1:
        params["models"] = models
    else:
        params["evidence"] = models[name0]
    headline = (f"acting on the benchmark: {fd_base:.3%} false decisions; certify then acquire: {fd_acq:.3%} "
                f"with {acq:.2%} of rows acquired" + (f"; break-even price {lam:.3%} of a false decision"
                                                      if lam is not None else ""))
    summary = {"schema_version": 1, "kind": "replay", "dcb_fast_version": __version__, "parameters": params,
               "input": src.describe(), "metrics": metrics, "headline": headline}
    return ReplayResult(summary, table)


def _choices(results, names, score_means=None) -> dict:
    """Per split: the model a benchmark score picks vs the one certification picks."""
    differ, fd_bench, fd_cert = 0, [], []
    for res in results:
        if score_means is not None:
            bench = min(names, key=lambda n: (score_means[n], names.index(n)))
        else:
            bench = min(names, key=lambda n: (res[n]["fiber_majority"][2], names.index(n)))
        cert = min(names, key=lambda n: (res[n]["certify_only"][1], -res[n]["certify_only"][0], names.index(n)))
        differ += bench != cert
        fd_bench.append(res[bench]["fiber_majority"][2])
        fd_cert.append(res[cert]["certify_then_acquire"][2])
    return {"differ_fraction": differ / len(results),
            "benchmark_choice": "lowest mean score" if score_means is not None else "fewest fiber-majority false decisions",
            "benchmark_choice_false_decisions": _stats(np.array(fd_bench)),
            "certification_choice_false_decisions": _stats(np.array(fd_cert))}
