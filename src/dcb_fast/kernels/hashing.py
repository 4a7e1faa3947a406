"""Hash mixing and 128-bit fixed-point helpers shared by the kernels.

Weights are summed in 128-bit fixed point (a signed 64-bit integer part and a 64-bit fraction)
instead of float64: integer addition is associative, so a weight total is identical whatever the
batch size, file split, thread count or merge order. Every finite weight >= 2**-11 is represented
exactly; smaller ones are truncated to a multiple of 2**-64 per row (deterministic, before any
summation).
"""

import numpy as np

from .._jit import inline, kernel

GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_FNV_PRIME = np.uint64(0x100000001B3)
_FNV_OFFSET = np.uint64(0xCBF29CE484222325)
_TWO64 = 18446744073709551616.0


@inline
def mix64(x):
    """splitmix64 finaliser: a cheap, well-distributed 64-bit mixer."""
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


@inline
def hash_bytes(data, a, b):
    """FNV-1a over data[a:b], then mixed with the length (so "" and "\\0" differ)."""
    h = _FNV_OFFSET
    for p in range(a, b):
        h = (h ^ np.uint64(data[p])) * _FNV_PRIME
    return mix64(h ^ np.uint64(b - a))


@inline
def to_fixed(w):
    """Split a finite weight 0 <= w < 2**63 into (integer part, 64-bit fraction)."""
    fl = np.floor(w)
    return np.int64(fl), np.uint64((w - fl) * _TWO64)


@inline
def add128(ahi, alo, bhi, blo):
    lo = alo + blo
    carry = np.int64(1) if lo < alo else np.int64(0)
    return ahi + bhi + carry, lo


@inline
def less128(ahi, alo, bhi, blo):
    return ahi < bhi or (ahi == bhi and alo < blo)


@inline
def sub128(ahi, alo, bhi, blo):
    """a - b for a >= b."""
    lo = alo - blo
    borrow = np.int64(1) if alo < blo else np.int64(0)
    return ahi - bhi - borrow, lo


@kernel
def weights_to_fixed(w, hi, lo):
    """Vector form of :func:`to_fixed` (used for cells and for the oracle tests)."""
    for i in range(w.shape[0]):
        hi[i], lo[i] = to_fixed(w[i])
