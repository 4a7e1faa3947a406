"""Small inline SVG plots for the report, drawn with matplotlib when it is installed.

matplotlib is optional (``pip install "dcb-fast[report]"``): every function returns ``None``
when it is missing and the report shows a table instead. The user's matplotlib state is never
touched: no pyplot, no backend switch; figures are plain :class:`~matplotlib.figure.Figure`
objects rendered by the SVG canvas (text measured by Agg) inside an ``rc_context``, which
restores every setting afterwards.

Plots only ever take aggregates (a handful of bars, bins or curve points), never one mark per
row or per fiber, so each stays a few kilobytes whatever the input size.

Safety: labels are untrusted. matplotlib escapes SVG text and attributes; on top of that each
SVG is cleaned (no XML prolog, comments, metadata or style element; ids scoped to the plot) and
checked against an allowlist of elements and attributes (:func:`check_svg`). A plot that fails
the check is dropped, never embedded.
"""

from __future__ import annotations

import contextvars
import io
import itertools
import re
from html.parser import HTMLParser

from .blocks import CLASS_COLORS, PALETTE

# plot ids restart at 1 for every page (begin_page), so the same summary gives the same bytes
_ids: contextvars.ContextVar = contextvars.ContextVar("dcb_report_plot_ids", default=None)
_RC = {
    "svg.fonttype": "none",  # text as <text> elements: far smaller than glyph paths, and selectable
    "svg.hashsalt": "dcb-fast",  # deterministic clip-path ids
    "text.parse_math": False,  # a '$' in a label is text, never mathtext
    "text.usetex": False,
    "font.family": "sans-serif",
    "font.size": 9.0,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10.0,
    "figure.dpi": 72.0,
}
# the loaded modules, False when matplotlib is missing (tests set False to see the fallback)
_MPL = None


def _matplotlib():
    """The matplotlib modules, or ``None`` when it is not installed."""
    global _MPL
    if _MPL is None:
        try:
            import matplotlib
            from matplotlib.figure import Figure
        except ImportError:
            _MPL = False
        else:
            _MPL = (matplotlib, Figure)
    return _MPL or None


def begin_page() -> None:
    """Start numbering plot ids afresh (one call per rendered page)."""
    _ids.set(itertools.count(1))


def available() -> bool:
    """Is matplotlib installed (so the report has plots)?"""
    return _matplotlib() is not None


def label(text, n: int = 32) -> str:
    """An untrusted value as a plot label: one line, bounded, never a hidden legend entry."""
    s = re.sub(r"[\x00-\x1f\x7f]", " ", str(text))
    if len(s) > n:
        s = s[: n - 1] + "\u2026"
    # matplotlib hides legend entries whose label starts with '_'
    return "\u200b" + s if s.startswith("_") else s


def _render(draw, width: float, height: float) -> str | None:
    mpl = _matplotlib()
    if mpl is None:
        return None
    matplotlib, Figure = mpl
    try:
        with matplotlib.rc_context(_RC):
            fig = Figure(figsize=(width, height), layout="constrained")
            draw(fig)
            buf = io.StringIO()
            fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    except (ValueError, TypeError, OverflowError, RuntimeError):
        # values matplotlib cannot draw (say, infinities from a hand-edited summary): the caller
        # shows its table instead, and the report is still written
        return None
    ids = _ids.get()
    if ids is None:
        ids = itertools.count(1)
        _ids.set(ids)
    svg = clean_svg(buf.getvalue(), f"p{next(ids)}-")
    return svg if check_svg(svg) else None


def clean_svg(svg: str, prefix: str) -> str:
    """Make a matplotlib SVG fit for inlining: drop the XML prolog, doctype, comments, metadata,
    namespace declarations and the global ``*{...}`` style element (it would apply to the whole
    page); keep only ids that are referenced, prefixed so several plots can share a page."""
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"<!--.*?-->", "", svg, flags=re.S)
    svg = re.sub(r"<metadata>.*?</metadata>", "", svg, flags=re.S)
    svg = re.sub(r"<style[^>]*>.*?</style>", "", svg, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)
    svg = re.sub(r"font-family: [^;\"]+", "font-family: DejaVu Sans, Arial, sans-serif", svg)
    used = set(re.findall(r'url\(#([^)"]+)\)', svg)) | set(re.findall(r'href="#([^"]+)"', svg))

    def ident(m):
        return f' id="{prefix}{m.group(1)}"' if m.group(1) in used else ""

    svg = re.sub(r' id="([^"]+)"', ident, svg)
    svg = re.sub(r"url\(#([^)\"]+)\)", lambda m: f"url(#{prefix}{m.group(1)})", svg)
    svg = re.sub(r'href="#([^"]+)"', lambda m: f'href="#{prefix}{m.group(1)}"', svg)
    svg = re.sub(r"<defs>\s*</defs>", "", svg)
    svg = re.sub(r"\n\s*", "\n", svg)
    return svg.replace("<svg", '<svg class="plot" role="img"', 1).strip()


_SVG_TAGS = {"svg", "g", "path", "rect", "text", "tspan", "defs", "clippath", "use", "line", "polyline",
             "polygon", "circle", "ellipse", "title"}
