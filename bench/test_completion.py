"""Completion curve over the five probes: ours vs the same greedy loop in DuckDB, Polars and
pyarrow (group-bys from scratch for every candidate at every step), same file, same run.

    python -m pytest bench/test_completion.py --bench-rows 10000000 --benchmark-json bench.json
"""

from __future__ import annotations

import os

import pytest

from .cases import CASES
from .util import ROUNDS, engines, function, record, warm_reference

CASE = CASES["completion"]


@pytest.fixture(scope="module")
def inputs(bench_rows):
    return CASE.inputs(bench_rows)


@pytest.fixture(scope="module")
def reference(inputs):
    return warm_reference(CASE, inputs)


@pytest.mark.parametrize("engine", engines(CASE))
def test_completion(benchmark, engine, inputs, reference, bench_rows):
    benchmark.group = "completion: 5-probe greedy curve"
    result = benchmark.pedantic(function(CASE, engine), args=inputs, rounds=ROUNDS, iterations=1)
    CASE.compare(reference, result)
    record(benchmark, "completion", engine, bench_rows, os.path.getsize(inputs[0]),
           curve=[list(s) for s in result["steps"]])
