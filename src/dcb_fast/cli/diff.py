"""``dcb diff``: drift between two periods (two certificates or two audit result directories)."""

from __future__ import annotations

import json

import click

from .options import Command, fail_under, handle_errors, note
from .report import check_report_path, emit_report, report_option


@click.command("diff", cls=Command)
@click.argument("old", metavar="OLD")
@click.argument("new", metavar="NEW")
@click.option("--top", "top_k", type=click.IntRange(min=0), default=20, show_default=True,
              help="Heaviest fibers of each change listed in the summary (all go to changes.parquet).")
@click.option("--out", "-o", "out_dir", default=None, metavar="DIR", help="Write summary.json and changes.parquet here.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@report_option
@fail_under("diff")
@click.option("--quiet", "-q", is_flag=True, help="No notes on stderr.")
@handle_errors
def diff_cmd(old, new, top_k, out_dir, fmt, report_path, gates, quiet):
    """Compare two periods: OLD and NEW are certificates (`dcb certify -o`) or audit result
    directories (`dcb audit -o`), on the same evidence columns and fiber rules.

    Lists fibers that lost or gained certification, certified actions that changed, keys new in
    NEW (traffic no OLD fiber covers) and gone from it, each with its weight, and the shift of
    the certified fraction.

    \b
    Example:
      dcb diff audit-2026-10/ audit-2026-11/ -o drift/ --fail-under retained_certified=0.95
    """
    from ..methods.diff import diff
    from ..report.text import render_diff
    from .gates import enforce

    check_report_path(report_path)
    if out_dir is not None:
        from ..io.result_dir import check_out_dir

        check_out_dir(out_dir)
    result = diff(old, new, top_k=top_k)
    if out_dir is not None:
        paths = result.write(out_dir)
        note(quiet, "wrote " + ", ".join(paths.values()))
    emit_report(report_path, result.summary, lambda: {"changes": result.changes}, quiet)
    for w in result.summary["warnings"]:
        note(quiet, f"warning: {w}")
    click.echo(json.dumps(result.summary, indent=2) if fmt == "json" else render_diff(result.summary))
    enforce(result.summary, gates, quiet)
