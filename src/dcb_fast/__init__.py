"""dcb_fast: is the action you take from a benchmark determined by the evidence it records?

Rows are grouped by identical evidence ("evidence fibers"); a fiber carrying more than one action
is mixed, and for its rows the benchmark cannot tell which action is right. The public API:

- :func:`audit` streams a table or files and returns the fiber metrics and the per-fiber table;
- :class:`FiberState` is the mergeable partial state behind it (per batch, file, thread or
  cluster task).

Importing the package is cheap: the heavy modules load on first use.
"""

from __future__ import annotations

from ._version import __version__

_LAZY = {
    "audit": ("dcb_fast.methods.audit", "audit"),
    "AuditResult": ("dcb_fast.methods.audit", "AuditResult"),
    "FiberState": ("dcb_fast.fibers.state", "FiberState"),
    "certify": ("dcb_fast.methods.certify", "certify"),
    "Certificate": ("dcb_fast.methods.certify", "Certificate"),
    "coverage": ("dcb_fast.methods.coverage", "coverage"),
    "sweep": ("dcb_fast.methods.sweep", "sweep"),
    "complete": ("dcb_fast.methods.complete", "complete"),
    "replay": ("dcb_fast.methods.replay", "replay"),
    "acquisition_replay": ("dcb_fast.methods.acquisition", "acquisition_replay"),
    "AcquisitionResult": ("dcb_fast.methods.acquisition", "AcquisitionResult"),
    "leaderboard_replay": ("dcb_fast.methods.leaderboard", "leaderboard_replay"),
    "complete_groups": ("dcb_fast.methods.complete", "complete_groups"),
    "CoverageResult": ("dcb_fast.methods.coverage", "CoverageResult"),
    "read_result_dir": ("dcb_fast.report.saved", "read_result_dir"),
    "DcbError": ("dcb_fast.errors", "DcbError"),
    "parse_rule": ("dcb_fast.core.rules", "parse_rule"),
    "probe_basis": ("dcb_fast.methods.linear", "probe_basis"),
    "probe_projector": ("dcb_fast.methods.linear", "probe_projector"),
    "deployment_residuals": ("dcb_fast.methods.linear", "deployment_residuals"),
    "certify_candidates": ("dcb_fast.methods.linear", "certify_candidates"),
    "select_linear_probes": ("dcb_fast.methods.linear", "select_linear_probes"),
    "linear_completion_curve": ("dcb_fast.methods.linear", "linear_completion_curve"),
    "conformal_quantile": ("dcb_fast.methods.channels", "conformal_quantile"),
    "split_conformal": ("dcb_fast.methods.channels", "split_conformal"),
    "interval_coverage": ("dcb_fast.methods.channels", "interval_coverage"),
    "transfer_coverage": ("dcb_fast.methods.channels", "transfer_coverage"),
    "response_rank_interval": ("dcb_fast.methods.channels", "response_rank_interval"),
    "mondrian_conformal": ("dcb_fast.methods.channels", "mondrian_conformal"),
    "check_channels": ("dcb_fast.methods.channels", "check_channels"),
    "diff": ("dcb_fast.methods.diff", "diff"),
    "explain": ("dcb_fast.methods.explain", "explain"),
    "minority_upper": ("dcb_fast.core.confidence", "minority_upper"),
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
