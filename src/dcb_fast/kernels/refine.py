"""Refining fibers by one more column, on *atoms*: the fibers of the finest partition (all
evidence and probe columns together), each with its per-action row counts and weights.

A coarser fiber is a group of atoms; adding a probe splits every group by the probe's code. One
pass over the atoms with a hash table keyed by (group, code) gives the refined groups and their
support, weight and action mix, so a completion step costs O(atoms) per candidate probe instead
of a regrouping of all rows.
"""

import numpy as np

from .._jit import kernel
from .hashing import add128, mix64

_MIXED = -2


@kernel
def refine(group, code, counts, whi, wlo, out_group):
    """Split ``group`` (int64 per atom) by ``code`` (int64 per atom; pass zeros to keep the
    groups as they are). Writes the refined group of each atom into ``out_group`` (numbered
    0.. in order of first appearance) and returns per refined group: rows, weight (hi, lo),
    action (the single action, or -2 when mixed)."""
    n = group.shape[0]
    na = counts.shape[1]
    nslots = 16
    while nslots < 2 * n + 2:
        nslots *= 2
    mask = np.uint64(nslots - 1)
    slot_key = np.empty(nslots, np.int64)
    slot_id = np.full(nslots, -1, np.int64)
    rows = np.zeros(n, np.int64)
    thi = np.zeros(n, np.int64)
    tlo = np.zeros(n, np.uint64)
    act = np.full(n, -1, np.int64)
    ng = 0
    for i in range(n):
        key = group[i] * np.int64(2147483647) + code[i]
        s = mix64(np.uint64(key)) & mask
        while True:
            g = slot_id[s]
            if g < 0:
                slot_id[s] = ng
                slot_key[s] = key
                g = ng
                ng += 1
                break
            if slot_key[s] == key:
                break
            s = (s + np.uint64(1)) & mask
        out_group[i] = g
        for a in range(na):
            c = counts[i, a]
            if c == 0:
                continue
            rows[g] += c
            thi[g], tlo[g] = add128(thi[g], tlo[g], whi[i, a], wlo[i, a])
            if act[g] == -1:
                act[g] = a
            elif act[g] != a:
                act[g] = _MIXED
    return rows[:ng], thi[:ng], tlo[:ng], act[:ng]


@kernel
def class_totals(rows, thi, tlo, act, min_support, skip_thin, acc, cnt):
    """Sum refined groups by class into ``acc`` (int64[4, 2]: all, certified, ambiguous, thin)
    and count fibers into ``cnt`` (fibers, mixed fibers, thin fibers)."""
    for g in range(rows.shape[0]):
        if rows[g] == 0:
            continue
        thin = rows[g] < min_support
        mixed = act[g] == _MIXED
        k = 3 if thin else (2 if mixed else 1)
        for slot in (0, k):
            acc[slot, 0], lo = add128(acc[slot, 0], np.uint64(acc[slot, 1]), thi[g], tlo[g])
            acc[slot, 1] = np.int64(lo)
        if thin:
            cnt[2] += 1
        if not (skip_thin and thin):
            cnt[0] += 1
            if mixed:
                cnt[1] += 1
