"""Channels: conformal quantile, coverage, transfer, response-rank and Mondrian intervals against
direct formulas; the finite-sample coverage guarantee by simulation; the ``dcb channels`` CLI."""

from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from dcb_fast.methods.channels import (
    check_channels,
    conformal_quantile,
    conformal_rank,
    coverage,
    interval_coverage,
    least_squares_predict,
    min_calibration_size,
    mondrian_conformal,
    mondrian_half_widths,
    response_rank_interval,
    split_conformal,
    transfer_coverage,
)
from dcb_fast.cli import main
from dcb_fast.errors import DcbError

from .reference import (
    channels_check_oracle,
    conformal_rank_oracle,
    least_squares_oracle,
    paper_conformal_quantile_oracle,
    split_conformal_quantile_oracle,
)

ALPHAS = ["0.01", "0.05", "0.1", "0.2", "0.25", "0.3", "0.5", "0.9"]


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60), st.sampled_from(ALPHAS))
def test_quantile_is_the_kth_smallest(scores, alpha):
    k = min(len(scores), conformal_rank_oracle(len(scores), alpha))
    assert conformal_rank(len(scores), float(alpha)) == k
    assert conformal_quantile(scores, float(alpha)) == sorted(scores)[k - 1]
    # the same number as the SPEC's wording: quantile at level min(1, (1-a)(n+1)/n), no interpolation
    level = min(1.0, k / len(scores))
    assert conformal_quantile(scores, float(alpha)) == np.quantile(scores, level, method="inverted_cdf")


@pytest.mark.parametrize("alpha", ALPHAS)
def test_min_calibration_size_is_where_the_level_becomes_attainable(alpha):
    need = min_calibration_size(float(alpha))
    assert need == math.ceil(1 / Fraction(alpha)) - 1
    for n in range(1, 300):
        assert (conformal_rank_oracle(n, alpha) > n) == (n < need), n


def test_quantile_errors():
    with pytest.raises(DcbError, match=r"alpha must be in \(0, 1\), got 1.5; use e.g. 0.05"):
        conformal_quantile([1.0], 1.5)
    with pytest.raises(DcbError, match="at least one calibration score"):
        conformal_quantile([], 0.1)
    with pytest.raises(DcbError, match="NaN or infinite"):
        conformal_quantile([1.0, np.nan], 0.1)


@given(st.integers(0, 2**32 - 1), st.sampled_from(ALPHAS))
def test_split_conformal_coverage_and_transfer_match_formulas(seed, alpha):
    rng = np.random.default_rng(seed)
    a = float(alpha)
    y, p = rng.normal(size=40), rng.normal(size=40)
    q = split_conformal(y, p, a)
    r = sorted(abs(y - p))
    assert q == split_conformal_quantile_oracle(r, alpha)
    yt, pt, yd = rng.normal(size=25), rng.normal(size=25), rng.normal(scale=3, size=25)
    assert interval_coverage(yt, pt, q) == sum(pt[i] - q <= yt[i] <= pt[i] + q for i in range(25)) / 25
    assert transfer_coverage(q, yd, pt) == sum(abs(yd[i] - pt[i]) <= q for i in range(25)) / 25
    lo, hi = pt - 1, pt + 2
    assert coverage(yt, lo, hi) == sum(lo[i] <= yt[i] <= hi[i] for i in range(25)) / 25


def test_coverage_counts_the_closed_interval_and_checks_lengths():
    assert coverage([1.0, 2.0, 3.0], 1.0, 2.0) == 2 / 3
    with pytest.raises(DcbError, match="empty channel"):
        coverage([], 0, 1)
    with pytest.raises(DcbError, match=r"labels \(2\) and predictions \(3\) differ in length"):
        interval_coverage([1.0, 2.0], [1.0, 2.0, 3.0], 0.5)


def test_response_rank_interval():
    lo, hi = response_rank_interval([0.0, 1.0], 2.0, 0.25)
    np.testing.assert_array_equal(lo, [-0.5, 0.5])
    np.testing.assert_array_equal(hi, [0.5, 1.5])
    # g computed through dcb_fast.methods.linear: probe (0.6, 0.8) against benchmark e1 has g = 0.8
    lo, hi = response_rank_interval([0.0], 1.5, benchmark=[[1.0, 0.0]], probe=[0.6, 0.8])
    np.testing.assert_allclose([lo[0], hi[0]], [-1.2, 1.2])
    with pytest.raises(DcbError, match="give the residual g, or the benchmark probes"):
        response_rank_interval([0.0], 1.0)
    with pytest.raises(DcbError, match="takes one deployment probe, got 2"):
        response_rank_interval([0.0], 1.0, benchmark=[[1.0, 0.0]], probe=[[0.0, 1.0], [1.0, 1.0]])
    with pytest.raises(DcbError, match="must be >= 0"):
        response_rank_interval([0.0], -1.0, 0.5)


