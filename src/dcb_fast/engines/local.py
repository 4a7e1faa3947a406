"""Run an audit in this process: one partial state fed batch by batch.

The state counts each batch in hash partitions on worker threads (the kernels release the GIL),
and a reader thread decodes the next batch meanwhile, so reading, encoding and counting overlap
and both cores stay busy.
"""

from __future__ import annotations

import queue
import threading
from typing import Callable, Iterator

from ..errors import DcbError

_DONE = object()


def prefetch(items: Iterator, depth: int = 2) -> Iterator:
    """Iterate ``items`` on a background thread, ``depth`` items ahead (errors re-raised here)."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce():
        try:
            for it in items:
                if stop.is_set():
                    return
                q.put((True, it))
        except BaseException as exc:  # noqa: BLE001 - handed to the consumer
            q.put((False, exc))
            return
        q.put((True, _DONE))

    t = threading.Thread(target=produce, name="dcb-reader", daemon=True)
    t.start()
    try:
        while True:
            ok, it = q.get()
            if not ok:
                raise it
            if it is _DONE:
                return
            yield it
    finally:
        stop.set()
        while t.is_alive():  # unblock a producer waiting on a full queue
            try:
                q.get_nowait()
            except queue.Empty:
                t.join(0.01)


def run_partials(batches: Iterator, new_state: Callable, threads: int | None = None, progress=None,
                 on_batch: Callable | None = None, labels: dict | None = None, prepare: Callable | None = None):
    """Feed every ``(part, batch)`` of ``batches`` into a new state and return it.

    ``labels`` names each part (a file path) in error messages; ``prepare(part, batch)``
    (optional) turns a batch into what the state counts; ``threads`` is kept for callers that size the
    state themselves."""
    state = new_state()
    for part, batch in prefetch(batches):
        try:
            state.update(prepare(part, batch) if prepare else batch)
        except DcbError as exc:
            where = (labels or {}).get(part)
            raise DcbError(f"{where}: {exc}" if where and not where.startswith("<") else str(exc)) from None
        if on_batch is not None:
            on_batch(part, batch)
        if progress is not None:
            progress.add(batch.num_rows)
    return state


class LocalEngine:
    """The default engine: every batch of the source into one state in this process (see
    :func:`run_partials`); nothing is kept on disk."""

    name = "local"

    def run(self, source, spec, *, threads: int | None = None, progress=None):
        labels = dict(source.parts())
        state = run_partials(source.batches(spec.columns), lambda: spec.new_state(threads, source.total_rows),
                             threads=threads, progress=progress, labels=labels,
                             prepare=spec.prepares and (lambda part, b: spec.batch(b, labels[part])))
        return state, {}
