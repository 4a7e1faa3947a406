"""What a command returns: a JSON-ready ``summary`` and the tables it produced, written together
(atomically, file by file) by :meth:`Result.write`."""

from __future__ import annotations

import os

import pyarrow as pa

from .io.writers import prepare_dir, write_json, write_table


class Result:
    """A finished run. Subclasses name their tables in ``FILES`` ({attribute: file stem})."""

    FILES: dict[str, str] = {}

    def __init__(self, summary: dict):
        self.summary = summary

    @property
    def metrics(self) -> dict:
        return self.summary["metrics"]

    def write(self, out_dir: str, fmt: str = "parquet") -> dict:
        """Write every table (``fmt``: parquet or csv) and ``summary.json`` into ``out_dir``;
        returns the paths written, by name."""
        prepare_dir(out_dir)
        paths = {}
        for attr, stem in self.FILES.items():
            table: pa.Table | None = getattr(self, attr)
            if table is None:
                continue
            paths[stem] = os.path.join(out_dir, f"{stem}.{fmt}")
            write_table(table, paths[stem], fmt)
        paths["summary"] = os.path.join(out_dir, "summary.json")
        write_json(self.summary, paths["summary"])
        return paths