def test_mondrian_matches_per_group_conformal():
    rng = np.random.default_rng(5)
    groups = np.array(["a"] * 30 + ["b"] * 12 + ["c"] * 3, dtype=object)
    rng.shuffle(groups)
    y, p = rng.normal(size=45), rng.normal(size=45)
    m = mondrian_conformal(y, p, groups, 0.1)
    assert sorted(m) == ["a", "b", "c"]
    for g in "abc":
        s = sorted(abs(y - p)[groups == g])
        k = min(len(s), conformal_rank_oracle(len(s), "0.1"))
        assert m[g]["q"] == s[k - 1] and m[g]["n_calibration"] == len(s)
        assert m[g]["too_small"] == (len(s) < 9)
    assert [m[g]["too_small"] for g in "abc"] == [False, False, True]
    h = mondrian_half_widths(["b", "z", "a"], m)
    assert h[0] == m["b"]["q"] and h[1] == np.inf and h[2] == m["a"]["q"]


@pytest.mark.parametrize("dist", ["normal", "student_t2", "exponential"])
def test_conformal_covers_exchangeable_data_on_average(dist):
    """Split conformal is exact in expectation: with continuous scores the coverage of a fresh
    point is k/(n+1) >= 1 - alpha, whatever the distribution. 3000 simulated calibration sets of
    n = 20 with 40 test points each; the standard error of the mean coverage is about 0.0012, so
    a tolerance of 0.006 (5 SE) fails only on a real bias."""
    rng = np.random.default_rng({"normal": 1, "student_t2": 2, "exponential": 3}[dist])
    draw = {"normal": lambda s: rng.normal(size=s), "student_t2": lambda s: rng.standard_t(2, size=s),
            "exponential": lambda s: rng.exponential(size=s)}[dist]
    n, alpha, trials = 20, 0.1, 3000
    covs, naive = [], []
    for _ in range(trials):
        y_cal, y_test = draw(n), draw(40)
        pred_cal, pred_test = np.zeros(n), np.zeros(40)
        covs.append(interval_coverage(y_test, pred_test, split_conformal(y_cal, pred_cal, alpha)))
        naive.append(interval_coverage(y_test, pred_test, np.quantile(np.abs(y_cal), 1 - alpha)))
    expected = conformal_rank_oracle(n, "0.1") / (n + 1)  # 19/21
    assert np.mean(covs) >= 1 - alpha - 0.006
    assert abs(np.mean(covs) - expected) < 0.006
    # the uncorrected quantile undercovers at this n: the same check would catch it
    assert np.mean(naive) < 1 - alpha - 0.01


# -- the check on a table ----------------------------------------------------------------------


def channel_table(n=400, seed=0, groups=True):
    rng = np.random.default_rng(seed)
    p = rng.normal(size=n)
    data = {"p": p, "yb": p + 0.1 * rng.normal(size=n), "yd": p + 1.0 * rng.normal(size=n),
            "pd": p + 0.2 * rng.normal(size=n)}
    if groups:
        data["g"] = rng.choice(["x", "y", "tiny"], size=n, p=[0.6, 0.39, 0.01])
    return pa.table(data)


@pytest.mark.parametrize("alpha,f,seed,pd", [(0.05, 0.5, 0, None), (0.1, 0.3, 7, "pd"), (0.2, 0.75, 3, None)])
def test_check_channels_matches_oracle(alpha, f, seed, pd):
    t = channel_table()
    s = check_channels(t, "p", "yb", "yd", alpha=alpha, calib_fraction=f, seed=seed, deploy_pred=pd)
    m = s["metrics"]
    want = channels_check_oracle(t, alpha, f, seed, pd or "p")
    for key, v in want.items():
        assert m[key] == pytest.approx(v, abs=1e-15), key
    assert m["n_calibration"] == round(f * 400) and m["n_test"] == 400 - round(f * 400)
    assert m["width_bench"] == 2 * m["q_bench"]
    assert (s["schema_version"], s["kind"]) == (1, "channels")
    assert s["parameters"]["deploy_pred"] == (pd or "p")
    # the scenario: benchmark noise 0.1, deployment noise 1.0: the interval does not transfer
    assert m["benchmark_coverage"] > 0.75 and m["transfer_coverage"] < 0.4


