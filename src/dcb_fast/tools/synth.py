"""Seeded, fast generator of production-like request logs (for the demo, tests and benchmarks).

Each row is a request context: six evidence columns with Zipf-skewed values (cardinalities 5 to
1000, two of them strings; correlated as real contexts are: tenant -> home region -> language,
tenant -> its own few domains), a ``route`` action with three values that depends mostly on the
evidence but also on a hidden factor and some noise (so some fibers are mixed), a ``requests``
weight, probe columns that measure the hidden factor more or less well, a continuous ``score``
with an ``score_err`` error column, a ``day`` and a ``request_id``.

Output depends only on (``seed``, ``rows``, ``chunk_rows``); chunks are generated one at a time
so any size is written in bounded memory.
"""

from __future__ import annotations

import datetime
import os

import numpy as np
import pyarrow as pa
from ..io.writers import atomic_path

LANGS = ["en", "es", "de", "fr", "ja", "pt", "zh", "it", "ko", "nl", "ru", "tr"]
ACTIONS = ["serve", "route", "hold"]
EVIDENCE = ["lang", "domain", "model", "score_bin", "region", "tenant"]
PROBES = ["probe_gpu", "probe_latency", "probe_cache", "probe_noise", "probe_locale"]
CARD = {"lang": len(LANGS), "domain": 200, "model": 5, "score_bin": 20, "region": 50, "tenant": 1000}


def _zipf(rng, card: int, n: int, s: float = 1.1) -> np.ndarray:
    p = 1.0 / np.arange(1, card + 1) ** s
    cdf = np.cumsum(p / p.sum())
    return np.minimum(np.searchsorted(cdf, rng.random(n)), card - 1).astype(np.int32)


def _mix(*cols) -> np.ndarray:
    h = np.full(len(cols[0]), 0x9E3779B9, dtype=np.uint64)
    for c in cols:
        h = (h ^ c.astype(np.uint64)) * np.uint64(0x100000001B3)
        h ^= h >> np.uint64(29)
    return h


def chunk(rows: int, seed: int = 0, index: int = 0, row0: int = 0, strings: str = "dictionary") -> pa.Table:
    """One chunk of the log. ``strings``: 'dictionary' or 'plain' string columns."""
    rng = np.random.default_rng([seed, index])
    c = {k: _zipf(rng, CARD[k], rows) for k in EVIDENCE}
    # contexts are correlated, as in real traffic: a tenant mostly runs from its home region,
    # a region mostly speaks its language, a tenant mostly serves a few domains of its own
    home = (_mix(c["tenant"]) % np.uint64(CARD["region"])).astype(np.int32)
    c["region"] = np.where(rng.random(rows) < 0.9, home, c["region"])
    c["lang"] = np.where(rng.random(rows) < 0.85, (c["region"] * 7) % CARD["lang"], c["lang"]).astype(np.int32)
    own = ((_mix(c["tenant"], np.full(rows, 7)) + _zipf(rng, 4, rows).astype(np.uint64) * np.uint64(37))
           % np.uint64(CARD["domain"])).astype(np.int32)
    c["domain"] = np.where(rng.random(rows) < 0.95, own, c["domain"])
    hidden = rng.integers(0, 4, rows).astype(np.int32)
    base = (_mix(c["lang"], c["domain"], c["score_bin"], c["model"]) % np.uint64(3)).astype(np.int32)
    # where the score is low, the right action depends on a hidden factor the evidence misses
    sensitive = (c["score_bin"] < 3) | (c["model"] == 4)
    action = np.where(sensitive, (base + (hidden >= 2)) % 3, base)
    noise = rng.random(rows) < 0.002
    action = np.where(noise, rng.integers(0, 3, rows), action).astype(np.int32)
    gpu = np.where(rng.random(rows) < 0.9, hidden >= 2, rng.integers(0, 2, rows).astype(bool))
    latency = (hidden * 10 + rng.integers(0, 25, rows)).astype(np.int32) // 10
    score = (c["score_bin"] + rng.random(rows)) / 20.0
    err = np.abs(rng.normal(0.0, 0.03, rows))
    start = datetime.date(2026, 10, 1).toordinal() - datetime.date(1970, 1, 1).toordinal()

    def text(codes, values):
        arr = pa.DictionaryArray.from_arrays(pa.array(codes, pa.int32()), pa.array(values, pa.string()))
        return arr if strings == "dictionary" else arr.cast(pa.string())

    domains = [f"d{i:03d}.example" for i in range(CARD["domain"])]
    return pa.table({
        "request_id": pa.array(np.arange(row0, row0 + rows, dtype=np.int64)),
        "day": pa.array((start + rng.integers(0, 14, rows)).astype(np.int32), pa.date32()),
        "lang": text(c["lang"], LANGS),
        "domain": text(c["domain"], domains),
        "model": pa.array(c["model"].astype(np.int8)),
        "score_bin": pa.array(c["score_bin"].astype(np.int16)),
        "region": pa.array(c["region"].astype(np.int32)),
        "tenant": pa.array(c["tenant"].astype(np.int64)),
        "route": text(action, ACTIONS),
        "requests": pa.array((1 + rng.geometric(0.5, rows) - 1).astype(np.int64)),
        "probe_gpu": pa.array(gpu),
        "probe_latency": pa.array(latency),
        "probe_cache": pa.array((hidden % 2 == 1) ^ (rng.random(rows) < 0.3)),
        "probe_noise": pa.array(rng.integers(0, 3, rows).astype(np.int32)),
        "probe_locale": text((c["lang"] * 3 + rng.integers(0, 3, rows)) % len(LANGS), LANGS),
        "score": pa.array(score),
        "score_err": pa.array(err),
    })


