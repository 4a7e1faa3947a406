"""Write a seeded, production-like request log of any size (bounded memory).

    python scripts/generate_log.py out.parquet --rows 10000000 --seed 0
    python scripts/generate_log.py out.arrow --rows 1000000          # Arrow IPC file
    python scripts/generate_log.py out.csv --rows 100000 --strings plain
    python scripts/generate_log.py preds.parquet --predictions --rows 20000 --models 5   # per-model predictions
    python scripts/generate_log.py tox21.parquet --tox21     # the paper's Tox21 table, 4391 compounds
    python scripts/generate_log.py board.parquet --leaderboard --models 15 --rows 5000  # long leaderboard, rows = items

See ``dcb_fast.tools.synth`` for the columns. The same (seed, rows, chunk rows) always gives the same file.
"""

from __future__ import annotations

import argparse
import time

from dcb_fast.tools.synth import leaderboard, predictions, tox21_table, write_log


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("path")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--chunk-rows", type=int, default=1 << 20)
    ap.add_argument("--row-group-rows", type=int, default=1 << 20)
    ap.add_argument("--strings", choices=["dictionary", "plain"], default="dictionary")
    ap.add_argument("--predictions", action="store_true",
                    help="write a per-model prediction table (model, pred, error, stable) instead of a log")
    ap.add_argument("--models", type=int, default=5, help="with --predictions: how many models (rows each)")
    ap.add_argument("--tox21", action="store_true", help="write the paper's Tox21 table (pattern, sr_p53)")
    ap.add_argument("--leaderboard", action="store_true",
                    help="write a long leaderboard (model, item, pred, reference, error, label): --models x --rows items")
    ap.add_argument("--missing", type=float, default=0.05, help="with --leaderboard: share of items each model lacks")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    if args.leaderboard:
        import pyarrow.parquet as pq

        from dcb_fast.io.writers import atomic_path

        table = leaderboard(models=args.models, items=args.rows, seed=args.seed, missing=args.missing)
        with atomic_path(args.path) as tmp:
            pq.write_table(table, tmp, row_group_size=args.row_group_rows)
        print(f"wrote a leaderboard of {args.models} models x {args.rows:,} items ({table.num_rows:,} rows) to "
              f"{args.path} in {time.perf_counter() - t0:.1f} s")
        return
    if args.predictions or args.tox21:
        import pyarrow.parquet as pq

        from dcb_fast.io.writers import atomic_path

        table = tox21_table() if args.tox21 else predictions(args.rows, args.models, args.seed)
        with atomic_path(args.path) as tmp:
            pq.write_table(table, tmp)
        if args.tox21:
            print(f"wrote the Tox21 table ({table.num_rows:,} compounds) to {args.path}")
            return
        print(f"wrote {args.models} models x {args.rows:,} predictions to {args.path} in {time.perf_counter() - t0:.1f} s")
        return
    write_log(args.path, rows=args.rows, seed=args.seed, chunk_rows=args.chunk_rows,
              row_group_rows=args.row_group_rows, strings=args.strings)
    print(f"wrote {args.rows:,} rows to {args.path} in {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