def test_check_channels_groups_and_nulls():
    t = channel_table(seed=1)
    yd = t.column("yd").to_pylist()
    yd[0], yd[1] = None, float("nan")
    t = t.set_column(t.schema.get_field_index("yd"), "yd", pa.array(yd, pa.float64()))
    s = check_channels(t, "p", "yb", "yd", alpha=0.1, group_by="g", seed=2)
    m = s["metrics"]
    assert m["dropped_rows"] == 2 and m["n_rows"] == 398
    groups = {g["group"]: g for g in m["groups"]}
    assert sorted(groups) == ["tiny", "x", "y"]
    assert groups["tiny"]["too_small"] and not groups["x"]["too_small"]
    assert sum(g["n_calibration"] + g["n_test"] for g in groups.values()) == 398
    assert s["warnings"] and "tiny" in s["warnings"][0]
    # per-group numbers are plain conformal on that group's rows of the same split
    keep = [i for i in range(400) if i not in (0, 1)]
    sub = t.take(pa.array(keep))
    perm = np.random.default_rng(2).permutation(398)
    cal = np.zeros(398, bool)
    cal[perm[:199]] = True
    gv = np.array(sub.column("g").to_pylist())
    r = np.abs(np.array(sub.column("yb").to_pylist()) - np.array(sub.column("p").to_pylist()))
    for g in ["x", "y"]:
        sel = r[cal & (gv == g)]
        assert groups[g]["q_bench"] == split_conformal_quantile_oracle(sel, "0.1")
        test = r[~cal & (gv == g)]
        assert groups[g]["benchmark_coverage"] == pytest.approx(np.mean(test <= groups[g]["q_bench"]), abs=1e-15)


# -- CLI ----------------------------------------------------------------------------------------


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def scores(tmp_path):
    t = channel_table(200, seed=4)
    t = t.append_column("name", pa.array([f"r{i}" for i in range(200)]))
    p = tmp_path / "scores.parquet"
    pq.write_table(t, p)
    return str(p), t