def production_log(rows: int, seed: int = 0, chunk_rows: int = 1 << 20, strings: str = "dictionary"):
    """Yield the log as tables of at most ``chunk_rows`` rows."""
    done, index = 0, 0
    while done < rows:
        n = min(chunk_rows, rows - done)
        yield chunk(n, seed, index, done, strings)
        done += n
        index += 1


def write_log(path: str, rows: int, seed: int = 0, fmt: str | None = None, chunk_rows: int = 1 << 20,
              row_group_rows: int = 1 << 20, strings: str = "dictionary") -> str:
    """Write a generated log to ``path`` (Parquet, Arrow IPC or CSV by extension), atomically."""
    fmt = fmt or {".parquet": "parquet", ".arrow": "ipc", ".feather": "ipc", ".csv": "csv"}.get(
        os.path.splitext(path)[1].lower(), "parquet")
    with atomic_path(path) as tmp:
        writer = None
        try:
            for t in production_log(rows, seed, chunk_rows, strings):
                if writer is None:
                    writer = _writer(tmp, fmt, t.schema, row_group_rows)
                if fmt == "csv":
                    t = pa.table({n: col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col
                                  for n, col in zip(t.column_names, t.columns)})
                writer.write_table(t, **({"row_group_size": row_group_rows} if fmt == "parquet" else {}))
        finally:
            if writer is not None:
                writer.close()
    return path


def _writer(path, fmt, schema, row_group_rows):
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetWriter(path, schema, compression="snappy")
    if fmt == "ipc":
        return pa.ipc.new_file(path, schema)
    if fmt == "csv":
        import pyarrow.csv as pcsv

        plain = pa.schema([pa.field(f.name, f.type.value_type if pa.types.is_dictionary(f.type) else f.type) for f in schema])
        return pcsv.CSVWriter(path, plain)
    raise ValueError(f"unknown format {fmt}")


def predictions(rows_per_model: int = 20_000, models: int = 5, seed: int = 0) -> pa.Table:
    """A materials-screening-like table: for each model, a predicted formation energy
    (``pred``) of each candidate, its error against the true energy (``error``), and the
    deployment label ``stable`` (true energy below 0). Models differ in their error spread, so
    the evidence (the prediction) determines the label only in the tails."""
    rng = np.random.default_rng(seed)
    true = rng.normal(0.3, 0.6, rows_per_model)
    parts = []
    for m in range(models):
        err = rng.normal(0.0, 0.08 + 0.05 * m, rows_per_model)
        parts.append(pa.table({
            "model": pa.array([f"model_{m}"] * rows_per_model),
            "candidate": pa.array(np.arange(rows_per_model, dtype=np.int64)),
            "pred": pa.array(true + err),
            "error": pa.array(err),
            "stable": pa.array(true < 0.0),
        }))
    return pa.concat_tables(parts)


