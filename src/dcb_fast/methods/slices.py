"""Slices of an audit (``--by COL``, issue 18 item 3): the headline figures per value of a column
(a day, a tenant, a model version), from the same pass as the audit itself.

The pass counts fibers over the evidence columns plus the slice column; a fiber of a slice is
then exactly a fiber of the audit of that slice alone. The whole audit's state is that state
with the slice column summed out (:func:`coarsen`, exact: counts and 128-bit weights are added
cell by cell), so one read of the input gives both, on any engine.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..fibers.state import FiberState
from ..fibers.finalize import exact_sum, ratio, summarize
from ..fibers.finalize import tolerate


def coarsen(state: FiberState, keep: int) -> FiberState:
    """The state over the first ``keep`` evidence columns of ``state`` (the rest summed out)."""
    ev = state.evidence[:keep]
    out = FiberState(ev, state.action, state.weight, state.nulls, {c: state.rules[c] for c in ev}, shards=1,
                     max_fibers=state.max_fibers)
    dicts, keys, adict, act, cnt, hi, lo = state.cells()
    if len(act):
        out.add_cells(dicts[:keep], np.ascontiguousarray(keys[:, :keep]), adict, act, cnt, hi, lo)
    out.rows_read = state.rows_read
    out.restore_totals(out.rows_read, state.dropped_rows)
    return out


def slice_metrics(state: FiberState, min_support: int, thin: str, max_minority=None, confidence: float = 0.95
                  ) -> list[dict]:
    """Per value of the last evidence column of ``state``: rows, weight, certified / ambiguous /
    thin fractions (of the slice's weight), fibers, mixed fibers, decision risk; values in
    ascending order (null last)."""
    metrics, fib = summarize(state, min_support, thin)
    if max_minority is not None:
        tolerate(state, fib, metrics, min_support, thin, max_minority, confidence)
    keys = state.table_arrays()[0]
    enc = state.encoders[-1]
    code = keys[:, -1] if len(keys) else np.zeros(0, np.int64)
    ranks = enc.sort_ranks()
    values = enc.values()
    out = []
    for c in sorted(np.unique(code), key=lambda c: ranks[c]):
        sel = code == c
        W = exact_sum(fib.tot_hi[sel], fib.tot_lo[sel])
        cls = fib.cls[sel]

        def frac(mask):
            s = np.nonzero(sel)[0][mask]
            return ratio(exact_sum(fib.tot_hi[s], fib.tot_lo[s]), W)

        counted = cls != 2 if thin == "skip" else np.ones(len(cls), bool)
        mixed = fib.n_actions[sel] > 1
        risk = W - exact_sum(fib.maj_hi[sel], fib.maj_lo[sel])
        v = values[int(c)].as_py()
        out.append({
            "value": v.hex() if isinstance(v, (bytes, bytearray)) else v,
            "n_rows": int(fib.support[sel].sum()),
            "total_weight": W / 2.0**64,
            "certifiable_fraction": frac(cls == 0),
            "ambiguous_fraction": frac(cls == 1),
            "thin_fraction": frac(cls == 2),
            "n_fibers": int(counted.sum()),
            "n_mixed_fibers": int((mixed & counted).sum()),
            "decision_risk": ratio(risk, W),
        })
    return out


def by_table(rows: list[dict], by: str, values_type) -> pa.Table:
    """The slices as a table (``audit_by.parquet``), the slice column in its own type."""
    cols = {by: pa.array([r["value"] for r in rows], type=values_type)}
    for k in rows[0] if rows else []:
        if k != "value":
            cols[k] = pa.array([r[k] for r in rows])
    return pa.table(cols)


def atom_slices(atoms, seg: np.ndarray, by_col: int, values: pa.Array, ranks: np.ndarray, min_support: int,
                prefix: str = "s_") -> list[dict]:
    """Per value of the slice column (column ``by_col`` of the completion atoms' codes), the
    certified / ambiguous / thin fractions of the slice's own fibers at the current step: the
    current fibers (segments ``seg``) split by the slice value. Classes as in the audit: thin
    when support < ``min_support``, else certified when one action, else ambiguous. Exact."""
    a = atoms.arrays
    n = len(a["codes"])
    if n == 0:
        return []
    code = a["codes"][:, by_col].astype(np.int64)
    nby = int(code.max()) + 1
    group = np.repeat(np.arange(len(seg) - 1, dtype=np.int64), np.diff(seg))
    key = group * nby + code
    order = np.argsort(key, kind="stable")
    k = key[order]
    starts = np.concatenate([[0], np.nonzero(k[1:] != k[:-1])[0] + 1])
    rows = np.add.reduceat(a[f"{prefix}rows"][order], starts)
    act = a[f"{prefix}act"][order]
    lo_act, hi_act = np.minimum.reduceat(act, starts), np.maximum.reduceat(act, starts)
    hi = a[f"{prefix}thi"][order]
    lo = a[f"{prefix}tlo"][order].astype(np.uint64)
    w_hi = np.add.reduceat(hi, starts)
    w_lo_hi = np.add.reduceat((lo >> np.uint64(32)).astype(np.int64), starts)
    w_lo_lo = np.add.reduceat((lo & np.uint64(0xFFFFFFFF)).astype(np.int64), starts)
    sl = k[starts] % nby
    # -2 marks a mixed atom, -1 an empty one: a fiber is pure when all its atoms carry one action
    pure = (lo_act == hi_act) & (lo_act >= 0)
    cls = np.where(rows < min_support, 2, np.where(pure, 0, 1))
    out = []
    for v in sorted(np.unique(sl), key=lambda c: ranks[c]):
        m = sl == v
        if not rows[m].sum():
            continue

        def total(mask):
            return (int(w_hi[mask].sum()) << 64) + (int(w_lo_hi[mask].sum()) << 32) + int(w_lo_lo[mask].sum())

        W = total(m)
        val = values[int(v)].as_py()
        out.append({"value": val.hex() if isinstance(val, (bytes, bytearray)) else val,
                    "n_rows": int(rows[m].sum()), "total_weight": W / 2.0**64,
                    "certifiable_fraction": ratio(total(m & (cls == 0)), W),
                    "ambiguous_fraction": ratio(total(m & (cls == 1)), W),
                    "thin_fraction": ratio(total(m & (cls == 2)), W),
                    "n_fibers": int(m.sum())})
    return out
