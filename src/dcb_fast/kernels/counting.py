"""The fiber table: open addressing over the exact tuple of evidence codes.

One table is a *shard*; a state holds one shard per worker thread and a row belongs to shard
``(h >> 40) % n_shards`` of its key hash ``h``, so threads count disjoint fibers without locks.

Layout, chosen for the cache (a high-cardinality audit is one or two cache misses per row):

- ``rec[f]``, one int64 row per fiber: the key (int32 codes packed two per word, so the key is
  exact for any cardinality and any number of columns: nothing is squeezed into 64 bits), then
  the row count per action, then (when weighted) the 128-bit fixed-point weight per action as
  integer parts and 64-bit fractions. Finding a fiber and counting a row touch one record.
- ``slots``: uint64[S, 2], the key hash and ``fiber + 1`` (0 when empty) side by side in one
  cache line. The stored hash rejects non-matching slots without touching their record, and
  growing the table re-inserts entries by scanning the old slots in order (the slot index is
  the top bits of the hash, so the writes move forward through memory instead of jumping).
  The shard comes from the middle bits of the hash, independent of the slot index.

``state`` is int64[1]: the number of fibers in the shard.
"""

import numpy as np

from .._jit import inline, kernel
from .hashing import GOLDEN, add128, less128, mix64, sub128, to_fixed

_P = np.uint64(0x9FB21C651E98DF25)
_LOW32 = np.uint64(0xFFFFFFFF)
_SHARD_SHIFT = np.uint64(40)


@inline
def _step(h, c):
    return (h ^ np.uint64(np.uint32(c))) * _P


@kernel
def row_hashes(codes, acodes, out):
    """Hash every row's key into ``out``; rows with a negative code (a dropped null, or a value
    unknown to a frozen dictionary) get ``acodes[i] = -1``. Returns the number of such rows."""
    k = codes.shape[0]
    dropped = 0
    for i in range(acodes.shape[0]):
        bad = acodes[i] < 0
        h = GOLDEN
        for j in range(k):
            c = codes[j, i]
            if c < 0:
                bad = True
            h = _step(h, c)
        if bad:
            acodes[i] = -1
            dropped += 1
        out[i] = mix64(h)
    return dropped


@inline
def shard_of(h, nshards):
    return np.int64((h >> _SHARD_SHIFT) % np.uint64(nshards))


@inline
def slot_shift(nslots):
    """64 - log2(nslots): the slot index is the top bits of the hash."""
    b = 0
    x = nslots
    while x > 1:
        x >>= 1
        b += 1
    return np.uint64(64 - b)


@inline
def find(codes, i, h, rec, slots, shift, mask):
    """The fiber of row i, or, when absent, ``-2 - slot`` for the empty slot where it goes."""
    k = codes.shape[0]
    s = h >> shift
    while True:
        e = slots[s, 1]
        if e == 0:
            return -2 - np.int64(s)
        if slots[s, 0] == h:
            f = np.int64(e) - 1
            same = True
            for j in range(0, k, 2):
                lo = np.int64(np.uint32(codes[j, i]))
                hi = np.int64(np.uint32(codes[j + 1, i])) << 32 if j + 1 < k else np.int64(0)
                if rec[f, j >> 1] != (lo | hi):
                    same = False
                    break
            if same:
                return f
        s = (s + np.uint64(1)) & mask


@inline
def insert(codes, i, h, slot, rec, slots, nf):
    k = codes.shape[0]
    for j in range(0, k, 2):
        lo = np.int64(np.uint32(codes[j, i]))
        hi = np.int64(np.uint32(codes[j + 1, i])) << 32 if j + 1 < k else np.int64(0)
        rec[nf, j >> 1] = lo | hi
    for c in range(kw_end(k), rec.shape[1]):
        rec[nf, c] = 0
    slots[slot, 0] = h
    slots[slot, 1] = np.uint64(nf + 1)


@inline
def kw_end(k):
    return (k + 1) >> 1


@inline
def add_weight(rec, f, col_hi, col_lo, hi, lo):
    a_hi, a_lo = add128(rec[f, col_hi], np.uint64(rec[f, col_lo]), hi, lo)
    rec[f, col_hi] = a_hi
    rec[f, col_lo] = np.int64(a_lo)


@kernel
def count_shard(codes, hashes, acodes, weights, shard, nshards, start, kw, na, rec, slots, state):
    """Count rows ``start..n-1`` of this shard: codes int32[k, n], key hashes, action codes
    (negative: skip), float64 weights (empty when unweighted). ``kw`` key words and ``na``
    action columns describe the record layout. Returns the row where it stopped for lack of
    room (n when done)."""
    n = acodes.shape[0]
    weighted = weights.shape[0] > 0
    nf = state[0]
    cap = rec.shape[0]
    shift = slot_shift(slots.shape[0])
    mask = np.uint64(slots.shape[0] - 1)
    for i in range(start, n):
        a = acodes[i]
        if a < 0:
            continue
        h = hashes[i]
        if nshards > 1 and shard_of(h, nshards) != shard:
            continue
        f = find(codes, i, h, rec, slots, shift, mask)
        if f < 0:
            if nf >= cap or 2 * (nf + 1) > slots.shape[0]:
                state[0] = nf
                return i
            insert(codes, i, h, -2 - f, rec, slots, nf)
            f = nf
            nf += 1
        rec[f, kw + a] += 1
        if weighted:
            hi, lo = to_fixed(weights[i])
            add_weight(rec, f, kw + na + a, kw + 2 * na + a, hi, lo)
    state[0] = nf
    return n


