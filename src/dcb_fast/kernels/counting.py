"""The fiber table: open addressing over the exact tuple of evidence codes.

One table is a *shard*; a state holds one shard per worker thread and a row belongs to shard
``(h >> 40) % n_shards`` of its key hash ``h``, so threads count disjoint fibers without locks.
:func:`hash_rows` lists each shard's rows once, so a shard's thread reads only its own rows.

Layout, chosen for the cache (a high-cardinality audit is one or two cache misses per row):

- ``rec[f]``, one int64 row per fiber: the key (int32 codes packed two per word, so the key is
  exact for any cardinality and any number of columns: nothing is squeezed into 64 bits), then
  the row count per action, then (when weighted) the 128-bit fixed-point weight per action as
  integer parts and 64-bit fractions. Finding a fiber and counting a row touch one record.
- ``slots``: uint64, 0 when empty, else ``(h >> 32) << 32 | (fiber + 1)``: the top half of the
  key hash next to the fiber. The slot index is the top bits of the hash, so the stored half
  rejects most non-matching slots without touching their record, and it still holds the
  index bits of a table twice as large: growing re-inserts entries by scanning the old slots
  in order, and the writes move forward through memory instead of jumping (at most 2**31
  slots per shard). Tables grow past 60% full: linear probing stays within a cache line or
  two there, and the slots take 1.7-3.3 words per fiber. The shard comes from the middle bits
  of the hash.

``state`` is int64[2]: the number of fibers in the shard, and a sink for prefetching loads.
"""

import numpy as np

from .._jit import inline, kernel
from .hashing import GOLDEN, add128, mix64, to_fixed

_P = np.uint64(0x9FB21C651E98DF25)
_LOW32 = np.uint64(0xFFFFFFFF)
_SHARD_SHIFT = np.uint64(40)


@inline
def _step(h, c):
    return (h ^ np.uint64(np.uint32(c))) * _P


@kernel
def hash_rows(codes, acodes, nshards, hashes, order, bounds):
    """Hash every row's key into ``hashes`` and list the rows shard by shard: shard t's rows are
    ``order[bounds[t]:bounds[t + 1]]``, in input order. Rows with a negative code (a dropped null,
    or a value unknown to a frozen dictionary) are left out and get ``acodes[i] = -1``. Returns
    the number of rows left out."""
    k = codes.shape[0]
    n = acodes.shape[0]
    dropped = 0
    sizes = np.zeros(nshards + 1, np.int64)
    for i in range(n):
        bad = acodes[i] < 0
        h = GOLDEN
        for j in range(k):
            c = codes[j, i]
            if c < 0:
                bad = True
            h = _step(h, c)
        h = mix64(h)
        hashes[i] = h
        if bad:
            acodes[i] = -1
            dropped += 1
        else:
            sizes[shard_of(h, nshards) + 1] += 1
    for t in range(nshards):
        sizes[t + 1] += sizes[t]
    bounds[:] = sizes
    for i in range(n):
        if acodes[i] >= 0:
            t = shard_of(hashes[i], nshards)
            order[sizes[t]] = i
            sizes[t] += 1
    return dropped


@inline
def shard_of(h, nshards):
    if nshards == 1:
        return 0
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
        e = slots[s]
        if e == 0:
            return -2 - np.int64(s)
        if (e >> np.uint64(32)) == (h >> np.uint64(32)):
            f = np.int64(e & _LOW32) - 1
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
    for c in range((k + 1) >> 1, rec.shape[1]):
        rec[nf, c] = 0
    slots[slot] = ((h >> np.uint64(32)) << np.uint64(32)) | np.uint64(nf + 1)


@inline
def add_weight(rec, f, col_hi, col_lo, hi, lo):
    a_hi, a_lo = add128(rec[f, col_hi], np.uint64(rec[f, col_lo]), hi, lo)
    rec[f, col_hi] = a_hi
    rec[f, col_lo] = np.int64(a_lo)


_GROUP = 16


@inline
def touch(hashes, rows, lo, hi, kw, rec, slots, shift):
    """Load the slots, then the records, of ``rows[lo:hi]`` before counting them. The loads of a
    group do not depend on each other, so the core overlaps their cache misses instead of waiting
    for one at a time (numba has no prefetch instruction; plain loads do the same). Measured on
    a 1.4-million-fiber table: 168 ns/row one at a time, 70 ns/row in groups of 16."""
    x = np.uint64(0)
    for p in range(lo, hi):
        x ^= slots[hashes[rows[p]] >> shift]
    for p in range(lo, hi):
        e = slots[hashes[rows[p]] >> shift]
        if e != 0:
            x ^= np.uint64(rec[np.int64(e & _LOW32) - 1, kw])
    return x


