"""Shared by the report tests: an HTML checker, hostile strings, hand-built summaries of the
planned kinds, and a fiber table built directly with pyarrow."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

import dcb_fast
from dcb_fast.report.schema import load_schema

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


def report_log() -> pa.Table:
    """The request log every report test renders (seeded)."""
    from dcb_fast.tools.synth import chunk

    return chunk(20_000, seed=3)


def report_audit(log: pa.Table):
    """The audit of :func:`report_log` that the report tests render."""
    return dcb_fast.audit(log, evidence=["lang", "domain", "model", "score_bin"], action="route", weight="requests",
                          min_support=5)


def channel_check() -> dict:
    """A channel check with groups, on seeded predictions."""
    rng = np.random.default_rng(5)
    n = 600
    p = rng.normal(size=n)
    t = pa.table({"p": p, "yb": p + 0.1 * rng.normal(size=n), "yd": p + rng.normal(size=n),
                  "g": rng.choice(["north", "south", "east"], n)})
    return dcb_fast.check_channels(t, "p", "yb", "yd", alpha=0.1, group_by="g", seed=1).summary


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



def fiber_table(n: int, seed: int = 0) -> pa.Table:
    """A fiber table shaped like dcb_fast.fibers.finalize.fiber_table, built directly (no audit)."""
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
        "key": pc.binary_join_element_wise("k", pc.cast(pa.array(np.arange(n)), pa.string()), ""),
        "bucket": pa.array(np.arange(n) % 97, pa.int32()),
        "rows": rows, "weight": weight,
        "rows[a]": r_a, "weight[a]": r_a * 1.5, "rows[b]": r_b, "weight[b]": r_b * 1.5,
        "rows[c]": r_c, "weight[c]": r_c * 1.5,
        "n_actions": n_actions.astype(np.int64), "majority_action": names[per.argmax(axis=1)],
        "purity": per.max(axis=1) / rows, "class": pa.array(cls).dictionary_encode(),
    })




def validator():
    """A draft 2020-12 validator of summary.schema.json (the schema itself checked first)."""
    import jsonschema

    schema = load_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)
