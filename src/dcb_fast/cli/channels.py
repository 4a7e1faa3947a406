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

    check_report_path(report_path)
    summary = check_channels(list(source), pred=pred, bench_label=bench_label, deploy_label=deploy_label,
                             alpha=alpha, group_by=group_by, calib_fraction=calib_fraction, seed=seed,
                             deploy_pred=deploy_pred)
    emit_report(report_path, summary, None, quiet)
    for w in summary["warnings"]:
        note(quiet, f"warning: {w}")
    if fmt == "json":
        click.echo(json.dumps(summary, indent=2))
    else:
        click.echo(render_channels(summary))


def _pct(x) -> str:
    return "     -" if x is None else f"{100.0 * x:6.2f}%"


def _num(x) -> str:
    return "-" if x is None else f"{x:.4g}"


def _row(label: str, cov, width) -> str:
    return f"  {label[:43]:<44s}{_pct(cov):>8s}  {'' if width is None else _num(width):>8s}".rstrip()


def render_channels(summary: dict) -> str:
    """The summary of :func:`dcb_fast.methods.channels.check_channels` as a terminal table."""
    p, m = summary["parameters"], summary["metrics"]
    files = summary["input"].get("files") or []
    src = f"{len(files)} file{'s' if len(files) != 1 else ''}" if files else "in-memory table"
    dp = f" (deployment prediction: {p['deploy_pred']})" if p["deploy_pred"] != p["pred"] else ""
    lines = [
        f"dcb channels  prediction: {p['pred']}{dp}  benchmark label: {p['bench_label']}  "
        f"deployment label: {p['deploy_label']}  alpha: {p['alpha']:g}",
        f"  input        {src}, {m['n_rows']:,} rows used, {m['dropped_rows']:,} dropped; "
        f"{m['n_calibration']:,} calibration / {m['n_test']:,} test (seed {p['seed']})",
        "",
        f"  {'interval':<44s}{'coverage':>8s}  {'width':>8s}",
        _row(f"benchmark: calibrated on {p['bench_label']}", m["benchmark_coverage"], m["width_bench"]),
        _row(f"transfer:  same interval on {p['deploy_label']}", m["transfer_coverage"], m["width_bench"]),
        _row(f"oracle:    calibrated on {p['deploy_label']}", m["deployment_coverage"], m["width_deploy"]),
        _row("target", m["target_coverage"], None),
    ]
    if m.get("groups") is not None:
        mo = m["mondrian"]
        lines += [
            "",
            f"  per {p['group_by']} (Mondrian: one interval per group)",
            f"  pooled over groups: benchmark {_pct(mo['benchmark_coverage']).strip()}, "
            f"transfer {_pct(mo['transfer_coverage']).strip()}, oracle {_pct(mo['deployment_coverage']).strip()}",
            f"  {'group':<16s} {'calib':>6s} {'test':>6s}  {'bench':>7s} {'transfer':>8s} {'oracle':>7s}  "
            f"{'width b':>8s} {'width d':>8s}",
        ]
        for g in m["groups"][:50]:
            wb = None if g["q_bench"] is None else 2 * g["q_bench"]
            wd = None if g["q_deploy"] is None else 2 * g["q_deploy"]
            lines.append(
                f"  {str(g['group'])[:16]:<16s} {g['n_calibration']:>6,} {g['n_test']:>6,}  "
                f"{_pct(g['benchmark_coverage'])} {_pct(g['transfer_coverage']):>8s} {_pct(g['deployment_coverage'])}  "
                f"{_num(wb):>8s} {_num(wd):>8s}" + ("  too small" if g["too_small"] else ""))
        if len(m["groups"]) > 50:
            lines.append(f"  ... {len(m['groups']) - 50} more groups (--format json lists all)")
    lines += ["", "  " + summary["headline"]]
    return "\n".join(lines)
