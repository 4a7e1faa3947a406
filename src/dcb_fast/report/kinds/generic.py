"""Fallback report for a ``kind`` with no renderer of its own: a table of scalar metrics."""

from __future__ import annotations

from ..blocks import Html, pct, scalar_items, section, table
from ..registry import Context, register_kind

LIMIT = 200


@register_kind("*", "dcb report")
def render(ctx: Context) -> list:
    return [ctx.part("metrics", metrics_table)]


def metrics_table(ctx: Context) -> Html:
    """Every scalar metric (nested dicts flattened with dots, lists by their length)."""
    items = scalar_items(ctx.metrics, limit=LIMIT + 1)
    if not items:
        return section("Metrics", note="The summary has no metrics to show.")
    rows = [(k, pct(v) if _fraction_name(k) and isinstance(v, float) else v) for k, v in items[:LIMIT]]
    return section("Metrics", table(["metric", "value"], rows, numeric=(1,), more=max(0, len(items) - LIMIT)),
                   note="This kind of summary has no dedicated report; its scalar metrics are listed.")


def _fraction_name(name: str) -> bool:
    last = name.rsplit(".", 1)[-1]
    return last.endswith(("_fraction", "_coverage", "fraction", "coverage", "_risk"))
