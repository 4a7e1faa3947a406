"""``dcb channels``: does a conformal interval calibrated on benchmark labels cover deployment labels?"""

from __future__ import annotations

import json

import click

from .options import Command, column_type_option, handle_errors, note
from .report import check_report_path, emit_report, report_option


@click.command("channels", cls=Command)
@click.argument("source", nargs=-1, required=True, metavar="SOURCE...")
@click.option("--pred", "-p", required=True, metavar="COL", help="Prediction column (the interval centre).")
@click.option("--bench-label", required=True, metavar="COL", help="Label on the benchmark channel (calibration).")
@click.option("--deploy-label", required=True, metavar="COL", help="Label on the deployment channel.")
@click.option("--deploy-pred", default=None, metavar="COL",
              help="Prediction for the deployment channel, when it differs from --pred.")
@click.option("--alpha", type=float, default=0.05, show_default=True,
              help="Miscoverage level: intervals aim at 1 - alpha coverage.")
@click.option("--group-by", default=None, metavar="COL", help="Also calibrate and report per group (Mondrian).")
@click.option("--calib-fraction", type=float, default=0.5, show_default=True,
              help="Share of rows used for calibration; the rest is the test split.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the calibration/test split.")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True,
              help="stdout: a readable table, or the summary JSON.")
@click.option("--quiet", "-q", is_flag=True, help="No notes on stderr.")
@report_option
@column_type_option
@handle_errors
def channels_cmd(source, pred, bench_label, deploy_label, deploy_pred, alpha, group_by, calib_fraction, seed,
                 fmt, quiet, report_path):
    """Calibrate a split-conformal interval on the benchmark labels of SOURCE and measure how
    much of the deployment labels it covers (transfer), next to an interval calibrated on the
    deployment labels themselves (oracle).

    SOURCE: Parquet, Arrow IPC/Feather or CSV files, directories or globs.

    \b
    Example:
      dcb channels scores.parquet --pred y_hat --bench-label y_bench --deploy-label y_live --alpha 0.05
    """
    from ..methods.channels import check_channels
    from ..report.text import render_channels

    check_report_path(report_path)
    summary = check_channels(list(source), pred=pred, bench_label=bench_label, deploy_label=deploy_label,
                             alpha=alpha, group_by=group_by, calib_fraction=calib_fraction, seed=seed,
                             deploy_pred=deploy_pred).summary
    emit_report(report_path, summary, None, quiet)
    for w in summary["warnings"]:
        note(quiet, f"warning: {w}")
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(render_channels(summary))
