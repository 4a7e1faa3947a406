"""Sources: files, globs, directories and in-memory tables, read as a stream of record batches
with only the needed columns projected.

Formats: Parquet (``.parquet``, ``.pq``, ``.parq``), Arrow IPC files and streams (``.arrow``,
``.feather``, ``.ipc``, ``.arrows``), CSV (``.csv``, ``.tsv``, optionally ``.gz``/``.bz2``/
``.zst``). A directory input reads only files with these extensions (others, such as a
README.txt, are skipped, counted in the summary's ``input.skipped_files`` and noted on stderr);
a file named explicitly with another extension is recognised by its magic bytes. Before any batch is read,
every file's schema is checked for the needed columns and for types that agree across files, so
a bad input fails in a second, not after an hour.
"""

from __future__ import annotations

import contextlib
import contextvars
import glob as _glob
import hashlib
import os
import re
from dataclasses import dataclass, field
from typing import Iterator

import pyarrow as pa

from ..errors import DcbError
from . import arrow as A

PARQUET, IPC_FILE, IPC_STREAM, CSV = "parquet", "ipc_file", "ipc_stream", "csv"
_EXT = {
    ".parquet": PARQUET, ".pq": PARQUET, ".parq": PARQUET,
    ".arrow": "ipc", ".feather": "ipc", ".ipc": "ipc", ".arrows": "ipc",
    ".csv": CSV, ".tsv": CSV,
}
_COMPRESSED = (".gz", ".bz2", ".zst", ".lz4")
DEFAULT_BATCH_ROWS = 1 << 20


@dataclass
class FileInfo:
    path: str
    format: str
    size: int
    mtime_ns: int
    rows: int | None = None
    schema: pa.Schema | None = None
    digest: str = ""
    delimiter: str = ","

    def describe(self) -> dict:
        return {"path": self.path, "format": self.format, "size": self.size, "rows": self.rows, "digest": self.digest}


