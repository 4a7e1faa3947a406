"""Scale: an audit streamed from Parquet in a fresh process (peak resident memory, and throughput
against the same audit of the ``--bench-rows`` file), and cold starts of the ``dcb`` command.

    python -m pytest bench/test_scale.py --bench-rows 10000000 --bench-rows-big 100000000 \\
        --benchmark-json scale.json

The big input is generated once into the cache (a few minutes for 100M rows, ~2.8 GB); its
benchmark is skipped unless ``--bench-rows-big`` is given.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys

import pytest

from .data import ACTION, EVIDENCE, WEIGHT, log_file
from .util import ROUNDS, record, run_child

AUDIT_ARGS = ["-e", ",".join(EVIDENCE), "-a", ACTION, "-w", WEIGHT, "-q", "--format", "json"]
COLD_ROWS = 1000
WARM_ROUNDS = 7


def _stream(benchmark, workload, rows):
    path = log_file(rows)
    warm = log_file(20_000)
    runs = []

    def once():
        out = run_child("audit", "dcb_fast", [path], warm_args=[warm])
        runs.append(out)
        return out

    benchmark.pedantic(once, rounds=ROUNDS, iterations=1)
    record(benchmark, workload, "dcb_fast", rows, os.path.getsize(path),
           seconds=statistics.median(r["seconds"] for r in runs), peak_rss=max(r["peak_rss"] for r in runs),
           peak_rss_before_call=max(r["peak_rss_before_call"] for r in runs), runs=runs)


def test_stream_reference(benchmark, bench_rows):
    """The throughput reference: the ``--bench-rows`` file, same child-process set-up."""
    benchmark.group = "scale: streamed audit (fresh process)"
    _stream(benchmark, "stream_reference", bench_rows)


def test_stream_big(benchmark, bench_rows_big):
    if not bench_rows_big:
        pytest.skip("the big streaming benchmark runs only when asked: --bench-rows-big 100000000")
    benchmark.group = "scale: streamed audit (fresh process)"
    _stream(benchmark, "stream_big", bench_rows_big)


def _dcb() -> list[str]:
    """The ``dcb`` console script of this interpreter (not a shell shim in front of it)."""
    here = os.path.join(os.path.dirname(sys.executable), "dcb")
    return [here] if os.path.exists(here) else [shutil.which("dcb") or "dcb"]


def _run(cmd, env=None):
    out = subprocess.run(cmd, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    return out


def test_cold_start_warm_cache(benchmark):
    """``dcb audit`` on a 1000-row file, wall time of the whole process, compile cache warm."""
    benchmark.group = "scale: cold start"
    cmd = _dcb() + ["audit", log_file(COLD_ROWS)] + AUDIT_ARGS
    _run(cmd)  # fills the compile cache if it is not warm yet
    benchmark.pedantic(_run, args=(cmd,), rounds=WARM_ROUNDS, iterations=1)
    record(benchmark, "cold_warm", "dcb_fast", COLD_ROWS, command=" ".join(cmd))


def test_cold_start_first_run(benchmark, tmp_path):
    """The same command with an empty compile cache (``DCB_FAST_CACHE_DIR`` pointing to a fresh
    directory each round): every kernel the audit needs compiles."""
    benchmark.group = "scale: cold start"
    cmd = _dcb() + ["audit", log_file(COLD_ROWS)] + AUDIT_ARGS
    counter = iter(range(1000))

    def fresh():
        d = tmp_path / f"cache{next(counter)}"
        d.mkdir()
        env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
        env["DCB_FAST_CACHE_DIR"] = str(d)
        return (cmd,), {"env": env}

    benchmark.pedantic(_run, setup=fresh, rounds=ROUNDS, iterations=1)
    record(benchmark, "cold_first", "dcb_fast", COLD_ROWS, command="DCB_FAST_CACHE_DIR=<fresh dir> " + " ".join(cmd))
