"""Report for ``kind: "explain"``: the heaviest mixed fibers, the column that best separates
each one's actions, the split it induces and example rows."""

from __future__ import annotations

from ..blocks import Html, cards, join, num, pct, section, table
from ..registry import Context, register_kind


@register_kind("explain", "dcb explain report")
def render(ctx: Context) -> list:
    fibers = ctx.metrics["fibers"][: ctx.top_k]
    return [ctx.part("headline numbers", _cards)] + [ctx.part(f"fiber {f['rank']}", _fiber, f) for f in fibers]


def _cards(ctx: Context) -> Html:
    m = ctx.metrics
    return cards([
        ("mixed fibers", f"{m['n_mixed_fibers']:,}", "ambiguous", f"{pct(m['mixed_weight_fraction'])} of the weight"),
        ("explained here", f"{m['n_explained']:,}", None, f"{pct(m['explained_weight_fraction'])} of the mixed weight"),
    ])


def _fiber(ctx: Context, f: dict) -> Html:
    key = ", ".join(f"{k} = {v}" for k, v in f["key"].items())
    acts = ", ".join(f"{a}: {num(w)}" for a, w in f["actions"].items())
    b = f["best"]
    parts = []
    if b is not None:
        rows = [(s["value"], f"{s['rows']:,}", num(s["weight"]),
                 ", ".join(f"{a}: {num(w)}" for a, w in s["actions"].items())) for s in b["split"]]
        parts.append(table([b["column"], "rows", "weight", "actions"], rows, numeric=(1, 2),
                           caption=f"split by {b['column']}: information gain {b['information_gain']:.3f} of "
                                   f"{f['entropy']:.3f} bits ({pct(b['gain_fraction'], 0)})"))
    cand = [(c["column"], f"{c['information_gain']:.3f}", c["n_values"]) for c in f["candidates"]]
    if cand:
        parts.append(table(["column", "information gain (bits)", "values"], cand, numeric=(1, 2),
                           caption="best columns for this fiber"))
    ex = [(a, ", ".join(map(str, ids))) for a, ids in f["examples"].items()]
    parts.append(table([ctx.parameters.get("action") or "action", f"example rows ({f['examples_by']})"], ex))
    return section(f"#{f['rank']}: {key}", join(parts),
                   note=f"{f['rows']:,} rows, weight {num(f['weight'])}; actions {acts}."
                        + ("" if b else " No column separates this fiber."))
