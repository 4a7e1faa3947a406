"""``knn:K``: overlapping fibers, the k values around the row's in sorted order."""

from __future__ import annotations


from ...errors import DcbError
from ...kernels.windows import knn_bounds
from .base import Rule, refuse_overlapping, register_rule


@register_rule
class Knn(Rule):
    """Overlapping fibers: row i's fiber is the ``k`` rows around its position in sorted order,
    starting at ``pos - k//2`` and shifted at the ends so that it always holds ``k`` rows.

    Ties (SPEC section 2): a window is a function of the value. A tie group at sorted positions
    ``[a, b)`` uses ``pos = (a + b - 1) // 2``, and the window is widened to whole tie groups
    at both edges (so it may hold more than ``k`` rows); nothing orders tied rows.

    >>> import pyarrow as pa
    >>> from dcb_fast import audit
    >>> t = pa.table({"v": [1, 1, 1, 2, 2, 3], "d": ["a", "b", "a", "b", "b", "b"]})
    >>> audit(t, ["v"], "d", rules={"v": "knn:2"}).metrics["certifiable_fraction"]  # only the 3
    0.16666666666666666
    """

    name = "knn"
    syntax = "knn:K"
    listed = 5
    numeric = True
    overlapping = True

    def __init__(self, k: int):
        if k < 1:
            raise DcbError(f"knn rule needs k >= 1, got {k}")
        self.k = int(k)

    @classmethod
    def parse(cls, arg):
        return cls(int(arg))

    def apply(self, arr, column):
        refuse_overlapping({column: self})

    def bounds(self, values, lo, hi) -> None:
        """Each sorted value's window ``[lo, hi)``: its k neighbours, widened to whole tie groups."""
        knn_bounds(values, self.k, lo, hi)

    def spec(self):
        return f"knn:{self.k}"

    def describe(self):
        return {"rule": self.spec(), "k": self.k}
