"""The summary JSON contract: ``summary.schema.json`` (JSON Schema draft 2020-12) and the
``schema_version`` policy.

Within one ``schema_version`` keys are only added, never removed, renamed or changed in type or
meaning; readers ignore keys they do not know. Any other change bumps ``schema_version`` and
adds a migration from the previous version to :data:`MIGRATIONS`, so that readers of saved
outputs (``dcb report``) keep working on older directories.
"""

from __future__ import annotations

import json
import os
from typing import Callable

from ..core.summary import SCHEMA_VERSION
from ..errors import DcbError

SCHEMA_FILE = os.path.join(os.path.dirname(__file__), "summary.schema.json")

# MIGRATIONS[v] turns a summary of schema_version v into one of version v + 1 (none yet).
MIGRATIONS: dict[int, Callable[[dict], dict]] = {}


def load_schema() -> dict:
    """The JSON Schema of every command's summary (``kind`` selects the definition).

    >>> load_schema()["properties"]["schema_version"]
    {'const': 1}
    """
    with open(SCHEMA_FILE, encoding="utf-8") as fh:
        return json.load(fh)


def upgrade(summary: dict, where: str = "the summary") -> dict:
    """Check that ``summary`` is a dcb summary and bring it to the current schema_version.

    Raises :class:`DcbError` naming ``where`` when it is not a summary or was written by a newer
    dcb_fast.

    >>> upgrade({"schema_version": 1, "kind": "audit", "metrics": {}})["kind"]
    'audit'
    """
    if not isinstance(summary, dict) or "schema_version" not in summary or "kind" not in summary:
        raise DcbError(f"{where} is not a dcb summary (no schema_version and kind); pass a directory written by "
                       "a dcb command with --out")
    v = summary["schema_version"]
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        raise DcbError(f"{where} has an invalid schema_version {v!r}; it was not written by dcb_fast")
    if v > SCHEMA_VERSION:
        raise DcbError(f"{where} has schema_version {v}, newer than this dcb_fast reads ({SCHEMA_VERSION}); "
                       "upgrade dcb-fast")
    while v < SCHEMA_VERSION:
        summary = MIGRATIONS[v](summary)
        v = summary["schema_version"]
    return summary
