"""Progress on stderr for long inputs: rows done, rows/s. Silent unless stderr is a terminal."""

from __future__ import annotations

import sys
import threading
import time


class Progress:
    """A throttled one-line progress display (at most 5 updates a second)."""

    def __init__(self, total: int | None = None, label: str = "rows", enabled: bool | None = None, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = _is_tty(self.stream) if enabled is None else enabled
        self.total = total
        self.label = label
        self.done = 0
        self._t0 = time.perf_counter()
        self._last = 0.0
        self._lock = threading.Lock()
        self._shown = False

    def add(self, n: int) -> None:
        with self._lock:
            self.done += n
            if not self.enabled:
                return
            now = time.perf_counter()
            if now - self._last < 0.2:
                return
            self._last = now
            self._show(now)

    def _show(self, now: float) -> None:
        rate = self.done / max(now - self._t0, 1e-9)
        if self.total:
            pct = 100.0 * self.done / self.total
            text = f"\r  {_human(self.done)} / {_human(self.total)} {self.label} ({pct:5.1f}%)  {_human(rate)} {self.label}/s "
        else:
            text = f"\r  {_human(self.done)} {self.label}  {_human(rate)} {self.label}/s "
        self.stream.write(text)
        self.stream.flush()
        self._shown = True

    def close(self) -> None:
        if self.enabled and self._shown:
            self._show(time.perf_counter())
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _is_tty(stream) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def _human(x: float) -> str:
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if x >= div:
            return f"{x / div:.1f}{unit}"
    return f"{x:.0f}"
