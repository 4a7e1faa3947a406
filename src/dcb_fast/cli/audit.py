"""``dcb audit``: the streaming evidence-fiber audit."""

from __future__ import annotations

import json

import click

from .engine import engine_options, note_run, warnings_as_notes
from .options import Command, columns, confidence, fail_under, handle_errors, note, parse_rules, reading
from .report import check_report_path, emit_report, report_option


@click.command("audit", cls=Command)
@click.argument("source", nargs=-1, required=True, metavar="SOURCE...")
@columns
@click.option("--id", "id_col", default=None, metavar="COL", help="Id column for the ambiguous-cases output.")
@click.option("--min-support", "-s", type=click.IntRange(min=1), default=1, show_default=True,
              help="Fibers with fewer rows are thin (not certified).")
@click.option("--thin", type=click.Choice(["ambiguous", "skip"]), default="ambiguous", show_default=True,
              help="Count thin fibers among fibers (ambiguous) or leave them out of fiber counts (skip).")
@click.option("--by", default=None, metavar="COL",
              help="Also the headline figures per value of this column (a day, a tenant), from the same pass.")
@click.option("--out", "-o", "out_dir", default=None, metavar="DIR",
              help="Write summary.json, fibers.parquet and ambiguous_cases.parquet here.")
@click.option("--fiber-format", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--max-fibers", type=click.IntRange(min=1), default=None,
              help="Stop with an error beyond this many distinct fibers [default: 50,000,000 or DCB_FAST_MAX_FIBERS].")
@click.option("--no-cases", is_flag=True, help="With --out, skip the second pass that writes ambiguous_cases.parquet.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="stdout: a readable table, or the summary JSON.")
@confidence
@report_option
@fail_under("audit")
@engine_options
@reading
@handle_errors
def audit_cmd(source, evidence, action, weight, nulls, rules, id_col, min_support, thin, by, out_dir, fiber_format,
              max_fibers, no_cases, fmt, confidence, max_minority, batch_rows, threads, quiet, report_path, gates,
              scheduler, checkpoint):
    """Audit whether ACTION is determined by the EVIDENCE columns of SOURCE.

    SOURCE: Parquet, Arrow IPC/Feather or CSV files, directories or globs.

    \b
    Example:
      dcb audit logs/*.parquet -e lang,domain,score_bin -a route -w requests -o audit/
      dcb audit logs/ -e lang,domain -a route --scheduler local:2 --checkpoint ckpt/
    """
    from ..methods.audit import audit
    from ..report.text import render_audit
    from .gates import enforce

    if out_dir is not None:
        from ..io.result_dir import check_out_dir

        check_out_dir(out_dir)
    check_report_path(report_path)
    with warnings_as_notes(quiet):
        result = audit(list(source), evidence=evidence, action=action, weight=weight, id=id_col,
                       min_support=min_support, thin=thin, nulls=nulls, rules=parse_rules(rules),
                       batch_rows=batch_rows, threads=threads, progress=None if not quiet else False,
                       max_fibers=max_fibers, scheduler=scheduler, checkpoint=checkpoint,
                       confidence=confidence, max_minority=max_minority, by=by)
    note_run(quiet, result.run_info)
    if out_dir is not None:
        paths = result.write(out_dir, fiber_format=fiber_format, cases=not no_cases)
        note(quiet, "wrote " + ", ".join(paths.values()))
    emit_report(report_path, result.summary, lambda: {"fibers": result.fibers}, quiet)
    for w in result.summary["warnings"]:
        note(quiet, f"warning: {w}")
    if fmt == "json":
        click.echo(json.dumps(result.summary, indent=2))
    else:
        click.echo(render_audit(result.summary))
    enforce(result.summary, gates, quiet)
