"""Turn pytest-benchmark JSON files (``--benchmark-json``) from ``bench/`` into the README's
performance tables (Markdown): per workload our median, each baseline's median, rows/s, the ratio
to the faster baseline and whether the goal (``bench/goals.py``, carried in every benchmark's
``extra_info``) is met, or the gap stated plainly; then memory, streaming and cold starts; the
machine and the date on top.

    python scripts/bench_report.py bench.json [scale.json ...] > table.md
    python scripts/bench_report.py bench.json -o table.md   # then paste into README "Performance"

Several files merge in order: a benchmark that occurs again (a re-run of a disturbed one) takes
the later file's figures.
"""

from __future__ import annotations

import argparse
import json
import sys

GiB = 1 << 30
OURS = "dcb_fast"
ENGINE_NAMES = {"dcb_fast": "dcb_fast", "duckdb": "DuckDB", "polars": "Polars", "pyarrow": "pyarrow",
                "numpy": "numpy", "pyarrow-read": "pyarrow read only", "numpy-copy": "numpy copy",
                "touch": "touch the used columns"}
SPEED_ORDER = ["audit_file", "audit_memory", "audit_ipc", "completion", "coverage", "knn", "window", "replay_compare"]


def load(paths: list[str]) -> tuple[dict, list[dict]]:
    """Machine info and datetimes of the runs, and the benchmarks (later files win)."""
    machine, dates, by_key, commits = {}, [], {}, set()
    for p in paths:
        with open(p) as f:
            data = json.load(f)
        machine = data.get("machine_info") or machine
        if data.get("datetime"):
            dates.append(data["datetime"])
        ci = data.get("commit_info") or {}
        if ci.get("id"):
            commits.add(ci["id"][:7] + (" (with uncommitted changes)" if ci.get("dirty") else ""))
        for b in data.get("benchmarks", []):
            info = b.get("extra_info") or {}
            if "workload" not in info:
                continue  # benchmarks of other suites (e.g. bench/test_dask.py)
            by_key[(b.get("fullname") or b["name"])] = b
    return {"machine": machine, "dates": dates, "commits": sorted(commits)}, list(by_key.values())


def seconds(b: dict) -> float:
    """The figure we judge: the child-measured call time when there is one, else the median."""
    info = b["extra_info"]
    return info["seconds"] if info.get("seconds") is not None else b["stats"]["median"]


def fmt_time(s: float | None) -> str:
    if s is None:
        return "-"
    if s < 1:
        return f"{s * 1000:.0f} ms" if s >= 0.01 else f"{s * 1000:.1f} ms"
    return f"{s:.2f} s" if s < 100 else f"{s:.0f} s"


def fmt_rate(x: float | None, unit: str = "rows/s") -> str:
    """``2.5 M rows/s``, or with ``unit="B/s"`` ``12.7 GB/s`` (decimal prefixes)."""
    if not x:
        return "-"
    for prefix, d in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= d:
            return f"{x / d:.3g} {prefix}B/s" if unit == "B/s" else f"{x / d:.3g} {prefix} {unit}"
    return f"{x:.0f} {unit}"


def fmt_bytes(x: float | None) -> str:
    return "-" if x is None else f"{x / GiB:.2f} GiB" if x >= GiB / 4 else f"{x / 2**20:.0f} MiB"


def by_workload(benchmarks: list[dict]) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for b in benchmarks:
        info = b["extra_info"]
        out.setdefault(info["workload"], {})[info["engine"]] = b
    return out


