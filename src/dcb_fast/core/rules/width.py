"""``width:W[,ORIGIN]``: bins of a fixed width."""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from ...errors import DcbError
from ...io.arrow import np_values
from .base import Rule, numeric_values, register_rule


@register_rule
class Width(Rule):
    """Bins of fixed width: bin ``floor((v - origin) / width)``."""

    name = "width"
    syntax = "width:W[,ORIGIN]"
    listed = 3
    numeric = True

    def __init__(self, width: float, origin: float = 0.0):
        if not (width > 0 and math.isfinite(width)) or not math.isfinite(origin):
            raise DcbError(f"width rule needs a positive finite width and a finite origin, got {width}, {origin}")
        self.width = float(width)
        self.origin = float(origin)

    @classmethod
    def parse(cls, arg):
        parts = [float(x) for x in arg.split(",")]
        if len(parts) not in (1, 2):
            raise ValueError(arg)
        return cls(*parts)

    def apply(self, arr, column):
        vals = numeric_values(arr, column, self.spec())
        valid = ~np.isnan(vals)
        if arr.null_count:
            valid &= np_values(arr.is_valid())
        b = np.floor((np.where(valid, vals, self.origin) - self.origin) / self.width)
        return pa.array(b.astype(np.int64), mask=~valid)

    def spec(self):
        return f"width:{self.width!r},{self.origin!r}"

    def describe(self):
        return {"rule": "width", "width": self.width, "origin": self.origin}

    def decode(self, keys):
        b = np_values(keys, nan_nulls=True).astype(np.float64)
        lo = self.origin + b * self.width
        hi = lo + self.width
        labels = [None if np.isnan(x) else f"[{x:.6g}, {y:.6g})" for x, y in zip(lo, hi)]
        ok = ~np.isnan(b)
        return {"": pa.array(labels, pa.string()), "lo": pa.array(lo, mask=~ok), "hi": pa.array(hi, mask=~ok)}
