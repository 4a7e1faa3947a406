"""Coverage of a production log against a certificate built on a calibration table with a tenth
of its rows: ours (certify + coverage) vs one DuckDB query and one lazy Polars query (calibration
fibers joined to production cells), both files read by every engine, same run.

    python -m pytest bench/test_coverage.py --bench-rows 10000000 --benchmark-json bench.json
"""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from .cases import CASES
from .util import ROUNDS, engines, function, record, warm_reference

CASE = CASES["coverage"]


@pytest.fixture(scope="module")
def inputs(bench_rows):
    return CASE.inputs(bench_rows)


@pytest.fixture(scope="module")
def reference(inputs):
    return warm_reference(CASE, inputs)


@pytest.mark.parametrize("engine", engines(CASE))
def test_coverage(benchmark, engine, inputs, reference):
    benchmark.group = "coverage: production log vs certificate"
    result = benchmark.pedantic(function(CASE, engine), args=inputs, rounds=ROUNDS, iterations=1)
    CASE.compare(reference, result)
    cal, prod = inputs
    rows = pq.ParquetFile(prod).metadata.num_rows
    record(benchmark, "coverage", engine, rows, os.path.getsize(cal) + os.path.getsize(prod),
           calibration_rows=pq.ParquetFile(cal).metadata.num_rows, figures={k: v for k, v in result.items()})
