"""``dcb demo``: a complete audit on the examples that ship with the package."""

from __future__ import annotations

import os

import click

from .options import Command, handle_errors


@click.command("demo", cls=Command)
@click.option("--out", "-o", "out_dir", default="dcb-demo", show_default=True, metavar="DIR",
              help="Where the demo writes its log and outputs.")
@click.option("--rows", type=click.IntRange(min=1000), default=200_000, show_default=True,
              help="Rows in the generated production-like log.")
@click.option("--quiet", "-q", is_flag=True, help="No notes on stderr.")
@handle_errors
def demo_cmd(out_dir, rows, quiet):
    """Run the audit on the shipped examples: the paper's Tox21 table and a seeded
    production-like request log (audit, coverage of the log by a labelled benchmark sample, and
    the completion curve over five probes), and show where the outputs went."""
    from ..methods.audit import audit
    from ..methods.certify import certify
    from ..methods.complete import complete
    from ..io.result_dir import record
    from ..io.writers import prepare_dir
    from ..report.html import write_report
    from ..report.text import render_audit, render_completion
    from ..tools.synth import EVIDENCE, PROBES, tox21_table, write_log

    prepare_dir(out_dir)
    tox = audit(tox21_table(), evidence=["pattern"], action="sr_p53")
    m = tox.metrics
    click.echo("1. Tox21 (the paper's audit): evidence = the 7 nuclear-receptor assays, action = SR-p53")
    click.echo(f"  {m['n_rows']:,} compounds, {m['n_fibers']} fibers, {m['n_mixed_fibers']} mixed; "
               f"{m['ambiguous_fraction']:.4%} of compounds sit in mixed fibers "
               f"(certified: {m['certified_rows']['0']} inactive, {m['certified_rows']['1']} active)")
    tox.write(os.path.join(out_dir, "tox21"), cases=True)
    click.echo("")

    log = os.path.join(out_dir, f"demo_log_{rows}.parquet")
    if not os.path.exists(log):
        record(write_log(log, rows=rows, seed=7, row_group_rows=50_000))
    evidence = EVIDENCE[:4]
    result = audit(log, evidence=evidence, action="route", weight="requests", id="request_id",
                   min_support=5, progress=None if not quiet else False)
    audit_dir = os.path.join(out_dir, "audit")
    paths = result.write(audit_dir)
    report = os.path.join(audit_dir, "report.html")
    write_report(report, result.summary, {"fibers": result.fibers})
    from ..report import plots

    if not plots.available() and not quiet:  # a plain `pip install .`: say why the report has no plots
        click.echo(f'note: {report} shows tables in place of plots: matplotlib is not installed; '
                   'pip install "dcb-fast[report]" adds them', err=True)
    click.echo(f"2. Demo request log ({log}): can {', '.join(evidence)} decide the route?")
    click.echo("   (fibers with fewer than 5 rows are thin: not certified)")
    click.echo(render_audit(result.summary))
    click.echo("")

    bench = os.path.join(out_dir, "demo_benchmark.parquet")
    if not os.path.exists(bench):
        record(write_log(bench, rows=max(rows // 10, 1000), seed=1, row_group_rows=50_000))
    cert = certify(bench, evidence, "route", min_support=5)
    cert_path = os.path.join(out_dir, "benchmark_cert.arrow")
    cert.save(cert_path)
    cov = cert.coverage(log, weight="requests", action="route")
    cm = cov.metrics
    cov_dir = os.path.join(out_dir, "coverage-out")  # not "coverage": it would shadow the package (see README)
    cov.write(cov_dir)
    click.echo(f"3. Coverage: a labelled benchmark of {cert.meta['calibration']['n_rows']:,} requests "
               f"({bench}) against the log")
    click.echo(f"  {cov.summary['headline']}")
    click.echo(f"  (ambiguous {cm['ambiguous_coverage']:.2%}, thin {cm['thin_coverage']:.2%}, "
               f"unseen {cm['unseen_fraction']:.2%}; acting on the certificate errs on "
               f"{cm['false_decisions']['certificate']:.3%} of traffic, acting on the benchmark's fiber majority on "
               f"{cm['false_decisions']['fiber_majority']:.2%})")
    click.echo("")

    comp = complete(log, evidence, "route", PROBES, weight="requests", min_support=5, target=0.5)
    comp_dir = os.path.join(out_dir, "completion")
    comp.write(comp_dir)
    click.echo("4. Completion: which extra measurement (probe) would certify the most traffic?")
    click.echo(render_completion(comp.summary))
    click.echo("")
    click.echo("Outputs:")
    for name, p in [("tox21", os.path.join(out_dir, "tox21")), *paths.items(), ("report", report),
                    ("certificate", cert_path), ("coverage", cov_dir), ("completion", comp_dir)]:
        click.echo(f"  {name:16s} {p}")
