"""Sensitivity sweep: how the audit of one numeric evidence column depends on the fiber rule
(SPEC section 3), for one or many models.

The column, its action (and weight, error and model columns) are read in one pass; every rule
of the paper's standard set then runs on the data in memory: quantile bins {5, 10, 20, 40},
kNN windows {25, 50, 100}, and tolerance windows at the MAE and the 80th percentile of |error|
when an error column is given.
"""

from __future__ import annotations

import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .. import engines
from ..core.summary import envelope
from ..errors import DcbError
from ..fibers.state import FiberState
from ..io import arrow as A
from ..io.sources import DEFAULT_BATCH_ROWS, open_source
from ..core.results import Result
from ..fibers.finalize import summarize, zero_weight_message
from ..core.rules import Edges, Quantile, Window, parse_rule
from .windows import Column
from .windows import load_column

STANDARD_RULES = ["quantile:5", "quantile:10", "quantile:20", "quantile:40", "knn:25", "knn:50", "knn:100"]
ERROR_RULES = ["window:mae", "window:q80"]
_FIELDS = ["certifiable_fraction", "ambiguous_fraction", "thin_fraction", "n_fibers", "n_mixed_fibers",
           "median_fiber_size"]


class SweepResult(Result):
    """``summary`` (kind "sweep") and ``table`` (one row per model and rule)."""

    FILES = {"table": "sweep"}

    def __init__(self, summary: dict, table: pa.Table):
        super().__init__(summary)
        self.table = table


def sweep(source, evidence: str, action: str, error: str | None = None, weight: str | None = None,
          group_by: str | None = None, per_file: bool = False, rules=None, min_support: int = 1,
          thin: str = "ambiguous", batch_rows: int = DEFAULT_BATCH_ROWS, threads: int | None = None,
          scheduler=None, checkpoint: str | None = None) -> SweepResult:
    """Audit ``evidence`` under each fiber rule, per model.

    Models are the values of ``group_by``, or the input files with ``per_file=True``, or the
    whole input. ``rules`` defaults to the standard set (plus the error windows when ``error``
    is given). Returns one row per model and rule, and the median and mean over models.

    The input is counted into cells (model, value, weight, error; per action) on the engine
    ``scheduler`` and ``checkpoint`` choose (:func:`dcb_fast.engines.run`); every rule then runs
    on each model's rows, rebuilt from the cells, in this process.

    >>> t = pa.table({"e": [0.1 * i for i in range(200)], "y": [i // 50 for i in range(200)]})
    >>> r = sweep(t, "e", "y", rules=["quantile:4", "knn:25"])
    >>> [(row["rule"], row["certifiable_fraction"]) for row in r.metrics["rows"]]
    [('quantile:4', 1.0), ('knn:25', 0.64)]
    """
    if isinstance(evidence, (list, tuple)):
        if len(evidence) != 1:
            raise DcbError("a sweep audits one numeric evidence column; pass exactly one --evidence column")
        evidence = evidence[0]
    if action == evidence:
        raise DcbError(f"action column '{action}' is also the evidence column")
    if group_by and per_file:
        raise DcbError("models come either from --group-by or from --per-file, not both")
    specs = list(rules) if rules else STANDARD_RULES + (ERROR_RULES if error else [])
    parsed = []
    for s in specs:
        if s in ERROR_RULES:
            if not error:
                raise DcbError(f"rule {s} needs an error column; pass --error COLUMN")
            parsed.append((s, s.split(":")[1]))
        else:
            r = parse_rule(s)
            if r.name not in ("quantile", "knn", "window", "edges", "width"):
                raise DcbError(f"rule {s} is not a rule for a numeric column in a sweep")
            parsed.append((s, r))
    cols = [evidence, action] + [c for c in (weight, error, group_by) if c]
    src = open_source(source, cols, batch_rows)
    models, run = _read_models(src, evidence, action, weight, error, group_by, per_file, threads, scheduler, checkpoint)

    rows = []
    for name in sorted(models, key=_natural):
        table = pa.Table.from_batches(models[name]["batches"]) if models[name]["batches"] else None
        rows += _sweep_one(name, table, evidence, action, weight, error, parsed, min_support, thin)
    if not rows:
        raise DcbError("empty input: no rows to sweep")
    out = pa.table({k: [r[k] for r in rows] for k in ["model", "rule", "tolerance"] + _FIELDS})
    by_rule = []
    for spec, _ in parsed:
        sel = [r for r in rows if r["rule"] == spec]
        cf = [r["certifiable_fraction"] for r in sel]
        af = [r["ambiguous_fraction"] for r in sel]
        by_rule.append({"rule": spec, "models": len(sel),
                        "median_certifiable": float(np.median(cf)), "mean_certifiable": float(np.mean(cf)),
                        "median_ambiguous": float(np.median(af)), "mean_ambiguous": float(np.mean(af))})
    summary = envelope("sweep", {"evidence": evidence, "action": action, "weight": weight, "error": error,
                       "group_by": group_by, "per_file": per_file, "rules": [s for s, _ in parsed],
                       "min_support": min_support, "thin": thin},
                       input=src.describe(),
                       metrics={"models": len(models), "rows": rows, "by_rule": by_rule},
                       headline=_headline(by_rule, len(models)))
    result = SweepResult(summary, out)
    result.run_info = run
    return result


