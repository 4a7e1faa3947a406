"""Checks every method runs before reading: column roles, types, and the fiber rules fixed over
the whole input. Each failure is a one-line :class:`~dcb_fast.errors.DcbError` naming the column
and the fix."""

from __future__ import annotations

import pyarrow as pa

from ..errors import DcbError
from ..io.sources import Source
from .rules import Rule, parse_rule



def check_columns(evidence, action, weight=None, id=None) -> list[str]:
    """Validate the column roles of an audit; return the evidence list."""
    if isinstance(evidence, str):
        evidence = [c.strip() for c in evidence.split(",") if c.strip()]
    evidence = list(evidence or [])
    if not evidence:
        raise DcbError("no evidence columns given; pass --evidence a,b,c")
    dup = sorted({c for c in evidence if evidence.count(c) > 1})
    if dup:
        raise DcbError(f"evidence column '{dup[0]}' is given twice; list each column once")
    if not action:
        raise DcbError("no action column given; pass --action COLUMN")
    if action in evidence:
        raise DcbError(f"action column '{action}' is also an evidence column; the action cannot be its own evidence")
    if weight is not None and (weight in evidence or weight == action):
        raise DcbError(f"weight column '{weight}' is also used as evidence or action; pick a separate weight column")
    if id is not None and id == weight:
        raise DcbError(f"id column '{id}' is also the weight column")
    return evidence


def check_types(src: Source, weight, rules) -> None:
    """Type checks that need only the schemas: a numeric weight, numeric columns for binning rules."""
    def numeric(t):
        t = t.value_type if pa.types.is_dictionary(t) else t
        return pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_null(t)

    if weight and not numeric(src.types[weight]):
        raise DcbError(f"weight column '{weight}' has type {src.types[weight]}; it must be numeric "
                       "(a count or a share of traffic)")
    for col, rule in rules.items():
        if rule.numeric and not numeric(src.types[col]):
            raise DcbError(f"rule {rule.spec()} needs a numeric column, but '{col}' is {src.types[col]}; "
                           "use the exact rule for it")




def resolve_rules(evidence, rules) -> dict[str, Rule]:
    """Rules keyed by column, from Rule objects or specs (``{"score": "width:0.1"}``)."""
    out = {}
    for col, r in (rules or {}).items():
        if col not in evidence:
            raise DcbError(f"a fiber rule is given for '{col}', which is not an evidence column")
        out[col] = r if isinstance(r, Rule) else parse_rule(str(r))
    return out


def column_reader(src: Source):
    """``values(col)``: the arrays of one column over the whole of ``src`` (one pass per call)."""
    return lambda col: (b.column(col) for _, b in src.batches([col]))


def fix_rules(src: Source, rules: dict) -> dict:
    """Every rule fixed before counting: a rule that needs the whole input (quantile bins, a
    tolerance from an error column) computed from ``src`` exactly, the others unchanged."""
    values = column_reader(src)
    return {col: rule if rule.resolved else rule.resolve(values, col) for col, rule in rules.items()}
