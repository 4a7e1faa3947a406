"""Report for ``kind: "completion"``: the completion curve (probes added one by one) and the
recommended next probe."""

from __future__ import annotations

from .. import plots
from ..blocks import CLASS_COLORS, Html, cards, figure, num, pct, section, table
from ..registry import Context, register_kind


@register_kind("completion", "dcb completion report")
def render(ctx: Context) -> list:
    return [ctx.part("headline numbers", _cards), ctx.part("completion curve", _curve)]


def _cards(ctx: Context) -> Html:
    m = ctx.metrics
    curve = m.get("curve") or []
    first = curve[0].get("certifiable_fraction") if curve else None
    last = curve[-1].get("certifiable_fraction") if curve else None
    cost = m["completion_cost"]
    return cards([
        ("recommended next probe", str(m["recommended_probe"]) if m["recommended_probe"] is not None else "none",
         "certified", None),
        ("completion cost", num(cost) if cost is not None else "not reached", None,
         "probes (or summed probe cost) to reach the target"),
        ("certifiable before", pct(first), None, None),
        ("certifiable after the last probe", pct(last), "certified", f"{max(0, len(curve) - 1)} probes added"),
    ])


def _curve(ctx: Context) -> Html:
    curve = ctx.metrics["curve"]
    if not curve:
        return section("Completion curve", note="The curve is empty.")
    steps = [c.get("step", i) for i, c in enumerate(curve)]
    ticks = [("start" if c.get("probe") is None else f"+ {c['probe']}") for c in curve]
    series = [(name, [c.get(key) for c in curve], CLASS_COLORS[name]) for name, key in
              [("certified", "certifiable_fraction"), ("ambiguous", "ambiguous_fraction"), ("thin", "thin_fraction")]
              if any(key in c for c in curve)]
    svg = plots.lines(steps, series, xlabel="probes added", ylabel="share of weight", xticklabels=ticks)
    shown = curve[: max(ctx.top_k, 1)]
    rows = [(c.get("step", i), "\u2013" if c.get("probe") is None else c["probe"], num(c.get("cost")),
             pct(c.get("certifiable_fraction")), pct(c.get("ambiguous_fraction")), pct(c.get("thin_fraction")),
             c.get("n_fibers"), c.get("n_mixed_fibers")) for i, c in enumerate(shown)]
    tab = table(["step", "probe", "cost", "certified", "ambiguous", "thin", "fibers", "mixed fibers"], rows,
                numeric=(0, 2, 3, 4, 5, 6, 7), more=len(curve) - len(shown))
    cert = [c.get("certifiable_fraction") for c in curve]
    falls = [i for i in range(1, len(cert)) if cert[i] is not None and cert[i - 1] is not None
             and cert[i] < cert[i - 1]]
    note = ("Each step adds the probe (a further evidence column) that certifies the most weight. With a minimum "
            "support above 1 the curve can fall: a finer key splits fibers into thin ones.")
    if falls:
        note += f" Here it falls at step{'s' if len(falls) > 1 else ''} {', '.join(str(steps[i]) for i in falls)}."
    return section("Completion curve", figure(svg), tab, note=note)