_PART = "__dcb_part"  # the key column of --per-file models: each part's file name


def _read_models(src, evidence, action, weight, error, group_by, per_file, threads, scheduler,
                 checkpoint) -> tuple[dict, dict]:
    """{model name: {"batches": [its rows]}} and the engine's run info, from one counting pass
    into cells keyed by the model (``group_by`` or the file), the value, the weight and the
    error, per action, with nulls kept (``load_column`` drops them as it reads). A model's rows
    come back from its cells, a cell's row repeated ``count`` times: every rule of the sweep is a
    function of the multiset of rows (windows and bins depend on values only, never row order)."""
    model_col = group_by or (_PART if per_file else None)
    key = list(dict.fromkeys(([model_col] if model_col else []) + [evidence] + [c for c in (weight, error) if c]))
    spec = engines.PartialSpec.of(src, key, action, None, "value", None, part_column=_PART if per_file else None,
                                  weight_keys=[weight] if weight else ())
    state, run = engines.run(src, spec, scheduler=scheduler, checkpoint=checkpoint, threads=threads)
    keys, counts, _, _ = state.table_arrays()
    atom, act = np.nonzero(counts)
    rep = counts[atom, act]
    rows, acts = np.repeat(atom, rep), np.repeat(act, rep)
    table = pa.table({**{c: state.encoders[j].values().take(pa.array(keys[rows, j])) for j, c in enumerate(key)},
                      action: state.action_encoder.values().take(pa.array(acts))})
    models: dict[str, dict[str, list]] = {}
    if model_col is None:
        if table.num_rows:
            models["all"] = {"batches": table.to_batches()}
        return models, run
    mcodes = keys[rows, 0]
    order = np.argsort(mcodes, kind="stable")
    bounds = np.searchsorted(mcodes[order], np.arange(len(state.encoders[0]) + 1))
    for m, value in enumerate(state.encoders[0].values().to_pylist()):
        if bounds[m + 1] == bounds[m]:
            continue
        if per_file:
            name = os.path.splitext(value)[0]
        else:
            name = "null" if value is None else str(value)
        piece = table.take(pa.array(order[bounds[m]:bounds[m + 1]]))
        models.setdefault(name, {"batches": []})["batches"].extend(piece.to_batches())
    return models, run


def _sweep_one(name, table, evidence, action, weight, error, parsed, min_support, thin) -> list[dict]:
    col = load_column([(0, b) for b in table.to_batches()], evidence, action, weight)
    if col.n == 0:
        return []
    if weight and not (col.weights > 0).any():
        raise DcbError((f"model {name}: " if name != "all" else "") + zero_weight_message(weight, col.n))
    err_abs = None
    if error:
        e = A.np_values(pc.cast(A.as_array(table[error].combine_chunks()), pa.float64()), nan_nulls=True)
        err_abs = np.abs(e[~np.isnan(e)])
    out = []
    for spec, rule in parsed:
        tol = None
        if isinstance(rule, str):  # window at the MAE / 80th percentile of |error| of this model
            if err_abs is None or len(err_abs) == 0:
                raise DcbError(f"model {name}: error column '{error}' has no values for {spec}")
            tol = math.fsum(err_abs) / len(err_abs) if rule == "mae" else float(np.quantile(err_abs, 0.8))
            rule = Window(tol=tol)
        if rule.overlapping:
            m = col.metrics(rule, min_support, thin)
            med = m["median_window_size"]
            if isinstance(rule, Window):
                tol = rule.tol
        else:
            if isinstance(rule, Quantile):  # binned at numpy's quantiles of the in-memory column
                edges = np.unique(np.quantile(col.values, np.linspace(0, 1, rule.n_bins + 1)))
                rule = Edges(edges if len(edges) > 1 else [edges[0], edges[0]], source=spec)
            m = _binned(col, rule, min_support, thin)
            med = m["fiber_size"]["median"]
        out.append({"model": name, "rule": spec, "tolerance": tol,
                    **{k: m[k] for k in _FIELDS[:-1]}, "median_fiber_size": float(med)})
    return out


def _binned(col: Column, rule, min_support, thin) -> dict:
    """Audit metrics of the column's values binned by ``rule`` (through the fiber engine)."""
    bins = rule.apply(pa.array(col.values), "value")
    t = {"bin": bins, "action": col.actions.take(pa.array(col.acodes))}
    if len(col.weights):
        t["w"] = pa.array(col.weights)
    st = FiberState(["bin"], "action", "w" if len(col.weights) else None, shards=1)
    st.update(pa.table(t))
    metrics, _ = summarize(st, min_support, thin, keep=False)
    return metrics


def _natural(s: str):
    try:
        return (0, float(s), s)
    except ValueError:
        return (1, 0.0, s)


def _headline(by_rule: list[dict], n_models: int) -> str:
    parts = [f"{r['rule']}: {r['median_certifiable']:.1%}" for r in by_rule]
    who = f"median over {n_models} models" if n_models > 1 else "certifiable"
    return f"{who}: " + ", ".join(parts)
