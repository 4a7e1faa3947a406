"""``--by COL`` on audit (issue 18, item 3): per value, the figures of the audit of that slice
alone (oracle), rows and weights that add up to the total, the whole audit unchanged, from
one pass on every engine."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from dcb_fast import audit
from dcb_fast.cli import main
from dcb_fast.errors import DcbError

from .reference import audit_oracle, compare_metrics

# day 1: en a, a; fr a, a (all certified); day 2: en b (certified), de a (certified).
# The whole log: en holds a and b (3 of 6 rows ambiguous).
T = pa.table({"lang": ["en", "en", "fr", "fr", "en", "de"], "day": [1, 2, 1, 1, 1, 2],
              "route": ["a", "b", "a", "a", "a", "a"], "w": [1.0, 2.0, 1.0, 1.0, 1.0, 3.0]})


def test_hand_computed_slices_and_the_total():
    r = audit(T, ["lang"], "route", weight="w", by="day")
    m = r.metrics
    assert m["certifiable_fraction"] == 5 / 9  # en (weight 1 + 2 + 1) is mixed: 4 of 9 ambiguous
    by = {s["value"]: s for s in m["by"]}
    assert list(by) == [1, 2]
    assert (by[1]["n_rows"], by[1]["total_weight"], by[1]["certifiable_fraction"]) == (4, 4.0, 1.0)
    assert (by[2]["n_rows"], by[2]["total_weight"], by[2]["certifiable_fraction"]) == (2, 5.0, 1.0)
    assert by[1]["n_fibers"] == 2 and by[2]["n_mixed_fibers"] == 0
    # slices add up to the total
    assert sum(s["n_rows"] for s in m["by"]) == m["n_rows"]
    assert sum(s["total_weight"] for s in m["by"]) == m["total_weight"]
    # and the whole audit is the audit without --by
    plain = audit(T, ["lang"], "route", weight="w")
    assert {k: v for k, v in m.items() if k != "by"} == plain.metrics
    assert r.fibers.equals(plain.fibers)


rows = st.lists(st.tuples(st.sampled_from(["x", "y"]), st.sampled_from([0, 1, 2]), st.sampled_from("ab"),
                          st.integers(1, 4)), min_size=1, max_size=40)


@settings(max_examples=30, deadline=None)
@given(rows, st.integers(1, 3))
def test_each_slice_is_the_audit_of_that_slice(data, s):
    t = pa.table({"k": [r[0] for r in data], "day": [r[1] for r in data], "act": [r[2] for r in data],
                  "w": [float(r[3]) for r in data]})
    m = audit(t, ["k"], "act", weight="w", min_support=s, by="day").metrics
    total_rows = 0
    for sl in m["by"]:
        sub = [r for r in t.to_pylist() if r["day"] == sl["value"]]
        want = audit_oracle(sub, ["k"], "act", "w", min_support=s)
        for key in ("certifiable_fraction", "ambiguous_fraction", "thin_fraction", "decision_risk", "n_fibers",
                    "n_mixed_fibers", "n_rows"):
            assert sl[key] == want[key], key
        total_rows += sl["n_rows"]
    assert total_rows == m["n_rows"]
    compare_metrics({k: v for k, v in m.items() if k not in ("by",)}, audit_oracle(t.to_pylist(), ["k"], "act", "w",
                                                                                  min_support=s))


def test_engines_and_cli(tmp_path):
    p = tmp_path / "t.parquet"
    pq.write_table(T, p)
    local = audit(str(p), ["lang"], "route", weight="w", by="day")
    ck = audit(str(p), ["lang"], "route", weight="w", by="day", checkpoint=str(tmp_path / "ck"))
    assert ck.metrics == local.metrics
    res = CliRunner().invoke(main, ["audit", str(p), "-e", "lang", "-a", "route", "-w", "w", "--by", "day", "-q",
                                    "-f", "json", "-o", str(tmp_path / "o")])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["metrics"]["by"] == local.metrics["by"]
    assert pq.read_table(tmp_path / "o" / "audit_by.parquet").column("day").to_pylist() == [1, 2]
    text = CliRunner().invoke(main, ["audit", str(p), "-e", "lang", "-a", "route", "--by", "day"]).stdout
    assert "by day:" in text


def test_by_column_cannot_have_another_role():
    with pytest.raises(DcbError, match="by column 'lang' is also an evidence"):
        audit(T, ["lang"], "route", by="lang")


def test_audit_summary_with_slices_and_tolerance_validates():
    from .report_helpers import validator

    r = audit(T, ["lang"], "route", weight="w", by="day", max_minority=0.5)
    validator().validate(json.loads(json.dumps(r.summary)))
    assert r.summary["parameters"]["by"] == "day" and r.summary["parameters"]["max_minority"] == 0.5


@settings(max_examples=25, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0, 1]), st.sampled_from([0, 1, 2]), st.sampled_from(["u", "v"]),
                          st.sampled_from("ab"), st.sampled_from([1, 2]), st.integers(1, 3)), min_size=1, max_size=40),
       st.integers(1, 2))
def test_complete_by_slices_match_the_audit_of_each_slice(data, s):
    from dcb_fast import complete

    t = pa.table({"e": [r[0] for r in data], "p": [r[1] for r in data], "q": [r[2] for r in data],
                  "act": [r[3] for r in data], "day": [r[4] for r in data], "w": [float(r[5]) for r in data]})
    got = complete(t, ["e"], "act", ["p", "q"], weight="w", min_support=s, by="day")
    plain = complete(t, ["e"], "act", ["p", "q"], weight="w", min_support=s)
    strip = [{k: v for k, v in st_.items() if k != "by"} for st_ in got.metrics["curve"]]
    assert strip == plain.metrics["curve"]  # slicing changes nothing of the curve
    rows = t.to_pylist()
    for step in got.metrics["curve"]:
        cols = ["e"] + [c["probe"] for c in got.metrics["curve"][1: step["step"] + 1]]
        assert [r["value"] for r in step["by"]] == sorted({r["day"] for r in rows})
        for sl in step["by"]:
            want = audit_oracle([r for r in rows if r["day"] == sl["value"]], cols, "act", "w", min_support=s)
            for key in ("certifiable_fraction", "ambiguous_fraction", "thin_fraction", "n_rows"):
                assert sl[key] == want[key], (step["step"], key)
        assert sum(sl["n_rows"] for sl in step["by"]) == len(rows)


def test_complete_by_cli_and_errors(tmp_path):
    p = tmp_path / "t.parquet"
    pq.write_table(pa.table({"e": [0, 0, 0, 0, 1, 1, 1, 1], "p": [0, 0, 1, 1, 0, 1, 0, 1],
                             "d": ["a", "a", "b", "b", "a", "a", "b", "a"], "day": [1, 2, 1, 2, 1, 1, 2, 2]}), p)
    res = CliRunner().invoke(main, ["complete", str(p), "-e", "e", "-a", "d", "-p", "p", "--by", "day", "-q",
                                    "-f", "json"])
    assert res.exit_code == 0, res.output
    curve = json.loads(res.stdout)["metrics"]["curve"]
    # step 0: day 1 holds e=0 {a, b} and e=1 {a, a}: half certified; day 2: both fibers mixed
    assert [r["certifiable_fraction"] for r in curve[0]["by"]] == [0.5, 0.0]
    assert [r["certifiable_fraction"] for r in curve[1]["by"]] == [1.0, 1.0]
    text = CliRunner().invoke(main, ["complete", str(p), "-e", "e", "-a", "d", "-p", "p", "--by", "day"]).stdout
    assert "certified by day" in text
    from dcb_fast import complete

    with pytest.raises(DcbError, match="by column 'p' is also an evidence, probe"):
        complete(str(p), ["e"], "d", ["p"], by="p")
    with pytest.raises(DcbError, match="--by and --holdout together are not supported"):
        complete(str(p), ["e"], "d", ["p"], by="day", holdout=0.5)
