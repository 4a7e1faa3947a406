"""What a command returns: a JSON-ready ``summary`` and the tables it produced, written together
as one unit (a result directory, see :mod:`dcb_fast.io.result_dir`) by :meth:`Result.write`."""

from __future__ import annotations

import pyarrow as pa

from ..io.result_dir import ResultDir


class Result:
    """A finished run of any method: its ``summary`` (the envelope of :mod:`dcb_fast.core.summary`)
    and its tables. Subclasses name their tables in ``FILES`` ({attribute: file stem}).
    ``result["metrics"]`` reads a section of the summary, as the summary dict itself would.

    >>> r = Result({"kind": "x", "metrics": {"n": 1}})
    >>> r.metrics, r["kind"], "metrics" in r
    ({'n': 1}, 'x', True)
    """

    FILES: dict[str, str] = {}

    def __init__(self, summary: dict):
        self.summary = summary
        self.run_info: dict = {"engine": "local", "checkpoint": None}  # what the engine did (engines.run)

    @property
    def metrics(self) -> dict:
        return self.summary["metrics"]

    def __getitem__(self, section: str):
        return self.summary[section]

    def __contains__(self, section) -> bool:
        return section in self.summary

    def keys(self):
        return self.summary.keys()

    def write(self, out_dir: str, fmt: str = "parquet") -> dict:
        """Write every table (``fmt``: parquet or csv) and ``summary.json`` into ``out_dir``, as one
        unit: built beside it and renamed into place at the end (a previous set stays until then).
        Returns the paths written, by name."""
        with ResultDir(out_dir, self.summary) as rd:
            for attr, stem in self.FILES.items():
                table: pa.Table | None = getattr(self, attr)
                if table is not None:
                    rd.table(stem, table, fmt)
            return rd.commit()
