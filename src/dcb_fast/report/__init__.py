"""Reports: the terminal rendering of summaries (``text``), the self-contained HTML report
(``html``, with one renderer per summary kind in ``kinds``) and the summary JSON contract
(``summary.schema.json``, ``schema``)."""

from __future__ import annotations
from .html import render_report as _render, write_report as _write


def render_report(summary, tables=None, top_k: int = 50) -> str:
    """See :func:`dcb_fast.report.html.render_report`."""
    return _render(summary, tables, top_k=top_k)


def write_report(path, summary, tables=None, top_k: int = 50) -> str:
    """See :func:`dcb_fast.report.html.write_report`."""
    return _write(path, summary, tables, top_k=top_k)
