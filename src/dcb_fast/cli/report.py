"""``dcb report``: the HTML report of a saved result directory; and the ``--report PATH`` option
that other commands share."""

from __future__ import annotations

import os

import click

from .options import Command, handle_errors, note

report_option = click.option(
    "--report", "report_path", default=None, metavar="PATH",
    help="Also write a self-contained HTML report (no scripts, no network) to PATH.")


def check_report_path(path: str | None) -> None:
    """Fail before a long run when the report could not be written."""
    if path is None:
        return
    from ..errors import DcbError
    from ..io.writers import prepare_dir

    if os.path.isdir(path):
        raise DcbError(f"report path '{path}' is a directory; give a file name such as {path.rstrip('/')}/report.html")
    prepare_dir(os.path.dirname(os.path.abspath(path)))


def emit_report(path: str | None, summary: dict, tables=None, quiet: bool = False) -> None:
    """Write the report when ``--report`` was given, and say where it went (stderr).

    ``tables`` may be a function returning them, so that nothing is built without ``--report``
    (a fiber table can hold millions of fibers)."""
    if path is None:
        return
    if callable(tables):
        tables = tables()
    from ..report.html import write_report

    write_report(path, summary, tables)
    note(quiet, f"wrote report {path}")


@click.command("report", cls=Command)
@click.argument("result_dir", metavar="RESULT_DIR")
@click.option("--out", "-o", "out_path", default=None, metavar="PATH",
              help="Where to write the report [default: RESULT_DIR/report.html].")
@click.option("--top", "top_k", type=click.IntRange(min=1, max=10_000), default=50, show_default=True,
              help="Rows in the report's top-k tables (e.g. the heaviest mixed fibers).")
@click.option("--quiet", "-q", is_flag=True, help="No notes on stderr.")
@handle_errors
def report_cmd(result_dir, out_path, top_k, quiet):
    """Build the HTML report of a result directory written with --out (summary.json and the
    tables beside it, such as fibers.parquet).

    \b
    Example:
      dcb audit logs/*.parquet -e lang,domain -a route -o audit/ && dcb report audit/
    """
    from ..report.html import write_report
    from ..report.saved import read_result_dir

    summary, tables = read_result_dir(result_dir)
    base = result_dir if os.path.isdir(result_dir) else os.path.dirname(result_dir) or "."
    path = out_path or os.path.join(base, "report.html")
    check_report_path(path)
    write_report(path, summary, tables, top_k=top_k)
    note(quiet, f"wrote report {path}")
    click.echo(path)
