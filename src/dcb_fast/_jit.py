"""One place for numba settings: every kernel in ``dcb_fast.kernels`` is built by :func:`kernel`.

Settings (environment overrides, read once when the first kernel module is imported):

- ``DCB_FAST_CACHE_DIR``: where numba's on-disk compile cache goes. Without it numba uses
  ``__pycache__`` next to the sources and falls back to a user-wide directory when that is not
  writable. Set it on cluster images whose package directory is read-only.
- ``DCB_FAST_NO_CACHE=1``: compile in memory only (no cache files read or written).
- ``DCB_FAST_THREADS``: default number of worker threads (default: the CPUs this process may use).

``fastmath`` stays off on purpose: the kernels count and sum exactly, and a reordered float
reduction would make results depend on batch boundaries.
"""

from __future__ import annotations

import os

_cache_dir = os.environ.get("DCB_FAST_CACHE_DIR")
if _cache_dir and not os.environ.get("NUMBA_CACHE_DIR"):
    os.environ["NUMBA_CACHE_DIR"] = _cache_dir

import numba  # noqa: E402  (the cache directory must be in the environment first)

if _cache_dir:
    numba.config.CACHE_DIR = _cache_dir

CACHE = os.environ.get("DCB_FAST_NO_CACHE", "") in ("", "0")


def kernel(fn=None, **options):
    """Compile ``fn`` as a nopython, GIL-free kernel with the project's settings.

    Compilation is lazy (on first call), so importing a kernel module compiles nothing.
    """
    settings = {"nogil": True, "cache": CACHE, "fastmath": False, "error_model": "numpy"}
    settings.update(options)
    if fn is None:
        return lambda f: numba.njit(**settings)(f)
    return numba.njit(**settings)(fn)


def inline(fn):
    """A helper kernel inlined into its callers (small functions on the hot path)."""
    return numba.njit(nogil=True, cache=CACHE, inline="always")(fn)


def default_threads() -> int:
    """Worker threads used when the caller does not say: ``DCB_FAST_THREADS`` or the usable CPUs."""
    env = os.environ.get("DCB_FAST_THREADS")
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)
