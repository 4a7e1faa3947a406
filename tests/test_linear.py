"""Linear response-rank geometry and completion against direct formulas (SVD, least squares, loops)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from .reference import (
    certify_candidates_oracle,
    linear_policy_oracle,
    lstsq_residual_oracle,
    residual_greedy_oracle,
    svd_projector_oracle,
)

from dcb_fast.errors import DcbError
from dcb_fast.methods.linear import (
    POLICIES,
    PROBE_POLICIES,
    certify_candidates,
    deployment_residuals,
    linear_completion_curve,
    probe_basis,
    probe_projector,
    rank,
    select_linear_probes,
)


@st.composite
def probe_sets(draw):
    """Probes with small integer entries, some rows repeated or combined: rank-deficient often."""
    d = draw(st.integers(2, 6))
    m = draw(st.integers(1, 7))
    ints = st.integers(-3, 3)
    rows = [np.array(draw(st.lists(ints, min_size=d, max_size=d)), dtype=float) for _ in range(m)]
    if m >= 2 and draw(st.booleans()):
        a, b = draw(st.integers(-2, 2)), draw(st.integers(-2, 2))
        rows.append(a * rows[0] + b * rows[1])  # a dependent probe
    return np.array(rows)


@given(probe_sets())
def test_basis_is_orthonormal_and_spans_the_rows(B):
    Q = probe_basis(B)
    assert Q.shape[1] == np.linalg.matrix_rank(B)
    np.testing.assert_allclose(Q.T @ Q, np.eye(Q.shape[1]), atol=1e-12)
    np.testing.assert_allclose(probe_projector(B), svd_projector_oracle(B) if Q.shape[1] else 0 * np.eye(B.shape[1]),
                               atol=1e-10)


def test_dependent_probe_before_an_independent_one():
    # plain (unpivoted) QR keeps a meaningless direction for 2*e1 and can lose e2
    B = np.array([[1.0, 0, 0], [2.0, 0, 0], [0, 1.0, 0]])
    assert rank(B) == 2
    np.testing.assert_allclose(probe_projector(B), np.diag([1.0, 1.0, 0.0]), atol=1e-15)


def test_rank_tolerance_is_used():
    B = np.array([[1.0, 0.0], [1.0, 1e-9]])
    assert rank(B) == 2
    assert rank(B, tol=1e-6) == 1
    with pytest.raises(DcbError, match="rank tolerance must be a finite number >= 0"):
        probe_basis(B, tol=-1.0)


@given(probe_sets(), st.integers(0, 2**32 - 1))
def test_residuals_match_least_squares(B, seed):
    K = np.random.default_rng(seed).standard_normal((3, B.shape[1]))
    g = deployment_residuals(B, K)
    np.testing.assert_allclose(g, [lstsq_residual_oracle(B, k) for k in K], atol=1e-9)
    assert np.all(g <= np.linalg.norm(K, axis=1) + 1e-12)
    # a probe already in the span has residual 0; one more probe never raises a residual
    np.testing.assert_allclose(deployment_residuals(B, B), 0.0, atol=1e-9)
    assert np.all(deployment_residuals(np.vstack([B, K[0]]), K) <= g + 1e-12)


def test_residuals_simple_cases():
    np.testing.assert_allclose(deployment_residuals([[1.0, 0, 0]], [0.6, 0.8, 0.0]), [0.8])
    # no benchmark probe: nothing is determined, g = |k|
    np.testing.assert_allclose(deployment_residuals(np.zeros((0, 3)), [[3.0, 4.0, 0.0]]), [5.0])
    with pytest.raises(DcbError, match="the benchmark probes have dimension 3, but the deployment probes have dimension 2; all probes"):
        deployment_residuals([[1.0, 0, 0]], [[1.0, 0.0]])
    with pytest.raises(DcbError, match="NaN or infinite"):
        deployment_residuals([[np.nan, 0, 0]], [[1.0, 0, 0]])


@given(st.integers(0, 2**32 - 1), st.booleans())
def test_certify_matches_the_interval_definition(seed, per_probe):
    rng = np.random.default_rng(seed)
    n, k = 30, 4
    est = rng.normal(0, 0.5, (n, k) if per_probe else n)
    radius = rng.uniform(0, 0.6, n)
    g = rng.uniform(0, 1, k)
    thr = float(rng.normal(0, 0.1))
    got = certify_candidates(est, radius, g, thr)
    assert got.tolist() == certify_candidates_oracle(est, radius, g, thr)


def test_certify_boundary_and_errors():
    # the interval is closed: touching the threshold is not excluding it
    assert certify_candidates([0.5, 0.5001], 0.5, [1.0]).tolist() == [False, True]
    # g = 0: the benchmark determines the response; only an estimate exactly at the threshold fails
    assert certify_candidates([0.0, 1e-9], 10.0, [0.0]).tolist() == [False, True]
    with pytest.raises(DcbError, match=r"estimates must have shape \(n,\) or \(n, 2\)"):
        certify_candidates(np.zeros((3, 3)), 0.1, [0.1, 0.2])
    with pytest.raises(DcbError, match="radius must be a scalar or one value per candidate"):
        certify_candidates([0.1, 0.2], [0.1, 0.1, 0.1], [0.1])
    with pytest.raises(DcbError, match="residuals g must be"):
        certify_candidates([0.1], 0.1, [-0.1])


def _instance(seed, d=6, m=2, k=4, pool=12):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((m, d)), rng.standard_normal((k, d)), rng.standard_normal((pool, d))


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("policy", ["residual_greedy", "uncertainty", "diversity", "benchmark_aligned"])
def test_policies_match_their_definitions(seed, policy):
    # SPEC section 5's definitions (tests/reference.py). Until this fix `uncertainty` scored the
    # probe's own residual (that is SPEC's diversity), `diversity` the smallest max |cos| to the
    # probes so far (no column of the paper) and `benchmark_aligned` measured against the
    # original span instead of the current one: the old oracles here asserted those rules.
    B, K, pool = _instance(seed)
    n = 4
    assert select_linear_probes(B, K, pool, n, policy) == linear_policy_oracle(B, K, pool, n, policy)
    assert select_linear_probes(B, K, pool, 3, "residual_greedy") == residual_greedy_oracle(B, K, pool, 3)


def test_policy_registry():
    assert POLICIES == tuple(PROBE_POLICIES) == ("residual_greedy", "uncertainty", "diversity",
                                                 "benchmark_aligned", "random")


def test_policies_hand_example():
    # B = e1, one deployment probe (0, 0.6, 0.8); pool: e1 + e2 (half in the span), e3, e2.
    B, K, pool = [[1.0, 0, 0]], [[0, 0.6, 0.8]], [[1.0, 1, 0], [0, 0, 1.0], [0, 1.0, 0]]
    # residual-greedy: adding e3 leaves 0.6, e2 leaves 0.8, e1 + e2 leaves 0.8 -> e3
    assert select_linear_probes(B, K, pool, 1, "residual_greedy") == [1]
    # uncertainty: the residual matrix is (0, 0.6, 0.8) itself; cos^2 = 0.5*0.36, 0.64, 0.36 -> e3
    assert select_linear_probes(B, K, pool, 1, "uncertainty") == [1]
    # diversity: own residuals 1/sqrt(2), 1, 1 -> e3 (tie with e2, lowest index)
    assert select_linear_probes(B, K, pool, 1, "diversity") == [1]
    # benchmark-aligned: |P q| = 1/sqrt(2), 0, 0 -> e1 + e2; then against the *current* span
    # {e1, e2}: e2 scores 1, e3 scores 0 -> e2 (against the original span e1 both score 0 and the
    # old rule took e3, index 1)
    assert select_linear_probes(B, K, pool, 2, "benchmark_aligned") == [0, 2]
    # uncertainty, step 2: the residual left is 0.6 e2, so e2 (cos^2 1) beats e1 + e2 (0.5); then
    # every deployment response is determined, no direction is left, all scores are 0 and the
    # lowest free index wins (0, before e1 at index 3)
    assert select_linear_probes(B, K, pool + [[1.0, 0, 0]], 3, "uncertainty") == [1, 2, 0]


@given(st.integers(0, 2**32 - 1), st.sampled_from(["residual_greedy", "uncertainty", "diversity",
                                                   "benchmark_aligned", "random"]))
def test_policies_ignore_probe_scale_and_deployment_order(seed, policy):
    # a probe measures a direction: rescaling pool or benchmark probes by positive constants, or
    # listing the deployment probes in another order, picks the same probes
    B, K, pool = _instance(seed % 1000)
    rng = np.random.default_rng(seed)
    want = select_linear_probes(B, K, pool, 3, policy, seed=7)
    pool2 = pool * rng.uniform(0.5, 3.0, (len(pool), 1))
    B2 = B * rng.uniform(0.5, 3.0, (len(B), 1))
    K2 = K[rng.permutation(len(K))]
    assert select_linear_probes(B2, K2, pool2, 3, policy, seed=7) == want


def test_random_policy_is_seeded_and_without_replacement():
    B, K, pool = _instance(0)
    a = select_linear_probes(B, K, pool, 12, "random", seed=3)
    assert a == select_linear_probes(B, K, pool, 12, "random", seed=3)
    assert sorted(a) == list(range(12))
    assert a[:4] != select_linear_probes(B, K, pool, 4, "random", seed=4)


def test_selection_errors():
    B, K, pool = _instance(0)
    with pytest.raises(DcbError, match="unknown probe-selection policy 'greedy'; use one of residual_greedy"):
        select_linear_probes(B, K, pool, 1, "greedy")
    with pytest.raises(DcbError, match="cannot pick 13 probes from a pool of 12"):
        select_linear_probes(B, K, pool, 13)


def test_greedy_tie_goes_to_lowest_index():
    # both pool probes complete the span exactly; rounding must not decide
    B, K = [[1.0, 0, 0], [0, 0, 1.0]], [[0, 0.6, 0.8]]
    assert select_linear_probes(B, K, [[1.0, 1.0, 0], [0, 1.0, 0]], 1) == [0]


@pytest.mark.parametrize("policy", POLICIES)
def test_completion_curve_is_consistent(policy):
    B, K, pool = _instance(11, d=5, m=1, k=3, pool=8)
    rng = np.random.default_rng(1)
    est, radius = rng.normal(0, 0.45, 200), rng.uniform(0.15, 0.55, 200)
    curve = linear_completion_curve(B, K, pool, est, radius, 4, policy, seed=2)
    picks = select_linear_probes(B, K, pool, 4, policy, seed=2)
    assert [s["probe"] for s in curve] == [None] + picks
    for s in curve:
        S = np.vstack([B, pool[picks[: s["step"]]]])
        g = [lstsq_residual_oracle(S, k) for k in K]
        np.testing.assert_allclose(s["residuals"], g, atol=1e-10)
        assert s["certified_fraction"] == np.mean(certify_candidates(est, radius, g))
    # probes only add directions: residuals never grow, certification never falls
    assert all(a["max_residual"] >= b["max_residual"] - 1e-12 for a, b in zip(curve, curve[1:]))
    assert all(a["certified_fraction"] <= b["certified_fraction"] for a, b in zip(curve, curve[1:]))
    # 1 + 4 generic probes span R^5: everything is determined
    assert curve[-1]["max_residual"] < 1e-9 and curve[-1]["certified_fraction"] == 1.0