@dataclass
class Source:
    """A resolved input: files (or in-memory tables) and the columns to read from them."""

    files: list[FileInfo] = field(default_factory=list)
    tables: list[pa.Table] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    types: dict[str, pa.DataType] = field(default_factory=dict)
    batch_rows: int = DEFAULT_BATCH_ROWS
    skipped: list[str] = field(default_factory=list)  # files in input directories that are not read

    @property
    def total_rows(self) -> int | None:
        if self.tables:
            return sum(t.num_rows for t in self.tables)
        if any(f.rows is None for f in self.files):
            return None
        return sum(f.rows for f in self.files)

    def describe(self) -> dict:
        """Fingerprint of the input: files, sizes, row counts and a digest of each file."""
        if self.tables:
            return {"files": [], "in_memory_rows": self.total_rows, "fingerprint": "in-memory"}
        h = hashlib.sha256()
        for f in self.files:
            h.update(f"{f.size}:{f.rows}:{f.digest}\n".encode())
        return {"files": [f.describe() for f in self.files], "fingerprint": h.hexdigest(),
                "skipped_files": len(self.skipped)}

    def parts(self) -> list[tuple[int, str]]:
        """(part index, label) for every file or table: the units a checkpoint or a cluster
        task works on."""
        if self.tables:
            return [(i, f"<table {i}>") for i in range(len(self.tables))]
        return [(i, f.path) for i, f in enumerate(self.files)]

    def batches(self, columns: list[str] | None = None, parts: list[int] | None = None) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Yield (part index, batch) over the whole input in order, at most ``batch_rows`` rows each."""
        cols = list(columns or self.columns)
        idx = range(len(self.tables) if self.tables else len(self.files)) if parts is None else parts
        for i in idx:
            if self.tables:
                for b in self.tables[i].select(cols).to_batches(max_chunksize=self.batch_rows):
                    yield i, b
            else:
                for b in _read_file(self.files[i], cols, self.batch_rows, self.types):
                    yield i, b


def open_source(spec, columns: list[str], batch_rows: int = DEFAULT_BATCH_ROWS) -> Source:
    """Resolve ``spec`` (path, glob, directory, list of them, or an Arrow/pandas table) and check
    that every part has ``columns`` with types that agree."""
    if batch_rows < 1:
        raise DcbError(f"batch size must be at least 1 row, got {batch_rows}")
    columns = list(dict.fromkeys(columns))
    tables = _as_tables(spec)
    src = Source(columns=columns, batch_rows=batch_rows)
    if tables is not None:
        src.tables = tables
        for t in tables:
            _check_schema(t.schema, columns, "the input table", src.types)
        return src
    paths, src.skipped = _expand(spec)
    if src.skipped:
        import warnings

        n = len(src.skipped)
        shown = ", ".join(os.path.basename(p) for p in src.skipped[:3]) + (", ..." if n > 3 else "")
        warnings.warn(InputNote(f"skipped {n} file{'s' if n != 1 else ''} in the input "
                                f"director{'ies' if len(_dirs(spec)) > 1 else 'y'} without a .parquet, "
                                f".arrow/.feather or .csv extension ({shown})"), stacklevel=2)
    src.files = [_inspect(p) for p in paths]
    for f in src.files:
        _check_schema(f.schema, columns, f.path, src.types)
    return src


def _as_tables(spec) -> list[pa.Table] | None:
    if isinstance(spec, (str, os.PathLike)):
        return None
    if isinstance(spec, (list, tuple)):
        if all(isinstance(s, (str, os.PathLike)) for s in spec):
            return None
        out = []
        for s in spec:
            t = _as_tables(s)
            if t is None:
                raise DcbError("a source list must hold only paths or only tables")
            out += t
        return out
    if isinstance(spec, pa.Table):
        return [spec]
    if isinstance(spec, pa.RecordBatch):
        return [pa.Table.from_batches([spec])]
    if isinstance(spec, pa.RecordBatchReader):
        return [spec.read_all()]
    if hasattr(spec, "__arrow_c_stream__") or type(spec).__name__ == "DataFrame":
        try:
            return [pa.table(spec)]
        except Exception as exc:  # noqa: BLE001 - any conversion failure is the user's input
            raise DcbError(f"cannot read the given {type(spec).__name__} as an Arrow table: {exc}") from None
    raise DcbError(f"cannot read a {type(spec).__name__} as input; pass file paths, a glob, a directory or an Arrow table")


_COLUMN_TYPES: contextvars.ContextVar[dict] = contextvars.ContextVar("dcb_fast_csv_column_types", default={})


@contextlib.contextmanager
def column_types(types: dict):
    """Read CSV columns with the given types instead of inferring them from the first rows
    (``{"code": "string"}``; type names as pyarrow spells them: string, int64, float64, bool,
    date32, timestamp[s], ...). Parquet and Arrow files carry their types and are not affected.
    The CLI's ``--column-type COL=TYPE`` sets this.

    >>> import pyarrow as pa
    >>> with column_types({"code": "string"}):
    ...     current_column_types()
    {'code': DataType(string)}
    """
    parsed = {}
    for col, name in types.items():
        try:
            parsed[col] = name if isinstance(name, pa.DataType) else pa.type_for_alias(str(name).strip())
        except (ValueError, KeyError):
            raise DcbError(f"unknown column type '{name}' for column '{col}'; use string, int64, float64, bool, "
                           "date32 or timestamp[s]") from None
    token = _COLUMN_TYPES.set({**_COLUMN_TYPES.get(), **parsed})
    try:
        yield parsed
    finally:
        _COLUMN_TYPES.reset(token)


def current_column_types() -> dict:
    """The CSV column types set by :func:`column_types` (empty outside it)."""
    return dict(_COLUMN_TYPES.get())


class InputNote(UserWarning):
    """Something about the input or the outputs the user should hear (the CLI prints it as a
    ``note:`` line)."""


def _dirs(spec) -> list[str]:
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    return [os.fspath(i) for i in items if os.path.isdir(os.fspath(i))]


def _expand(spec) -> tuple[list[str], list[str]]:
    """(files to read, files skipped in input directories)."""
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    if not items:
        raise DcbError("no input given; pass one or more files, a glob or a directory")
    paths: list[str] = []
    skipped: list[str] = []
    for item in items:
        s = os.fspath(item)
        if os.path.isdir(s):
            found, other = [], []
            for root, _, files in os.walk(s):
                for f in files:
                    ok = _format_from_name(f) and not f.startswith((".", "_"))
                    (found if ok else other).append(os.path.join(root, f))
            if not found:
                raise DcbError(f"directory '{s}' holds no .parquet, .arrow/.feather or .csv files"
                               + (f" (only {len(other)} other file{'s' if len(other) != 1 else ''}, such as "
                                  f"'{os.path.basename(sorted(other)[0])}')" if other else ""))
            paths += sorted(found)
            skipped += sorted(other)
        elif any(ch in s for ch in "*?["):
            found = sorted(p for p in _glob.glob(s, recursive=True) if os.path.isfile(p))
            if not found:
                raise DcbError(f"no files match '{s}'")
            paths += found
        elif os.path.isfile(s):
            paths.append(s)
        else:
            raise DcbError(f"no such file or directory: '{s}'")
    return list(dict.fromkeys(paths)), skipped


def _format_from_name(name: str) -> str | None:
    low = name.lower()
    for ext in _COMPRESSED:
        if low.endswith(ext):
            low = low[: -len(ext)]
            return CSV if _EXT.get(os.path.splitext(low)[1]) == CSV else None
    return _EXT.get(os.path.splitext(low)[1])


def _sniff(path: str) -> str | None:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head[:4] == b"PAR1":
        return PARQUET
    if head[:6] == b"ARROW1":
        return IPC_FILE
    if head[:4] == b"\xff\xff\xff\xff":
        return IPC_STREAM
    return None


def _inspect(path: str) -> FileInfo:
    try:
        st = os.stat(path)
    except OSError as exc:
        raise DcbError(f"cannot read '{path}': {exc.strerror}") from None
    fmt = _format_from_name(os.path.basename(path))
    if fmt in (None, "ipc"):
        sniffed = _sniff(path)
        if sniffed is None and fmt is None:
            raise DcbError(f"'{path}' is not a Parquet, Arrow IPC or CSV file (unknown extension and no magic bytes); "
                           "rename it with its format's extension")
        fmt = sniffed or IPC_STREAM
    info = FileInfo(path=path, format=fmt, size=st.st_size, mtime_ns=st.st_mtime_ns)
    info.digest = _digest(path, st.st_size)
    if info.size == 0:
        raise DcbError(f"'{path}' is empty (0 bytes); remove it from the input or regenerate it")
    try:
        if fmt == PARQUET:
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(path).metadata
            info.rows = meta.num_rows
            info.schema = meta.schema.to_arrow_schema()
        elif fmt == IPC_FILE:
            with pa.memory_map(path) as src:
                r = pa.ipc.open_file(src)
                info.schema = r.schema
                info.rows = sum(r.get_record_batch(i).num_rows for i in range(r.num_record_batches))
        elif fmt == IPC_STREAM:
            with pa.memory_map(path) as src:
                info.schema = pa.ipc.open_stream(src).schema
        else:
            info.delimiter = "\t" if ".tsv" in path.lower() else ","
            info.schema = _csv_reader(path, None, info.delimiter, 1 << 16, current_column_types()).schema
    except (pa.ArrowException, OSError) as exc:
        raise DcbError(f"cannot read '{path}' as {_FORMAT_NAME[fmt]}: {short_error(exc)}; is the file complete and in that format?") from None
    return info


_FORMAT_NAME = {PARQUET: "Parquet", IPC_FILE: "an Arrow IPC file", IPC_STREAM: "an Arrow IPC stream", CSV: "CSV"}


def short_error(exc: Exception) -> str:
    """The first line of a reader's error, for a one-line message."""
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _digest(path: str, size: int, span: int = 1 << 16) -> str:
    """A cheap content fingerprint: size plus SHA-256 of the first and last 64 KiB."""
    h = hashlib.sha256(str(size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(span))
        if size > span:
            fh.seek(max(span, size - span))
            h.update(fh.read(span))
    return h.hexdigest()[:32]


def _check_schema(schema: pa.Schema, columns: list[str], where: str, types: dict) -> None:
    names = schema.names
    for c in columns:
        if c not in names:
            close = [n for n in names if n.lower() == c.lower()]
            hint = f"; did you mean '{close[0]}'?" if close else f" (it has: {', '.join(names[:12])}{', ...' if len(names) > 12 else ''})"
            raise DcbError(f"{where} has no column '{c}'{hint}")
        t = schema.field(c).type
        A.kind_of(t, c)
        types[c] = A.unify(types.get(c), t, c, where=f" ({where})")


def _csv_reader(path: str, columns, delimiter: str, block: int, types: dict | None = None):
    import pyarrow.csv as pcsv

    read = pcsv.ReadOptions(block_size=block)
    parse = pcsv.ParseOptions(delimiter=delimiter)
    conv = pcsv.ConvertOptions(include_columns=columns, column_types=types or None,
                               strings_can_be_null=True)
    return pcsv.open_csv(path, read_options=read, parse_options=parse, convert_options=conv)


def parquet_batches(info: FileInfo, cols: list[str], batch_rows: int, row_groups=None) -> Iterator[pa.RecordBatch]:
    """Record batches of the columns ``cols`` of a Parquet file (of ``row_groups``, default all).

    String columns come back dictionary-encoded: encoding them then costs one lookup per
    distinct value. ``pre_buffer`` is off: with it, pyarrow keeps every column chunk it has read
    until the file is closed (measured: +7 bytes per row, 0.68 GB over 100M rows), and it was
    no faster."""
    import pyarrow.parquet as pq

    strings = [c for c in cols if A.kind_of(info.schema.field(c).type, c) in (A.STRING, A.BINARY)
               and not pa.types.is_dictionary(info.schema.field(c).type)]
    pf = pq.ParquetFile(info.path, read_dictionary=strings or None, pre_buffer=False)
    return pf.iter_batches(batch_size=batch_rows, columns=cols, row_groups=row_groups, use_threads=True)


def _read_file(info: FileInfo, cols: list[str], batch_rows: int, types: dict) -> Iterator[pa.RecordBatch]:
    try:
        if info.format == PARQUET:
            yield from parquet_batches(info, cols, batch_rows)
        elif info.format in (IPC_FILE, IPC_STREAM):
            with pa.memory_map(info.path) as src:
                if info.format == IPC_FILE:
                    r = pa.ipc.open_file(src)
                    gen = (r.get_batch(i) for i in range(r.num_record_batches))
                else:
                    gen = iter(pa.ipc.open_stream(src))
                for b in gen:
                    b = b.select(cols)
                    for off in range(0, b.num_rows, batch_rows):
                        yield b.slice(off, batch_rows)
        else:
            csv_types = {c: t for c, t in types.items() if c in cols and not pa.types.is_null(t)}
            nulls = {c: pa.string() for c in cols if pa.types.is_null(types.get(c, pa.null()))}
            reader = _csv_reader(info.path, cols, info.delimiter, 1 << 22, {**nulls, **csv_types})
            for b in reader:
                for off in range(0, b.num_rows, batch_rows):
                    yield b.slice(off, batch_rows)
    except (pa.ArrowException, OSError) as exc:
        if info.format == CSV:
            _csv_conversion_error(info, exc)
        raise DcbError(f"cannot read '{info.path}': {short_error(exc)}; the file may be truncated or corrupt") from None


def _csv_conversion_error(info: FileInfo, exc: Exception) -> None:
    """A value that does not fit the type inferred from a CSV column's first rows: name the
    column, the inferred type and the fix (raises; returns for any other error)."""
    m = re.match(r"In CSV column #(\d+): (?:Row #(\d+): )?CSV conversion error to ([^:]+): invalid value '(.*)'",
                 short_error(exc))
    if not m or int(m.group(1)) >= len(info.schema.names):
        return
    col = info.schema.names[int(m.group(1))]
    row = f" (row {int(m.group(2)):,})" if m.group(2) else ""
    raise DcbError(f"CSV column '{col}' of '{info.path}' was read as {m.group(3)} (inferred from its first rows), but "
                   f"it holds '{m.group(4)}'{row}; set its type: --column-type {col}=string (Python: "
                   f"dcb_fast.io.sources.column_types({{'{col}': 'string'}}))") from None
