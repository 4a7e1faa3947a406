"""Result directories written as one unit, and read back only when their files agree.

A command's ``--out DIR`` set (``summary.json`` and the tables beside it) is built in a hidden
temporary sibling of ``DIR`` and renamed into place at the end; until that rename ``DIR`` keeps its
previous set, untouched, so an interrupt, a crash or a failed second pass never leaves a mix of two
runs or a partial set. Every file of a set carries the run's fingerprint (the SHA-256 of its summary,
so that re-running the same audit writes byte-identical files): Parquet files in their schema
metadata (``dcb_fast.run``), ``summary.json`` in its ``output``
block, which also lists every file with its size (and, for CSV, which has no metadata, its SHA-256).
:func:`verify` refuses a directory whose files disagree.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import tempfile
import threading

import pyarrow as pa

from ..errors import DcbError
from .sources import InputNote

RUN_KEY = b"dcb_fast.run"
SUMMARY = "summary.json"
TABLE_EXTENSIONS = (".parquet", ".csv")

# the result sets written (renamed into place) by the running command, for the interrupt message
committed: list[str] = []


def record(path: str) -> None:
    """Note an output that is now complete under its name (for the interrupt message)."""
    committed.append(path)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# packages that dcb_fast's dependencies import when they are installed (numba: coverage; pyarrow:
# pandas; the report: matplotlib; ...). A directory of that name where Python starts is imported
# as an empty namespace package when the package is not installed, and the importer then fails
# (numba: "module 'coverage' has no attribute 'types'").
OPTIONAL_IMPORTS = frozenset({"coverage", "pandas", "matplotlib", "scipy", "sklearn", "dask", "distributed", "polars",
                              "duckdb", "psutil", "IPython", "yaml", "cloudpickle", "tbb", "hypothesis", "pytest"})


def shadow_note(path: str) -> str | None:
    """A warning when output directory ``path`` would shadow a package that a dependency imports
    optionally (None otherwise)."""
    import importlib.util
    import sys

    name = os.path.basename(os.path.normpath(path))
    if name not in OPTIONAL_IMPORTS:
        return None
    here = {os.path.realpath(os.path.dirname(os.path.abspath(path))), os.path.realpath(os.getcwd())}
    saved = sys.path[:]
    try:  # is a real package of that name installed (searched without the output's parent)?
        sys.path[:] = [p for p in sys.path if os.path.realpath(p or os.getcwd()) not in here]
        spec = importlib.util.find_spec(name) if name not in sys.modules else sys.modules[name].__spec__
    except (ImportError, ValueError):
        spec = None
    finally:
        sys.path[:] = saved
    if spec is not None and spec.origin not in (None, "namespace"):
        return None
    return (f"output directory '{path}' has the name of the Python package '{name}', which is not installed: Python "
            f"started in '{os.path.dirname(os.path.abspath(path))}' imports the directory instead, and numba or "
            f"pyarrow then fail (e.g. \"module '{name}' has no attribute ...\"); prefer a name such as {name}-out")


def check_out_dir(path: str) -> str:
    """Fail before any data is read when ``path`` cannot receive a result set.

    ``path`` may be missing (it is created), an empty directory, or a result directory of an
    earlier dcb run (it is replaced as a whole, at the end of the run). A directory holding other
    files or subdirectories is refused: replacing it would delete them."""
    if os.path.lexists(path) and not os.path.isdir(path):
        raise DcbError(f"output directory '{path}' exists and is not a directory; choose another --out")
    final = os.path.realpath(path)
    parent = os.path.dirname(final)
    cwd = os.path.realpath(os.getcwd())
    if cwd == final or cwd.startswith(final.rstrip(os.sep) + os.sep):
        raise DcbError(f"output directory '{path}' is (or holds) the current directory, and dcb replaces a result "
                       "directory as a whole; choose a subdirectory such as audit-out")
    try:
        up = parent
        while not os.path.lexists(up):
            up = os.path.dirname(up)
        if not os.path.isdir(up):
            raise NotADirectoryError(20, "Not a directory")
        os.makedirs(parent, exist_ok=True)
    except OSError as exc:
        raise DcbError(f"cannot create output directory '{path}': {exc.strerror}; choose another --out") from None
    why = _unwritable(parent)
    if why:
        raise DcbError(f"cannot write output directory '{path}': its parent '{parent}' is not writable ({why}); "
                       "choose another --out or fix its permissions")
    if os.path.isdir(final):
        if _unwritable(final):
            raise DcbError(f"output directory '{path}' is not writable; choose another --out or fix its permissions")
        entries = sorted(os.listdir(final))
        if entries:
            subdirs = [e for e in entries if os.path.isdir(os.path.join(final, e))]
            if subdirs or not _is_dcb_summary(os.path.join(final, SUMMARY)):
                what = f"subdirectory '{subdirs[0]}'" if subdirs else f"'{entries[0]}' and no dcb summary.json"
                raise DcbError(f"output directory '{path}' holds {what}: it is not a dcb result directory, and dcb "
                               "replaces a result directory as a whole; choose a new or empty --out")
    why = shadow_note(path)
    if why:
        import warnings

        warnings.warn(InputNote(why), stacklevel=2)
    return path


def check_out_file(path: str, what: str = "certificate", example: str = "cert.arrow") -> str:
    """Fail before any data is read when the single output file ``path`` could not be written:
    it is a directory, its directory is missing, or that directory is not writable."""
    if os.path.isdir(path):
        raise DcbError(f"{what} path '{path}' is a directory; give a file name such as "
                       f"{os.path.join(path, example)}")
    d = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(d):
        raise DcbError(f"cannot write {what} '{path}': directory '{d}' does not exist; create it or choose "
                       "another --out")
    why = _unwritable(d)
    if why:
        raise DcbError(f"cannot write {what} '{path}': directory '{d}' is not writable ({why}); choose another "
                       "--out or fix its permissions")
    return path


def _unwritable(d: str) -> str | None:
    """Why files cannot be created in directory ``d`` (None when they can): a real probe, since
    permission bits do not tell for root or a read-only filesystem."""
    try:
        probe = tempfile.mkdtemp(prefix=".dcb-probe-", dir=d)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.rmdir(probe)
    return None


def _is_dcb_summary(path: str) -> bool:
    try:
        with open(path, encoding="utf-8") as fh:
            s = json.load(fh)
    except (OSError, ValueError):
        return False
    return isinstance(s, dict) and "dcb_fast_version" in s and "kind" in s


class ResultDir:
    """A result set under construction: files go to a temporary sibling of ``path``; :meth:`commit`
    writes ``summary`` as ``summary.json`` and renames the set into place (the previous set is kept
    until then). The run fingerprint is the SHA-256 of ``summary`` (canonical JSON).

    >>> import tempfile, os, pyarrow as pa
    >>> d = os.path.join(tempfile.mkdtemp(), "out")
    >>> with ResultDir(d, {"kind": "audit", "dcb_fast_version": "0"}) as rd:
    ...     _ = rd.table("fibers", pa.table({"x": [1, 2]}))
    ...     paths = rd.commit()
    >>> sorted(os.listdir(d)), verify(d)["output"]["run"] == rd.run
    (['fibers.parquet', 'summary.json'], True)
    """

    def __init__(self, path: str, summary: dict):
        check_out_dir(path)
        self.path = path
        self.final = os.path.realpath(path)
        self.summary = summary
        canonical = json.dumps(summary, sort_keys=True, allow_nan=False, separators=(",", ":"))
        self.run = hashlib.sha256(canonical.encode()).hexdigest()[:32]
        self.files: dict[str, str] = {}  # file name -> final path
        base = os.path.basename(self.final)
        try:
            self.tmp = tempfile.mkdtemp(prefix=f".{base}.dcb-", suffix=".tmp", dir=os.path.dirname(self.final))
        except OSError as exc:
            raise DcbError(f"cannot write output directory '{path}': {exc.strerror}; choose another --out") from None
        os.chmod(self.tmp, 0o777 & ~_umask())  # mkdtemp creates 0700; outputs get the usual permissions
        self.done = False

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        if not self.done:
            self.abort()
        return False

    def abort(self) -> None:
        """Remove the temporary set; the previous set (if any) stays as it was."""
        shutil.rmtree(self.tmp, ignore_errors=True)
        self.done = True

    def _name(self, name: str) -> str:
        self.files[name] = os.path.join(self.path, name)
        return os.path.join(self.tmp, name)

    def metadata(self, schema: pa.Schema) -> pa.Schema:
        """``schema`` with this run's fingerprint in its metadata."""
        return schema.with_metadata({**(schema.metadata or {}), RUN_KEY: self.run.encode()})

    def table(self, stem: str, table: pa.Table, fmt: str = "parquet") -> str:
        """Write ``table`` as ``stem.parquet`` (or ``.csv``) in the set; returns its final path."""
        name = f"{stem}.{fmt}"
        tmp = self._name(name)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            pq.write_table(table.replace_schema_metadata(self.metadata(table.schema).metadata), tmp,
                           compression="zstd")
        elif fmt == "csv":
            import pyarrow.csv as pcsv

            plain = pa.table({n: _plain(c) for n, c in zip(table.column_names, table.columns)})
            pcsv.write_csv(plain, tmp)
        else:
            self.files.pop(name)
            raise DcbError(f"unknown table format '{fmt}'; use parquet or csv")
        return self.files[name]

    def stream(self, stem: str, schema: pa.Schema):
        """An incrementally written ``stem.parquet`` in the set (``write(table)``, ``close()``)."""
        import pyarrow.parquet as pq

        return _Stream(pq.ParquetWriter(self._name(f"{stem}.parquet"), self.metadata(schema), compression="zstd"))

    def commit(self) -> dict:
        """Write ``summary.json`` (with the ``output`` block) and rename the set into place.
        Returns the final paths, by file stem (``summary`` last)."""
        files = {}
        for name in self.files:
            p = os.path.join(self.tmp, name)
            entry = {"bytes": os.path.getsize(p)}
            if name.endswith(".csv"):
                entry["sha256"] = _sha256(p)
            files[name] = entry
        out = {**self.summary, "output": {"run": self.run, "files": files}}
        with open(os.path.join(self.tmp, SUMMARY), "w", encoding="utf-8") as fh:
            json.dump(out, fh, indent=2, sort_keys=False, allow_nan=False)
            fh.write("\n")
        paths = {os.path.splitext(n)[0]: p for n, p in self.files.items()}
        paths["summary"] = os.path.join(self.path, SUMMARY)
        with _deferred_interrupt():
            old = None
            if os.path.isdir(self.final):
                old = tempfile.mkdtemp(prefix=f".{os.path.basename(self.final)}.dcb-old-", dir=os.path.dirname(self.final))
                os.replace(self.final, os.path.join(old, "set"))
            try:
                os.replace(self.tmp, self.final)
            except OSError:
                if old is not None:  # put the previous set back: DIR never ends up missing
                    os.replace(os.path.join(old, "set"), self.final)
                    os.rmdir(old)
                raise
            self.done = True
            record(self.path)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return paths