def speed_row(workload: str, entries: dict[str, dict]) -> list[str] | None:
    ours = entries.get(OURS)
    if ours is None:
        return None
    info = ours["extra_info"]
    goal = info["goal"]
    t = seconds(ours)
    vs = goal.get("vs", ["duckdb", "polars"])
    base = {e: seconds(b) for e, b in entries.items() if e != OURS and not b["extra_info"].get("reference_only")}
    goal_base = {e: s for e, s in base.items() if e in vs}
    cells = [goal["title"], f"{info['rows']:,}", fmt_time(t)]
    cells += [fmt_time(goal_base.get(e)) for e in ("duckdb", "polars")]
    others = [f"{ENGINE_NAMES.get(e, e)} {fmt_time(s)}" for e, s in sorted(base.items()) if e not in vs]
    others += [f"{ENGINE_NAMES.get(e, e)} {fmt_time(seconds(b))}" for e, b in sorted(entries.items())
               if b["extra_info"].get("reference_only")]
    cells.append("; ".join(others) or "-")
    cells.append(fmt_rate(info.get("rows_per_s")))
    if goal_base:
        best_e = min(goal_base, key=goal_base.get)
        ratio = goal_base[best_e] / t
        cells.append(f"{ratio:.2f}x ({ENGINE_NAMES[best_e]})")
    else:
        ratio = None
        cells.append("-")
    fastest = min(base.items(), key=lambda kv: kv[1]) if base else None
    if goal["kind"] == "speedup":
        cells.append(f">= {goal['min']:g}x")
        if ratio is None:
            cells.append("not measured (no DuckDB/Polars run)")
        elif ratio >= goal["min"]:
            cells.append("**yes**")
        else:
            need = goal_base[min(goal_base, key=goal_base.get)] / goal["min"]
            cells.append(f"**no**: {ratio:.2f}x of {goal['min']:g}x; needs {fmt_time(need)} "
                         f"({(1 - need / t):.0%} less time)")
    else:
        cells.append("report the ratio")
        note = f"{fastest[1] / t:.2f}x vs the fastest ({ENGINE_NAMES.get(fastest[0], fastest[0])})" if fastest else "-"
        cells.append(note)
    return cells


