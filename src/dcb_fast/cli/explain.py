"""``dcb explain``: which column separates the actions of the heaviest mixed fibers."""

from __future__ import annotations

import json

import click

from .engine import engine_options, warnings_as_notes
from .options import Command, columns, handle_errors, list_option, note, parse_rules, reading
from .report import check_report_path, emit_report, report_option


@click.command("explain", cls=Command)
@click.argument("source", nargs=-1, required=True, metavar="SOURCE...")
@columns
@click.option("--id", "id_col", default=None, metavar="COL", help="Id column for the example rows [default: row positions].")
@list_option("--probes", "-p", default=None, metavar="COLS",
             help="Columns to try, comma-separated or repeated [default: every other column of the input].")
@click.option("--top", "top_k", type=click.IntRange(min=1), default=10, show_default=True,
              help="Heaviest mixed fibers to explain.")
@click.option("--examples", type=click.IntRange(min=0), default=3, show_default=True,
              help="Example rows per action of each fiber.")
@click.option("--min-support", "-s", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--out", "-o", "out_dir", default=None, metavar="DIR",
              help="Write summary.json and explain_columns.parquet here.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@report_option
@engine_options
@reading
@handle_errors
def explain_cmd(source, evidence, action, weight, nulls, rules, id_col, probes, top_k, examples, min_support, out_dir,
                fmt, report_path, scheduler, checkpoint, batch_rows, threads, quiet):
    """Why is this fiber mixed? For the heaviest mixed fibers of SOURCE, name the column that
    best separates each fiber's actions (information gain), with its split and example rows.

    \b
    Example:
      dcb explain logs/*.parquet -e lang,domain -a route -w requests --id request_id --top 5
    """
    from ..methods.explain import explain
    from ..report.text import render_explain

    check_report_path(report_path)
    if out_dir is not None:
        from ..io.result_dir import check_out_dir

        check_out_dir(out_dir)
    with warnings_as_notes(quiet):
        result = explain(list(source), evidence=evidence, action=action, weight=weight, id=id_col, probes=probes,
                         top_k=top_k, examples=examples, min_support=min_support, nulls=nulls,
                         rules=parse_rules(rules), batch_rows=batch_rows, threads=threads,
                         progress=None if not quiet else False, scheduler=scheduler, checkpoint=checkpoint)
    if out_dir is not None:
        paths = result.write(out_dir)
        note(quiet, "wrote " + ", ".join(paths.values()))
    emit_report(report_path, result.summary, None, quiet)
    click.echo(json.dumps(result.summary, indent=2) if fmt == "json" else render_explain(result.summary))
