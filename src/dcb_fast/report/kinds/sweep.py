"""Report for ``kind: "sweep"``: certifiable fraction per model under each fiber rule."""

from __future__ import annotations

import statistics

from .. import plots
from ..blocks import Html, cards, figure, num, pct, section, table
from ..registry import Context, register_kind

MAX_RULES = 30


@register_kind("sweep", "dcb sweep report")
def render(ctx: Context) -> list:
    return [ctx.part("headline numbers", _cards), ctx.part("certifiable by rule", _by_rule),
            ctx.part("models and rules", _rows)]


def _values(rows, key="certifiable_fraction"):
    return [r[key] for r in rows if isinstance(r.get(key), (int, float))]


def _cards(ctx: Context) -> Html:
    rows = ctx.metrics["rows"]
    vals = _values(rows)
    models = {r.get("model") for r in rows}
    rules = {r.get("rule") for r in rows}
    by_rule = ctx.metrics.get("by_rule") or []
    best = max(by_rule, key=lambda r: r.get("median_certifiable") or 0.0) if by_rule else None
    return cards([
        ("median certifiable fraction", pct(statistics.median(vals)) if vals else "\u2013", "certified",
         f"over {len(rows):,} model \u00d7 rule audits"),
        ("models", num(len(models)), None, None),
        ("fiber rules", num(len(rules)), None, None),
        ("rule with the highest median", str(best["rule"]) if best else "\u2013", None,
         pct(best.get("median_certifiable")) if best else None),
    ])


def _by_rule(ctx: Context) -> Html:
    rows = ctx.metrics["rows"]
    order = list(dict.fromkeys(r["rule"] for r in rows))[:MAX_RULES]
    groups = [(rule, _values([r for r in rows if r["rule"] == rule])) for rule in order]
    svg = plots.boxes(groups, ylabel="certifiable fraction (one value per model)")
    by_rule = ctx.metrics.get("by_rule") or []
    parts = [figure(svg, caption="Certifiable fraction across models, per fiber rule (box: quartiles; whiskers: "
                                 "1.5 IQR).")] if svg else []
    if by_rule:
        keys = list(dict.fromkeys(k for r in by_rule for k in r if k != "rule"))[:8]
        body = [(r.get("rule"), *[pct(r.get(k)) if isinstance(r.get(k), float) and k != "n" else r.get(k)
                                  for k in keys]) for r in by_rule[: ctx.top_k]]
        parts.append(table(["rule", *[k.replace("_", " ") for k in keys]], body, numeric=range(1, len(keys) + 1),
                           more=len(by_rule) - len(body)))
    return section("Certifiable fraction by fiber rule", *parts, note=(
        "Numeric evidence needs a fiber rule, and the answer depends on it: a benchmark whose evidence does not "
        "determine the action shows low certifiable fractions under every rule."))


def _rows(ctx: Context) -> Html:
    rows = ctx.metrics["rows"]
    ranked = sorted(rows, key=lambda r: -(r.get("certifiable_fraction") or 0.0))
    shown = ranked[: ctx.top_k]
    body = [(r.get("model"), r.get("rule"), pct(r.get("certifiable_fraction")), pct(r.get("ambiguous_fraction")),
             pct(r.get("thin_fraction")), r.get("n_fibers"), r.get("n_mixed_fibers"), r.get("median_fiber_size"))
            for r in shown]
    return section("Models and rules", table(
        ["model", "rule", "certified", "ambiguous", "thin", "fibers", "mixed fibers", "median fiber size"], body,
        numeric=range(2, 8), more=len(rows) - len(shown), more_note=" audits in summary.json"),
        note="Highest certifiable fraction first.")
