"""Audits with overlapping fibers: a tolerance window or the k nearest rows on one numeric
column (SPEC sections 2-3). Each row's fiber is its own window; metrics are per row.

Unlike exact and binned fibers, windows need every (value, action, weight) of the column in
memory (sorted), about 24 bytes a row; nulls and NaN values are dropped and counted.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.results import Result
from ..core.summary import envelope
from ..errors import DcbError
from ..fibers.finalize import action_key, audit_headline, audit_warnings, size_distribution, zero_weight_message
from ..fibers.state import batch_weights
from ..io import arrow as A
from ..io.encoding import ColumnEncoder
from ..kernels import windows as kw
from ..kernels.sorting import lexsort

_SCALE = 1 << 64


class Column:
    """A numeric evidence column with its actions and weights, sorted for window queries."""

    def __init__(self, values: np.ndarray, acodes: np.ndarray, weights: np.ndarray | None, actions: pa.Array,
                 dropped: int = 0):
        arank = _ranks(actions)
        codes = arank[acodes] if len(acodes) else acodes.astype(np.int64)
        # by value alone: windows are functions of the value (SPEC section 2, "Ties"), so the
        # order of tied rows reaches no result; it must not be the action's (that packed equal
        # actions together and certified 68% instead of 45% on a rounded column under knn:25)
        order = lexsort([values])
        self.values = np.ascontiguousarray(values[order])
        self.acodes = np.ascontiguousarray(codes[order].astype(np.int64))
        self.weights = np.ascontiguousarray(weights[order]) if weights is not None else np.zeros(0)
        self.actions = actions.take(pa.array(np.argsort(arank))) if len(actions) else actions
        self.dropped = dropped
        self.n_actions = max(len(actions), 1)

    @property
    def n(self) -> int:
        return len(self.values)

    def window_bounds(self, rule):
        lo, hi = np.empty(self.n, np.int64), np.empty(self.n, np.int64)
        rule.bounds(self.values, lo, hi)
        return lo, hi

    def metrics(self, rule, min_support: int = 1, thin: str = "ambiguous") -> dict:
        """The audit metrics with each row's window as its fiber."""
        lo, hi = self.window_bounds(rule)
        na = self.n_actions
        support = np.empty(self.n, np.int64)
        acc = np.zeros((6 + 2 * na, 2), np.int64)
        cnt = np.zeros(4 + 3 * na, np.int64)
        kw.window_classes(self.acodes, self.weights, lo, hi, na, int(min_support), thin == "skip", support, acc, cnt)

        def total(r):
            return int(acc[r, 0]) * _SCALE + int(np.uint64(acc[r, 1]))

        W = total(0)

        def frac(x):
            return x / W if W else 0.0

        labels = [action_key(v) for v in self.actions.to_pylist()]
        present = [a for a in range(len(labels)) if cnt[4 + 3 * a] > 0]
        n_fibers, n_mixed = int(cnt[0]), int(cnt[1])
        sizes = support if thin != "skip" else support[support >= min_support]
        return {
            "n_rows": int(self.n),
            "total_weight": W / _SCALE,
            "dropped_rows": int(self.dropped),
            "n_fibers": n_fibers,
            "n_mixed_fibers": n_mixed,
            "mixed_fiber_fraction": n_mixed / n_fibers if n_fibers else 0.0,
            "n_thin_fibers": int(cnt[2]),
            "certifiable_fraction": frac(total(1)),
            "ambiguous_fraction": frac(total(2)),
            "thin_fraction": frac(total(3)),
            "certified_rows": {labels[a]: int(cnt[4 + 3 * a + 1]) for a in present},
            "certified_weight": {labels[a]: total(6 + 2 * a + 1) / _SCALE for a in present},
            "decision_risk": frac(total(4)),
            "actions": [labels[a] for a in present],
            "prevalence": {labels[a]: frac(total(6 + 2 * a)) for a in present},
            "fiber_size": size_distribution(sizes),
            "median_window_size": float(np.median(support)) if self.n else 0.0,
        }


def _ranks(actions: pa.Array) -> np.ndarray:
    if len(actions) == 0:
        return np.zeros(0, np.int64)
    order = A.np_values(pc.array_sort_indices(actions, order="ascending", null_placement="at_end"))
    r = np.empty(len(actions), np.int64)
    r[order] = np.arange(len(actions))
    return r


def load_column(batches, column: str, action: str, weight: str | None = None, nulls: str = "drop") -> Column:
    """Read one numeric column with its action (and weight) from ``(part, batch)`` pairs."""
    vals, acts, ws = [], [], []
    enc = ColumnEncoder(action, keep_nulls=nulls == "value")
    dropped = 0
    for _, b in batches:
        v = A.as_array(b.column(column))
        if pa.types.is_dictionary(v.type):
            v = v.cast(v.type.value_type)
        if not (pa.types.is_integer(v.type) or pa.types.is_floating(v.type) or pa.types.is_null(v.type)):
            raise DcbError(f"window and knn rules need a numeric column, but '{column}' is {v.type}; "
                           "use the exact rule or bin it")
        x = A.np_values(pc.cast(v, pa.float64()), nan_nulls=True)
        ok = ~np.isnan(x)
        if v.null_count:
            ok &= A.np_values(v.is_valid())
        a = enc.encode(b.column(action))
        ok &= a >= 0
        w = None
        if weight:
            w, null_w = batch_weights(A.as_array(b.column(weight)), weight)
            if null_w is not None:
                ok &= ~null_w
        dropped += int((~ok).sum())
        vals.append(x[ok])
        acts.append(a[ok])
        if weight:
            ws.append(w[ok])
    values = np.concatenate(vals) if vals else np.zeros(0)
    acodes = np.concatenate(acts) if acts else np.zeros(0, np.int32)
    weights = (np.concatenate(ws) if ws else np.zeros(0)) if weight else None
    return Column(values, acodes, weights, enc.values(), dropped)


class WindowAuditResult(Result):
    """An audit whose fibers are windows: ``summary`` (kind "audit", with a ``window`` block);
    its result directory holds the summary alone (no fiber table: every row has its own window)."""

    def write(self, out_dir: str, **_ignored) -> dict:
        return super().write(out_dir)


def audit_windows(src, column, action, weight, rule, min_support, thin, nulls, progress=None) -> WindowAuditResult:
    """The audit of one numeric evidence column under a window or knn rule."""
    cols = [column, action] + ([weight] if weight else [])
    col = load_column(src.batches(cols), column, action, weight, nulls)
    if col.n == 0:
        raise DcbError("no rows left after dropping nulls and NaN values in the evidence, action or weight column"
                       if col.dropped else "empty input: no rows")
    if weight and not (col.weights > 0).any():
        raise DcbError(zero_weight_message(weight, col.n))
    m = col.metrics(rule, min_support, thin)
    m["window"] = rule.describe()
    summary = envelope("audit", {"evidence": [column], "action": action, "weight": weight, "id": None,
                       "min_support": min_support, "thin": thin, "nulls": nulls, "rules": {column: rule.describe()}},
                       input={**src.describe(), "rows_read": col.n + col.dropped},
                       metrics=m,
                       headline=audit_headline(m),
                       warnings=audit_warnings(m))
    return WindowAuditResult(summary)