class _Stream:
    def __init__(self, writer):
        self._writer = writer
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table.replace_schema_metadata(self._writer.schema.metadata))
            self.rows += table.num_rows

    def close(self, ok: bool = True) -> None:
        self._writer.close()


@contextlib.contextmanager
def _deferred_interrupt():
    """Hold back Ctrl-C while the set is swapped in (two renames), then deliver it."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []
    previous = signal.signal(signal.SIGINT, lambda sig, frame: pending.append(sig))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pending:
        raise KeyboardInterrupt


def verify(path: str) -> dict:
    """The summary of result directory ``path``, after checking that its files are one run's set.

    Refuses a directory whose tables were written by another run than its ``summary.json``
    (fingerprints differ), whose listed files are missing or changed size (or content, for CSV),
    or that holds a table its summary does not list."""
    spath = os.path.join(path, SUMMARY)
    try:
        with open(spath, encoding="utf-8") as fh:
            summary = json.load(fh)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DcbError(f"cannot read '{spath}': {exc}; rerun the command that wrote it") from None
    out = summary.get("output") if isinstance(summary, dict) else None
    run = out.get("run") if isinstance(out, dict) else None
    listed = out.get("files", {}) if isinstance(out, dict) else {}
    fix = "the directory mixes files of different runs; rerun the command that wrote it"
    for name in sorted(os.listdir(path)):
        p = os.path.join(path, name)
        if not name.endswith(TABLE_EXTENSIONS) or not os.path.isfile(p):
            continue
        if run is None:  # a summary from before fingerprints: only refuse a table that has one
            if _file_run(p) is not None:
                raise DcbError(f"'{p}' belongs to another run than '{spath}'; {fix}")
            continue
        if name not in listed:
            raise DcbError(f"'{p}' is not part of the run recorded in '{spath}'; {fix}")
    if run is None:
        return summary
    for name, entry in listed.items():
        p = os.path.join(path, name)
        if not os.path.isfile(p):
            raise DcbError(f"'{p}' is missing: '{spath}' lists it; {fix}")
        if os.path.getsize(p) != entry.get("bytes"):
            raise DcbError(f"'{p}' has {os.path.getsize(p):,} bytes, '{spath}' recorded {entry.get('bytes'):,}; {fix}")
        if "sha256" in entry and _sha256(p) != entry["sha256"]:
            raise DcbError(f"'{p}' changed since '{spath}' was written (SHA-256 differs); {fix}")
        if name.endswith(".parquet") and _file_run(p) != run:
            raise DcbError(f"'{p}' belongs to another run than '{spath}' (run fingerprints differ); {fix}")
    return summary


def _file_run(path: str) -> str | None:
    """The run fingerprint in a Parquet file's schema metadata (None without one, or for CSV)."""
    try:
        if path.endswith(".parquet"):
            import pyarrow.parquet as pq

            meta = pq.read_schema(path).metadata
        else:
            return None
    except (OSError, pa.ArrowException) as exc:
        raise DcbError(f"cannot read '{path}': {str(exc).splitlines()[0]}; rerun the command that wrote it") from None
    raw = (meta or {}).get(RUN_KEY)
    return raw.decode() if raw else None


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _plain(col):
    if pa.types.is_dictionary(col.type):
        return col.cast(col.type.value_type)
    return col
