"""The paper's numbers, reproduced by the scripts in ``scripts/`` through the library's API."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import pytest
from hypothesis import given, strategies as st

from .reference import certifiable_share_oracle, qcut_bins_oracle

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


@pytest.mark.parametrize("key", ["benchmark_coverage", "transfer_coverage", "oracle_deployment_coverage",
                                 "response_rank_coverage"])
def test_conformal_is_the_papers_to_the_decimal(conformal, key):
    """SPEC 7's recipe in full (no intercept, numpy's default quantile, mean +- 1.96 s.e.): the
    paper's mean and 95% CI to its two decimals."""
    mod = load("reproduce_conformal")
    assert tuple(round(100 * v, 2) for v in conformal[key]) == mod.PAPER[key]


def test_conformal_recipe_details_matter():
    """Each detail SPEC 7 fixes moves a figure off the paper's: an intercept moves the transfer
    coverage, the rank quantile rule the benchmark coverage."""
    mod = load("reproduce_conformal")
    with_intercept = mod.run(50, intercept=True)
    assert round(100 * with_intercept["transfer_coverage"][0], 2) != mod.PAPER["transfer_coverage"][0]
    rank_rule = mod.run(50, quantile="inverted_cdf")
    assert round(100 * rank_rule["benchmark_coverage"][0], 2) != mod.PAPER["benchmark_coverage"][0]


def test_conformal_seed_is_deterministic():
    mod = load("reproduce_conformal")
    assert mod.run_seed(7) == mod.run_seed(7)
    assert mod.run_seed(7) != mod.run_seed(8)


@pytest.fixture(scope="module")
def completion():
    return load("reproduce_linear_completion").run()


@pytest.mark.parametrize("policy", ["residual_greedy", "uncertainty", "diversity", "benchmark_aligned"])
def test_linear_completion_curves_are_the_papers(completion, policy):
    """SPEC 5's geometry in full: every policy's curve is the paper's, to the decimals it gives
    (certified counts out of 400, so 2 decimals are exact); all certify everything after 4."""
    paper = load("reproduce_linear_completion").PAPER[policy]
    ours = completion[policy]["certified"]
    assert [round(v, 2) for v in ours[:4]] == paper[:4]
    assert ours[4] == 100.0
    if paper[4] is not None:
        assert round(ours[4], 2) == paper[4]


def test_linear_completion_random_orders_are_the_papers(completion):
    """The random baseline: mean over 200 orders to the paper's one decimal, p10-p90 after 3."""
    mod = load("reproduce_linear_completion")
    ours = completion["random_mean"]["certified"]
    assert ours[0] == 45.75  # step 0 is the benchmark alone, the same for every order
    assert [round(v, 1) for v in ours[1:4]] == mod.PAPER["random_mean"][1:4]
    assert (completion["random_p10"]["certified"][3], completion["random_p90"]["certified"][3]) == \
        mod.PAPER_RANDOM_P10_P90_AT_3


def test_linear_completion_greedy_leads_and_completes(completion):
    """Residual-greedy is ahead of every other policy after 1, 2 and 3 probes, and after 4 its
    largest deployment residual is 0 (the picks include the targeted e6..e8 directions)."""
    others = ["uncertainty", "diversity", "benchmark_aligned", "random_mean"]
    for step in (1, 2, 3):
        assert all(completion["residual_greedy"]["certified"][step] > completion[p]["certified"][step] for p in others)
    assert completion["residual_greedy"]["max_residual"][4] < 1e-9


# -- vision (SPEC section 8) --------------------------------------------------------------------


@given(st.lists(st.sampled_from([0.1, 0.25, 0.5, 0.7, 0.9, 0.95, 1.0]) | st.floats(0, 1), min_size=1, max_size=120))
def test_decile_bins_are_pandas_qcut(conf):
    """SPEC 8's decile bins: right-closed as pandas' qcut, duplicate edges dropped (many ties)."""
    got = load("reproduce_vision").decile_bins(conf)
    if len(set(conf)) == 1:
        assert got.tolist() == [0] * len(conf)
    else:
        assert got.tolist() == qcut_bins_oracle(conf).tolist()


