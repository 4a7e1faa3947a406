"""The HTML report: every summary kind, with and without matplotlib; its safety against hostile
input values; top-k and aggregates against plain Python; its size on a million fibers."""

from __future__ import annotations

import copy
import json
import os
import re
import time

import numpy as np
import pyarrow as pa
import pytest

import dcb_fast
from dcb_fast.errors import DcbError
from dcb_fast.fibers.finalize import size_distribution
from dcb_fast.report import plots
from dcb_fast.report import tables as T
from dcb_fast.report.html import MATPLOTLIB_NOTE, render_report, write_report
from dcb_fast.report.schema import upgrade

from .report_helpers import (HOSTILE, assert_safe_page, channel_check, fiber_table, parse, planned_summaries,
                             report_audit, report_log, skipped, svg_count, validator)


@pytest.fixture(scope="module")
def log_table():
    return report_log()


@pytest.fixture(scope="module")
def audit_result(log_table):
    return report_audit(log_table)


@pytest.fixture(scope="module")
def channels_summary():
    return channel_check()


@pytest.fixture(scope="module")
def summaries(audit_result, channels_summary):
    return {"audit": (audit_result.summary, {"fibers": audit_result.fibers}),
            "channels": (channels_summary, None),
            **{k: (v, None) for k, v in planned_summaries().items()}}


KINDS = ["audit", "channels", "coverage", "completion", "sweep", "replay"]


# ---------------------------------------------------------------- every kind renders


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_renders_a_safe_complete_page(summaries, kind):
    summary, tables = summaries[kind]
    page = render_report(summary, tables)
    p = assert_safe_page(page)
    assert skipped(page) == []  # a complete summary shows every section
    text = " ".join(p.text)
    assert summary["headline"] in text
    assert f"dcb {kind} report" in text
    if plots.available():
        assert svg_count(page) >= 1 and MATPLOTLIB_NOTE not in page


def test_audit_report_shows_the_numbers(audit_result):
    m = audit_result.metrics
    page = render_report(audit_result.summary, {"fibers": audit_result.fibers})
    text = " ".join(parse(page).text)
    for key in ("certifiable_fraction", "ambiguous_fraction", "thin_fraction", "decision_risk"):
        assert f"{100 * m[key]:.2f}%" in text
    assert f"{m['n_mixed_fibers']:,} fibers carry more than one action" in text
    # the top table holds exactly the 50 heaviest mixed fibers
    top = re.search(r"<h2>Top mixed fibers</h2>.*?</section>", page, re.S).group(0)
    assert top.count("<tr>") == 1 + 50
    assert f"and {m['n_mixed_fibers'] - 50:,} more mixed fibers" in top


def test_unknown_kind_gets_the_generic_metrics_table():
    s = {"schema_version": 1, "kind": "future-thing", "dcb_fast_version": "9", "parameters": {}, "input": {},
         "headline": "h <b>", "metrics": {"n": 3, "share_fraction": 0.25, "nested": {"x": 1.5}, "items": [1, 2]}}
    page = render_report(s)
    text = " ".join(assert_safe_page(page).text)
    assert "h <b>" in text and "25.00%" in text and "nested.x" in text and "[2 items]" in text


@pytest.mark.parametrize("kind", KINDS)
def test_missing_keys_are_skipped_not_fatal(summaries, kind):
    summary, tables = summaries[kind]
    s = copy.deepcopy(summary)
    m = s["metrics"]
    drop = {"audit": ["fiber_size", "decision_risk"], "channels": ["transfer_coverage"],
            "coverage": ["benchmark_coverage"], "completion": ["curve"], "sweep": ["rows"],
            "replay": ["policies"]}[kind]
    for k in drop:
        m.pop(k)
    page = render_report(s, tables)
    assert_safe_page(page)
    notes = " ".join(skipped(page))
    assert notes and all(k in notes for k in drop), notes


