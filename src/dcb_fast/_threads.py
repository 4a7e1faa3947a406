"""The worker threads shared by every parallel step (numba kernels release the GIL, so plain
threads use every core without copying data between processes)."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_size = 0


def pool(threads: int) -> ThreadPoolExecutor:
    """A process-wide pool with at least ``threads`` workers."""
    global _pool, _size
    with _lock:
        if _pool is None or _size < threads:
            _pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dcb")
            _size = threads
        return _pool


def parallel_map(fn, items, threads: int) -> list:
    """``[fn(x) for x in items]`` on up to ``threads`` threads; the first error is raised."""
    items = list(items)
    if threads <= 1 or len(items) <= 1 or threading.current_thread().name.startswith("dcb"):
        return [fn(x) for x in items]
    futures = [pool(threads).submit(fn, x) for x in items]
    return [f.result() for f in futures]


def usable_cpus() -> int:
    """The cores this process may run on (its CPU affinity, else the machine's count)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
