"""The partial state of an audit: evidence fibers and their per-action counts.

A :class:`FiberState` is what a batch, a file, a thread or a cluster task produces. It is
updated from record batches, merges with another state (associative and commutative: counts are
integers and weights are 128-bit fixed point), serializes to Arrow IPC, and is finalized into the
metrics and the per-fiber table (``dcb_fast.metrics``).

Each state owns its dictionaries (one :class:`~dcb_fast.io.encoding.ColumnEncoder` per evidence
column and one for the action), so states built independently, on different machines, merge by
re-coding the other state's dictionaries into this one's.
"""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from . import __version__
from .errors import DcbError
from .io import arrow as A
from .io.encoding import ColumnEncoder
from .kernels import counting as kc
from .rules import Rule, exact

import os

STATE_FORMAT = "dcb_fast.fiber_state"
DEFAULT_MAX_FIBERS = int(os.environ.get("DCB_FAST_MAX_FIBERS", 50_000_000))
STATE_VERSION = 1
_MAX_WEIGHT = float(2**62)


class FiberState:
    """Per-fiber, per-action row counts (and weights) over the evidence columns.

    >>> st = FiberState(["lang"], "route")
    >>> st.update(pa.record_batch({"lang": ["en", "en", "fr"], "route": ["a", "b", "a"]}))
    >>> st.n_fibers, st.n_rows
    (2, 3)
    """

    def __init__(self, evidence, action, weight=None, nulls="drop", rules=None, capacity=1024,
                 max_fibers: int | None = None):
        self.evidence = list(evidence)
        self.max_fibers = DEFAULT_MAX_FIBERS if max_fibers is None else int(max_fibers)
        self.action = action
        self.weight = weight
        self.nulls = nulls
        self.rules: dict[str, Rule] = {c: (rules or {}).get(c, exact()) for c in self.evidence}
        keep = nulls == "value"
        self.encoders = [ColumnEncoder(c, keep_nulls=keep) for c in self.evidence]
        self.action_encoder = ColumnEncoder(action, keep_nulls=keep)
        self.rows_read = 0
        self._dropped_extra = 0  # rows dropped in states merged into this one
        k = len(self.evidence)
        self._state = np.zeros(2, dtype=np.int64)
        self._keys = np.zeros((capacity, k), dtype=np.int32)
        self._fhash = np.zeros(capacity, dtype=np.uint64)
        self._slots = np.full(_pow2(2 * capacity), -1, dtype=np.int32)
        self._na = 4
        self._counts = np.zeros((capacity, self._na), dtype=np.int64)
        self._whi = np.zeros((capacity if weight else 0, self._na), dtype=np.int64)
        self._wlo = np.zeros((capacity if weight else 0, self._na), dtype=np.uint64)

    # -- sizes --------------------------------------------------------------------------------
    @property
    def n_fibers(self) -> int:
        return int(self._state[0])

    @property
    def n_rows(self) -> int:
        return int(self._counts[: self.n_fibers].sum())

    @property
    def dropped_rows(self) -> int:
        return int(self._state[1]) + self._dropped_extra

    @property
    def columns(self) -> list[str]:
        cols = self.evidence + [self.action]
        return cols + [self.weight] if self.weight else cols

    def nbytes(self) -> int:
        own = sum(a.nbytes for a in (self._keys, self._fhash, self._slots, self._counts, self._whi, self._wlo))
        return own + sum(e.nbytes() for e in self.encoders) + self.action_encoder.nbytes()

    # -- update from rows ---------------------------------------------------------------------
    def encode_evidence(self, batch, insert=True) -> np.ndarray:
        """Codes int32[k, n] of the evidence columns of ``batch`` (fiber rules applied)."""
        n = batch.num_rows
        codes = np.empty((len(self.evidence), n), dtype=np.int32)
        for j, (col, enc) in enumerate(zip(self.evidence, self.encoders)):
            codes[j] = enc.encode(self.rules[col].apply(_column(batch, col), col), insert=insert)
        return codes

    def update(self, batch) -> None:
        """Count the rows of one record batch (or table)."""
        n = batch.num_rows
        self.rows_read += n
        if n == 0:
            return
        codes = self.encode_evidence(batch)
        acodes = self.action_encoder.encode(_column(batch, self.action))
        weights = np.zeros(0, dtype=np.float64)
        if self.weight:
            weights, null_w = _weights(_column(batch, self.weight), self.weight)
            if null_w is not None:
                acodes[null_w] = -1  # a row without a weight is dropped (and counted) like a null
        self._ensure_actions(acodes)
        start = 0
        while True:
            start = kc.count_rows(codes, acodes, weights, start, self._keys, self._fhash, self._slots,
                                  self._counts, self._whi, self._wlo, self._state)
            if start >= n:
                break
            self._grow(self.n_fibers + 1)

    # -- merge ----------------------------------------------------------------------------------
    def merge(self, other: "FiberState") -> "FiberState":
        """Add ``other``'s counts to this state (``other`` is left unchanged); returns self."""
        self._check_compatible(other)
        self.rows_read += other.rows_read
        self._dropped_extra += other.dropped_rows
        self._add_cells(*other._cells())
        return self

    def _check_compatible(self, other: "FiberState") -> None:
        if (other.evidence, other.action, bool(other.weight)) != (self.evidence, self.action, bool(self.weight)):
            raise DcbError(
                f"cannot merge partial states of different audits: evidence {other.evidence} / action "
                f"'{other.action}' / weighted={bool(other.weight)} vs {self.evidence} / '{self.action}' / "
                f"weighted={bool(self.weight)}"
            )
        for c in self.evidence:
            if self.rules[c].spec() != other.rules[c].spec():
                raise DcbError(f"cannot merge partial states: column '{c}' uses rule {other.rules[c].spec()} "
                               f"in one and {self.rules[c].spec()} in the other")

    def _cells(self):
        """(per-column dictionaries, fiber codes, action dictionary, long-format cells)."""
        nf = self.n_fibers
        counts = self._counts[:nf]
        fib, act = np.nonzero(counts)
        cnt = counts[fib, act]
        hi = self._whi[:nf][fib, act] if self.weight else np.zeros(0, dtype=np.int64)
        lo = self._wlo[:nf][fib, act] if self.weight else np.zeros(0, dtype=np.uint64)
        keys = self._keys[:nf][fib]
        return [e.values() for e in self.encoders], keys, self.action_encoder.values(), act, cnt, hi, lo

    def _add_cells(self, dicts, keys, action_dict, act, cnt, hi, lo) -> None:
        n = len(act)
        codes = np.empty((len(self.evidence), n), dtype=np.int32)
        for j, enc in enumerate(self.encoders):
            mapping = enc.encode(dicts[j]) if len(dicts[j]) else np.zeros(0, dtype=np.int32)
            codes[j] = mapping[keys[:, j]] if n else codes[j]
        amap = self.action_encoder.encode(action_dict) if len(action_dict) else np.zeros(0, dtype=np.int32)
        acodes = amap[act].astype(np.int32) if n else np.zeros(0, dtype=np.int32)
        if n == 0:
            return
        self._ensure_actions(acodes)
        cnt = np.ascontiguousarray(cnt, dtype=np.int64)
        start = 0
        while True:
            start = kc.add_cells(codes, acodes, cnt, np.ascontiguousarray(hi), np.ascontiguousarray(lo), start,
                                 self._keys, self._fhash, self._slots, self._counts, self._whi, self._wlo, self._state)
            if start >= n:
                break
            self._grow(self.n_fibers + 1)

    # -- serialization ----------------------------------------------------------------------------
    def to_arrow(self) -> pa.Table:
        """The state as a long table, one row per (fiber, action) cell: evidence and action
        columns dictionary-encoded (indices are this state's codes), ``rows``, and for weighted
        audits ``weight_int``/``weight_frac`` (the exact 128-bit weight). Metadata carries the
        rest."""
        dicts, keys, action_dict, act, cnt, hi, lo = self._cells()
        cols, names = [], []
        for j, c in enumerate(self.evidence):
            cols.append(pa.DictionaryArray.from_arrays(pa.array(keys[:, j], pa.int32()), dicts[j]))
            names.append(c)
        cols.append(pa.DictionaryArray.from_arrays(pa.array(act.astype(np.int32), pa.int32()), action_dict))
        names.append(self.action)
        cols.append(pa.array(cnt, pa.int64()))
        names.append("__rows")
        if self.weight:
            cols += [pa.array(hi, pa.int64()), pa.array(lo, pa.uint64())]
            names += ["__weight_int", "__weight_frac"]
        meta = {
            "format": STATE_FORMAT, "version": STATE_VERSION, "dcb_fast": __version__,
            "evidence": self.evidence, "action": self.action, "weight": self.weight, "nulls": self.nulls,
            "rules": {c: self.rules[c].spec() for c in self.evidence},
            "rows_read": self.rows_read, "dropped_rows": self.dropped_rows,
            "types": {c: str(e.type) for c, e in zip(self.evidence + [self.action], self.encoders + [self.action_encoder])},
        }
        table = pa.Table.from_arrays(cols, names=names)
        return table.replace_schema_metadata({"dcb_fast": json.dumps(meta)})

    def to_ipc(self) -> bytes:
        """Serialize to Arrow IPC stream bytes (what moves between processes and machines)."""
        sink = pa.BufferOutputStream()
        table = self.to_arrow()
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table)
        return sink.getvalue().to_pybytes()

    @classmethod
    def from_arrow(cls, table: pa.Table) -> "FiberState":
        meta = _state_meta(table)
        from .rules import parse_rule

        rules = {c: parse_rule(s) for c, s in meta["rules"].items()}
        st = cls(meta["evidence"], meta["action"], meta["weight"], meta["nulls"], rules=rules)
        st.rows_read = int(meta["rows_read"])
        st._dropped_extra = int(meta["dropped_rows"])
        if table.num_rows:
            table = table.combine_chunks()
            dicts = [A.as_array(table[c]).dictionary for c in st.evidence]
            keys = np.stack([A.as_array(table[c]).indices.to_numpy() for c in st.evidence], axis=1) if st.evidence else None
            act_arr = A.as_array(table[st.action])
            hi = table["__weight_int"].to_numpy() if st.weight else np.zeros(0, dtype=np.int64)
            lo = table["__weight_frac"].to_numpy() if st.weight else np.zeros(0, dtype=np.uint64)
            st._add_cells(dicts, keys, act_arr.dictionary, act_arr.indices.to_numpy(), table["__rows"].to_numpy(), hi, lo)
        return st

    @classmethod
    def from_ipc(cls, data: bytes) -> "FiberState":
        try:
            table = pa.ipc.open_stream(pa.py_buffer(data)).read_all()
        except pa.ArrowInvalid as exc:
            raise DcbError(f"not a dcb_fast partial state (Arrow IPC could not be read: {exc})") from None
        return cls.from_arrow(table)

    # -- internals ------------------------------------------------------------------------------
    def _ensure_actions(self, acodes: np.ndarray) -> None:
        top = max(int(acodes.max(initial=-1)) + 1, len(self.action_encoder))
        if top > self._na:
            na = max(top, 2 * self._na)
            self._counts = _widen(self._counts, na)
            if self.weight:
                self._whi = _widen(self._whi, na)
                self._wlo = _widen(self._wlo, na)
            self._na = na

    def _grow(self, n_fibers: int) -> None:
        if n_fibers > self.max_fibers:
            worst = max(zip(self.encoders, self.evidence), key=lambda e: len(e[0]))
            raise DcbError(
                f"more than {self.max_fibers:,} distinct fibers (column '{worst[1]}' alone has {len(worst[0]):,} "
                "distinct values); an id-like column makes every row its own fiber: drop it from --evidence, "
                "bin it with --rule, or raise --max-fibers"
            )
        cap = len(self._fhash)
        if n_fibers > cap:
            new = max(n_fibers, 2 * cap)
            self._keys = _grow_rows(self._keys, new)
            self._fhash = _grow_rows(self._fhash, new)
            self._counts = _grow_rows(self._counts, new)
            if self.weight:
                self._whi = _grow_rows(self._whi, new)
                self._wlo = _grow_rows(self._wlo, new)
        if 2 * n_fibers > len(self._slots):
            self._slots = np.full(_pow2(4 * n_fibers), -1, dtype=np.int32)
            kc.rehash_fibers(self._fhash, self._state[0], self._slots)

    def table_arrays(self):
        """(keys, counts, weight hi, weight lo) trimmed to the fibers in use (read-only views)."""
        nf = self.n_fibers
        if self.weight:
            return self._keys[:nf], self._counts[:nf], self._whi[:nf], self._wlo[:nf]
        return self._keys[:nf], self._counts[:nf], self._counts[:nf], np.zeros(self._counts[:nf].shape, np.uint64)

    def lookup(self, batch) -> np.ndarray:
        """Fiber index of each row of ``batch`` in this (frozen) state, -1 when absent."""
        codes = self.encode_evidence(batch, insert=False)
        out = np.empty(batch.num_rows, dtype=np.int64)
        kc.lookup_fibers(codes, self._keys, self._fhash, self._slots, out)
        return out


