"""The HTML report (every summary kind, with and without matplotlib), its safety against hostile
input values, its size on a million fibers, the summary JSON schema, the report CLI, and a real
headless browser opening a report."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import time
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

import dcb_fast
from dcb_fast.cli import main
from dcb_fast.errors import DcbError
from dcb_fast.metrics import size_distribution
from dcb_fast.report import plots
from dcb_fast.report import tables as T
from dcb_fast.report.html import MATPLOTLIB_NOTE, render_report, write_report
from dcb_fast.report.schema import load_schema, upgrade
from dcb_fast.synth import chunk, tox21_table

HOSTILE = ['<script>alert(1)</script>', '"><img src=x onerror=alert(1)>', "x' onmouseover='alert(1)",
           "</style><script>alert(2)</script>", "--><!--", "$\\alpha$ _x", "<svg onload=alert(3)>"]
VOID = {"meta", "link", "br", "img", "hr", "input", "area", "base", "col", "embed", "source", "track", "wbr"}


# ---------------------------------------------------------------- helpers


class PageParser(HTMLParser):
    """Collects tags, attributes and text; checks that elements nest and close properly."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.errors, self.tags, self.attrs, self.text = [], [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend((tag, k, v) for k, v in attrs)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
        else:
            self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(page: str) -> PageParser:
    p = PageParser()
    p.feed(page)
    p.close()
    assert not p.errors, p.errors[:5]
    assert not p.stack, f"unclosed elements: {p.stack}"
    return p


def assert_safe_page(page: str) -> PageParser:
    """Well-formed, no live markup, no external resource."""
    p = parse(page)
    assert page.startswith("<!DOCTYPE html>")
    assert not {"script", "img", "iframe", "object", "embed", "form", "base"} & set(p.tags), set(p.tags)
    assert not [a for a in p.attrs if a[1].startswith("on")], "event-handler attribute"
    for tag, k, v in p.attrs:
        if k in ("src", "href", "xlink:href", "action", "srcset", "poster"):
            assert (v or "").startswith(("#", "data:")), (tag, k, v)
    assert not re.search(r"https?://", page), "a URL in the page"
    csp = [v for tag, k, v in p.attrs if tag == "meta" and k == "content" and v.startswith("default-src 'none';")]
    assert len(csp) == 1 and "script-src" not in csp[0]
    return p


def skipped(page: str) -> list[str]:
    return re.findall(r'<p class="skipped">(.*?)</p>', page)


def svg_count(page: str) -> int:
    return page.count("<svg")


@pytest.fixture(scope="module")
def log_table():
    return chunk(20_000, seed=3)


@pytest.fixture(scope="module")
def audit_result(log_table):
    return dcb_fast.audit(log_table, evidence=["lang", "domain", "model", "score_bin"], action="route",
                          weight="requests", min_support=5)


@pytest.fixture(scope="module")
def channels_summary():
    rng = np.random.default_rng(5)
    n = 600
    p = rng.normal(size=n)
    t = pa.table({"p": p, "yb": p + 0.1 * rng.normal(size=n), "yd": p + rng.normal(size=n),
                  "g": rng.choice(["north", "south", "east"], n)})
    return dcb_fast.check_channels(t, "p", "yb", "yd", alpha=0.1, group_by="g", seed=1)


