"""The HTML report: one self-contained file per summary (inline CSS and SVG, no script, no
network), rendered by a renderer registered for the summary's ``kind``.

A renderer is a function of a :class:`Context` that returns the page's sections; it is
registered with :func:`register_kind` (see :mod:`dcb_fast.report.kinds`). Unknown kinds get the
generic renderer: the headline and a table of scalar metrics. A section that needs a key the
summary lacks is left out and listed at the bottom of the page, so a report is always written.

The page carries a Content-Security-Policy that forbids scripts and every external load:
even a value that slipped past escaping could neither run nor fetch anything.
"""

from __future__ import annotations

import os

from ..errors import DcbError
from ..io.result_dir import record
from ..io.writers import atomic_path, prepare_dir
from . import kinds  # noqa: F401  (importing it registers the built-in kinds)
from . import plots
from .blocks import Html, esc, join, kv_table, table, tag, truncate
from .registry import DEFAULT_TOP_K, Context, KindRenderer, register_kind, registered  # noqa: F401  (the public names)

MATPLOTLIB_NOTE = 'Plots are shown as tables: pip install "dcb-fast[report]" adds the plots (matplotlib).'
CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def renderer_for(kind) -> KindRenderer:
    """The renderer registered for ``kind``, else the generic one."""
    return registered(kind)


def render_report(summary: dict, tables: dict | None = None, top_k: int = DEFAULT_TOP_K) -> str:
    """Render a summary (any ``kind``) as one self-contained HTML page.

    ``tables``: optional pyarrow tables by name (``{"fibers": result.fibers}`` for an audit);
    they may hold millions of rows: only aggregates and the top ``top_k`` rows reach the page.

    >>> import dcb_fast, pyarrow as pa
    >>> r = dcb_fast.audit(pa.table({"e": ["x", "x", "y"], "a": [1, 2, 1]}), evidence=["e"], action="a")
    >>> page = render_report(r.summary, {"fibers": r.fibers})
    >>> page.startswith("<!DOCTYPE html>") and "33.33%" in page
    True
    """
    summary = getattr(summary, "summary", summary)  # a Result renders as its summary
    if not isinstance(summary, dict):
        raise DcbError("a report needs a summary dict (the summary.json of a dcb command)")
    tables = {k: v for k, v in (tables or {}).items() if v is not None}
    r = renderer_for(summary.get("kind"))
    ctx = Context(summary, tables, max(0, int(top_k)))
    plots.begin_page()
    body = [_header(ctx, r)]
    if not plots.available():
        body.append(tag("p", MATPLOTLIB_NOTE, class_="note mpl"))
    body.extend(r.render(ctx))
    body.append(ctx.part("parameters and input", _provenance))
    body.append(_footer(ctx))
    title = f"dcb {summary.get('kind', 'summary')} report"
    return ("<!DOCTYPE html>\n" + tag("html", join([
        tag("head", join([
            Html('<meta charset="utf-8">'),
            Html(f'<meta http-equiv="Content-Security-Policy" content="{esc(CSP)}">'),
            Html('<meta name="viewport" content="width=device-width, initial-scale=1">'),
            Html('<link rel="icon" href="data:,">'),  # no favicon request
            tag("title", truncate(title, 80)),
            Html(f"<style>{_CSS}</style>"),
        ])),
        tag("body", tag("main", join(body))),
    ]), lang="en") + "\n")


def write_report(path: str, summary: dict, tables: dict | None = None, top_k: int = DEFAULT_TOP_K) -> str:
    """Render the report and write it to ``path`` atomically (parent directories are created).
    Returns the path."""
    page = render_report(summary, tables, top_k=top_k)
    d = os.path.dirname(os.path.abspath(path))
    prepare_dir(d)
    if os.path.isdir(path):
        raise DcbError(f"report path '{path}' is a directory; give a file name such as {path.rstrip('/')}/report.html")
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(page)

    record(path)
    return path


def _header(ctx: Context, r: KindRenderer) -> Html:
    s = ctx.summary
    inp = s.get("input") if isinstance(s.get("input"), dict) else {}
    files = inp.get("files") or []
    if files:
        src = f"{len(files):,} input file{'s' if len(files) != 1 else ''}"
        if len(files) == 1 and isinstance(files[0], dict):
            src += f": {truncate(files[0].get('path', ''), 100)}"
    else:
        src = "in-memory input" if inp else "input not recorded"
    meta = (f"{src} \u00b7 dcb_fast {s.get('dcb_fast_version', '?')} \u00b7 schema_version "
            f"{s.get('schema_version', '?')}")
    parts = [tag("h1", r.title if r.kind != "*" else f"dcb report: {truncate(s.get('kind', 'unknown kind'), 60)}"),
             tag("p", meta, class_="meta")]
    if s.get("headline"):
        parts.append(tag("p", s["headline"], class_="headline"))
    warnings = s.get("warnings")
    if isinstance(warnings, list) and warnings:
        parts.append(tag("ul", join(tag("li", w) for w in warnings[:20]), class_="warnings"))
    return tag("header", join(parts))


