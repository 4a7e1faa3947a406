"""The local engine vs Dask (``local:2``: two worker processes) on the same 40-file dataset.

    python -m pytest bench/test_dask.py --bench-rows 4000000 --benchmark-json dask.json

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

from .data import ACTION, EVIDENCE, WEIGHT, log_dataset

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