@kernel
def add_cells_shard(codes, hashes, acodes, cnt, chi, clo, shard, nshards, start, kw, na, rec, slots, state):
    """Add pre-aggregated cells (a key, an action, a row count and a fixed-point weight): the
    merge of partial states and the load of a serialized one."""
    n = acodes.shape[0]
    weighted = chi.shape[0] > 0
    nf = state[0]
    cap = rec.shape[0]
    shift = slot_shift(slots.shape[0])
    mask = np.uint64(slots.shape[0] - 1)
    for i in range(start, n):
        h = hashes[i]
        if nshards > 1 and shard_of(h, nshards) != shard:
            continue
        a = acodes[i]
        f = find(codes, i, h, rec, slots, shift, mask)
        if f < 0:
            if nf >= cap or 2 * (nf + 1) > slots.shape[0]:
                state[0] = nf
                return i
            insert(codes, i, h, -2 - f, rec, slots, nf)
            f = nf
            nf += 1
        rec[f, kw + a] += cnt[i]
        if weighted:
            add_weight(rec, f, kw + na + a, kw + 2 * na + a, chi[i], clo[i])
    state[0] = nf
    return n


@kernel
def rehash_shard(old, slots):
    """Move every entry of ``old`` into the (larger, empty) ``slots``."""
    shift = slot_shift(slots.shape[0])
    mask = np.uint64(slots.shape[0] - 1)
    for t in range(old.shape[0]):
        e = old[t, 1]
        if e == 0:
            continue
        h = old[t, 0]
        s = h >> shift
        while slots[s, 1] != 0:
            s = (s + np.uint64(1)) & mask
        slots[s, 0] = h
        slots[s, 1] = e


@kernel
def lookup_shard(codes, hashes, acodes, shard, nshards, offset, rec, slots, out):
    """``out[i]`` = ``offset`` + fiber of row i in this shard, for the rows of this shard whose
    key is present (others are left as they are)."""
    shift = slot_shift(slots.shape[0])
    mask = np.uint64(slots.shape[0] - 1)
    for i in range(acodes.shape[0]):
        if acodes[i] < 0:
            continue
        h = hashes[i]
        if nshards > 1 and shard_of(h, nshards) != shard:
            continue
        f = find(codes, i, h, rec, slots, shift, mask)
        if f >= 0:
            out[i] = offset + f


@kernel
def unpack_keys(rec, nf, k, out):
    """Codes int32[nf, k] of the first ``nf`` fibers."""
    for f in range(nf):
        for j in range(k):
            w = rec[f, j >> 1]
            out[f, j] = np.int32(w & 0xFFFFFFFF) if (j & 1) == 0 else np.int32((w >> 32) & 0xFFFFFFFF)


@kernel
def reduce_fibers(counts, whi, wlo, nf, arank, support, tot_hi, tot_lo, major, maj_hi, maj_lo, n_actions):
    """Per fiber: support (rows), total weight, majority action by weight (ties: lowest
    ``arank``), the majority's weight and the number of actions present."""
    na = counts.shape[1]
    for f in range(nf):
        rows = np.int64(0)
        thi = np.int64(0)
        tlo = np.uint64(0)
        best = -1
        bhi = np.int64(0)
        blo = np.uint64(0)
        present = 0
        for a in range(na):
            c = counts[f, a]
            if c == 0:
                continue
            present += 1
            rows += c
            thi, tlo = add128(thi, tlo, whi[f, a], wlo[f, a])
            if best < 0 or less128(bhi, blo, whi[f, a], wlo[f, a]) or (
                whi[f, a] == bhi and wlo[f, a] == blo and arank[a] < arank[best]
            ):
                best = a
                bhi = whi[f, a]
                blo = wlo[f, a]
        support[f] = rows
        tot_hi[f] = thi
        tot_lo[f] = tlo
        major[f] = best
        maj_hi[f] = bhi
        maj_lo[f] = blo
        n_actions[f] = present


@kernel
def minority_weight(tot_hi, tot_lo, maj_hi, maj_lo, out_hi, out_lo):
    """Per fiber, weight not carried by the majority action (the decision-risk numerator)."""
    for f in range(tot_hi.shape[0]):
        out_hi[f], out_lo[f] = sub128(tot_hi[f], tot_lo[f], maj_hi[f], maj_lo[f])
