"""A small multi-file dataset for the engine and checkpoint tests: every file has its own string
dictionary (other values, other order; one file plain strings), nulls, and one file has no rows."""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

LANGS = ["en", "fr", "de", "es", "ja", "pt", "zh"]
EVIDENCE = ["lang", "tier"]
ACTION = "route"
WEIGHT = "requests"


def table(rows: int, seed: int) -> pa.Table:
    rng = np.random.default_rng(seed)
    sub = LANGS[seed % 3: seed % 3 + 4]
    sub = sub[::-1] if seed % 2 else sub
    codes = rng.integers(0, len(sub), rows)
    lang = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(sub))
    if seed % 3 == 2:
        lang = lang.cast(pa.string())
    tier = rng.integers(0, 5, rows)
    # the route is a function of the evidence, except in low tiers, where noise mixes some fibers
    route = np.where((tier > 1) | (rng.random(rows) < 0.97), (codes * 7 + tier) % 3, rng.integers(0, 3, rows))
    requests = rng.integers(1, 6, rows).astype(np.float64)
    tier_arr = pa.array(tier.astype(np.int16), mask=rng.random(rows) < 0.03)
    return pa.table({"lang": lang, "tier": tier_arr,
                     "route": pa.array([f"r{r}" for r in route]), "requests": pa.array(requests)})


def write_dataset(root, files: int = 6, rows: int = 400) -> list[str]:
    """``files`` Parquet files (the last one empty) under ``root``; returns their names in order."""
    os.makedirs(root, exist_ok=True)
    names = []
    for i in range(files):
        t = table(rows if i < files - 1 else 0, seed=i)
        name = f"part-{i:02d}.parquet"
        pq.write_table(t, os.path.join(root, name), row_group_size=max(1, rows // 4))
        names.append(name)
    return names


def outputs(result, out_dir) -> dict:
    """The bytes of every output file a result writes."""
    paths = result.write(str(out_dir))
    return {os.path.basename(p): open(p, "rb").read() for p in paths.values()}


def as_files(table: pa.Table, cuts, directory) -> list[str]:
    """``table`` cut at the row positions ``cuts`` (modulo its length) into Parquet files under
    ``directory`` (each of two row groups): the same rows as other file splits."""
    bounds = sorted({0, table.num_rows, *[c % (table.num_rows + 1) for c in cuts]})
    paths = []
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        p = os.path.join(directory, f"part{i}.parquet")
        pq.write_table(table.slice(lo, hi - lo), p, row_group_size=max(1, (hi - lo) // 2))
        paths.append(str(p))
    return paths


def two_worker_cluster():
    """A Dask LocalCluster of 2 worker processes with one Dask thread and one dcb_fast thread each
    (the engine's own ``local:2`` options) and a client to it; close both when done."""
    from distributed import Client, LocalCluster

    from dcb_fast.engines.dask import local_cluster_options

    cluster = LocalCluster(**local_cluster_options(2, threads=1))
    return cluster, Client(cluster)
