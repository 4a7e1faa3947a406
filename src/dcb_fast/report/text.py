"""Readable terminal tables for summaries."""

from __future__ import annotations


def pct(x: float) -> str:
    return f"{100.0 * x:6.2f}%"


def render_audit(summary: dict) -> str:
    p, m, inp = summary["parameters"], summary["metrics"], summary["input"]
    files = inp.get("files") or []
    src = f"{len(files)} file{'s' if len(files) != 1 else ''}" if files else "in-memory table"
    lines = [
        f"dcb audit  evidence: {', '.join(p['evidence'])}  action: {p['action']}"
        + (f"  weight: {p['weight']}" if p.get("weight") else ""),
        f"  input        {src}, {m['n_rows']:,} rows used, {m['dropped_rows']:,} dropped"
        + (f" (total weight {m['total_weight']:,.6g})" if p.get("weight") else ""),
        f"  fibers       {m['n_fibers']:,}  mixed {m['n_mixed_fibers']:,} ({m['mixed_fiber_fraction']:.1%})"
        + (f"  thin {m['n_thin_fibers']:,} (support < {p['min_support']})" if p["min_support"] > 1 else ""),
        "",
        f"  certified    {pct(m['certifiable_fraction'])}   " + _by_action(m, "certified_rows"),
        f"  ambiguous    {pct(m['ambiguous_fraction'])}",
        f"  thin         {pct(m['thin_fraction'])}",
        f"  decision risk {pct(m['decision_risk'])[1:]}  (error of acting on each fiber's majority)",
        "  prevalence   " + "  ".join(f"{a}: {m['prevalence'][a]:.2%}" for a in m["actions"][:8])
        + ("  ..." if len(m["actions"]) > 8 else ""),
        f"  fiber size   median {m['fiber_size']['median']:g}, p90 {m['fiber_size']['p90']:g}, max {m['fiber_size']['max']:,}",
        "",
        "  " + summary["headline"],
    ]
    return "\n".join(lines)


def _by_action(m: dict, key: str) -> str:
    items = [f"{a}={m[key][a]:,}" for a in m["actions"][:6]]
    if len(m["actions"]) > 6:
        items.append("...")
    return "(rows by action: " + ", ".join(items) + ")"
