"""Channels: split-conformal intervals, their transfer, and response-rank intervals (SPEC section 7).

A benchmark channel (labels ``y_bench``) and a deployment channel (labels ``y_deploy``) share the
inputs. A split-conformal interval calibrated on the benchmark channel covers about ``1 - alpha``
of fresh benchmark labels; applied to deployment labels (*transfer*) it can cover almost none,
because the deployment response depends on directions the benchmark never measured. The
response-rank interval ``y_hat +- R * g`` widens by the deployment probe's residual ``g`` (from
:mod:`dcb_fast.methods.linear`) and restores coverage when the admissible radius ``R`` is right.

Quantile used throughout (:func:`conformal_quantile`): with ``n`` calibration scores, ``q`` is the
``k``-th smallest score, ``k = ceil((n + 1)(1 - alpha))``, i.e. the empirical quantile at level
``(1 - alpha)(n + 1) / n`` with the *inverted-CDF* (no interpolation) definition, numpy's
``method="inverted_cdf"``. When ``k > n`` (fewer than ``ceil(1/alpha) - 1`` scores) the level is
clipped to 1 as in the SPEC (``q`` = the largest score); the finite-sample guarantee then no
longer holds, and :func:`mondrian_conformal` flags such groups. ``method="linear"`` instead
interpolates at the same level, numpy's default quantile: the rule of the paper's controlled
experiment (SPEC section 7), kept so that experiment reproduces to the decimal; it can fall
between two scores and so lacks the rank rule's guarantee.

:func:`least_squares_predict` is the channel experiment's model: least squares, without an
intercept unless asked.

:func:`check_channels` runs the whole check on a table (the ``dcb channels`` command).
"""

from __future__ import annotations

import math

import numpy as np

from ..core.results import Result
from ..core.summary import envelope
from ..errors import DcbError
from ..io.arrow import np_values
from .linear import deployment_residuals
from ..io.sources import open_source

QUANTILE_RULE = "k-th smallest |residual|, k = ceil((n+1)(1-alpha)), capped at n"


def _alpha(alpha) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        raise DcbError(f"alpha must be a number in (0, 1), got {alpha!r}") from None
    if not 0.0 < a < 1.0:
        raise DcbError(f"alpha must be in (0, 1), got {alpha}; use e.g. 0.05 for 95% intervals")
    return a


def conformal_rank(n: int, alpha: float) -> int:
    """``k = ceil((n + 1)(1 - alpha))``, capped at ``n``: the rank of the conformal quantile.

    The product is rounded to 9 decimals first so that float noise (``20 * 0.95`` is not exactly
    19) does not push ``k`` up by one.

    >>> conformal_rank(19, 0.05), conformal_rank(200, 0.05), conformal_rank(5, 0.05)
    (19, 191, 5)
    """
    a = _alpha(alpha)
    if n < 1:
        raise DcbError("a conformal quantile needs at least one calibration score")
    return min(int(n), int(math.ceil(round((n + 1) * (1.0 - a), 9))))


def min_calibration_size(alpha: float) -> int:
    """Fewest calibration scores for which the conformal level is attainable (``k <= n``):
    ``ceil(1/alpha) - 1``.

    >>> min_calibration_size(0.05), min_calibration_size(0.1), min_calibration_size(0.3)
    (19, 9, 3)
    """
    return int(math.ceil(round(1.0 / _alpha(alpha), 9))) - 1


QUANTILE_METHODS = ("inverted_cdf", "linear")


def conformal_quantile(scores, alpha: float, method: str = "inverted_cdf") -> float:
    """The split-conformal quantile of nonconformity ``scores`` (module docstring).

    ``method="inverted_cdf"`` (the default) is the ``k``-th smallest score, which carries the
    finite-sample coverage guarantee; ``method="linear"`` is ``numpy.quantile`` (its default,
    linear interpolation) at the level ``min(1, (1 - alpha)(n + 1) / n)``, the paper's rule.

    >>> conformal_quantile(np.arange(1.0, 20.0), 0.05)  # n = 19: k = 19, the largest
    19.0
    >>> conformal_quantile(np.arange(1.0, 101.0), 0.1)  # n = 100: k = ceil(90.9) = 91
    91.0
    >>> conformal_quantile(np.arange(1.0, 101.0), 0.1, method="linear")  # level 0.909: 1 + 99 * 0.909
    90.991
    """
    if method not in QUANTILE_METHODS:
        raise DcbError(f"unknown conformal quantile method '{method}'; use one of {', '.join(QUANTILE_METHODS)}")
    s = np.asarray(scores, dtype=np.float64).ravel()
    if not np.all(np.isfinite(s)):
        raise DcbError("conformal scores hold NaN or infinite values; drop those rows first")
    k = conformal_rank(len(s), alpha)
    if method == "linear":
        n = len(s)
        return float(np.quantile(s, min(1.0, (1.0 - float(alpha)) * (n + 1) / n)))
    # k-th smallest in O(n): partition rather than a full sort
    return float(np.partition(s, k - 1)[k - 1])


