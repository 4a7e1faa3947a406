"""Write a seeded, production-like request log of any size (bounded memory).

    python scripts/generate_log.py out.parquet --rows 10000000 --seed 0
    python scripts/generate_log.py out.arrow --rows 1000000          # Arrow IPC file
    python scripts/generate_log.py out.csv --rows 100000 --strings plain

See ``dcb_fast.synth`` for the columns. The same (seed, rows, chunk rows) always gives the same file.
"""

from __future__ import annotations

import argparse
import time

from dcb_fast.synth import write_log


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-rows", type=int, default=1 << 20)
    ap.add_argument("--row-group-rows", type=int, default=1 << 20)
    ap.add_argument("--strings", choices=["dictionary", "plain"], default="dictionary")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    write_log(args.path, rows=args.rows, seed=args.seed, chunk_rows=args.chunk_rows,
              row_group_rows=args.row_group_rows, strings=args.strings)
    print(f"wrote {args.rows:,} rows to {args.path} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
