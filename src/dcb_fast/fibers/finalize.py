"""Finalize a fiber state: classes, fractions and the per-fiber table (SPEC section 2).

Every weight here is exact: per-fiber weights are 128-bit fixed point, totals are Python
integers in units of 2**-64, and a fraction is one correctly rounded division of two such totals.
So a metric is the same float whatever batch size, file split, thread count or merge order
produced the state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from ..core.confidence import minority_upper
from ..errors import DcbError
from ..kernels import finalize as kf
from ..kernels.sorting import lexsort

CERTIFIED, AMBIGUOUS, THIN = "certified", "ambiguous", "thin"
_SCALE = 1 << 64


def ratio(num: int, den: int) -> float:
    return num / den if den else 0.0


def zero_weight_message(weight, n_rows: int, what: str = "rows") -> str:
    """The one-line error for a total weight of zero: every fraction of it is undefined."""
    return (f"weight column '{weight}' sums to 0 over the {n_rows:,} {what} kept: fractions of zero weight are "
            "undefined; give some rows a positive weight, or drop the weight column to count rows")


def check_total_weight(total: int, weight, n_rows: int, what: str = "rows") -> None:
    """Refuse a total weight of zero (SPEC section 2: all fractions are of the total weight)."""
    if total == 0 and n_rows > 0:
        raise DcbError(zero_weight_message(weight, n_rows, what))


def check_cell_weights(w: np.ndarray, count: np.ndarray, weight, n_rows: int) -> None:
    """Refuse weights a replay cannot use: negative or non-finite values (weights are traffic
    shares), or a total of zero (every fraction of it is undefined). ``w`` is the weight of each
    row of a cell, ``count`` the cell's rows."""
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise DcbError(f"weight column '{weight}' has negative or non-finite values; weights are traffic shares: "
                       "give finite numbers >= 0")
    check_total_weight(int((count * w).sum() > 0), weight, n_rows)


def as_float(total: int) -> float:
    return total / _SCALE


@dataclass
class Fibers:
    """Per-fiber arrays in canonical order (evidence values ascending, null last)."""

    order: np.ndarray | None  # fiber index in the state for each output row (set on demand)
    support: np.ndarray  # rows per fiber
    tot_hi: np.ndarray
    tot_lo: np.ndarray
    major: np.ndarray  # majority action code
    n_actions: np.ndarray
    cls: np.ndarray  # 0 certified, 1 ambiguous, 2 thin


def classify(state, min_support: int = 1, skip_thin: bool = False, keep: bool = True):
    """One pass over every shard: per-fiber figures (:class:`Fibers`, in shard order, the order
    of ``state.table_arrays()``) and the exact totals (``acc``, ``cnt``; see
    ``kernels.finalize``). With ``keep=False`` only ``support`` and ``cls`` are filled (the
    other per-fiber arrays are empty): enough for the summary, 9 bytes a fiber instead of 57."""
    state.flush()
    nf = state.n_fibers
    na = state.n_action_slots
    arank = state.action_encoder.sort_ranks()
    if len(arank) < na:
        arank = np.concatenate([arank, np.arange(len(arank), na)])
    support = np.empty(nf, np.int64)
    cls = np.empty(nf, np.int8)
    m = nf if keep else 0
    tot_hi, tot_lo = np.empty(m, np.int64), np.empty(m, np.uint64)
    major, n_actions = np.empty(m, np.int64), np.empty(m, np.int64)
    maj_hi, maj_lo = np.empty(m, np.int64), np.empty(m, np.uint64)
    acc = np.zeros((kf.ACC_ACTION + 2 * na, 2), np.int64)
    cnt = np.zeros(kf.CNT_ACTION + 3 * na, np.int64)
    off = 0
    for sh in state.partition_records:
        sl = slice(off, off + sh.nf)
        kept = sl if keep else slice(0, 0)
        kf.finalize_shard(sh.rec, sh.nf, state.key_words, na, bool(state.weight), arank, int(min_support), skip_thin,
                          support[sl], tot_hi[kept], tot_lo[kept], major[kept], maj_hi[kept], maj_lo[kept],
                          n_actions[kept], cls[sl], acc, cnt)
        off += sh.nf
    fib = Fibers(None, support, tot_hi, tot_lo, major, n_actions, cls)
    fib.maj_hi, fib.maj_lo = maj_hi, maj_lo
    return fib, acc, cnt


