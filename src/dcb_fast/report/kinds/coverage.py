"""Report for ``kind: "coverage"``: how much production traffic the benchmark tested, how much of
it has its action determined, and where the uncovered traffic is."""

from __future__ import annotations

from .. import plots
from .. import tables as T
from ..blocks import CLASS_COLORS, PALETTE, Html, cards, figure, num, pct, section, table, truncate
from ..registry import Context, register_kind

MAX_BARS = 30
SPLIT = [("certified", "certified_coverage"), ("ambiguous", "ambiguous_coverage"), ("thin", "thin_coverage"),
         ("unseen", "unseen_fraction")]
UNCOVERED_META = ("rows", "weight", "class", "calibration_rows", "share")


@register_kind("coverage", "dcb coverage report", tables=("uncovered_fibers",))
def render(ctx: Context) -> list:
    return [
        ctx.part("headline numbers", _cards),
        ctx.part("coverage split", _split),
        ctx.part("certified coverage by action", _by_action),
        ctx.part("false decisions", _false_decisions),
        ctx.part("coverage by group", _by),
        ctx.part("top uncovered fibers", _uncovered),
    ]


def _cards(ctx: Context) -> Html:
    m = ctx.metrics
    return cards([
        ("benchmark coverage: traffic whose evidence the benchmark tested", pct(m["benchmark_coverage"]), "bench",
         None),
        ("certified coverage: traffic whose action the evidence determines", pct(m["certified_coverage"]),
         "certified", None),
        ("ambiguous", pct(m.get("ambiguous_coverage")), "ambiguous", "tested, but in mixed fibers"),
        ("thin", pct(m.get("thin_coverage")), "thin", "tested on too few rows"),
        ("unseen", pct(m.get("unseen_fraction")), "unseen", "never tested" + (
            f" ({pct(m['null_evidence_fraction'])} with a null evidence value)" if m.get("null_evidence_fraction")
            else "")),
    ])


def _split(ctx: Context) -> Html:
    m = ctx.metrics
    svg_pair = plots.bars(["benchmark coverage (tested)", "certified coverage (determined)"],
                          [m["benchmark_coverage"], m["certified_coverage"]],
                          colors=[PALETTE[0], CLASS_COLORS["certified"]], xlabel="share of production traffic")
    segs = [(name, CLASS_COLORS[name]) for name, key in SPLIT if key in m]
    svg_split = plots.stacked_shares([("production traffic", [m[key] for _, key in SPLIT if key in m])], segs)
    fallback = table(["", "share of traffic"], [("benchmark coverage", pct(m["benchmark_coverage"]))] +
                     [(name, pct(m[key])) for name, key in SPLIT if key in m], numeric=(1,))
    body = [figure(svg_pair, fallback)]
    if svg_pair:
        body.append(figure(svg_split))
    return section("Tested is not determined", *body, note=(
        "Benchmark coverage counts traffic whose evidence occurs in the calibration table; certified coverage only "
        "the part whose fiber there holds a single action with enough rows. The gap is traffic the benchmark "
        "saw but cannot decide."))


def _by_action(ctx: Context) -> Html:
    d = ctx.metrics.get("certified_coverage_by_action")
    if not d:
        return Html("")
    items = sorted(d.items(), key=lambda kv: -(kv[1] or 0.0))
    shown = items[:MAX_BARS]
    svg = plots.bars([a for a, _ in shown], [v for _, v in shown], colors=[CLASS_COLORS["certified"]] * len(shown),
                     xlabel="share of production traffic certified with this action")
    fallback = table([ctx.parameters.get("action") or "action", "certified coverage"],
                     [(a, pct(v)) for a, v in shown], numeric=(1,))
    return section("Certified coverage by action", figure(svg, fallback),
                   note=f"{len(items) - len(shown):,} actions with less coverage are left out." if len(items) > MAX_BARS
                   else None)