def split_conformal(y_cal, pred_cal, alpha: float, method: str = "inverted_cdf") -> float:
    """Half-width ``q`` of the split-conformal interval ``pred +- q`` calibrated on
    ``(y_cal, pred_cal)`` with the absolute-residual score ``|y - pred|``; ``method`` as in
    :func:`conformal_quantile`.

    >>> split_conformal([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 2.0, 4.5], alpha=0.2)
    1.0
    """
    y, p = _pair(y_cal, pred_cal, "calibration labels", "calibration predictions")
    return conformal_quantile(np.abs(y - p), alpha, method)


def least_squares_predict(X_train, y_train, X, intercept: bool = False) -> np.ndarray:
    """Predictions for the rows of ``X`` of the least-squares fit of ``y_train`` on
    ``X_train``; the minimum-norm solution when ``X_train`` is rank-deficient (as the projected
    features ``x P_B`` of the channel experiment are).

    No intercept by default: SPEC section 7 fits the channel experiment without one (its inputs
    and labels have mean zero by construction), and the paper's figures depend on it (with an
    intercept the 50-seed transfer coverage is 9.78%, not the paper's 10.07%). Pass
    ``intercept=True`` for data that are not centred.

    >>> least_squares_predict([[1.0], [2.0]], [2.0, 4.0], [[3.0]]).round(12).tolist()
    [6.0]
    >>> least_squares_predict([[0.0], [1.0]], [1.0, 2.0], [[2.0]], intercept=True).round(12).tolist()
    [3.0]
    """
    A = np.asarray(X_train, dtype=np.float64)
    Z = np.asarray(X, dtype=np.float64)
    y = np.asarray(y_train, dtype=np.float64).ravel()
    if A.ndim != 2 or Z.ndim != 2 or A.shape[1] != Z.shape[1]:
        raise DcbError(f"least squares needs 2-D feature matrices with the same columns, got {A.shape} and {Z.shape}")
    if len(A) != len(y):
        raise DcbError(f"training features ({len(A)} rows) and labels ({len(y)}) differ in length")
    if not (np.all(np.isfinite(A)) and np.all(np.isfinite(y)) and np.all(np.isfinite(Z))):
        raise DcbError("least squares inputs hold NaN or infinite values; drop those rows first")
    if intercept:
        A = np.column_stack([np.ones(len(A)), A])
        Z = np.column_stack([np.ones(len(Z)), Z])
    w, *_ = np.linalg.lstsq(A, y, rcond=None)
    return Z @ w


def coverage(y, lower, upper) -> float:
    """Fraction of labels ``y`` inside the closed interval ``[lower, upper]`` (arrays or scalars).

    >>> coverage([0.0, 1.0, 2.5], lower=[-1.0, 0.0, 0.0], upper=[1.0, 1.0, 2.0])
    0.6666666666666666
    """
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        raise DcbError("coverage of an empty channel is undefined; pass at least one label")
    lo, hi = np.broadcast_arrays(np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64))
    return float(np.mean((y >= lo) & (y <= hi)))


def interval_coverage(y, pred, half_width) -> float:
    """Coverage of the symmetric interval ``pred +- half_width`` on labels ``y``.

    >>> interval_coverage([1.0, 2.0, 5.0], [1.2, 2.5, 3.0], 0.5)
    0.6666666666666666
    """
    y, p = _pair(y, pred, "labels", "predictions")
    h = np.asarray(half_width, dtype=np.float64)
    return coverage(y, p - h, p + h)


