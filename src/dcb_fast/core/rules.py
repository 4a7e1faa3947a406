"""Fiber rules: how a column's values become fiber keys.

A rule turns one evidence column of a batch into the array whose values are keyed exactly:
``exact`` keeps the values; binning rules map a number to its bin index. Rules are fixed before
counting starts (rules that need the whole input, such as quantile bins, are resolved to fixed
edges by a first pass), so every partial state of one audit applies the same function.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DcbError
from ..io.arrow import np_values


class Rule:
    """A fixed, serializable map from column values to fiber keys."""

    name = "exact"

    def apply(self, arr: pa.Array, column: str) -> pa.Array:
        return arr

    def spec(self) -> str:
        return self.name

    def describe(self) -> dict:
        return {"rule": self.spec()}

    def decode(self, keys: pa.Array) -> dict[str, pa.Array]:
        """Output columns for fiber keys (the values themselves for exact rules)."""
        return {}


class Exact(Rule):
    pass


def exact() -> Rule:
    return Exact()


class Edges(Rule):
    """Bins from sorted edges: ``[e0, e1), ..., [e_{n-2}, e_{n-1}]`` (the last closed).

    Values below the first or above the last edge get bins -1 and ``n-1``: they form fibers of
    their own in an audit and are never matched to a calibration bin they do not fall in.

    >>> Edges([0.0, 1.0, 2.0]).apply(pa.array([0.0, 0.5, 1.0, 2.0, 3.0, -1.0]), "x").to_pylist()
    [0, 0, 1, 1, 2, -1]
    """

    name = "edges"

    def __init__(self, edges, source: str | None = None):
        e = np.unique(np.asarray(edges, dtype=np.float64))
        if len(e) == 1 and source is not None:  # quantiles of a constant column: one closed bin [v, v]
            e = np.array([e[0], e[0]])
        if len(e) < 2 or not np.all(np.isfinite(e)):
            raise DcbError(f"edges rule needs at least two distinct finite edges, got {list(edges)}")
        self.edges = e
        self.source = source  # e.g. "quantile:10" when the edges were computed from the data

    def apply(self, arr, column):
        vals = _numeric(arr, column, self.spec())
        idx = np.searchsorted(self.edges, vals, side="right") - 1
        last = len(self.edges) - 1
        idx[vals == self.edges[-1]] = last - 1
        valid = ~np.isnan(vals)
        if arr.null_count:
            valid &= np_values(arr.is_valid())
        return pa.array(idx.astype(np.int64), mask=~valid)

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


class Width(Rule):
    """Bins of fixed width: bin ``floor((v - origin) / width)``."""

    name = "width"

    def __init__(self, width: float, origin: float = 0.0):
        if not (width > 0 and math.isfinite(width)) or not math.isfinite(origin):
            raise DcbError(f"width rule needs a positive finite width and a finite origin, got {width}, {origin}")
        self.width = float(width)
        self.origin = float(origin)

    def apply(self, arr, column):
        vals = _numeric(arr, column, self.spec())
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


class Quantile(Rule):
    """Bins at the ``n_bins`` quantiles of the column over the whole input. Resolved to
    :class:`Edges` by a pass over the column before counting (exact, see ``quantiles``)."""

    name = "quantile"

    def __init__(self, n_bins: int):
        if n_bins < 1:
            raise DcbError(f"quantile rule needs at least 1 bin, got {n_bins}")
        self.n_bins = int(n_bins)

    def apply(self, arr, column):  # pragma: no cover - resolved before counting
        raise DcbError(f"rule {self.spec()} for '{column}' must be resolved to edges before counting")

    def spec(self):
        return f"quantile:{self.n_bins}"

    def describe(self):
        return {"rule": self.spec()}


class Window(Rule):
    """Overlapping fibers: row i's fiber is every row j with |v_i - v_j| <= tol. The tolerance
    is a number, or the mean (``mae``) or 80th percentile (``q80``) of |error column|. A
    function of the value by definition: tied rows share their window, whatever their order."""

    name = "window"

    def __init__(self, tol: float | None = None, stat: str | None = None, column: str | None = None):
        if tol is not None and not (tol >= 0 and math.isfinite(tol)):
            raise DcbError(f"window tolerance must be a finite number >= 0, got {tol}")
        self.tol, self.stat, self.column = tol, stat, column

    def spec(self):
        return f"window:{self.stat}:{self.column}" if self.stat else f"window:{self.tol!r}"

    def describe(self):
        d = {"rule": self.spec(), "tolerance": self.tol}
        if self.stat:
            d["tolerance_from"] = f"{'mean' if self.stat == 'mae' else '80th percentile'} of |{self.column}|"
        return d


class Knn(Rule):
    """Overlapping fibers: row i's fiber is the ``k`` rows around its position in sorted order,
    starting at ``pos - k//2`` and shifted at the ends so that it always holds ``k`` rows.

    Ties (SPEC section 2): a window is a function of the value. A tie group at sorted positions
    ``[a, b)`` uses ``pos = (a + b - 1) // 2``, and the window is widened to whole tie groups
    at both edges (so it may hold more than ``k`` rows); nothing orders tied rows.

    >>> from dcb_fast import audit
    >>> t = pa.table({"v": [1, 1, 1, 2, 2, 3], "d": ["a", "b", "a", "b", "b", "b"]})
    >>> audit(t, ["v"], "d", rules={"v": "knn:2"}).metrics["certifiable_fraction"]  # only the 3
    0.16666666666666666
    """

    name = "knn"

    def __init__(self, k: int):
        if k < 1:
            raise DcbError(f"knn rule needs k >= 1, got {k}")
        self.k = int(k)

    def spec(self):
        return f"knn:{self.k}"

    def describe(self):
        return {"rule": self.spec(), "k": self.k}


OVERLAPPING = ("window", "knn")


def _numeric(arr: pa.Array, column: str, rule: str) -> np.ndarray:
    t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(t)
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)):
        raise DcbError(f"rule {rule} needs a numeric column, but '{column}' is {t}; use the exact rule for it")
    return np_values(pc.cast(arr, pa.float64()), nan_nulls=True)


def parse_rule(text: str) -> Rule:
    """Parse a rule spec: ``exact``, ``quantile:N``, ``edges:e1,e2,...``, ``width:W[,origin]``,
    ``window:TOL``, ``window:mae:COL``, ``window:q80:COL``, ``knn:K``.

    >>> parse_rule("width:0.5").spec()
    'width:0.5,0.0'
    """
    text = text.strip()
    name, _, arg = text.partition(":")
    try:
        if name == "exact" and not arg:
            return Exact()
        if name == "quantile":
            return Quantile(int(arg))
        if name == "knn":
            return Knn(int(arg))
        if name == "window":
            stat, _, col = arg.partition(":")
            if stat in ("mae", "q80") and col:
                return Window(stat=stat, column=col)
            return Window(tol=float(arg))
        if name == "edges":
            return Edges([float(x) for x in arg.split(",") if x.strip()])
        if name == "width":
            parts = [float(x) for x in arg.split(",")]
            if len(parts) not in (1, 2):
                raise ValueError
            return Width(*parts)
    except ValueError:
        pass
    raise DcbError(f"unknown fiber rule '{text}'; use exact, quantile:N, edges:E1,E2,..., width:W[,ORIGIN], "
                   "window:TOL, window:mae:COL, window:q80:COL or knn:K")