def speed_table(work: dict) -> list[str]:
    head = ["workload", "rows", "dcb_fast", "DuckDB", "Polars", "other baselines", "dcb_fast rows/s",
            "speed-up vs faster of DuckDB/Polars", "goal", "met?"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for w in SPEED_ORDER:
        row = speed_row(w, work.get(w, {}))
        if row:
            lines.append("| " + " | ".join(row) + " |")
    return lines


def other_table(work: dict) -> list[str]:
    lines = ["| measurement | result | goal | met? |", "|---|---|---|---|"]

    def add(what, result, goal="-", met="-"):
        lines.append(f"| {what} | {result} | {goal} | {met} |")

    bw = work.get("memory_bandwidth", {}).get("numpy-copy")
    mem = work.get("audit_memory", {}).get(OURS)
    if bw:
        add(bw["extra_info"]["goal"]["title"], fmt_rate(bw["extra_info"]["bytes_per_s"], "B/s") + " (read + write)")
    if mem:
        i = mem["extra_info"]
        share = f"; {i['bytes_per_s'] / bw['extra_info']['bytes_per_s']:.1%} of the copy bandwidth" if bw else ""
        add("audit, in-memory table: input columns consumed",
            f"{fmt_rate(i['rows_per_s'])}, {fmt_rate(i['bytes_per_s'], 'B/s')} ({i['bytes'] / i['rows']:.0f} B/row){share}")
    rep = work.get("replay", {}).get(OURS)
    if rep:
        add(f"{rep['extra_info']['goal']['title']}, {rep['extra_info']['rows']:,} rows",
            f"{fmt_time(seconds(rep))} ({fmt_rate(rep['extra_info']['rows_per_s'])})", "time and peak memory", "reported")
    for e, b in sorted(work.get("replay_memory", {}).items(), key=lambda kv: kv[0] != OURS):
        i = b["extra_info"]
        add(f"replay, peak RSS of a fresh process: {ENGINE_NAMES.get(e, e)}, {i['splits']} splits",
            f"{fmt_bytes(i['peak_rss'])} ({fmt_time(i['seconds'])} for the call)", "time and peak memory", "reported")
    ref = work.get("stream_reference", {}).get(OURS)
    big = work.get("stream_big", {}).get(OURS)
    if ref:
        i = ref["extra_info"]
        add(f"audit streamed from Parquet in a fresh process, {i['rows']:,} rows",
            f"{fmt_time(i['seconds'])}, {fmt_rate(i['rows_per_s'])}, peak RSS {fmt_bytes(i['peak_rss'])}")
    if big:
        i, g = big["extra_info"], big["extra_info"]["goal"]
        ok_mem = i["peak_rss"] < g["max_rss"]
        add(f"audit streamed from Parquet in a fresh process, {i['rows']:,} rows: peak RSS",
            fmt_bytes(i["peak_rss"]), f"< {fmt_bytes(g['max_rss'])}",
            "**yes**" if ok_mem else f"**no**: {fmt_bytes(i['peak_rss'] - g['max_rss'])} over")
        if ref:
            r = i["rows_per_s"] / ref["extra_info"]["rows_per_s"]
            add(f"... throughput vs {ref['extra_info']['rows']:,} rows",
                f"{fmt_rate(i['rows_per_s'])} ({fmt_time(i['seconds'])}), {r:.0%} of the smaller input's rows/s",
                f">= {g['min_throughput_ratio']:.0%}",
                "**yes**" if r >= g["min_throughput_ratio"] else f"**no**: {g['min_throughput_ratio'] - r:.0%} short")
    else:
        add("audit streamed from Parquet, 100M rows", "not run in this report (pass --bench-rows-big)",
            "< 1.50 GiB; >= 80% of the 10M rows/s", "not measured")
    for w in ("cold_warm", "cold_first"):
        b = work.get(w, {}).get(OURS)
        if not b:
            continue
        g = b["extra_info"]["goal"]
        s = b["stats"]
        t = s["median"]
        add(g["title"], f"median {fmt_time(t)} of {s['rounds']} (min {fmt_time(s['min'])}, max {fmt_time(s['max'])})",
            f"< {fmt_time(g['max'])}", "**yes**" if t < g["max"] else f"**no**: {fmt_time(t - g['max'])} over "
            f"({t / g['max']:.1f}x the goal)")
    return lines


def machine_line(meta: dict) -> str:
    m = meta["machine"] or {}
    dm = m.get("dcb_machine") or {}
    cpu = dm.get("cpu") or (m.get("cpu") or {}).get("brand_raw") or "unknown CPU"
    cores = dm.get("cores") or (m.get("cpu") or {}).get("count")
    mem = f", {dm['memory_bytes'] / GiB:.1f} GiB RAM" if dm.get("memory_bytes") else ""
    dates = sorted(d[:10] for d in meta["dates"])
    when = dates[0] if dates and dates[0] == dates[-1] else (f"{dates[0]} to {dates[-1]}" if dates else "unknown date")
    ver = m.get("dcb_versions") or {}
    vers = ", ".join(f"{k} {v}" for k, v in ver.items())
    py = m.get("python_version") or dm.get("python")
    commits = meta.get("commits") or []
    at = f" at commit {', '.join(commits)}" if commits else ""
    return (f"Machine: {cpu}, {cores} cores{mem}; {m.get('system', '')} {m.get('release', '')}, Python {py}"
            + (f"; {vers}" if vers else "") + f". Measured {when}{at}.")


def report(paths: list[str]) -> str:
    meta, benchmarks = load(paths)
    work = by_workload(benchmarks)
    rounds = sorted({b["stats"]["rounds"] for b in benchmarks})
    out = [machine_line(meta), "",
           f"Times are medians over {'/'.join(map(str, rounds))} rounds of the same run; every baseline's numbers "
           "were checked against ours before its time was recorded.", ""]
    out += speed_table(work) + [""] + other_table(work)
    return "\n".join(out) + "\n"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("json", nargs="+", help="pytest-benchmark JSON files (later ones win on repeats)")
    ap.add_argument("-o", "--output", help="write the Markdown here instead of stdout")
    args = ap.parse_args(argv)
    text = report(args.json)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main()
