"""One registry of benchmark cases: ours and the baselines a user would otherwise write
(DuckDB, Polars, pyarrow, numpy), each computing the same numbers from the same input.

The benchmarks in ``bench/`` time every entry; ``tests/test_bench_cases.py`` runs every entry
once on tiny data and checks that all of them agree, so no benchmark ships without an oracle and
no baseline can silently compute something else.

Every case has ``inputs(rows, directory)``: the positional arguments (generated files) that ours
and every baseline take, so a benchmark and the smoke test call them the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

from dcb_fast.tools.benchmark import AUDIT_BASELINES, audit_compare, audit_ours

from . import baselines as B
from . import leaderboard_baselines as LB
from .data import ACTION, EVIDENCE, PROBES, WEIGHT, calibration_file, log_file, predictions_file

COVERAGE_MIN_SUPPORT = 5  # calibration fibers with fewer rows are thin: all four classes occur
KNN_K = 50
WINDOW_TOL = 0.05
REPLAY_SPLITS = 100


@dataclass
class Case:
    name: str
    ours: Callable
    baselines: dict[str, Callable] = field(default_factory=dict)
    compare: Callable | None = None  # compare(ours_result, baseline_result) raises AssertionError on mismatch
    inputs: Callable | None = None  # inputs(rows, directory) -> positional args of ours and every baseline
    smoke_kwargs: dict = field(default_factory=dict)  # keyword arguments for the tiny-data smoke run
    goal_vs: tuple = ("duckdb", "polars")  # the baselines a goal ratio is measured against


def _close(a, b, rel=1e-9, what=""):
    a, b = float(a), float(b)
    assert abs(a - b) <= rel * max(1.0, abs(b)), (what, a, b)


# -- completion: the greedy curve over five probes ---------------------------------------------------

def completion_ours(source, evidence=EVIDENCE, action=ACTION, probes=PROBES, weight=WEIGHT, threads=None):
    """Per step: the probe added, fibers, mixed fibers, certifiable fraction (min support 1)."""
    import dcb_fast

    m = dcb_fast.complete(source, list(evidence), action, list(probes), weight=weight, threads=threads).metrics
    return {"steps": [(s["probe"], s["n_fibers"], s["n_mixed_fibers"], s["certifiable_fraction"])
                      for s in m["curve"]]}


def completion_compare(ours, other):
    assert len(ours["steps"]) == len(other["steps"]), (ours, other)
    for a, b in zip(ours["steps"], other["steps"]):
        assert a[:3] == b[:3], ("probe, fibers, mixed fibers", a, b)
        _close(a[3], b[3], 1e-12, ("certifiable fraction", a[0]))


# -- coverage: a production log against a certificate built on a calibration table -------------------

def coverage_ours(calibration, production, evidence=EVIDENCE, action=ACTION, weight=WEIGHT,
                  min_support=COVERAGE_MIN_SUPPORT, threads=None):
    """Certificate on the calibration file, then the production log against it: weight per
    class (certified, ambiguous, thin, unseen), false decisions of acting on the certificate,
    production fibers per class."""
    import dcb_fast

    cert = dcb_fast.certify(calibration, list(evidence), action, weight=weight, min_support=min_support,
                            threads=threads)
    m = dcb_fast.coverage(cert, production, weight=weight, action=action, threads=threads).metrics
    W = m["total_weight"]
    return {"total": W, "certified": m["certified_coverage"] * W, "ambiguous": m["ambiguous_coverage"] * W,
            "thin": m["thin_coverage"] * W, "unseen": m["unseen_fraction"] * W,
            "false_certificate": m["false_decisions"]["certificate"] * W,
            "fibers": dict(m["fibers_by_class"])}


def coverage_compare(ours, other):
    for k in ("total", "certified", "ambiguous", "thin", "unseen", "false_certificate"):
        _close(ours[k], other[k], 1e-9, k)
    fo = {k: v for k, v in ours["fibers"].items() if v}
    fb = {k: v for k, v in other["fibers"].items() if v}
    assert fo == fb, ("production fibers by class", fo, fb)


# -- knn and tolerance windows on one numeric column --------------------------------------------------

def knn_ours(source, column="pred", action="stable", k=KNN_K):
    import dcb_fast

    return _window_summary(dcb_fast.audit(source, evidence=[column], action=action,
                                          rules={column: f"knn:{k}"}).metrics)


def window_ours(source, column="pred", action="stable", tol=WINDOW_TOL):
    import dcb_fast

    return _window_summary(dcb_fast.audit(source, evidence=[column], action=action,
                                          rules={column: f"window:{tol}"}).metrics)


def _window_summary(m):
    cert = m["certified_rows"]
    return {"rows": m["n_rows"], "windows": m["n_fibers"], "mixed_windows": m["n_mixed_fibers"],
            "certified_true": cert.get("true", 0), "certified_false": cert.get("false", 0)}


def window_compare(ours, other):
    assert ours == {k: int(v) for k, v in other.items()}, (ours, other)


# -- replay: certify-then-acquire over seeded splits ---------------------------------------------------

REPLAY_POLICIES = ["certify_only", "fiber_majority", "global_majority", "certify_then_acquire"]
REPLAY_FIELDS = ["certified_fraction", "false_decisions", "acquisitions"]


def replay_ours(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, splits=REPLAY_SPLITS, seed=0,
                threads=None):
    """Per policy and figure: mean and standard deviation over the splits."""
    import dcb_fast

    r = dcb_fast.replay(source, list(evidence), action, splits=splits, seed=seed, weight=weight, threads=threads)
    rows = r.splits.to_pylist()
    per = {(p, f): [x[f] for x in rows if x["policy"] == p] for p in REPLAY_POLICIES for f in REPLAY_FIELDS}
    return {"splits": splits, "stats": {key: _mean_sd(v) for key, v in per.items()}}


def _mean_sd(values):
    n = len(values)
    mean = math.fsum(values) / n
    var = math.fsum((v - mean) ** 2 for v in values) / (n - 1) if n > 1 else 0.0
    return mean, math.sqrt(var)


def replay_compare(ours, other):
    """Splits are random, drawn by different generators (ours: exact-size draws over cells; the
    baselines: a hash of the request id per row), so the figures agree in distribution, not
    digit for digit: every mean over splits must agree within 5 standard errors (plus 1e-9 for
    figures that are constant over splits), and the spread over splits within a factor 3."""
    assert ours["splits"] == other["splits"], (ours["splits"], other["splits"])
    n = ours["splits"]
    for key, (mo, so) in ours["stats"].items():
        mb, sb = other["stats"][key]
        se = math.sqrt((so * so + sb * sb) / n)
        assert abs(mo - mb) <= 5 * se + 1e-9, (key, "ours", mo, so, "baseline", mb, sb)
        if n >= 20 and so > 1e-12:
            # the splits must really differ from each other (a split rule that repeats one split
            # agrees on means but has no spread)
            assert so / 3 <= sb <= 3 * so, (key, "spread over splits", "ours", so, "baseline", sb)


# -- leaderboard replay: a long table, a row per (model, item), 67 models -------------------------------

LEADERBOARD_MODELS = 67
LEADERBOARD_SPLITS = 50
LEADERBOARD_MIN_SUPPORT = 5


def leaderboard_ours(source, splits=LEADERBOARD_SPLITS, seed=0, min_support=LEADERBOARD_MIN_SUPPORT, threads=None):
    """Per (split, model) run: certified fraction, certify-only false decisions, window-majority
    and global-majority false decisions (tolerance: each model's calibration MAE)."""
    from dcb_fast.methods.leaderboard import leaderboard_replay

    r = leaderboard_replay(source, "model", "item", "pred", "label", tolerance="mae:error", splits=splits,
                           seed=seed, min_support=min_support, threads=threads)
    out = {}
    for x in r.splits.to_pylist():
        out.setdefault((x["split"], x["model"]), {})[x["policy"]] = x
    return {key: (v["certify_only"]["certified_fraction"], v["certify_only"]["false_decisions"],
                  v["fiber_majority"]["false_decisions"], v["global_majority"]["false_decisions"])
            for key, v in out.items()}


def leaderboard_compare(ours, other):
    """Same item splits, same rule: every run's figures agree (the baseline may stop early:
    its runs are compared)."""
    assert other and set(other) <= set(ours), (sorted(other)[:3], sorted(ours)[:3])
    for key, b in other.items():
        for x, y, what in zip(ours[key], b, ("certified", "fd certify", "fd majority", "fd global")):
            _close(x, y, 1e-12, (key, what))


def leaderboard_inputs(rows, directory=None):
    from .data import leaderboard_file

    return (leaderboard_file(rows, LEADERBOARD_MODELS, directory=directory),)


# -- the registry ---------------------------------------------------------------------------------------

CASES = {
    "audit": Case("audit", audit_ours, dict(AUDIT_BASELINES), audit_compare,
                  inputs=lambda rows, d=None: (log_file(rows, directory=d),)),
    "completion": Case("completion", completion_ours,
                       {"duckdb": B.completion_duckdb, "polars": B.completion_polars, "pyarrow": B.completion_pyarrow},
                       completion_compare, inputs=lambda rows, d=None: (log_file(rows, directory=d),)),
    "coverage": Case("coverage", coverage_ours, {"duckdb": B.coverage_duckdb, "polars": B.coverage_polars},
                     coverage_compare,
                     inputs=lambda rows, d=None: (calibration_file(rows, directory=d), log_file(rows, directory=d))),
    "knn": Case("knn", knn_ours, {"duckdb": B.knn_duckdb, "polars": B.knn_polars, "numpy": B.knn_numpy},
                window_compare, inputs=lambda rows, d=None: (predictions_file(rows, directory=d),)),
    "window": Case("window", window_ours,
                   {"duckdb": B.window_duckdb, "polars": B.window_polars, "numpy": B.window_numpy},
                   window_compare, inputs=lambda rows, d=None: (predictions_file(rows, directory=d),)),
    "replay": Case("replay", replay_ours, {"duckdb": B.replay_duckdb, "polars": B.replay_polars}, replay_compare,
                   inputs=lambda rows, d=None: (log_file(rows, directory=d),), smoke_kwargs={"splits": 30}),
    "leaderboard": Case("leaderboard", leaderboard_ours, {"numpy": LB.leaderboard_numpy, "loop": LB.leaderboard_loop},
                        leaderboard_compare, inputs=leaderboard_inputs, smoke_kwargs={"splits": 4},
                        goal_vs=("numpy",)),
}
