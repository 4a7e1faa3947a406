"""Renderers of the HTML report, one module per summary ``kind``.

Importing this package registers them all with :func:`dcb_fast.report.html.register_kind`; a new
kind plugs in by adding a module here (or registering from anywhere before rendering).
"""

from . import acquisition, audit, channels, completion, coverage, diff, explain, generic, replay, sweep  # noqa: F401
