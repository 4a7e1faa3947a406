"""Production rows looked up in a certificate's key table (coverage, SPEC section 4).

A certificate holds few fibers next to a production log's rows, so coverage does not count the
log: each row's evidence codes (already mapped to the certificate's dictionaries, an unseen value
coded negative) are packed into ``W`` int64 words (mixed radix, as many columns per word as fit
in 62 bits), looked up in an open-addressing table of the certificate's keys, and the row's
weight is added to its certificate fiber (or to the unseen total). Sums are 128-bit fixed point
(``hashing``), so every total is exact and independent of the batch split and the thread count.

One-word keys (the usual case) take the partitioned path: :func:`scatter_rows` moves each row's
key, weight and action to its hash partition's run (sequential writes), and
:func:`probe_partitions` probes each partition's small table, which with the partition's sums
stays in cache. Wider keys are probed row by row (:func:`find_rows`, :func:`accumulate`).

>>> import numpy as np
>>> words = np.array([[3], [7]], np.int64)  # two certificate keys, one word each
>>> table = build_table(words)
>>> int(find(table, np.array([7], np.int64))), int(find(table, np.array([5], np.int64)))
(1, -1)
"""

import numpy as np

from .._jit import inline, kernel
from .hashing import add128, mix64, to_fixed

# the figures summed over rows into ``scalars`` (int64[S, 2]: integer part, fraction bits)
UNSEEN_W, NULL_W, LABELLED, FD_CERT, FD_MAJOR, FD_GLOBAL, LABELLED_CERT = range(7)
N_SCALARS = 7
# per certificate fiber, ``fibers`` int64[F, 4]: rows, weight integer part, weight fraction bits,
# and the fiber's class and actions (:func:`fiber_meta`), so that a row touches one cache line
UNSEEN_ROW = -1  # ``crow`` of a row whose key is not in the certificate
DROPPED_ROW = -2  # ``crow`` of a row without a weight (dropped, not traffic)


@inline
def _hash_words(words, i, nw):
    h = np.uint64(0x9E3779B97F4A7C15)
    for w in range(nw):
        h = mix64(h ^ np.uint64(words[i, w]))
    return h


@kernel
def _fill(words, slots):
    nw = words.shape[1]
    mask = np.uint64(slots.shape[0] - 1)
    for f in range(words.shape[0]):
        s = _hash_words(words, f, nw) & mask
        while slots[s, nw] >= 0:
            s = (s + np.uint64(1)) & mask
        for w in range(nw):
            slots[s, w] = words[f, w]
        slots[s, nw] = f