def transfer_coverage(q: float, y_deploy, pred_deploy) -> float:
    """Coverage on the deployment channel of an interval calibrated elsewhere: the fraction of
    ``y_deploy`` inside ``pred_deploy +- q``, ``q`` from :func:`split_conformal` on the
    benchmark channel.

    >>> transfer_coverage(0.1, y_deploy=[0.0, 0.5, 1.0], pred_deploy=[0.05, 0.0, 1.0])
    0.6666666666666666
    """
    return interval_coverage(y_deploy, pred_deploy, q)


def response_rank_interval(pred, radius, g=None, *, benchmark=None, probe=None, tol=None):
    """The response-rank interval ``pred +- R * g`` as ``(lower, upper)`` arrays.

    ``g`` is the deployment probe's residual; when not given it is computed from the benchmark
    probes (rows of ``benchmark``) and the deployment ``probe`` by
    :func:`dcb_fast.methods.linear.deployment_residuals`.

    >>> lo, hi = response_rank_interval([0.0, 1.0], 2.0, benchmark=[[1.0, 0.0]], probe=[0.6, 0.8])
    >>> lo.round(6).tolist(), hi.round(6).tolist()
    ([-1.6, -0.6], [1.6, 2.6])
    """
    if g is None:
        if benchmark is None or probe is None:
            raise DcbError("give the residual g, or the benchmark probes and the deployment probe to compute it")

        gs = deployment_residuals(benchmark, probe, tol)
        if len(gs) != 1:
            raise DcbError(f"response_rank_interval takes one deployment probe, got {len(gs)}")
        g = gs[0]
    p = np.asarray(pred, dtype=np.float64)
    half = np.asarray(radius, dtype=np.float64) * float(g)
    if np.any(half < 0):
        raise DcbError("the admissible radius R and the residual g must be >= 0")
    return p - half, p + half


def _pair(y, p, ny: str, np_: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise DcbError(f"{ny} ({len(y)}) and {np_} ({len(p)}) differ in length")
    return y, p


def mondrian_conformal(y_cal, pred_cal, groups_cal, alpha: float) -> dict:
    """Mondrian (per-group) split conformal: one quantile per group from that group's
    calibration rows only, so coverage holds within each group, not just on average.

    Returns ``{group: {"q", "n_calibration", "too_small"}}``; ``too_small`` marks groups with
    fewer than ``ceil(1/alpha) - 1`` calibration rows, whose level is unattainable: their ``q``
    is their largest residual (the SPEC's clipped level) and carries no coverage guarantee.

    >>> m = mondrian_conformal([0, 1, 2, 10], [0, 0, 0, 0], ["a", "a", "a", "b"], alpha=0.25)
    >>> m["a"]["q"], m["a"]["too_small"], m["b"]["too_small"]  # a: k = ceil(4 * 0.75) = 3; b: 1 < 3
    (2.0, False, True)
    """
    y, p = _pair(y_cal, pred_cal, "calibration labels", "calibration predictions")
    g = np.asarray(groups_cal, dtype=object).ravel()
    if len(g) != len(y):
        raise DcbError(f"calibration groups ({len(g)}) and labels ({len(y)}) differ in length")
    need = min_calibration_size(alpha)
    scores = np.abs(y - p)
    keys, inv = _group_codes(g)
    out = {}
    for i, key in enumerate(keys):
        s = scores[inv == i]
        out[key] = {"q": conformal_quantile(s, alpha), "n_calibration": int(len(s)), "too_small": len(s) < need}
    return out


def mondrian_half_widths(groups, table: dict) -> np.ndarray:
    """Per-row half-widths from a :func:`mondrian_conformal` table; groups never seen in
    calibration get ``inf`` (no calibration, no finite interval).

    >>> mondrian_half_widths(["a", "c"], {"a": {"q": 2.0}}).tolist()
    [2.0, inf]
    """
    return np.array([table[k]["q"] if k in table else np.inf for k in np.asarray(groups, dtype=object).ravel()],
                    dtype=np.float64)


def _group_codes(g: np.ndarray):
    # natural order when the keys compare (ints as numbers); by type and text otherwise, so
    # that mixed types still sort deterministically
    try:
        keys = sorted(set(g.tolist()))
    except TypeError:
        keys = sorted(set(g.tolist()), key=lambda v: (type(v).__name__, str(v)))
    index = {k: i for i, k in enumerate(keys)}
    return keys, np.fromiter((index[v] for v in g.tolist()), dtype=np.int64, count=len(g))


# -- the check on a table ----------------------------------------------------------------------


def _numeric_column(table, col: str) -> np.ndarray:
    import pyarrow as pa

    arr = table.column(col)
    t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_decimal(t) or pa.types.is_null(t)):
        raise DcbError(f"column '{col}' has type {t}; predictions and labels must be numeric: cast '{col}' to a number")
    return np.asarray(np_values(arr.cast(pa.float64()), nan_nulls=True), dtype=np.float64)


