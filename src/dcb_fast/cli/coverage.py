"""``dcb coverage``: how much production traffic a certificate covers and determines."""

from __future__ import annotations

import json

import click

from .engine import engine_options, note_run, warnings_as_notes
from .options import Command, fail_under, handle_errors, note, reading
from .report import check_report_path, emit_report, report_option


@click.command("coverage", cls=Command)
@click.argument("certificate", metavar="CERT")
@click.argument("source", nargs=-1, required=True, metavar="PRODUCTION...")
@click.option("--weight", "-w", default=None, metavar="COL", help="Traffic each production row stands for.")
@click.option("--action", "-a", default=None, metavar="COL",
              help="The true action, when the log has it: adds false decisions and acquisitions.")
@click.option("--by", default=None, metavar="COL", help="Break the coverage figures down by this column (e.g. day).")
@click.option("--top", "top_k", type=click.IntRange(min=0), default=20, show_default=True,
              help="Uncovered production fibers listed in the summary (all go to uncovered_fibers.parquet).")
@click.option("--out", "-o", "out_dir", default=None, metavar="DIR",
              help="Write summary.json, uncovered_fibers.parquet (and coverage_by.parquet) here.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@reading
@report_option
@fail_under("coverage")
@engine_options
@handle_errors
def coverage_cmd(certificate, source, weight, action, by, top_k, out_dir, fmt, batch_rows, threads, quiet, report_path, gates,
                 scheduler, checkpoint):
    """Stream PRODUCTION logs against a certificate CERT (from `dcb certify`): how much
    traffic the benchmark covers, and how much of it has its action determined.

    \b
    Example:
      dcb coverage cert.arrow logs/2026-11-*.parquet -w requests --by day -o coverage/
    """
    from ..methods.coverage import coverage
    from ..report.text import render_coverage
    from .gates import enforce

    check_report_path(report_path)
    if out_dir is not None:
        from ..io.result_dir import check_out_dir

        check_out_dir(out_dir)
    with warnings_as_notes(quiet):
        result = coverage(certificate, list(source), weight=weight, action=action, by=by, top_k=top_k,
                          batch_rows=batch_rows, threads=threads, progress=None if not quiet else False,
                          scheduler=scheduler, checkpoint=checkpoint)
    note_run(quiet, result.run_info)
    if out_dir is not None:
        paths = result.write(out_dir)
        note(quiet, "wrote " + ", ".join(paths.values()))
    emit_report(report_path, result.summary, lambda: {"uncovered": result.uncovered}, quiet)
    click.echo(json.dumps(result.summary, indent=2) if fmt == "json" else render_coverage(result.summary))
    enforce(result.summary, gates, quiet)
