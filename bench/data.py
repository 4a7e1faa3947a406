"""Benchmark inputs: generated once by the seeded generator into a cache directory outside git
(``DCB_BENCH_DATA``, default ``.bench-data/`` at the top of the checkout)."""

from __future__ import annotations

import os

from dcb_fast.tools.benchmark import ACTION, EVIDENCE, WEIGHT  # noqa: F401  (one definition, shared with dcb bench)
from dcb_fast.tools.synth import PROBES  # noqa: F401

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GENERATOR_VERSION = 2  # bump when dcb_fast.tools.synth changes, so cached files are regenerated
CALIBRATION_SEED = 1  # the calibration table of the coverage benchmark: another seed than the log


def cache_dir() -> str:
    d = os.environ.get("DCB_BENCH_DATA", os.path.join(ROOT, ".bench-data"))
    os.makedirs(d, exist_ok=True)
    return d


def log_file(rows: int, seed: int = 0, fmt: str = "parquet", directory: str | None = None) -> str:
    """Path of a generated request log with ``rows`` rows (generated on first use)."""
    from dcb_fast.tools.synth import write_log

    d = directory or cache_dir()
    path = os.path.join(d, f"log_v{GENERATOR_VERSION}_{rows}_s{seed}.{fmt}")
    if not os.path.exists(path):
        write_log(path, rows=rows, seed=seed, row_group_rows=min(rows, 1 << 20))
    return path


def calibration_file(rows: int, directory: str | None = None) -> str:
    """A labelled calibration table for coverage: a tenth of the production rows (at least 1000),
    drawn with another seed (same contexts distribution, different draws)."""
    return log_file(max(1000, rows // 10), seed=CALIBRATION_SEED, directory=directory)


def predictions_file(rows: int, seed: int = 0, directory: str | None = None) -> str:
    """``rows`` predictions of one model (``dcb_fast.tools.synth.predictions``: ``pred``, ``error``,
    ``stable``) as Parquet: the numeric evidence of the knn and window benchmarks."""
    import pyarrow.parquet as pq

    from dcb_fast.io.writers import atomic_path
    from dcb_fast.tools.synth import predictions

    d = directory or cache_dir()
    path = os.path.join(d, f"pred_v{GENERATOR_VERSION}_{rows}_s{seed}.parquet")
    if not os.path.exists(path):
        t = predictions(rows_per_model=rows, models=1, seed=seed).drop_columns(["model"])
        with atomic_path(path) as tmp:
            pq.write_table(t, tmp, row_group_size=min(rows, 1 << 20))
    return path


def log_dataset(rows: int, files: int, seed: int = 0, directory: str | None = None) -> str:
    """A directory of ``files`` Parquet files holding ``rows`` rows in all (each its own seed, so
    each file has its own dictionaries)."""
    from dcb_fast.tools.synth import write_log

    d = os.path.join(directory or cache_dir(), f"dataset_v{GENERATOR_VERSION}_{rows}_{files}_s{seed}")
    if not os.path.isdir(d) or len(os.listdir(d)) < files:
        os.makedirs(d, exist_ok=True)
        per = max(1, rows // files)
        for i in range(files):
            p = os.path.join(d, f"part-{i:04d}.parquet")
            if not os.path.exists(p):
                write_log(p, rows=per, seed=seed * 10_000 + i, row_group_rows=min(per, 1 << 20))
    return d


def leaderboard_file(rows: int, models: int = 67, seed: int = 0, directory: str | None = None) -> str:
    """A synthetic long leaderboard (``dcb_fast.tools.synth.leaderboard``) of about ``rows`` rows:
    ``models`` models x ``rows // models`` items (at least 60), 2% of items missing per model."""
    import pyarrow.parquet as pq

    from dcb_fast.io.writers import atomic_path
    from dcb_fast.tools.synth import leaderboard

    items = max(60, rows // models)
    d = directory or cache_dir()
    path = os.path.join(d, f"leaderboard_v{GENERATOR_VERSION}_{models}x{items}_s{seed}.parquet")
    if not os.path.exists(path):
        t = leaderboard(models=models, items=items, seed=seed, missing=0.02)
        with atomic_path(path) as tmp:
            pq.write_table(t, tmp, row_group_size=1 << 20)
    return path
