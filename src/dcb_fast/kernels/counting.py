"""The fiber table: an open-addressing hash table keyed by the tuple of evidence codes.

A fiber's key is its row of ``keys`` (one int32 code per evidence column), so keys are exact
for any cardinality and any number of columns: no packing into 64 bits, no overflow, and a hash
collision only costs a comparison. ``fhash`` keeps each fiber's hash so growing the slot array
never recomputes it. Per fiber and action the table accumulates a row count and, when weighted,
a 128-bit fixed-point weight (``whi``, ``wlo``; see ``hashing``).

``state`` is int64[2]: (number of fibers, rows dropped because a code was negative).
"""

import numpy as np

from .._jit import inline, kernel
from .hashing import GOLDEN, add128, less128, mix64, sub128, to_fixed

_P = np.uint64(0x9FB21C651E98DF25)


@inline
def key_hash(codes, i):
    h = GOLDEN
    for j in range(codes.shape[0]):
        h = (h ^ np.uint64(codes[j, i])) * _P
    return mix64(h)


@inline
def has_negative(codes, i):
    for j in range(codes.shape[0]):
        if codes[j, i] < 0:
            return True
    return False


@inline
def find_or_insert(codes, i, h, keys, fhash, slots, nf):
    """Return (fiber, new count of fibers); fiber is -1 when there is no room to insert."""
    k = codes.shape[0]
    nslots = slots.shape[0]
    mask = np.uint64(nslots - 1)
    s = h & mask
    while True:
        f = slots[s]
        if f < 0:
            if nf >= keys.shape[0] or 2 * (nf + 1) > nslots:
                return -1, nf
            for j in range(k):
                keys[nf, j] = codes[j, i]
            fhash[nf] = h
            slots[s] = nf
            return nf, nf + 1
        if fhash[f] == h:
            same = True
            for j in range(k):
                if keys[f, j] != codes[j, i]:
                    same = False
                    break
            if same:
                return f, nf
        s = (s + np.uint64(1)) & mask


@kernel
def count_rows(codes, acodes, weights, start, keys, fhash, slots, counts, whi, wlo, state):
    """Add rows ``start..n-1`` to the table: codes int32[k, n], action codes int32[n], weights
    float64[n] (empty when unweighted). Rows with a negative code are dropped and counted.
    Returns the row where it stopped (n when done)."""
    n = acodes.shape[0]
    weighted = weights.shape[0] > 0
    nf = state[0]
    dropped = 0
    for i in range(start, n):
        a = acodes[i]
        if a < 0 or has_negative(codes, i):
            dropped += 1
            continue
        f, nf = find_or_insert(codes, i, key_hash(codes, i), keys, fhash, slots, nf)
        if f < 0:
            state[0] = nf
            state[1] += dropped
            return i
        counts[f, a] += 1
        if weighted:
            hi, lo = to_fixed(weights[i])
            whi[f, a], wlo[f, a] = add128(whi[f, a], wlo[f, a], hi, lo)
    state[0] = nf
    state[1] += dropped
    return n


@kernel
def add_cells(codes, acodes, cnt, chi, clo, start, keys, fhash, slots, counts, whi, wlo, state):
    """Add pre-aggregated cells (a fiber key, an action, a row count and a fixed-point weight)
    to the table: the merge of two partial states, and the load of a serialized one."""
    n = acodes.shape[0]
    weighted = chi.shape[0] > 0
    nf = state[0]
    for i in range(start, n):
        a = acodes[i]
        f, nf = find_or_insert(codes, i, key_hash(codes, i), keys, fhash, slots, nf)
        if f < 0:
            state[0] = nf
            return i
        counts[f, a] += cnt[i]
        if weighted:
            whi[f, a], wlo[f, a] = add128(whi[f, a], wlo[f, a], chi[i], clo[i])
    state[0] = nf
    return n


@kernel
def rehash_fibers(fhash, n, slots):
    slots[:] = -1
    mask = np.uint64(slots.shape[0] - 1)
    for f in range(n):
        s = fhash[f] & mask
        while slots[s] >= 0:
            s = (s + np.uint64(1)) & mask
        slots[s] = f


@kernel
def lookup_fibers(codes, keys, fhash, slots, out):
    """``out[i]`` = the fiber of row i, or -1 when a code is negative or the key is absent."""
    k = codes.shape[0]
    n = out.shape[0]
    mask = np.uint64(slots.shape[0] - 1)
    for i in range(n):
        if has_negative(codes, i):
            out[i] = -1
            continue
        h = key_hash(codes, i)
        s = h & mask
        while True:
            f = slots[s]
            if f < 0:
                out[i] = -1
                break
            if fhash[f] == h:
                same = True
                for j in range(k):
                    if keys[f, j] != codes[j, i]:
                        same = False
                        break
                if same:
                    out[i] = f
                    break
            s = (s + np.uint64(1)) & mask


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