def planned_summaries() -> dict:
    """Hand-built summaries of the kinds whose commands are still being written, shaped as planned."""
    env = {"schema_version": 1, "dcb_fast_version": dcb_fast.__version__, "input": {"files": [], "fingerprint": "x"},
           "parameters": {"evidence": ["lang", "domain"], "action": "route", "by": "region"}}
    dist = lambda m: {"mean": m, "median": m, "p10": m * 0.5, "p90": min(1.0, m * 1.5)}  # noqa: E731
    return {
        "coverage": {**env, "kind": "coverage", "headline": "benchmark covers 94.98% of traffic; determined 10.07%",
                     "metrics": {
                         "total_weight": 1000.0, "benchmark_coverage": 0.9498, "certified_coverage": 0.1007,
                         "ambiguous_coverage": 0.80, "thin_coverage": 0.0491, "unseen_fraction": 0.0502,
                         "certified_coverage_by_action": {"serve": 0.06, "route": 0.03, "hold": 0.0107},
                         "top_uncovered": [{"lang": "en", "domain": f"d{i}", "weight": 100.0 - i, "class": "ambiguous",
                                            "rows": 10, "calibration_rows": 3} for i in range(80)],
                         "false_decisions": {"certificate": 0.001, "fiber_majority": 0.0119, "global_majority": 0.31},
                         "by": [{"value": f"r{i}", "total_weight": 10.0 * i, "benchmark_coverage": 0.9,
                                 "certified_coverage": 0.1 + 0.01 * i, "ambiguous_coverage": 0.7,
                                 "thin_coverage": 0.1, "unseen_fraction": 0.1} for i in range(40)]}},
        "completion": {**env, "kind": "completion", "headline": "SR-MMP then SR-HSE",
                       "metrics": {"curve": [
                           {"step": 0, "probe": None, "cost": 0, "certifiable_fraction": 0.02,
                            "ambiguous_fraction": 0.97, "thin_fraction": 0.01, "n_fibers": 43, "n_mixed_fibers": 14},
                           {"step": 1, "probe": "SR-MMP", "cost": 1, "certifiable_fraction": 0.31,
                            "ambiguous_fraction": 0.6, "thin_fraction": 0.09, "n_fibers": 80, "n_mixed_fibers": 20},
                           {"step": 2, "probe": "SR-HSE", "cost": 2, "certifiable_fraction": 0.29,
                            "ambiguous_fraction": 0.5, "thin_fraction": 0.21, "n_fibers": 150, "n_mixed_fibers": 18}],
                           "recommended_probe": "SR-MMP", "completion_cost": None}},
        "sweep": {**env, "kind": "sweep", "headline": "median certifiable fraction 0 under quantile bins",
                  "metrics": {"rows": [{"model": f"m{i}", "rule": rule, "certifiable_fraction": (i % 7) / 20,
                                        "ambiguous_fraction": 0.5, "thin_fraction": 0.5 - (i % 7) / 20,
                                        "n_fibers": 100 + i, "n_mixed_fibers": 10, "median_fiber_size": 3.0}
                                       for i in range(67) for rule in ("quantile:5", "quantile:10", "knn:25")],
                              "by_rule": [{"rule": r, "median_certifiable": 0.0, "mean_certifiable": 0.05, "n": 67}
                                          for r in ("quantile:5", "quantile:10", "knn:25")]}},
        "replay": {**env, "kind": "replay", "headline": "false decisions 1.19% -> 0.027%",
                   "metrics": {"policies": {p: {"certified_fraction": dist(c), "error_among_certified": dist(0.001),
                                                "false_decisions": dist(f), "acquisitions": dist(a)}
                                            for p, c, f, a in [("certify_only", 0.2, 0.0003, 0.0),
                                                               ("fiber_majority", 1.0, 0.0119, 0.0),
                                                               ("global_majority", 1.0, 0.0118, 0.0),
                                                               ("certify_then_acquire", 0.2, 0.00027, 0.98)]},
                               "break_even_lambda": 0.0118,
                               "cost_curve": [{"lambda": x / 100, "base_cost": 0.0119, "acquire_cost": 0.00027 + x / 100
                                               * 0.98, "reduction": None if x == 0 else 1 - (0.00027 + x / 100 * 0.98)
                                               / 0.0119} for x in range(0, 5)]}},
    }


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


