"""``dcb replay``: held-out replays of certify-then-acquire, acquisition cost and model choice."""

from __future__ import annotations

import json

import click

from .engine import engine_options, note_run, warnings_as_notes
from .options import Command, column_type_option, handle_errors, list_option, note, parse_rules
from .report import check_report_path, emit_report, report_option


def _pairs(ctx, param, value):
    out = {}
    for item in value or ():
        name, sep, rest = item.partition("=")
        if not sep or not name.strip() or not rest.strip():
            raise click.BadParameter(f"'{item}' is not NAME=COLUMNS")
        if name.strip() in out:
            raise click.BadParameter(f"model '{name.strip()}' is given twice")
        out[name.strip()] = rest.strip()
    return out or None


@click.command("replay", cls=Command)
@click.argument("source", nargs=-1, required=True, metavar="SOURCE...")
@list_option("--evidence", "-e", metavar="COLS", help="Evidence columns, comma-separated or repeated.")
@click.option("--action", "-a", required=True, metavar="COL", help="The action (true label) column.")
@click.option("--model", "models", multiple=True, callback=_pairs, metavar="NAME=COLS",
              help="A model and its evidence columns; repeat to compare models (instead of --evidence).")
@click.option("--score-col", "scores", multiple=True, callback=_pairs, metavar="NAME=COL",
              help="A model's benchmark score column (mean over the input, lower is better); one per model.")
@click.option("--weight", "-w", default=None, metavar="COL")
@click.option("--group-by", "group_by", default=None, metavar="MODEL",
              help="Long leaderboard: a row per (model, item); this column names the model (needs --id).")
@click.option("--id", "id_col", default=None, metavar="ITEM",
              help="With --group-by: the item id column; splits assign items, the same for every model.")
@click.option("--splits", "-n", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--calib-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5,
              show_default=True, help="Share of rows in the calibration part of each split.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--min-support", "-s", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--tolerance", default=None, metavar="TOL|mae:COL",
              help="Numeric evidence: each test value's fiber is the calibration rows within TOL "
                   "(or the mean |COL|, e.g. mae:error).")
@click.option("--nulls", type=click.Choice(["drop", "value"]), default="drop", show_default=True)
@click.option("--by", "by", default=None, metavar="COL",
              help="Slice column (a day, a tenant): the policies per value, from the same splits.")
@click.option("--rule", "rules", multiple=True, metavar="COL=RULE", help="Fiber rule for a numeric evidence column.")
@click.option("--threads", "-j", type=click.IntRange(min=1), default=None)
@click.option("--out", "-o", "out_dir", default=None, metavar="DIR", help="Write summary.json and replay_splits.parquet.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--quiet", "-q", is_flag=True)
@report_option
@column_type_option
@engine_options
@handle_errors
def replay_cmd(source, evidence, action, models, scores, weight, group_by, id_col, splits, calib_fraction, seed, min_support, tolerance,
               nulls, rules, by, threads, out_dir, fmt, quiet, report_path, scheduler, checkpoint):
    """Replay certify-then-acquire on seeded calibration/test splits: false decisions of acting
    on the benchmark vs certifying what the evidence determines and acquiring the rest.

    A long leaderboard (a row per model and item) replays every model with --group-by MODEL
    --id ITEM: the evidence is the prediction, --tolerance mae:ERROR_COL the mean |error| over
    each model's calibration rows of each split.

    \b
    Example:
      dcb replay tox21.parquet -e pattern -a sr_p53 --splits 100 -s 50
      dcb replay board.parquet --group-by model --id item -e pred -a label --tolerance mae:error -n 50 -s 5
    """
    from ..methods.replay import replay
    from ..report.text import render_leaderboard_replay, render_replay

    if group_by is not None or id_col is not None:
        if group_by is None or id_col is None:
            raise click.UsageError("a leaderboard replay needs both --group-by MODEL and --id ITEM")
        if models or scores or weight or rules or by:
            raise click.UsageError("--group-by replays one evidence column per model: no --model, --score-col, "
                                   "--weight, --rule or --by")
        if not evidence:
            raise click.UsageError("give the prediction column: --evidence PRED")
        if tolerance is None:
            raise click.UsageError("a leaderboard replay needs --tolerance mae:ERROR_COL (per model and split) or a number")
    elif not evidence and not models:
        raise click.UsageError("give --evidence COLS or one --model NAME=COLS per model")
    check_report_path(report_path)
    if out_dir is not None:
        from ..io.result_dir import check_out_dir

        check_out_dir(out_dir)
    if group_by is not None:
        from ..methods.leaderboard import leaderboard_replay

        result = leaderboard_replay(list(source), group_by, id_col, evidence, action,
                                    tolerance=tolerance, splits=splits,
                                    calib_fraction=calib_fraction, seed=seed, min_support=min_support,
                                    threads=threads, scheduler=scheduler, checkpoint=checkpoint)
        render = render_leaderboard_replay
    else:
        with warnings_as_notes(quiet):
            result = replay(list(source), evidence, action, splits=splits, calib_fraction=calib_fraction, seed=seed,
                            min_support=min_support, weight=weight, models=models, score=scores, tolerance=tolerance,
                            nulls=nulls, rules=parse_rules(rules), threads=threads, scheduler=scheduler,
                            checkpoint=checkpoint, by=by)
        render = render_replay
    note_run(quiet, result.run_info)
    if out_dir is not None:
        paths = result.write(out_dir)
        note(quiet, "wrote " + ", ".join(paths.values()))
    emit_report(report_path, result.summary, {"splits": result.splits}, quiet)
    click.echo(json.dumps(result.summary, indent=2) if fmt == "json" else render(result.summary))
