"""Overlapping fibers on one numeric column (SPEC section 2): tolerance and kNN windows.

Rows are sorted by value alone. A window is a function of the value (SPEC section 2, "Ties"):
a tolerance window holds every row within the tolerance, so tied rows always share it; a kNN
window is placed from the middle of the row's tie group and widened to whole tie groups, so the
order of tied rows (action, weight, input position) never reaches a result. Both bounds move
monotonically with the sorted position, so one sliding pass keeps every window's rows and
weights per action: O(n log n) for the sort and O(n * actions) after it, no n x actions table.
"""

import numpy as np

from .._jit import kernel
from .hashing import add128, less128, sub128, to_fixed


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
def knn_bounds(values, k, lo, hi):
    """Window of sorted row p (SPEC section 2): p's tie group occupies [a, b); the k rows start
    at (a + b - 1) // 2 - k//2, shifted at the ends to hold k rows (all n when n < k), then the
    window is widened to whole tie groups at both edges (it may hold more than k rows)."""
    n = values.shape[0]
    if n == 0:
        return
    kk = min(k, n)
    # tie groups: first[p] = first sorted position of p's value, end[p] = one past its last
    first = np.empty(n, np.int64)
    end = np.empty(n, np.int64)
    a = 0
    for p in range(1, n + 1):
        if p == n or values[p] != values[a]:
            for q in range(a, p):
                first[q] = a
                end[q] = p
            a = p
    # one window per tie group, written to every row of it
    a = 0
    while a < n:
        b = end[a]
        s = (a + b - 1) // 2 - k // 2
        if s > n - kk:
            s = n - kk
        if s < 0:
            s = 0
        wl = first[s]
        wh = end[s + kk - 1]
        for q in range(a, b):
            lo[q] = wl
            hi[q] = wh
        a = b


@kernel
def window_classes(acodes, weights, lo, hi, na, min_support, skip_thin, support, acc, cnt):
    """Per sorted row: the window's support, its class, majority and the totals. ``lo``/``hi``
    must be non-decreasing (both rules' are): the window's rows and weights per action slide.

    The majority action is by weight (by rows when unweighted), ties to the lowest action code
    (codes are canonical ranks). ``acc`` int64[6 + 2*na, 2]: 128-bit weights of (all, certified,
    ambiguous, thin, risk, -) then per action (prevalence, certified). ``cnt``: (distinct
    windows, distinct mixed windows, distinct thin windows, -) then per action (rows, certified
    rows, -)."""
    n = acodes.shape[0]
    weighted = weights.shape[0] > 0
    rows = np.zeros(na, np.int64)  # rows per action in the current window [cl, ch)
    whi = np.zeros(na, np.int64)  # 128-bit weight per action in it (weighted only)
    wlo = np.zeros(na, np.uint64)
    cl = 0
    ch = 0
    prev_lo = -1
    prev_hi = -1
    for p in range(n):
        l = lo[p]
        h = hi[p]
        while ch < h:
            c = acodes[ch]
            rows[c] += 1
            if weighted:
                xh, xl = to_fixed(weights[ch])
                whi[c], wlo[c] = add128(whi[c], wlo[c], xh, xl)
            ch += 1
        while cl < l:
            c = acodes[cl]
            rows[c] -= 1
            if weighted:
                xh, xl = to_fixed(weights[cl])
                whi[c], wlo[c] = sub128(whi[c], wlo[c], xh, xl)
            cl += 1
        s = h - l
        support[p] = s
        present = 0
        best = -1
        for a in range(na):
            if rows[a] > 0:
                present += 1
                if best < 0:
                    best = a
                elif weighted:
                    if less128(whi[best], wlo[best], whi[a], wlo[a]):
                        best = a
                elif rows[a] > rows[best]:
                    best = a
        if weighted:
            rh, rl = to_fixed(weights[p])
        else:
            rh = np.int64(1)
            rl = np.uint64(0)
        thin = s < min_support
        if thin:
            k = 3
        elif present > 1:
            k = 2
        else:
            k = 1
        for slot in (0, k):
            acc[slot, 0], lo128 = add128(acc[slot, 0], np.uint64(acc[slot, 1]), rh, rl)
            acc[slot, 1] = np.int64(lo128)
        a = acodes[p]
        q = 6 + 2 * a
        acc[q, 0], lo128 = add128(acc[q, 0], np.uint64(acc[q, 1]), rh, rl)
        acc[q, 1] = np.int64(lo128)
        cnt[4 + 3 * a] += 1
        if k == 1:
            q = 6 + 2 * a + 1
            acc[q, 0], lo128 = add128(acc[q, 0], np.uint64(acc[q, 1]), rh, rl)
            acc[q, 1] = np.int64(lo128)
            cnt[4 + 3 * a + 1] += 1
        if a != best:
            acc[4, 0], lo128 = add128(acc[4, 0], np.uint64(acc[4, 1]), rh, rl)
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
