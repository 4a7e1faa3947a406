"""The serialized form of a partial state: a long Arrow table, one row per (fiber, action) cell,
and its Arrow IPC bytes (what moves between processes, machines and checkpoints).

Columns: the evidence and action columns dictionary-encoded (indices are the state's codes),
``__rows``, and for weighted states ``__weight_int``/``__weight_frac`` (the exact 128-bit
weight). The schema metadata (``dcb_fast``) carries the format, its version, the column roles,
the rules' specs and the rows read and dropped.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa

from .._version import __version__
from ..core.rules import parse_rule
from ..errors import DcbError
from ..io import arrow as A

STATE_FORMAT = "dcb_fast.fiber_state"
STATE_VERSION = 1


def to_arrow(state) -> pa.Table:
    """The state as a long table, one row per (fiber, action) cell: evidence and action
    columns dictionary-encoded (indices are this state's codes), ``__rows``, and for weighted
    audits ``__weight_int``/``__weight_frac`` (the exact 128-bit weight). Schema metadata
    carries the rest."""
    dicts, keys, action_dict, act, cnt, hi, lo = state.cells()
    cols, names = [], []
    for j, c in enumerate(state.evidence):
        cols.append(pa.DictionaryArray.from_arrays(pa.array(keys[:, j], pa.int32()), dicts[j]))
        names.append(c)
    cols.append(pa.DictionaryArray.from_arrays(pa.array(act.astype(np.int32), pa.int32()), action_dict))
    names.append(state.action or "__action")
    cols.append(pa.array(cnt, pa.int64()))
    names.append("__rows")
    if state.weight:
        cols += [pa.array(hi, pa.int64()), pa.array(lo, pa.uint64())]
        names += ["__weight_int", "__weight_frac"]
    meta = {
        "format": STATE_FORMAT, "version": STATE_VERSION, "dcb_fast": __version__,
        "evidence": state.evidence, "action": state.action, "weight": state.weight, "nulls": state.nulls,
        "rules": {c: state.rules[c].spec() for c in state.evidence},
        "rows_read": state.rows_read, "dropped_rows": state.dropped_rows,
    }
    table = pa.Table.from_arrays(cols, names=names)
    return table.replace_schema_metadata({"dcb_fast": json.dumps(meta)})


def to_ipc(table: pa.Table) -> bytes:
    """Arrow IPC stream bytes of a state's table."""
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def read_ipc(data: bytes) -> pa.Table:
    """The table of IPC bytes, or a one-line error when they are not a state."""
    try:
        return pa.ipc.open_stream(pa.py_buffer(data)).read_all()
    except pa.ArrowInvalid as exc:
        raise DcbError(f"not a dcb_fast partial state (Arrow IPC could not be read: {exc})") from None


def from_arrow(cls, table: pa.Table, shards: int | None = None):
    """A state of class ``cls`` (a FiberState) rebuilt from :func:`to_arrow`'s table."""
    meta = state_meta(table)
    rules = {c: parse_rule(s) for c, s in meta["rules"].items()}
    # room reserved for every cell's fiber at once: a state grown table by table copies its records
    st = cls(meta["evidence"], meta["action"], meta["weight"], meta["nulls"], rules=rules, shards=shards,
             expected_rows=table.num_rows)
    st.restore_totals(meta["rows_read"], meta["dropped_rows"])
    if table.num_rows:
        table = table.combine_chunks()
        dicts = [A.as_array(table[c]).dictionary for c in st.evidence]
        keys = np.stack([A.np_values(A.as_array(table[c]).indices) for c in st.evidence], axis=1)
        act_arr = A.as_array(table[st.action or "__action"])
        hi = A.np_values(table["__weight_int"]) if st.weight else np.zeros(0, dtype=np.int64)
        lo = A.np_values(table["__weight_frac"]) if st.weight else np.zeros(0, dtype=np.uint64)
        st.add_cells(dicts, keys, act_arr.dictionary, A.np_values(act_arr.indices), A.np_values(table["__rows"]), hi, lo)
    return st


def state_meta(table: pa.Table) -> dict:
    raw = (table.schema.metadata or {}).get(b"dcb_fast")
    try:
        meta = json.loads(raw) if raw else None
    except ValueError:
        meta = None
    if not meta or meta.get("format") != STATE_FORMAT:
        raise DcbError("not a dcb_fast partial state (missing or foreign metadata)")
    if meta.get("version") != STATE_VERSION:
        raise DcbError(f"partial state version {meta.get('version')} is not supported by this dcb_fast "
                       f"(expects {STATE_VERSION}); rebuild it with the same version")
    return meta
