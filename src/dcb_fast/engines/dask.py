"""Run an audit on a Dask cluster (``pip install 'dcb-fast[dask]'``): a partition-wise plan.

1. One **map** task per part of the input (a file, or a run of row groups of a big Parquet file;
   by default the input shared evenly among the workers) reads it with pyarrow, counts it into a
   :class:`~dcb_fast.fibers.state.FiberState` (stored in the checkpoint when there is one) and
   splits the state into P hash partitions of the fiber's values (``fibers.split``), P pieces of
   Arrow IPC bytes: a fiber lands in the same partition whatever task counted it.
2. One **reduce** task per partition merges that partition's pieces of every part (each cell
   inserted once) and returns the partition's state.
3. The **client** joins the P reduced partitions (disjoint fibers: nothing to merge twice) and
   turns the state into the result exactly as the local engine does.

No task ever merges whole states: each worker holds its parts' states and 1/P of the result at a
time. Only Dask's own scheduling moves data (futures; small ``pick`` tasks run where a map's
output is and hand one piece to its reduce). Merging is exact and order-free, so the outputs are
identical to a local run; ``run_info`` reports the time split, the bytes shipped and the peak
memory of the busiest worker next to the final state's size.

Dask is imported only when this engine runs, so the core install never needs it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import time
import uuid

from .._threads import usable_cpus
from ..errors import DcbError
from ..fibers.serialize import read_ipc, to_ipc
from ..fibers.split import merge_tables, split_state
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
    part_batches,
    part_source,
    plan_parts,
    save_part,
    stored_or_none,
)
from .._jit import default_threads
from .local import run_partials

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
class _PeakMemory:
    """The largest resident set size of this process while the block runs (sampled every few
    milliseconds on a thread: ``ru_maxrss`` would be the peak of the worker's whole life)."""

    def __init__(self, every: float = 0.005):
        self.every, self.peak, self.start = every, 0, 0

    def __enter__(self):
        import threading

        import psutil  # a dependency of distributed

        proc = psutil.Process()
        self.start = self.peak = proc.memory_info().rss
        self._stop = threading.Event()

        def sample():
            while not self._stop.wait(self.every):
                self.peak = max(self.peak, proc.memory_info().rss)

        self._thread = threading.Thread(target=sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        import psutil

        self.peak = max(self.peak, psutil.Process().memory_info().rss)


def _where() -> str:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return "client"


def part_state(src: Source, part, spec: PartialSpec, checkpoint: str | None, threads=None):
    """One part's partial state and counters: read back from the checkpoint when it holds this
    part for unchanged input, else read, counted and stored (as IPC bytes, as the local
    checkpoint engine stores it)."""
    stats = new_stats(1)
    store = fp = None
    if checkpoint is not None:
        store = Checkpoint(checkpoint, spec, create=False)
        fp = fingerprint(src, part, spec)
    shards = task_threads(threads)
    data = stored_or_none(store, fp, part.label, stats)
    if data is not None:
        try:
            state = FiberState.from_ipc(data, shards=shards)
        except DcbError as exc:
            stats["warnings"].append(f"checkpoint part {store.path(fp)} for '{part.label}' cannot be read "
                                     f"({exc}); recomputed it")
        else:
            stats["reused"] = 1
            return state, stats
    state = compute_part(src, part, spec, shards)
    if store is not None:
        save_part(store, fp, state.to_ipc(), part.label, stats)
    stats["computed"] = 1
    stats["computed_parts"] = [part.label]
    return state, stats


def group_state(items: list, spec: PartialSpec, checkpoint: str | None, threads=None):
    """The partial state of a group of parts (``(source, part)`` pairs) and its counters. Without
    a checkpoint every batch of every part goes into one state, as the local engine counts; with
    one, each part is kept (or reused) on its own and the parts' states merge."""
    if checkpoint is not None or len(items) == 1:
        state, stats = None, new_stats(0)
        for one, part in items:
            st, s1 = part_state(one, part, spec, checkpoint, threads)
            state = st if state is None else state.merge(st)
            stats = add_stats(stats, s1)
        return state, stats
    labels = {j: part.label for j, (_, part) in enumerate(items)}

    def batches():
        for j, (one, part) in enumerate(items):
            for _, b in part_batches(one, part, spec.columns):
                yield j, b

    rows = sum(part.rows or 0 for _, part in items)
    state = run_partials(batches(), lambda: spec.new_state(task_threads(threads), rows or None), labels=labels,
                         prepare=spec.prepares and (lambda j, b: spec.batch(b, labels[j])))
    stats = new_stats(len(items))
    stats["computed"] = len(items)
    stats["computed_parts"] = list(labels.values())
    return state, stats


def map_task(items: list, spec: PartialSpec, checkpoint: str | None, threads, partitions: int):
    """A group of parts counted and split by fiber hash: ``(counters, piece_0, ...,
    piece_{P-1})``, piece ``p`` the IPC bytes of the group's fibers in partition ``p``
    (``fibers.split``)."""
    t0 = time.perf_counter()
    with _PeakMemory() as mem:
        state, stats = group_state(items, spec, checkpoint, threads)
        state.flush()
        t1 = time.perf_counter()
        pieces = [to_ipc(t) for t in split_state(state, partitions)]
        fibers = state.n_fibers
        del state
    t2 = time.perf_counter()
    stats["seconds"] = {"count": t1 - t0, "split": t2 - t1}
    stats["map_bytes"] = sum(len(p) for p in pieces)
    stats["part_fibers"] = [fibers]
    stats["memory"] = {_where(): (mem.start, mem.peak)}
    return (stats, *pieces)


def groups_of(parts: list, tasks: int) -> list[list[int]]:
    """Parts (their indices) in ``tasks`` contiguous groups of about equal rows (fewer when
    there are fewer parts); a part of unknown size counts as one row.

    >>> from dcb_fast.engines.checkpoint import Part
    >>> groups_of([Part(i, str(i), r) for i, r in enumerate([5, 5, 5, 5, 10])], 2)
    [[0, 1, 2], [3, 4]]
    """
    rows = [max(1, p.rows or 1) for p in parts]
    tasks = max(1, min(tasks, len(parts)))
    total, out, acc = sum(rows), [[]], 0
    for i, r in enumerate(rows):
        left = len(parts) - i  # never leave a later group empty
        if out[-1] and len(out) < tasks and (acc + r / 2 > total * len(out) / tasks or left <= tasks - len(out)):
            out.append([])
        out[-1].append(i)
        acc += r
    return out


def pick(result: tuple, i: int):
    """Item ``i`` of a task's tuple (runs where the tuple is, so only the item moves)."""
    return result[i]


def reduce_task(*pieces: bytes, threads=None):
    """Partition ``p`` of every part merged into one state: ``(IPC bytes, counters)``."""
    t0 = time.perf_counter()
    with _PeakMemory() as mem:
        state = merge_tables([read_ipc(d) for d in pieces], task_threads(threads))
        out = state.to_ipc()
        del state
    stats = {"seconds": {"reduce": time.perf_counter() - t0}, "memory": {_where(): (mem.start, mem.peak)},
             "reduce_in_bytes": sum(len(d) for d in pieces), "reduce_out_bytes": len(out)}
    return out, stats


def merge_ipc(datas: list[bytes], shards: int | None = None) -> FiberState:
    """One state from several serialized partial states of the same audit
    (:func:`~dcb_fast.fibers.split.merge_tables` on their tables)."""
    return merge_tables([read_ipc(d) for d in datas], shards)


# -- the client side -----------------------------------------------------------------------------
def register_plugin(client, threads: int | None = None) -> None:
    """Warm the kernels on every worker, now and on workers that join later (see
    :class:`~dcb_fast.engines.dask_worker.WarmupPlugin`)."""
    # lazy: dask_worker imports distributed, an optional dependency
    from .dask_worker import WarmupPlugin

    client.register_plugin(WarmupPlugin(threads=threads), name=f"{PLUGIN_NAME}-warmup-{threads or 'auto'}")


def balanced_part_rows(total_rows: int | None, workers: int) -> int:
    """Rows per part when none is given: the input shared evenly among the workers (each counts
    one part, so as few partial states as workers exist), at most ``DEFAULT_PART_ROWS``.

    >>> balanced_part_rows(10_000_000, 2), balanced_part_rows(None, 2) == DEFAULT_PART_ROWS
    (5000000, True)
    """
    if not total_rows:
        return DEFAULT_PART_ROWS
    return max(1, min(DEFAULT_PART_ROWS, -(-int(total_rows) // max(1, workers))))


def run_dask(src: Source, spec: PartialSpec, scheduler, checkpoint: str | None = None, threads: int | None = None,
             progress=None, partitions: int | None = None, part_rows: int | None = None,
             tasks: int | None = None) -> tuple[FiberState, dict]:
    """Audit ``src`` on a Dask cluster; returns the merged state and the run's counters.

    ``scheduler`` is a ``distributed.Client``, a scheduler address or ``local:N``;
    ``checkpoint`` a directory that the client and every worker can read and write;
    ``partitions`` the hash partitions the partial states are split into (default: 2 per
    worker); ``part_rows`` the rows per part (default: ``DEFAULT_PART_ROWS`` with a checkpoint,
    so parts are the local checkpoint engine's and survive a change of workers; else the input
    shared evenly among the workers, :func:`balanced_part_rows`); ``tasks`` the map tasks, each
    counting a group of parts into one state (default: one per worker, :func:`groups_of`), so the
    states shipped are as many as the workers, not the files."""
    if partitions is not None and partitions < 1:
        raise DcbError(f"partitions must be at least 1, got {partitions}")
    if tasks is not None and tasks < 1:
        raise DcbError(f"tasks must be at least 1, got {tasks}")
    distributed = _distributed()
    store = None
    if checkpoint is not None:
        for p in plan_parts(src, part_rows or DEFAULT_PART_ROWS)[:1]:
            fingerprint(src, p, spec)  # in-memory tables cannot be checkpointed: fail before the cluster starts
        store = Checkpoint(checkpoint, spec)
    t_start = time.perf_counter()
    with connect(scheduler, threads=threads) as client:
        register_plugin(client, threads)
        if store is not None:
            _check_shared(client, store)
        n_workers = len(client.scheduler_info().get("workers", {}))
        if part_rows is None:
            part_rows = DEFAULT_PART_ROWS if store is not None else balanced_part_rows(src.total_rows, n_workers)
        parts = plan_parts(src, part_rows)
        n_part = partitions or 2 * max(1, n_workers)
        run = uuid.uuid4().hex[:8]
        plan = threads or host_threads(client)  # what task_threads divides the cores by
        maps, rows = [], {}
        for i, group in enumerate(groups_of(parts, tasks or max(1, n_workers))):
            items = [part_source(src, parts[j]) for j in group]
            maps.append(client.submit(map_task, items, spec, checkpoint and os.path.abspath(checkpoint),
                                      plan, n_part, key=f"dcb-map-{run}-{i}", pure=False))
            rows[maps[-1].key] = sum(parts[j].rows or 0 for j in group)
        reduces = []
        for q in range(n_part):
            pieces = [client.submit(pick, m, 1 + q, key=f"dcb-pick-{run}-{i}-{q}", pure=False)
                      for i, m in enumerate(maps)]
            reduces.append(client.submit(reduce_task, *pieces, threads=plan, key=f"dcb-reduce-{run}-{q}",
                                         pure=False))
        stats_futs = [client.submit(pick, m, 0, key=f"dcb-stats-{run}-{i}", pure=False) for i, m in enumerate(maps)]
        try:
            done = distributed.as_completed(maps)
            maps = None  # held by as_completed and the picks: a part's pieces are released once reduced
            for fut in done:
                if fut.status == "error":
                    fut.result()  # raises the task's error here, without waiting for the rest
                if progress is not None:
                    progress.add(rows[fut.key])
            fut = done = None
            t_mapped = time.perf_counter()
            map_stats = client.gather(stats_futs)
            reduced = client.gather(reduces)
        except distributed.KilledWorker as exc:
            raise DcbError(f"Dask workers died repeatedly while running a task ({exc}); give the workers more "
                           "memory or use smaller --batch-rows; with --checkpoint a re-run keeps finished parts") from None
        finally:
            client.cancel(reduces + stats_futs)
        t_reduced = time.perf_counter()
        n_workers = len(client.scheduler_info().get("workers", {}))
    state = spec.restore_rules(merge_tables([read_ipc(d) for d, _ in reduced], threads))
    state.flush()
    t_end = time.perf_counter()
    return state, _run_info(map_stats, [s for _, s in reduced], state, n_workers, n_part,
                            {"maps": t_mapped - t_start, "reduces": t_reduced - t_mapped, "assemble": t_end - t_reduced})


def _run_info(map_stats: list, red_stats: list, state: FiberState, workers: int, partitions: int, wall: dict) -> dict:
    """The run's counters: parts computed and reused, and where the time, bytes and memory went
    (``shipped_bytes``: map pieces plus reduced partitions, everything that moved between tasks
    and to the client; ``peak_worker_rss``: the busiest worker's largest resident set while its
    tasks ran, and ``worker_rss_at_start`` that worker's resident set when its first task of the
    run started (a long-lived worker keeps memory from earlier runs); ``state_bytes``: the final
    state's serialized size)."""
    stats = new_stats(0)
    for st in map_stats:
        stats = add_stats(stats, st)
    secs: dict = {}
    memory: dict = {}
    for st in map_stats + red_stats:
        for k, v in st["seconds"].items():
            secs[k] = secs.get(k, 0.0) + v
        for w, (start, peak) in st["memory"].items():
            was = memory.get(w, (start, 0))
            memory[w] = (min(was[0], start), max(was[1], peak))
    busiest = max(memory.values(), key=lambda m: m[1], default=(0, 0))
    map_bytes = sum(st["map_bytes"] for st in map_stats)
    out_bytes = sum(st["reduce_out_bytes"] for st in red_stats)
    stats.update(
        workers=workers, tasks=len(map_stats), partitions=partitions, computed_parts=sorted(stats["computed_parts"]),
        part_fibers=sorted(f for st in map_stats for f in st["part_fibers"]), fibers=state.n_fibers,
        shipped_bytes=map_bytes + out_bytes, map_bytes=map_bytes, reduced_bytes=out_bytes,
        state_bytes=out_bytes, peak_worker_rss=busiest[1], worker_rss_at_start=busiest[0],
        task_seconds={k: round(v, 3) for k, v in secs.items()}, wall_seconds={k: round(v, 3) for k, v in wall.items()},
    )
    emit(stats)
    return stats


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

    def __init__(self, scheduler, checkpoint: str | None = None, partitions: int | None = None,
                 part_rows: int | None = None, tasks: int | None = None):
        self.scheduler, self.checkpoint = scheduler, checkpoint
        self.partitions, self.part_rows, self.tasks = partitions, part_rows, tasks

    def run(self, source: Source, spec: PartialSpec, *, threads: int | None = None, progress=None):
        return run_dask(source, spec, self.scheduler, checkpoint=self.checkpoint, threads=threads, progress=progress,
                        partitions=self.partitions, part_rows=self.part_rows, tasks=self.tasks)
