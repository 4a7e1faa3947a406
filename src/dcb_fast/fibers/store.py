"""Where fibers are stored: partitioned hash tables (any key space) and dense tables (small ones).

:class:`Partitions` hold the fiber tables of ``2**b`` hash partitions (see
``kernels.partitions``) and the scatter buffer that feeds them; :class:`DenseTables` count a small
key space without hashing (``kernels.counting.count_dense``); their counts move into the
partitions when read. :class:`~dcb_fast.fibers.state.FiberState` owns both and decides which one a
batch goes to.
"""

from __future__ import annotations

import time

import numpy as np

from .._memory import zeros
from .._threads import parallel_map
from ..errors import DcbError
from ..kernels import partitions as kp


class DenseTables:
    """Per-thread dense tables [cells, actions] for a small key space (a mixed radix of the
    columns' code ranges); summed and moved into the hash partitions when read."""

    def __init__(self, radix: list[int], na: int, weighted: bool, threads: int):
        self.radix = np.array(radix, dtype=np.int64)
        self.strides = np.ones(len(radix), dtype=np.int64)
        for j in range(len(radix) - 2, -1, -1):
            self.strides[j] = self.strides[j + 1] * self.radix[j + 1]
        self.cells = int(np.prod(self.radix)) if len(radix) else 1
        self.na = na
        self.weighted = weighted
        self.tables = [self._new(na) for _ in range(max(1, threads))]

    def _new(self, na):
        z = (0, na) if not self.weighted else (self.cells, na)
        return (np.zeros((self.cells, na), np.int64), np.zeros(z, np.int64), np.zeros(z, np.uint64))

    def widen(self, na: int) -> None:
        grown = []
        for counts, whi, wlo in self.tables:
            c, h, l = self._new(na)
            c[:, : counts.shape[1]] = counts
            if self.weighted:
                h[:, : whi.shape[1]] = whi
                l[:, : wlo.shape[1]] = wlo
            grown.append((c, h, l))
        self.tables = grown
        self.na = na

    def total(self):
        """The tables summed over threads (weights in exact 128-bit arithmetic)."""
        counts, whi, wlo = self.tables[0]
        counts, whi, wlo = counts.copy(), whi.copy(), wlo.copy()
        for c, h, l in self.tables[1:]:
            counts += c
            if self.weighted:
                lo = wlo + l
                whi += h + (lo < wlo)
                wlo = lo
        return counts, whi, wlo


MAX_BITS = 10  # at most 1024 partitions: more write streams than this cost more in the scatter
ROWS_PER_PART = 1 << 14  # a state expecting n rows starts with about n / ROWS_PER_PART partitions
FIBERS_PER_PART = 1 << 13  # tables grown past this many fibers a partition split into more
PENDING_ROWS = 1 << 21  # rows scattered (over several batches) before they are counted
_PAYLOAD_W = (0, 1, 1, 2)  # payload words of the weight per wmode


def ceil_log2(x: float) -> int:
    return max(0, int(np.ceil(np.log2(x)))) if x > 1 else 0


def bits_for_rows(rows: int, threads: int) -> int:
    """Partition bits for ``rows`` input rows: about one partition per ROWS_PER_PART rows, at
    least 4 per thread for a large input (so threads share the counting evenly)."""
    b = ceil_log2(rows / ROWS_PER_PART)
    if threads > 1 and rows >= 1 << 15:
        b = max(b, ceil_log2(4 * threads))
    return min(b, MAX_BITS)


