"""One registry of benchmark cases: ours and the baselines a user would otherwise write
(DuckDB, Polars, pyarrow), each computing the same numbers from the same input.

The benchmarks in ``bench/`` time every entry; ``tests/test_bench_cases.py`` runs every entry
once on tiny data and checks that all of them agree, so no benchmark ships without an oracle and
no baseline can silently compute something else.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .data import ACTION, EVIDENCE, WEIGHT


@dataclass
class Case:
    name: str
    ours: Callable
    baselines: dict[str, Callable] = field(default_factory=dict)
    compare: Callable | None = None  # compare(ours_result, baseline_result) raises on mismatch


# -- audit: fibers, mixed fibers, certified weight, decision risk --------------------------------

def audit_ours(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, threads=None):
    import dcb_fast

    m = dcb_fast.audit(source, evidence=evidence, action=action, weight=weight, threads=threads).metrics
    return {"fibers": m["n_fibers"], "mixed": m["n_mixed_fibers"],
            "certified": m["certifiable_fraction"] * m["total_weight"],
            "risk": m["decision_risk"] * m["total_weight"], "total": m["total_weight"]}


def audit_polars(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT):
    import polars as pl

    lf = pl.scan_parquet(source) if isinstance(source, str) else pl.from_arrow(source).lazy()
    cells = lf.group_by(evidence + [action]).agg(pl.col(weight).sum().alias("w"))
    fib = cells.group_by(evidence).agg(pl.col("w").sum().alias("w"), pl.col("w").max().alias("wmax"),
                                       pl.len().alias("nact"))
    out = fib.select(pl.len().alias("fibers"), (pl.col("nact") > 1).sum().alias("mixed"),
                     pl.col("w").filter(pl.col("nact") == 1).sum().alias("certified"),
                     (pl.col("w") - pl.col("wmax")).sum().alias("risk"), pl.col("w").sum().alias("total"))
    return out.collect().to_dicts()[0]


def audit_duckdb(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT):
    import duckdb

    con = duckdb.connect()
    if isinstance(source, str):
        rel = f"read_parquet('{source}')"
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
    return dict(zip(["fibers", "mixed", "certified", "risk", "total"], row))


def audit_pyarrow(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT):
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(source, columns=evidence + [action, weight]) if isinstance(source, str) else source
    cells = t.group_by(evidence + [action]).aggregate([(weight, "sum")])
    fib = cells.group_by(evidence).aggregate([(f"{weight}_sum", "sum"), (f"{weight}_sum", "max"),
                                              (f"{weight}_sum", "count")])
    w, wmax, nact = fib[f"{weight}_sum_sum"], fib[f"{weight}_sum_max"], fib[f"{weight}_sum_count"]
    pure = pc.equal(nact, 1)
    return {"fibers": fib.num_rows, "mixed": fib.num_rows - pc.sum(pure).as_py(),
            "certified": pc.sum(pc.filter(w, pure)).as_py() or 0,
            "risk": pc.sum(pc.subtract(w, wmax)).as_py(), "total": pc.sum(w).as_py()}


def audit_compare(ours, other):
    assert ours["fibers"] == other["fibers"], (ours, other)
    assert ours["mixed"] == other["mixed"], (ours, other)
    for k in ("certified", "risk", "total"):
        assert abs(float(ours[k]) - float(other[k])) <= 1e-9 * max(1.0, abs(float(other[k]))), (k, ours, other)


CASES = {
    "audit": Case("audit", audit_ours, {"duckdb": audit_duckdb, "polars": audit_polars, "pyarrow": audit_pyarrow},
                  audit_compare),
}