def _fiber_table(n: int, seed: int = 0) -> pa.Table:
    """A fiber table shaped like dcb_fast.metrics.fiber_table, built directly (no audit)."""
    rng = np.random.default_rng(seed)
    rows = rng.geometric(0.35, n).astype(np.int64)
    r_a = rng.binomial(rows, 0.7)
    r_b = rng.binomial(rows - r_a, 0.5)
    r_c = rows - r_a - r_b
    per = np.stack([r_a, r_b, r_c], axis=1)
    n_actions = (per > 0).sum(axis=1)
    weight = rows * 1.5
    cls = np.where(n_actions > 1, "ambiguous", np.where(rows < 2, "thin", "certified"))
    cls = np.where((n_actions > 1) & (rows < 2), "thin", cls)
    names = np.array(["a", "b", "c"])
    return pa.table({
        "key": pc_str(np.arange(n)), "bucket": pa.array(np.arange(n) % 97, pa.int32()),
        "rows": rows, "weight": weight,
        "rows[a]": r_a, "weight[a]": r_a * 1.5, "rows[b]": r_b, "weight[b]": r_b * 1.5,
        "rows[c]": r_c, "weight[c]": r_c * 1.5,
        "n_actions": n_actions.astype(np.int64), "majority_action": names[per.argmax(axis=1)],
        "purity": per.max(axis=1) / rows, "class": pa.array(cls).dictionary_encode(),
    })


def pc_str(a: np.ndarray) -> pa.Array:
    import pyarrow.compute as pc

    return pc.binary_join_element_wise("k", pc.cast(pa.array(a), pa.string()), "")


def test_top_mixed_matches_a_full_sort():
    t = _fiber_table(5000, seed=4)
    top, n_mixed = T.top_mixed(t, 40)
    d = t.to_pydict()
    mixed = [i for i in range(t.num_rows) if d["n_actions"][i] > 1]
    want = sorted(mixed, key=lambda i: (-d["weight"][i], -d["rows"][i], i))[:40]
    assert n_mixed == len(mixed)
    assert top.column("key").to_pylist() == [d["key"][i] for i in want]


def test_class_by_action_and_size_profile_match_plain_python():
    t = _fiber_table(3000, seed=5)
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


def test_a_million_fibers_give_a_small_report():
    n = 1_000_000
    t = _fiber_table(n, seed=6)
    rows = t.column("rows").to_numpy()
    w = t.column("weight").to_numpy()
    cls = t.column("class").to_pylist()
    cls = np.array(cls)
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
                           "certified_rows": {"a": 1, "b": 1, "c": 1}, "certified_weight": {"a": 1.0, "b": 1.0, "c": 1.0},
                           "certified_fibers": {"a": 1, "b": 1, "c": 1}, "decision_risk": 0.1,
                           "actions": ["a", "b", "c"], "prevalence": {"a": 0.7, "b": 0.15, "c": 0.15},
                           "fiber_size": size_distribution(rows)},
               "headline": "a million fibers", "warnings": []}
    _validator().validate(summary)
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


# ---------------------------------------------------------------- JSON schema


def _validator():
    import jsonschema

    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def cli_data(tmp_path_factory, log_table):
    d = tmp_path_factory.mktemp("cli")
    log = d / "log.parquet"
    pq.write_table(log_table, log)
    rng = np.random.default_rng(8)
    n = 400
    p = rng.normal(size=n)
    ch = d / "channels.parquet"
    pq.write_table(pa.table({"p": p, "yb": p + 0.1 * rng.normal(size=n), "yd": p + rng.normal(size=n),
                             "g": rng.choice(["a", "b", "c", "d"], n)}), ch)
    return {"log": str(log), "channels": str(ch), "dir": d}


# Every command's --format json output must validate against summary.schema.json: add a line per
# command (and per option that changes the summary's shape).
JSON_COMMANDS = [
    pytest.param(lambda d: ["audit", d["log"], "-e", "lang,domain,model", "-a", "route", "-f", "json", "-q"],
                 id="audit"),
    pytest.param(lambda d: ["audit", d["log"], "-e", "lang,score", "-a", "route", "-w", "requests", "-s", "5",
                            "--thin", "skip", "--rule", "score=width:0.1", "--nulls", "value", "-f", "json", "-q"],
                 id="audit-weighted-binned"),
    pytest.param(lambda d: ["channels", d["channels"], "--pred", "p", "--bench-label", "yb", "--deploy-label", "yd",
                            "-f", "json", "-q"], id="channels"),
    pytest.param(lambda d: ["channels", d["channels"], "--pred", "p", "--bench-label", "yb", "--deploy-label", "yd",
                            "--group-by", "g", "--alpha", "0.2", "-f", "json", "-q"], id="channels-groups"),
]


