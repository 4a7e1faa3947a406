"""Regressions of issue 14, items 6-8: coverage totals (SPEC 4), costed completion on a falling
curve (SPEC 5), and all-zero weights. Every expected value is a hand computation (shown) or the
oracle of tests/reference.py, written from the SPEC."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast import audit, certify, complete, coverage
from dcb_fast.cli import main
from dcb_fast.errors import DcbError

from .reference import coverage_oracle, greedy_completion_oracle

# --- item 6: the global majority is the heaviest calibration action --------------------------------
# calibration: fiber x = {a: 3, c: 2}, fiber y = {b: 3, c: 2}. Fiber majorities: a, b. Totals:
# a 3, b 3, c 4: the global majority is c, an action that wins no fiber.
CAL = {"e": ["x", "x", "y", "y"], "d": ["a", "c", "b", "c"], "w": [3.0, 2.0, 3.0, 2.0]}
# production, weight 1 each: (x, true c), (y, true b), (u unseen, true c), (x, true a)
PROD = {"e": ["x", "y", "u", "x"], "d": ["c", "b", "c", "a"]}


def test_global_majority_that_wins_no_fiber():
    cert = certify(pa.table(CAL), ["e"], "d", weight="w")
    assert cert.meta["global_majority"] == "c"
    m = coverage(cert, pa.table(PROD), action="d").metrics
    # global majority c: wrong on (y, b) and (x, a): 2 of 4
    # fiber majority: x -> a wrong on (x, c); y -> b right; u unseen -> c right; (x, a) right: 1 of 4
    # certificate: nothing certified (x and y are mixed): 0
    assert m["false_decisions"] == {"certificate": 0.0, "fiber_majority": 0.25, "global_majority": 0.5,
                                    "certify_then_acquire": 0.0}
    assert m["acquisitions"] == 1.0 and m["labelled_fraction"] == 1.0
    want = coverage_oracle(pa.table(CAL).to_pylist(), pa.table(PROD).to_pylist(), ["e"], "d", cal_weight="w",
                           prod_action="d")
    assert want["false_decisions"] == m["false_decisions"]


def test_global_majority_absent_from_production_is_wrong_everywhere():
    cert = certify(pa.table(CAL), ["e"], "d", weight="w")
    m = coverage(cert, pa.table({"e": ["x", "y"], "d": ["a", "b"]}), action="d").metrics
    assert m["false_decisions"]["global_majority"] == 1.0  # c is the true action of no row
    assert m["false_decisions"]["fiber_majority"] == 0.0


# --- item 6: null evidence is unseen traffic, never dropped ---------------------------------------
# production weights: one row with null evidence, weight 80; x (certified) 9; y (mixed) 9; z
# (never in calibration) 2. Total 100: benchmark coverage 18/100, not 18/20.
NULL_CAL = {"e": ["x", "x", "y", "y"], "f": [1, 1, 1, 1], "d": ["a", "a", "a", "b"]}
NULL_PROD = {"e": [None, "x", "y", "z"], "f": [1, 1, 1, 1], "w": [80.0, 9.0, 9.0, 2.0], "d": ["a", "b", "a", "a"]}


def test_null_evidence_is_unseen_traffic():
    cert = certify(pa.table(NULL_CAL), ["e", "f"], "d")
    m = coverage(cert, pa.table(NULL_PROD), weight="w", action="d").metrics
    assert m["benchmark_coverage"] == 0.18
    assert (m["certified_coverage"], m["ambiguous_coverage"], m["thin_coverage"]) == (0.09, 0.09, 0.0)
    assert m["unseen_fraction"] == 0.82 and m["null_evidence_fraction"] == 0.8
    assert m["dropped_rows"] == 0 and m["n_rows"] == 4 and m["total_weight"] == 100.0
    # acting on the certificate: x certified a, true b: 9 of 100; fiber majority: x -> a wrong (9),
    # y -> a right, z and the null row -> the global majority a, right: 9 of 100
    assert m["false_decisions"]["certificate"] == 0.09 and m["false_decisions"]["fiber_majority"] == 0.09
    assert m["acquisitions"] == 0.91
    want = coverage_oracle(pa.table(NULL_CAL).to_pylist(), pa.table(NULL_PROD).to_pylist(), ["e", "f"], "d",
                           weight="w", prod_action="d")
    for k, v in want.items():
        assert m[k] == v, k


def test_one_null_among_several_evidence_values_and_nan():
    cal = pa.table({"e": ["x", "x"], "s": [0.5, 0.5], "d": [1, 1]})
    prod = pa.table({"e": ["x", "x", None, "x"], "s": [0.5, None, 0.5, float("nan")]})
    m = coverage(certify(cal, ["e", "s"], "d"), prod).metrics
    assert m["certified_coverage"] == 0.25 and m["unseen_fraction"] == 0.75 and m["null_evidence_fraction"] == 0.75
    assert [r["class"] for r in m["top_uncovered"]] == ["unseen"] * 2  # (x, null) and (null, 0.5)


def test_unlabelled_rows_are_traffic_but_no_false_decision():
    cal = pa.table({"e": ["x", "y"], "d": ["a", "b"]})
    prod = pa.table({"e": ["x", "x", "y", "y"], "d": ["a", None, "a", None], "w": [1.0, 3.0, 1.0, 5.0]})
    m = coverage(certify(cal, ["e"], "d"), prod, weight="w", action="d").metrics
    assert m["certified_coverage"] == 1.0 and m["total_weight"] == 10.0 and m["dropped_rows"] == 0
    # labelled: (x, a) 1 right, (y, a) 1 wrong (y is certified b): 1 of 2 labelled
    assert m["false_decisions"]["certificate"] == 0.5 and m["labelled_fraction"] == 0.2
    assert m["error_among_certified"] == 0.5 and m["acquisitions"] == 0.0
    with pytest.raises(DcbError, match=r"^action column 'd' is null on every production row"):
        coverage(certify(cal, ["e"], "d"), pa.table({"e": ["x"], "d": pa.array([None], pa.string())}), action="d")


def test_null_weight_rows_are_the_only_drops():
    cal = pa.table({"e": ["x"], "d": ["a"]})
    prod = pa.table({"e": ["x", None, "x"], "w": [1.0, 1.0, None]})
    m = coverage(certify(cal, ["e"], "d"), prod, weight="w").metrics
    assert (m["n_rows"], m["dropped_rows"], m["certified_coverage"], m["unseen_fraction"]) == (2, 1, 0.5, 0.5)


def test_by_column_keeps_null_groups():
    cal = pa.table({"e": ["x"], "d": ["a"]})
    prod = pa.table({"e": ["x", None, "x"], "day": [1, 1, None]})
    m = coverage(certify(cal, ["e"], "d"), prod, by="day").metrics
    assert [(r["value"], r["certified_coverage"], r["unseen_fraction"]) for r in m["by"]] == [(1, 0.5, 0.5),
                                                                                             (None, 1.0, 0.0)]


def test_cli_coverage_reports_null_evidence(tmp_path):
    cert = str(tmp_path / "c.arrow")
    certify(pa.table(NULL_CAL), ["e", "f"], "d").save(cert)
    pq.write_table(pa.table(NULL_PROD), tmp_path / "p.parquet")
    res = CliRunner().invoke(main, ["coverage", cert, str(tmp_path / "p.parquet"), "-w", "w", "-f", "json"])
    assert res.exit_code == 0, res.output
    m = json.loads(res.stdout)["metrics"]
    assert (m["benchmark_coverage"], m["null_evidence_fraction"]) == (0.18, 0.8)
    res = CliRunner().invoke(main, ["coverage", cert, str(tmp_path / "p.parquet"), "-w", "w"])
    assert "unseen               82.00%   (80.00% with a null evidence value)" in res.output


# --- item 7: costed completion on a falling curve ---------------------------------------------------
# 4 rows, action a, one evidence fiber (certified, 1.0 with min support 2). Probe p = [0,0,1,2]
# leaves one fiber of 2 rows: 0.5 (gain -0.5), cost 10; q = [0,0,0,1] leaves 3 rows: 0.75 (gain
# -0.25), cost 1. SPEC 5: no probe gains, so the largest gain: q. Then p on top of q: 0.5.
FALLING = {"e": [0, 0, 0, 0], "p": [0, 0, 1, 2], "q": [0, 0, 0, 1], "d": ["a"] * 4}


def test_falling_curve_with_costs_picks_the_smallest_loss():
    r = complete(pa.table(FALLING), ["e"], "d", ["p", "q"], min_support=2, costs={"p": 10, "q": 1})
    curve = [(s["probe"], s["certifiable_fraction"], s["cost"]) for s in r.metrics["curve"]]
    assert curve == [(None, 1.0, 0.0), ("q", 0.75, 1.0), ("p", 0.5, 11.0)]
    assert r.metrics["recommended_probe"] == "q" and r.metrics["curve_falls_at"] == [1, 2]
    want = greedy_completion_oracle(pa.table(FALLING).to_pylist(), ["e"], "d", ["p", "q"], min_support=2,
                                    costs={"p": 10, "q": 1})
    assert want == [(None, 1.0), ("q", 0.75), ("p", 0.5)]


def test_flat_curve_with_costs_picks_the_cheaper_probe():
    # neither probe changes the fibers (gain 0 for both): lower cost first, not the lexical name
    t = pa.table({"e": [0, 0, 1, 1], "a_probe": [0, 0, 0, 0], "b_probe": [1, 1, 1, 1], "d": ["a", "b", "a", "a"]})
    r = complete(t, ["e"], "d", ["a_probe", "b_probe"], costs={"a_probe": 5, "b_probe": 1})
    assert [s["probe"] for s in r.metrics["curve"]] == [None, "b_probe", "a_probe"]


def test_gain_per_cost_among_gaining_probes():
    # p certifies 2 of 6 rows for cost 4 (0.5 per unit), q 1 row for cost 1 (1 per unit): q first
    t = pa.table({"e": [0] * 6, "p": [0, 0, 1, 1, 1, 1], "q": [0, 1, 1, 1, 1, 1],
                  "d": ["a", "a", "a", "b", "a", "b"]})
    r = complete(t, ["e"], "d", ["p", "q"], costs={"p": 4, "q": 1})
    assert [s["probe"] for s in r.metrics["curve"]][:2] == [None, "q"]
    assert greedy_completion_oracle(t.to_pylist(), ["e"], "d", ["p", "q"], costs={"p": 4, "q": 1})[1][0] == "q"


# --- item 8: a total weight of zero is an error naming the column ----------------------------------
ZERO = {"e": ["x", "x", "y"], "p": [0, 1, 0], "d": ["a", "b", "a"], "w": [0.0, 0.0, 0.0]}
ZERO_MSG = (r"^weight column 'w' sums to 0 over the 3 rows kept: fractions of zero weight are undefined; "
            r"give some rows a positive weight, or drop the weight column to count rows$")


def test_zero_weight_audit_certify_complete_sweep():
    t = pa.table(ZERO)
    with pytest.raises(DcbError, match=ZERO_MSG):
        audit(t, ["e"], "d", weight="w")
    with pytest.raises(DcbError, match=ZERO_MSG):
        certify(t, ["e"], "d", weight="w")
    with pytest.raises(DcbError, match=ZERO_MSG):
        complete(t, ["e"], "d", ["p"], weight="w")
    with pytest.raises(DcbError, match=ZERO_MSG):
        audit(t, ["p"], "d", weight="w", rules={"p": "knn:2"})
    from dcb_fast import sweep

    with pytest.raises(DcbError, match=ZERO_MSG):
        sweep(t, "p", "d", weight="w", rules=["knn:2"])
    # integer weights take their own path
    with pytest.raises(DcbError, match=ZERO_MSG):
        audit(t.set_column(3, "w", pa.array([0, 0, 0], pa.int32())), ["e"], "d", weight="w")


def test_zero_weight_coverage():
    cert = certify(pa.table(ZERO).drop(["w"]), ["e"], "d")
    with pytest.raises(DcbError, match=ZERO_MSG.replace("rows kept", "production rows kept")):
        coverage(cert, pa.table(ZERO), weight="w")


def test_zero_weight_completion_holdout():
    t = pa.table({"e": [0, 1, 0, 1], "p": [0, 0, 1, 1], "d": ["a", "b", "a", "b"], "w": [0.0] * 4})
    with pytest.raises(DcbError, match=r"weight column 'w' sums to 0"):
        complete(t, ["e"], "d", ["p"], weight="w", holdout=0.5)


def test_cli_audit_zero_weight_one_line(tmp_path):
    pq.write_table(pa.table(ZERO), tmp_path / "z.parquet")
    res = CliRunner().invoke(main, ["audit", str(tmp_path / "z.parquet"), "-e", "e", "-a", "d", "-w", "w"])
    assert res.exit_code == 1
    assert res.output == ("Error: weight column 'w' sums to 0 over the 3 rows kept: fractions of zero weight are "
                          "undefined; give some rows a positive weight, or drop the weight column to count rows\n")


def test_zero_weight_model_in_a_sweep_is_named():
    from dcb_fast import sweep

    t = pa.table({"v": [0.1, 0.2, 0.3, 0.4], "d": ["a", "b", "a", "b"], "w": [1.0, 2.0, 0.0, 0.0],
                  "model": ["m0", "m0", "m1", "m1"]})
    with pytest.raises(DcbError, match=r"^model m1: weight column 'w' sums to 0 over the 2 rows kept"):
        sweep(t, "v", "d", weight="w", group_by="model", rules=["knn:2"])
