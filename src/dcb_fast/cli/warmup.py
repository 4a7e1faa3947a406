"""``dcb warmup``: compile and cache every kernel (for cluster images and CI)."""

from __future__ import annotations

import json

import click

from .options import Command, handle_errors


@click.command("warmup", cls=Command)
@click.option("--threads", "-j", type=click.IntRange(min=1), default=None,
              help="Threads for the warm-up audits [default: DCB_FAST_THREADS or the usable CPUs].")
@click.option("--format", "-f", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@handle_errors
def warmup_cmd(threads, fmt):
    """Compile every kernel once and store the machine code in numba's on-disk cache.

    Run it when building a cluster image (with DCB_FAST_CACHE_DIR pointing into the image), so
    that workers load the kernels instead of compiling them.

    \b
    Example:
      DCB_FAST_CACHE_DIR=/opt/dcb-cache dcb warmup
    """
    from ..tools.warmup import warmup

    info = warmup(threads=threads)
    if fmt == "json":
        click.echo(json.dumps(info, indent=2))
        return
    where = ", ".join(info["cache_dirs"]) or "nowhere (on-disk caching is off: DCB_FAST_NO_CACHE is set)"
    click.echo(f"cache: {where}")
    click.echo(f"kernels: {info['kernels']} ({info['signatures']} signatures: {info['compiled']} compiled, "
               f"{info['loaded']} loaded from the cache)")
    click.echo(f"took {info['seconds']:.1f} s")
    if info["not_warmed"]:
        click.echo("not reached by the warm-up (compiled on first use): " + ", ".join(info["not_warmed"]))