def test_audit_report_without_the_fiber_table_says_where_to_get_it(audit_result):
    page = render_report(audit_result.summary)
    assert_safe_page(page)
    assert "fiber table is not available" in page and skipped(page) == []


def test_without_matplotlib_tables_and_a_note(summaries, monkeypatch):
    monkeypatch.setattr(plots, "_MPL", False)
    for kind in KINDS:
        summary, tables = summaries[kind]
        page = render_report(summary, tables)
        assert_safe_page(page)
        assert svg_count(page) == 0
        assert 'pip install "dcb-fast[report]"' in page.replace("&quot;", '"')
        assert page.count("<table") >= 1, kind


def test_plots_are_bounded_and_deterministic(audit_result):
    pytest.importorskip("matplotlib", reason="plots need the report extra: pip install 'dcb-fast[report]'")
    a = render_report(audit_result.summary, {"fibers": audit_result.fibers})
    b = render_report(audit_result.summary, {"fibers": audit_result.fibers})
    assert a == b  # same input, same bytes (plot ids restart per page)
    svgs = re.findall(r"<svg.*?</svg>", a, re.S)
    assert len(svgs) == 3 and all(len(s) < 60_000 for s in svgs)
    ids = re.findall(r' id="([^"]+)"', a)
    assert len(ids) == len(set(ids))  # ids are unique across the plots of one page


def test_matplotlib_state_is_untouched(audit_result):
    mpl = pytest.importorskip("matplotlib", reason="plots need the report extra: pip install 'dcb-fast[report]'")
    before = (mpl.get_backend(), dict(mpl.rcParams))
    render_report(audit_result.summary, {"fibers": audit_result.fibers})
    assert (mpl.get_backend(), dict(mpl.rcParams)) == before


# ---------------------------------------------------------------- safety


@pytest.fixture(scope="module")
def hostile_audit():
    n = 60
    rng = np.random.default_rng(1)
    e1, e2, act, w = HOSTILE[0], HOSTILE[1], HOSTILE[2], HOSTILE[6]
    t = pa.table({e1: [HOSTILE[i % 4] for i in range(n)], e2: [HOSTILE[4 + i % 2] for i in range(n)],
                  act: [HOSTILE[int(x)] for x in rng.integers(0, len(HOSTILE), n)], w: rng.random(n) + 0.5})
    return dcb_fast.audit(t, evidence=[e1, e2], action=act, weight=w)


def test_hostile_values_names_and_labels_are_escaped(hostile_audit):
    page = render_report(hostile_audit.summary, {"fibers": hostile_audit.fibers})
    p = assert_safe_page(page)
    text = "".join(p.text)
    # shown as text, in tables and (when matplotlib is there) inside SVG <text>
    for h in (HOSTILE[0], HOSTILE[1], HOSTILE[2]):
        assert h in text
    assert not re.search(r"<(script|img)\b", page, re.I)
    # in attributes too: a hostile label in a tooltip stays one attribute value
    titles = [v for _, k, v in p.attrs if k == "title"]
    assert any(HOSTILE[2] in v for v in titles)
    if plots.available():
        svg_text = " ".join(re.findall(r"<text[^>]*>(.*?)</text>", page, re.S))
        assert "&lt;script&gt;" in svg_text or "&lt;img" in svg_text


def test_hostile_channels_and_planned_summaries_are_escaped(tmp_path):
    rng = np.random.default_rng(2)
    n = 200
    cols = dict(zip(["p", "yb", "yd"], HOSTILE[:3]))
    p = rng.normal(size=n)
    t = pa.table({cols["p"]: p, cols["yb"]: p + 0.1 * rng.normal(size=n), cols["yd"]: p + rng.normal(size=n),
                  HOSTILE[3]: rng.choice(HOSTILE, n)})
    s = dcb_fast.check_channels(t, cols["p"], cols["yb"], cols["yd"], alpha=0.2, group_by=HOSTILE[3])
    assert_safe_page(render_report(s))
    for kind, s in planned_summaries().items():
        s = json.loads(json.dumps(s).replace('"en"', json.dumps(HOSTILE[1])).replace('"SR-MMP"', json.dumps(HOSTILE[0]))
                       .replace('"r1"', json.dumps(HOSTILE[6])).replace('"certify_only"', json.dumps(HOSTILE[5])))
        s["input"]["files"] = [{"path": HOSTILE[1], "format": "parquet", "size": 1, "rows": 1, "digest": HOSTILE[0]}]
        assert_safe_page(render_report(s))