_SVG_ATTRS = {"d", "style", "clip-path", "x", "y", "width", "height", "viewbox", "version", "transform", "id",
              "xlink:href", "href", "class", "role", "fill", "stroke", "stroke-width", "points", "cx", "cy", "r",
              "x1", "x2", "y1", "y2", "rx", "ry", "opacity", "font-size", "text-anchor"}


class _Checker(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.ok = True

    def handle_starttag(self, tag, attrs):
        if tag not in _SVG_TAGS:
            self.ok = False
        for k, v in attrs:
            if k not in _SVG_ATTRS:
                self.ok = False
            elif k in ("href", "xlink:href") and not (v or "").startswith("#"):
                self.ok = False
            elif v and re.search(r"url\((?!#)|expression\(|javascript:|@import", v, re.I):
                self.ok = False

    handle_startendtag = handle_starttag

    def handle_decl(self, decl):
        self.ok = False

    def handle_pi(self, data):
        self.ok = False

    def handle_comment(self, data):
        self.ok = False


def check_svg(svg: str) -> bool:
    """Does this SVG hold only drawing elements and attributes (no script, no event handler, no
    external reference)?"""
    c = _Checker()
    c.feed(svg)
    c.close()
    return c.ok


def _pct_axis(ax, axis: str = "x", top: float = 1.0) -> None:
    from matplotlib.ticker import PercentFormatter

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(PercentFormatter(1.0, decimals=0))
    (ax.set_xlim if axis == "x" else ax.set_ylim)(0, top)


def stacked_shares(rows, segments, title: str | None = None, xlabel: str = "share of weight"):
    """Horizontal stacked bars of shares: ``rows`` = ``[(row label, [share per segment])]``,
    ``segments`` = ``[(segment name, color)]``; one bar per row, at most a few dozen rows."""
    def draw(fig):
        ax = fig.add_subplot()
        names = [label(r[0]) for r in rows][::-1]
        left = [0.0] * len(rows)
        for j, (seg, color) in enumerate(segments):
            vals = [float(r[1][j] or 0.0) for r in rows][::-1]
            ax.barh(names, vals, left=left, color=color, label=label(seg), height=0.6)
            for i, v in enumerate(vals):
                if v >= 0.08:
                    ax.text(left[i] + v / 2, i, f"{v:.0%}", ha="center", va="center", color="white", fontsize=8)
            left = [a + b for a, b in zip(left, vals)]
        _pct_axis(ax, "x")
        ax.set_xlabel(xlabel)
        if title:
            ax.set_title(title, loc="left")
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0 if not title else 1.08), ncols=len(segments),
                  frameon=False, fontsize=8)

    return _render(draw, 7.5, 0.9 + 0.32 * len(rows) + (0.3 if title else 0))


def bars(labels, values, colors=None, xlabel: str = "", percent: bool = True, errors=None, ref=None,
         ref_label: str | None = None, full_scale: bool = True):
    """Horizontal bars, one per label (bounded by the caller); optional ``errors`` as
    ``(lows, highs)`` whiskers and a vertical reference line ``ref``. ``full_scale``: a percent
    axis runs to 100% (shares of a whole); else to just past the largest bar (small rates)."""
    def draw(fig):
        ax = fig.add_subplot()
        names = [label(x) for x in labels][::-1]
        vals = [float(v or 0.0) for v in values][::-1]
        cols = (list(colors) if colors else [PALETTE[0]] * len(vals))[::-1]
        xerr = None
        if errors is not None:
            lo, hi = [list(e)[::-1] for e in errors]
            xerr = [[max(0.0, v - float(a if a is not None else v)) for v, a in zip(vals, lo)],
                    [max(0.0, float(b if b is not None else v) - v) for v, b in zip(vals, hi)]]
        ax.barh(names, vals, color=cols, height=0.6, xerr=xerr, ecolor="#333333", capsize=3)
        for i, v in enumerate(vals):
            text = (f"{v:.1%}" if full_scale or v >= 0.01 else f"{v:.3%}") if percent else f"{v:.4g}"
            ax.text(v + (xerr[1][i] if xerr else 0.0), i, " " + text, va="center", fontsize=8)
        if ref is not None:
            ax.axvline(float(ref), color="#333333", linestyle="--", linewidth=1)
            if ref_label:
                ax.text(float(ref), len(vals) - 0.4, " " + ref_label, fontsize=8, va="bottom")
        if percent:
            ends = [v + h for v, h in zip(vals, xerr[1])] if xerr else vals
            top = max(ends, default=0.0)
            _pct_axis(ax, "x", max(1.0, top * 1.15) if full_scale else (top * 1.25 or 1.0))
            if not full_scale:
                from matplotlib.ticker import PercentFormatter

                ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=None))
        ax.set_xlabel(xlabel)

    return _render(draw, 7.5, 0.9 + 0.32 * len(labels))


