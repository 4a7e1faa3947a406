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
    "audit": ("dcb_fast.auditing", "audit"),
    "AuditResult": ("dcb_fast.auditing", "AuditResult"),
    "FiberState": ("dcb_fast.fibers", "FiberState"),
    "certify": ("dcb_fast.certificate", "certify"),
    "Certificate": ("dcb_fast.certificate", "Certificate"),
    "coverage": ("dcb_fast.production", "coverage"),
    "sweep": ("dcb_fast.sensitivity", "sweep"),
    "complete": ("dcb_fast.completion", "complete"),
    "replay": ("dcb_fast.replaying", "replay"),
    "acquisition_replay": ("dcb_fast.acquisition", "acquisition_replay"),
    "AcquisitionResult": ("dcb_fast.acquisition", "AcquisitionResult"),
    "leaderboard_replay": ("dcb_fast.leaderboard", "leaderboard_replay"),
    "complete_groups": ("dcb_fast.completion", "complete_groups"),
    "CoverageResult": ("dcb_fast.production", "CoverageResult"),
    "read_result_dir": ("dcb_fast.report.saved", "read_result_dir"),
    "DcbError": ("dcb_fast.errors", "DcbError"),
    "parse_rule": ("dcb_fast.rules", "parse_rule"),
    "probe_basis": ("dcb_fast.linear", "probe_basis"),
    "probe_projector": ("dcb_fast.linear", "probe_projector"),
    "deployment_residuals": ("dcb_fast.linear", "deployment_residuals"),
    "certify_candidates": ("dcb_fast.linear", "certify_candidates"),
    "select_linear_probes": ("dcb_fast.linear", "select_linear_probes"),
    "linear_completion_curve": ("dcb_fast.linear", "linear_completion_curve"),
    "conformal_quantile": ("dcb_fast.channels", "conformal_quantile"),
    "split_conformal": ("dcb_fast.channels", "split_conformal"),
    "interval_coverage": ("dcb_fast.channels", "interval_coverage"),
    "transfer_coverage": ("dcb_fast.channels", "transfer_coverage"),
    "response_rank_interval": ("dcb_fast.channels", "response_rank_interval"),
    "mondrian_conformal": ("dcb_fast.channels", "mondrian_conformal"),
    "check_channels": ("dcb_fast.channels", "check_channels"),
    "diff": ("dcb_fast.drift", "diff"),
    "explain": ("dcb_fast.explaining", "explain"),
    "minority_upper": ("dcb_fast.confidence", "minority_upper"),
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
