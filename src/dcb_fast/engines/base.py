"""One engine interface for every method: a source and a :class:`PartialSpec` in, the merged
:class:`~dcb_fast.fibers.FiberState` and what the run did out.

Every method (audit, certify, coverage, complete, replay, the acquisition replay, the sweep)
counts its input into a mergeable fiber state, describes that state by a spec and calls
:func:`run`; it never knows which engine ran. Choosing an engine is a lookup in a registry:

- ``scheduler=None, checkpoint=None``: ``local`` (threads in this process);
- ``scheduler=None, checkpoint=DIR``: ``checkpoint`` (the local engine, part by part, every
  finished part kept in DIR);
- ``scheduler="<scheme>://..."`` where an engine registered that scheme: that engine;
- any other ``scheduler`` (``local:N``, ``tcp://host:8786``, a ``distributed.Client``): ``dask``.

A new engine (Ray, Spark) is one module with a class that has ``name`` and
``run(source, spec, *, threads, progress) -> (state, run_info)``, and one call
``register_engine("ray", RayEngine, schemes=("ray",))``: ``--scheduler ray://head:10001`` then
runs every method on it. The engine reads each part of ``source`` (``checkpoint.plan_parts``,
``part_batches``), builds ``spec.new_state()`` per part, and merges the partial states (in any
order: merging is exact); the states travel as ``FiberState.to_ipc()`` bytes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Protocol

from ..errors import DcbError
from ..fibers.state import FiberState
from ..io.sources import Source
from .checkpoint import CheckpointEngine, PartialSpec
from .dask import DaskEngine
from .local import LocalEngine

__all__ = ["Engine", "PartialSpec", "register_engine", "engine_names", "engine_for", "run"]


class Engine(Protocol):
    """What an engine is: a ``name`` (reported as ``run_info["engine"]``) and :meth:`run`."""

    name: str

    def run(self, source: Source, spec: PartialSpec, *, threads: int | None = None,
            progress=None) -> tuple[FiberState, dict]:
        """Count every row of ``source`` into states built by ``spec.new_state`` and merge them;
        return the merged state and the run's counters (a JSON-ready dict, may be empty).
        ``progress`` (a :class:`~dcb_fast.progress.Progress` or None) gets ``add(rows)``."""
        ...  # pragma: no cover - a protocol


@dataclass(frozen=True)
class _Registration:
    factory: Callable[..., Engine]
    schemes: tuple


_ENGINES: dict[str, _Registration] = {}


def register_engine(name: str, factory: Callable[..., Engine], *, schemes=()) -> None:
    """Make ``factory(scheduler=..., checkpoint=...)`` the engine called ``name``; a
    ``--scheduler`` address that starts with one of ``schemes`` (``"ray"`` for ``ray://...``)
    selects it. Registering a name again replaces it.

    >>> register_engine("echo", lambda scheduler, checkpoint: LocalEngine(), schemes=("echo",))
    >>> type(engine_for("echo://anywhere")).__name__
    'LocalEngine'
    >>> _ENGINES.pop("echo") and None
    """
    if not name or not isinstance(name, str):
        raise DcbError(f"an engine needs a name, got {name!r}")
    _ENGINES[name] = _Registration(factory, tuple(schemes))


def engine_names() -> list[str]:
    """The registered engines, in registration order."""
    return list(_ENGINES)


def _choose(scheduler, checkpoint) -> str:
    if scheduler is None:
        return "checkpoint" if checkpoint is not None else "local"
    if isinstance(scheduler, str) and "://" in scheduler:
        scheme = scheduler.strip().split("://", 1)[0]
        for name, reg in _ENGINES.items():
            if scheme in reg.schemes:
                return name
    return "dask"  # local:N, tcp://..., a distributed.Client: connect() checks the address


def engine_for(scheduler=None, checkpoint: str | None = None) -> Engine:
    """The engine that runs on ``scheduler`` with ``checkpoint`` (see the module docstring).

    >>> engine_for().name, engine_for(checkpoint="ck/").name, engine_for("local:2").name
    ('local', 'local', 'dask')
    """
    return _ENGINES[_choose(scheduler, checkpoint)].factory(scheduler=scheduler, checkpoint=checkpoint)


def run(source: Source, spec: PartialSpec, *, scheduler=None, checkpoint: str | None = None,
        threads: int | None = None, progress=None) -> tuple[FiberState, dict]:
    """Count ``source`` into the state ``spec`` describes, on the engine ``scheduler`` and
    ``checkpoint`` choose. Returns the merged state and ``run_info``: ``engine`` (where it
    ran), ``checkpoint`` (the directory or None) and the engine's counters (parts computed
    and reused, workers). The state, and so every result, is the same on every engine.

    >>> import pyarrow as pa
    >>> from dcb_fast.io.sources import open_source
    >>> src = open_source(pa.table({"e": [1, 1, 2], "a": ["x", "y", "x"]}), ["e", "a"])
    >>> state, info = run(src, PartialSpec.of(src, ["e"], "a", None, "drop", None))
    >>> state.n_fibers, state.n_rows, info
    (2, 3, {'engine': 'local', 'checkpoint': None})
    """
    engine = engine_for(scheduler, checkpoint)
    state, info = engine.run(source, spec, threads=threads, progress=progress)
    return state, {**info, "engine": engine.name, "checkpoint": checkpoint}


register_engine("local", lambda scheduler, checkpoint: LocalEngine())
register_engine("checkpoint", lambda scheduler, checkpoint: CheckpointEngine(checkpoint))
register_engine("dask", lambda scheduler, checkpoint: DaskEngine(scheduler, checkpoint))
