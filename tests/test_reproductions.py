"""The paper's numbers, reproduced by the scripts in ``scripts/`` through the library's API."""

from __future__ import annotations

import importlib.util
import os
from collections import defaultdict

import numpy as np
import pytest

SCRIPTS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts")


def load(name: str):
    spec = importlib.util.spec_from_file_location(name, os.path.join(SCRIPTS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def conformal():
    return load("reproduce_conformal").run(50)


@pytest.mark.parametrize("key", ["benchmark_coverage", "transfer_coverage", "response_rank_coverage"])
def test_conformal_means_inside_the_papers_ci(conformal, key):
    """The recipe is fully specified, so our 50-seed mean must fall inside the paper's 95% CI."""
    mod = load("reproduce_conformal")
    _, lo, hi = mod.PAPER[key]
    assert lo <= 100 * conformal[key][0] <= hi


def test_conformal_oracle_and_g(conformal):
    # the paper gives no CI for these: oracle coverage within our own CI of its 94.42%, and
    # g is deterministic given the probes' noise: its mean matches to the paper's 3 digits
    _, lo, hi = conformal["oracle_deployment_coverage"]
    assert lo <= 0.9442 <= hi
    assert round(conformal["g"][0], 3) == 0.819
    # the transfer interval is the benchmark one (width about 2 * 1.96 * 0.05), far too narrow
    assert conformal["width_benchmark"][0] < 0.25 < 3.0 < conformal["width_oracle"][0]


def test_conformal_seed_is_deterministic():
    mod = load("reproduce_conformal")
    assert mod.run_seed(7) == mod.run_seed(7)
    assert mod.run_seed(7) != mod.run_seed(8)


@pytest.fixture(scope="module")
def completion():
    return load("reproduce_linear_completion").run(50)


def _seed_sd(rows, policy, step):
    return float(np.std([r[policy][step] for r in rows], ddof=1))


def test_linear_completion_levels(completion):
    """The paper's 45.75% (before) and 70.75% (residual-greedy after 3) are single runs of a
    generator the SPEC does not fully give; our construction draws a new instance per seed. A
    single run lies within two seed-to-seed standard deviations of the mean about 95% of the
    time, so that is the tolerance (about 7.5 and 10 points here)."""
    mean = completion["mean"]
    rows = completion["rows"]
    assert abs(mean["residual_greedy"][0][0] - 0.4575) < 2 * _seed_sd(rows, "residual_greedy", 0)
    assert abs(mean["residual_greedy"][3][0] - 0.7075) < 2 * _seed_sd(rows, "residual_greedy", 3)


def test_linear_completion_ordering(completion):
    """Residual-greedy is ahead of the other four policies after 1, 2 and 3 probes (means over
    50 seeds, with a margin beyond both CIs), at least as good in 80% of single seeds after 3,
    and every policy certifies everything after 4 probes (4 + 4 generic probes span R^8)."""
    mean = completion["mean"]
    others = [p for p in mean if p != "residual_greedy"]
    for step in (1, 2, 3):
        g_lo = mean["residual_greedy"][step][1]
        assert all(g_lo > mean[p][step][2] for p in others), step
    assert completion["greedy_best_at_3"] >= 0.8
    for policy in mean:
        assert mean[policy][4][0] == 1.0
    assert all(r["max_residual"]["residual_greedy"][4] < 1e-9 for r in completion["rows"])


# -- vision (SPEC section 8) --------------------------------------------------------------------


def fiber_oracle(pred, correct, conf, robust):
    """Certifiable fraction by plain Python: decile bins as the SPEC's quantile bins, then the
    share of images whose (pred, correct, bin) group holds one robust value."""
    edges = np.unique(np.quantile(conf, np.linspace(0, 1, 11)))
    bins = [min(int(np.searchsorted(edges, c, side="right")) - 1, len(edges) - 2) for c in conf]
    groups = defaultdict(set)
    for p, c, b, r in zip(pred, correct, bins, robust):
        groups[(p, c, b)].add(bool(r))
    return sum(len(groups[(p, c, b)]) == 1 for p, c, b in zip(pred, correct, bins)) / len(pred)


def test_vision_audit_matches_a_direct_count():
    mod = load("reproduce_vision")
    rng = np.random.default_rng(0)
    n = 500
    pred = rng.integers(0, 10, n)
    correct = rng.random(n) < 0.9
    conf = np.round(rng.random(n), 2)  # ties, so some decile edges coincide
    robust = correct & (rng.random(n) < conf)
    m = mod.audit_model(pred, correct, conf, robust).metrics
    assert m["certifiable_fraction"] == pytest.approx(fiber_oracle(pred, correct, conf, robust), abs=1e-12)
    assert m["certifiable_fraction"] + m["ambiguous_fraction"] == pytest.approx(1.0)
    # a constant confidence still audits (one bin)
    m = mod.audit_model(pred, correct, np.full(n, 0.7), robust).metrics
    assert m["n_fibers"] == len(set(zip(pred.tolist(), correct.tolist())))


def test_vision_one_split():
    res = load("reproduce_vision").run(n_splits=1)
    rows = res["rows"]
    assert [r["model"] for r in rows] == load("reproduce_vision").MODEL_NAMES
    for r in rows:
        assert 0.8 < r["clean_accuracy"] <= 1.0
        assert 0.0 <= r["robust_fraction"] < r["clean_accuracy"]  # robust implies correct, and corruptions bite
        assert r["certifiable"] + r["ambiguous"] == pytest.approx(1.0)
    assert res["clean_vs_certifiable"] in (0.0, 1.0)


@pytest.fixture(scope="module")
def vision_full():
    return load("reproduce_vision").run(25)


@pytest.mark.slow
def test_vision_full_run(vision_full):
    """All 25 splits (about two minutes). We measure a median ambiguous fraction of 44.0%, not the
    paper's 22.7%: see README section 6 (Paper vs this library). This pins our measured numbers (3 points, as
    asked of the paper's) and the paper's qualitative findings that we do reproduce: a large
    ambiguous share, and model choice by clean accuracy disagreeing with choice by
    certification or robustness in most splits."""
    res = vision_full
    assert abs(res["ambiguous"] - 0.440) <= 0.03
    assert res["ambiguous"] >= 0.20
    assert res["clean_vs_certifiable"] >= 0.5 and res["clean_vs_robust"] >= 0.5


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="measured median ambiguous 44.0% vs the paper's 22.7%; see README section 6 (Paper vs this library)")
def test_vision_median_ambiguous_matches_paper(vision_full):
    assert abs(vision_full["ambiguous"] - 0.227) <= 0.03
