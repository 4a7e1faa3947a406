"""Progress on stderr: rows done and rows/s when asked (or on a terminal), nothing otherwise."""

import io

from dcb_fast.core.progress import Progress


class Tty(io.StringIO):
    def isatty(self):
        return True


def test_shows_rows_and_rate_on_a_terminal():
    out = Tty()
    with Progress(total=2_000_000, stream=out) as p:
        p._last = -1.0  # show the first update at once
        p.add(1_500_000)
    text = out.getvalue()
    assert "1.5M / 2.0M rows" in text and "( 75.0%)" in text and "rows/s" in text and text.endswith("\n")


def test_silent_when_not_a_terminal():
    out = io.StringIO()
    with Progress(total=10, stream=out) as p:
        p._last = -1.0
        p.add(5)
    assert out.getvalue() == "" and p.done == 5


def test_unknown_total():
    out = Tty()
    p = Progress(stream=out, enabled=True)
    p._last = -1.0
    p.add(1234)
    p.close()
    assert "1.2k rows" in out.getvalue()