@pytest.mark.parametrize("args", JSON_COMMANDS)
def test_cli_json_validates_against_the_schema(cli_data, args):
    res = CliRunner().invoke(main, args(cli_data))
    assert res.exit_code == 0, (res.output, res.exception)
    summary = json.loads(res.stdout)
    errors = [f"{list(e.path)}: {e.message}" for e in _validator().iter_errors(summary)]
    assert errors == []


def test_planned_kinds_validate_and_broken_summaries_do_not(summaries):
    v = _validator()
    for kind, (s, _) in summaries.items():
        assert [e.message for e in v.iter_errors(s)] == [], kind
    broken = [
        ("audit", lambda s: s["metrics"].pop("certifiable_fraction")),
        ("audit", lambda s: s["metrics"].__setitem__("ambiguous_fraction", 1.5)),
        ("audit", lambda s: s.__setitem__("schema_version", 2)),
        ("audit", lambda s: s.__setitem__("kind", "audit-ish")),
        ("channels", lambda s: s["parameters"].pop("alpha")),
        ("coverage", lambda s: s["metrics"].pop("top_uncovered")),
        ("completion", lambda s: s["metrics"]["curve"][0].pop("certifiable_fraction")),
        ("sweep", lambda s: s["metrics"]["by_rule"][0].pop("median_certifiable")),
        ("replay", lambda s: s["metrics"]["policies"]["certify_only"]["false_decisions"].pop("p90")),
        ("replay", lambda s: s.pop("headline")),
    ]
    for kind, breaker in broken:
        s = copy.deepcopy(summaries[kind][0])
        breaker(s)
        assert list(v.iter_errors(s)), (kind, breaker)


def test_schema_ships_in_the_package():
    import importlib.resources

    text = importlib.resources.files("dcb_fast.report").joinpath("summary.schema.json").read_text(encoding="utf-8")
    assert json.loads(text)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# ---------------------------------------------------------------- CLI


