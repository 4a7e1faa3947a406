"""Radix-partitioned counting: scatter a batch's rows by hash bits, then count partition by partition.

A row belongs to partition ``h >> (64 - b)`` of its key hash ``h`` (``2**b`` partitions). Counting
a batch takes two steps:

1. :func:`hash_part` hashes every row of a contiguous part of the batch and counts its rows per
   partition; :func:`scatter` then copies each row's payload (hash, packed key words, action,
   count and weight) to its partition's region of one reused buffer, in input order. Reads are
   sequential (one stream per column), writes are one sequential stream per partition: no
   random access into the fiber table.
2. :func:`aggregate` counts each partition's rows into that partition's own open-addressing table,
   small enough to stay in the core's cache; partitions are independent, so threads take
   partitions without locks.

The tables of all partitions live in flat arrays (easy to grow and to hand to one kernel call):
partition ``p``'s records are ``rec[p * rcap : p * rcap + nf[p]]`` (the record layout of
``kernels.counting``: packed int32 key codes, per-action counts, 128-bit fixed-point weights),
its slots ``slots[p * scap : p * scap + ns[p]]``. A slot holds ``(h >> 32) << 32 | (f + 1)`` and
the slot index is the hash bits just below the partition bits, so a table grows (in the kernel,
doubling ``ns[p]``) from its slots alone; records only move when a partition's ``rcap`` is full.

Payload rows (int64 words, float weights through a float64 view of the same buffer): the hash,
``kw`` key words, the action code, then the row count (cells only), then the weight (float64, or
the fixed point's integer part, or integer part and fraction).
"""

import numpy as np

from .._jit import inline, kernel
from .hashing import GOLDEN, add128, mix64, to_fixed

_P = np.uint64(0x9FB21C651E98DF25)
_LOW32 = np.uint64(0xFFFFFFFF)
_HIGH32 = np.uint64(0xFFFFFFFF00000000)


@inline
def _step(h, c):
    return (h ^ np.uint64(np.uint32(c))) * _P


@inline
def part_of(h, b):
    """The partition of hash ``h`` among ``2**b`` partitions (its top ``b`` bits)."""
    if b == 0:
        return np.int64(0)
    return np.int64(h >> np.uint64(64 - b))


@inline
def log2(n):
    x = np.int64(n)
    r = 0
    while x > 1:
        x >>= 1
        r += 1
    return r


@inline
def slot_of(h, b, lg):
    """Slot index in a table of ``2**lg`` slots: the ``lg`` hash bits below the partition bits."""
    return (h << np.uint64(b)) >> np.uint64(64 - lg)


@kernel
def hash_part(codes, acodes, b, hashes, hist):
    """Hash every row's key (codes int32[k, n]) into ``hashes`` and count rows per partition into
    ``hist`` (int64[2**b]). Rows with a negative code (a dropped null, a value unknown to a frozen
    dictionary) get ``acodes[i] = -1`` and are not counted. Returns the number left out."""
    k = codes.shape[0]
    n = acodes.shape[0]
    dropped = 0
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
            hist[part_of(h, b)] += 1
    return dropped


@kernel
def scatter(codes, acodes, weights, cnt, chi, clo, b, hashes, cursor, buf, buf_f):
    """Copy each kept row's payload to ``buf[cursor[p]]`` of its partition ``p`` (then advance
    ``cursor[p]``), in input order. ``buf_f`` is ``buf`` viewed as float64. The arrays describe
    the rows as for :func:`aggregate`: ``cnt`` row counts (cells) or empty, float ``weights`` or
    fixed-point ``chi``/``clo`` (``clo`` may be empty) or all empty (unweighted)."""
    k = codes.shape[0]
    n = acodes.shape[0]
    cells = cnt.shape[0] > 0
    floats = weights.shape[0] > 0
    fixed = chi.shape[0] > 0
    has_lo = clo.shape[0] > 0
    kw = (k + 1) >> 1
    for i in range(n):
        a = acodes[i]
        if a < 0:
            continue
        h = hashes[i]
        p = part_of(h, b)
        pos = cursor[p]
        cursor[p] = pos + 1
        buf[pos, 0] = np.int64(h)
        for j in range(0, k, 2):
            lo = np.int64(np.uint32(codes[j, i]))
            hi = np.int64(np.uint32(codes[j + 1, i])) << 32 if j + 1 < k else np.int64(0)
            buf[pos, 1 + (j >> 1)] = lo | hi
        col = 1 + kw
        buf[pos, col] = a
        col += 1
        if cells:
            buf[pos, col] = cnt[i]
            col += 1
        if floats:
            buf_f[pos, col] = weights[i]
        elif fixed:
            buf[pos, col] = chi[i]
            if has_lo:
                buf[pos, col + 1] = np.int64(clo[i])


