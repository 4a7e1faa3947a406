"""The sweep agrees with one audit per model and rule, whatever way the models are given."""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast import audit, sweep
from dcb_fast.cli import main
from dcb_fast.errors import DcbError
from dcb_fast.tools.synth import predictions

RULES = ["quantile:5", "quantile:20", "knn:25", "knn:100", "window:0.05"]


@pytest.fixture(scope="module")
def preds():
    return predictions(rows_per_model=3000, models=3, seed=2)


def test_rows_equal_direct_audits(preds):
    r = sweep(preds, "pred", "stable", group_by="model", rules=RULES + ["window:mae", "window:q80"], error="error")
    rows = {(x["model"], x["rule"]): x for x in r.metrics["rows"]}
    for model in ("model_0", "model_1", "model_2"):
        part = preds.filter(pc.equal(preds["model"], model))
        for rule in RULES:
            m = audit(part, ["pred"], "stable", rules={"pred": rule}).metrics
            row = rows[(model, rule)]
            for k in ("certifiable_fraction", "ambiguous_fraction", "thin_fraction", "n_fibers", "n_mixed_fibers"):
                assert row[k] == m[k], (model, rule, k)
        mae = audit(part, ["pred"], "stable", rules={"pred": "window:mae:error"}).metrics
        assert rows[(model, "window:mae")]["certifiable_fraction"] == mae["certifiable_fraction"]
        assert rows[(model, "window:mae")]["tolerance"] == mae["window"]["tolerance"]
        q80 = audit(part, ["pred"], "stable", rules={"pred": "window:q80:error"}).metrics
        assert rows[(model, "window:q80")]["tolerance"] == q80["window"]["tolerance"]
    by = {x["rule"]: x for x in r.metrics["by_rule"]}
    cf = sorted(rows[(m, "knn:25")]["certifiable_fraction"] for m in ("model_0", "model_1", "model_2"))
    assert by["knn:25"]["median_certifiable"] == cf[1]


def test_per_file_equals_group_by(preds, tmp_path):
    for model in ("model_0", "model_1", "model_2"):
        pq.write_table(preds.filter(pc.equal(preds["model"], model)), tmp_path / f"{model}.parquet")
    a = sweep(str(tmp_path), "pred", "stable", per_file=True, rules=RULES)
    b = sweep(preds, "pred", "stable", group_by="model", rules=RULES)
    assert a.metrics["rows"] == b.metrics["rows"]


def test_default_rule_set(preds):
    r = sweep(preds, "pred", "stable", error="error")
    assert [x["rule"] for x in r.metrics["by_rule"]] == ["quantile:5", "quantile:10", "quantile:20", "quantile:40",
                                                         "knn:25", "knn:50", "knn:100", "window:mae", "window:q80"]
    assert r.metrics["models"] == 1


def test_errors(preds):
    with pytest.raises(DcbError, match="rule window:mae needs an error column"):
        sweep(preds, "pred", "stable", rules=["window:mae"])
    with pytest.raises(DcbError, match="not both"):
        sweep(preds, "pred", "stable", group_by="model", per_file=True)
    with pytest.raises(DcbError, match="window and knn rules need a numeric column, but 'model' is string"):
        sweep(preds, "model", "stable", rules=["knn:5"])


def test_cli(preds, tmp_path):
    p = tmp_path / "p.parquet"
    pq.write_table(preds, p)
    res = CliRunner().invoke(main, ["sweep", str(p), "-e", "pred", "-a", "stable", "--error", "error",
                                    "--group-by", "model", "-o", str(tmp_path / "out"), "-f", "json", "-q"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["kind"] == "sweep" and s["metrics"]["models"] == 3 and len(s["metrics"]["rows"]) == 27
    assert pq.read_table(tmp_path / "out" / "sweep.parquet").num_rows == 27
    res = CliRunner().invoke(main, ["sweep", str(p), "-e", "pred", "-a", "stable", "--group-by", "model"])
    assert "median cert." in res.output and "knn:25" in res.output