def _state_meta(table: pa.Table) -> dict:
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


def _column(batch, name):
    try:
        return A.as_array(batch.column(name))
    except KeyError:
        raise DcbError(f"input has no column '{name}' (columns: {', '.join(batch.schema.names)})") from None


def _weights(col: pa.Array, name: str):
    """float64 weights and a mask of null weights (None when there are none); invalid values raise."""
    if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type) or pa.types.is_null(col.type)):
        raise DcbError(f"weight column '{name}' has type {col.type}; it must be numeric (a count or a share of traffic)")
    w = col.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)
    null_w = None
    if col.null_count:
        null_w = ~col.is_valid().to_numpy(zero_copy_only=False)
        w = np.where(null_w, 0.0, w)
    bad = ~(np.isfinite(w) & (w >= 0) & (w < _MAX_WEIGHT))
    if null_w is not None:
        bad &= ~null_w
    nbad = int(bad.sum())
    if nbad:
        raise DcbError(f"weight column '{name}' has {nbad} rows with negative, NaN, infinite or too large values; "
                       "weights must be finite and >= 0: fix or filter those rows")
    return np.ascontiguousarray(w), null_w


def _pow2(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


def _widen(a: np.ndarray, na: int) -> np.ndarray:
    out = np.zeros((a.shape[0], na), dtype=a.dtype)
    out[:, : a.shape[1]] = a
    return out


def _grow_rows(a: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros((n,) + a.shape[1:], dtype=a.dtype)
    out[: a.shape[0]] = a
    return out