def canonical_order(state) -> np.ndarray:
    """Fiber indices sorted by their evidence values (column by column, null last).

    When the ranks of all columns fit in one 63-bit mixed-radix number, the rows are sorted by
    that one key (fewer radix passes than one key per column)."""
    keys = state.table_arrays()[0]
    if keys.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    ranks = [enc.sort_ranks() for enc in state.encoders]
    radix = [max(1, len(r)) for r in ranks]
    if float(np.prod(np.array(radix, dtype=np.float64))) < 2.0**62:
        composite = np.zeros(keys.shape[0], dtype=np.int64)
        for j, r in enumerate(ranks):
            composite *= radix[j]
            composite += r[keys[:, j]]
        return lexsort([composite])
    return lexsort([r[keys[:, j]] for j, r in enumerate(ranks)])


def summarize(state, min_support: int = 1, thin: str = "ambiguous", histogram_bins: int = 24, keep: bool = True):
    """The metrics table of SPEC section 2 for one audit, and the per-fiber arrays.

    Returns ``(metrics, fibers)``: ``metrics`` is a JSON-ready dict, ``fibers`` a :class:`Fibers`
    (with ``keep=False``, only its ``support`` and ``cls`` are filled).
    """
    if thin not in ("ambiguous", "skip"):
        raise DcbError(f"thin must be 'ambiguous' or 'skip', not '{thin}'")
    fib, acc, cnt = classify(state, min_support, skip_thin=thin == "skip", keep=keep)
    actions = state.action_encoder.values()
    labels = [action_key(v) for v in actions.to_pylist()]
    arank = state.action_encoder.sort_ranks()

    def total(row):
        return int(acc[row, 0]) * _SCALE + int(np.uint64(acc[row, 1]))

    W = total(kf.ACC_TOTAL)
    check_total_weight(W, state.weight, state.n_rows)
    # actions seen only in dropped rows may have codes beyond the counted columns
    present = [a for a in np.argsort(arank) if a < state.n_action_slots and cnt[kf.CNT_ACTION + 3 * a] > 0]
    certified_weight, certified_rows, certified_fibers, prevalence = {}, {}, {}, {}
    for a in present:
        lab = labels[a]
        certified_weight[lab] = as_float(total(kf.ACC_ACTION + 2 * a + 1))
        certified_rows[lab] = int(cnt[kf.CNT_ACTION + 3 * a + 1])
        certified_fibers[lab] = int(cnt[kf.CNT_ACTION + 3 * a + 2])
        prevalence[lab] = ratio(total(kf.ACC_ACTION + 2 * a), W)
    n_fibers, n_mixed = int(cnt[kf.CNT_FIBERS]), int(cnt[kf.CNT_MIXED])
    counted = fib.support if thin != "skip" else fib.support[fib.cls != 2]
    metrics = {
        "n_rows": int(sum(cnt[kf.CNT_ACTION + 3 * a] for a in range(state.n_action_slots))),
        "total_weight": as_float(W),
        "dropped_rows": state.dropped_rows,
        "n_fibers": n_fibers,
        "n_mixed_fibers": n_mixed,
        "mixed_fiber_fraction": ratio(n_mixed, n_fibers),
        "n_thin_fibers": int(cnt[kf.CNT_THIN]),
        "certifiable_fraction": ratio(total(kf.ACC_CERT), W),
        "ambiguous_fraction": ratio(total(kf.ACC_AMB), W),
        "thin_fraction": ratio(total(kf.ACC_THIN), W),
        "certified_rows": certified_rows,
        "certified_weight": certified_weight,
        "certified_fibers": certified_fibers,
        "decision_risk": ratio(total(kf.ACC_RISK), W),
        "actions": [labels[a] for a in present],
        "prevalence": prevalence,
        "fiber_size": size_distribution(counted, histogram_bins),
    }
    return metrics, fib


def present_actions(state) -> np.ndarray:
    """Action codes that occur in kept rows, in canonical (ascending value) order. Values seen
    only in dropped rows are left out, so a result never depends on where the drops fell."""
    arank = state.action_encoder.sort_ranks()
    counts = state.table_arrays()[1]
    present = np.zeros(len(arank), dtype=bool)
    width = min(len(arank), counts.shape[1])
    present[:width] = counts[:, :width].sum(axis=0) > 0
    return np.array([a for a in np.argsort(arank) if present[a]], dtype=np.int64)