def test_cli_audit_and_channels_write_reports(cli_data, tmp_path):
    r = CliRunner()
    res = r.invoke(main, ["audit", cli_data["log"], "-e", "lang,domain", "-a", "route", "--report",
                          str(tmp_path / "new" / "audit.html"), "-q"])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "new" / "audit.html").read_text(encoding="utf-8")
    assert_safe_page(page)
    assert "Top mixed fibers" in page and "fiber table is not available" not in page
    res = r.invoke(main, ["channels", cli_data["channels"], "--pred", "p", "--bench-label", "yb", "--deploy-label",
                          "yd", "--group-by", "g", "--report", str(tmp_path / "ch.html")])
    assert res.exit_code == 0, res.output
    assert "wrote report" in res.stderr
    assert "Per g" in (tmp_path / "ch.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_cli_report_from_a_result_directory(cli_data, tmp_path, fmt):
    r = CliRunner()
    out = tmp_path / "res"
    res = r.invoke(main, ["audit", cli_data["log"], "-e", "lang,domain", "-a", "route", "-o", str(out),
                          "--fiber-format", fmt, "--no-cases", "-q", "--report", str(tmp_path / "direct.html")])
    assert res.exit_code == 0, res.output
    res = r.invoke(main, ["report", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out / "report.html")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert_safe_page(page)
    assert "Top mixed fibers" in page and "fiber table is not available" not in page
    if fmt == "parquet":  # the saved outputs give the same page as the run itself
        assert page == (tmp_path / "direct.html").read_text(encoding="utf-8")
    res = r.invoke(main, ["report", str(out / "summary.json"), "--out", str(tmp_path / "x.html"), "--top", "5", "-q"])
    assert res.exit_code == 0, res.output
    top = re.search(r"<h2>Top mixed fibers</h2>.*?</section>", (tmp_path / "x.html").read_text(), re.S).group(0)
    assert top.count("<tr>") == 1 + 5


def test_cli_report_errors(tmp_path):
    r = CliRunner()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text('{"hello": 1}')
    (tmp_path / "newer").mkdir()
    (tmp_path / "newer" / "summary.json").write_text('{"schema_version": 7, "kind": "audit"}')
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "summary.json").write_text('{"schema_version": 1,')
    cases = [
        (tmp_path / "missing", f"Error: result directory '{tmp_path / 'missing'}' does not exist; pass the --out "
                               "directory of a dcb command"),
        (foreign, f"Error: no summary.json in '{foreign}'; pass a directory written by a dcb command with --out"),
        (tmp_path / "bad", f"Error: '{tmp_path / 'bad' / 'summary.json'}' is not a dcb summary (no schema_version "
                           "and kind); pass a directory written by a dcb command with --out"),
        (tmp_path / "newer", f"Error: '{tmp_path / 'newer' / 'summary.json'}' has schema_version 7, newer than this "
                             "dcb_fast reads (1); upgrade dcb-fast"),
    ]
    for path, message in cases:
        res = r.invoke(main, ["report", str(path)])
        assert res.exit_code == 1 and res.output.strip() == message, res.output
    res = r.invoke(main, ["report", str(tmp_path / "broken")])
    assert res.exit_code == 1 and res.output.startswith(f"Error: cannot read '{tmp_path / 'broken' / 'summary.json'}'")
    assert len(res.output.strip().splitlines()) == 1


def test_cli_report_path_that_is_a_directory_fails_before_the_audit(cli_data, tmp_path):
    res = CliRunner().invoke(main, ["audit", cli_data["log"], "-e", "lang", "-a", "route", "--report", str(tmp_path)])
    assert res.exit_code == 1
    assert res.output.strip() == (f"Error: report path '{tmp_path}' is a directory; give a file name such as "
                                  f"{tmp_path}/report.html")


# ---------------------------------------------------------------- a real browser


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--enable-logging=stderr", "--v=0"]


def chromium_path() -> str:
    """Debian's Chromium; the browser tests fail (never skip) without it."""
    path = os.environ.get("DCB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("headless Chromium is needed for the browser test but was not found ($DCB_CHROMIUM, chromium on "
                    "PATH, /usr/bin/chromium): install it with `apt-get install -y chromium` (.ci/run does)")
    return path


def run_chromium(page: str, tmp_path, *args) -> tuple[str, list[str]]:
    """Open ``page`` (a file path) in headless Chromium; return stdout and the console messages."""
    profile = tmp_path / f"profile-{len(os.listdir(tmp_path))}"
    res = subprocess.run([chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                          "file://" + os.path.abspath(page)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    console = [line for line in res.stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]
    return res.stdout, console


def test_console_capture_sees_errors(tmp_path):
    # the check below means something only if a page with errors is caught
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><p>x</p><script>console.error("boom-1"); nope();</script></body></html>')
    _, console = run_chromium(str(bad), tmp_path, "--dump-dom")
    assert any("boom-1" in c for c in console) and any("nope" in c for c in console)


def test_report_renders_in_headless_chromium(tmp_path, audit_result):
    path = tmp_path / "report.html"
    write_report(str(path), audit_result.summary, {"fibers": audit_result.fibers})
    dom, console = run_chromium(str(path), tmp_path, "--dump-dom")
    assert console == []
    m = audit_result.metrics
    assert "dcb audit report" in dom and audit_result.summary["headline"] in dom
    for key in ("certifiable_fraction", "ambiguous_fraction", "thin_fraction"):
        assert f"{100 * m[key]:.2f}%" in dom
    if plots.available():
        assert dom.count("<svg") == 3
    shot = tmp_path / "shot.png"
    _, console = run_chromium(str(path), tmp_path, f"--screenshot={shot}", "--window-size=1100,1400")
    assert console == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000