def tox21_table() -> pa.Table:
    """The paper's Tox21 audit table expanded to its 4391 compounds: ``pattern`` (the seven
    nuclear-receptor assay results joined by '|') and ``sr_p53`` (the deployment label)."""
    import pyarrow.csv as pcsv

    here = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "tox21_fibers.csv")
    t = pcsv.read_csv(here, convert_options=pcsv.ConvertOptions(column_types={"benchmark_pattern": pa.string()}))
    pats = t["benchmark_pattern"].to_pylist()
    act = np.asarray(t["deployment_active"].to_pylist(), dtype=np.int64)
    ina = np.asarray(t["deployment_inactive"].to_pylist(), dtype=np.int64)
    reps = np.concatenate([act, ina])
    pattern = np.repeat(np.array(pats + pats, dtype=object), reps)
    label = np.repeat(np.concatenate([np.ones(len(pats), np.int8), np.zeros(len(pats), np.int8)]), reps)
    return pa.table({"pattern": pa.array(pattern, pa.string()), "sr_p53": pa.array(label)})


TOX21_ASSAYS = ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma",
                "SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP", "SR-p53"]


def tox21_compounds() -> pa.Table:
    """The MoleculeNet Tox21 compound table (7831 compounds): ``smiles`` and the 12 assay labels
    as nullable int8 columns (null = not measured), in the file's row order.

    >>> t = tox21_compounds()
    >>> t.num_rows, t.num_columns
    (7831, 13)
    """
    import pyarrow.csv as pcsv

    here = os.path.join(os.path.dirname(os.path.dirname(__file__)), "data", "tox21.csv")
    types = {a: pa.int8() for a in TOX21_ASSAYS}
    types["smiles"] = pa.string()
    return pcsv.read_csv(here, convert_options=pcsv.ConvertOptions(column_types=types))


def leaderboard(models: int = 5, items: int = 2_000, seed: int = 0, missing: float = 0.05,
                grid: float = 1 / 64, ids: str = "int") -> pa.Table:
    """A synthetic leaderboard as a long table (a row per (model, item), SPEC section 6):
    ``model``, ``item``, ``pred`` (the model's predicted property, the evidence), ``reference``
    (the true property), ``error`` (``pred - reference``) and ``label`` (the deployment label,
    true when a second, correlated property of the item exceeds a threshold, as the JARVIS
    replay's band gap > 1 given formation-energy predictions).

    Models differ in quality (error spread grows with the model index, plus a per-model bias);
    values are rounded to multiples of ``grid`` (default 1/64: exact in binary, so sums do not
    depend on their order, and many predictions tie); each model misses a random ``missing``
    share of the items. Rows come model by model in a seeded shuffled item order. ``ids``:
    ``"int"`` (int64 item numbers) or ``"str"`` (``"item-000123"``). Vectorised: 67 models x
    257k items (17M rows) take a few seconds.

    >>> t = leaderboard(models=3, items=100, seed=1)
    >>> t.column_names, sorted(set(t["model"].to_pylist()))
    (['model', 'item', 'pred', 'reference', 'error', 'label'], ['m00', 'm01', 'm02'])
    """
    rng = np.random.default_rng([seed, 19])
    q = (lambda x: np.round(x / grid) * grid) if grid else (lambda x: x)
    ref = q(rng.normal(0.0, 1.0, items))
    label = (0.8 * ref + rng.normal(0.0, 0.6, items)) > 0.5
    spread = np.linspace(0.05, 0.6, models) if models > 1 else np.array([0.2])
    bias = rng.normal(0.0, 0.03, models)
    parts_m, parts_i, parts_p = [], [], []
    for m in range(models):
        keep = np.flatnonzero(rng.random(items) >= missing)
        keep = keep[rng.permutation(len(keep))]
        parts_m.append(np.full(len(keep), m, dtype=np.int32))
        parts_i.append(keep)
        parts_p.append(q(ref[keep] + bias[m] + rng.normal(0.0, spread[m], len(keep))))
    mi = np.concatenate(parts_m) if parts_m else np.zeros(0, np.int32)
    it = np.concatenate(parts_i) if parts_i else np.zeros(0, np.int64)
    pred = np.concatenate(parts_p) if parts_p else np.zeros(0)
    width = max(2, len(str(models - 1)))
    names = pa.array([f"m{m:0{width}d}" for m in range(models)], pa.string())
    model = pa.DictionaryArray.from_arrays(pa.array(mi, pa.int32()), names)  # dictionary: 17M strings are slow
    item = (pa.array(it.astype(np.int64)) if ids == "int"
            else pa.array(np.char.add("item-", np.char.zfill(it.astype(str), 6)).astype(object), pa.string()))
    return pa.table({"model": model, "item": item, "pred": pa.array(pred), "reference": pa.array(ref[it]),
                     "error": pa.array(pred - ref[it]), "label": pa.array(label[it])})
