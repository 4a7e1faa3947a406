"""``dcb demo``: a complete audit on the examples that ship with the package."""

from __future__ import annotations

import os

import click

from .options import handle_errors


@click.command("demo")
@click.option("--out", "-o", "out_dir", default="dcb-demo", show_default=True, metavar="DIR",
              help="Where the demo writes its log and outputs.")
@click.option("--rows", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="Rows in the generated production-like log.")
@click.option("--quiet", "-q", is_flag=True, help="No notes on stderr.")
@handle_errors
def demo_cmd(out_dir, rows, quiet):
    """Run the audit on the shipped examples: the paper's Tox21 table and a seeded
    production-like request log, and show where the outputs went."""
    from ..auditing import audit
    from ..io.writers import prepare_dir
    from ..report.text import render_audit
    from ..synth import EVIDENCE, tox21_table, write_log

    prepare_dir(out_dir)
    tox = audit(tox21_table(), evidence=["pattern"], action="sr_p53")
    m = tox.metrics
    click.echo("Tox21 (the paper's audit): evidence = the 7 nuclear-receptor assays, action = SR-p53")
    click.echo(f"  {m['n_rows']:,} compounds, {m['n_fibers']} fibers, {m['n_mixed_fibers']} mixed; "
               f"{m['ambiguous_fraction']:.4%} of compounds sit in mixed fibers "
               f"(certified: {m['certified_rows']['0']} inactive, {m['certified_rows']['1']} active)")
    tox.write(os.path.join(out_dir, "tox21"), cases=True)
    click.echo("")

    log = os.path.join(out_dir, "demo_log.parquet")
    if not os.path.exists(log):
        write_log(log, rows=rows, seed=7, row_group_rows=50_000)
    result = audit(log, evidence=EVIDENCE[:4], action="route", weight="requests", id="request_id",
                   min_support=5, progress=None if not quiet else False)
    paths = result.write(os.path.join(out_dir, "audit"))
    click.echo(f"Demo request log ({log}): can lang, domain, model and score_bin decide the route?")
    click.echo("(fibers with fewer than 5 rows are thin: not certified)")
    click.echo(render_audit(result.summary))
    click.echo("")
    click.echo("Outputs:")
    for name, p in [("tox21", os.path.join(out_dir, "tox21")), *paths.items()]:
        click.echo(f"  {name:16s} {p}")
