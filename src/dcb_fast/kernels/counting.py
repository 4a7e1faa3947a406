"""The fiber record layout, and the kernels that read records or count without hashing.

Fibers are counted in hash partitions (``kernels.partitions``); each partition's table keeps one
int64 record per fiber, ``rec[f]``: the key (int32 codes packed two per word, so the key is exact
for any cardinality and any number of columns: nothing is squeezed into 64 bits), then the row
count per action, then (when weighted) the 128-bit fixed-point weight per action as integer parts
and 64-bit fractions. Finding a fiber and counting a row touch one record.

Small key spaces skip hashing altogether: :func:`count_dense` counts into a table indexed by the
mixed-radix number of the codes.
"""

import numpy as np

from .._jit import kernel
from .hashing import add128, to_fixed
from .partitions import aggregate as count_shard  # noqa: F401  (the counting kernel, by its old name)


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
