"""Exact order statistics of a float column streamed in batches (no full copy in memory).

Each value is mapped to an order-preserving 64-bit key (IEEE bits, sign flipped so that the
unsigned order is the numeric order). The wanted ranks are narrowed down 20 key bits per pass
with histograms; once the values left in the wanted buckets are few, one more pass collects and
sorts just those. Memory: one 2**20 histogram per pass plus the collected candidates.
"""

import numpy as np

from .._jit import inline, kernel

SIGN = np.uint64(0x8000000000000000)
DIGIT_BITS = 20


@kernel
def keys_of(values, bits, valid, voff, out):
    """Order-preserving uint64 keys of the valid, non-NaN ``values`` (``bits`` is the same
    memory viewed as uint64), written to the front of ``out``; returns how many. -0.0 and 0.0
    share a key."""
    m = 0
    for i in range(values.shape[0]):
        if valid.shape[0] > 0:
            b = voff + i
            if (valid[b >> 3] >> (b & 7)) & 1 == 0:
                continue
        x = values[i]
        if x != x:
            continue
        if x == 0.0:
            out[m] = SIGN
        else:
            u = bits[i]
            out[m] = ~u if u & SIGN else u | SIGN
        m += 1
    return m


@inline
def prefix_index(prefixes, key, shift_prefix):
    """Position of the key's prefix (``key >> shift_prefix``) in the sorted ``prefixes``, or -1."""
    p = key >> np.uint64(shift_prefix) if shift_prefix < 64 else np.uint64(0)
    lo, hi = 0, prefixes.shape[0]
    while lo < hi:
        mid = (lo + hi) >> 1
        if prefixes[mid] < p:
            lo = mid + 1
        else:
            hi = mid
    if lo < prefixes.shape[0] and prefixes[lo] == p:
        return lo
    return -1


@kernel
def histogram_digit(keys, n, prefixes, shift_prefix, shift_digit, digit_bits, hist):
    """For keys whose top bits (``key >> shift_prefix``) equal one of the sorted ``prefixes``,
    count the next ``digit_bits`` bits (``key >> shift_digit``) into ``hist[prefix index]``."""
    mask = np.uint64((1 << digit_bits) - 1)
    for i in range(n):
        t = prefix_index(prefixes, keys[i], shift_prefix)
        if t >= 0:
            hist[t, (keys[i] >> np.uint64(shift_digit)) & mask] += 1


@kernel
def collect(keys, n, prefixes, shift_prefix, out, m):
    """Append to ``out`` (from position ``m``) the keys whose prefix is one of ``prefixes``."""
    for i in range(n):
        if prefix_index(prefixes, keys[i], shift_prefix) >= 0:
            out[m] = keys[i]
            m += 1
    return m


def key_to_float(k: int) -> float:
    """Inverse of :func:`keys_of`."""
    k = np.uint64(k)
    b = k & ~SIGN if k & SIGN else ~k
    return float(np.array([b], dtype=np.uint64).view(np.float64)[0])
