"""Fiber rules: how a column's values become fiber keys (the protocol and registry: ``base``).

One module per rule; the built-in ones are registered by importing them here. A new rule is a
:class:`Rule` subclass in its own module, decorated with :func:`register_rule`, and one import
line below.
"""

from __future__ import annotations

from .base import RULES, Rule, parse_rule, refuse_overlapping, register_rule
from .exact import Exact, exact
from .edges import Edges
from .width import Width
from .quantile import Quantile
from .window import Window
from .knn import Knn

__all__ = ["RULES", "Rule", "parse_rule", "refuse_overlapping", "register_rule", "Exact", "exact", "Edges",
           "Width", "Quantile", "Window", "Knn"]
