"""The performance goals of issue 8, one entry per workload. Every benchmark copies its entry
into ``extra_info["goal"]``, so the JSON that pytest-benchmark writes carries everything
``scripts/bench_report.py`` needs to judge it.

Kinds:
- ``speedup``: our median must be at least ``min`` times faster than the faster of the ``vs``
  baselines (medians of the same run);
- ``ratio``: no target; the ratio to the fastest baseline is reported;
- ``max_seconds``: our median wall time must stay under ``max``;
- ``stream``: peak resident memory under ``max_rss`` bytes and throughput at least
  ``min_throughput_ratio`` times the ``reference`` workload's rows/s;
- ``report``: time (and peak memory) measured and reported, no target;
- ``reference``: a measurement of the machine, not of dcb_fast;
- ``max_ratio``: our median on a running Dask cluster over the local median on the same cores
  (interleaved in one run) must stay under ``max``.
"""

GiB = 1 << 30
DUCKDB_POLARS = ["duckdb", "polars"]

GOALS = {
    "audit_file": {"title": "audit, Parquet file to summary (end to end)", "kind": "speedup", "min": 3.0,
                   "vs": DUCKDB_POLARS},
    "audit_memory": {"title": "audit, in-memory Arrow table to summary (compute only)", "kind": "speedup",
                     "min": 5.0, "vs": DUCKDB_POLARS},
    "audit_ipc": {"title": "audit, memory-mapped Arrow IPC file to summary, vs touching the used columns",
                  "kind": "speedup", "min": 0.5, "vs": ["touch"]},  # within 2x of the touch
    "memory_bandwidth": {"title": "memory bandwidth (numpy copy of a 1 GiB array)", "kind": "reference"},
    "completion": {"title": "completion curve over 5 probes (greedy)", "kind": "speedup", "min": 5.0,
                   "vs": DUCKDB_POLARS},
    "coverage": {"title": "coverage of a log against a certificate built on 1/10 as many rows (both files read)",
                 "kind": "speedup", "min": 3.0,
                 "vs": DUCKDB_POLARS},
    "knn": {"title": "knn:50 audit of one numeric column (pred -> stable)", "kind": "ratio", "vs": DUCKDB_POLARS},
    "window": {"title": "window:0.05 audit of one numeric column (pred -> stable)", "kind": "ratio",
               "vs": DUCKDB_POLARS},
    "replay": {"title": "replay, 100 splits (certify-then-acquire): time", "kind": "report"},
    "replay_compare": {"title": "replay, 10 splits: ours vs a query per split (row-level hash splits)",
                       "kind": "ratio", "vs": DUCKDB_POLARS},
    "replay_memory": {"title": "replay: peak resident memory of a fresh process (ours: 100 splits; "
                               "baselines: 10 splits)", "kind": "report"},
    "leaderboard": {"title": "leaderboard replay, 67 models x 50 item splits (long table): ours vs a numpy loop "
                             "per model and split", "kind": "ratio", "vs": ["numpy"]},
    "leaderboard_memory": {"title": "leaderboard replay: peak resident memory of a fresh process", "kind": "report"},
    "stream_reference": {"title": "audit streamed from Parquet, --bench-rows rows (throughput reference)",
                         "kind": "report"},
    "stream_big": {"title": "audit streamed from Parquet, --bench-rows-big rows", "kind": "stream",
                   "max_rss": 1.5 * GiB, "min_throughput_ratio": 0.8, "reference": "stream_reference"},
    "cold_warm": {"title": "cold start: dcb audit on a 1000-row file, compile cache warm", "kind": "max_seconds",
                  "max": 1.5},
    "dask_audit": {"title": "audit of the 10M-row log on a running 2-worker LocalCluster, over the local "
                   "2-thread run", "kind": "max_ratio", "max": 1.3},
    "cold_first": {"title": "cold start: first run ever (empty compile cache)", "kind": "max_seconds", "max": 20.0},
}