def action_key(v) -> str:
    """An action value as a JSON object key."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, bytes):
        return v.hex()
    return str(v)


def size_distribution(sizes: np.ndarray, bins: int = 24) -> dict:
    """Median, p90 and max fiber support and a power-of-two histogram of supports.

    Quantiles come from a count of each support value (supports are small integers in almost
    every audit), so this is one linear pass even over millions of fibers."""
    if len(sizes) == 0:
        return {"median": 0, "p90": 0, "max": 0, "histogram": []}
    cap = 1 << 16
    small = np.bincount(np.minimum(sizes, cap), minlength=cap + 1)
    big = np.sort(sizes[sizes >= cap]) if small[cap] else np.zeros(0, np.int64)
    n = len(sizes)
    cum = np.cumsum(small[:cap])

    def kth(k):  # k-th smallest (0-based)
        i = int(np.searchsorted(cum, k, side="right"))
        return i if i < cap else int(big[k - int(cum[-1])])

    median = (kth((n - 1) // 2) + kth(n // 2)) / 2.0
    p90 = kth(int(np.floor(0.9 * (n - 1))))
    top = int(sizes.max())
    hist = []
    lo = 1
    while lo <= top:
        hi = 2 * lo - 1
        c = int(small[lo : min(hi + 1, cap)].sum()) if lo < cap else 0
        if len(big):
            c += int(((big >= max(lo, cap)) & (big <= hi)).sum())
        if c:
            hist.append({"min_rows": lo, "max_rows": hi, "fibers": c})
        lo *= 2
    return {"median": float(median), "p90": float(p90), "max": top, "histogram": hist}


def evidence_columns(state, keys, rows, names, rules) -> dict[str, pa.Array]:
    """The evidence values of fibers ``rows`` (indices into ``keys``) for output: original
    types for exact columns; label, lo and hi for binned ones."""
    cols: dict[str, pa.Array] = {}
    for j, name in enumerate(names):
        enc = state.encoders[j]
        vals = enc.values().take(pa.array(keys[rows, j], pa.int32())) if len(rows) else enc.values()[:0]
        decoded = rules[name].decode(vals)
        if decoded:
            for suffix, arr in decoded.items():
                cols[name if not suffix else f"{name}.{suffix}"] = arr
        else:
            cols[name] = vals
    return cols


def fiber_table(state, fib: Fibers, with_weights: bool | None = None, confidence: float = 0.95) -> pa.Table:
    """The per-fiber table: evidence values (original types; binned columns as label, lo, hi),
    support, weight, rows (and weight) per action, majority action, purity, ``minority_upper``
    (the upper ``confidence`` bound of the share of rows without the majority action), class."""
    keys, counts, whi, wlo = state.table_arrays()
    if fib.order is None:
        fib.order = canonical_order(state)
    o = fib.order
    cols = evidence_columns(state, keys, o, state.evidence, state.rules)
    cols["rows"] = pa.array(fib.support[o], pa.int64())
    weight = fib.tot_hi[o].astype(np.float64) + fib.tot_lo[o].astype(np.float64) / 2.0**64
    cols["weight"] = pa.array(weight, pa.float64())
    actions = state.action_encoder.values()
    labels = [action_key(v) for v in actions.to_pylist()]
    weighted = state.weight is not None if with_weights is None else with_weights
    for a in present_actions(state):
        cols[f"rows[{labels[a]}]"] = pa.array(counts[o, a] if a < counts.shape[1] else np.zeros(len(o), np.int64))
        if weighted:
            w = whi[o, a].astype(np.float64) + wlo[o, a].astype(np.float64) / 2.0**64
            cols[f"weight[{labels[a]}]"] = pa.array(w)
    cols["n_actions"] = pa.array(fib.n_actions[o], pa.int64())
    cols["majority_action"] = actions.take(pa.array(fib.major[o])) if len(o) else actions[:0]
    maj = fib.maj_hi[o].astype(np.float64) + fib.maj_lo[o].astype(np.float64) / 2.0**64
    with np.errstate(invalid="ignore", divide="ignore"):
        purity = np.where(weight > 0, maj / weight, 1.0)
    cols["purity"] = pa.array(purity, pa.float64())
    cols["minority_upper"] = pa.array(minority_upper(minority_rows(state, fib)[o], fib.support[o], confidence),
                                      pa.float64())
    names = np.array([CERTIFIED, AMBIGUOUS, THIN])
    cols["class"] = pa.array(names[fib.cls[o]], pa.string()).dictionary_encode()
    clash = [c for c in state.evidence
             if c in ("rows", "weight", "n_actions", "majority_action", "purity", "minority_upper", "class")]
    if clash:
        raise DcbError(f"evidence column '{clash[0]}' clashes with a column of the fiber table; rename it")
    return pa.table(cols)


def minority_rows(state, fib: Fibers) -> np.ndarray:
    """Rows of each fiber (shard order) that do not carry its majority action."""
    counts = state.table_arrays()[1]
    if len(fib.support) == 0:
        return np.zeros(0, np.int64)
    return fib.support - counts[np.arange(len(fib.support)), fib.major]


def exact_sum(hi: np.ndarray, lo: np.ndarray) -> int:
    """Exact sum of 128-bit fixed-point weights as a Python integer (units of 2**-64)."""
    lo = lo.astype(np.uint64)
    return (int(hi.astype(np.int64).sum()) * _SCALE + int((lo >> np.uint64(32)).sum()) * (1 << 32)
            + int((lo & np.uint64(0xFFFFFFFF)).sum()))


def tolerate(state, fib: Fibers, metrics: dict, min_support: int, thin: str, max_minority: float,
             confidence: float) -> dict:
    """Tolerant certification (issue 18): a fiber is certified(majority action) when its support
    is at least ``min_support`` and the upper ``confidence`` bound of its minority share is at
    most ``max_minority``; a fiber that fails is ambiguous when mixed, thin when pure (too few
    rows to bound its minority). Rewrites ``fib.cls`` and the class figures of ``metrics``
    (exact totals, as :func:`summarize`); mixing, prevalence and decision risk do not change."""
    upper = minority_upper(minority_rows(state, fib), fib.support, confidence)
    ok = (fib.support >= min_support) & (upper <= max_minority)
    cls = np.where(ok, 0, np.where(fib.support < min_support, 2, np.where(fib.n_actions > 1, 1, 2))).astype(np.int8)
    fib.cls = cls
    W = exact_sum(fib.tot_hi, fib.tot_lo)

    def frac(mask):
        return ratio(exact_sum(fib.tot_hi[mask], fib.tot_lo[mask]), W)

    labels = [action_key(v) for v in state.action_encoder.values().to_pylist()]
    m = dict(metrics)
    cert = cls == 0
    m["certifiable_fraction"], m["ambiguous_fraction"], m["thin_fraction"] = frac(cert), frac(cls == 1), frac(cls == 2)
    m["n_thin_fibers"] = int((cls == 2).sum())
    if thin == "skip":
        m["n_fibers"] = int((cls != 2).sum())
        m["n_mixed_fibers"] = int(((cls != 2) & (fib.n_actions > 1)).sum())
        m["mixed_fiber_fraction"] = ratio(m["n_mixed_fibers"], m["n_fibers"])
        m["fiber_size"] = size_distribution(fib.support[cls != 2])
    rows, weight, fibers = {}, {}, {}
    for lab in m["actions"]:
        rows[lab], weight[lab], fibers[lab] = 0, 0.0, 0
    for a in np.unique(fib.major[cert]):
        sel = cert & (fib.major == a)
        lab = labels[a]
        rows[lab] = int(fib.support[sel].sum())
        weight[lab] = as_float(exact_sum(fib.tot_hi[sel], fib.tot_lo[sel]))
        fibers[lab] = int(sel.sum())
    m["certified_rows"], m["certified_weight"], m["certified_fibers"] = rows, weight, fibers
    minority_w = exact_sum(fib.tot_hi[cert], fib.tot_lo[cert]) - exact_sum(fib.maj_hi[cert], fib.maj_lo[cert])
    m["tolerated_minority_fraction"] = ratio(minority_w, W)
    return m


def audit_warnings(m: dict) -> list[str]:
    """Things a reader of the summary should not miss."""
    out = []
    if m["n_rows"] >= 1000 and m["n_fibers"] >= 0.5 * m["n_rows"]:
        out.append(f"{m['n_fibers']:,} fibers for {m['n_rows']:,} rows: most fibers hold a single row, so "
                   "certification rests on single observations; an id-like or continuous evidence column may "
                   "need a coarser rule or --min-support")
    if m["dropped_rows"] and m["dropped_rows"] >= 0.05 * (m["n_rows"] + m["dropped_rows"]):
        out.append(f"{m['dropped_rows']:,} rows were dropped for nulls; --nulls value keeps them")
    return out


def audit_headline(m: dict) -> str:
    return (
        f"{m['certifiable_fraction']:.2%} of the weight is certified, {m['ambiguous_fraction']:.2%} ambiguous, "
        f"{m['thin_fraction']:.2%} thin; {m['n_mixed_fibers']:,} of {m['n_fibers']:,} fibers are mixed"
    )