def test_decile_bins_hand_values():
    # deciles of 1..11 are 1, 2, ..., 11: bins (1, 2], (2, 3], ...; 1 joins the first bin
    assert load("reproduce_vision").decile_bins(np.arange(1.0, 12.0)).tolist() == [0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_vision_audit_matches_a_direct_count():
    mod = load("reproduce_vision")
    rng = np.random.default_rng(0)
    n = 500
    pred = rng.integers(0, 10, n)
    correct = rng.random(n) < 0.9
    conf = np.round(rng.random(n), 2)  # ties, so some decile edges coincide
    robust = correct & (rng.random(n) < conf)
    m = mod.audit_model(pred, correct, conf, robust).metrics
    keys = list(zip(pred.tolist(), correct.tolist(), qcut_bins_oracle(conf).tolist()))
    assert m["certifiable_fraction"] == pytest.approx(certifiable_share_oracle(keys, robust.tolist()), abs=1e-12)
    assert m["certifiable_fraction"] + m["ambiguous_fraction"] == pytest.approx(1.0)
    # a constant confidence still audits (one bin)
    m = mod.audit_model(pred, correct, np.full(n, 0.7), robust).metrics
    assert m["n_fibers"] == len(set(zip(pred.tolist(), correct.tolist())))


def test_vision_model_choice_ties():
    mod = load("reproduce_vision")
    rows = [{"model": "a", "clean_accuracy": 0.9, "certifiable": 0.8, "ambiguous": 0.2, "robust_fraction": 0.1},
            {"model": "b", "clean_accuracy": 0.95, "certifiable": 0.8, "ambiguous": 0.2, "robust_fraction": 0.3},
            {"model": "c", "clean_accuracy": 0.95, "certifiable": 0.7, "ambiguous": 0.3, "robust_fraction": 0.3}]
    # clean: b and c tie, the first wins; certifiable: a and b tie, robust accuracy breaks it
    assert mod.choices(rows) == {"clean": "b", "certifiable": "b", "robust": "b"}
    s = mod.summarize([dict(r, split=0) for r in rows] + [dict(r, split=1, robust_fraction=0.5 if r["model"] == "a"
                                                                else r["robust_fraction"]) for r in rows])
    assert s["clean_vs_certifiable"] == 0.5 and s["clean_vs_robust"] == 0.5  # split 1: a is the most robust


def test_vision_one_split():
    mod = load("reproduce_vision")
    res = mod.run(n_splits=1)
    rows = res["rows"]
    assert [r["model"] for r in rows] == mod.MODEL_NAMES
    for r in rows:
        assert 0.8 < r["clean_accuracy"] <= 1.0
        assert 0.0 <= r["robust_fraction"] < r["clean_accuracy"]  # robust implies correct, and corruptions bite
        assert r["certifiable"] + r["ambiguous"] == pytest.approx(1.0)
    assert res["clean_vs_certifiable"] in (0.0, 1.0)


@pytest.fixture(scope="module")
def vision_full():
    return load("reproduce_vision").run(25)


@pytest.mark.slow
@pytest.mark.parametrize("key,digits", [("certifiable", 3), ("ambiguous", 3), ("clean_vs_robust", 2),
                                        ("clean_accuracy", 3), ("robust_accuracy", 3)])
def test_vision_is_the_papers(vision_full, key, digits):
    """All 25 splits x 8 models (several minutes): the paper's figures to the decimals it gives
    (median certifiable 77.3%, ambiguous 22.7%, best clean != most robust in 76% of splits,
    median clean accuracy 97.2%, robust 8.3%)."""
    assert round(vision_full[key], digits) == load("reproduce_vision").PAPER[key]


N_SVM_SEEDS = 10


@pytest.mark.slow
def test_vision_clean_vs_certifiable_is_one_draw_of_the_svm_seed(vision_full):
    """The sixth figure (best clean != best certifiable, 56% in the paper) depends on the RBF
    SVM's probability-calibration seed, which the authors left to numpy's unseeded generator:
    the five other figures stay the paper's under every seed, and the paper's 56% is one of
    the outcomes of seeds 0..N_SEEDS-1."""
    mod = load("reproduce_vision")
    by_seed = mod.svm_seed_sensitivity(range(N_SVM_SEEDS), base_rows=vision_full["rows"])
    assert by_seed[0]["clean_vs_certifiable"] == vision_full["clean_vs_certifiable"]
    for res in by_seed.values():
        for key in ("certifiable", "ambiguous", "clean_vs_robust", "clean_accuracy", "robust_accuracy"):
            assert res[key] == vision_full[key]
    assert mod.PAPER["clean_vs_certifiable"] in {round(r["clean_vs_certifiable"], 2) for r in by_seed.values()}