@inline
def _grow_slots(slots, base, ns_old, b):
    """Double a partition's slot table in place (its region has room): entries re-placed by the
    hash bits they keep."""
    old = slots[base : base + ns_old].copy()
    ns = 2 * ns_old
    slots[base : base + ns] = 0
    lg = log2(ns)
    mask = np.uint64(ns - 1)
    for t in range(ns_old):
        e = old[t]
        if e == 0:
            continue
        s = slot_of(e & _HIGH32, b, lg)
        while slots[base + s] != 0:
            s = (s + np.uint64(1)) & mask
        slots[base + s] = e
    return ns


@kernel
def aggregate(buf, buf_f, starts, lo, hi, pb, cells, wmode, kw, na, b, rec, rcap, slots, scap, ns, nf, done):
    """Count the payload rows of buffer partitions ``lo..hi-1`` into the partition tables.

    ``starts`` (int64[m, 2**pb + 1]) lists ``m`` scattered batches: buffer partition ``p`` of
    batch ``t`` is ``buf[starts[t, p] : starts[t, p + 1]]``. The tables have ``2**b`` partitions,
    ``b >= pb`` (a buffer partition feeds only the tables that refine it, so threads taking
    disjoint buffer partitions touch disjoint tables). ``cells``: rows carry a row count;
    ``wmode`` 0 unweighted, 1 float64 weights, 2 integer weights, 3 integer parts and fractions.
    ``done[p]`` counts the rows of buffer partition ``p`` already counted (a resumed call skips
    them). Returns -1 when done, else the buffer partition where a table's records ran out
    (``nf[q] == rcap``): the caller grows the tables and calls again from there."""
    nbat = starts.shape[0]
    col_w = 2 + kw + (1 if cells else 0)
    for p in range(lo, hi):
        skip = done[p]
        counted = np.int64(0)
        cq = np.int64(-1)  # the table of the previous row (its bounds and size, kept)
        base_s = base_r = np.int64(0)
        m = np.int64(0)
        lg = 0
        mask = np.uint64(0)
        for t in range(nbat):
            r0 = starts[t, p]
            r1 = starts[t, p + 1]
            if skip >= r1 - r0:
                skip -= r1 - r0
                continue
            first = r0 + skip
            skip = 0
            for r in range(first, r1):
                h = np.uint64(buf[r, 0])
                q = part_of(h, b)
                if q != cq:
                    cq = q
                    base_s = q * scap
                    base_r = q * rcap
                    m = ns[q]
                    lg = log2(m)
                    mask = np.uint64(m - 1)
                s = slot_of(h, b, lg)
                tag = h >> np.uint64(32)
                f = -1
                while True:
                    e = slots[base_s + s]
                    if e == 0:
                        break
                    if (e >> np.uint64(32)) == tag:
                        g = np.int64(e & _LOW32) - 1
                        same = True
                        for j in range(kw):
                            if rec[base_r + g, j] != buf[r, 1 + j]:
                                same = False
                                break
                        if same:
                            f = g
                            break
                    s = (s + np.uint64(1)) & mask
                if f < 0:
                    n = nf[q]
                    if n >= rcap or (5 * (n + 1) > 3 * m and 2 * m > scap):
                        done[p] += counted
                        return p
                    if 5 * (n + 1) > 3 * m:
                        m = _grow_slots(slots, base_s, m, b)
                        ns[q] = m
                        lg = log2(m)
                        mask = np.uint64(m - 1)
                        s = slot_of(h, b, lg)
                        while slots[base_s + s] != 0:
                            s = (s + np.uint64(1)) & mask
                    for j in range(kw):
                        rec[base_r + n, j] = buf[r, 1 + j]
                    for c in range(kw, rec.shape[1]):
                        rec[base_r + n, c] = 0
                    slots[base_s + s] = (tag << np.uint64(32)) | np.uint64(n + 1)
                    f = n
                    nf[q] = n + 1
                g = base_r + f
                a = buf[r, 1 + kw]
                rec[g, kw + a] += buf[r, 2 + kw] if cells else 1
                if wmode != 0:
                    if wmode == 1:
                        whi, wlo = to_fixed(buf_f[r, col_w])
                    elif wmode == 2:
                        whi, wlo = buf[r, col_w], np.uint64(0)
                    else:
                        whi, wlo = buf[r, col_w], np.uint64(buf[r, col_w + 1])
                    ci = kw + na + a
                    cl = kw + 2 * na + a
                    x_hi, x_lo = add128(rec[g, ci], np.uint64(rec[g, cl]), whi, wlo)
                    rec[g, ci] = x_hi
                    rec[g, cl] = np.int64(x_lo)
                counted += 1
        done[p] += counted
    return -1


