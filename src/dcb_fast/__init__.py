"""dcb_fast: is the action you take from a benchmark determined by the evidence it records?

Rows are grouped by identical evidence ("evidence fibers"); a fiber carrying more than one action
is mixed, and for its rows the benchmark cannot tell which action is right. The public API:

- :func:`audit` streams a table or files and returns the fiber metrics and the per-fiber table;
- :class:`FiberState` is the mergeable partial state behind it (per batch, file, thread or
  cluster task).

Importing the package is cheap: the heavy modules load on first use.
"""

from __future__ import annotations

__version__ = "0.1.0"

_LAZY = {
    "audit": ("dcb_fast.audit", "audit"),
    "AuditResult": ("dcb_fast.audit", "AuditResult"),
    "FiberState": ("dcb_fast.fibers", "FiberState"),
    "DcbError": ("dcb_fast.errors", "DcbError"),
    "parse_rule": ("dcb_fast.rules", "parse_rule"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'dcb_fast' has no attribute {name!r}")


def __dir__():
    return __all__
