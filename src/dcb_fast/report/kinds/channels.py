"""Report for ``kind: "channels"``: coverage of a benchmark-calibrated interval on the benchmark
channel, on the deployment channel (transfer), and of an oracle interval; per group with
Mondrian calibration."""

from __future__ import annotations

from .. import plots
from ..blocks import CLASS_COLORS, PALETTE, Html, cards, figure, num, pct, section, table
from ..registry import Context, register_kind

COLORS = {"benchmark": PALETTE[0], "transfer": CLASS_COLORS["ambiguous"], "oracle": CLASS_COLORS["certified"]}
MAX_GROUPS_PLOTTED = 30


@register_kind("channels", "dcb channels report")
def render(ctx: Context) -> list:
    return [
        ctx.part("headline numbers", _cards),
        ctx.part("coverage", _coverage),
        ctx.part("groups", _groups),
    ]


def _cards(ctx: Context) -> Html:
    m, p = ctx.metrics, ctx.parameters
    return cards([
        (f"benchmark coverage (calibrated and tested on {p.get('bench_label', 'benchmark labels')})",
         pct(m["benchmark_coverage"]), "bench", f"width {num(m.get('width_bench'))}"),
        (f"transfer coverage (same interval on {p.get('deploy_label', 'deployment labels')})",
         pct(m["transfer_coverage"]), "ambiguous", f"gap {pct(m.get('coverage_gap'))}"),
        ("oracle coverage (calibrated on the deployment labels)", pct(m["deployment_coverage"]), "certified",
         f"width {num(m.get('width_deploy'))}"),
        ("target", pct(m["target_coverage"]), None,
         f"{num(m.get('n_calibration'))} calibration / {num(m.get('n_test'))} test rows"),
    ])


def _coverage(ctx: Context) -> Html:
    m, p = ctx.metrics, ctx.parameters
    labels = [f"benchmark: calibrated on {p.get('bench_label', '?')}", f"transfer: same interval on "
              f"{p.get('deploy_label', '?')}", f"oracle: calibrated on {p.get('deploy_label', '?')}"]
    vals = [m["benchmark_coverage"], m["transfer_coverage"], m["deployment_coverage"]]
    widths = [m.get("width_bench"), m.get("width_bench"), m.get("width_deploy")]
    svg = plots.bars(labels, vals, colors=list(COLORS.values()), xlabel="coverage of test labels",
                     ref=m["target_coverage"], ref_label="target")
    fallback = table(["interval", "coverage", "width"],
                     [(lab, pct(v), num(w)) for lab, v, w in zip(labels, vals, widths)], numeric=(1, 2))
    return section("Coverage on each channel", figure(svg, fallback), note=(
        "An interval calibrated on benchmark labels covers about the target share of fresh benchmark labels; "
        "the transfer bar is what it covers of deployment labels. The oracle is calibrated on deployment labels."))


def _groups(ctx: Context) -> Html:
    m, p = ctx.metrics, ctx.parameters
    groups = m.get("groups")
    if not groups:
        return Html("")
    mo = m.get("mondrian") or {}
    parts = []
    if mo:
        parts.append(cards([
            ("pooled benchmark coverage (Mondrian)", pct(mo.get("benchmark_coverage")), "bench", None),
            ("pooled transfer coverage", pct(mo.get("transfer_coverage")), "ambiguous", None),
            ("pooled oracle coverage", pct(mo.get("deployment_coverage")), "certified", None),
        ]))
    ranked = sorted(groups, key=lambda g: -(g.get("n_test") or 0))
    plotted = ranked[:MAX_GROUPS_PLOTTED]
    svg = plots.grouped_bars([g["group"] for g in plotted], [
        ("benchmark", [g["benchmark_coverage"] for g in plotted], COLORS["benchmark"]),
        ("transfer", [g["transfer_coverage"] for g in plotted], COLORS["transfer"]),
        ("oracle", [g["deployment_coverage"] for g in plotted], COLORS["oracle"]),
    ], ylabel="coverage", ref=m.get("target_coverage"))
    if svg:
        cap = "Coverage per group" + (f" (the {MAX_GROUPS_PLOTTED} largest groups by test rows)"
                                      if len(groups) > MAX_GROUPS_PLOTTED else "")
        parts.append(figure(svg, caption=cap + "; dashed line: target."))
    shown = ranked[: ctx.top_k]
    rows = [(g["group"], g["n_calibration"], g["n_test"], pct(g["benchmark_coverage"]), pct(g["transfer_coverage"]),
             pct(g["deployment_coverage"]), num(None if g.get("q_bench") is None else 2 * g["q_bench"]),
             num(None if g.get("q_deploy") is None else 2 * g["q_deploy"]), "too small" if g.get("too_small") else "")
            for g in shown]
    parts.append(table([p.get("group_by") or "group", "calibration", "test", "benchmark", "transfer", "oracle",
                        "width (bench)", "width (deploy)", ""], rows, numeric=range(1, 8),
                       more=len(groups) - len(shown),
                       more_note=" groups in summary.json"))
    return section(f"Per {p.get('group_by') or 'group'} (one interval per group)", *parts, note=(
        "Groups with too few calibration rows for the level alpha carry no coverage guarantee."))