def test_svg_allowlist_rejects_live_markup():
    ok = '<svg class="plot" role="img" viewBox="0 0 1 1"><g><path d="M 0 0" style="fill: #fff"/></g></svg>'
    assert plots.check_svg(ok)
    for bad in ['<svg><script>alert(1)</script></svg>', '<svg><path onload="alert(1)"/></svg>',
                '<svg><use xlink:href="http://x/#a"/></svg>', '<svg><image href="x.png"/></svg>',
                '<svg><path style="fill: url(http://x)"/></svg>', '<svg><!-- c --></svg>',
                '<svg><foreignObject><div>x</div></foreignObject></svg>']:
        assert not plots.check_svg(bad), bad


# ---------------------------------------------------------------- top-k and aggregates


def test_top_mixed_matches_a_full_sort():
    t = fiber_table(5000, seed=4)
    top, n_mixed = T.top_mixed(t, 40)
    d = t.to_pydict()
    mixed = [i for i in range(t.num_rows) if d["n_actions"][i] > 1]
    want = sorted(mixed, key=lambda i: (-d["weight"][i], -d["rows"][i], i))[:40]
    assert n_mixed == len(mixed)
    assert top.column("key").to_pylist() == [d["key"][i] for i in want]


def test_class_by_action_and_size_profile_match_plain_python():
    t = fiber_table(3000, seed=5)
    lay = T.layout(t)
    assert lay.actions == ["a", "b", "c"] and lay.evidence == ["key", "bucket"] and lay.weighted
    d = t.to_pydict()
    got = T.class_by_action(t, lay, ["a", "c"])
    for a in ("a", "c"):
        for c in T.CLASSES:
            want = sum(w for w, k in zip(d[f"weight[{a}]"], d["class"]) if k == c)
            assert got[a][c] == pytest.approx(want)
    prof = T.size_profile(t)
    for b in prof:
        members = [i for i, r in enumerate(d["rows"]) if b["min_rows"] <= r <= b["max_rows"]]
        assert b["fibers"] == len(members)
        assert sum(b["weight"].values()) == pytest.approx(sum(d["weight"][i] for i in members))
    assert sum(b["fibers"] for b in prof) == t.num_rows


def test_saved_fiber_tables_are_read_with_one_column_per_action():
    names = ["e", "e.lo", "rows", "weight", "rows[x]", "weight[x]", "rows[y]", "weight[y]", "n_actions",
             "majority_action", "purity", "class"]
    assert T.needed_columns(names) == ["e", "e.lo", "rows", "weight", "weight[x]", "weight[y]", "n_actions",
                                       "majority_action", "purity", "class"]
    unweighted = ["e", "rows", "weight", "rows[x]", "rows[y]", "n_actions", "class"]
    assert T.needed_columns(unweighted) == unweighted
    assert T.needed_columns(["a", "b"]) == ["a", "b"]  # not a fiber table: read as it is


