"""Audit throughput: ours vs DuckDB, Polars and pyarrow on the same Parquet file, same run.

    python -m pytest bench/test_audit.py --bench-rows 10000000 --benchmark-json bench.json
"""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from .cases import CASES
from .data import ACTION, EVIDENCE, WEIGHT, log_file

CASE = CASES["audit"]
ENGINES = ["dcb_fast"] + sorted(CASE.baselines)


@pytest.fixture(scope="module")
def parquet(bench_rows):
    return log_file(bench_rows)


@pytest.fixture(scope="module")
def table(parquet):
    return pq.read_table(parquet, columns=EVIDENCE + [ACTION, WEIGHT])


@pytest.fixture(scope="module")
def reference(table):
    return CASE.ours(table.slice(0, 200_000))  # warms the JIT before any timing


def _fn(engine):
    return CASE.ours if engine == "dcb_fast" else CASE.baselines[engine]


def _record(benchmark, rows, nbytes, engine, mode):
    benchmark.extra_info.update({"rows": rows, "bytes": nbytes, "engine": engine, "mode": mode})
    benchmark.extra_info["rows_per_s"] = rows / benchmark.stats.stats.median
    benchmark.extra_info["bytes_per_s"] = nbytes / benchmark.stats.stats.median


@pytest.mark.parametrize("engine", ENGINES)
def test_audit_end_to_end(benchmark, engine, parquet, table, reference):
    benchmark.group = "audit: Parquet file to summary"
    result = benchmark.pedantic(_fn(engine), args=(parquet,), rounds=3, iterations=1, warmup_rounds=0)
    if engine != "dcb_fast":
        CASE.compare(CASE.ours(parquet), result)
    _record(benchmark, table.num_rows, os.path.getsize(parquet), engine, "end_to_end")


@pytest.mark.parametrize("engine", ENGINES)
def test_audit_compute_only(benchmark, engine, table, reference):
    benchmark.group = "audit: in-memory Arrow table to summary"
    result = benchmark.pedantic(_fn(engine), args=(table,), rounds=3, iterations=1, warmup_rounds=0)
    if engine != "dcb_fast":
        CASE.compare(CASE.ours(table), result)
    _record(benchmark, table.num_rows, table.nbytes, engine, "compute_only")


def test_read_only(benchmark, parquet):
    """The floor: reading just the needed columns with pyarrow (both cores)."""
    benchmark.group = "audit: Parquet file to summary"
    t = benchmark.pedantic(pq.read_table, args=(parquet,), kwargs={"columns": EVIDENCE + [ACTION, WEIGHT]},
                           rounds=3, iterations=1)
    _record(benchmark, t.num_rows, os.path.getsize(parquet), "pyarrow-read", "read_only")
