"""``dcb complete``: which probe to measure next, the completion curve and its cost."""

from __future__ import annotations

import json

import click

from .engine import engine_options, note_run, warnings_as_notes
from .options import Command, columns, handle_errors, list_option, note, parse_rules, reading
from .report import check_report_path, emit_report, report_option


def _costs(ctx, param, value):
    out = {}
    for item in (value or "").split(","):
        if not item.strip():
            continue
        name, sep, cost = item.partition("=")
        try:
            out[name.strip()] = float(cost)
        except ValueError:
            raise click.BadParameter(f"'{item}' is not PROBE=COST (e.g. probe_gpu=3.5)") from None
        if not sep:
            raise click.BadParameter(f"'{item}' is not PROBE=COST (e.g. probe_gpu=3.5)")
    return out


@click.command("complete", cls=Command)
@click.argument("source", nargs=-1, required=True, metavar="SOURCE...")
@columns
@list_option("--probes", "-p", required=True, metavar="COLS",
             help="Candidate probe columns, comma-separated or repeated (measurements that could join the evidence).")
@click.option("--min-support", "-s", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--thin", type=click.Choice(["ambiguous", "skip"]), default="ambiguous", show_default=True)
@click.option("--target", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Stop once this certifiable fraction is reached; reports the completion cost.")
@click.option("--cost", "costs", callback=_costs, default=None, metavar="P=C,...",
              help="Per-probe costs: pick by certified gain per unit cost; reports the cumulative cost.")
@click.option("--holdout", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Choose probes on the rest and score every step on this held-out fraction of rows.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the held-out split.")
@click.option("--group-by", "group_by", default=None, metavar="MODEL",
              help="A long table of several models: a completion curve per value of this column, and the pooled view.")
@click.option("--by", default=None, metavar="COL",
              help="Also each step's certified / ambiguous / thin shares per value of this column, from the same pass.")
@click.option("--out", "-o", "out_dir", default=None, metavar="DIR",
              help="Write summary.json and completion_curve.parquet (or .csv) here.")
@click.option("--table-format", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@reading
@report_option
@engine_options
@handle_errors
def complete_cmd(source, evidence, action, weight, nulls, rules, probes, min_support, thin, target, costs, holdout,
                 seed, group_by, by, out_dir, table_format, fmt, batch_rows, threads, quiet, report_path, scheduler,
                 checkpoint):
    """Greedy completion: which probe, added to the EVIDENCE, certifies the most traffic; the
    curve as probes are added, and the cost of reaching a target.

    \b
    Example:
      dcb complete log.parquet -e lang,domain -a route -p gpu,latency,locale -s 5 --target 0.8
    """
    from ..methods.complete import complete, complete_groups
    from ..report.text import render_completion, render_completion_groups

    check_report_path(report_path)
    if out_dir is not None:
        from ..io.result_dir import check_out_dir

        check_out_dir(out_dir)
    options = dict(weight=weight, min_support=min_support, target=target, costs=costs, holdout=holdout, seed=seed,
                   thin=thin, nulls=nulls, rules=parse_rules(rules), threads=threads)
    if group_by is not None and by is not None:
        from ..errors import DcbError

        raise DcbError("--by and --group-by together are not supported; slice one model's rows with --by")
    if group_by is not None:
        result = complete_groups(list(source), group_by, evidence, action, probes, batch_rows=batch_rows,
                                 progress=False, scheduler=scheduler, checkpoint=checkpoint, **options)
    else:
        with warnings_as_notes(quiet):
            result = complete(list(source), evidence, action, probes, batch_rows=batch_rows,
                              progress=None if not quiet else False, by=by, scheduler=scheduler,
                              checkpoint=checkpoint, **options)
    note_run(quiet, result.run_info)
    if out_dir is not None:
        paths = result.write(out_dir, table_format)
        note(quiet, "wrote " + ", ".join(paths.values()))
    emit_report(report_path, result.summary, {"curve": result.curve}, quiet)
    click.echo(json.dumps(result.summary, indent=2) if fmt == "json" else (render_completion_groups if group_by is not None
                                                                 else render_completion)(result.summary))