def grouped_bars(categories, series, ylabel: str = "", percent: bool = True, ref=None):
    """Vertical bars grouped by category: ``series`` = ``[(name, values, color)]``."""
    def draw(fig):
        ax = fig.add_subplot()
        n = max(1, len(series))
        w = 0.8 / n
        xs = range(len(categories))
        for j, (name, vals, color) in enumerate(series):
            ax.bar([x - 0.4 + w * (j + 0.5) for x in xs], [float(v or 0.0) for v in vals], width=w, color=color,
                   label=label(name))
        ax.set_xticks(list(xs), [label(c, 18) for c in categories], rotation=30 if len(categories) > 6 else 0,
                      ha="right" if len(categories) > 6 else "center")
        if ref is not None:
            ax.axhline(float(ref), color="#333333", linestyle="--", linewidth=1)
        if percent:
            _pct_axis(ax, "y", 1.0)
        ax.set_ylabel(ylabel)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(4, n), frameon=False, fontsize=8)

    return _render(draw, 7.5, 3.2)


def histogram(bin_labels, counts, ylabel: str = "fibers", stacked=None, log: bool = True):
    """Bars over ordered bins (fiber sizes); ``stacked`` = ``[(name, values, color)]`` draws one
    stacked bar per bin instead of ``counts``."""
    def draw(fig):
        ax = fig.add_subplot()
        xs = list(range(len(bin_labels)))
        if stacked:
            bottom = [0.0] * len(xs)
            for name, vals, color in stacked:
                v = [float(x or 0.0) for x in vals]
                ax.bar(xs, v, bottom=bottom, color=color, label=label(name), width=0.8)
                bottom = [a + b for a, b in zip(bottom, v)]
            ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=len(stacked), frameon=False, fontsize=8)
            _pct_axis(ax, "y", max(bottom, default=1.0) * 1.1 or 1.0)
        else:
            ax.bar(xs, [float(c) for c in counts], color=PALETTE[0], width=0.8)
            if log and max(counts, default=0) > 0:
                from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

                ax.set_yscale("log")
                # plain numbers: the default log labels are mathtext, which parse_math=False would print raw
                ax.yaxis.set_major_locator(LogLocator(base=10))
                ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}" if v >= 1 else f"{v:g}"))
                ax.yaxis.set_minor_formatter(NullFormatter())
        ax.set_xticks(xs, [label(b, 14) for b in bin_labels], rotation=45 if len(xs) > 8 else 0,
                      ha="right" if len(xs) > 8 else "center")
        ax.set_xlabel("fiber size (rows)")
        ax.set_ylabel(ylabel)

    return _render(draw, 7.5, 3.0)


def lines(xs, series, xlabel: str = "", ylabel: str = "", percent: bool = True, xticklabels=None, vline=None,
          vline_label: str | None = None, xlog: bool = False):
    """Line plot of a few series over shared x: ``series`` = ``[(name, ys, color)]``. ``xlog``: a
    symmetric-log x axis when the x values span several orders of magnitude (a cost curve)."""
    def draw(fig):
        ax = fig.add_subplot()
        for name, ys, color in series:
            pts = [(float(x), float(y)) for x, y in zip(xs, ys) if x is not None and y is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o" if len(pts) <= 40 else None,
                        markersize=4, color=color, label=label(name))
        pos = sorted(float(x) for x in xs if x is not None and float(x) > 0)
        if xlog and pos and pos[-1] / pos[0] >= 100:
            from matplotlib.ticker import FuncFormatter, NullFormatter

            ax.set_xscale("symlog", linthresh=pos[0])
            # plain numbers: the default log labels are mathtext, which parse_math=False would print raw
            ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
            ax.xaxis.set_minor_formatter(NullFormatter())
        if xticklabels is not None:
            ax.set_xticks([float(x) for x in xs], [label(t, 18) for t in xticklabels],
                          rotation=30 if len(xs) > 5 else 0, ha="right" if len(xs) > 5 else "center")
        if vline is not None:
            ax.axvline(float(vline), color="#333333", linestyle="--", linewidth=1)
            if vline_label:
                ax.text(float(vline), ax.get_ylim()[1], " " + vline_label, fontsize=8, va="top")
        if percent:
            _pct_axis(ax, "y", 1.0)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncols=min(4, len(series)), frameon=False,
                  fontsize=8)

    return _render(draw, 7.5, 3.2)


def boxes(groups, ylabel: str = "", percent: bool = True):
    """Box plots of a value per group: ``groups`` = ``[(name, values)]`` (the values are a
    summary's own list, e.g. one certifiable fraction per model; drawn as boxes, not points)."""
    def draw(fig):
        ax = fig.add_subplot()
        data = [[float(v) for v in vals if v is not None] or [0.0] for _, vals in groups]
        ax.boxplot(data, showfliers=False, medianprops={"color": CLASS_COLORS["ambiguous"]})
        ax.set_xticks(range(1, len(groups) + 1), [label(g[0], 18) for g in groups],
                      rotation=30 if len(groups) > 5 else 0, ha="right" if len(groups) > 5 else "center")
        if percent:
            _pct_axis(ax, "y", 1.0)
        ax.set_ylabel(ylabel)

    return _render(draw, 7.5, 3.0)
