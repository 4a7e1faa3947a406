"""``dcb acquire``: the probe-acquisition replay (which probe to measure next, chosen on
calibration and scored on held-out rows, over seeded splits)."""

from __future__ import annotations

import json

import click

from .engine import engine_options, note_run, warnings_as_notes
from .options import Command, handle_errors, list_option, note, reading
from .report import check_report_path, emit_report, report_option


@click.command("acquire", cls=Command)
@click.argument("source", nargs=-1, required=True, metavar="SOURCE...")
@list_option("--evidence", "-e", required=True, metavar="COLS",
             help="Evidence columns, comma-separated or repeated (step 0 of every policy).")
@click.option("--action", "-a", required=True, metavar="COL", help="The action (true label) column.")
@list_option("--probes", "-p", required=True, metavar="COLS",
             help="Candidate probe columns, comma-separated or repeated.")
@list_option("--policy", "policies", metavar="NAMES",
             help="Policies, comma-separated or repeated: response_rank, uncertainty, diversity, benchmark_aligned, "
                  "random, oracle [default: all].")
@click.option("--weight", "-w", default=None, metavar="COL")
@click.option("--nulls", type=click.Choice(["drop", "value"]), default="drop", show_default=True)
@click.option("--splits", "-n", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--calib-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.5,
              show_default=True, help="Share of rows in the calibration part of each split.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--split", type=click.Choice(["cells", "permutation"]), default="cells", show_default=True,
              help="cells: depends on the multiset of rows and the seed only; permutation: permute the rows in "
                   "input order with a generator seeded SEED + split (the authors' protocol; depends on row order).")
@click.option("--min-support", "-s", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--tie-break", type=click.Choice(["first", "last"]), default="first", show_default=True,
              help="Score ties go to the lexically first or last probe name (the authors' script: last).")
@click.option("--out", "-o", "out_dir", default=None, metavar="DIR",
              help="Write summary.json and acquisition_steps.parquet (or .csv) here.")
@click.option("--table-format", type=click.Choice(["parquet", "csv"]), default="parquet", show_default=True)
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@reading
@report_option
@engine_options
@handle_errors
def acquire_cmd(source, evidence, action, probes, policies, weight, nulls, splits, calib_fraction, seed, split,
                min_support, tie_break, out_dir, table_format, fmt, batch_rows, threads, quiet, report_path, scheduler,
                checkpoint):
    """Probe-acquisition replay: per seeded split, each policy orders the PROBES on the
    calibration part, the order is frozen, and every step is scored on the held-out part
    (certified fraction, false decisions, error among certified; mean, p10, p90; modal pick).

    \b
    Example:
      dcb acquire tox21.csv -e NR-AR,NR-AhR -a SR-p53 -p SR-ARE,SR-MMP -s 50 --splits 200
    """
    from ..methods.acquisition import acquisition_replay
    from ..report.text import render_acquisition

    check_report_path(report_path)
    if out_dir is not None:
        from ..io.result_dir import check_out_dir

        check_out_dir(out_dir)
    with warnings_as_notes(quiet):
        result = acquisition_replay(list(source), evidence, action, probes, policies=policies, splits=splits,
                                    calib_fraction=calib_fraction, seed=seed, split=split, min_support=min_support,
                                    tie_break=tie_break, weight=weight, nulls=nulls, batch_rows=batch_rows,
                                    threads=threads, scheduler=scheduler, checkpoint=checkpoint)
    note_run(quiet, result.run_info)
    if out_dir is not None:
        paths = result.write(out_dir, table_format)
        note(quiet, "wrote " + ", ".join(paths.values()))
    emit_report(report_path, result.summary, {"steps": result.steps}, quiet)
    click.echo(json.dumps(result.summary, indent=2) if fmt == "json" else render_acquisition(result.summary))
