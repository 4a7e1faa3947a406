"""The local engine vs Dask (``local:2``: two worker processes) on the same 40-file dataset, and
the 10M-row log audited on a running 2-worker cluster against the local 2-thread run (issue 20).

    python -m pytest bench/test_dask.py --bench-rows 4000000 --benchmark-json dask.json
    DCB_BENCH_DATA=/path/with/log python -m pytest bench/test_dask.py -k log -s --benchmark-json dask.json

Three ways to run one audit over the dataset, each compared with the local result:

- ``local``: this process, threads over both cores (``dcb audit DIR``);
- ``dask local:2``: tasks on an already running LocalCluster of 2 processes x 1 thread (a
  cluster you keep, or one that a batch job starts once for many audits);
- ``dask local:2 + start``: what ``dcb audit DIR --scheduler local:2`` costs, cluster start-up,
  worker warm-up and shutdown included.
"""

from __future__ import annotations

import os

import pyarrow.parquet as pq
import pytest

from .data import ACTION, EVIDENCE, WEIGHT, log_dataset, log_file
from .goals import GOALS

FILES = 40
ENGINES = ["local", "dask local:2", "dask local:2 + start"]
# all six evidence columns make about one fiber per two rows (large partial states to merge);
# three low-cardinality columns make a few thousand fibers (the merge costs almost nothing)
EVIDENCE_SETS = {"6 columns": EVIDENCE, "3 columns": ["lang", "model", "score_bin"]}


def audit_body(path: str, scheduler=None, evidence=EVIDENCE) -> dict:
    """One audit of the dataset (the benchmark body): its metrics."""
    import dcb_fast

    return dcb_fast.audit(path, evidence=evidence, action=ACTION, weight=WEIGHT, scheduler=scheduler).metrics


def start_cluster(workers: int = 2):
    """A LocalCluster as ``--scheduler local:N`` starts it, with the workers warmed up."""
    from distributed import Client, LocalCluster

    from dcb_fast.engines.dask import local_cluster_options, register_plugin

    cluster = LocalCluster(**local_cluster_options(workers))
    client = Client(cluster)
    register_plugin(client)
    return cluster, client


def dataset_rows(path: str) -> int:
    return sum(pq.ParquetFile(os.path.join(path, f)).metadata.num_rows for f in sorted(os.listdir(path)))


@pytest.fixture(scope="module")
def dataset(bench_rows):
    return log_dataset(bench_rows, FILES)


@pytest.fixture(scope="module")
def reference(dataset):
    # also warms the JIT in this process before any timing
    return {name: audit_body(dataset, evidence=ev) for name, ev in EVIDENCE_SETS.items()}


@pytest.fixture(scope="module")
def client():
    cluster, client = start_cluster(2)
    yield client
    client.close()
    cluster.close()


@pytest.mark.parametrize("evidence", list(EVIDENCE_SETS))
@pytest.mark.parametrize("engine", ENGINES)
def test_local_vs_dask(benchmark, engine, evidence, dataset, reference, request):
    if engine.endswith("start") and evidence != "6 columns":
        pytest.skip("cluster start-up is measured once, with the main evidence set")
    benchmark.group = f"audit of {FILES} Parquet files, {evidence}: local engine vs Dask"
    scheduler = {"local": None, "dask local:2": None, "dask local:2 + start": "local:2"}[engine]
    if engine == "dask local:2":
        scheduler = request.getfixturevalue("client")
    result = benchmark.pedantic(audit_body, args=(dataset, scheduler, EVIDENCE_SETS[evidence]), rounds=3,
                                iterations=1, warmup_rounds=1 if engine == "dask local:2" else 0)
    assert result == reference[evidence]
    rows = dataset_rows(dataset)
    med = benchmark.stats.stats.median
    benchmark.extra_info.update({
        "workload": "dask", "engine": engine, "evidence": EVIDENCE_SETS[evidence], "rows": rows, "files": FILES,
        "fibers": result["n_fibers"],
        "bytes": sum(os.path.getsize(os.path.join(dataset, f)) for f in os.listdir(dataset)),
        "rows_per_s": rows / med, "cores": len(os.sched_getaffinity(0)), "load_average": os.getloadavg(),
    })


