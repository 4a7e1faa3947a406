"""The worker side of the Dask engine: a plugin that prepares every worker before its first task.

Imported only when the Dask engine runs (it needs ``distributed``).
"""

from __future__ import annotations

import asyncio
import logging
import os

from distributed.diagnostics.plugin import WorkerPlugin

from .._threads import usable_cpus
from ..fibers.warm import warm


class WarmupPlugin(WorkerPlugin):
    """On worker start (and on every worker that joins later): set the thread budget and compile
    the kernels once, by running :func:`dcb_fast.fibers.warm.warm` (a tiny audit: the counting,
    serializing and merging that the worker's tasks run).

    The numba cache directory is the worker's ``DCB_FAST_CACHE_DIR`` (or ``cache_dir`` here):
    with a warm cache, e.g. one baked into the cluster image by ``dcb warmup``, a worker loads
    the kernels instead of compiling them. Threads for the warm-up: ``threads``, else the
    worker's ``DCB_FAST_THREADS``, else its usable cores over its Dask threads (an upper bound:
    tasks divide the cores by the Dask threads of every worker on the host, see
    ``dask.task_threads``); pyarrow's CPU pool is capped to match.
    What the warm-up found is kept in ``worker.dcb_fast_warmup``.
    """

    # registered once per configuration (the name carries it): later audits on the same cluster
    # find the workers ready and do not warm them again
    idempotent = True

    def __init__(self, threads: int | None = None, cache_dir: str | None = None):
        self.threads = threads
        self.cache_dir = cache_dir

    async def setup(self, worker):
        if self.cache_dir:
            os.environ.setdefault("DCB_FAST_CACHE_DIR", self.cache_dir)  # read when _jit is first imported
        # compiling can take many seconds on a cold cache: keep the worker's event loop answering
        try:
            info = await asyncio.get_running_loop().run_in_executor(None, self._warm, worker.state.nthreads)
        except Exception as exc:  # noqa: BLE001 - warming is an optimization: tasks compile on first use
            logging.getLogger(__name__).warning("dcb_fast warm-up failed on %s: %r", worker.address, exc)
            info = {"error": repr(exc)}
        worker.dcb_fast_warmup = info

    def _warm(self, nthreads: int) -> dict:
        import pyarrow as pa

        # lazy: DCB_FAST_CACHE_DIR (set in setup) must be in place before _jit is first imported
        from .._jit import default_threads
        threads = self.threads or (default_threads() if os.environ.get("DCB_FAST_THREADS")
                                   else max(1, usable_cpus() // max(1, nthreads)))
        pa.set_cpu_count(max(1, threads * max(1, nthreads)))
        info = warm(threads=threads)
        info["task_threads"] = threads
        return info
