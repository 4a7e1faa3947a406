"""``window:TOL``: overlapping fibers, every value within a tolerance of the row's."""

from __future__ import annotations

import math

import pyarrow as pa
import pyarrow.compute as pc

from ...errors import DcbError
from ...kernels.windows import tolerance_bounds
from ..quantiles import exact_quantiles, mean_abs
from .base import Rule, refuse_overlapping, register_rule


@register_rule
class Window(Rule):
    """Overlapping fibers: row i's fiber is every row j with |v_i - v_j| <= tol. The tolerance
    is a number, or the mean (``mae``) or 80th percentile (``q80``) of |error column|. A
    function of the value by definition: tied rows share their window, whatever their order."""

    name = "window"
    syntax = "window:TOL, window:mae:COL, window:q80:COL"
    listed = 4
    numeric = True
    overlapping = True

    def __init__(self, tol: float | None = None, stat: str | None = None, column: str | None = None):
        if tol is not None and not (tol >= 0 and math.isfinite(tol)):
            raise DcbError(f"window tolerance must be a finite number >= 0, got {tol}")
        self.tol, self.stat, self.column = tol, stat, column

    @property
    def resolved(self) -> bool:
        return self.tol is not None

    @classmethod
    def parse(cls, arg):
        stat, _, col = arg.partition(":")
        if stat in ("mae", "q80") and col:
            return cls(stat=stat, column=col)
        return cls(tol=float(arg))

    def resolve(self, values, column):
        """A tolerance from an error column gets computed: the mean (``mae``) or the 80th
        percentile (``q80``) of |error| over the whole input, exactly."""
        if self.tol is not None:
            return self
        read = lambda: values(self.column)  # noqa: E731
        if self.stat == "mae":
            tol = mean_abs(read)
        else:
            tol = float(exact_quantiles(lambda: (pc.abs(pc.cast(a, pa.float64())) for a in read()), [0.8])[0])
        return Window(tol=tol, stat=self.stat, column=self.column)

    def apply(self, arr, column):
        refuse_overlapping({column: self})

    def bounds(self, values, lo, hi) -> None:
        """Each sorted value's window ``[lo, hi)``: the values within the tolerance."""
        tolerance_bounds(values, float(self.tol), lo, hi)

    def spec(self):
        return f"window:{self.stat}:{self.column}" if self.stat else f"window:{self.tol!r}"

    def describe(self):
        d = {"rule": self.spec(), "tolerance": self.tol}
        if self.stat:
            d["tolerance_from"] = f"{'mean' if self.stat == 'mae' else '80th percentile'} of |{self.column}|"
        return d
