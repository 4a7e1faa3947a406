"""``dcb diff``: two constructed periods with known flips (hand-computed), the oracle of
tests/reference.py on random periods, certificates and audit directories alike, the CLI, its
gate and its report."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcb_fast import audit, certify
from dcb_fast.cli import main
from dcb_fast.methods.diff import diff
from dcb_fast.errors import DcbError

from .reference import diff_oracle, verdicts_oracle

EV = ["lang", "tier"]


def period(rows):
    return pa.table({"lang": [r[0] for r in rows], "tier": pa.array([r[1] for r in rows], pa.int32()),
                     "route": [r[2] for r in rows], "w": [float(r[3]) for r in rows]})


# OLD with min support 2: (en,1) certified a, w 2; (en,2) ambiguous, w 3; (fr,1) certified b, w 2;
# (fr,2) thin, w 1; (de,1) certified a, w 4; (es,1) certified a, w 2.  Total 14, certified 10.
OLD = period([("en", 1, "a", 1), ("en", 1, "a", 1), ("en", 2, "a", 2), ("en", 2, "b", 1), ("fr", 1, "b", 1),
              ("fr", 1, "b", 1), ("fr", 2, "a", 1), ("de", 1, "a", 2), ("de", 1, "a", 2), ("es", 1, "a", 1),
              ("es", 1, "a", 1)])
# NEW: (en,1) ambiguous w 2 (lost); (en,2) certified a w 4 (gained); (fr,1) certified a w 2 (action
# changed b -> a); (fr,2) thin w 1 (still uncertified); (ja,1) certified b w 6 (new key); (es,1)
# certified a w 2 (still certified); (de,1) is gone.  Total 17, certified 14.
NEW = period([("en", 1, "a", 1), ("en", 1, "b", 1), ("en", 2, "a", 2), ("en", 2, "a", 2), ("fr", 1, "a", 1),
              ("fr", 1, "a", 1), ("fr", 2, "a", 1), ("ja", 1, "b", 3), ("ja", 1, "b", 3), ("es", 1, "a", 1),
              ("es", 1, "a", 1)])

HAND = {
    "certified_old": 10 / 14, "certified_new": 14 / 17, "certified_shift": 14 / 17 - 10 / 14,
    "old_certificate_coverage": 6 / 17, "covered_new": 11 / 17, "new_key_weight": 6 / 17,
    "gone_key_weight": 4 / 14, "lost_certified_weight": 2 / 17, "gained_certified_weight": 4 / 17,
    "changed_action_weight": 2 / 17, "retained_certified": 2 / 10,
}
HAND_CHANGES = {"lost": (1, 2 / 14, 2 / 17), "gained": (1, 3 / 14, 4 / 17), "action_changed": (1, 2 / 14, 2 / 17),
                "new_key": (1, 0.0, 6 / 17), "gone_key": (1, 4 / 14, 0.0), "still_certified": (1, 2 / 14, 2 / 17),
                "still_uncertified": (1, 1 / 14, 1 / 17)}


def check_hand(m):
    for k, v in HAND.items():
        assert m[k] == pytest.approx(v, abs=1e-15), k
    for k, (n, wo, wn) in HAND_CHANGES.items():
        assert m["changes"][k]["fibers"] == n, k
        assert m["changes"][k]["weight_old"] == pytest.approx(wo, abs=1e-15), k
        assert m["changes"][k]["weight_new"] == pytest.approx(wn, abs=1e-15), k


def test_two_constructed_periods_certificates():
    d = diff(certify(OLD, EV, "route", weight="w", min_support=2), certify(NEW, EV, "route", weight="w", min_support=2))
    check_hand(d.metrics)
    ch = {(r["lang"], r["tier"]): r for r in d.changes.to_pylist()}
    assert ch[("fr", 1)]["change"] == "action_changed"
    assert (ch[("fr", 1)]["action_old"], ch[("fr", 1)]["action_new"]) == ("b", "a")
    assert ch[("en", 1)]["change"] == "lost" and ch[("en", 1)]["class_new"] == "ambiguous"
    assert ch[("ja", 1)]["change"] == "new_key" and ch[("ja", 1)]["rows_old"] is None
    assert ch[("de", 1)]["change"] == "gone_key" and ch[("de", 1)]["weight_new"] is None
    # heaviest first by NEW weight: ja (6), en/2 (4), ...; the gone key (no NEW weight) last
    assert d.changes["lang"][0].as_py() == "ja" and d.changes["lang"][-1].as_py() == "de"
    assert d.metrics["top_changes"]["lost"][0]["lang"] == "en"


def test_audit_results_and_directories_agree_with_certificates(tmp_path):
    a_old = audit(OLD, EV, "route", weight="w", min_support=2)
    a_new = audit(NEW, EV, "route", weight="w", min_support=2)
    check_hand(diff(a_old, a_new).metrics)
    a_old.write(str(tmp_path / "old"), cases=False)
    a_new.write(str(tmp_path / "new"), fiber_format="csv", cases=False)
    check_hand(diff(str(tmp_path / "old"), str(tmp_path / "new")).metrics)
    cert = str(tmp_path / "new.arrow")
    certify(NEW, EV, "route", weight="w", min_support=2).save(cert)
    check_hand(diff(str(tmp_path / "old"), cert).metrics)


def test_checkpointed_audit_gives_the_same_diff(tmp_path):
    pq.write_table(OLD, tmp_path / "old.parquet")
    a_old = audit(str(tmp_path / "old.parquet"), EV, "route", weight="w", min_support=2, checkpoint=str(tmp_path / "ck"))
    assert a_old.run_info["checkpoint"] is not None
    check_hand(diff(a_old, audit(NEW, EV, "route", weight="w", min_support=2)).metrics)


def test_binned_column_matches_by_bin_and_null_keys_match():
    old = pa.table({"score": [0.1, 0.4, 0.6, 0.7, None, None], "route": ["a", "a", "b", "a", "c", "c"]})
    new = pa.table({"score": [0.2, 0.3, 0.55, 0.9, None, 1.2], "route": ["a", "b", "b", "b", "c", "a"]})
    kw = dict(rules={"score": "width:0.5"}, nulls="value")
    d = diff(certify(old, ["score"], "route", **kw), audit(new, ["score"], "route", **kw))
    ch = {r["score"]: r["change"] for r in d.changes.to_pylist()}
    # bins [0, 0.5): a,a -> a,b (lost); [0.5, 1): b,a -> b,b (gained); null: c,c -> c (still certified);
    # [1, 1.5): new
    assert ch == {"[0, 0.5)": "lost", "[0.5, 1)": "gained", None: "still_certified", "[1, 1.5)": "new_key"}


def test_incompatible_periods_are_refused():
    with pytest.raises(DcbError, match="OLD has evidence lang, tier but NEW has lang"):
        diff(certify(OLD, EV, "route"), certify(NEW, ["lang"], "route"))
    t = pa.table({"x": [0.1, 0.7], "route": ["a", "b"]})
    with pytest.raises(DcbError, match="evidence column 'x' is binned differently in OLD"):
        diff(certify(t, ["x"], "route", rules={"x": "width:0.5"}), certify(t, ["x"], "route", rules={"x": "width:0.25"}))
    with pytest.raises(DcbError, match="does not exist"):
        diff("/nonexistent/cert.arrow", certify(t, ["x"], "route"))


periods = st.lists(st.tuples(st.sampled_from(["x", "y", "z", None]), st.integers(0, 2), st.sampled_from(["a", "b"]),
                             st.integers(1, 3)), min_size=1, max_size=30)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(periods, periods, st.integers(1, 3), st.randoms(use_true_random=False))
def test_matches_the_oracle_and_ignores_row_order(rows_old, rows_new, s, rnd):
    def table(rows):
        return pa.table({"k": [r[0] for r in rows], "t": pa.array([r[1] for r in rows], pa.int64()),
                         "act": [r[2] for r in rows], "w": [float(r[3]) for r in rows]})

    kw = dict(weight="w", min_support=s, nulls="value")
    want = diff_oracle(verdicts_oracle(table(rows_old).to_pylist(), ["k", "t"], "act", "w", s, "value"),
                       verdicts_oracle(table(rows_new).to_pylist(), ["k", "t"], "act", "w", s, "value"))
    shuffled = list(rows_new)
    rnd.shuffle(shuffled)
    # a bijection of the action values changes nothing either
    relabel = [(r[0], r[1], {"a": "b", "b": "a"}[r[2]], r[3]) for r in rows_old]
    for o, n in ((rows_old, rows_new), (rows_old, shuffled)):
        got = diff(certify(table(o), ["k", "t"], "act", **kw), certify(table(n), ["k", "t"], "act", **kw))
        for k in ("certified_old", "certified_new", "old_certificate_coverage", "covered_new", "retained_certified"):
            assert got.metrics[k] == pytest.approx(want[k], abs=1e-12), k
        for c, v in want["changes"].items():
            assert got.metrics["changes"][c]["fibers"] == v["fibers"]
            assert got.metrics["changes"][c]["weight_old"] == pytest.approx(v["weight_old"], abs=1e-12)
            assert got.metrics["changes"][c]["weight_new"] == pytest.approx(v["weight_new"], abs=1e-12)
        assert {(r["k"], r["t"]): r["change"] for r in got.changes.to_pylist()} == want["change"]
    both_relabelled = diff(certify(table(relabel), ["k", "t"], "act", **kw),
                           certify(table([(r[0], r[1], {"a": "b", "b": "a"}[r[2]], r[3]) for r in rows_new]),
                                   ["k", "t"], "act", **kw))
    assert both_relabelled.metrics["n_changes"] == {c: v["fibers"] for c, v in want["changes"].items()}


def test_cli_table_json_report_and_gate(tmp_path):
    pq.write_table(OLD, tmp_path / "old.parquet")
    pq.write_table(NEW, tmp_path / "new.parquet")
    r = CliRunner()
    for name in ("old", "new"):
        res = r.invoke(main, ["audit", str(tmp_path / f"{name}.parquet"), "-e", "lang,tier", "-a", "route", "-w", "w",
                              "-s", "2", "-o", str(tmp_path / name), "-q"])
        assert res.exit_code == 0, res.output
    args = ["diff", str(tmp_path / "old"), str(tmp_path / "new")]
    res = r.invoke(main, args + ["-f", "json", "-o", str(tmp_path / "d"), "--report", str(tmp_path / "d.html")])
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout)
    check_hand(summary["metrics"])
    saved = json.load(open(tmp_path / "d" / "summary.json"))
    saved.pop("output", None)  # the result directory's own record of its files
    assert saved == summary
    assert pq.read_table(tmp_path / "d" / "changes.parquet").num_rows == 7
    html = (tmp_path / "d.html").read_text()
    assert "Heaviest fibers: lost certification" in html and "ja" in html
    res = r.invoke(main, ["report", str(tmp_path / "d"), "-q"])
    page = open(res.stdout.strip()).read()
    assert res.exit_code == 0 and "Not shown" not in page and "Heaviest fibers: new keys" in page
    text = r.invoke(main, args).stdout
    assert "certified     OLD  71.43%   NEW  82.35%   shift +10.92 points" in text
    # retained_certified = 2/10 = 0.2 < 0.5: gate fails with exit 3; certified_shift > 0 passes
    res = r.invoke(main, args + ["--fail-under", "certified_shift=0,retained_certified=0.5"])
    assert res.exit_code == 3
    assert res.stderr.strip().splitlines()[-1] == "fail-under: retained_certified = 0.2 is below 0.5"
    assert r.invoke(main, args + ["--fail-under", "certified_new=0.8"]).exit_code == 0


def test_summary_validates_against_the_schema():
    from .report_helpers import validator

    d = diff(certify(OLD, EV, "route", weight="w", min_support=2), certify(NEW, EV, "route", weight="w", min_support=2))
    validator().validate(json.loads(json.dumps(d.summary)))


def test_directories_that_are_not_audits_are_refused(tmp_path):
    t = pa.table({"x": ["a"], "route": ["a"]})
    (tmp_path / "empty").mkdir()
    with pytest.raises(DcbError, match="OLD '.*empty' has no summary.json"):
        diff(str(tmp_path / "empty"), certify(t, ["x"], "route"))
    (tmp_path / "cov").mkdir()
    (tmp_path / "cov" / "summary.json").write_text('{"schema_version": 1, "kind": "coverage"}')
    with pytest.raises(DcbError, match="NEW '.*cov' holds a 'coverage' result; diff compares audits"):
        diff(certify(t, ["x"], "route"), str(tmp_path / "cov"))
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text("{not json")
    with pytest.raises(DcbError, match="cannot read '.*summary.json'"):
        diff(str(tmp_path / "bad"), certify(t, ["x"], "route"))
