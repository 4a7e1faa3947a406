"""knn and tolerance-window audits of one numeric column (``pred`` -> ``stable`` from
``dcb_fast.tools.synth.predictions``): ours vs DuckDB (ROWS frames; prefix sums and as-of joins),
Polars (sort, prefix sums, binary search) and numpy, same file, same run.

    python -m pytest bench/test_windows.py --bench-rows 10000000 --benchmark-json bench.json
"""

from __future__ import annotations

import os

import pytest

from .cases import CASES
from .util import ROUNDS, engines, function, record, warm_reference

WINDOW_CASES = ["knn", "window"]


@pytest.fixture(scope="module")
def inputs(bench_rows):
    return CASES["knn"].inputs(bench_rows)  # both cases read the same predictions file


@pytest.fixture(scope="module")
def references(inputs):
    return {name: warm_reference(CASES[name], inputs) for name in WINDOW_CASES}


@pytest.mark.parametrize("engine", sorted({e for n in WINDOW_CASES for e in engines(CASES[n])}))
@pytest.mark.parametrize("name", WINDOW_CASES)
def test_window_audit(benchmark, name, engine, inputs, references):
    case = CASES[name]
    benchmark.group = f"{name}: one numeric column"
    result = benchmark.pedantic(function(case, engine), args=inputs, rounds=ROUNDS, iterations=1)
    case.compare(references[name], result)
    record(benchmark, name, engine, references[name]["rows"], os.path.getsize(inputs[0]), figures=result)
