"""The partial state of an audit: evidence fibers and their per-action counts.

A :class:`FiberState` is what a batch, a file, a thread or a cluster task produces. It is
updated from record batches, merges with another state (associative and commutative: counts are
integers and weights are 128-bit fixed point), serializes to Arrow IPC, and is finalized into the
metrics and the per-fiber table (``dcb_fast.fibers.finalize``).

Each state owns its dictionaries (one :class:`~dcb_fast.io.encoding.ColumnEncoder` per evidence
column and one for the action), so states built independently, on different machines, merge by
re-coding the other state's dictionaries into this one's.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from .._jit import default_threads
from .._threads import parallel_map
from ..errors import DcbError
from . import serialize
from .serialize import STATE_VERSION  # noqa: F401  (part of this module's interface)
from .store import DenseTables, Partitions
from ..io import arrow as A
from ..io.encoding import ColumnEncoder
from ..kernels import counting as kc
from ..core.rules import Rule, exact, refuse_overlapping

DEFAULT_MAX_FIBERS = int(os.environ.get("DCB_FAST_MAX_FIBERS", 50_000_000))
_DENSE_CELLS = 1 << 16  # key spaces up to this many cells are counted without hashing (tests lower it)
_PARALLEL_ROWS = 1 << 15  # below this many rows a batch is not worth splitting over threads
_MAX_WEIGHT = float(2**62)
_MAX_INT_WEIGHT = 1 << 62


class FiberState:
    """Per-fiber, per-action row counts (and weights) over the evidence columns.

    Fibers are counted in hash partitions (``fiber_tables.Partitions``), ``shards`` worker
    threads taking partitions without locks (default: the worker-thread count); the result does
    not depend on it.

    >>> st = FiberState(["lang"], "route")
    >>> st.update(pa.record_batch({"lang": ["en", "en", "fr"], "route": ["a", "b", "a"]}))
    >>> st.n_fibers, st.n_rows
    (2, 3)
    """

    def __init__(self, evidence, action, weight=None, nulls="drop", rules=None, capacity=256,
                 max_fibers: int | None = None, shards: int | None = None, expected_rows: int | None = None):
        self.evidence = list(evidence)
        self.action = action
        self.weight = weight
        self.nulls = nulls
        self.max_fibers = DEFAULT_MAX_FIBERS if max_fibers is None else int(max_fibers)
        self.rules: dict[str, Rule] = {c: (rules or {}).get(c, exact()) for c in self.evidence}
        refuse_overlapping(self.rules)
        keep = nulls == "value"
        self.encoders = [ColumnEncoder(c, keep_nulls=keep) for c in self.evidence]
        self.action_encoder = ColumnEncoder(action or "(none)", keep_nulls=keep)
        if action is None:  # a state that only counts rows per fiber: one pseudo-action
            self.action_encoder.encode(pa.array([True]))
        self.rows_read = 0
        self._dropped = 0
        self.threads = default_threads() if shards is None else max(1, int(shards))
        self.key_words = (len(self.evidence) + 1) // 2
        reserve = min(expected_rows, self.max_fibers) if expected_rows else 0
        self._parts = Partitions(len(self.evidence), bool(self.weight), self.threads, reserve, capacity)
        self._parts.max_fibers = self._check_fibers
        self._counts_changed()
        self._scratch = None
        self._dense: DenseTables | None = None
        self._dense_off = False  # the key space outgrew the dense table once: hash from then on

    def _counts_changed(self) -> None:
        """Forget what is derived from the counts (the table arrays and ``n_rows``)."""
        self._cache = None
        self._rows = None

    @property
    def n_action_slots(self) -> int:
        """Action columns in a record; grows as actions appear."""
        return self._parts.na

    # -- sizes --------------------------------------------------------------------------------
    @property
    def n_fibers(self) -> int:
        self._settle()
        return self._parts.tables.n_fibers

    @property
    def n_rows(self) -> int:
        if self._rows is None:
            self._settle()
            kw, na = self.key_words, self.n_action_slots
            self._rows = int(sum(sh.rec[:, kw : kw + na].sum() for sh in self.partition_records))
        return self._rows

    @property
    def dropped_rows(self) -> int:
        return self._dropped

    @property
    def columns(self) -> list[str]:
        cols = self.evidence + ([self.action] if self.action else [])
        return cols + [self.weight] if self.weight else cols

    def nbytes(self) -> int:
        own = self._parts.tables.nbytes()
        return own + sum(e.nbytes() for e in self.encoders) + self.action_encoder.nbytes()

    # -- update from rows ---------------------------------------------------------------------
    def _buffers(self, n: int):
        """Per-batch working arrays (codes, action codes, weights), kept between batches:
        mapping fresh memory for every batch costs more than the counting on some machines."""
        buf = self._scratch
        if buf is None or buf[1].shape[0] < n:
            cap = max(n, 1024)
            buf = (np.empty((len(self.evidence), cap), np.int32), np.empty(cap, np.int32),
                   np.empty(cap, np.float64))
            self._scratch = buf
        codes, acodes, weights = buf
        return codes[:, :n], acodes[:n], weights[:n]

    def recode(self, other: "FiberState", keys: np.ndarray, columns: list[int] | None = None) -> np.ndarray:
        """``other``'s fiber codes (``keys``, int32[n, k]) as this state's codes, int32[k, n],
        column by column through the dictionaries (a value this state never saw: -2). Maps
        keys between states without decoding a single value per fiber."""
        columns = list(range(len(self.encoders))) if columns is None else columns
        out = np.empty((len(self.encoders), keys.shape[0]), dtype=np.int32)
        for j, enc in enumerate(self.encoders):
            mine = enc.encode(other.encoders[columns[j]].values(), insert=False)
            out[j] = mine[keys[:, columns[j]]] if len(mine) else -2
        return out

    def encode_evidence(self, batch, insert=True, out=None) -> np.ndarray:
        """Codes int32[k, n] of the evidence columns of ``batch`` (fiber rules applied)."""
        n = batch.num_rows
        codes = np.empty((len(self.evidence), n), dtype=np.int32) if out is None else out

        def one(j):
            col = self.evidence[j]
            self.encoders[j].encode(self.rules[col].apply(batch_column(batch, col), col), insert=insert, out=codes[j])

        parallel_map(one, range(len(self.evidence)), self.threads if n >= _PARALLEL_ROWS else 1)
        return codes

    def update(self, batch) -> None:
        """Count the rows of one record batch (or table)."""
        n = batch.num_rows
        self.rows_read += n
        if n == 0:
            return
        codes, acodes, wbuf = self._buffers(n)
        self.encode_evidence(batch, out=codes)
        if self.action is None:
            acodes.fill(0)
        else:
            self.action_encoder.encode(batch_column(batch, self.action), out=acodes)
        weights = iweights = None
        if self.weight:
            w, null_w = batch_weights(batch_column(batch, self.weight), self.weight, out=wbuf)
            if w.dtype == np.int64:
                iweights = w  # integer weights (request counts) skip float arithmetic entirely
            else:
                weights = w
            if null_w is not None:
                acodes[null_w] = -1  # a row without a weight is dropped (and counted) like a null
        if self._dense_ready():
            self._count_dense(codes, acodes, weights, iweights)
        else:
            self._insert(codes, acodes, weights=weights, chi=iweights)

    # -- dense counting for small key spaces ----------------------------------------------------
    def _dense_ready(self) -> bool:
        """Use (or set up) a dense table when every column's codes fit a small mixed radix.

        Checked per batch after encoding: when a column's dictionary outgrows its radix, the
        dense counts move into the hash shards and counting continues there."""
        if self._dense_off:
            return False
        sizes = [max(len(e), 1) for e in self.encoders]
        d = self._dense
        if d is not None and all(n <= r for n, r in zip(sizes, d.radix)):
            self._ensure_dense_actions()
            return True
        if d is not None:
            self._flush_dense()
        radix = [1 << max(0, int(n - 1).bit_length()) for n in sizes]  # room to grow to a power of two
        cells = int(np.prod(np.array(radix, dtype=np.float64)))
        if cells > _DENSE_CELLS:
            self._dense_off = True
            return False
        self._dense = DenseTables(radix, self._na_needed(), bool(self.weight), self.threads)
        return True

    def _na_needed(self) -> int:
        return max(len(self.action_encoder), 1)

    def _ensure_dense_actions(self) -> None:
        d = self._dense
        na = self._na_needed()
        if na > d.na:
            d.widen(na)

    def _count_dense(self, codes, acodes, weights, iweights) -> None:
        d = self._dense
        weights = np.zeros(0, np.float64) if weights is None else weights
        iweights = np.zeros(0, np.int64) if iweights is None else iweights
        self._ensure_dense_actions()
        n = len(acodes)
        parts = len(d.tables) if n >= _PARALLEL_ROWS else 1
        cuts = [n * p // parts for p in range(parts + 1)]

        def run(p):
            counts, whi, wlo = d.tables[p]
            return kc.count_dense(codes, acodes, weights, iweights, cuts[p], cuts[p + 1], d.strides, counts, whi, wlo)

        self._dropped += int(sum(parallel_map(run, range(parts), parts)))
        self._counts_changed()

    def _flush_dense(self) -> None:
        """Move the dense counts into the hash shards (as pre-aggregated cells)."""
        d = self._dense
        if d is None:
            return
        self._dense = None
        counts, whi, wlo = d.total()
        idx, act = np.nonzero(counts)
        if len(idx) == 0:
            return
        codes = np.empty((len(self.evidence), len(idx)), dtype=np.int32)
        rest = idx.astype(np.int64)
        for j in range(len(self.evidence)):
            codes[j] = (rest // d.strides[j]) % d.radix[j]
        self._insert(codes, act.astype(np.int32), cnt=counts[idx, act].astype(np.int64),
                     chi=np.ascontiguousarray(whi[idx, act]) if self.weight else np.zeros(0, np.int64),
                     clo=np.ascontiguousarray(wlo[idx, act]) if self.weight else np.zeros(0, np.uint64))

    def flush(self) -> None:
        """Bring every count into the hash tables (done before anything reads them)."""
        self._settle()

    def _settle(self) -> None:
        self._flush_dense()
        self._parts.settle()

    def _insert(self, codes, acodes, weights=None, cnt=None, chi=None, clo=None) -> None:
        """Scatter the rows into the hash partitions (counted there on parallel threads once
        enough rows are gathered, or when the state is read)."""
        self._dropped += self._parts.add(codes, acodes, weights=weights, cnt=cnt, chi=chi, clo=clo)
        self._ensure_actions(acodes)
        self._counts_changed()

    # -- merge ----------------------------------------------------------------------------------
    def merge(self, other: "FiberState") -> "FiberState":
        """Add ``other``'s counts to this state (``other`` is left unchanged); returns self."""
        self._check_compatible(other)
        other._settle()
        self._flush_dense()
        self.rows_read += other.rows_read
        self._dropped += other.dropped_rows
        self.add_cells(*other.cells())
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

    def cells(self):
        """(per-column dictionaries, fiber codes, action dictionary, long-format cells)."""
        keys, counts, whi, wlo = self.table_arrays()
        fib, act = np.nonzero(counts)
        cnt = counts[fib, act]
        hi = whi[fib, act] if self.weight else np.zeros(0, dtype=np.int64)
        lo = wlo[fib, act] if self.weight else np.zeros(0, dtype=np.uint64)
        return [e.values() for e in self.encoders], keys[fib], self.action_encoder.values(), act, cnt, hi, lo

    def add_cells(self, dicts, keys, action_dict, act, cnt, hi, lo) -> None:
        n = len(act)
        if n == 0:
            return
        codes = np.empty((len(self.evidence), n), dtype=np.int32)
        for j, enc in enumerate(self.encoders):
            codes[j] = enc.encode(dicts[j])[keys[:, j]]
        acodes = self.action_encoder.encode(action_dict)[act].astype(np.int32)
        self._insert(codes, acodes, cnt=np.ascontiguousarray(cnt, dtype=np.int64),
                     chi=np.ascontiguousarray(hi, dtype=np.int64), clo=np.ascontiguousarray(lo, dtype=np.uint64))

    # -- serialization (the format: fibers/serialize.py) ---------------------------------------------
    def to_arrow(self) -> pa.Table:
        """The state as a long Arrow table, one row per (fiber, action) cell (see ``serialize``)."""
        return serialize.to_arrow(self)

    def to_ipc(self) -> bytes:
        """Serialize to Arrow IPC stream bytes (what moves between processes and machines)."""
        return serialize.to_ipc(self.to_arrow())

    @classmethod
    def from_arrow(cls, table: pa.Table, shards: int | None = None) -> "FiberState":
        return serialize.from_arrow(cls, table, shards)

    @classmethod
    def from_ipc(cls, data: bytes, shards: int | None = None) -> "FiberState":
        return cls.from_arrow(serialize.read_ipc(data), shards=shards)

    def restore_totals(self, rows_read: int, dropped: int) -> None:
        """Set the rows read and dropped (a state read back from its serialized form)."""
        self.rows_read = int(rows_read)
        self._dropped = int(dropped)

    # -- internals ------------------------------------------------------------------------------
    def _ensure_actions(self, acodes: np.ndarray) -> None:
        top = max(int(acodes.max(initial=-1)) + 1, len(self.action_encoder))
        if top <= self.n_action_slots:
            return
        self._parts.widen(top if top <= 4 else max(top, 2 * self.n_action_slots))  # exact fit for the usual few actions

    def _check_fibers(self, nf: int) -> None:
        if nf > self.max_fibers:
            worst = max(zip(self.encoders, self.evidence), key=lambda e: len(e[0]))
            raise DcbError(
                f"more than {self.max_fibers:,} distinct fibers (column '{worst[1]}' alone has {len(worst[0]):,} "
                "distinct values); an id-like column makes every row its own fiber: drop it from --evidence, "
                "bin it with --rule, or raise --max-fibers"
            )

    def table_arrays(self):
        """(codes int32[F, k], counts int64[F, A], weight int parts, weight fractions): every
        fiber of every partition, partition by partition. Unweighted states report counts as
        weights."""
        self._settle()
        if self._cache is not None:
            return self._cache
        k, kw, na = len(self.evidence), self.key_words, self.n_action_slots
        nf = self.n_fibers
        keys = np.empty((nf, k), dtype=np.int32)
        counts = np.empty((nf, na), dtype=np.int64)
        whi = np.empty((nf, na), dtype=np.int64) if self.weight else counts
        wlo = np.empty((nf, na), dtype=np.uint64) if self.weight else np.zeros((nf, na), dtype=np.uint64)

        def one(rec, m, off):  # each partition fills its own rows
            sl = slice(off, off + m)
            kc.unpack_table(rec, m, k, kw, na, bool(self.weight), keys[sl], counts[sl], whi[sl], wlo[sl])

        self.shard_map(one)
        self._cache = (keys, counts, whi, wlo)
        return self._cache

    @property
    def partition_records(self) -> list:
        """The non-empty partitions' tables, in :meth:`table_arrays` order: each has ``rec`` (its
        records) and ``nf`` (its fibers)."""
        self._settle()
        t = self._parts.tables
        return [Part(t.records(int(p)), int(t.nf[p])) for p in np.flatnonzero(t.nf)]

    def shard_map(self, fn) -> list:
        """``fn(records, n_fibers, offset)`` for every non-empty partition, groups of partitions on
        parallel threads; ``offset`` is where the partition's fibers start in :meth:`table_arrays`
        order. Returns the results in that order."""
        self._settle()
        t = self._parts.tables
        offs = t.offsets()
        parts = [int(p) for p in np.flatnonzero(t.nf)]
        threads = self.threads if offs[-1] >= _PARALLEL_ROWS else 1
        groups = [parts[g::threads] for g in range(threads)]

        def run(group):
            return [(p, fn(t.records(p), int(t.nf[p]), int(offs[p]))) for p in group]

        done = dict(r for rs in parallel_map(run, groups, threads) for r in rs)
        return [done[p] for p in parts]

    def lookup(self, batch) -> np.ndarray:
        """Fiber index (in :meth:`table_arrays` order) of each row of ``batch``, -1 when the row
        has a dropped null or a key absent from this state. Nothing is inserted."""
        self._settle()
        return self.lookup_codes(self.encode_evidence(batch, insert=False))

    def lookup_codes(self, codes: np.ndarray) -> np.ndarray:
        """:meth:`lookup` for rows given as this state's codes (int32[k, n]; negative: absent)."""
        self._settle()
        return self._parts.lookup(np.ascontiguousarray(codes, dtype=np.int32))