def test_a_million_fibers_give_a_small_report():
    n = 1_000_000
    t = fiber_table(n, seed=6)
    rows = t.column("rows").to_numpy()
    w = t.column("weight").to_numpy()
    col = t.column("class").combine_chunks()
    cls = np.array(col.dictionary.to_pylist())[col.indices.to_numpy()]
    W = float(w.sum())
    frac = {c: float(w[cls == c].sum()) / W for c in T.CLASSES}
    n_mixed = int((t.column("n_actions").to_numpy() > 1).sum())
    summary = {"schema_version": 1, "kind": "audit", "dcb_fast_version": dcb_fast.__version__,
               "parameters": {"evidence": ["key", "bucket"], "action": "act", "weight": "w", "id": None,
                              "min_support": 2, "thin": "ambiguous", "nulls": "drop",
                              "rules": {"key": {"rule": "exact"}, "bucket": {"rule": "exact"}}},
               "input": {"files": [], "fingerprint": "in-memory", "rows_read": int(rows.sum())},
               "metrics": {"n_rows": int(rows.sum()), "total_weight": W, "dropped_rows": 0, "n_fibers": n,
                           "n_mixed_fibers": n_mixed, "mixed_fiber_fraction": n_mixed / n,
                           "n_thin_fibers": int((cls == "thin").sum()), "certifiable_fraction": frac["certified"],
                           "ambiguous_fraction": frac["ambiguous"], "thin_fraction": frac["thin"],
                           "certified_rows": {"a": 1, "b": 1, "c": 1},
                           "certified_weight": {"a": 1.0, "b": 1.0, "c": 1.0},
                           "certified_fibers": {"a": 1, "b": 1, "c": 1}, "decision_risk": 0.1,
                           "actions": ["a", "b", "c"], "prevalence": {"a": 0.7, "b": 0.15, "c": 0.15},
                           "fiber_size": size_distribution(rows)},
               "headline": "a million fibers", "warnings": []}
    validator().validate(summary)
    t0 = time.perf_counter()
    page = render_report(summary, {"fibers": t})
    elapsed = time.perf_counter() - t0
    size = len(page.encode("utf-8"))
    print(f"\nreport for {n:,} fibers: {size:,} bytes in {elapsed:.2f} s")
    assert size < 2_000_000
    assert_safe_page(page)
    assert skipped(page) == []
    top = re.search(r"<h2>Top mixed fibers</h2>.*?</section>", page, re.S).group(0)
    assert top.count("<tr>") == 1 + 50


# ---------------------------------------------------------------- writing


def test_write_report_is_atomic_and_creates_parents(tmp_path, audit_result):
    path = tmp_path / "a" / "b" / "report.html"
    assert write_report(str(path), audit_result.summary) == str(path)
    assert path.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert os.listdir(path.parent) == ["report.html"]  # no temporary file left behind
    with pytest.raises(DcbError, match="is a directory"):
        write_report(str(tmp_path), audit_result.summary)


def test_render_rejects_a_non_summary():
    with pytest.raises(DcbError, match="needs a summary dict"):
        render_report(["not", "a", "summary"])


def test_upgrade_checks_versions():
    assert upgrade({"schema_version": 1, "kind": "audit"})["kind"] == "audit"
    with pytest.raises(DcbError, match="schema_version 2, newer than this dcb_fast reads"):
        upgrade({"schema_version": 2, "kind": "audit"}, "'x'")
    with pytest.raises(DcbError, match="not a dcb summary"):
        upgrade({"kind": "audit"})




def test_many_actions_are_bounded(tmp_path):
    rng = np.random.default_rng(9)
    n = 3000
    t = pa.table({"e": rng.integers(0, 40, n), "a": [f"act{int(x):02d}" for x in rng.integers(0, 35, n)]})
    r = dcb_fast.audit(t, evidence=["e"], action="a")
    for tables in ({"fibers": r.fibers}, None):
        page = render_report(r.summary, tables)
        assert_safe_page(page)
        assert skipped(page) == []
        text = " ".join(parse(page).text)
        assert "other (15 actions)" in text  # 35 actions: the 20 heaviest get a bar each
    page = render_report(r.summary, {"fibers": r.fibers})
    assert "other (26)" in " ".join(parse(page).text)  # the action-mix legend names 9 actions, then grey

