"""``dcb certify`` (build a certificate from a calibration table) and ``dcb show`` (inspect one)."""

from __future__ import annotations

import json

import click

from .engine import engine_options, note_run, warnings_as_notes
from .options import Command, columns, confidence, handle_errors, note, parse_rules, reading


@click.command("certify", cls=Command)
@click.argument("source", nargs=-1, required=True, metavar="CALIB...")
@columns
@click.option("--min-support", "-s", type=click.IntRange(min=1), default=1, show_default=True,
              help="Fibers with fewer calibration rows are thin (never certified).")
@click.option("--out", "-o", "out_path", required=True, metavar="FILE", help="Certificate file to write (.arrow).")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@confidence
@engine_options
@reading
@handle_errors
def certify_cmd(source, evidence, action, weight, nulls, rules, min_support, out_path, fmt, confidence,
                max_minority, batch_rows, threads, quiet, scheduler, checkpoint):
    """Build a certificate from a labelled calibration table (the benchmark, or a labelled
    sample): per evidence fiber, certified(action) / ambiguous / thin.

    \b
    Example:
      dcb certify bench.parquet -e lang,domain,score_bin -a route -s 5 -o cert.arrow
    """
    from ..methods.certify import certify
    from ..io.result_dir import check_out_file
    from ..report.text import render_certificate

    check_out_file(out_path)  # before the calibration table is read
    with warnings_as_notes(quiet):
        cert = certify(list(source), evidence=evidence, action=action, weight=weight, min_support=min_support,
                       nulls=nulls, rules=parse_rules(rules), batch_rows=batch_rows, threads=threads,
                       progress=None if not quiet else False, confidence=confidence, max_minority=max_minority,
                       scheduler=scheduler, checkpoint=checkpoint)
    note_run(quiet, cert.run_info)
    cert.save(out_path)
    note(quiet, f"wrote {out_path}")
    desc = cert.describe()
    click.echo(json.dumps(desc, indent=2) if fmt == "json" else render_certificate(desc))


@click.command("show", cls=Command)
@click.argument("certificate", metavar="CERT")
@click.option("--fibers", "n_fibers", type=click.IntRange(min=0), default=10, show_default=True,
              help="How many fibers to list (the heaviest first).")
@click.option("--format", "-f", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@handle_errors
def show_cmd(certificate, n_fibers, fmt):
    """Describe a certificate file: evidence, rules, minimum support, calibration input, fibers."""
    from ..methods.certify import Certificate
    from ..report.text import render_certificate

    cert = Certificate.load(certificate)
    desc = cert.describe()
    if n_fibers:
        import pyarrow.compute as pc

        t = cert.table
        idx = pc.array_sort_indices(t["__weight"], order="descending")
        top = t.take(idx.slice(0, n_fibers)).to_pylist()
        desc["heaviest_fibers"] = [{k.lstrip("_"): _plain(v) for k, v in r.items()} for r in top]
    click.echo(json.dumps(desc, indent=2) if fmt == "json" else render_certificate(desc))


def _plain(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v
