"""Read a result directory (``summary.json`` and the tables written next to it) back for a report."""

from __future__ import annotations

import os

from ..errors import DcbError
from ..io.result_dir import verify
from .schema import upgrade
from .html import renderer_for
from .tables import needed_columns

TABLE_EXTENSIONS = (".parquet", ".csv")


def read_result_dir(path: str) -> tuple[dict, dict]:
    """``(summary, tables)`` from a directory written by a dcb command with ``--out``.

    Only the tables the summary's kind can use are loaded (``fibers`` for an audit; see
    :func:`dcb_fast.report.html.register_kind`): ``ambiguous_cases.parquet`` can hold hundreds
    of millions of rows and is never read. A directory whose files are not one run's set (see
    :func:`dcb_fast.io.result_dir.verify`) is refused.
    """
    if os.path.isfile(path) and os.path.basename(path) == "summary.json":
        path = os.path.dirname(path) or "."
    if not os.path.exists(path):
        raise DcbError(f"result directory '{path}' does not exist; pass the --out directory of a dcb command")
    if not os.path.isdir(path):
        raise DcbError(f"'{path}' is not a directory; pass the --out directory of a dcb command "
                       "(it holds summary.json)")
    spath = os.path.join(path, "summary.json")
    if not os.path.isfile(spath):
        raise DcbError(f"no summary.json in '{path}'; pass a directory written by a dcb command with --out")
    summary = upgrade(verify(path), f"'{spath}'")  # refuses a set whose files are not one run's
    tables = {}
    for name in renderer_for(summary.get("kind")).tables:
        for ext in TABLE_EXTENSIONS:
            tpath = os.path.join(path, name + ext)
            if os.path.isfile(tpath):
                tables[name] = _read_table(tpath, ext)
                break
    return summary, tables


def _read_table(path: str, ext: str):
    import pyarrow as pa

    try:
        if ext == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path, columns=needed_columns(pq.read_schema(path).names))
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    except (OSError, pa.ArrowException) as exc:
        raise DcbError(f"cannot read '{path}': {exc}; rerun the command that wrote it, or remove the file") from None