def build_table(words: np.ndarray) -> np.ndarray:
    """An open-addressing table of unique keys ``words`` (int64[F, W]): int64[cap, W + 1], each
    slot the key's words and its row (-1: empty), ``cap`` a power of two > 1.5F (one cache line
    per probe for W <= 7)."""
    nf, nw = words.shape
    cap = 1 << max(4, int(3 * nf // 2).bit_length())
    slots = np.full((cap, nw + 1), -1, dtype=np.int64)
    _fill(np.ascontiguousarray(words, dtype=np.int64), slots)
    return slots


@kernel
def find(slots, key):
    """Row of the key ``key`` (int64[W]) in a table of :func:`build_table`, -1 when absent."""
    nw = key.shape[0]
    mask = np.uint64(slots.shape[0] - 1)
    h = np.uint64(0x9E3779B97F4A7C15)
    for w in range(nw):
        h = mix64(h ^ np.uint64(key[w]))
    s = h & mask
    while slots[s, nw] >= 0:
        same = True
        for w in range(nw):
            if slots[s, w] != key[w]:
                same = False
                break
        if same:
            return slots[s, nw]
        s = (s + np.uint64(1)) & mask
    return -1


@inline
def _add(acc, g, whi, wlo):
    h, lo = add128(acc[g, 0], np.uint64(acc[g, 1]), whi, wlo)
    acc[g, 0] = h
    acc[g, 1] = np.int64(lo)


@inline
def _tally(fibers, f, whi, wlo, acc, has_action, a, p2c, is_global, labelled):
    """One row of weight ``(whi, wlo)``: its certificate fiber ``f`` (-1: unseen) and, when it
    carries a label (production action code ``a``), the false-decision sums (SPEC section 4)."""
    if f >= 0:
        fibers[f, 0] += 1
        h2, l2 = add128(fibers[f, 1], np.uint64(fibers[f, 2]), whi, wlo)
        fibers[f, 1] = h2
        fibers[f, 2] = np.int64(l2)
    else:
        _add(acc, UNSEEN_W, whi, wlo)
    if not has_action or not labelled[a]:
        return
    _add(acc, LABELLED, whi, wlo)
    glob = is_global[a] != 0
    if not glob:
        _add(acc, FD_GLOBAL, whi, wlo)
    if f >= 0:
        c = p2c[a]
        meta = fibers[f, 3]
        if (meta & 0xFF) == 0:
            _add(acc, LABELLED_CERT, whi, wlo)
            if c < 0 or c != ((meta >> 8) & 0xFFFFFF) - 1:
                _add(acc, FD_CERT, whi, wlo)
        if c < 0 or c != (meta >> 32) - 1:
            _add(acc, FD_MAJOR, whi, wlo)
    elif not glob:
        _add(acc, FD_MAJOR, whi, wlo)


@inline
def _flush(acc, scalars):
    """``scalars += acc`` (a thread's sums of one call, added once at its end)."""
    for g in range(acc.shape[0]):
        s_hi, s_lo = add128(scalars[g, 0], np.uint64(scalars[g, 1]), acc[g, 0], np.uint64(acc[g, 1]))
        scalars[g, 0] = s_hi
        scalars[g, 1] = np.int64(s_lo)


_BLOCK = 512  # rows hashed before any is probed: the probes' cache misses then overlap


@kernel
def find_rows(codes, word_of, strides, null_codes, slots, lo, hi, null_w, crow, null_ev):
    """Rows ``lo..hi-1``: ``crow[i]`` = the row's certificate fiber, -1 when its key is not in
    the table (a negative code: a value the certificate never saw), -2 when ``null_w[i]`` (the
    row has no weight: dropped; ``null_w`` empty: none); ``null_ev[i]`` = 1 when one of its codes
    is the column's null code (``null_codes``). ``codes`` int32[k, n] are certificate codes,
    packed into ``W`` words (column j adds ``codes[j] * strides[j]`` to word ``word_of[j]``).
    Rows are hashed a block at a time, then probed, so that the table's cache misses overlap.
    Returns the dropped rows."""
    k = codes.shape[0]
    nw = slots.shape[1] - 1
    mask = np.uint64(slots.shape[0] - 1)
    has_null_w = null_w.shape[0] > 0
    keys = np.zeros((_BLOCK, nw), dtype=np.int64)
    pos = np.zeros(_BLOCK, dtype=np.uint64)
    ok = np.zeros(_BLOCK, dtype=np.bool_)
    dropped = 0
    for b0 in range(lo, hi, _BLOCK):
        b1 = min(b0 + _BLOCK, hi)
        for i in range(b0, b1):
            r = i - b0
            for w in range(nw):
                keys[r, w] = 0
            seen = True
            nul = False
            for j in range(k):
                c = codes[j, i]
                if c == null_codes[j]:
                    nul = True
                if c < 0:
                    seen = False
                else:
                    keys[r, word_of[j]] += np.int64(c) * strides[j]
            null_ev[i] = 1 if nul else 0
            if has_null_w and null_w[i]:
                seen = False
            ok[r] = seen
            h = np.uint64(0x9E3779B97F4A7C15)
            for w in range(nw):
                h = mix64(h ^ np.uint64(keys[r, w]))
            pos[r] = h & mask
        for i in range(b0, b1):
            r = i - b0
            f = -1
            if ok[r]:
                s = pos[r]
                while slots[s, nw] >= 0:
                    same = True
                    for w in range(nw):
                        if slots[s, w] != keys[r, w]:
                            same = False
                            break
                    if same:
                        f = slots[s, nw]
                        break
                    s = (s + np.uint64(1)) & mask
            if has_null_w and null_w[i]:
                f = DROPPED_ROW
                dropped += 1
            crow[i] = f
    return dropped


def fiber_meta(cls, act, major) -> np.ndarray:
    """Per certificate fiber, its class (0 certified, 1 ambiguous, 2 thin) and its certified
    and majority action codes (-1: none) in one int64 (the 4th word of its record)."""
    return (cls.astype(np.int64) | ((act.astype(np.int64) + 1) << 8) | ((major.astype(np.int64) + 1) << 32))


@kernel
def accumulate(crow, null_ev, lo, hi, weights, iweights, acodes, p2c, is_global, labelled, fibers, scalars):
    """Rows ``lo..hi-1`` (their fibers ``crow`` from :func:`find_rows`): add each row's weight
    to its certificate fiber (``fibers[f]``: rows, weight) or to the unseen total, to the
    null-evidence total, and to the false-decision sums (``scalars``, see ``N_SCALARS``).

    Weights: float64 ``weights`` or int64 ``iweights`` (both empty: a row weighs 1). ``acodes``
    (empty without an action column): the production action code of each row; per action code,
    ``p2c`` its certificate action code (-1: none), ``is_global`` whether it is the global
    majority, ``labelled`` whether it is a label (a null action is none under ``nulls=drop``).
    The 4th word of a fiber's record holds its class and actions (:func:`fiber_meta`)."""
    weighted = weights.shape[0] > 0
    integer = iweights.shape[0] > 0
    has_action = acodes.shape[0] > 0
    acc = np.zeros((scalars.shape[0], 2), dtype=np.int64)
    for i in range(lo, hi):
        f = crow[i]
        if f == DROPPED_ROW:
            continue
        if integer:
            whi, wlo = iweights[i], np.uint64(0)
        elif weighted:
            whi, wlo = to_fixed(weights[i])
        else:
            whi, wlo = np.int64(1), np.uint64(0)
        if null_ev[i]:
            _add(acc, NULL_W, whi, wlo)
        _tally(fibers, f, whi, wlo, acc, has_action, acodes[i] if has_action else 0, p2c, is_global, labelled)
    _flush(acc, scalars)


@kernel
def merge_fibers(src, dst):
    """``dst += src`` for per-fiber records int64[F, 4] (rows, weight integer part, fraction)."""
    for f in range(src.shape[0]):
        if src[f, 0] == 0 and src[f, 1] == 0 and src[f, 2] == 0:
            continue
        dst[f, 0] += src[f, 0]
        h, lo = add128(dst[f, 1], np.uint64(dst[f, 2]), src[f, 1], np.uint64(src[f, 2]))
        dst[f, 1] = h
        dst[f, 2] = np.int64(lo)


# --- partitioned lookup (one-word keys): rows scattered by hash, each partition probed in cache -----

def partitions_for(n_fibers: int) -> int:
    """Hash bits that split ``n_fibers`` certificate fibers into partitions of ~1k fibers (a
    partition's table and sums then stay in L2); 0 for a small certificate."""
    return int(min(10, max(0, int(np.ceil(np.log2(max(n_fibers, 1) / 1024.0))))))


def partitioned_table(words: np.ndarray, bits: int):
    """The certificate's one-word keys split into ``2**bits`` partitions by the top hash bits.

    Returns (order, fiber_off, slots, slot_off): certificate fiber ``order[g]`` is partitioned
    fiber ``g`` (partition p holds ``fiber_off[p]..fiber_off[p+1]-1``); partition p's table is
    ``slots[slot_off[p]:slot_off[p+1]]`` (int64[., 2]: key, partitioned fiber; -1: empty), a
    power of two > 1.5 x its fibers, probed from the hash's low bits."""
    nf = words.shape[0]
    h = _hashes(np.ascontiguousarray(words[:, 0], dtype=np.int64))
    part = (h >> np.uint64(64 - bits)).astype(np.int64) if bits else np.zeros(nf, np.int64)
    order = np.argsort(part, kind="stable")
    P = 1 << bits
    cnt = np.bincount(part, minlength=P)
    fiber_off = np.zeros(P + 1, np.int64)
    np.cumsum(cnt, out=fiber_off[1:])
    caps = np.array([1 << max(1, int(3 * c // 2).bit_length()) for c in cnt], np.int64)
    slot_off = np.zeros(P + 1, np.int64)
    np.cumsum(caps, out=slot_off[1:])
    slots = np.full((int(slot_off[-1]), 2), -1, np.int64)
    _fill_parts(np.ascontiguousarray(words[order, 0], dtype=np.int64), h[order], fiber_off, slot_off, slots)
    return order, fiber_off, slots, slot_off


@kernel
def _hashes(keys):
    out = np.empty(keys.shape[0], np.uint64)
    for i in range(keys.shape[0]):
        out[i] = mix64(np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(keys[i]))
    return out


@kernel
def _fill_parts(keys, hashes, fiber_off, slot_off, slots):
    for p in range(fiber_off.shape[0] - 1):
        base = slot_off[p]
        mask = np.uint64(slot_off[p + 1] - base - 1)
        for g in range(fiber_off[p], fiber_off[p + 1]):
            s = hashes[g] & mask
            while slots[base + np.int64(s), 1] >= 0:
                s = (s + np.uint64(1)) & mask
            slots[base + np.int64(s), 0] = keys[g]
            slots[base + np.int64(s), 1] = g


@kernel
def scatter_rows(codes, strides, null_codes, bits, lo, hi, null_w, wbits, acodes, hist, part, keys, pay):
    """Rows ``lo..hi-1``, one-word keys: each row's key, weight and action go to its hash
    partition's run of ``pay`` (int64[n, 3]: key, weight, row << 32 | action << 1 | null
    evidence), in input order within a partition (sequential writes). ``wbits``: int64 weights,
    or float64 weights viewed as int64 (their bits travel; empty: a row weighs 1). A row with a
    code the certificate never saw goes to the extra partition ``2**bits`` (no probe); a row
    without a weight is dropped. ``hist`` (int64[2**bits + 2]) receives the run offsets;
    ``part`` (int32) and ``keys`` (int64) are work buffers of ``hi - lo`` rows. Returns the
    dropped rows."""
    k = codes.shape[0]
    P = 1 << bits
    shift = np.uint64(64 - bits) if bits > 0 else np.uint64(0)
    has_null_w = null_w.shape[0] > 0
    has_action = acodes.shape[0] > 0
    weighted = wbits.shape[0] > 0
    for p in range(P + 2):
        hist[p] = 0
    dropped = 0
    for i in range(lo, hi):
        r = i - lo
        if has_null_w and null_w[i]:
            part[r] = -1
            dropped += 1
            continue
        key = np.int64(0)
        seen = True
        nul = 0
        for j in range(k):
            c = codes[j, i]
            if c == null_codes[j]:
                nul = 1
            if c < 0:
                seen = False
            else:
                key += np.int64(c) * strides[j]
        if seen:
            p = np.int64(mix64(np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(key)) >> shift) if bits > 0 else 0
        else:
            p = P
        part[r] = p | (nul << 30)
        keys[r] = key
        hist[p + 1] += 1
    for p in range(P + 1):
        hist[p + 1] += hist[p]
    fill = hist[:P + 1].copy()
    for i in range(lo, hi):
        r = i - lo
        p = part[r]
        if p < 0:
            continue
        nul = p >> 30
        p &= (1 << 30) - 1
        at = fill[p]
        fill[p] = at + 1
        pay[at, 0] = keys[r]
        pay[at, 1] = wbits[i] if weighted else 1
        a = acodes[i] if has_action else 0
        pay[at, 2] = (np.int64(i) << 32) | (np.int64(a) << 1) | nul
    return dropped


@kernel
def probe_partitions(pay, payf, hists, starts, p_lo, p_hi, bits, float_w, slot_off, slots, has_action, p2c,
                     is_global, labelled, fibers, scalars, unseen_rows):
    """Partitions ``p_lo..p_hi-1`` (``2**bits``: the rows of codes the certificate never saw) of
    every thread's :func:`scatter_rows` (thread t's runs: ``pay[starts[t] + hists[t, p]:starts[t]
    + hists[t, p + 1]]``): probe the partition's table (in cache), add each row's weight to its
    fiber (``fibers``: partitioned order) or to the unseen total, the null-evidence total and
    the false-decision sums (as :func:`accumulate`); the rows of unseen keys are listed in
    ``unseen_rows``. Threads that take disjoint partitions share ``fibers``, and each brings
    only its partitions' tables into cache. ``payf`` is ``pay`` viewed as float64 (a float
    weight's bits). Returns how many rows are unseen."""
    P = 1 << bits
    acc = np.zeros((scalars.shape[0], 2), dtype=np.int64)
    nu = 0
    for p in range(p_lo, p_hi):
        probe = p < P
        if probe:
            base = slot_off[p]
            mask = np.uint64(slot_off[p + 1] - base - 1)
        for t in range(hists.shape[0]):
            for at in range(starts[t] + hists[t, p], starts[t] + hists[t, p + 1]):
                key = pay[at, 0]
                f = -1
                if probe:
                    s = mix64(np.uint64(0x9E3779B97F4A7C15) ^ np.uint64(key)) & mask
                    while True:
                        g = slots[base + np.int64(s), 1]
                        if g < 0:
                            break
                        if slots[base + np.int64(s), 0] == key:
                            f = g
                            break
                        s = (s + np.uint64(1)) & mask
                if float_w:
                    whi, wlo = to_fixed(payf[at, 1])
                else:
                    whi, wlo = pay[at, 1], np.uint64(0)
                m = pay[at, 2]
                if m & 1:
                    _add(acc, NULL_W, whi, wlo)
                if f < 0:
                    unseen_rows[nu] = np.int32(m >> 32)
                    nu += 1
                _tally(fibers, f, whi, wlo, acc, has_action, (m >> 1) & 0x7FFFFFFF, p2c, is_global, labelled)
    _flush(acc, scalars)
    return nu
