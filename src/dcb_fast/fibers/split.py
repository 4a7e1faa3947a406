"""A state's cells split by a hash of the fiber's values, and disjoint splits put back together.

What the Dask engine's partition-wise plan moves between tasks: each task splits its partial state
into ``parts`` tables (:func:`split_state`); partition ``p`` of every task merges into one state
on one reduce task (:func:`merge_tables`); the client joins the reduced partitions
(:func:`merge_tables` again: they hold disjoint fibers).

The partition of a fiber hashes the value keys of its evidence values
(:meth:`~dcb_fast.io.encoding.ColumnEncoder.value_keys`), never the state's own codes, which
depend on the order a task first saw the values: a fiber lands in the same partition whatever
task counted it. Each table is a state's serialized form (``serialize.to_arrow``), so merging
needs nothing new; only the first table of a split carries the rows read and dropped (the others
say 0), so any union of splits sums them right.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from ..kernels.hashing import GOLDEN
from . import serialize
from .state import FiberState

_P = np.uint64(0x9FB21C651E98DF25)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_COUNTS = ("rows_read", "dropped_rows")


def _mix(x: np.ndarray) -> np.ndarray:
    """splitmix64's finaliser on a uint64 array (``kernels.hashing.mix64``, vectorised)."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def fiber_partitions(key_columns: list[np.ndarray], parts: int) -> np.ndarray:
    """Partition (int64 in ``0..parts-1``) of each fiber from its columns' value keys (one uint64
    array per evidence column, a value per fiber).

    >>> k = [np.array([1, 2, 1], np.uint64), np.array([7, 7, 7], np.uint64)]
    >>> p = fiber_partitions(k, 4)
    >>> bool(p[0] == p[2]), bool(((p >= 0) & (p < 4)).all())
    (True, True)
    """
    n = len(key_columns[0]) if key_columns else 0
    h = np.full(n, GOLDEN, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for vk in key_columns:
            h = (h ^ _mix(vk)) * _P
        h = _mix(h)
    return ((h >> np.uint64(32)) % np.uint64(parts)).astype(np.int64)


def split_state(state, parts: int) -> list[pa.Table]:
    """``state`` as ``parts`` serialized states (``serialize.to_arrow`` tables), fiber ``f`` in
    table ``fiber_partitions(...)[f]``: the same partition in every state of the same audit.

    >>> import pyarrow as pa
    >>> from dcb_fast.fibers.state import FiberState
    >>> st = FiberState(["lang"], "route")
    >>> st.update(pa.record_batch({"lang": ["en", "fr", "de", "en"], "route": ["a", "b", "a", "a"]}))
    >>> tables = split_state(st, 2)
    >>> sum(t.num_rows for t in tables), merge_tables(tables).n_rows
    (3, 4)
    """
    table = state.to_arrow()
    meta = json.loads(table.schema.metadata[b"dcb_fast"])
    if parts <= 1:
        return [table]
    table = table.combine_chunks()
    keys = [enc.value_keys()[_indices(table[c])] if len(enc) else np.zeros(table.num_rows, np.uint64)
            for enc, c in zip(state.encoders, state.evidence)]
    part = fiber_partitions(keys, parts)
    order = np.argsort(part, kind="stable")
    bounds = np.searchsorted(part[order], np.arange(parts + 1))
    ordered = table.take(pa.array(order))
    out = []
    for p in range(parts):
        m = dict(meta) if p == 0 else dict(meta, **{k: 0 for k in _COUNTS})
        piece = ordered.slice(int(bounds[p]), int(bounds[p + 1] - bounds[p]))
        out.append(piece.replace_schema_metadata({"dcb_fast": json.dumps(m)}))
    return out


def _indices(col) -> np.ndarray:
    arr = col.chunk(0) if col.num_chunks else pa.array([], pa.int32())
    return np.asarray(arr.indices if hasattr(arr, "indices") else arr, dtype=np.int64)


def merge_tables(tables: list[pa.Table], shards: int | None = None):
    """One :class:`~dcb_fast.fibers.state.FiberState` from serialized states of the same audit.

    The cell tables are concatenated (dictionaries unified by pyarrow) and counted into one new
    state in a single pass: each cell is inserted once. Tables whose columns do not concatenate
    (other column types) are rebuilt as states and merged state by state, which also explains an
    incompatibility (another audit's state)."""
    metas = [serialize.state_meta(t) for t in tables]
    base = {k: v for k, v in metas[0].items() if k not in _COUNTS}
    if all({k: v for k, v in m.items() if k not in _COUNTS} == base for m in metas):
        meta = dict(base, **{k: sum(int(m[k]) for m in metas) for k in _COUNTS})
        filled = [t.replace_schema_metadata(None) for t in tables if t.num_rows] or [tables[0].replace_schema_metadata(None)]
        try:
            cells = pa.concat_tables(filled).unify_dictionaries()
        except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
            pass
        else:
            return FiberState.from_arrow(cells.replace_schema_metadata({"dcb_fast": json.dumps(meta)}), shards=shards)
    return _merge_states(tables, shards)


def _merge_states(tables: list[pa.Table], shards: int | None) -> FiberState:
    """The tables as states, merged one by one (the largest first)."""
    tables = sorted(tables, key=lambda t: t.num_rows, reverse=True)
    state = FiberState.from_arrow(tables[0], shards=shards)
    for t in tables[1:]:
        state.merge(FiberState.from_arrow(t, shards=shards))
    return state