# -- issue 20: one big file, the partition-wise plan --------------------------------------------------
LOG_ROWS = 10_000_000
# the Dask plans compared: the default (the input shared evenly among the workers: one map task
# each) and 10 map tasks of one 1M-row row group each, to show what more tasks cost in bytes
PLANS = {"dask, 1 task per worker": {}, "dask, 10 tasks": {"part_rows": 1 << 20, "tasks": 10}}


def log_audit(path: str, scheduler=None, plan=None):
    """One audit of the log (the benchmark body); on Dask with the ``plan``'s engine options."""
    import dcb_fast
    from dcb_fast.engines import base
    from dcb_fast.engines.dask import DaskEngine

    if scheduler is None:
        return dcb_fast.audit(path, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, threads=2)
    base.register_engine("dask", lambda scheduler, checkpoint: DaskEngine(scheduler, checkpoint, **(plan or {})))
    try:
        return dcb_fast.audit(path, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, scheduler=scheduler)
    finally:
        base.register_engine("dask", lambda scheduler, checkpoint: DaskEngine(scheduler, checkpoint))


def test_log_audit_local_vs_cluster(benchmark, client):
    """Rounds interleave the local run and each Dask plan (the machine is shared: every time has
    the load average next to it); the ratio is median over median, from this one run."""
    import time

    path = log_file(LOG_ROWS)
    want = log_audit(path).metrics  # also warms this process
    for plan in PLANS.values():
        assert log_audit(path, client, plan).metrics == want  # warms the workers
    times: dict = {name: [] for name in ["local", *PLANS]}
    loads: dict = {name: [] for name in times}
    infos: dict = {}

    def one_round():
        for name in times:
            t0 = time.perf_counter()
            res = log_audit(path) if name == "local" else log_audit(path, client, PLANS[name])
            times[name].append(time.perf_counter() - t0)
            loads[name].append(os.getloadavg()[0])
            assert res.metrics == want
            if name != "local":
                infos[name] = res.run_info

    benchmark.group = "audit of the 10M-row log: local 2 threads vs a running 2-worker LocalCluster"
    benchmark.pedantic(one_round, rounds=3, iterations=1)
    med = {k: sorted(v)[len(v) // 2] for k, v in times.items()}
    info = benchmark.extra_info
    info.update({"workload": "dask_audit", "goal": GOALS["dask_audit"], "rows": LOG_ROWS, "fibers": want["n_fibers"],
                 "seconds": times, "load_average_1m": loads, "median": med})
    print()
    for name in times:
        line = f"{name:26s} " + " / ".join(f"{t:.2f} s (load {la:.1f})" for t, la in zip(times[name], loads[name]))
        if name != "local":
            ri = infos[name]
            ratio = med[name] / med["local"]
            info[f"ratio {name}"] = ratio
            info[f"run_info {name}"] = {k: ri[k] for k in ("parts", "tasks", "partitions", "workers", "shipped_bytes", "map_bytes",
                                                          "reduced_bytes", "state_bytes", "peak_worker_rss", "worker_rss_at_start",
                                                          "part_fibers", "task_seconds", "wall_seconds")}
            line += (f"  ratio {ratio:.2f}x; {ri['tasks']} tasks x {ri['partitions']} partitions, shipped "
                     f"{ri['shipped_bytes'] / 1e6:.0f} MB (maps {ri['map_bytes'] / 1e6:.0f} + reduced "
                     f"{ri['reduced_bytes'] / 1e6:.0f}), final state {ri['state_bytes'] / 1e6:.0f} MB, busiest worker "
                     f"peak RSS {ri['peak_worker_rss'] / 2**20:.0f} MiB (at start {ri['worker_rss_at_start'] / 2**20:.0f}); task s {ri['task_seconds']}, "
                     f"wall s {ri['wall_seconds']}")
        print(line)
