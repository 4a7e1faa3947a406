"""The fiber-rule protocol and its registry.

A rule turns one evidence column of a batch into the array whose values are keyed exactly.
Every rule is a :class:`Rule` subclass registered under its ``name`` with :func:`register_rule`;
:func:`parse_rule` finds it from a spec such as ``width:0.5``. What the methods ask of a rule
is in its attributes, never in its name:

- ``numeric``: the column must be numeric;
- ``overlapping``: each row's fiber is a window around the row's value (a fiber state cannot
  count it: the audit runs such rules on their own path, see ``methods.windows``);
- ``resolved``: the rule is a fixed map; when False, :meth:`Rule.resolve` computes it from the
  whole input first (quantile bins, a tolerance from an error column), so every partial state of
  one audit applies the same function.
"""

from __future__ import annotations

from typing import Callable, Iterator

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ...errors import DcbError
from ...io.arrow import np_values

RULES: dict[str, type] = {}

# what reads a column over the whole input, once per call: ``values("score")`` -> arrays
Values = Callable[[str], Iterator[pa.Array]]


class Rule:
    """A fixed, serializable map from column values to fiber keys (the identity here)."""

    name = "exact"
    syntax = "exact"  # the spec form(s), for the unknown-rule message
    listed = 99  # where the unknown-rule message lists it
    numeric = False
    overlapping = False
    resolved = True

    @classmethod
    def parse(cls, arg: str) -> "Rule":
        """The rule of spec ``name:arg`` (raise ValueError when ``arg`` does not fit)."""
        if arg:
            raise ValueError(arg)
        return cls()

    def apply(self, arr: pa.Array, column: str) -> pa.Array:
        return arr

    def resolve(self, values: Values, column: str) -> "Rule":
        """The fixed rule to count with (``values(col)`` reads a column over the whole input)."""
        return self

    def spec(self) -> str:
        return self.name

    def describe(self) -> dict:
        return {"rule": self.spec()}

    def decode(self, keys: pa.Array) -> dict[str, pa.Array]:
        """Output columns for fiber keys (none for exact rules: the keys are the values)."""
        return {}


def register_rule(cls: type) -> type:
    """Class decorator: make ``cls`` (a :class:`Rule` subclass) known to :func:`parse_rule`."""
    if not (isinstance(cls, type) and issubclass(cls, Rule)):
        raise TypeError(f"{cls!r} is not a Rule subclass")
    RULES[cls.name] = cls
    return cls


def parse_rule(text: str) -> Rule:
    """Parse a rule spec: ``exact``, ``quantile:N``, ``edges:e1,e2,...``, ``width:W[,origin]``,
    ``window:TOL``, ``window:mae:COL``, ``window:q80:COL``, ``knn:K`` (see :data:`RULES`).

    >>> parse_rule("width:0.5").spec()
    'width:0.5,0.0'
    """
    text = text.strip()
    name, _, arg = text.partition(":")
    cls = RULES.get(name)
    if cls is not None:
        try:
            return cls.parse(arg)
        except ValueError:
            pass
    forms = [c.syntax for c in sorted(RULES.values(), key=lambda c: c.listed) if c.name != "exact"]
    raise DcbError(f"unknown fiber rule '{text}'; use exact, {', '.join(forms[:-1])} or {forms[-1]}")


def refuse_overlapping(rules: dict, what: str = "a fiber state") -> None:
    """A one-line error when one of ``rules`` ({column: Rule}) makes overlapping fibers."""
    for col, rule in rules.items():
        if rule.overlapping:
            raise DcbError(f"rule {rule.spec()} for '{col}' makes overlapping fibers, which {what} cannot "
                           "count; audit it alone on its column (dcb audit runs windows on their own path) "
                           "or use a binned rule (quantile:N, width:W)")


def numeric_values(arr: pa.Array, column: str, rule: str) -> np.ndarray:
    """The column as float64 (NaN for nulls), or a one-line error naming it when not numeric."""
    t = arr.type.value_type if pa.types.is_dictionary(arr.type) else arr.type
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(t)
    if not (pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)):
        raise DcbError(f"rule {rule} needs a numeric column, but '{column}' is {t}; use the exact rule for it")
    return np_values(pc.cast(arr, pa.float64()), nan_nulls=True)
