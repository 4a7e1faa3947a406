"""``dcb bench``: the headline audit benchmark, ours against DuckDB, Polars and pyarrow."""

from __future__ import annotations

import json

import click

from .options import Command, handle_errors, note


@click.command("bench", cls=Command)
@click.option("--rows", type=click.IntRange(min=1000), default=1_000_000, show_default=True,
              help="Rows in the generated request log.")
@click.option("--repeat", "-r", type=click.IntRange(min=1), default=3, show_default=True,
              help="Timed runs per engine (the median is reported), after one warm-up run.")
@click.option("--engine", "engines", multiple=True, type=click.Choice(["duckdb", "polars", "pyarrow"]),
              help="Baselines to run [default: all three]. Repeatable.")
@click.option("--data-dir", default=None, metavar="DIR",
              help="Keep the generated log here and reuse it next time [default: a temporary directory].")
@click.option("--threads", "-j", type=click.IntRange(min=1), default=None,
              help="Threads for dcb_fast [default: DCB_FAST_THREADS or the usable CPUs].")
@click.option("--evidence", "-e", default=None, metavar="COLS",
              help="Comma-separated subset of the log's evidence columns (lang, domain, model, score_bin, "
                   "region, tenant) [default: all six].")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@click.option("--quiet", "-q", is_flag=True, help="No progress notes on stderr.")
@handle_errors
def bench_cmd(rows, repeat, engines, data_dir, threads, evidence, fmt, quiet):
    """Time the audit of a seeded, generated Parquet log (file to summary) with dcb_fast and with
    the queries a user would otherwise write in DuckDB, Polars and pyarrow, check that all engines
    compute the same numbers, and print times, rows/s and ratios.

    DuckDB and Polars come with the optional extra (the command says when they are missing).

    \b
    Example:
      pip install 'dcb-fast[bench]'
      dcb bench --rows 10000000 --data-dir ~/.cache/dcb-bench
      dcb bench --rows 10000000 --evidence lang,domain,model   # a small key space
    """
    from ..tools.benchmark import render, run

    columns = [c.strip() for c in evidence.split(",") if c.strip()] if evidence else None
    result = run(rows=rows, repeat=repeat, data_dir=data_dir, engines=list(engines) or None, threads=threads,
                 evidence=columns, log=lambda msg: note(quiet, msg))
    for e, why in result["missing"].items():
        note(quiet, f"{e}: {why}")
    click.echo(json.dumps(result, indent=2) if fmt == "json" else render(result))
    if any(r["agrees"] is False for r in result["results"]):
        raise click.ClickException("a baseline computed different numbers than dcb_fast (see the table); "
                                   "please report this with the command you ran")
