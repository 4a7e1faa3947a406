"""``edges:E1,E2,...``: bins between fixed edges."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from ...errors import DcbError
from ...io.arrow import np_values
from .base import Rule, numeric_values, register_rule


@register_rule
class Edges(Rule):
    """Bins from sorted edges: ``[e0, e1), ..., [e_{n-2}, e_{n-1}]`` (the last closed).

    Values below the first or above the last edge get bins -1 and ``n-1``: they form fibers of
    their own in an audit and are never matched to a calibration bin they do not fall in.

    >>> Edges([0.0, 1.0, 2.0]).apply(pa.array([0.0, 0.5, 1.0, 2.0, 3.0, -1.0]), "x").to_pylist()
    [0, 0, 1, 1, 2, -1]
    """

    name = "edges"
    syntax = "edges:E1,E2,..."
    listed = 2
    numeric = True

    def __init__(self, edges, source: str | None = None):
        e = np.unique(np.asarray(edges, dtype=np.float64))
        if len(e) == 1 and source is not None:  # quantiles of a constant column: one closed bin [v, v]
            e = np.array([e[0], e[0]])
        if len(e) < 2 or not np.all(np.isfinite(e)):
            raise DcbError(f"edges rule needs at least two distinct finite edges, got {list(edges)}")
        self.edges = e
        self.source = source  # e.g. "quantile:10" when the edges were computed from the data

    def apply(self, arr, column):
        vals = numeric_values(arr, column, self.spec())
        idx = np.searchsorted(self.edges, vals, side="right") - 1
        last = len(self.edges) - 1
        idx[vals == self.edges[-1]] = last - 1
        valid = ~np.isnan(vals)
        if arr.null_count:
            valid &= np_values(arr.is_valid())
        return pa.array(idx.astype(np.int64), mask=~valid)

    @classmethod
    def parse(cls, arg):
        return cls([float(x) for x in arg.split(",") if x.strip()])

    def spec(self):
        return "edges:" + ",".join(repr(float(x)) for x in self.edges)

    def describe(self):
        return {"rule": self.source or "edges", "edges": [float(x) for x in self.edges]}

    def decode(self, keys):
        b = np_values(keys, nan_nulls=True).astype(np.float64)
        e = np.concatenate([[-math.inf], self.edges, [math.inf]])
        ok = ~np.isnan(b)
        bi = np.where(ok, b, 0).astype(np.int64) + 1
        lo, hi = e[bi], e[bi + 1]
        last = len(self.edges) - 2
        labels = [
            None if not k else (f"[{l:.6g}, {h:.6g}]" if i - 1 == last else f"[{l:.6g}, {h:.6g})")
            for k, i, l, h in zip(ok, bi, lo, hi)
        ]
        return {"": pa.array(labels, pa.string()), "lo": pa.array(np.where(ok, lo, np.nan), mask=~ok),
                "hi": pa.array(np.where(ok, hi, np.nan), mask=~ok)}