class Tables:
    """The fiber tables of ``2**b`` partitions in flat arrays (layout: ``kernels.partitions``):
    records ``rec`` (``rcap`` rows a partition), slots (``scap`` a partition), ``ns`` slots in
    use and ``nf`` fibers per partition.

    The arrays are anonymous mappings (``_memory.zeros``): a partition's unused room costs
    nothing until written, so a state expecting n rows reserves room for n fibers and never
    copies a record while it grows."""

    __slots__ = ("b", "rcap", "scap", "rec", "slots", "ns", "nf")

    def __init__(self, b: int, rcap: int, width: int):
        self.b = int(b)
        self.rcap = max(16, int(rcap))
        self.scap = pow2(2 * self.rcap)
        if self.scap > 1 << (32 - self.b):  # a slot keeps 32 hash bits: partition + slot index
            raise DcbError(f"a fiber table partition would need {self.scap:,} slots; too many fibers")
        parts = 1 << self.b
        self.rec = zeros((parts * self.rcap, width), np.int64)
        self.slots = zeros(parts * self.scap, np.uint64)
        self.ns = np.full(parts, 16, np.int64)
        self.nf = np.zeros(parts, np.int64)

    @property
    def parts(self) -> int:
        return 1 << self.b

    @property
    def n_fibers(self) -> int:
        return int(self.nf.sum())

    def nbytes(self) -> int:
        """Bytes in use (records and slots of the fibers held, not the reserved room)."""
        return int(self.nf.sum()) * self.rec.shape[1] * 8 + int(self.ns.sum()) * 8

    def offsets(self) -> np.ndarray:
        """Where each partition's fibers start in the fiber order (partition by partition)."""
        return np.concatenate([[0], np.cumsum(self.nf)]).astype(np.int64)

    def records(self, p: int) -> np.ndarray:
        """Partition ``p``'s records (a view of its ``nf[p]`` rows)."""
        base = p * self.rcap
        return self.rec[base : base + int(self.nf[p])]

    def regrown(self, k: int, b: int, rcap: int = 0) -> "Tables":
        """These fibers in new tables of ``2**b`` partitions (``b >= self.b``) with room for at
        least twice the fibers of the fullest partition (or ``rcap`` when larger)."""
        hist = np.zeros(1 << b, np.int64)
        kp.regrow_hist(self.rec, self.rcap, self.nf, k, b, hist)
        new = Tables(b, max(rcap, 2 * int(hist.max(initial=0)) + 16), self.rec.shape[1])
        kp.regrow(self.rec, self.rcap, self.nf, k, b, new.rec, new.rcap, new.slots, new.scap, new.ns, new.nf)
        return new

    def widened(self, kw: int, old_na: int, na: int, groups: int) -> None:
        """Records re-laid for ``na`` action columns (was ``old_na``), partition by partition."""
        width = kw + groups * na
        rec = zeros((self.parts * self.rcap, width), np.int64)
        for p in np.flatnonzero(self.nf):
            base, m = int(p) * self.rcap, int(self.nf[p])
            old, new = self.rec[base : base + m], rec[base : base + m]
            new[:, :kw] = old[:, :kw]
            for g in range(groups):
                new[:, kw + g * na : kw + g * na + old_na] = old[:, kw + g * old_na : kw + (g + 1) * old_na]
        self.rec = rec


