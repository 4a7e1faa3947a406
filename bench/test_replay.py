"""Held-out replay (certify-then-acquire): ours over 100 splits (time, and peak memory of a
fresh process), and ours vs DuckDB and Polars over 10 splits, same file, same run.

The baselines split rows by a hash of the request id and run one aggregation query per split,
so their time grows by one full pass over the rows per split; ours reads the rows once into
cells and draws every split on the cells. Ten splits keep the baselines' runs to minutes at 10M
rows; the 100-split figure is ours alone.

    python -m pytest bench/test_replay.py --bench-rows 10000000 --benchmark-json bench.json
"""

from __future__ import annotations

import os

import pytest

from .cases import CASES, REPLAY_SPLITS
from .util import ROUNDS, engines, function, record, run_child

CASE = CASES["replay"]
COMPARE_SPLITS = 10


@pytest.fixture(scope="module")
def inputs(bench_rows):
    return CASE.inputs(bench_rows)


@pytest.fixture(scope="module")
def warm():
    small = CASE.inputs(20_000)
    CASE.ours(*small, splits=2)  # warms the JIT before any timing
    return small


@pytest.fixture(scope="module")
def reference(inputs, warm):
    return CASE.ours(*inputs, splits=COMPARE_SPLITS)


def test_replay_100_splits(benchmark, inputs, warm, bench_rows):
    benchmark.group = "replay: 100 splits"
    benchmark.pedantic(CASE.ours, args=inputs, kwargs={"splits": REPLAY_SPLITS}, rounds=ROUNDS, iterations=1)
    record(benchmark, "replay", "dcb_fast", bench_rows, os.path.getsize(inputs[0]), splits=REPLAY_SPLITS)


@pytest.mark.parametrize("engine", engines(CASE))
def test_replay_vs_baselines(benchmark, engine, inputs, reference, bench_rows):
    benchmark.group = f"replay: {COMPARE_SPLITS} splits"
    result = benchmark.pedantic(function(CASE, engine), args=inputs, kwargs={"splits": COMPARE_SPLITS},
                                rounds=ROUNDS, iterations=1)
    CASE.compare(reference, result)
    record(benchmark, "replay_compare", engine, bench_rows, os.path.getsize(inputs[0]), splits=COMPARE_SPLITS)


@pytest.mark.parametrize("engine", engines(CASE))
def test_replay_peak_memory(benchmark, engine, inputs, warm, bench_rows):
    """One run in a fresh process; its peak resident memory (whole process) and the call's time."""
    benchmark.group = "replay: peak memory (fresh process)"
    splits = REPLAY_SPLITS if engine == "dcb_fast" else COMPARE_SPLITS
    out = benchmark.pedantic(run_child, args=("replay", engine, inputs),
                             kwargs={"kwargs": {"splits": splits},
                                     "warm_args": list(warm) if engine == "dcb_fast" else None},
                             rounds=1, iterations=1)
    record(benchmark, "replay_memory", engine, bench_rows, seconds=out["seconds"], peak_rss=out["peak_rss"],
           peak_rss_before_call=out["peak_rss_before_call"], splits=splits)
