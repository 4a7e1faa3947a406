"""Report for ``kind: "audit"``: where the weight is (certified, ambiguous, thin), per action,
by fiber size, and the heaviest mixed fibers with their action mix."""

from __future__ import annotations

from .. import plots
from .. import tables as T
from ..blocks import (CLASS_COLORS, PALETTE, Html, cards, figure, join, legend, num, pct, section, share_bar,
                      table, tag, truncate)
from ..registry import Context, register_kind

CLASS_SEGMENTS = [(c, CLASS_COLORS[c]) for c in T.CLASSES]
MAX_ACTIONS = 20  # rows in the per-action plot; the rest are summed into one "other" row
MIX_COLORS = 9  # actions with their own color in the action mix; the rest are grey


@register_kind("audit", "dcb audit report", tables=("fibers",))
def render(ctx: Context) -> list:
    fib = ctx.tables.get("fibers")
    lay = T.layout(fib) if fib is not None else None
    if fib is not None and lay is None:
        ctx.skipped.append("fiber-table sections (the fibers table has no rows/n_actions/class columns)")
        fib = None
    return [
        ctx.part("headline numbers", _cards),
        ctx.part("class breakdown", _classes, fib, lay),
        ctx.part("fiber sizes", _sizes, fib),
        ctx.part("top mixed fibers", _top_mixed, fib, lay),
    ]


def _cards(ctx: Context) -> Html:
    m, p = ctx.metrics, ctx.parameters
    support = p.get("min_support", 1)
    return cards([
        ("certified: action determined by the evidence", pct(m["certifiable_fraction"]), "certified",
         f"{num(sum(m.get('certified_fibers', {}).values()))} pure fibers" if m.get("certified_fibers") else None),
        ("ambiguous: in mixed fibers", pct(m["ambiguous_fraction"]), "ambiguous",
         f"{num(m['n_mixed_fibers'])} of {num(m['n_fibers'])} fibers are mixed"),
        (f"thin: fewer than {support} rows" if isinstance(support, int) and support > 1 else "thin",
         pct(m["thin_fraction"]), "thin", f"{num(m.get('n_thin_fibers'))} thin fibers"),
        ("decision risk", pct(m["decision_risk"]), None, "error of acting on each fiber's majority"),
        ("rows used", num(m["n_rows"]), None,
         f"{num(m.get('dropped_rows', 0))} dropped"
         + (f", weight {num(m['total_weight'])}" if p.get("weight") else "")),
    ])


def _by_action(ctx: Context, fib, lay):
    """[(action, {class: weight})] for the heaviest actions, and the sum of the rest."""
    m = ctx.metrics
    if fib is not None and lay.actions:
        totals = T.action_totals(fib, lay)
        order = sorted(lay.actions, key=lambda a: (-totals[a], lay.actions.index(a)))
        shown = order[:MAX_ACTIONS]
        per = T.class_by_action(fib, lay, shown)
        rows = [(a, per[a]) for a in shown]
        rest = order[MAX_ACTIONS:]
        if rest:
            other = T.class_by_action(fib, lay, rest)
            rows.append((f"other ({len(rest)} actions)", {c: sum(other[a][c] for a in rest) for c in T.CLASSES}))
        return rows, True
    # summary only: certified weight per action against its prevalence; the rest is not certified
    W = float(m["total_weight"])
    order = sorted(m["actions"], key=lambda a: -m["prevalence"][a])

    def split(acts):
        tot = sum(m["prevalence"][a] for a in acts) * W
        cert = sum(float(m["certified_weight"].get(a, 0.0)) for a in acts)
        return {"certified": cert, "not certified": max(0.0, tot - cert)}

    rows = [(a, split([a])) for a in order[:MAX_ACTIONS]]
    if order[MAX_ACTIONS:]:
        rows.append((f"other ({len(order) - MAX_ACTIONS} actions)", split(order[MAX_ACTIONS:])))
    return rows, False


def _classes(ctx: Context, fib, lay) -> Html:
    m = ctx.metrics
    rows, split = _by_action(ctx, fib, lay)
    segs = CLASS_SEGMENTS if split else [("certified", CLASS_COLORS["certified"]), ("not certified", "#bdbdbd")]
    names = [s for s, _ in segs]
    overall = [m["certifiable_fraction"], m["ambiguous_fraction"], m["thin_fraction"]]
    if not split:
        overall = [m["certifiable_fraction"], 1.0 - m["certifiable_fraction"]]
    plot_rows = [("all rows", overall)]
    for a, d in rows:
        tot = sum(d.values())
        plot_rows.append((a, [d.get(s, 0.0) / tot if tot else 0.0 for s in names]))
    svg = plots.stacked_shares(plot_rows, segs)
    weight_word = "weight" if ctx.parameters.get("weight") else "rows"
    fallback = table(["", *names], [(r[0], *[pct(v) for v in r[1]]) for r in plot_rows],
                     numeric=range(1, len(names) + 1))
    note = (f"Share of the {weight_word} of all rows, and of the rows of each value of "
            f"{ctx.parameters.get('action', 'the action')}, that is certified (its fiber holds one action and enough "
            "rows), ambiguous (its fiber is mixed) or thin (too few rows).")
    if not split:
        note += " Ambiguous and thin per action need the fiber table (write it with --out)."
    return section("Where the weight is", figure(svg, fallback), note=note)