def _provenance(ctx: Context) -> Html:
    s = ctx.summary
    params = [(k, v if not isinstance(v, (dict, list)) else _compact(v)) for k, v in ctx.parameters.items()]
    inp = s.get("input") if isinstance(s.get("input"), dict) else {}
    files = inp.get("files") or []
    rows = [(f.get("path"), f.get("format"), f.get("size"), f.get("rows"), f.get("digest"))
            for f in files[:50] if isinstance(f, dict)]
    extra = [(k, v) for k, v in inp.items() if k != "files" and not isinstance(v, (dict, list))]
    body = [tag("h3", "Parameters"), kv_table(params)]
    if rows:
        body += [tag("h3", "Input files"),
                 table(["path", "format", "bytes", "rows", "digest"], rows, numeric=(2, 3),
                                       more=len(files) - len(rows))]
    if extra:
        body += [tag("h3", "Input"), kv_table(extra)]
    return tag("section", tag("details", join([tag("summary", "Parameters and input"), *body])), class_="prov")


def _compact(v, n: int = 300) -> str:
    import json

    try:
        text = json.dumps(v, ensure_ascii=False, sort_keys=False)
    except (TypeError, ValueError):
        text = str(v)
    return truncate(text, n)


def _footer(ctx: Context) -> Html:
    parts = []
    if ctx.skipped:
        parts.append(tag("p", "Not shown (the summary lacks what they need): " + "; ".join(ctx.skipped),
                         class_="skipped"))
    parts.append(tag("p", "Generated by dcb_fast: a static page with no scripts and no "
                          "external resources. Values shown are aggregates and at most the top "
                          f"{ctx.top_k} rows of any table.", class_="meta"))
    return tag("footer", join(parts))


_CSS = """
:root{--fg:#1d2430;--muted:#5f6b7a;--line:#dde2e8;--bg:#fff;--soft:#f5f7fa}
*{box-sizing:border-box}
body{margin:0;background:var(--soft);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,
"DejaVu Sans",Arial,sans-serif}
main{max-width:1040px;margin:0 auto;padding:24px}
header,section,footer{background:var(--bg);border:1px solid var(--line);border-radius:8px;padding:16px 20px;
margin:0 0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 8px}h3{font-size:14px;margin:14px 0 6px}
.meta,.note{color:var(--muted);font-size:12.5px;margin:4px 0}
.headline{font-size:16px;font-weight:600;margin:10px 0 0}
.warnings{margin:10px 0 0;padding:8px 12px 8px 28px;background:#fff8e1;border-radius:6px;color:#6d4c00}
.mpl{background:#eef3fb;padding:8px 12px;border-radius:6px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:4px 0}
.card{flex:1 1 150px;border:1px solid var(--line);border-left:6px solid #90a4ae;border-radius:6px;padding:10px 14px}
.card .value{font-size:24px;font-weight:700}.card .label{color:var(--muted);font-size:12.5px}
.card .sub{color:var(--muted);font-size:11.5px}
.card.certified{border-left-color:#2e7d32}.card.ambiguous{border-left-color:#d84315}
.card.thin{border-left-color:#9e9e9e}.card.unseen{border-left-color:#5c6bc0}.card.bench{border-left-color:#1f77b4}
figure{margin:8px 0}figcaption{color:var(--muted);font-size:12.5px}
svg.plot{max-width:100%;height:auto}svg.plot *{stroke-linejoin:round;stroke-linecap:butt}
.scroll{overflow-x:auto}
table{border-collapse:collapse;font-size:12.5px;margin:6px 0;min-width:40%}
th,td{border-bottom:1px solid var(--line);padding:4px 8px;text-align:left;vertical-align:top;
max-width:320px;overflow-wrap:break-word}
th{background:var(--soft);font-weight:600;white-space:nowrap}.mixtext{font-size:11.5px;color:var(--muted)}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
caption{text-align:left;color:var(--muted);padding:4px 0}
.bar{display:inline-flex;width:160px;height:12px;background:#eceff1;border-radius:2px;overflow:hidden;
vertical-align:middle}.bar span{display:block;height:100%}
.legend{display:flex;flex-wrap:wrap;gap:12px;font-size:12.5px;margin:4px 0}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;border-radius:2px}
details summary{cursor:pointer;font-weight:600}
.skipped{color:#6d4c00}
@media print{body{background:#fff}main{padding:0}header,section,footer{break-inside:avoid}}
"""
