"""Atomic output: every file is written to a temporary name in its directory and renamed into
place, so a crash or a full disk never leaves a half-written output behind."""

from __future__ import annotations

import contextlib
import os
import tempfile

import pyarrow as pa

from ..errors import DcbError

_UMASK = os.umask(0)
os.umask(_UMASK)


def prepare_dir(path: str) -> str:
    """Create the output directory if needed and check that it is writable."""
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as exc:
        raise DcbError(f"cannot create output directory '{path}': {exc.strerror}; choose another --out") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise DcbError(f"output directory '{path}' is not writable; choose another --out or fix its permissions")
    return path


@contextlib.contextmanager
def atomic_path(path: str):
    """Yield a temporary path next to ``path``; on success rename it to ``path``."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".tmp", dir=d)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; outputs get the usual permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


class ParquetStream:
    """An incrementally written Parquet file that appears under its name only when closed."""

    def __init__(self, path: str, schema: pa.Schema):
        import pyarrow.parquet as pq

        self._ctx = atomic_path(path)
        self._tmp = self._ctx.__enter__()
        self._writer = pq.ParquetWriter(self._tmp, schema, compression="zstd")
        self.rows = 0

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows

    def close(self, ok: bool = True) -> None:
        self._writer.close()
        if ok:
            self._ctx.__exit__(None, None, None)
        else:
            self._ctx.__exit__(RuntimeError, RuntimeError("aborted"), None)
