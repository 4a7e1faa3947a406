"""``--fail-under METRIC=VALUE[,...]``: quality gates for CI and deployment pipelines.

A gate compares a figure of the command's summary (a key of ``metrics``; a dotted path reaches
into a nested figure, e.g. ``false_decisions.certificate``) with a floor. When any figure is
below its floor the command still writes all its outputs and prints its result, then says on
stderr which figure failed and exits with :data:`GATE_EXIT` (3): distinct from an error (1) and
from a usage error (2), so a pipeline can tell "the run worked and the figure is too low" from
"the run failed".
"""

from __future__ import annotations

import math
import sys

import click

GATE_EXIT = 3

# figures each command can gate on, checked when the option is parsed (a typo fails at once,
# before a long run, with exit code 2)
GATEABLE = {
    "audit": ("certifiable_fraction", "ambiguous_fraction", "thin_fraction", "mixed_fiber_fraction",
              "decision_risk", "n_rows", "n_fibers", "total_weight", "certified_fraction_lower",
              "certified_fraction_upper"),
    "coverage": ("benchmark_coverage", "certified_coverage", "ambiguous_coverage", "thin_coverage",
                 "unseen_fraction", "n_rows", "n_fibers", "total_weight", "false_decisions.certificate",
                 "false_decisions.fiber_majority", "false_decisions.global_majority", "error_among_certified",
                 "acquisitions"),
    "diff": ("certified_old", "certified_new", "certified_shift", "old_certificate_coverage", "covered_new",
             "new_key_weight", "gone_key_weight", "lost_certified_weight", "gained_certified_weight",
             "changed_action_weight", "retained_certified"),
}


def parse_gates(command: str):
    """A click callback: ``"a=0.5,b=0.1"`` (the option may repeat) -> ``[("a", 0.5), ("b", 0.1)]``."""
    known = GATEABLE[command]

    def callback(ctx, param, values):
        out = []
        for value in values or ():
            for item in value.split(","):
                name, sep, floor = (s.strip() for s in item.partition("="))
                if not sep or not name or not floor:
                    raise click.BadParameter(f"'{item.strip()}' is not METRIC=VALUE (e.g. certifiable_fraction=0.8)")
                if name not in known:
                    raise click.BadParameter(f"'{name}' is not a figure of dcb {command}; use one of: "
                                             + ", ".join(known))
                try:
                    f = float(floor)
                except ValueError:
                    raise click.BadParameter(f"floor '{floor}' of {name} is not a number") from None
                if not math.isfinite(f):
                    raise click.BadParameter(f"floor '{floor}' of {name} is not a finite number")
                out.append((name, f))
        return out

    return callback


def fail_under_option(command: str):
    """The ``--fail-under`` option of ``command`` (a key of :data:`GATEABLE`)."""
    return click.option(
        "--fail-under", "gates", multiple=True, callback=parse_gates(command), metavar="METRIC=VALUE[,...]",
        help=f"Exit with code {GATE_EXIT} (after writing every output) when a figure of the summary is below "
             "its floor, e.g. certifiable_fraction=0.8. Repeatable.")


def figure(metrics: dict, name: str):
    """The value of ``name`` (dotted for nested figures) in ``metrics``, or None."""
    v = metrics
    for part in name.split("."):
        if not isinstance(v, dict) or part not in v:
            return None
        v = v[part]
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return None
    return float(v)


def failed_gates(metrics: dict, gates) -> list[str]:
    """One phrase per gate whose figure is below its floor (or missing, which also fails: a gate
    that cannot be checked must not pass).

    >>> failed_gates({"certifiable_fraction": 0.5}, [("certifiable_fraction", 0.6)])
    ['certifiable_fraction = 0.5 is below 0.6']
    >>> failed_gates({"certifiable_fraction": 0.6}, [("certifiable_fraction", 0.6)])
    []
    """
    out = []
    for name, floor in gates:
        v = figure(metrics, name)
        if v is None or math.isnan(v):
            out.append(f"{name} is not in this summary")
        elif v < floor:
            out.append(f"{name} = {v:.6g} is below {floor:g}")
    return out


def enforce(summary: dict, gates, quiet: bool = False) -> None:
    """After the command's output: exit :data:`GATE_EXIT` with a one-line reason on stderr when a
    gate fails (the reason is printed even with ``--quiet``: it is the command's verdict)."""
    if not gates:
        return
    failed = failed_gates(summary.get("metrics", {}), gates)
    if failed:
        click.echo("fail-under: " + "; ".join(failed), err=True)
        sys.stdout.flush()
        sys.exit(GATE_EXIT)
