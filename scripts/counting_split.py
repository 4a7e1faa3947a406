"""Time split of an audit of the bench log from an in-memory Arrow table: encode (and the rest of
``update``), hash, scatter, aggregate (``fiber_tables.Partitions.seconds``), finalize.

    python scripts/counting_split.py LOG.parquet [ROUNDS] [NAME=VALUE ...]

``NAME=VALUE`` overrides a constant of ``dcb_fast.fibers.store`` (``ROWS_PER_PART``,
``PENDING_ROWS``, ...). With ``SPLIT_CPU=1`` in the environment it counts on one thread and
reports that thread's CPU time per step, which a busy shared machine disturbs less than wall time.
"""

import os
import sys
import time
import types

import pyarrow.parquet as pq

import dcb_fast.fibers.store as FT
from dcb_fast.methods.audit import AuditResult
from dcb_fast.tools.benchmark import ACTION, EVIDENCE, WEIGHT, audit_ours
from dcb_fast.fibers.state import FiberState


def main(argv):
    path, rounds = argv[0], int(argv[1]) if len(argv) > 1 else 3
    for kv in argv[2:]:
        k, v = kv.split("=")
        setattr(FT, k, int(v))
    cpu = os.environ.get("SPLIT_CPU") == "1"
    clock = time.thread_time if cpu else time.perf_counter
    if cpu:
        FT.time = types.SimpleNamespace(perf_counter=time.thread_time)
    table = pq.read_table(path, columns=EVIDENCE + [ACTION, WEIGHT])
    audit_ours(table.slice(0, 200_000))  # compiles (or loads) the kernels first
    for _ in range(rounds):
        t0 = clock()
        st = FiberState(EVIDENCE, ACTION, WEIGHT, expected_rows=table.num_rows, shards=1 if cpu else None)
        for b in table.to_batches(max_chunksize=1 << 20):
            st.update(b)
        st.flush()
        t1 = clock()
        AuditResult.from_state(st)
        t2 = clock()
        s = st._parts.seconds
        print(f"total {t2 - t0:.3f} encode+rest {(t1 - t0) - sum(s.values()):.3f} "
              + " ".join(f"{k} {v:.3f}" for k, v in s.items())
              + f" finalize {t2 - t1:.3f} partitions {st._parts.tables.parts} fibers {st.n_fibers}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
