"""The registry of HTML report renderers, one per summary ``kind``, and the :class:`Context`
they render from. Renderers (``report/kinds/<kind>.py``) register here with
:func:`register_kind`; :mod:`dcb_fast.report.html` looks them up and builds the page."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

from .blocks import Html

DEFAULT_TOP_K = 50


@dataclass
class Context:
    """What a renderer works from: the summary, the tables found beside it (pyarrow tables by
    name, e.g. ``fibers``), the top-k bound, and the sections it had to leave out."""

    summary: dict
    tables: dict = field(default_factory=dict)
    top_k: int = DEFAULT_TOP_K
    skipped: list = field(default_factory=list)

    @property
    def metrics(self) -> dict:
        m = self.summary.get("metrics")
        return m if isinstance(m, dict) else {}

    @property
    def parameters(self) -> dict:
        p = self.summary.get("parameters")
        return p if isinstance(p, dict) else {}

    def part(self, name: str, build: Callable, *args) -> Html:
        """Build one section; when the summary lacks what it needs, record it and go on."""
        try:
            return build(self, *args) or Html("")
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, ZeroDivisionError) as exc:
            what = f"missing {exc}" if isinstance(exc, KeyError) else type(exc).__name__
            self.skipped.append(f"{name} ({what})")
            return Html("")


@dataclass
class KindRenderer:
    kind: str
    title: str
    render: Callable[[Context], list]
    tables: tuple = ()  # names of the tables (files beside summary.json) this kind can use


_KINDS: dict[str, KindRenderer] = {}


def register_kind(kind: str, title: str, tables: tuple = ()):
    """Decorator: register ``fn(ctx) -> [Html sections]`` as the renderer of summaries of
    ``kind``; ``tables`` names the saved tables (``fibers`` for ``fibers.parquet``) that
    ``dcb report`` should load for it."""
    def deco(fn):
        _KINDS[kind] = KindRenderer(kind, title, fn, tuple(tables))
        return fn

    return deco


def registered(kind: str) -> KindRenderer:
    """The renderer registered for ``kind``, else the generic one (``"*"``)."""
    return _KINDS.get(kind) or _KINDS["*"]
