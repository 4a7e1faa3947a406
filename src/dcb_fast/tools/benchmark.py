"""The headline benchmark behind ``dcb bench``: the audit of a seeded request log, ours against the
query a user would otherwise write in DuckDB, Polars or pyarrow, on the same Parquet file in the
same run, with a check that every engine computes the same numbers.

The baselines live here, not in the repository's ``bench/`` folder, because the installed package
cannot import ``bench/``; ``bench/cases.py`` imports them from this module (one copy). DuckDB and
Polars are optional (the ``bench`` extra): an engine that is not installed is reported as missing,
never an error. pyarrow is a core dependency, so its baseline always runs.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import statistics
import tempfile
import time

from .synth import EVIDENCE
from ..methods.audit import audit
from .._jit import default_threads
from .synth import write_log
from ..errors import DcbError

ACTION = "route"
WEIGHT = "requests"
BASELINE_ENGINES = ["duckdb", "polars", "pyarrow"]
INSTALL_HINT = "pip install 'dcb-fast[bench]'"


# -- the audit, four ways: fibers, mixed fibers, certified weight, decision risk, total weight ---------

def audit_ours(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, threads=None) -> dict:
    """Our audit, reduced to the numbers every baseline computes exactly."""
    m = audit(source, evidence=list(evidence), action=action, weight=weight, threads=threads).metrics
    return {"fibers": m["n_fibers"], "mixed": m["n_mixed_fibers"],
            "certified": m["certifiable_fraction"] * m["total_weight"],
            "risk": m["decision_risk"] * m["total_weight"], "total": m["total_weight"]}


def audit_duckdb(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT) -> dict:
    """The audit as one DuckDB query: cells (fiber, action) then fibers (``source``: a Parquet
    path or an Arrow table)."""
    import duckdb

    con = duckdb.connect()
    try:
        if isinstance(source, (str, os.PathLike)):
            rel = f"read_parquet('{os.fspath(source)}')"
        else:
            con.register("t", source)
            rel = "t"
        ev = ", ".join(f'"{c}"' for c in evidence)
        q = f"""
        with cells as (select {ev}, "{action}", sum("{weight}") w from {rel} group by all),
             fib as (select {ev}, sum(w) w, max(w) wmax, count(*) nact from cells group by all)
        select count(*) fibers, count(*) filter (where nact > 1) mixed,
               coalesce(sum(w) filter (where nact = 1), 0) certified, sum(w - wmax) risk, sum(w) total from fib"""
        row = con.sql(q).fetchall()[0]
    finally:
        con.close()
    return dict(zip(["fibers", "mixed", "certified", "risk", "total"], row))


def audit_polars(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT) -> dict:
    """The audit as one lazy Polars query (streaming scan of the file, or the Arrow table)."""
    import polars as pl

    evidence = list(evidence)
    lf = pl.scan_parquet(os.fspath(source)) if isinstance(source, (str, os.PathLike)) else pl.from_arrow(source).lazy()
    cells = lf.group_by(evidence + [action]).agg(pl.col(weight).sum().alias("w"))
    fib = cells.group_by(evidence).agg(pl.col("w").sum().alias("w"), pl.col("w").max().alias("wmax"),
                                       pl.len().alias("nact"))
    out = fib.select(pl.len().alias("fibers"), (pl.col("nact") > 1).sum().alias("mixed"),
                     pl.col("w").filter(pl.col("nact") == 1).sum().alias("certified"),
                     (pl.col("w") - pl.col("wmax")).sum().alias("risk"), pl.col("w").sum().alias("total"))
    return out.collect().to_dicts()[0]


def audit_pyarrow(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT) -> dict:
    """The audit with pyarrow's group-by (read the needed columns, two aggregations)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    evidence = list(evidence)
    t = (pq.read_table(os.fspath(source), columns=evidence + [action, weight])
         if isinstance(source, (str, os.PathLike)) else source)
    cells = t.group_by(evidence + [action]).aggregate([(weight, "sum")])
    fib = cells.group_by(evidence).aggregate([(f"{weight}_sum", "sum"), (f"{weight}_sum", "max"),
                                              (f"{weight}_sum", "count")])
    w, wmax, nact = fib[f"{weight}_sum_sum"], fib[f"{weight}_sum_max"], fib[f"{weight}_sum_count"]
    pure = pc.equal(nact, 1)
    return {"fibers": fib.num_rows, "mixed": fib.num_rows - pc.sum(pure).as_py(),
            "certified": pc.sum(pc.filter(w, pure)).as_py() or 0,
            "risk": pc.sum(pc.subtract(w, wmax)).as_py(), "total": pc.sum(w).as_py()}


