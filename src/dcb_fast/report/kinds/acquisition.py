"""Report for ``kind: "acquisition"``: the probe-acquisition replay, one held-out curve per
policy (mean certified fraction by step) and the per-step table."""

from __future__ import annotations

from .. import plots
from ..blocks import PALETTE, Html, cards, figure, pct, section, table
from ..registry import Context, register_kind


@register_kind("acquisition", "dcb acquisition report")
def render(ctx: Context) -> list:
    return [ctx.part("headline numbers", _cards), ctx.part("held-out curves", _curves)]


def _mean(steps, j, key="certified_fraction"):
    return (steps[j].get(key) or {}).get("mean") if j < len(steps) else None


def _cards(ctx: Context) -> Html:
    pol = ctx.metrics["policies"]
    items = []
    for name, steps in list(pol.items())[:4]:
        first = steps[1] if len(steps) > 1 else {}
        items.append((f"{name.replace('_', ' ')}: after one probe", pct(_mean(steps, 1)), None,
                      f"modal pick {first.get('modal_probe', '-')}; {pct(_mean(steps, 0))} with the evidence alone"))
    return cards(items)


def _curves(ctx: Context) -> Html:
    pol = ctx.metrics["policies"]
    if not pol:
        return section("Held-out curves", note="No policy was replayed.")
    n = max(len(s) for s in pol.values())
    xs = list(range(n))
    series = [(name.replace("_", " "), [_mean(steps, j) for j in xs], PALETTE[i % len(PALETTE)])
              for i, (name, steps) in enumerate(pol.items())]
    svg = plots.lines(xs, series, xlabel="probes added", ylabel="held-out certified (mean)")
    rows = []
    for name, steps in pol.items():
        for s in steps:
            cf, err = s.get("certified_fraction") or {}, s.get("error_among_certified") or {}
            rows.append((name.replace("_", " "), s.get("step"), s.get("modal_probe", "\u2013"),
                         s.get("modal_count", "\u2013"), pct(cf.get("mean")), f"{pct(cf.get('p10'))}\u2013{pct(cf.get('p90'))}",
                         pct((s.get("false_decisions") or {}).get("mean"), 3), pct(err.get("mean"))))
    tab = table(["policy", "step", "modal probe", "splits", "certified", "p10\u2013p90", "false decisions",
                 "error among certified"], rows, numeric=(1, 3, 4, 6, 7))
    note = ("Each policy orders the probes on the calibration part of a split; the order is frozen and every step "
            "is scored on the held-out part. The oracle chooses with test labels: an upper bound, not deployable.")
    return section("Held-out curves", figure(svg), tab, note=note)
