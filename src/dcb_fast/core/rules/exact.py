"""``exact``: the values themselves are the fiber keys."""

from __future__ import annotations

from .base import Rule, register_rule


@register_rule
class Exact(Rule):
    """Fibers of identical values (the default rule)."""


def exact() -> Rule:
    return Exact()