@inline
def key_hash(rec, row, k):
    """The hash of a record's key (the same as :func:`hash_part` gives its codes)."""
    h = GOLDEN
    for j in range(k):
        w = rec[row, j >> 1]
        c = (w & 0xFFFFFFFF) if (j & 1) == 0 else ((w >> 32) & 0xFFFFFFFF)
        h = _step(h, c)
    return mix64(h)


@kernel
def regrow_hist(rec, rcap, nf, k, b, hist):
    """Fibers per partition (``hist``, int64[2**b]) if the tables were re-partitioned into 2**b."""
    for p in range(nf.shape[0]):
        for f in range(nf[p]):
            hist[part_of(key_hash(rec, p * rcap + f, k), b)] += 1


@kernel
def regrow(rec, rcap, nf, k, b, new_rec, new_rcap, new_slots, new_scap, new_ns, new_nf):
    """Move every fiber of the old tables into new (empty) tables of ``2**b`` partitions,
    partition by partition in fiber order. The new tables must have room (see
    :func:`regrow_hist`)."""
    width = rec.shape[1]
    for p in range(nf.shape[0]):
        for f in range(nf[p]):
            old = p * rcap + f
            h = key_hash(rec, old, k)
            q = part_of(h, b)
            base_s = q * new_scap
            m = new_ns[q]
            n = new_nf[q]
            if 5 * (n + 1) > 3 * m:
                m = _grow_slots(new_slots, base_s, m, b)
                new_ns[q] = m
            lg = log2(m)
            mask = np.uint64(m - 1)
            s = slot_of(h, b, lg)
            while new_slots[base_s + s] != 0:
                s = (s + np.uint64(1)) & mask
            new_slots[base_s + s] = ((h >> np.uint64(32)) << np.uint64(32)) | np.uint64(n + 1)
            for c in range(width):
                new_rec[q * new_rcap + n, c] = rec[old, c]
            new_nf[q] = n + 1


@kernel
def lookup(codes, b, rec, rcap, slots, scap, ns, offsets, out):
    """``out[i]`` = ``offsets[p]`` + fiber of row i (codes int32[k, n]) in its partition ``p``, for
    rows whose key is present; other rows (absent key, negative code) are left as they are."""
    k = codes.shape[0]
    n = codes.shape[1]
    for i in range(n):
        h = GOLDEN
        bad = False
        for j in range(k):
            c = codes[j, i]
            if c < 0:
                bad = True
            h = _step(h, c)
        if bad:
            continue
        h = mix64(h)
        q = part_of(h, b)
        base_s = q * scap
        base_r = q * rcap
        m = ns[q]
        mask = np.uint64(m - 1)
        s = slot_of(h, b, log2(m))
        tag = h >> np.uint64(32)
        while True:
            e = slots[base_s + s]
            if e == 0:
                break
            if (e >> np.uint64(32)) == tag:
                g = np.int64(e & _LOW32) - 1
                same = True
                for j in range(0, k, 2):
                    lo = np.int64(np.uint32(codes[j, i]))
                    hi = np.int64(np.uint32(codes[j + 1, i])) << 32 if j + 1 < k else np.int64(0)
                    if rec[base_r + g, j >> 1] != (lo | hi):
                        same = False
                        break
                if same:
                    out[i] = offsets[q] + g
                    break
            s = (s + np.uint64(1)) & mask
