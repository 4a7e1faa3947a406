"""Report for ``kind: "replay"``: certify-then-acquire against acting on the benchmark, over
held-out splits, and the cost of acquisitions (break-even lambda)."""

from __future__ import annotations

from .. import plots
from ..blocks import PALETTE, Html, cards, figure, num, pct, section, table
from ..registry import Context, register_kind

STATS = ("certified_fraction", "error_among_certified", "false_decisions", "acquisitions")
MAX_POLICIES = 20


@register_kind("replay", "dcb replay report")
def render(ctx: Context) -> list:
    return [ctx.part("headline numbers", _cards), ctx.part("policies", _policies), ctx.part("slices", _slices),
            ctx.part("cost curve", _cost)]


def _mean(stat) -> float | None:
    return stat.get("mean") if isinstance(stat, dict) else stat


def _cards(ctx: Context) -> Html:
    m = ctx.metrics
    pol = m["policies"]
    lam = m["break_even_lambda"]
    items = [("break-even \u03bb*", pct(lam) if lam is not None else "\u2013", "certified",
              "certify-then-acquire pays while one acquisition costs less than \u03bb* false decisions")]
    for name in list(pol)[:4]:
        fd = _mean(pol[name].get("false_decisions"))
        items.append((f"false decisions: {name.replace('_', ' ')}", pct(fd, 3), None, "mean over splits"))
    return cards(items)


def _policies(ctx: Context) -> Html:
    pol = ctx.metrics["policies"]
    names = list(pol)[:MAX_POLICIES]
    fds = [pol[n].get("false_decisions") or {} for n in names]
    svg = plots.bars([n.replace("_", " ") for n in names], [_mean(f) for f in fds],
                     colors=[PALETTE[i % len(PALETTE)] for i in range(len(names))],
                     xlabel="false decisions over all test rows (mean; whiskers p10\u2013p90)",
                     errors=([f.get("p10") for f in fds], [f.get("p90") for f in fds]), full_scale=False)

    def stat(s):
        if not isinstance(s, dict):
            return pct(s, 3) if isinstance(s, float) else s
        return f"{pct(s.get('mean'), 3)} (median {pct(s.get('median'), 3)}, p10\u2013p90 {pct(s.get('p10'), 3)}" \
               f"\u2013{pct(s.get('p90'), 3)})"

    rows = [(n, *[stat(pol[n].get(k)) for k in STATS]) for n in names]
    return section("Policies over held-out splits", figure(svg), table(
        ["policy", *[k.replace("_", " ") for k in STATS]], rows, more=len(pol) - len(names)), note=(
        "Certify only acts on certified rows; fiber and global majority act on every row; certify then acquire "
        "uses the certificate where it holds and acquires the true action elsewhere."))


def _cost(ctx: Context) -> Html:
    m = ctx.metrics
    curve = m.get("cost_curve")
    if not curve:
        return Html("")
    xs = [c["lambda"] for c in curve]
    lam = m.get("break_even_lambda")
    svg = plots.lines(xs, [("act on the benchmark", [c.get("base_cost") for c in curve], PALETTE[3]),
                           ("certify then acquire", [c.get("acquire_cost") for c in curve], PALETTE[2])],
                      xlabel="\u03bb: cost of one acquisition in false decisions", ylabel="cost per row",
                      percent=False, vline=lam, vline_label="break-even" if lam is not None else None, xlog=True)
    step = max(1, len(curve) // 25)  # a long curve is plotted in full but tabulated sparsely
    rows = [(num(c["lambda"]), num(c.get("base_cost")), num(c.get("acquire_cost")), pct(c.get("reduction")))
            for c in curve[::step]]
    fallback = table(["\u03bb", "act on the benchmark", "certify then acquire", "reduction"], rows,
                     numeric=(0, 1, 2, 3))
    caption = "Below the break-even \u03bb* certify-then-acquire costs less than acting on the benchmark."
    return section("Cost of acquiring", figure(svg, fallback, caption=caption))


def _slices(ctx: Context) -> Html:
    by = ctx.metrics.get("by")
    if not by:
        return Html("")
    shown = by[:ctx.top_k]
    rows = [(b["value"], f"{b['n_rows']:,}", pct(_mean(b["test_share"])),
             pct(_mean(b["policies"]["certify_only"]["certified_fraction"])),
             pct(_mean(b["policies"]["fiber_majority"]["false_decisions"]), 3),
             pct(_mean(b["policies"]["certify_then_acquire"]["false_decisions"]), 3),
             pct(_mean(b["policies"]["certify_then_acquire"]["acquisitions"]))) for b in shown]
    return section(f"Per {ctx.parameters.get('by')}", table(
        ["value", "rows", "test share", "certified", "false decisions: fiber majority",
         "false decisions: certify then acquire", "acquired"], rows, more=len(by) - len(shown)),
        note="Means over the splits; each value's figures are over its own test rows, under the certificate of "
             "all calibration rows of the split.")
