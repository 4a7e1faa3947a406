"""One pass over a shard's records that yields every per-fiber figure and every exact total an
audit reports (SPEC section 2), so finalizing costs one read of the table.

Totals are 128-bit fixed point, accumulated in ``acc`` (int64[m, 2]: integer part and fraction
bits). Rows of ``acc``: see the ``ACC_*`` layout below; per-action rows start at ``ACC_ACTION``.
"""

import numpy as np

from .._jit import kernel
from .hashing import add128, less128, sub128

ACC_TOTAL, ACC_CERT, ACC_AMB, ACC_THIN, ACC_RISK, ACC_ACTION = 0, 1, 2, 3, 4, 5
# per action a: prevalence weight at ACC_ACTION + 2a, certified weight at ACC_ACTION + 2a + 1
CNT_FIBERS, CNT_MIXED, CNT_THIN, CNT_ACTION = 0, 1, 2, 3
# per action a: rows at CNT_ACTION + 3a, certified rows + 3a + 1, certified fibers + 3a + 2


@kernel
def finalize_shard(rec, nf, kw, na, weighted, arank, min_support, skip_thin,
                   support, tot_hi, tot_lo, major, maj_hi, maj_lo, n_actions, cls, acc, cnt):
    """Reduce fibers ``0..nf-1`` of one shard into the per-fiber output slices (support, total
    weight, majority action by weight with ties to the lowest ``arank``, its weight, number of
    actions, class 0/1/2 = certified/ambiguous/thin) and add to the totals ``acc``/``cnt``.
    Support and class are always written; the other slices only when they are not empty (a
    summary needs the totals alone, and millions of fibers make these arrays large)."""
    keep = tot_hi.shape[0] > 0
    for f in range(nf):
        rows = np.int64(0)
        thi = np.int64(0)
        tlo = np.uint64(0)
        best = -1
        bhi = np.int64(0)
        blo = np.uint64(0)
        present = 0
        for a in range(na):
            c = rec[f, kw + a]
            if c == 0:
                continue
            if weighted:
                whi = rec[f, kw + na + a]
                wlo = np.uint64(rec[f, kw + 2 * na + a])
            else:
                whi = c
                wlo = np.uint64(0)
            present += 1
            rows += c
            thi, tlo = add128(thi, tlo, whi, wlo)
            p = ACC_ACTION + 2 * a
            acc[p, 0], lo = add128(acc[p, 0], np.uint64(acc[p, 1]), whi, wlo)
            acc[p, 1] = np.int64(lo)
            cnt[CNT_ACTION + 3 * a] += c
            if best < 0 or less128(bhi, blo, whi, wlo) or (whi == bhi and wlo == blo and arank[a] < arank[best]):
                best = a
                bhi = whi
                blo = wlo
        support[f] = rows
        if keep:
            tot_hi[f] = thi
            tot_lo[f] = tlo
            major[f] = best
            maj_hi[f] = bhi
            maj_lo[f] = blo
            n_actions[f] = present
        acc[ACC_TOTAL, 0], lo = add128(acc[ACC_TOTAL, 0], np.uint64(acc[ACC_TOTAL, 1]), thi, tlo)
        acc[ACC_TOTAL, 1] = np.int64(lo)
        rhi, rlo = sub128(thi, tlo, bhi, blo)
        acc[ACC_RISK, 0], lo = add128(acc[ACC_RISK, 0], np.uint64(acc[ACC_RISK, 1]), rhi, rlo)
        acc[ACC_RISK, 1] = np.int64(lo)
        thin = rows < min_support
        if thin:
            k = 2
            slot = ACC_THIN
            cnt[CNT_THIN] += 1
        elif present > 1:
            k = 1
            slot = ACC_AMB
        else:
            k = 0
            slot = ACC_CERT
            q = ACC_ACTION + 2 * best + 1
            acc[q, 0], lo = add128(acc[q, 0], np.uint64(acc[q, 1]), thi, tlo)
            acc[q, 1] = np.int64(lo)
            cnt[CNT_ACTION + 3 * best + 1] += rows
            cnt[CNT_ACTION + 3 * best + 2] += 1
        cls[f] = k
        acc[slot, 0], lo = add128(acc[slot, 0], np.uint64(acc[slot, 1]), thi, tlo)
        acc[slot, 1] = np.int64(lo)
        if not (skip_thin and thin):
            cnt[CNT_FIBERS] += 1
            if present > 1:
                cnt[CNT_MIXED] += 1
