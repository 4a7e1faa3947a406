"""Leaderboard replay (issue 19): a long table of 67 models, 50 item splits, window replay with
each model's calibration-MAE tolerance. Ours against the numpy loop per model and split (the
shape of the authors' JARVIS scripts, vectorised within a run), same file, same splits, results
checked run by run; the authors' own per-test-value mask loop is timed on one (model, split) run
and extrapolated to the 67 x 50 runs; peak memory of a fresh process.

``--bench-rows`` is the board's rows: 67 models x rows // 67 items (the README uses 17,219,000:
67 x 257,000, the size of Matbench Discovery).

    python -m pytest bench/test_leaderboard.py --bench-rows 17219000 --benchmark-json lb.json
"""

from __future__ import annotations

import os
import time

import pytest

from .cases import CASES, LEADERBOARD_MODELS, LEADERBOARD_SPLITS
from .util import record, run_child

CASE = CASES["leaderboard"]


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
    return {}


def test_leaderboard_ours(benchmark, inputs, warm, bench_rows, reference):
    benchmark.group = f"leaderboard: {LEADERBOARD_MODELS} models x {LEADERBOARD_SPLITS} splits"
    out = benchmark.pedantic(CASE.ours, args=inputs, kwargs={"splits": LEADERBOARD_SPLITS}, rounds=1, iterations=1)
    reference.update(out)
    record(benchmark, "leaderboard", "dcb_fast", bench_rows, os.path.getsize(inputs[0]), splits=LEADERBOARD_SPLITS)


def test_leaderboard_numpy(benchmark, inputs, bench_rows, reference):
    benchmark.group = f"leaderboard: {LEADERBOARD_MODELS} models x {LEADERBOARD_SPLITS} splits"
    out = benchmark.pedantic(CASE.baselines["numpy"], args=inputs, kwargs={"splits": LEADERBOARD_SPLITS},
                             rounds=1, iterations=1)
    if reference:
        CASE.compare(reference, out)
    record(benchmark, "leaderboard", "numpy", bench_rows, os.path.getsize(inputs[0]), splits=LEADERBOARD_SPLITS)


def test_leaderboard_authors_loop_one_run(benchmark, inputs, bench_rows, reference):
    """The per-test-value mask loop on the first (model, split) run only (the file read is
    timed apart), extrapolated to every run."""
    benchmark.group = "leaderboard: the authors' mask loop, one run (extrapolated)"
    t0 = time.perf_counter()
    CASE.baselines["loop"](*inputs, splits=1, runs=0)  # the read alone
    read = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = CASE.baselines["loop"](*inputs, splits=1, runs=1)
    one = time.perf_counter() - t0 - read
    if reference:
        CASE.compare(reference, out)
    runs = LEADERBOARD_MODELS * LEADERBOARD_SPLITS
    benchmark.pedantic(lambda: None, rounds=1, iterations=1)
    record(benchmark, "leaderboard", "loop (extrapolated)", bench_rows, seconds=read + max(one, 0.0) * runs,
           seconds_one_run=max(one, 0.0), seconds_read=read, runs=runs)


@pytest.mark.parametrize("engine", ["dcb_fast", "numpy"])
def test_leaderboard_peak_memory(benchmark, engine, inputs, warm, bench_rows):
    benchmark.group = "leaderboard: peak memory (fresh process)"
    out = benchmark.pedantic(run_child, args=("leaderboard", engine, inputs),
                             kwargs={"kwargs": {"splits": LEADERBOARD_SPLITS},
                                     "warm_args": list(warm) if engine == "dcb_fast" else None},
                             rounds=1, iterations=1)
    record(benchmark, "leaderboard_memory", engine, bench_rows, seconds=out["seconds"], peak_rss=out["peak_rss"],
           peak_rss_before_call=out["peak_rss_before_call"], splits=LEADERBOARD_SPLITS)
