"""Audit throughput: ours vs DuckDB, Polars and pyarrow on the same Parquet file, same run; the
in-memory variant next to this machine's memory bandwidth.

    python -m pytest bench/test_audit.py --bench-rows 10000000 --benchmark-json bench.json
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .cases import CASES
from .data import ACTION, EVIDENCE, WEIGHT, log_file
from .util import ROUNDS, engines, function, record

CASE = CASES["audit"]


@pytest.fixture(scope="module")
def parquet(bench_rows):
    return log_file(bench_rows)


@pytest.fixture(scope="module")
def table(parquet):
    return pq.read_table(parquet, columns=EVIDENCE + [ACTION, WEIGHT])


@pytest.fixture(scope="module")
def reference(parquet, table):
    CASE.ours(table.slice(0, 200_000))  # warms the JIT before any timing
    return CASE.ours(parquet)


@pytest.mark.parametrize("engine", engines(CASE))
def test_audit_end_to_end(benchmark, engine, parquet, table, reference):
    benchmark.group = "audit: Parquet file to summary"
    result = benchmark.pedantic(function(CASE, engine), args=(parquet,), rounds=ROUNDS, iterations=1)
    CASE.compare(reference, result)
    record(benchmark, "audit_file", engine, table.num_rows, os.path.getsize(parquet), mode="end_to_end")


@pytest.mark.parametrize("engine", engines(CASE))
def test_audit_compute_only(benchmark, engine, table, reference):
    benchmark.group = "audit: in-memory Arrow table to summary"
    result = benchmark.pedantic(function(CASE, engine), args=(table,), rounds=ROUNDS, iterations=1)
    CASE.compare(reference, result)
    record(benchmark, "audit_memory", engine, table.num_rows, table.nbytes, mode="compute_only")


@pytest.fixture(scope="module")
def ipc_file(parquet, table):
    """The used columns as an uncompressed Arrow IPC file next to the Parquet file."""
    path = parquet[: -len(".parquet")] + "_used.arrow"
    if not os.path.exists(path):
        with pa.OSFile(path + ".tmp", "wb") as f, pa.ipc.new_file(f, table.schema) as w:
            w.write_table(table, max_chunksize=1 << 20)
        os.replace(path + ".tmp", path)
    return path


def touch_columns(path) -> int:
    """The floor of an audit of a memory-mapped IPC file: map it and read every byte of every
    buffer of the used columns once (an xor over 8-byte words)."""
    acc = 0
    with pa.memory_map(path) as src:
        t = pa.ipc.open_file(src).read_all()
        for col in t.columns:
            for chunk in col.chunks:
                for arr in (chunk, chunk.dictionary) if pa.types.is_dictionary(chunk.type) else (chunk,):
                    for buf in arr.buffers():
                        if buf is not None and buf.size >= 8:
                            acc ^= int(np.bitwise_xor.reduce(np.frombuffer(buf, np.uint64, buf.size // 8)))
    return acc


def test_audit_ipc(benchmark, ipc_file, table, reference):
    """Ours on a memory-mapped Arrow IPC file of the used columns (no decoding: the floor is
    touching the columns, :func:`touch_columns`)."""
    benchmark.group = "audit: memory-mapped Arrow IPC file to summary"
    result = benchmark.pedantic(function(CASE, "dcb_fast"), args=(ipc_file,), rounds=ROUNDS, iterations=1)
    CASE.compare(reference, result)
    record(benchmark, "audit_ipc", "dcb_fast", table.num_rows, os.path.getsize(ipc_file), mode="ipc_mmap")


def test_touch_ipc(benchmark, ipc_file, table):
    benchmark.group = "audit: memory-mapped Arrow IPC file to summary"
    benchmark.pedantic(touch_columns, args=(ipc_file,), rounds=ROUNDS, iterations=1)
    record(benchmark, "audit_ipc", "touch", table.num_rows, os.path.getsize(ipc_file), mode="touch")


def test_read_only(benchmark, parquet):
    """The floor of the end-to-end audit: reading just the needed columns with pyarrow."""
    benchmark.group = "audit: Parquet file to summary"
    t = benchmark.pedantic(pq.read_table, args=(parquet,), kwargs={"columns": EVIDENCE + [ACTION, WEIGHT]},
                           rounds=ROUNDS, iterations=1)
    record(benchmark, "audit_file", "pyarrow-read", t.num_rows, os.path.getsize(parquet), mode="read_only",
           reference_only=True)


def test_memory_bandwidth(benchmark):
    """This machine's memory bandwidth in the same run: numpy copies 1 GiB into a pre-faulted
    array (one thread); bytes/s counts the bytes read plus the bytes written."""
    benchmark.group = "memory bandwidth"
    src = np.ones(1 << 27, dtype=np.float64)
    dst = np.zeros_like(src)
    np.copyto(dst, src)  # touch every page of both arrays before timing
    benchmark.pedantic(np.copyto, args=(dst, src), rounds=ROUNDS, iterations=1)
    record(benchmark, "memory_bandwidth", "numpy-copy", src.size, 2 * src.nbytes, copy_bytes=src.nbytes)
