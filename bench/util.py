"""Helpers shared by the benchmark files: what goes into ``extra_info``, and runs of one registry
entry in a fresh child process (for peak resident memory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from .goals import GOALS

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROUNDS = 3  # the machine is shared: median of 3


def record(benchmark, workload: str, engine: str, rows: int, nbytes: int | None = None, seconds=None, **extra):
    """Put the figures a report needs into ``extra_info``: workload and its goal, engine, rows,
    bytes, rows/s and bytes/s (from the median of the timed rounds, or from ``seconds`` when
    the time was measured inside a child process)."""
    if seconds is not None:
        med = seconds
    else:  # no stats with --benchmark-disable (the smoke run of the suite): figures stay empty
        med = benchmark.stats.stats.median if benchmark.stats is not None else None
    info = benchmark.extra_info
    info.update({"workload": workload, "goal": GOALS[workload], "engine": engine, "rows": rows,
                 "rows_per_s": rows / med if med else None})
    if nbytes is not None:
        info["bytes"] = nbytes
        info["bytes_per_s"] = nbytes / med if med else None
    if seconds is not None:
        info["seconds"] = seconds
    # the machine is shared: the load when the benchmark ended tells whether to trust it
    info["load_average_1m"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    info.update(extra)


def engines(case) -> list[str]:
    return ["dcb_fast"] + sorted(case.baselines)


def function(case, engine):
    return case.ours if engine == "dcb_fast" else case.baselines[engine]


def warm_reference(case, inputs, warm_rows: int = 20_000):
    """Our result on ``inputs``, after a run on ``warm_rows`` rows that compiles (or loads) the
    kernels, so that no timed round pays for the JIT."""
    case.ours(*case.inputs(warm_rows))
    return case.ours(*inputs)


def run_child(case: str, engine: str, args, kwargs=None, warm_args=None, env=None, timeout=3600) -> dict:
    """Run one registry entry in a fresh Python process (``bench/child.py``); returns its
    ``seconds`` (the call alone) and ``peak_rss`` (bytes, the whole process)."""
    spec = {"case": case, "engine": engine, "args": list(args), "kwargs": kwargs or {}, "warm_args": warm_args}
    full_env = dict(os.environ, **(env or {}))
    full_env["PYTHONPATH"] = ROOT + os.pathsep + full_env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-m", "bench.child", json.dumps(spec)], cwd=ROOT, env=full_env,
                         capture_output=True, text=True, timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"child run of {case}/{engine} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])