class Part(tuple):
    """One partition's records (``rec``) and fiber count (``nf``)."""

    __slots__ = ()

    def __new__(cls, rec, nf):
        return tuple.__new__(cls, (rec, nf))

    rec = property(lambda self: self[0])
    nf = property(lambda self: self[1])


def batch_column(batch, name):
    """Column ``name`` of a record batch as one Arrow array, or a one-line error naming it."""
    try:
        return A.as_array(batch.column(name))
    except KeyError:
        raise DcbError(f"input has no column '{name}' (columns: {', '.join(batch.schema.names)})") from None


def batch_weights(col: pa.Array, name: str, out: np.ndarray | None = None):
    """Weights and a mask of null weights (None when there are none); invalid values raise.

    Integer columns come back as int64 (zero-copy when they are int64: the kernels add them to
    the 128-bit totals as they are); other numeric columns as float64, in ``out`` when given."""
    t = col.type
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)):
        raise DcbError(f"weight column '{name}' has type {t}; it must be numeric (a count or a share of traffic)")
    null_w = None
    if pa.types.is_null(t):  # an all-null column (a file whose weights are all missing): no value at all
        col, t = pa.array(np.zeros(len(col)), pa.float64()), pa.float64()
        null_w = np.ones(len(col), dtype=bool)
    elif col.null_count:
        null_w = ~A.np_values(col.is_valid())
        col = col.fill_null(0)
    raw = A.np_values(col)
    if pa.types.is_integer(t) and not pa.types.is_uint64(t):
        w = raw.astype(np.int64, copy=False)
        nbad = int(np.count_nonzero((w < 0) | (w >= _MAX_INT_WEIGHT)))
    else:
        if out is None:
            w = raw.astype(np.float64, copy=False)
        else:
            w = out
            np.copyto(w, raw, casting="unsafe")
        nbad = int(kc.count_invalid_weights(w))
    if nbad:
        raise DcbError(f"weight column '{name}' has {nbad} rows with negative, NaN, infinite or too large values; "
                       "weights must be finite and >= 0: fix or filter those rows")
    return np.ascontiguousarray(w), null_w