def _channel_metrics(yb, yd, pb, pd, cal, test, alpha) -> dict:
    qb = split_conformal(yb[cal], pb[cal], alpha)
    qd = split_conformal(yd[cal], pd[cal], alpha)
    return {
        "n_calibration": int(cal.sum()), "n_test": int(test.sum()),
        "q_bench": qb, "q_deploy": qd, "width_bench": 2 * qb, "width_deploy": 2 * qd,
        "benchmark_coverage": interval_coverage(yb[test], pb[test], qb),
        "transfer_coverage": transfer_coverage(qb, yd[test], pd[test]),
        "deployment_coverage": interval_coverage(yd[test], pd[test], qd),
    }


class ChannelsResult(Result):
    """The channel check's result: its summary (``result["metrics"]`` reads it as the dict did)."""


def check_channels(source, pred: str, bench_label: str, deploy_label: str, alpha: float = 0.05,
                   group_by: str | None = None, calib_fraction: float = 0.5, seed: int = 0,
                   deploy_pred: str | None = None) -> ChannelsResult:
    """The channel check on a table: does a conformal interval calibrated on the benchmark
    labels cover the deployment labels?

    Rows with a null or NaN in a used column are dropped (counted). A seeded random
    permutation puts ``round(calib_fraction * n)`` rows in calibration, the rest in test. On
    test it reports the benchmark coverage of the benchmark-calibrated interval, its transfer
    coverage on the deployment labels, and the oracle coverage of an interval calibrated on
    the deployment labels themselves, with both widths. With ``group_by``, the same per group
    with Mondrian (per-group) calibration. ``deploy_pred`` is the prediction for the
    deployment channel (default: ``pred``). Returns the summary dict (``kind: "channels"``).

    >>> import pyarrow as pa
    >>> t = pa.table({"p": [0.0] * 40, "yb": [0.01 * i for i in range(40)], "yd": [0.1 * i for i in range(40)]})
    >>> m = check_channels(t, "p", "yb", "yd", alpha=0.1, seed=1)["metrics"]
    >>> m["n_calibration"], m["benchmark_coverage"] >= 0.8, m["transfer_coverage"] < 0.3
    (20, True, True)
    """
    import pyarrow as pa

    a = _alpha(alpha)
    try:
        f = float(calib_fraction)
    except (TypeError, ValueError):
        f = float("nan")
    if not 0.0 < f < 1.0:
        raise DcbError(f"calibration fraction must be in (0, 1), got {calib_fraction}; e.g. 0.5 for a 50/50 split")
    roles = [("prediction", pred), ("benchmark label", bench_label), ("deployment label", deploy_label)]
    if deploy_pred is not None:
        roles.append(("deployment prediction", deploy_pred))
    if group_by is not None:
        roles.append(("group", group_by))
    for i, (ri, ci) in enumerate(roles):
        if not ci:
            raise DcbError(f"no {ri} column given")
        for rj, cj in roles[:i]:
            if ci == cj and not {ri, rj} == {"prediction", "deployment prediction"}:
                raise DcbError(f"column '{ci}' is both the {rj} and the {ri}; give a separate column for each")
    numeric = list(dict.fromkeys([pred, bench_label, deploy_label] + ([deploy_pred] if deploy_pred else [])))
    cols = numeric + ([group_by] if group_by else [])
    src = open_source(source, cols)
    batches = [b for _, b in src.batches(cols)]
    table = pa.Table.from_batches(batches) if batches else pa.table({c: pa.array([], pa.float64()) for c in cols})
    rows_read = table.num_rows
    values = {c: _numeric_column(table, c) for c in numeric}
    keep = np.ones(rows_read, dtype=bool)
    for v in values.values():
        keep &= np.isfinite(v)
    groups = None
    if group_by:
        gcol = table.column(group_by)
        groups = np.asarray(gcol.to_pylist(), dtype=object)
        # a NaN group key is not equal to itself, so it could never gather its rows: drop it like a null
        keep &= np.fromiter((v is not None and v == v for v in groups), dtype=bool, count=len(groups))
    n = int(keep.sum())
    yb, yd, pb = values[bench_label][keep], values[deploy_label][keep], values[pred][keep]
    pd = values[deploy_pred][keep] if deploy_pred else pb
    need = min_calibration_size(a)
    n_cal = int(round(f * n))
    if n_cal < max(need, 1) or n - n_cal < 1:
        raise DcbError(
            f"too few rows: {n} usable rows ({rows_read - n} dropped for nulls or NaN) give {n_cal} calibration and "
            f"{n - n_cal} test rows; alpha {a:g} needs at least {max(need, 1)} calibration rows and 1 test row: "
            "pass more rows, a different --calib-fraction or a larger --alpha")
    perm = np.random.default_rng(seed).permutation(n)
    cal = np.zeros(n, dtype=bool)
    cal[perm[:n_cal]] = True
    test = ~cal
    metrics = {"n_rows": n, "dropped_rows": rows_read - n, "target_coverage": 1.0 - a,
               "quantile_rank": conformal_rank(n_cal, a), **_channel_metrics(yb, yd, pb, pd, cal, test, a)}
    metrics["coverage_gap"] = metrics["benchmark_coverage"] - metrics["transfer_coverage"]
    warnings = []
    if group_by:
        groups = groups[keep]
        mb = mondrian_conformal(yb[cal], pb[cal], groups[cal], a)
        md = mondrian_conformal(yd[cal], pd[cal], groups[cal], a)
        hb = mondrian_half_widths(groups[test], mb)
        hd = mondrian_half_widths(groups[test], md)
        metrics["mondrian"] = {
            "benchmark_coverage": interval_coverage(yb[test], pb[test], hb),
            "transfer_coverage": interval_coverage(yd[test], pd[test], hb),
            "deployment_coverage": interval_coverage(yd[test], pd[test], hd),
        }
        per = []
        keys, inv = _group_codes(groups)
        for i, key in enumerate(keys):
            gt = test & (inv == i)
            gc = int((cal & (inv == i)).sum())
            row = {"group": _jsonable(key), "n_calibration": gc, "n_test": int(gt.sum()),
                   "too_small": gc < need, "q_bench": None, "q_deploy": None,
                   "benchmark_coverage": None, "transfer_coverage": None, "deployment_coverage": None}
            if key in mb:
                row["q_bench"], row["q_deploy"] = mb[key]["q"], md[key]["q"]
                if gt.any():
                    row["benchmark_coverage"] = interval_coverage(yb[gt], pb[gt], row["q_bench"])
                    row["transfer_coverage"] = transfer_coverage(row["q_bench"], yd[gt], pd[gt])
                    row["deployment_coverage"] = interval_coverage(yd[gt], pd[gt], row["q_deploy"])
            per.append(row)
        metrics["groups"] = per
        small = [str(r["group"]) for r in per if r["too_small"]]
        if small:
            warnings.append(f"{len(small)} group(s) have fewer than {need} calibration rows, too few for alpha {a:g}; "
                            f"their intervals carry no coverage guarantee: {', '.join(small[:5])}"
                            + (" ..." if len(small) > 5 else ""))
    inp = src.describe()
    inp["rows_read"] = rows_read
    return ChannelsResult(envelope("channels", {"pred": pred, "deploy_pred": deploy_pred or pred, "bench_label": bench_label,
                       "deploy_label": deploy_label, "alpha": a, "group_by": group_by,
                       "calib_fraction": f, "seed": seed, "quantile": QUANTILE_RULE},
                    input=inp,
                    metrics=metrics,
                    headline=f"an interval calibrated on '{bench_label}' covers {metrics['benchmark_coverage']:.2%} of "
                     f"benchmark labels but {metrics['transfer_coverage']:.2%} of '{deploy_label}' "
                     f"(target {1 - a:.0%}); calibrated on '{deploy_label}' it covers "
                     f"{metrics['deployment_coverage']:.2%} at width {metrics['width_deploy']:.4g}",
                    warnings=warnings))


def _jsonable(v):
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    return str(v)