class Partitions:
    """Radix-partitioned counting (``kernels.partitions``): batches are scattered by hash bits into
    one reused buffer, and counted partition by partition, the partitions on parallel threads,
    once the buffer is full or the state is read (:meth:`settle`).

    ``k`` evidence columns, ``na`` action columns (``widen`` grows it), ``weighted`` records.
    """

    def __init__(self, k: int, weighted: bool, threads: int, expected_rows: int = 0, capacity: int = 256):
        self.k, self.kw, self.na = k, (k + 1) // 2, 1
        self.groups = 3 if weighted else 1
        self.threads = threads
        b = bits_for_rows(expected_rows, threads) if expected_rows else 0
        # at most one fiber per row: reserve (virtual) room for the input's rows, with slack since
        # partitions fill only about evenly
        rcap = int(expected_rows / (1 << b) * 1.05) + 1024 if expected_rows else capacity
        self.tables = Tables(b, rcap, self.width)
        # a state expecting a large input gathers several batches before counting them (a partition
        # table then takes many rows per visit to the cache); others count each batch at once
        self.pending_rows = min(PENDING_ROWS, expected_rows) if expected_rows else 0
        self._flat: np.ndarray | None = None  # the scatter buffer, allocated once and reused
        self._hashes: np.ndarray | None = None
        self._starts: list[np.ndarray] = []  # per scattered batch: its partitions' bounds in the buffer
        self._used = 0  # buffer rows in use
        self._mode = None  # (cells, wmode, partition bits) of the scattered rows
        self.max_fibers = None  # checked after each count (a callable raising the error)
        self.seconds = {"hash": 0.0, "scatter": 0.0, "aggregate": 0.0, "grow": 0.0}  # the time split

    @property
    def width(self) -> int:
        return self.kw + self.groups * self.na

    def widen(self, na: int) -> None:
        self.tables.widened(self.kw, self.na, na, self.groups)
        self.na = na

    # -- scatter ------------------------------------------------------------------------------
    def add(self, codes, acodes, weights=None, cnt=None, chi=None, clo=None) -> int:
        """Scatter rows (codes int32[k, n], action codes; per-row float ``weights`` or fixed-point
        ``chi``/``clo``; ``cnt`` rows per cell) to be counted; returns the rows left out (a
        negative code)."""
        n = len(acodes)
        if n == 0:
            return 0
        none_i, none_u, none_f = np.zeros(0, np.int64), np.zeros(0, np.uint64), np.zeros(0, np.float64)
        w = none_f if weights is None else weights
        c = none_i if cnt is None else cnt
        ch = none_i if chi is None else chi
        cl = none_u if clo is None else clo
        cells = len(c) > 0
        wmode = 1 if len(w) else (3 if len(cl) else (2 if len(ch) else 0))
        parallel = n >= 1 << 15
        want = max(self.tables.b, bits_for_rows(n, self.threads if parallel else 1))
        if want > self.tables.b:
            self.settle()
            self.tables = self.tables.regrown(self.k, want)
        b = self.tables.b
        mode = (cells, wmode, b)
        if self._starts and (mode != self._mode or self._used + n > self._rows_cap(n)):
            self.settle()
        self._mode = mode
        W = 2 + self.kw + int(cells) + _PAYLOAD_W[wmode]
        buf = self._buffer(max(self._used + n, self.pending_rows), W)
        parts = self.threads if parallel else 1
        cuts = [n * t // parts for t in range(parts + 1)]
        if self._hashes is None or len(self._hashes) < n:  # reused: fresh pages cost more than hashing
            self._hashes = np.empty(max(n, 1024), np.uint64)
        hashes = self._hashes[:n]
        hist = np.zeros((parts, 1 << b), np.int64)

        def hash_one(t):
            lo, hi = cuts[t], cuts[t + 1]
            return kp.hash_part(codes[:, lo:hi], acodes[lo:hi], b, hashes[lo:hi], hist[t])

        t0 = time.perf_counter()
        dropped = int(sum(parallel_map(hash_one, range(parts), parts)))
        t1 = time.perf_counter()
        self.seconds["hash"] += t1 - t0
        total = hist.sum(axis=0)
        starts = np.empty((1 << b) + 1, np.int64)
        starts[0] = self._used
        np.cumsum(total, out=starts[1:])
        starts[1:] += self._used
        cursor = starts[:-1] + np.cumsum(hist, axis=0) - hist  # [part, partition]: where each part writes
        buf_f = buf.view(np.float64)

        def scatter_one(t):
            lo, hi = cuts[t], cuts[t + 1]
            kp.scatter(codes[:, lo:hi], acodes[lo:hi], w[lo:hi] if len(w) else w, c[lo:hi] if cells else c,
                       ch[lo:hi] if len(ch) else ch, cl[lo:hi] if len(cl) else cl, b, hashes[lo:hi],
                       cursor[t], buf, buf_f)

        parallel_map(scatter_one, range(parts), parts)
        self.seconds["scatter"] += time.perf_counter() - t1
        self._starts.append(starts)
        self._used = int(starts[-1])
        return dropped

    def _rows_cap(self, n: int) -> int:
        return max(n, self.pending_rows)

    def _buffer(self, rows: int, W: int) -> np.ndarray:
        need = rows * W
        if self._flat is None or self._flat.size < need:
            old = self._flat
            flat = np.empty(max(need, 1024), np.int64)
            if old is not None and self._used:
                flat[: old.size] = old  # scattered rows not yet counted
            self._flat = flat
        cap = self._flat.size // W
        return self._flat[: cap * W].reshape(cap, W)

    # -- count --------------------------------------------------------------------------------
    def settle(self) -> None:
        """Count every scattered row into the tables (partitions on parallel threads)."""
        if not self._starts:
            return
        cells, wmode, pb = self._mode
        W = 2 + self.kw + int(cells) + _PAYLOAD_W[wmode]
        buf = self._buffer(self._used, W)
        buf_f = buf.view(np.float64)
        starts = np.stack(self._starts)
        nparts = 1 << pb
        rows = (starts[:, 1:] - starts[:, :-1]).sum(axis=0)
        chunks = _balanced(rows, 4 * self.threads if self._used >= 1 << 15 else 1)
        done = np.zeros(nparts, np.int64)
        todo = list(chunks)
        while todo:
            t0 = time.perf_counter()

            def run(ch):
                t = self.tables
                return kp.aggregate(buf, buf_f, starts, ch[0], ch[1], pb, cells, wmode, self.kw, self.na, t.b,
                                    t.rec, t.rcap, t.slots, t.scap, t.ns, t.nf, done)

            stops = parallel_map(run, todo, self.threads if len(todo) > 1 else 1)
            todo = [(s, ch[1]) for s, ch in zip(stops, todo) if s >= 0]
            t1 = time.perf_counter()
            self.seconds["aggregate"] += t1 - t0
            if self.max_fibers is not None:
                self.max_fibers(self.tables.n_fibers)
            if todo:
                self._grow()
                self.seconds["grow"] += time.perf_counter() - t1
        self._starts = []
        self._used = 0

    def _grow(self) -> None:
        t = self.tables
        nf = t.n_fibers
        b = max(t.b, min(MAX_BITS, ceil_log2(2 * nf / FIBERS_PER_PART)))
        self.tables = t.regrown(self.k, b, 2 * t.rcap if b == t.b else 0)

    def lookup(self, codes: np.ndarray) -> np.ndarray:
        t = self.tables
        out = np.full(codes.shape[1], -1, dtype=np.int64)
        kp.lookup(codes, t.b, t.rec, t.rcap, t.slots, t.scap, t.ns, t.offsets(), out)
        return out


def _balanced(rows: np.ndarray, chunks: int) -> list[tuple[int, int]]:
    """Split partitions 0..len(rows)-1 into about ``chunks`` contiguous ranges of similar rows."""
    n = len(rows)
    if chunks <= 1 or n <= 1:
        return [(0, n)]
    cum = np.cumsum(rows)
    total = int(cum[-1])
    cuts = [0]
    for c in range(1, chunks):
        p = int(np.searchsorted(cum, total * c / chunks, side="left")) + 1
        if p > cuts[-1] and p < n:
            cuts.append(p)
    cuts.append(n)
    return list(zip(cuts[:-1], cuts[1:]))


def pow2(n: int) -> int:
    """The power of two at least ``n`` (and at least 16)."""
    return 1 << max(4, int(n - 1).bit_length())
