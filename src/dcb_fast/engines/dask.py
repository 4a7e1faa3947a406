"""Run an audit on a Dask cluster (``pip install 'dcb-fast[dask]'``).

Each task reads its own part of the input (a file, or a run of row groups of a big Parquet file)
with pyarrow, counts it into a :class:`~dcb_fast.fibers.state.FiberState` and returns the state as
Arrow IPC bytes; a tree of merge tasks (``split_every`` partials per merge) combines IPC bytes
into IPC bytes on the workers. Only partial states move between processes, never rows. The
client turns the last state into the result exactly as the local engine does, and since merging
is exact and order-free, the outputs are identical to a local run.

Dask is imported only when this engine runs, so the core install never needs it.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import uuid

from .._threads import usable_cpus
from ..errors import DcbError
from ..fibers.state import FiberState
from ..io.sources import Source
from .checkpoint import (
    DEFAULT_PART_ROWS,
    Checkpoint,
    PartialSpec,
    add_stats,
    compute_part,
    emit,
    fingerprint,
    new_stats,
    part_source,
    plan_parts,
    save_part,
    stored_or_none,
)
from .._jit import default_threads

DEFAULT_SPLIT_EVERY = 8
PLUGIN_NAME = "dcb-fast"


def _distributed():
    try:
        import distributed
    except ImportError:
        raise DcbError("the Dask engine needs dask.distributed, which is not installed; "
                       "pip install 'dcb-fast[dask]'") from None
    return distributed


def parse_local(scheduler: str) -> int | None:
    """The worker count of ``local:N`` (None for any other address)."""
    if not scheduler.startswith("local:") and scheduler != "local":
        return None
    n = scheduler.partition(":")[2]
    if not n.isdigit() or int(n) < 1:
        raise DcbError(f"--scheduler '{scheduler}' needs a positive worker count, e.g. local:2")
    return int(n)


@contextlib.contextmanager
def connect(scheduler, threads: int | None = None, timeout: float | None = None):
    """A ``distributed.Client`` for ``scheduler``: an existing Client (left open), ``local:N``
    (a LocalCluster of N worker processes, started and closed here) or a scheduler address.

    ``local:N`` gives each worker one Dask thread and ``cores // N`` dcb_fast threads
    (``DCB_FAST_THREADS``, or ``threads``), so processes x threads never exceeds the cores."""
    distributed = _distributed()
    if isinstance(scheduler, distributed.Client):
        yield scheduler
        return
    if not isinstance(scheduler, str) or not scheduler.strip():
        raise DcbError(f"--scheduler must be an address such as tcp://host:8786 or local:N, not {scheduler!r}")
    scheduler = scheduler.strip()
    n = parse_local(scheduler)
    if n is not None:
        try:
            cluster = distributed.LocalCluster(**local_cluster_options(n, threads))
        except Exception as exc:  # noqa: BLE001 - any start failure is reported in one line
            raise DcbError(f"could not start a local Dask cluster of {n} workers ({type(exc).__name__}: "
                           f"{_first_line(exc)}); in a script, call the audit under `if __name__ == '__main__':`") from None
        try:
            with distributed.Client(cluster) as client:
                yield client
        finally:
            cluster.close()
        return
    if timeout is None:
        timeout = float(os.environ.get("DCB_FAST_CONNECT_TIMEOUT", "10"))
    _probe(scheduler, timeout)
    try:
        client = distributed.Client(scheduler, timeout=timeout)
    except Exception as exc:  # noqa: BLE001 - whatever answered there is not a scheduler we can use
        raise DcbError(_unreachable(scheduler, f"{type(exc).__name__}: {_first_line(exc)}"[:200])) from None
    try:
        yield client
    finally:
        client.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _unreachable(scheduler: str, why: str) -> str:
    return (f"cannot reach the Dask scheduler at '{scheduler}' ({why}); check the address and that "
            "`dask scheduler` runs there, or use --scheduler local:N")


def _probe(scheduler: str, timeout: float) -> None:
    """Check the address, and for TCP that something listens there, before a Client exists: a
    Client that cannot connect leaves a traceback on stderr (and a long wait) when collected."""
    import socket

    from distributed.comm.addressing import get_address_host_port

    try:
        host, port = get_address_host_port(scheduler)
    except ValueError as exc:
        raise DcbError(f"--scheduler '{scheduler}' is not a scheduler address ({_first_line(exc)}); "
                       "use tcp://host:8786 or local:N") from None
    if scheduler.startswith("tcp://") or "://" not in scheduler:
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except socket.timeout:
            raise DcbError(_unreachable(scheduler, f"no answer within {timeout:g} s")) from None
        except OSError as exc:
            raise DcbError(_unreachable(scheduler, exc.strerror or type(exc).__name__)) from None


def local_cluster_options(n: int, threads: int | None = None) -> dict:
    """LocalCluster arguments for ``local:N``: N worker processes with one Dask thread each and
    ``threads`` (default: usable cores // N) dcb_fast threads, so processes x threads stays
    within the cores. The numba cache settings of this process go to the workers.

    >>> local_cluster_options(2, threads=1)["env"]["DCB_FAST_THREADS"]
    '1'
    """
    env = {"DCB_FAST_THREADS": str(threads or max(1, usable_cpus() // n))}
    for var in ("DCB_FAST_CACHE_DIR", "DCB_FAST_NO_CACHE"):
        if os.environ.get(var):
            env[var] = os.environ[var]
    return {"n_workers": n, "threads_per_worker": 1, "processes": True, "dashboard_address": ":0",
            "silence_logs": logging.ERROR, "env": env}


def task_threads(threads=None) -> int:
    """Threads (and fiber-table shards) for one task on this worker: ``threads`` when it is a
    number; else ``DCB_FAST_THREADS``; else the usable cores shared among all Dask threads of
    this host (``threads`` may map each host to that total, as the scheduler reported it when
    the run started: several worker processes on one machine then share its cores)."""
    if isinstance(threads, int) and threads > 0:
        return threads
    if os.environ.get("DCB_FAST_THREADS"):
        return default_threads()
    busy = 1
    try:
        from distributed import get_worker
        from distributed.comm import get_address_host

        worker = get_worker()
        busy = worker.state.nthreads
        if isinstance(threads, dict):
            busy = max(busy, threads.get(get_address_host(worker.address), 0))
    except (ImportError, ValueError, AttributeError):
        pass
    return max(1, usable_cpus() // max(1, busy))


def host_threads(client) -> dict:
    """Dask threads per host, over all workers the scheduler knows now."""
    out: dict = {}
    for info in client.scheduler_info().get("workers", {}).values():
        out[info["host"]] = out.get(info["host"], 0) + int(info["nthreads"])
    return out


# -- tasks (run on the workers) -----------------------------------------------------------------
def part_task(src: Source, part, spec: PartialSpec, checkpoint: str | None, threads=None):
    """One part to (IPC bytes of its partial state, counters): reused from the checkpoint when it
    holds this part for unchanged input, else read, counted and stored."""
    stats = new_stats(1)
    store = fp = None
    if checkpoint is not None:
        store = Checkpoint(checkpoint, spec, create=False)
        fp = fingerprint(src, part, spec)
    data = stored_or_none(store, fp, part.label, stats)
    if data is not None:
        stats["reused"] = 1
        return data, stats
    data = compute_part(src, part, spec, task_threads(threads)).to_ipc()
    save_part(store, fp, data, part.label, stats)
    stats["computed"] = 1
    stats["computed_parts"] = [part.label]
    return data, stats


def merge_task(*partials, threads=None):
    """Merge (IPC bytes, counters) pairs into one."""
    stats = partials[0][1]
    for _, st in partials[1:]:
        stats = add_stats(stats, st)
    return merge_ipc([p[0] for p in partials], task_threads(threads)).to_ipc(), stats


_COUNTS = ("rows_read", "dropped_rows")


def merge_ipc(datas: list[bytes], shards: int | None = None) -> FiberState:
    """One state from several serialized partial states of the same audit.

    The partials' cell tables are concatenated (dictionaries unified by pyarrow) and counted into
    one new state in a single pass: each cell is inserted once. Building a state per partial and
    merging those inserts every cell twice: it took twice the CPU time on 40 partials of 50k
    fibers each. Partials whose tables do not concatenate (other column types) take that path.
    """
    import pyarrow as pa

    tables, metas = [], []
    for data in datas:
        try:
            t = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
            metas.append(json.loads((t.schema.metadata or {})[b"dcb_fast"]))
        except (pa.ArrowInvalid, KeyError, ValueError):
            return _merge_states(datas, shards)  # from_ipc names the problem
        tables.append(t.replace_schema_metadata(None))
    base = {k: v for k, v in metas[0].items() if k not in _COUNTS}
    if any({k: v for k, v in m.items() if k not in _COUNTS} != base for m in metas):
        return _merge_states(datas, shards)  # merge() explains the incompatibility
    meta = dict(base, **{k: sum(int(m[k]) for m in metas) for k in _COUNTS})
    filled = [t for t in tables if t.num_rows] or tables[:1]
    try:
        cells = pa.concat_tables(filled).unify_dictionaries()
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        return _merge_states(datas, shards)
    return FiberState.from_arrow(cells.replace_schema_metadata({"dcb_fast": json.dumps(meta)}), shards=shards)


def _merge_states(datas: list[bytes], shards: int | None) -> FiberState:
    datas = sorted(datas, key=len, reverse=True)
    state = FiberState.from_ipc(datas[0], shards=shards)
    for data in datas[1:]:
        state.merge(FiberState.from_ipc(data, shards=shards))
    return state


# -- the client side -----------------------------------------------------------------------------
def register_plugin(client, threads: int | None = None) -> None:
    """Warm the kernels on every worker, now and on workers that join later (see
    :class:`~dcb_fast.engines.dask_worker.WarmupPlugin`)."""
    # lazy: dask_worker imports distributed, an optional dependency
    from .dask_worker import WarmupPlugin

    client.register_plugin(WarmupPlugin(threads=threads), name=f"{PLUGIN_NAME}-warmup-{threads or 'auto'}")


def run_dask(src: Source, spec: PartialSpec, scheduler, checkpoint: str | None = None, threads: int | None = None,
             progress=None, split_every: int = DEFAULT_SPLIT_EVERY,
             part_rows: int = DEFAULT_PART_ROWS) -> tuple[FiberState, dict]:
    """Audit ``src`` on a Dask cluster; returns the merged state and the run's counters.

    ``scheduler`` is a ``distributed.Client``, a scheduler address or ``local:N``;
    ``checkpoint`` a directory that the client and every worker can read and write."""
    if split_every < 2:
        raise DcbError(f"split_every must be at least 2, got {split_every}")
    distributed = _distributed()
    parts = plan_parts(src, part_rows)
    store = None
    if checkpoint is not None:
        for p in parts[:1]:
            fingerprint(src, p, spec)  # in-memory tables cannot be checkpointed: fail before the cluster starts
        store = Checkpoint(checkpoint, spec)
    with connect(scheduler, threads=threads) as client:
        register_plugin(client, threads)
        if store is not None:
            _check_shared(client, store)
        run = uuid.uuid4().hex[:8]
        plan = threads or host_threads(client)  # what task_threads divides the cores by
        futures = []
        for i, p in enumerate(parts):
            one, local = part_source(src, p)
            futures.append(client.submit(part_task, one, local, spec, checkpoint and os.path.abspath(checkpoint),
                                         plan, key=f"dcb-part-{run}-{i}", pure=False))
        rows = {f.key: p.rows or 0 for f, p in zip(futures, parts)}
        level, depth = futures, 0
        while len(level) > 1:
            level = [client.submit(merge_task, *level[j:j + split_every], threads=plan,
                                   key=f"dcb-merge-{run}-{depth}-{j // split_every}", pure=False)
                     for j in range(0, len(level), split_every)]
            depth += 1
        final = level[0]
        del level
        try:
            done = distributed.as_completed(futures)
            futures = None  # held only by as_completed now: a partial is released once merged
            for fut in done:
                if fut.status == "error":
                    fut.result()  # raises the task's error here, without waiting for the rest
                if progress is not None:
                    progress.add(rows[fut.key])
            fut = done = None
            data, stats = final.result()
        except distributed.KilledWorker as exc:
            raise DcbError(f"Dask workers died repeatedly while running a task ({exc}); give the workers more "
                           "memory or use smaller --batch-rows; with --checkpoint a re-run keeps finished parts") from None
        finally:
            client.cancel([final])
        n_workers = len(client.scheduler_info().get("workers", {}))
    state = spec.restore_rules(FiberState.from_ipc(data, shards=threads))
    stats = dict(stats, workers=n_workers, split_every=split_every, computed_parts=sorted(stats["computed_parts"]))
    emit(stats)
    return state, stats


def _check_shared(client, store: Checkpoint) -> None:
    """Every worker must see the checkpoint directory the client just wrote to."""
    seen = client.run(os.path.isfile, store.marker)
    blind = sorted(w for w, ok in seen.items() if not ok)
    if blind:
        raise DcbError(f"checkpoint directory '{store.root}' is not visible from worker {blind[0]}; put it on a "
                       "filesystem that the client and all workers share")


class DaskEngine:
    """:func:`run_dask` on ``scheduler`` (a ``distributed.Client``, an address or ``local:N``),
    with an optional shared ``checkpoint`` directory."""

    name = "dask"

    def __init__(self, scheduler, checkpoint: str | None = None, split_every: int = DEFAULT_SPLIT_EVERY,
                 part_rows: int = DEFAULT_PART_ROWS):
        self.scheduler, self.checkpoint = scheduler, checkpoint
        self.split_every, self.part_rows = split_every, part_rows

    def run(self, source: Source, spec: PartialSpec, *, threads: int | None = None, progress=None):
        return run_dask(source, spec, self.scheduler, checkpoint=self.checkpoint, threads=threads, progress=progress,
                        split_every=self.split_every, part_rows=self.part_rows)
