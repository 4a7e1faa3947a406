"""HTML building blocks for the report: escaping, cards, tables, figures, bars.

Every value that comes from the input (evidence values, column names, action labels, file
paths, group keys) is untrusted: it reaches the page only through :func:`esc`. Fragments that
this package built itself are marked :class:`Html`, and only those pass through unescaped, so a
value can never be mistaken for markup by forgetting a call.
"""

from __future__ import annotations

import html
import math
import re

# C0 controls (but tab and newline) and DEL have no business in a report and would make the
# page invalid; lone surrogates cannot be encoded as UTF-8 at all.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")

CLASS_COLORS = {"certified": "#2e7d32", "ambiguous": "#d84315", "thin": "#9e9e9e", "unseen": "#5c6bc0"}
# a fixed qualitative palette for actions, policies, rules (repeats past ten)
PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf"]


class Html(str):
    """A fragment of trusted markup built by this package (passes :func:`esc` unchanged)."""


def esc(value) -> Html:
    """Escape any value for HTML text or a quoted attribute (``& < > " '``)."""
    if isinstance(value, Html):
        return value
    return Html(html.escape(_CONTROL.sub("\ufffd", str(value)), quote=True))


def join(parts) -> Html:
    return Html("".join(esc(p) for p in parts if p))


def pct(x, digits: int = 2) -> str:
    """A fraction as a percentage; missing values as an en dash."""
    if not _finite(x):
        return "\u2013"
    return f"{100.0 * float(x):.{digits}f}%"


def num(x) -> str:
    """A count with thousands separators, a float with 4 significant digits."""
    if isinstance(x, bool) or x is None:
        return "\u2013" if x is None else str(x).lower()
    if isinstance(x, int):
        return f"{x:,}"
    if _finite(x):
        v = float(x)
        return f"{v:,.0f}" if v.is_integer() and abs(v) < 1e15 else f"{v:.4g}"
    return "\u2013"


def cell(x) -> str:
    """A table cell for an arbitrary (untrusted) scalar."""
    if x is None:
        return "null"
    if isinstance(x, (int, float)) and not isinstance(x, bool):
        return num(x)
    return str(x)


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(float(x))


def truncate(text, n: int = 60) -> str:
    s = str(text)
    return s if len(s) <= n else s[: n - 1] + "\u2026"


def tag(name: str, body="", **attrs) -> Html:
    """``<name attrs>body</name>``; attribute values are escaped, ``class_`` becomes ``class``."""
    a = "".join(f' {k.rstrip("_").replace("_", "-")}="{esc(v)}"' for k, v in attrs.items() if v is not None)
    return Html(f"<{name}{a}>{esc(body)}</{name}>")


def section(title: str, *body, note: str | None = None, id: str | None = None) -> Html:
    parts = [tag("h2", title)]
    if note:
        parts.append(tag("p", note, class_="note"))
    parts.extend(b for b in body if b)
    return tag("section", join(parts), id=id)


def cards(items) -> Html:
    """Big-number cards: ``[(label, value text, class name or None, sub text or None)]``."""
    out = []
    for label, value, kind, sub in items:
        inner = [tag("div", value, class_="value"), tag("div", label, class_="label")]
        if sub:
            inner.append(tag("div", sub, class_="sub"))
        out.append(tag("div", join(inner), class_=f"card {kind}" if kind else "card"))
    return tag("div", join(out), class_="cards")


def table(headers, rows, numeric=(), caption: str | None = None, more: int = 0, more_note: str = "") -> Html:
    """A table of untrusted cells. ``numeric``: indices of right-aligned columns; ``more``: rows
    left out (a bounded table says so)."""
    numeric = set(numeric)
    head = tag("tr", join(tag("th", h, class_="num" if i in numeric else None) for i, h in enumerate(headers)))
    body = []
    for r in rows:
        body.append(tag("tr", join(_td(c, i in numeric) for i, c in enumerate(r))))
    parts = [tag("caption", caption) if caption else "", tag("thead", head), tag("tbody", join(body))]
    out = tag("table", join(parts))
    if more:
        out = Html(out + tag("p", f"\u2026 and {more:,} more{more_note}", class_="note"))
    return tag("div", out, class_="scroll")


def _td(c, numeric: bool, limit: int = 120) -> Html:
    if isinstance(c, Html):
        return tag("td", c, class_="num" if numeric else None)
    text = cell(c)
    # an input value can be arbitrarily long; the page shows its start, the tooltip a bit more
    title = truncate(text, 1000) if len(text) > limit else None
    return tag("td", truncate(text, limit), class_="num" if numeric else None, title=title)


def figure(svg: str | None, fallback: Html | None = None, caption: str | None = None) -> Html:
    """A plot (inline SVG, already sanitized by :mod:`.plots`) or its table fallback."""
    body = Html(svg) if svg else (fallback or Html(""))
    if not body:
        return Html("")
    return tag("figure", join([body, tag("figcaption", caption) if caption else ""]))


def share_bar(parts, title: str | None = None) -> Html:
    """A horizontal stacked bar of shares drawn with CSS only: ``[(label, share, color)]``.
    Used per row of bounded tables (top fibers), where an SVG per row would be heavier."""
    segs = []
    for label, share, color in parts:
        if not _finite(share) or share <= 0:
            continue
        w = min(100.0, 100.0 * float(share))
        segs.append(tag("span", "", style=f"width:{w:.2f}%;background:{_color(color)}",
                        title=f"{truncate(label, 80)}: {pct(share, 1)}"))
    return tag("span", join(segs), class_="bar", title=title)


def legend(items) -> Html:
    """``[(label, color)]`` as an inline legend."""
    return tag("div", join(tag("span", join([tag("i", "", style=f"background:{_color(c)}"), truncate(lab, 40)]))
                           for lab, c in items), class_="legend")


def _color(c: str) -> str:
    # colors come from this module's palettes; anything else is replaced rather than trusted in CSS
    return c if re.fullmatch(r"#[0-9a-fA-F]{6}", str(c)) else "#999999"


def kv_table(pairs) -> Html:
    """Two-column table of (name, value) pairs, values untrusted."""
    return table(["", ""], [(k, v) for k, v in pairs])


def scalar_items(obj, prefix: str = "", depth: int = 2, limit: int = 200):
    """Scalar leaves of a nested dict as (dotted name, value), at most ``limit``; lists are
    summarised by their length so a long list never becomes a long table."""
    out = []

    def walk(o, pre, d):
        for k, v in o.items():
            if len(out) >= limit:
                return
            name = f"{pre}{k}"
            if isinstance(v, dict):
                if d > 0:
                    walk(v, name + ".", d - 1)
            elif isinstance(v, list):
                out.append((name, f"[{len(v):,} items]"))
            else:
                out.append((name, v))

    if isinstance(obj, dict):
        walk(obj, prefix, depth)
    return out
