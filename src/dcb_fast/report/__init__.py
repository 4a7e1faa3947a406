"""Reports: the terminal rendering of summaries (``text``), the self-contained HTML report
(``html``, with one renderer per summary kind in ``kinds``) and the summary JSON contract
(``summary.schema.json``, ``schema``)."""

from __future__ import annotations


def render_report(summary, tables=None, top_k: int = 50) -> str:
    """See :func:`dcb_fast.report.html.render_report`."""
    # lazy: `import dcb_fast.report.text` (every CLI command) must not load the HTML modules and pyarrow
    from .html import render_report as render

    return render(summary, tables, top_k=top_k)


def write_report(path, summary, tables=None, top_k: int = 50) -> str:
    """See :func:`dcb_fast.report.html.write_report`."""
    # lazy: as in render_report
    from .html import write_report as write

    return write(path, summary, tables, top_k=top_k)
