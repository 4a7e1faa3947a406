"""Compile the counting kernels ahead of time: what every partial state runs (a Dask worker
warms this on start; ``dcb warmup`` adds every method on top, see ``tools.warmup``).

Numba compiles a kernel on its first call for each argument type and layout, and caches the
machine code on disk (``DCB_FAST_CACHE_DIR``, see ``dcb_fast._jit``). :func:`warm` counts
small states that reach every path of the counting (string, dictionary, integer, float,
boolean, date and null columns; weighted and unweighted; single- and multi-threaded batches;
dictionaries and fiber tables that grow; merging and serialization).
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import time
from typing import Callable

import numpy as np
import pyarrow as pa
from numba.core.registry import CPUDispatcher

from .. import kernels as kernel_package
from .._jit import default_threads
from .state import FiberState


def kernels() -> dict:
    """Every numba dispatcher in ``dcb_fast.kernels``, by ``module.name``."""
    out = {}
    for mod in pkgutil.iter_modules(kernel_package.__path__):
        m = importlib.import_module(f"{kernel_package.__name__}.{mod.name}")
        for name, obj in vars(m).items():
            # inlined helpers compile into their callers, never on their own
            if (isinstance(obj, CPUDispatcher) and obj.__module__ == m.__name__
                    and obj.targetoptions.get("inline") != "always"):
                out[f"{mod.name}.{name}"] = obj
    return out


def sample_tables(rows: int) -> pa.Table:
    """A seeded table with a column of every type the counting reads (and an action, weights, errors)."""
    rng = np.random.default_rng(0)
    i = np.arange(rows)
    many = (i * 7919) % 997  # enough distinct values to make the dictionaries grow
    words = pa.array([f"w{v}" for v in many], pa.string())
    valid = pa.array(i % 11 != 0)
    return pa.table({
        "s": pa.compute.if_else(valid, words, pa.scalar(None, pa.string())),
        "d": pa.array([f"x{v % 5}" for v in i]).dictionary_encode(),
        "i8": pa.array((i % 3).astype(np.int8)),
        "i64": pa.array(many.astype(np.int64)),
        "f": pa.array(np.where(i % 13 == 0, np.nan, (many % 17) / 4.0)),
        "b": pa.array(i % 2 == 0),
        "day": pa.array((19000 + i % 9).astype(np.int32), pa.date32()),
        "u": pa.array((many % 4).astype(np.uint64)),
        "act": pa.array(rng.integers(0, 3, rows).astype(np.int16)),
        "w": pa.array(rng.random(rows)),
        "wi": pa.array(rng.integers(0, 5, rows)),
        "err": pa.array(rng.random(rows) / 10),
    })


def warm_parts(big, small, threads: int) -> None:
    """What a cluster task runs: partial states counted batch by batch (one and several
    threads, whole and partial batch buffers), serialized, read back and merged."""
    configs = ((small, 1_000, 1), (small, 2_500, threads)) + (((big, 1 << 20, threads),) if threads > 1 else ())
    for table, batch_rows, th in configs:
        for ev, act, w, nulls in ((["s", "d", "i8", "f"], "act", "w", "drop"),
                                  (["i64", "b", "day", "u"], "d", "wi", "value"), (["d", "b"], "act", None, "drop")):
            a = FiberState(ev, act, w, nulls, shards=th)
            for batch in table.to_batches(max_chunksize=batch_rows):
                a.update(batch)
            b = FiberState.from_ipc(a.to_ipc(), shards=th)
            b.merge(FiberState(ev, act, w, nulls, shards=1))
            b.merge(a)
    # a plain-string action with nulls kept, on the small input only: ~1000 distinct actions make
    # wide fiber records
    a = FiberState(["i8"], "s", None, "value", shards=1)
    a.update(small)
    FiberState.from_ipc(a.to_ipc(), shards=1).merge(a)


def warm(threads: int | None = None, more: Callable | None = None) -> dict:
    """Compile (or load from the on-disk cache) the kernels a cluster task runs (counting partial
    states, serializing and merging them), then whatever ``more(big, small, threads)`` runs on
    the same sample tables (``tools.warmup`` passes every method's warm-up).

    Returns where the cache is (``cache_dirs``), how long it took (``seconds``), how many kernel
    signatures were compiled (``compiled``) or loaded from the cache (``loaded``), and which
    kernels of ``dcb_fast.kernels`` were not reached (``not_warmed``; they compile on first use).

    >>> info = warm(threads=1)
    >>> info["signatures"] > 0 and info["seconds"] >= 0
    True
    """
    t0 = time.perf_counter()

    threads = threads or default_threads()
    big = sample_tables(40_000)  # above the rows at which batches are split over threads
    small = big.slice(3, 2_500)
    warm_parts(big, small, threads)
    if more is not None:
        more(big, small, threads)
    found = kernels()
    compiled = loaded = 0
    dirs = set()
    for d in found.values():
        compiled += sum(d.stats.cache_misses.values())
        loaded += sum(d.stats.cache_hits.values())
        path = getattr(d._cache, "_cache_path", None)  # numba's cache locator (None: caching is off)
        if path:
            dirs.add(path)
    return {
        "cache_dirs": sorted(dirs),
        "seconds": time.perf_counter() - t0,
        "kernels": len(found),
        "signatures": sum(len(d.signatures) for d in found.values()),
        "compiled": compiled,
        "loaded": loaded,
        "not_warmed": sorted(k for k, d in found.items() if not d.signatures),
        "threads": threads,
        "pid": os.getpid(),
    }
