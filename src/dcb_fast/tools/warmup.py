"""Compile every kernel ahead of time (for cluster images and worker start-up).

Numba compiles a kernel on its first call for each argument type and layout, and caches the
machine code on disk (``DCB_FAST_CACHE_DIR``, see ``dcb_fast._jit``). :func:`warmup` runs small
audits that reach every path of the audit (string, dictionary, integer, float, boolean, date and
null columns; weighted and unweighted; single- and multi-threaded batches; dictionaries and fiber
tables that grow; merging, serialization and row lookup), so a later audit neither compiles nor
loads anything new. Run it once when building an image (``dcb warmup``); workers of the Dask
engine run it on start, which then only loads the cached code.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import time


def _kernels() -> dict:
    """Every numba dispatcher in ``dcb_fast.kernels``, by ``module.name``."""
    from numba.core.registry import CPUDispatcher

    from .. import kernels

    out = {}
    for mod in pkgutil.iter_modules(kernels.__path__):
        m = importlib.import_module(f"{kernels.__name__}.{mod.name}")
        for name, obj in vars(m).items():
            # inlined helpers compile into their callers, never on their own
            if (isinstance(obj, CPUDispatcher) and obj.__module__ == m.__name__
                    and obj.targetoptions.get("inline") != "always"):
                out[f"{mod.name}.{name}"] = obj
    return out


def _tables(rows: int):
    import numpy as np
    import pyarrow as pa

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


def _warm_parts(big, small, threads: int) -> None:
    """What a cluster task runs: partial states counted batch by batch (one and several
    threads, whole and partial batch buffers), serialized, read back and merged."""
    from ..fibers.state import FiberState

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


def _warm_audits(big, small, threads: int) -> None:
    """Everything else an audit and its relatives run in the calling process: finalizing, the
    per-fiber table, ambiguous-case lookup, continuous rules, completion, certificates and
    coverage."""
    from ..methods.audit import audit
    from ..methods.certify import certify
    from ..methods.coverage import coverage

    for table, batch_rows, th in ((big, 1 << 20, max(2, threads)), (small, 1_000, 1), (small, 2_500, threads)):
        r = audit(table, evidence=["s", "d", "i8", "f"], action="act", weight="w", batch_rows=batch_rows, threads=th)
        r.ambiguous_cases()
        audit(table, evidence=["i64", "b", "day", "u"], action="d", weight="wi", nulls="value",
              batch_rows=batch_rows, threads=th)
        audit(table, evidence=["d", "b"], action="act", batch_rows=batch_rows, threads=th)
    r.fibers  # the per-fiber table (its finalize kernels), on the small input only: it costs per fiber
    audit(small, evidence=["s", "d"], action="act", weight="w", min_support=3, thin="skip").fibers
    # continuous evidence: quantile bins (resolved by a first pass), tolerance and kNN windows
    for rule in ("quantile:5", "window:0.3", "knn:25", "window:mae:err"):
        audit(small, evidence=["f"], action="act", weight="w", rules={"f": rule}, threads=threads)
    audit(big, evidence=["f"], action="act", rules={"f": "quantile:10"}, threads=max(2, threads))
    # completion refines fibers by each candidate probe
    from ..methods.complete import complete

    complete(small, ["d"], "act", ["i8", "b"], weight="w", min_support=2, holdout=0.5)
    complete(small, ["d"], "act", ["i8", "b"], threads=threads)
    # certificates and production coverage reuse the same kernels and add their own sums
    cert = certify(small, evidence=["s", "d"], action="act", weight="w", min_support=2)
    coverage(cert, big.slice(0, 5_000), weight="w", action="act", by="b", threads=threads)


def warmup(threads: int | None = None, parts_only: bool = False) -> dict:
    """Compile (or load from the on-disk cache) every kernel the audit uses.

    With ``parts_only``, only what a cluster task runs (counting partial states, serializing
    and merging them): what a Dask worker needs, at a fraction of the start-up time.

    Returns where the cache is (``cache_dirs``), how long it took (``seconds``), how many kernel
    signatures were compiled (``compiled``) or loaded from the cache (``loaded``), and which
    kernels of ``dcb_fast.kernels`` were not reached (``not_warmed``; they compile on first use).

    >>> info = warmup(threads=1, parts_only=True)
    >>> info["signatures"] > 0 and info["seconds"] >= 0
    True
    """
    t0 = time.perf_counter()
    from .._jit import default_threads

    threads = threads or default_threads()
    big = _tables(40_000)  # above the rows at which batches are split over threads
    small = big.slice(3, 2_500)
    _warm_parts(big, small, threads)
    if not parts_only:
        _warm_audits(big, small, threads)
    kernels = _kernels()
    compiled = loaded = 0
    dirs = set()
    for d in kernels.values():
        compiled += sum(d.stats.cache_misses.values())
        loaded += sum(d.stats.cache_hits.values())
        path = getattr(d._cache, "_cache_path", None)  # numba's cache locator (None: caching is off)
        if path:
            dirs.add(path)
    return {
        "cache_dirs": sorted(dirs),
        "seconds": time.perf_counter() - t0,
        "kernels": len(kernels),
        "signatures": sum(len(d.signatures) for d in kernels.values()),
        "compiled": compiled,
        "loaded": loaded,
        "not_warmed": sorted(k for k, d in kernels.items() if not d.signatures),
        "threads": threads,
        "pid": os.getpid(),
    }
