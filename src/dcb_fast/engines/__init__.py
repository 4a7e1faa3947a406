"""Engines count the parts of an input into partial states and merge them, behind one interface
(:mod:`.base`): ``local`` (threads in this process), ``checkpoint`` (the local engine keeping every
finished part on disk) and ``dask`` (a dask.distributed cluster). Methods call :func:`run`."""

from .base import Engine, PartialSpec, engine_for, engine_names, register_engine, run

__all__ = ["Engine", "PartialSpec", "engine_for", "engine_names", "register_engine", "run"]
