"""Where fibers are stored: hash shards (any key space) and dense tables (small key spaces).

A :class:`Shard` is one fiber table (see ``kernels.counting``): one record per fiber and a slot
array. :class:`DenseTables` count a small key space without hashing (``kernels.counting
.count_dense``); their counts move into the shards when read. :class:`~dcb_fast.fibers.FiberState`
owns both and decides which one a batch goes to.
"""

from __future__ import annotations

import numpy as np

from ._memory import zeros
from .errors import DcbError
from .kernels import counting as kc


class DenseTables:
    """Per-thread dense tables [cells, actions] for a small key space (a mixed radix of the
    columns' code ranges); summed and moved into the hash shards when read."""

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


class Shard:
    """One fiber table (see ``kernels.counting``): records, slots, fiber count.

    With a ``reserve`` (the most fibers this shard is expected to hold, e.g. the input's row
    count over the shards), the record array is mapped once at that size: the operating system
    backs it only as fibers are written, and growing never copies. The slot table alternates
    between two mappings, so growing it never maps fresh memory twice.
    """

    __slots__ = ("rec", "slots", "state", "_buf", "_spare", "reserve")

    def __init__(self, capacity: int, width: int, reserve: int = 0):
        self.reserve = int(reserve)
        self.rec = zeros((max(capacity, self.reserve), width), np.int64)
        self._buf = zeros(pow2(2 * capacity), np.uint64)  # the buffer holding the slot table
        self.slots = self._buf
        self._spare = None
        self.state = np.zeros(2, dtype=np.int64)

    @property
    def nf(self) -> int:
        return int(self.state[0])

    def grow(self, nf: int) -> None:
        """Make room for ``nf`` fibers: records, and a slot table at most half full."""
        if nf > self.rec.shape[0]:
            rec = zeros((max(nf, 2 * self.rec.shape[0]), self.rec.shape[1]), np.int64)
            rec[: self.nf] = self.rec[: self.nf]
            self.rec = rec
        if 5 * nf > 3 * len(self.slots):
            nslots = pow2(2 * nf)
            if nslots > 1 << 31:
                raise DcbError("a fiber table shard is full (2**31 slots); raise --threads to spread the fibers")
            spare = self._spare
            if spare is None or spare.size < nslots:
                spare = zeros(max(nslots, pow2(2 * self.reserve) if self.reserve else 0), np.uint64)
            new = spare[:nslots]
            new[:] = 0
            kc.rehash_shard(self.slots, new)
            self._spare, self._buf, self.slots = self._buf, spare, new


def pow2(n: int) -> int:
    """The power of two at least ``n`` (and at least 16)."""
    return 1 << max(4, int(n - 1).bit_length())