def _sizes(ctx: Context, fib) -> Html:
    fs = ctx.metrics["fiber_size"]
    hist = fs["histogram"]
    labels = [_bin_label(h) for h in hist]
    counts = [h["fibers"] for h in hist]
    parts = [tag("p", f"median {num(fs['median'])} rows, 90th percentile {num(fs['p90'])}, largest {num(fs['max'])}",
                 class_="note")]
    parts.append(figure(plots.histogram(labels, counts, ylabel="fibers (log scale)"),
                        table(["fiber size (rows)", "fibers"], list(zip(labels, counts)), numeric=(1,)),
                        caption="Fibers per size bin (powers of two)."))
    if fib is not None:
        prof = T.size_profile(fib)
        total = sum(sum(b["weight"].values()) for b in prof) or 1.0
        plabels = [_bin_label(b) for b in prof]
        stacked = [(c, [b["weight"][c] / total for b in prof], CLASS_COLORS[c]) for c in T.CLASSES]
        fallback = table(["fiber size (rows)", "fibers", *T.CLASSES],
                         [(lab, b["fibers"], *[pct(b["weight"][c] / total) for c in T.CLASSES])
                          for lab, b in zip(plabels, prof)], numeric=range(1, 5))
        parts.append(figure(plots.histogram(plabels, None, ylabel="share of weight", stacked=stacked), fallback,
                            caption="Share of all weight in fibers of each size, by class: small fibers are thin "
                                    "or rest on few observations."))
    return section("Fiber sizes", *parts)


def _bin_label(b: dict) -> str:
    lo, hi = b["min_rows"], b["max_rows"]
    return f"{lo:,}" if lo == hi else f"{lo:,}\u2013{hi:,}"


def _top_mixed(ctx: Context, fib, lay) -> Html:
    m = ctx.metrics
    if fib is None:
        if m.get("n_mixed_fibers"):
            return section("Top mixed fibers", note=(
                "The fiber table is not available to this report: pass --report to dcb audit, or run dcb report "
                "on an output directory that holds fibers.parquet."))
        return Html("")
    top, n_mixed = T.top_mixed(fib, ctx.top_k)
    if n_mixed == 0:
        return section("Top mixed fibers", note="No fiber is mixed: every fiber carries a single action.")
    totals = T.action_totals(fib, lay)
    ranked = sorted(lay.actions, key=lambda a: (-totals[a], lay.actions.index(a)))
    colors = {a: PALETTE[i] if i < MIX_COLORS else "#7f7f7f" for i, a in enumerate(ranked)}
    ev = T.shown_evidence(lay, ctx.parameters.get("evidence"))
    data = {c: top.column(c).to_pylist() for c in ev}
    rows_c, n_act = top.column("rows").to_pylist(), top.column("n_actions").to_pylist()
    weight = top.column("weight").to_pylist() if "weight" in top.column_names else rows_c
    cls = [str(x) for x in top.column("class").to_pylist()]
    major = top.column("majority_action").to_pylist() if "majority_action" in top.column_names else [None] * len(top)
    mix = {a: top.column(lay.mix[a]).to_pylist() for a in lay.actions}
    W = float(m.get("total_weight") or sum(totals.values()) or 1.0)
    out = []
    for i in range(top.num_rows):
        w = float(weight[i] or 0.0)
        shares = sorted(((a, float(mix[a][i] or 0.0) / w if w else 0.0) for a in lay.actions), key=lambda t: -t[1])
        shares = [s for s in shares if s[1] > 0]
        bar = share_bar([(a, s, colors[a]) for a, s in shares])
        text = ", ".join(f"{truncate(a, 24)} {pct(s, 0 if s >= 0.01 else 1)}" for a, s in shares[:3])
        text += " \u2026" if len(shares) > 3 else ""
        out.append((*[data[c][i] for c in ev], rows_c[i], pct(w / W), cls[i], major[i], n_act[i],
                    Html(join([bar, tag("span", " " + text, class_="mixtext")]))))
    headers = [*ev, "rows", "share of weight", "class", "majority", "actions", "action mix"]
    k = len(ev)
    shown_legend = [(a, colors[a]) for a in ranked[:MIX_COLORS]]
    if len(ranked) > MIX_COLORS:
        shown_legend.append((f"other ({len(ranked) - MIX_COLORS})", "#7f7f7f"))
    note = (f"{n_mixed:,} fibers carry more than one action; these are the {len(out):,} with the most "
            f"{'weight' if lay.weighted else 'rows'}. For their rows the recorded evidence cannot tell which "
            f"{ctx.parameters.get('action', 'action')} is right.")
    hidden = len(lay.evidence) - len(ev)
    if hidden > 0:
        note += f" ({hidden} more evidence column{'s' if hidden > 1 else ''} in the fiber table.)"
    return section("Top mixed fibers", legend(shown_legend),
                   table(headers, out, numeric=(k, k + 1, k + 4), more=n_mixed - len(out),
                         more_note=" mixed fibers in the fiber table"), note=note)