def test_cli_json_matches_api(runner, scores):
    path, t = scores
    res = runner.invoke(main, ["channels", path, "--pred", "p", "--bench-label", "yb", "--deploy-label", "yd",
                               "--alpha", "0.1", "--seed", "3", "--calib-fraction", "0.4", "--format", "json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    api = check_channels(t, "p", "yb", "yd", alpha=0.1, seed=3, calib_fraction=0.4)
    assert s["metrics"] == api["metrics"]
    assert s["parameters"] == {"pred": "p", "deploy_pred": "p", "bench_label": "yb", "deploy_label": "yd",
                               "alpha": 0.1, "group_by": None, "calib_fraction": 0.4, "seed": 3,
                               "quantile": api["parameters"]["quantile"]}
    assert s["input"]["files"][0]["rows"] == 200 and s["dcb_fast_version"]


def test_cli_table_with_groups(runner, scores):
    path, _ = scores
    res = runner.invoke(main, ["channels", path, "-p", "p", "--bench-label", "yb", "--deploy-label", "yd",
                               "--group-by", "g"])
    assert res.exit_code == 0, res.output
    out = res.stdout
    for word in ["benchmark: calibrated on yb", "transfer:  same interval on yd", "oracle:", "Mondrian", "too small"]:
        assert word in out, word
    assert "warning: 1 group(s) have fewer than 19 calibration rows" in res.stderr
    quiet = runner.invoke(main, ["channels", path, "-p", "p", "--bench-label", "yb", "--deploy-label", "yd",
                                 "--group-by", "g", "-q"])
    assert quiet.stderr == ""


def expect_error(runner, args, message):
    res = runner.invoke(main, ["channels", *args])
    assert res.exit_code == 1, res.output
    assert res.output == f"Error: {message}\n"
    assert res.exception is None or isinstance(res.exception, SystemExit)


BASE = ["--pred", "p", "--bench-label", "yb", "--deploy-label", "yd"]


def test_cli_missing_column(runner, scores):
    path, _ = scores
    expect_error(runner, [path, "--pred", "p", "--bench-label", "yb", "--deploy-label", "y_live"],
                 f"{path} has no column 'y_live' (it has: p, yb, yd, pd, g, name)")
    expect_error(runner, [path, *BASE, "--group-by", "region"],
                 f"{path} has no column 'region' (it has: p, yb, yd, pd, g, name)")


def test_cli_non_numeric_column(runner, scores):
    path, _ = scores
    expect_error(runner, [path, "--pred", "name", "--bench-label", "yb", "--deploy-label", "yd"],
                 "column 'name' has type string; predictions and labels must be numeric: cast 'name' to a number")


def test_cli_alpha_and_fraction_out_of_range(runner, scores):
    path, _ = scores
    expect_error(runner, [path, *BASE, "--alpha", "1.5"],
                 "alpha must be in (0, 1), got 1.5; use e.g. 0.05 for 95% intervals")
    expect_error(runner, [path, *BASE, "--alpha", "0"],
                 "alpha must be in (0, 1), got 0.0; use e.g. 0.05 for 95% intervals")
    expect_error(runner, [path, *BASE, "--calib-fraction", "1"],
                 "calibration fraction must be in (0, 1), got 1.0; e.g. 0.5 for a 50/50 split")


def test_cli_too_few_rows(runner, tmp_path):
    p = tmp_path / "small.csv"
    p.write_text("p,yb,yd\n" + "".join(f"{i},{i + 0.5},{i - 1}\n" for i in range(30)))
    expect_error(runner, [str(p), *BASE],
                 "too few rows: 30 usable rows (0 dropped for nulls or NaN) give 15 calibration and 15 test rows; "
                 "alpha 0.05 needs at least 19 calibration rows and 1 test row: pass more rows, a different "
                 "--calib-fraction or a larger --alpha")
    res = runner.invoke(main, ["channels", str(p), *BASE, "--alpha", "0.1", "-f", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)["metrics"]["n_calibration"] == 15


def test_cli_same_column_twice(runner, scores):
    path, _ = scores
    expect_error(runner, [path, "--pred", "p", "--bench-label", "p", "--deploy-label", "yd"],
                 "column 'p' is both the prediction and the benchmark label; give a separate column for each")


def test_integer_groups_keep_their_type_and_order():
    t = channel_table(300, seed=6, groups=False)
    t = t.append_column("k", pa.array(np.resize([10, 2, 1], 300), pa.int32()))
    m = check_channels(t, "p", "yb", "yd", alpha=0.2, group_by="k")["metrics"]
    assert [g["group"] for g in m["groups"]] == [1, 2, 10]
    assert json.loads(json.dumps(m))["groups"][2]["group"] == 10
    with pytest.raises(DcbError, match=r"^the input table has no column 'K'; did you mean 'k'\?$"):
        check_channels(t, "p", "yb", "yd", group_by="K")


# -- the paper's quantile rule and least-squares fit (SPEC section 7) ---------------------------


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60), st.sampled_from(ALPHAS))
def test_linear_quantile_is_numpys_default_at_the_spec_level(scores, alpha):
    got = conformal_quantile(scores, float(alpha), method="linear")
    assert got == pytest.approx(paper_conformal_quantile_oracle(scores, float(alpha)), rel=1e-12, abs=1e-9)
    assert min(scores) <= got <= max(scores)
    y = np.zeros(len(scores))
    assert split_conformal(y, np.asarray(scores), float(alpha), "linear") == conformal_quantile(
        np.abs(scores), float(alpha), "linear")


def test_linear_quantile_hand_values():
    # n = 4, alpha = 0.5: level min(1, 0.5 * 5 / 4) = 0.625, position 3 * 0.625 = 1.875:
    # 2 + 0.875 * (4 - 2) = 3.75; the rank rule gives k = ceil(2.5) = 3, the 3rd smallest, 4
    assert conformal_quantile([1.0, 2.0, 4.0, 8.0], 0.5, method="linear") == 3.75
    assert conformal_quantile([1.0, 2.0, 4.0, 8.0], 0.5) == 4.0
    # level clipped to 1: the largest score
    assert conformal_quantile([1.0, 2.0, 4.0, 8.0], 0.05, method="linear") == 8.0
    with pytest.raises(DcbError, match="unknown conformal quantile method 'nearest'; use one of inverted_cdf, linear"):
        conformal_quantile([1.0], 0.1, method="nearest")


@given(st.integers(0, 2**32 - 1), st.booleans(), st.integers(1, 5))
def test_least_squares_matches_the_pseudo_inverse(seed, intercept, rank_):
    rng = np.random.default_rng(seed)
    # rank-deficient features, as x P_B in the channel experiment
    X = rng.normal(size=(30, rank_)) @ rng.normal(size=(rank_, 6))
    y = rng.normal(size=30) + 2.0
    Z = rng.normal(size=(7, 6))
    np.testing.assert_allclose(least_squares_predict(X, y, Z, intercept=intercept),
                               least_squares_oracle(X, y, Z, intercept), rtol=1e-7, atol=1e-8)


def test_least_squares_default_has_no_intercept_and_checks_input():
    # y = 1 + x: without an intercept the fit goes through the origin (slope by hand:
    # sum(x y) / sum(x^2) = (0 + 2 + 6) / (0 + 1 + 4) = 8/5 for x = 0, 1, 2)
    X, y = [[0.0], [1.0], [2.0]], [1.0, 2.0, 3.0]
    np.testing.assert_allclose(least_squares_predict(X, y, [[1.0]]), [8 / 5])
    np.testing.assert_allclose(least_squares_predict(X, y, [[1.0]], intercept=True), [2.0])
    with pytest.raises(DcbError, match=r"training features \(3 rows\) and labels \(2\) differ in length"):
        least_squares_predict(X, [1.0, 2.0], [[1.0]])
    with pytest.raises(DcbError, match="same columns"):
        least_squares_predict(X, y, [[1.0, 2.0]])
    with pytest.raises(DcbError, match="NaN or infinite"):
        least_squares_predict([[np.nan], [1.0], [2.0]], y, [[1.0]])