@kernel
def count_shard(codes, hashes, acodes, weights, cnt, chi, clo, rows, start, kw, na, rec, slots, state):
    """Count the rows ``rows[start:]`` (this shard's, from :func:`hash_rows`): codes int32[k, n],
    key hashes, action codes. Each row adds ``cnt[i]`` rows (one when ``cnt`` is empty: plain
    rows; more for the pre-aggregated cells of a merge) and its weight: float64 ``weights``, or
    the fixed-point ``chi``/``clo`` (integer weights pass ``chi`` alone: no float arithmetic).
    Empty weight arrays: unweighted. ``kw`` key words and ``na`` action columns describe the
    record layout. Returns the position in ``rows`` where it stopped for lack of room
    (``len(rows)`` when done)."""
    m = rows.shape[0]
    cells = cnt.shape[0] > 0
    fixed = chi.shape[0] > 0
    has_lo = clo.shape[0] > 0
    floats = weights.shape[0] > 0
    nf = state[0]
    cap = rec.shape[0]
    shift = slot_shift(slots.shape[0])
    mask = np.uint64(slots.shape[0] - 1)
    sink = np.uint64(0)
    for g in range(start, m, _GROUP):
        g_end = min(g + _GROUP, m)
        sink ^= touch(hashes, rows, g, g_end, kw, rec, slots, shift)
        for p in range(g, g_end):
            i = rows[p]
            h = hashes[i]
            f = find(codes, i, h, rec, slots, shift, mask)
            if f < 0:
                if nf >= cap or 5 * (nf + 1) > 3 * slots.shape[0]:
                    state[0] = nf
                    state[1] = np.int64(sink)
                    return p
                insert(codes, i, h, -2 - f, rec, slots, nf)
                f = nf
                nf += 1
            a = acodes[i]
            rec[f, kw + a] += cnt[i] if cells else 1
            if fixed:
                add_weight(rec, f, kw + na + a, kw + 2 * na + a, chi[i], clo[i] if has_lo else np.uint64(0))
            elif floats:
                hi, lo = to_fixed(weights[i])
                add_weight(rec, f, kw + na + a, kw + 2 * na + a, hi, lo)
    state[0] = nf
    state[1] = np.int64(sink)  # keeps the touching loads from being optimised away
    return m


@kernel
def rehash_shard(old, slots):
    """Move every entry of ``old`` into the (larger, empty) ``slots``."""
    shift = slot_shift(slots.shape[0])
    mask = np.uint64(slots.shape[0] - 1)
    for t in range(old.shape[0]):
        e = old[t]
        if e == 0:
            continue
        s = e >> shift
        while slots[s] != 0:
            s = (s + np.uint64(1)) & mask
        slots[s] = e


@kernel
def lookup_shard(codes, hashes, rows, offset, rec, slots, out):
    """``out[i]`` = ``offset`` + fiber of row i for the rows ``rows`` of this shard whose key is
    present (others are left as they are)."""
    shift = slot_shift(slots.shape[0])
    mask = np.uint64(slots.shape[0] - 1)
    for p in range(rows.shape[0]):
        i = rows[p]
        f = find(codes, i, hashes[i], rec, slots, shift, mask)
        if f >= 0:
            out[i] = offset + f


@kernel
def unpack_table(rec, nf, k, kw, na, weighted, keys, counts, whi, wlo):
    """Every figure of fibers ``0..nf-1`` in one pass over the records: codes int32[nf, k],
    counts int64[nf, na] and, when ``weighted``, the weight's integer parts and fractions."""
    for f in range(nf):
        for j in range(k):
            w = rec[f, j >> 1]
            keys[f, j] = np.int32(w & 0xFFFFFFFF) if (j & 1) == 0 else np.int32((w >> 32) & 0xFFFFFFFF)
        for a in range(na):
            counts[f, a] = rec[f, kw + a]
            if weighted:
                whi[f, a] = rec[f, kw + na + a]
                wlo[f, a] = np.uint64(rec[f, kw + 2 * na + a])


@kernel
def count_invalid_weights(w):
    """Rows whose weight is not a finite number in [0, 2**62)."""
    bad = 0
    for i in range(w.shape[0]):
        x = w[i]
        if not (x >= 0.0 and x < 4.611686018427388e18):  # also false for NaN
            bad += 1
    return bad


@kernel
def count_dense(codes, acodes, weights, iweights, lo, hi, strides, counts, whi, wlo):
    """Rows ``lo..hi-1`` counted into a dense table indexed by the mixed-radix number of their
    codes (no hashing: for small key spaces), with float64 ``weights`` or int64 ``iweights``
    (both empty: unweighted). Rows with a negative code are skipped; returns how many."""
    k = codes.shape[0]
    weighted = weights.shape[0] > 0
    integer = iweights.shape[0] > 0
    dropped = 0
    for i in range(lo, hi):
        a = acodes[i]
        idx = 0
        bad = a < 0
        for j in range(k):
            c = codes[j, i]
            if c < 0:
                bad = True
            idx += c * strides[j]
        if bad:
            dropped += 1
            continue
        counts[idx, a] += 1
        if integer:
            whi[idx, a], wlo[idx, a] = add128(whi[idx, a], wlo[idx, a], iweights[i], np.uint64(0))
        elif weighted:
            h, l = to_fixed(weights[i])
            whi[idx, a], wlo[idx, a] = add128(whi[idx, a], wlo[idx, a], h, l)
    return dropped
