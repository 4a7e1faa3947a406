"""Exact grouped sums of 128-bit fixed-point weights (see ``hashing``)."""

import numpy as np

from .._jit import kernel
from .hashing import add128, sub128


@kernel
def group_sum128(groups, hi, lo, out):
    """``out[g] += sum of (hi, lo) over rows with groups == g`` (rows with a negative group are
    skipped); ``out`` is int64[G, 2] holding integer parts and fraction bits."""
    for i in range(groups.shape[0]):
        g = groups[i]
        if g < 0:
            continue
        s_hi, s_lo = add128(out[g, 0], np.uint64(out[g, 1]), hi[i], lo[i])
        out[g, 0] = s_hi
        out[g, 1] = np.int64(s_lo)


@kernel
def minus_chosen(tot_hi, tot_lo, whi, wlo, chosen, out_hi, out_lo):
    """Per fiber, the weight not carried by action ``chosen[f]`` (all of it when ``chosen[f]``
    is negative or out of range): the false decisions of acting ``chosen[f]`` on the fiber."""
    na = whi.shape[1]
    for f in range(tot_hi.shape[0]):
        a = chosen[f]
        if a >= 0 and a < na:
            out_hi[f], out_lo[f] = sub128(tot_hi[f], tot_lo[f], whi[f, a], wlo[f, a])
        else:
            out_hi[f] = tot_hi[f]
            out_lo[f] = tot_lo[f]


@kernel
def row_totals(whi, wlo, tot_hi, tot_lo):
    """Per fiber, the total weight over actions."""
    for f in range(whi.shape[0]):
        h = np.int64(0)
        lo = np.uint64(0)
        for a in range(whi.shape[1]):
            h, lo = add128(h, lo, whi[f, a], wlo[f, a])
        tot_hi[f] = h
        tot_lo[f] = lo
