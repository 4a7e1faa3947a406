"""The summary envelope every method returns (and writes as ``summary.json``).

A summary is a JSON-ready dict: ``schema_version``, ``kind`` (which method made it),
``dcb_fast_version``, ``parameters``, then the method's own sections (usually ``input``,
``metrics``, ``headline``, ``warnings``), in that order. ``report/summary.schema.json`` is its
contract; :func:`dcb_fast.report.schema.upgrade` reads older versions.
"""

from __future__ import annotations

from .._version import __version__

SCHEMA_VERSION = 1


def envelope(kind: str, parameters: dict, **sections) -> dict:
    """The summary of a run of ``kind``: the envelope's fields, then ``sections`` in the order given.

    >>> list(envelope("audit", {"evidence": ["lang"]}, metrics={}, headline="h"))
    ['schema_version', 'kind', 'dcb_fast_version', 'parameters', 'metrics', 'headline']
    """
    return {"schema_version": SCHEMA_VERSION, "kind": kind, "dcb_fast_version": __version__,
            "parameters": parameters, **sections}
