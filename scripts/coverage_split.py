"""Time split of the coverage benchmark: certify the calibration log, then look the production
log up in the certificate (``methods.coverage_lookup``), each step timed in the calling thread
(wall seconds), median over the rounds after the first; reading the same columns alone for
reference.

    python scripts/coverage_split.py CALIBRATION.parquet PRODUCTION.parquet [ROUNDS]

(the bench inputs: ``$DCB_BENCH_DATA/log_v2_1000000_s1.parquet`` and
``$DCB_BENCH_DATA/log_v2_10000000_s0.parquet``, written by ``bench/data.py``). Steps: coding the
evidence against the certificate's dictionaries (map), hash + scatter and probe + sums (look up),
grouping the unseen rows, finalize (figures and the top-uncovered table), and the rest (waiting
for the reader, takes, Python).
"""

import statistics
import sys
import time

import dcb_fast
import dcb_fast.fibers.state as FS
import dcb_fast.methods.coverage as C
from dcb_fast.engines.local import prefetch
from dcb_fast.io.sources import open_source
from dcb_fast.methods import coverage_lookup as M
from dcb_fast.methods.certify import Certificate
from dcb_fast.tools.benchmark import ACTION, EVIDENCE, WEIGHT

STEPS = {"scatter": "look up: hash + scatter", "probe": "look up: probe + sums"}


def main(argv):
    cal, prod = argv[0], argv[1]
    rounds = int(argv[2]) if len(argv) > 2 else 4
    spent: dict[str, float] = {}

    def timed(fn, name):
        def run(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                key = STEPS.get(getattr(a[0], "__name__", ""), "map (codes)") if name is None else name
                spent[key] = spent.get(key, 0.0) + time.perf_counter() - t
        return run

    M.parallel_map = timed(M.parallel_map, None)  # the scatter, the probe and the column coding
    M.figures = timed(M.figures, "finalize")
    C._uncovered_table = timed(C._uncovered_table, "finalize")
    update = FS.FiberState.update
    cols = list(EVIDENCE) + [ACTION, WEIGHT]
    runs = []
    for r in range(rounds):
        t0 = time.perf_counter()
        audited = dcb_fast.audit(cal, evidence=list(EVIDENCE), action=ACTION, weight=WEIGHT, min_support=5)
        t1 = time.perf_counter()
        cert = Certificate.from_audit(audited)
        t2 = time.perf_counter()
        for _ in prefetch(open_source(prod, cols).batches(cols)):
            pass
        t3 = time.perf_counter()
        spent.clear()
        FS.FiberState.update = timed(update, "unseen rows: grouping")  # only the unseen rows' state counts
        dcb_fast.coverage(cert, prod, weight=WEIGHT, action=ACTION)
        t4 = time.perf_counter()
        FS.FiberState.update = update
        row = {"certify: audit of the calibration log": t1 - t0, "certify: certificate from the audit": t2 - t1,
               "read only (same columns)": t3 - t2, "coverage total": t4 - t3, **spent}
        row["coverage: rest (reading waits, takes, Python)"] = row["coverage total"] - sum(spent.values())
        print(f"round {r}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
        if r or rounds == 1:
            runs.append(row)
    print(f"median of {len(runs)} rounds:")
    for k in runs[0]:
        print(f"  {k:48s} {statistics.median(x.get(k, 0.0) for x in runs):.3f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