def _false_decisions(ctx: Context) -> Html:
    fd = ctx.metrics.get("false_decisions")
    if not fd:
        return Html("")
    items = list(fd.items())[:MAX_BARS]
    svg = plots.bars([k.replace("_", " ") for k, _ in items], [v for _, v in items],
                     colors=[PALETTE[i % len(PALETTE)] for i in range(len(items))],
                     xlabel="false decisions (share of production traffic)", full_scale=False)
    fallback = table(["policy", "false decisions"], [(k, pct(v, 3)) for k, v in items], numeric=(1,))
    extra = []
    m = ctx.metrics
    if "acquisitions" in m:
        extra.append(f"certify-then-acquire acquires the true action for {pct(m['acquisitions'])} of the traffic")
    if "error_among_certified" in m:
        extra.append(f"error among certified traffic {pct(m['error_among_certified'], 3)}")
    return section("False decisions", figure(svg, fallback), note=(
        "Errors of acting on the certificate, on the calibration fiber's majority and on the global majority, where "
        "production has the true action" + ("; " + "; ".join(extra) if extra else "") + "."))


def _group_value(row: dict, by) -> object:
    if "value" in row:
        return row["value"]
    if by and by in row:
        return row[by]
    return next(iter(row.values()))


def _by(ctx: Context) -> Html:
    rows = ctx.metrics.get("by")
    if not rows:
        return Html("")
    by = ctx.parameters.get("by")
    weighted = any("total_weight" in r for r in rows)
    ranked = sorted(rows, key=lambda r: -(r.get("total_weight") or 0.0)) if weighted else rows
    plotted = ranked[:MAX_BARS]
    svg = plots.grouped_bars([_group_value(r, by) for r in plotted], [
        ("benchmark coverage", [r["benchmark_coverage"] for r in plotted], PALETTE[0]),
        ("certified coverage", [r["certified_coverage"] for r in plotted], CLASS_COLORS["certified"]),
    ], ylabel="share of the group's traffic")
    shown = ranked[: ctx.top_k]
    table_rows = [(_group_value(r, by), num(r.get("total_weight")), pct(r["benchmark_coverage"]),
                   pct(r["certified_coverage"]), *[pct(r.get(key)) for _, key in SPLIT[1:]]) for r in shown]
    tab = table([by or "group", "weight", "benchmark coverage", "certified coverage", *[n for n, _ in SPLIT[1:]]],
                table_rows, numeric=range(1, 7), more=len(rows) - len(shown), more_note=" groups in summary.json")
    cap = f"The {MAX_BARS} heaviest groups." if len(rows) > MAX_BARS else None
    return section(f"Coverage by {by or 'group'}", figure(svg, caption=cap) if svg else Html(""), tab)


def _uncovered(ctx: Context) -> Html:
    # the full table of uncovered fibers when the run or the result directory has it, else the
    # summary's own top list
    full = ctx.tables.get("uncovered") or ctx.tables.get("uncovered_fibers")
    if full is not None and "weight" in full.column_names:
        top, n = T.top_rows(full, ctx.top_k)
        shown, total = [{k: _plain(v) for k, v in r.items()} for r in top.to_pylist()], n
    else:
        rows = ctx.metrics.get("top_uncovered")
        shown, total = (rows or [])[: ctx.top_k], len(rows or [])
    if not shown:
        return Html("")
    ev = [k for k in shown[0] if k not in UNCOVERED_META][:8]
    W = ctx.metrics.get("total_weight")
    has_calib = any("calibration_rows" in r for r in shown)
    headers = [*ev, "weight", *(["share of traffic"] if W else []), "class",
               *(["calibration rows"] if has_calib else [])]
    out = []
    for r in shown:
        w = r.get("weight")
        out.append((*[r.get(c) for c in ev], num(w), *([pct(w / W if w is not None else None)] if W else []),
                    r.get("class"), *([r.get("calibration_rows")] if has_calib else [])))
    k = len(ev)
    return section("Top uncovered fibers", table(headers, out, numeric=(k, k + 1) if W else (k,),
                                                 more=total - len(shown), more_note=" uncovered fibers"),
                   note="Production fibers by traffic whose action the benchmark does not determine: where "
                        "acquiring labels or adding probes pays most." + (
                            f" {truncate(', '.join(ev), 80)} are the evidence columns." if ev else ""))


def _plain(v):
    return v.hex() if isinstance(v, (bytes, bytearray)) else v
