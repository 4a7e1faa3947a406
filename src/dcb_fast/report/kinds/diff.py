"""Report for ``kind: "diff"``: what changed between two periods (fibers that lost or gained
certification, changed actions, new and gone keys) and the shift of the certified fraction."""

from __future__ import annotations

from .. import plots
from ..blocks import CLASS_COLORS, PALETTE, Html, cards, figure, num, pct, section, table
from ..registry import Context, register_kind

CHANGES = [("lost", "lost certification", CLASS_COLORS["ambiguous"]),
           ("gained", "gained certification", CLASS_COLORS["certified"]),
           ("action_changed", "certified action changed", PALETTE[3]),
           ("new_key", "new keys", CLASS_COLORS["unseen"]),
           ("gone_key", "gone keys", CLASS_COLORS["thin"])]


@register_kind("diff", "dcb diff report", tables=("changes",))
def render(ctx: Context) -> list:
    return [ctx.part("headline numbers", _cards), ctx.part("changes by weight", _split)] + [
        ctx.part(f"top {name}", _top, key, name) for key, name, _ in CHANGES]


def _cards(ctx: Context) -> Html:
    m = ctx.metrics
    shift = m["certified_shift"]
    return cards([
        ("certified, OLD period", pct(m["certified_old"]), "certified", None),
        ("certified, NEW period", pct(m["certified_new"]), "certified", f"{100 * shift:+.2f} points"),
        ("NEW traffic the OLD certificate certifies", pct(m["old_certificate_coverage"]), "bench", None),
        ("NEW traffic on keys OLD never saw", pct(m["new_key_weight"]), "unseen", None),
        ("OLD certified weight still certified, same action", pct(m["retained_certified"]), None, None),
    ])


def _split(ctx: Context) -> Html:
    ch = ctx.metrics["changes"]
    labels = [name for _, name, _ in CHANGES]
    svg = plots.grouped_bars(labels, [
        ("OLD weight", [ch[k]["weight_old"] for k, _, _ in CHANGES], PALETTE[7]),
        ("NEW weight", [ch[k]["weight_new"] for k, _, _ in CHANGES], PALETTE[0]),
    ], ylabel="share of the period's weight")
    fallback = table(["change", "fibers", "OLD weight", "NEW weight"],
                     [(name, f"{ch[k]['fibers']:,}", pct(ch[k]["weight_old"]), pct(ch[k]["weight_new"]))
                      for k, name, _ in CHANGES], numeric=(1, 2, 3))
    return section("What changed", figure(svg, fallback), fallback if svg else Html(""), note=(
        "Each fiber key of either period falls in one change. OLD weight is its share of the old period's "
        "weight, NEW weight its share of the new period's: lost, gained and changed fibers are weighed by the "
        "traffic they carry now."))


def _top(ctx: Context, key: str, name: str) -> Html:
    full = ctx.tables.get("changes")
    ev = ctx.parameters["evidence"]
    if full is not None and "change" in full.column_names:
        import pyarrow.compute as pc

        sub = full.filter(pc.equal(full["change"], key))
        total = sub.num_rows
        rows = sub.slice(0, ctx.top_k).to_pylist()
    else:
        rows = ctx.metrics["top_changes"].get(key) or []
        total = ctx.metrics["n_changes"][key]
        rows = rows[: ctx.top_k]
    if not rows:
        return Html("")
    shown = ev[:8]
    out = [(*[r.get(c) for c in shown], r.get("class_old") or "-", r.get("action_old"), r.get("class_new") or "-",
            r.get("action_new"), num(r.get("weight_old")), num(r.get("weight_new"))) for r in rows]
    k = len(shown)
    return section(f"Heaviest fibers: {name}", table(
        [*shown, "OLD class", "OLD action", "NEW class", "NEW action", "OLD weight", "NEW weight"], out,
        numeric=(k + 4, k + 5), more=total - len(rows), more_note=" fibers in changes.parquet"))