def audit_compare(ours: dict, other: dict) -> None:
    """Raise AssertionError unless two audit results agree: counts exactly, weights within 1e-9
    (relative; ours are exact fractions times an exact total, the baselines' integer sums)."""
    assert ours["fibers"] == other["fibers"], ("fibers", ours, other)
    assert ours["mixed"] == other["mixed"], ("mixed", ours, other)
    for k in ("certified", "risk", "total"):
        a, b = float(ours[k]), float(other[k])
        assert abs(a - b) <= 1e-9 * max(1.0, abs(b)), (k, ours, other)


AUDIT_BASELINES = {"duckdb": audit_duckdb, "polars": audit_polars, "pyarrow": audit_pyarrow}


# -- the command behind ``dcb bench`` --------------------------------------------------------------------

def missing_engines(engines=BASELINE_ENGINES) -> dict[str, str]:
    """Baseline engines that cannot run here, with the reason (``{}`` when all are installed)."""
    return {e: f"not installed ({INSTALL_HINT})" for e in engines if importlib.util.find_spec(e) is None}


def machine() -> dict:
    """CPU model, usable cores and memory of this machine (Linux; best effort elsewhere)."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        mem = None

    return {"cpu": cpu, "cores": default_threads(), "memory_bytes": mem, "python": platform.python_version()}


def log_path(rows: int, directory: str, seed: int = 0) -> str:
    """The generated log for ``rows`` rows in ``directory`` (written by the seeded generator on
    first use, reused after)."""
    path = os.path.join(directory, f"dcb_bench_log_{rows}_s{seed}.parquet")
    if not os.path.exists(path):
        write_log(path, rows=rows, seed=seed, row_group_rows=min(rows, 1 << 20))
    return path


def run(rows: int = 1_000_000, repeat: int = 3, data_dir: str | None = None, engines=None, threads=None,
        log=None, evidence=None) -> dict:
    """Time the audit of a ``rows``-row generated Parquet log, end to end (file to summary), with
    our engine and each installed baseline; median of ``repeat`` runs after one warm-up of every
    engine (the warm-up also compiles our kernels). Every baseline's numbers are checked against
    ours. ``data_dir`` keeps the generated file for the next run (default: a temporary directory,
    removed afterwards). ``log`` receives progress lines. ``evidence``: a subset of the log's six
    evidence columns (default: all of them; fewer columns mean fewer, bigger fibers).

    Returns a JSON-ready dict: ``rows``, ``file``, ``file_bytes``, ``machine``, ``missing``
    (engine -> reason) and ``results`` (one entry per engine: median and all times in seconds,
    rows/s, ``ratio`` = its median / ours, ``agrees``).
    """
    if rows < 1000:
        raise DcbError(f"rows must be at least 1000, got {rows}")
    if repeat < 1:
        raise DcbError(f"repeat must be at least 1, got {repeat}")
    evidence = list(evidence or EVIDENCE)
    bad = [c for c in evidence if c not in EVIDENCE]
    if bad or len(set(evidence)) < len(evidence):
        what = f"'{bad[0]}' is not" if bad else "a column is given twice: they must be distinct"
        raise DcbError(f"evidence {what} among the generated log's columns; choose from {', '.join(EVIDENCE)}")
    engines = list(BASELINE_ENGINES if engines is None else engines)
    unknown = [e for e in engines if e not in AUDIT_BASELINES]
    if unknown:
        raise DcbError(f"unknown engine '{unknown[0]}'; choose from {', '.join(BASELINE_ENGINES)}")
    say = log or (lambda _msg: None)
    missing = missing_engines(engines)
    runnable = [e for e in engines if e not in missing]
    tmp = None
    if data_dir is None:
        tmp = data_dir = tempfile.mkdtemp(prefix="dcb-bench-")
    else:
        os.makedirs(data_dir, exist_ok=True)
    try:
        t0 = time.perf_counter()
        path = log_path(rows, data_dir)
        say(f"data: {path} ({rows:,} rows, {time.perf_counter() - t0:.1f} s to prepare)")
        fns = {"dcb_fast": lambda p: audit_ours(p, evidence=evidence, threads=threads),
               **{e: (lambda p, f=AUDIT_BASELINES[e]: f(p, evidence=evidence)) for e in runnable}}
        reference = None
        results = []
        for name, fn in fns.items():
            say(f"{name}: warm-up and {repeat} timed run{'s' if repeat > 1 else ''}")
            first = fn(path)  # warm-up: JIT, file cache, engine start-up
            agrees = None
            if name == "dcb_fast":
                reference = first
            else:
                try:
                    audit_compare(reference, first)
                    agrees = True
                except AssertionError:
                    agrees = False
            times = []
            for _ in range(repeat):
                s = time.perf_counter()
                fn(path)
                times.append(time.perf_counter() - s)
            med = statistics.median(times)
            results.append({"engine": name, "median_s": med, "times_s": times, "rows_per_s": rows / med,
                            "agrees": agrees})
        ours = results[0]["median_s"]
        for r in results:
            r["ratio"] = r["median_s"] / ours
        return {"workload": "audit, Parquet file to summary (end to end)", "rows": rows, "file": path,
                "file_bytes": os.path.getsize(path), "evidence": evidence, "action": ACTION, "weight": WEIGHT,
                "repeat": repeat, "machine": machine(), "missing": missing, "results": results,
                "summary": reference}
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def render(result: dict) -> str:
    """The table ``dcb bench`` prints."""
    m = result["machine"]
    mem = f", {m['memory_bytes'] / 2**30:.1f} GiB" if m.get("memory_bytes") else ""
    lines = [
        f"audit of a {result['rows']:,}-row Parquet log ({result['file_bytes'] / 2**20:.0f} MiB; evidence "
        f"{','.join(result['evidence'])}; action {result['action']}; weight {result['weight']}), file to summary",
        f"machine: {m['cpu']}, {m['cores']} cores{mem}; median of {result['repeat']} runs after a warm-up",
        "",
        f"{'engine':<10} {'median':>9} {'rows/s':>10}  {'vs dcb_fast':<14} same numbers",
    ]
    for r in result["results"]:
        if r["engine"] == "dcb_fast":
            rel, same = "-", "-"
        else:
            rel = f"{r['ratio']:.2f}x slower" if r["ratio"] >= 1 else f"{1 / r['ratio']:.2f}x faster"
            same = "yes" if r["agrees"] else "NO: results differ"
        lines.append(f"{r['engine']:<10} {r['median_s']:>8.3f}s {_rate(r['rows_per_s']):>10}  {rel:<14} {same}")
    for e, why in result["missing"].items():
        lines.append(f"{e:<10} {'-':>9} {'-':>10}  {why}")
    base = [r for r in result["results"] if r["engine"] in ("duckdb", "polars")]
    if base:
        best = min(base, key=lambda r: r["median_s"])
        lines += ["", f"speed-up of dcb_fast over the faster of DuckDB and Polars ({best['engine']}): {best['ratio']:.2f}x"]
    elif result["missing"]:
        lines += ["", f"DuckDB and Polars are not installed, so there is no engine to compare with; {INSTALL_HINT}"]
    return "\n".join(lines)


def _rate(x: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{x / div:.2f} {unit}"
    return f"{x:.0f}"
