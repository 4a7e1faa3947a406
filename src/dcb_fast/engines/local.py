"""Run partial states on worker threads in this process.

Each worker owns a whole partial state (dictionaries and fiber table), pulls the next batch
from the shared reader and counts it with GIL-free kernels, so two threads really use two
cores. At the end the partials merge; because merging is exact and order-free, which thread got
which batch never shows in the result.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Iterator

from .._jit import default_threads
from ..errors import DcbError


def run_partials(batches: Iterator, new_state: Callable, threads: int | None = None, progress=None,
                 on_batch: Callable | None = None, labels: dict | None = None):
    """Feed every ``(part, batch)`` of ``batches`` into per-thread states; return their merge.

    ``labels`` names each part (a file path) in error messages."""
    threads = default_threads() if threads is None else int(threads)
    if threads < 1:
        raise DcbError(f"threads must be at least 1, got {threads}")
    lock = threading.Lock()
    failed = threading.Event()

    def take():
        with lock:
            if failed.is_set():
                return None
            return next(batches, None)

    def work():
        state = new_state()
        try:
            while True:
                item = take()
                if item is None:
                    return state
                part, batch = item
                try:
                    state.update(batch)
                except DcbError as exc:
                    where = (labels or {}).get(part)
                    raise DcbError(f"{where}: {exc}" if where and not where.startswith("<") else str(exc)) from None
                if on_batch is not None:
                    on_batch(part, batch)
                if progress is not None:
                    progress.add(batch.num_rows)
        except BaseException:
            failed.set()
            raise

    if threads == 1:
        return work()
    with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="dcb") as pool:
        futures = [pool.submit(work) for _ in range(threads)]
        states = [f.result() for f in futures]
    merged = states[0]
    for s in states[1:]:
        merged.merge(s)
    return merged
