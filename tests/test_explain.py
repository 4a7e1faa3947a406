"""``dcb explain``: information gain against a hand computation and the oracle, a planted
separating column found among noise, id-like columns skipped, the CLI, report and engines."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast.cli import main
from dcb_fast.errors import DcbError
from dcb_fast.methods.explain import explain

from .reference import entropy_bits_oracle as H, information_gain_oracle

# the mixed fiber (en): v=1: a, a (w 1, 1); v=2: b, b, a (w 1, 1, 2); u is noise; fr is pure
SMALL = pa.table({"lang": ["en"] * 5 + ["fr"] * 2, "v": [1, 1, 2, 2, 2, 1, 1], "u": ["p", "q", "p", "q", "p", "p", "p"],
                  "route": ["a", "a", "b", "b", "a", "a", "a"], "w": [1.0, 1, 1, 1, 2, 1, 1]})


def test_information_gain_hand_computed():
    r = explain(SMALL, ["lang"], "route", weight="w")
    f = r.metrics["fibers"][0]
    assert f["key"] == {"lang": "en"} and f["rows"] == 5 and f["weight"] == 6.0
    assert f["entropy"] == pytest.approx(H(4 / 6, 2 / 6), abs=1e-12)
    # v: v=1 (weight 2) pure, v=2 (weight 4) half a, half b: IG = H(2/3, 1/3) - 4/6
    assert f["best"]["column"] == "v"
    assert f["best"]["information_gain"] == pytest.approx(H(2 / 3, 1 / 3) - 4 / 6, abs=1e-12)
    # u: u=p (weight 4: a 3, b 1), u=q (weight 2: a 1, b 1)
    u = next(c for c in f["candidates"] if c["column"] == "u")
    assert u["information_gain"] == pytest.approx(H(2 / 3, 1 / 3) - (4 / 6 * H(3 / 4, 1 / 4) + 2 / 6 * 1.0), abs=1e-12)
    rows = [r for r in SMALL.to_pylist() if r["lang"] == "en"]
    for c in f["candidates"]:
        assert c["information_gain"] == pytest.approx(information_gain_oracle(rows, c["column"], "route", "w"),
                                                      abs=1e-12)
    assert f["best"]["split"] == [{"value": 2, "weight": 4.0, "rows": 3, "actions": {"a": 2.0, "b": 2.0}},
                                  {"value": 1, "weight": 2.0, "rows": 2, "actions": {"a": 2.0}}]
    assert f["examples"] == {"a": [0, 1, 4], "b": [2, 3]} and f["examples_by"] == "row"
    assert r.metrics["n_mixed_fibers"] == 1


def planted(n=3000, seed=3):
    rng = np.random.default_rng(seed)
    lang = rng.choice(["en", "fr", "de"], n)
    domain = rng.choice(["web", "app"], n)
    version = rng.choice(["m1", "m2"], n)
    noise = {f"n{i}": rng.choice(["x", "y", "z"], n) for i in range(4)}
    # in (en, web) and (fr, app) the route is the model version's; elsewhere it is fixed
    route = np.where((lang == "en") & (domain == "web"), np.where(version == "m1", "a", "b"),
                     np.where((lang == "fr") & (domain == "app"), np.where(version == "m1", "c", "a"), "a"))
    return pa.table({"lang": lang, "domain": domain, "model_version": version, **noise, "route": route,
                     "rid": [f"r{i}" for i in range(n)], "ts": np.arange(n, dtype=np.int64)})


def test_planted_separating_column_is_found_among_noise():
    r = explain(planted(), ["lang", "domain"], "route", id="rid")
    m = r.metrics
    assert m["n_mixed_fibers"] == 2 and m["n_explained"] == 2
    for f in m["fibers"]:
        assert f["best"]["column"] == "model_version"
        assert f["best"]["gain_fraction"] == pytest.approx(1.0, abs=1e-12)  # it separates the fiber fully
        assert all(len(s["actions"]) == 1 for s in f["best"]["split"])
        assert all(ids[0].startswith("r") for ids in f["examples"].values())
    assert {tuple(f["key"].values()) for f in m["fibers"]} == {("en", "web"), ("fr", "app")}
    # the timestamp differs on every row: an id-like column, never ranked
    assert all(c["column"] != "ts" for f in m["fibers"] for c in f["candidates"])
    only_noise = explain(planted(), ["lang", "domain"], "route", probes=["n0", "n1"])
    assert {c["column"] for c in only_noise.metrics["fibers"][0]["candidates"]} == {"n0", "n1"}


def test_bad_probes_are_refused():
    with pytest.raises(DcbError, match="probe 'colour' is not a column of the input"):
        explain(SMALL, ["lang"], "route", probes=["colour"])
    with pytest.raises(DcbError, match="probe 'lang' is also an evidence"):
        explain(SMALL, ["lang"], "route", probes=["lang"])


def test_cli_report_and_checkpoint_engine(tmp_path):
    p = tmp_path / "log.parquet"
    pq.write_table(planted(), p)
    args = ["explain", str(p), "-e", "lang,domain", "-a", "route", "--id", "rid", "-q"]
    r = CliRunner()
    res = r.invoke(main, args + ["-f", "json", "-o", str(tmp_path / "o"), "--report", str(tmp_path / "e.html")])
    assert res.exit_code == 0, res.output
    plain = json.loads(res.stdout)
    assert plain["metrics"]["fibers"][0]["best"]["column"] == "model_version"
    assert pq.read_table(tmp_path / "o" / "explain_columns.parquet").num_rows > 0
    html = (tmp_path / "e.html").read_text()
    assert "split by model_version" in html and "Not shown" not in html
    res = r.invoke(main, args + ["-f", "json", "--checkpoint", str(tmp_path / "ck")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["metrics"] == plain["metrics"]
    text = r.invoke(main, args).stdout
    assert "best column model_version: information gain" in text and "bits (100%)" in text


def test_summary_validates_against_the_schema():
    from .report_helpers import validator

    validator().validate(json.loads(json.dumps(explain(SMALL, ["lang"], "route").summary)))


@pytest.mark.parametrize("args", [["explain", "MISSING", "-e", "a", "-a", "b"], ["diff", "MISSING", "MISSING"]])
def test_out_is_checked_before_reading(tmp_path, args):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.parquet").write_bytes(b"x")
    args = [a.replace("MISSING", str(tmp_path / "missing")) for a in args]
    res = CliRunner().invoke(main, args + ["-o", str(mine)])
    assert res.exit_code == 1
    assert res.output.startswith(f"Error: output directory '{mine}' holds 'data.parquet' and no dcb summary.json")
    assert os.listdir(mine) == ["data.parquet"]


def test_explain_single_value_option_twice_is_an_error(tmp_path):
    res = CliRunner().invoke(main, ["explain", "x.parquet", "-e", "a", "-a", "b", "-a", "c"])
    assert res.exit_code == 2 and "is given more than once" in res.output
