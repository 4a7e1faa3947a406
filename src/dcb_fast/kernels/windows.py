"""Overlapping fibers on one numeric column (SPEC section 2): tolerance and kNN windows.

Rows are sorted by value (ties by action rank, then weight, so the order never depends on the
input order); per action, prefix counts give the action mix of any window in O(1), so all n
windows cost O(n log n) for the sort and O(n * actions) after it.
"""

import numpy as np

from .._jit import kernel
from .hashing import add128, to_fixed


@kernel
def prefix_counts(acodes, na, out):
    """``out[p + 1, a]`` = rows among the first p + 1 sorted rows with action a."""
    for a in range(na):
        out[0, a] = 0
    for p in range(acodes.shape[0]):
        for a in range(na):
            out[p + 1, a] = out[p, a]
        out[p + 1, acodes[p]] += 1


@kernel
def tolerance_bounds(values, tol, lo, hi):
    """Window of sorted row p: rows q with |v_q - v_p| <= tol, as [lo[p], hi[p]) (two pointers)."""
    n = values.shape[0]
    a = 0
    b = 0
    for p in range(n):
        v = values[p]
        # compare differences, not v - tol: |v_q - v_p| <= tol exactly as the definition reads
        while v - values[a] > tol:
            a += 1
        if b < p + 1:
            b = p + 1
        while b < n and values[b] - v <= tol:
            b += 1
        lo[p] = a
        hi[p] = b


@kernel
def knn_bounds(n, k, lo, hi):
    """Window of sorted row p: the k rows starting at p - k//2, shifted at the ends to hold k
    rows (all n rows when n < k)."""
    kk = min(k, n)
    for p in range(n):
        s = p - k // 2
        if s > n - kk:
            s = n - kk
        if s < 0:
            s = 0
        lo[p] = s
        hi[p] = s + kk


@kernel
def window_classes(acodes, weights, lo, hi, pref, min_support, skip_thin, support, acc, cnt):
    """Per sorted row: the window's support, its class, majority and the totals.

    ``acc`` int64[6 + 2*na, 2]: 128-bit weights of (all, certified, ambiguous, thin, risk, -)
    then per action (prevalence, certified). ``cnt``: (distinct windows, distinct mixed windows,
    distinct thin windows, -) then per action (rows, certified rows, -)."""
    n = acodes.shape[0]
    na = pref.shape[1]
    weighted = weights.shape[0] > 0
    prev_lo = -1
    prev_hi = -1
    for p in range(n):
        l = lo[p]
        h = hi[p]
        s = h - l
        support[p] = s
        present = 0
        best = -1
        bc = -1
        for a in range(na):
            c = pref[h, a] - pref[l, a]
            if c > 0:
                present += 1
                if c > bc:
                    bc = c
                    best = a
        if weighted:
            whi, wlo = to_fixed(weights[p])
        else:
            whi = np.int64(1)
            wlo = np.uint64(0)
        thin = s < min_support
        if thin:
            k = 3
        elif present > 1:
            k = 2
        else:
            k = 1
        for slot in (0, k):
            acc[slot, 0], lo128 = add128(acc[slot, 0], np.uint64(acc[slot, 1]), whi, wlo)
            acc[slot, 1] = np.int64(lo128)
        a = acodes[p]
        q = 6 + 2 * a
        acc[q, 0], lo128 = add128(acc[q, 0], np.uint64(acc[q, 1]), whi, wlo)
        acc[q, 1] = np.int64(lo128)
        cnt[4 + 3 * a] += 1
        if k == 1:
            q = 6 + 2 * a + 1
            acc[q, 0], lo128 = add128(acc[q, 0], np.uint64(acc[q, 1]), whi, wlo)
            acc[q, 1] = np.int64(lo128)
            cnt[4 + 3 * a + 1] += 1
        if a != best:
            acc[4, 0], lo128 = add128(acc[4, 0], np.uint64(acc[4, 1]), whi, wlo)
            acc[4, 1] = np.int64(lo128)
        if l != prev_lo or h != prev_hi:
            if not (skip_thin and thin):
                cnt[0] += 1
                if present > 1:
                    cnt[1] += 1
            if thin:
                cnt[2] += 1
            prev_lo = l
            prev_hi = h
