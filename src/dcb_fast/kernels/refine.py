"""Refining fibers by one more column, on *atoms*: the fibers of the finest partition (all
evidence and probe columns together), each with its per-action row counts and weights.

The atoms are kept sorted so that the current fibers are *segments* (atoms ``seg[s]:seg[s+1]``
make fiber s). Splitting every segment by a probe's code needs only a table the size of the
probe's code range, reset after each segment, and the sub-fibers of a segment are complete once
the segment has been read, so they are classified on the spot: one sequential pass over the
atoms per candidate probe, O(atoms), with nothing bigger than the probe's dictionary in the
working set. Choosing a probe reorders the atoms within each segment (``apply_split``).
"""

import numpy as np

from .._jit import inline, kernel
from .hashing import add128

_MIXED = -2


@inline
def _classify(rows, thi, tlo, act, min_support, skip_thin, acc, cnt):
    thin = rows < min_support
    mixed = act == _MIXED
    k = 3 if thin else (2 if mixed else 1)
    for slot in (0, k):
        acc[slot, 0], lo = add128(acc[slot, 0], np.uint64(acc[slot, 1]), thi, tlo)
        acc[slot, 1] = np.int64(lo)
    if thin:
        cnt[2] += 1
    if not (skip_thin and thin):
        cnt[0] += 1
        if mixed:
            cnt[1] += 1


@kernel
def summarize_atoms(counts, whi, wlo, weighted, rows, thi, tlo, act):
    """Per atom: rows, total weight and its action (-2 when the atom itself is mixed, -1 when
    it has no rows), so that scoring reads four numbers per atom instead of every action.
    Unweighted (``weighted`` false), the weight is the row count and ``whi``/``wlo`` are not read.
    The arrays may be strided views of a fiber table's records (``kernels.counting``)."""
    na = counts.shape[1]
    for i in range(counts.shape[0]):
        r = np.int64(0)
        h = np.int64(0)
        lo = np.uint64(0)
        a_ = -1
        for a in range(na):
            c = counts[i, a]
            if c == 0:
                continue
            r += c
            if weighted:
                h, lo = add128(h, lo, whi[i, a], wlo[i, a])
            else:
                h, lo = add128(h, lo, c, np.uint64(0))
            a_ = a if a_ == -1 else _MIXED
        rows[i] = r
        thi[i] = h
        tlo[i] = lo
        act[i] = a_


@kernel
def score_split(seg, codes, col, ncodes, arows, athi, atlo, aact, min_support, skip_thin, acc, cnt):
    """Split every segment by column ``col`` of ``codes`` (int32[atoms, k], codes in
    [0, ncodes); ``col`` -1 scores the segments as they are) and sum the sub-fibers by class into ``acc`` (int64[4, 2]: all,
    certified, ambiguous, thin; 128-bit weights) and ``cnt`` (fibers, mixed, thin). Atoms come
    summarized (:func:`summarize_atoms`)."""
    local = np.full(ncodes, -1, np.int64)
    used = np.empty(ncodes, np.int64)
    rows = np.zeros(ncodes, np.int64)
    thi = np.zeros(ncodes, np.int64)
    tlo = np.zeros(ncodes, np.uint64)
    act = np.zeros(ncodes, np.int64)
    for s in range(seg.shape[0] - 1):
        m = 0
        for i in range(seg[s], seg[s + 1]):
            a = aact[i]
            if a == -1:
                continue
            c = codes[i, col] if col >= 0 else 0
            j = local[c]
            if j < 0:
                j = m
                local[c] = m
                used[m] = c
                rows[j] = 0
                thi[j] = 0
                tlo[j] = 0
                act[j] = -1
                m += 1
            rows[j] += arows[i]
            thi[j], tlo[j] = add128(thi[j], tlo[j], athi[i], atlo[i])
            if act[j] == -1:
                act[j] = a
            elif act[j] != a:
                act[j] = _MIXED
        for j in range(m):
            local[used[j]] = -1
            if rows[j] > 0:
                _classify(rows[j], thi[j], tlo[j], act[j], min_support, skip_thin, acc, cnt)


@kernel
def apply_split(seg, codes, col, ncodes, new_perm, new_seg):
    """The order that sorts every segment stably by column ``col`` of ``codes`` (ascending) into ``new_perm``
    (``new_perm[position] = atom``), and the sub-segment boundaries into ``new_seg``. Returns
    the number of new segments."""
    count = np.zeros(ncodes, np.int64)
    start = np.zeros(ncodes, np.int64)
    used = np.empty(ncodes, np.int64)
    ns = 0
    new_seg[0] = 0
    for s in range(seg.shape[0] - 1):
        lo, hi = seg[s], seg[s + 1]
        m = 0
        for p in range(lo, hi):
            c = codes[p, col]
            if count[c] == 0:
                used[m] = c
                m += 1
            count[c] += 1
        # codes ascending within the segment (insertion sort over the few used codes)
        for x in range(1, m):
            v = used[x]
            y = x - 1
            while y >= 0 and used[y] > v:
                used[y + 1] = used[y]
                y -= 1
            used[y + 1] = v
        off = lo
        for x in range(m):
            c = used[x]
            start[c] = off
            off += count[c]
            ns += 1
            new_seg[ns] = off
        for p in range(lo, hi):
            c = codes[p, col]
            new_perm[start[c]] = p
            start[c] += 1
        for x in range(m):
            count[used[x]] = 0
    return ns


@kernel
def gather_rows(src, perm, dst):
    """``dst[p] = src[perm[p]]`` for 2-D arrays (rows of atoms)."""
    for p in range(perm.shape[0]):
        i = perm[p]
        for j in range(src.shape[1]):
            dst[p, j] = src[i, j]
