"""The ``dcb`` command line: a thin shell over the public API (``dcb --help``)."""

from __future__ import annotations

import click

from .._version import __version__
from .acquire import acquire_cmd
from .audit import audit_cmd
from .bench import bench_cmd
from .certify import certify_cmd, show_cmd
from .channels import channels_cmd
from .complete import complete_cmd
from .coverage import coverage_cmd
from .demo import demo_cmd
from .diff import diff_cmd
from .explain import explain_cmd
from .replay import replay_cmd
from .report import report_cmd
from .sweep import sweep_cmd
from .warmup import warmup_cmd


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="dcb")
def main():
    """dcb: does your benchmark's evidence determine the action you take from it?

    Groups rows by identical evidence (fibers), finds the fibers that carry more than one
    action, and reports how much traffic is certified, ambiguous or thin.
    """


main.add_command(audit_cmd)
main.add_command(demo_cmd)
main.add_command(channels_cmd)
main.add_command(certify_cmd)
main.add_command(show_cmd)
main.add_command(coverage_cmd)
main.add_command(diff_cmd)
main.add_command(explain_cmd)
main.add_command(sweep_cmd)
main.add_command(complete_cmd)
main.add_command(replay_cmd)
main.add_command(acquire_cmd)
main.add_command(report_cmd)
main.add_command(warmup_cmd)
main.add_command(bench_cmd)


def run() -> None:
    """The ``dcb`` console script: :func:`main`, then an exit that skips the interpreter's teardown.

    Tearing down a process that has loaded compiled kernels (freeing numba's and LLVM's objects
    one by one) took 0.3-0.45 s on our machines, a fifth of a short audit's wall time, and does
    nothing a finished command needs: outputs are already written (atomically, before the command
    returns), so the exit handlers run and the streams are flushed, then the process ends.
    """
    import atexit
    import os
    import sys

    try:
        main.main(prog_name="dcb")
        code = 0
    except SystemExit as stop:
        code = stop.code
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    atexit._run_exitfuncs()  # what a normal exit would run (e.g. a Dask client's close)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`dcb ... | head`): nothing left to flush
            pass
    os._exit(code)
