"""``quantile:N``: bins at the column's quantiles over the whole input."""

from __future__ import annotations

from ...errors import DcbError
from ..quantiles import quantile_edges
from .base import Rule, register_rule
from .edges import Edges


@register_rule
class Quantile(Rule):
    """Bins at the ``n_bins`` quantiles of the column over the whole input. Resolved to
    :class:`Edges` by a pass over the column before counting (exact, see ``quantiles``)."""

    name = "quantile"
    syntax = "quantile:N"
    listed = 1
    numeric = True
    resolved = False

    def __init__(self, n_bins: int):
        if n_bins < 1:
            raise DcbError(f"quantile rule needs at least 1 bin, got {n_bins}")
        self.n_bins = int(n_bins)

    @classmethod
    def parse(cls, arg):
        return cls(int(arg))

    def resolve(self, values, column):
        """Fixed edges at the exact quantiles of ``column`` over the whole input."""
        return Edges(quantile_edges(lambda: values(column), self.n_bins), source=self.spec())

    def apply(self, arr, column):  # pragma: no cover - resolved before counting
        raise DcbError(f"rule {self.spec()} for '{column}' must be resolved to edges before counting")

    def spec(self):
        return f"quantile:{self.n_bins}"

    def describe(self):
        return {"rule": self.spec()}
