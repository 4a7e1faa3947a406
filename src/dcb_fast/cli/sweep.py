"""``dcb sweep``: how the audit of a numeric evidence column depends on the fiber rule."""

from __future__ import annotations

import json

import click

from .engine import engine_options, note_run, warnings_as_notes
from .options import Command, column_type_option, handle_errors, note
from .report import check_report_path, emit_report, report_option


@click.command("sweep", cls=Command)
@click.argument("source", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--evidence", "-e", required=True, metavar="COL", help="The numeric evidence column (a prediction, a score).")
@click.option("--action", "-a", required=True, metavar="COL", help="The action (decision) column.")
@click.option("--error", default=None, metavar="COL",
              help="Error column: adds windows at the mean and 80th percentile of |error| (window:mae, window:q80).")
@click.option("--weight", "-w", default=None, metavar="COL", help="Weight column.")
@click.option("--group-by", default=None, metavar="COL", help="One sweep per value of this column (e.g. model).")
@click.option("--per-file", is_flag=True, help="One sweep per input file (a directory of per-model prediction files).")
@click.option("--rule", "rules", multiple=True, metavar="RULE",
              help="Rules to run instead of the standard set (quantile:5/10/20/40, knn:25/50/100). Repeatable.")
@click.option("--min-support", "-s", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--thin", type=click.Choice(["ambiguous", "skip"]), default="ambiguous", show_default=True)
@click.option("--out", "-o", "out_dir", default=None, metavar="DIR", help="Write summary.json and sweep.parquet here.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No notes on stderr.")
@report_option
@column_type_option
@engine_options
@handle_errors
def sweep_cmd(source, evidence, action, error, weight, group_by, per_file, rules, min_support, thin, out_dir, fmt,
              quiet, report_path, scheduler, checkpoint):
    """Audit one numeric EVIDENCE column under the paper's standard fiber rules (quantile bins,
    kNN and tolerance windows), per model, and show how much the answer depends on the rule.

    \b
    Example:
      dcb sweep predictions.parquet -e pred -a stable --error error --group-by model
    """
    from ..report.text import render_sweep
    from ..methods.sweep import sweep

    check_report_path(report_path)
    if out_dir is not None:
        from ..io.result_dir import check_out_dir

        check_out_dir(out_dir)
    with warnings_as_notes(quiet):
        result = sweep(list(source), evidence, action, error=error, weight=weight, group_by=group_by,
                       per_file=per_file, rules=list(rules) or None, min_support=min_support, thin=thin,
                       scheduler=scheduler, checkpoint=checkpoint)
    note_run(quiet, result.run_info)
    if out_dir is not None:
        paths = result.write(out_dir)
        note(quiet, "wrote " + ", ".join(paths.values()))
    emit_report(report_path, result.summary, {"sweep": result.table}, quiet)
    click.echo(json.dumps(result.summary, indent=2) if fmt == "json" else render_sweep(result.summary))
