"""Why is this fiber mixed? (issue 18, item 4)

An audit finds the heaviest mixed fibers; a second streaming pass collects their rows; among the
log's other columns (or the given probes), the one with the largest information gain about the
action inside each fiber is named, with the split it induces (per value: rows, weight, actions)
and example rows (the id column, or row positions) per action: the view for whoever owns that
traffic.

Information gain (bits, weighted by the weight column): ``H(action | fiber) - sum_v w_v / w *
H(action | fiber, column = v)``, with exact column values (null is a value). A column that
takes a different value on every row of a fiber of three rows or more separates it trivially
(an id, a timestamp) and is not ranked for that fiber. Ties go to the column with fewer values,
then to the name first in order.
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa

from ..core.summary import envelope
from ..errors import DcbError
from ..io.sources import Source, open_source
from ..fibers.finalize import action_key
from ..core.results import Result
from ..core.validation import check_columns
from .audit import audit

MAX_SPLIT_VALUES = 10


def _entropy(weights) -> float:
    w = np.asarray([x for x in weights if x > 0], dtype=np.float64)
    if len(w) < 2:
        return 0.0
    p = w / w.sum()
    return float(-(p * np.log2(p)).sum())


def _common_columns(src: Source) -> list[str]:
    schemas = [f.schema for f in src.files] + [t.schema for t in src.tables]
    names = list(schemas[0].names)
    return [c for c in names if all(c in s.names for s in schemas[1:])]


def explain(source, evidence, action, weight=None, id=None, probes=None, top_k: int = 10, examples: int = 3,
            min_support: int = 1, nulls: str = "drop", rules=None, **audit_kwargs) -> "ExplainResult":
    """For the ``top_k`` heaviest mixed fibers, the column (among ``probes``, default every other
    column of the source) that best separates the fiber's actions by information gain.

    ``audit_kwargs`` go to :func:`dcb_fast.audit` (``scheduler``, ``checkpoint``, ``threads``...):
    the audit runs on any engine; the second pass over the chosen fibers' rows runs locally.

    >>> t = pa.table({"lang": ["en"] * 4 + ["fr"] * 2, "tier": ["x", "x", "y", "y", "x", "x"],
    ...               "noise": [1, 2, 1, 2, 1, 1], "route": ["a", "a", "b", "b", "a", "a"]})
    >>> r = explain(t, ["lang"], "route")
    >>> r.metrics["fibers"][0]["best"]["column"], r.metrics["fibers"][0]["best"]["information_gain"]
    ('tier', 1.0)
    """
    evidence = check_columns(evidence, action, weight, id)
    result = audit(source, evidence=evidence, action=action, weight=weight, id=id, min_support=min_support,
                   nulls=nulls, rules=rules, **audit_kwargs)
    src = result.source
    roles = set(evidence) | {action} | ({weight} if weight else set()) | ({id} if id else set())
    available = _common_columns(src)
    if probes is None:
        probes = [c for c in available if c not in roles]
    else:
        probes = [c.strip() for c in (probes.split(",") if isinstance(probes, str) else probes)]
        for p in probes:
            if p in roles:
                raise DcbError(f"probe '{p}' is also an evidence, action, weight or id column; pick another column")
            if p not in available:
                raise DcbError(f"probe '{p}' is not a column of the input (it has: {', '.join(available)})")
    if not probes:
        raise DcbError("no column left to explain mixed fibers with: the input has only the evidence, action, "
                       "weight and id columns; pass a log with more columns or --probes")
    fib = result.per_fiber()
    fibers = result.fibers  # canonical order; sets fib.order
    mixed = np.nonzero(fib.n_actions > 1)[0]
    w_state = fib.tot_hi.astype(np.float64) + fib.tot_lo.astype(np.float64) / 2.0**64
    pos = np.empty(len(fib.order), np.int64)
    pos[fib.order] = np.arange(len(fib.order))
    # heaviest first; ties by canonical position
    chosen = mixed[np.lexsort((pos[mixed], -w_state[mixed]))][: int(top_k)]
    rows = _collect(result, src, chosen, probes)
    out, table_rows = [], []
    for rank, fid in enumerate(chosen):
        key = {c: _json(fibers[c][int(pos[fid])].as_py()) for c in fibers.column_names
               if c in evidence or c.split(".")[0] in evidence}
        sub = rows[rows["__fiber"] == fid]
        entry = _explain_fiber(sub, action, weight, id, probes, examples)
        entry = {"rank": rank + 1, "key": key, "rows": int(fib.support[fid]), "weight": float(w_state[fid]), **entry}
        out.append(entry)
        for c in entry["candidates"]:
            table_rows.append({"rank": rank + 1, **{f"key.{k}": str(v) for k, v in key.items()}, **c})
    total = result.metrics["total_weight"]
    mixed_w = float(w_state[mixed].sum())
    explained = sum(f["weight"] for f in out)
    p = result.summary["parameters"]
    summary = envelope("explain", {"evidence": evidence, "action": action, "weight": weight, "id": id, "probes": probes,
                       "top": int(top_k), "examples": int(examples), "min_support": min_support, "nulls": nulls,
                       "rules": p["rules"]},
                       input=result.summary["input"],
                       metrics={
            "n_mixed_fibers": int(len(mixed)), "n_explained": len(out),
            "mixed_weight_fraction": mixed_w / total if total else 0.0,
            "explained_weight_fraction": explained / mixed_w if mixed_w else 0.0,
            "fibers": out,
        },
                       headline=_headline(out, len(mixed)),
                       warnings=[])
    return ExplainResult(summary, pa.Table.from_pylist(table_rows) if table_rows else None)


def _collect(result, src, chosen, probes):
    """The rows of the chosen fibers (a pandas frame with ``__fiber``, the state's fiber index)."""
    import pandas as pd

    st = result.state
    want = np.zeros(st.n_fibers, dtype=bool)
    want[chosen] = True
    extra = [c for c in probes + ([result.id] if result.id else []) + ([st.weight] if st.weight else [])
             if c not in st.evidence and c != st.action]
    cols = list(dict.fromkeys(st.evidence + [st.action] + extra))
    src2 = open_source(src.tables if src.tables else [f.path for f in src.files], cols, src.batch_rows)
    parts, row0 = [], 0
    for _, batch in src2.batches(cols):
        fid = st.lookup(batch)
        hit = np.zeros(batch.num_rows, dtype=bool)
        ok = fid >= 0
        hit[ok] = want[fid[ok]]
        idx = np.nonzero(hit)[0]
        if len(idx):
            sel = batch.take(pa.array(idx))
            df = pd.DataFrame({c: _plain(sel.column(c)).to_pylist() for c in [st.action] + extra})
            df["__fiber"] = fid[idx]
            df["__row"] = idx + row0
            parts.append(df)
        row0 += batch.num_rows
    if not parts:
        return pd.DataFrame(columns=[st.action] + extra + ["__fiber", "__row"])
    df = pd.concat(parts, ignore_index=True)
    if st.nulls == "drop":  # rows the audit dropped for a null action or weight stay out here too
        df = df[df[st.action].notna()]
    if st.weight:
        df = df[df[st.weight].notna()]
    return df


def _plain(col):
    return col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col


_NULL = object()


def _key(v):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return _NULL
    return v


def _explain_fiber(df, action, weight, id, probes, examples) -> dict:
    w = [float(x) for x in df[weight].tolist()] if weight else [1.0] * len(df)  # plain floats: JSON-ready
    acts = [_key(a) for a in df[action].tolist()]
    by_action: dict = {}
    for a, x in zip(acts, w):
        by_action[a] = by_action.get(a, 0.0) + x
    h = _entropy(by_action.values())
    W = math.fsum(w)
    cands = []
    for c in probes:
        vals = [_key(v) for v in df[c].tolist()]
        cells: dict = {}
        for v, a, x in zip(vals, acts, w):
            cells.setdefault(v, {}).setdefault(a, 0.0)
            cells[v][a] += x
        n_values = len(cells)
        if n_values == len(df) and len(df) >= 3:
            continue  # distinct on every row: an id-like column separates trivially
        cond = sum(sum(cell.values()) / W * _entropy(cell.values()) for cell in cells.values()) if W else 0.0
        cands.append({"column": c, "information_gain": float(max(0.0, h - cond)), "n_values": n_values, "_cells": cells})
    cands.sort(key=lambda d: (-round(d["information_gain"], 12), d["n_values"], probes.index(d["column"])))
    best = None
    if cands:
        b = cands[0]
        split = []
        for v, cell in sorted(b["_cells"].items(), key=lambda kv: -sum(kv[1].values()))[:MAX_SPLIT_VALUES]:
            split.append({"value": _out(v), "weight": sum(cell.values()),
                          "rows": int(sum(1 for x in df[b["column"]].tolist() if _key(x) == v)),
                          "actions": {action_key(_out(a)): x for a, x in sorted(cell.items(), key=lambda kv: -kv[1])}})
        best = {"column": b["column"], "information_gain": b["information_gain"],
                "gain_fraction": b["information_gain"] / h if h else 0.0, "n_values": b["n_values"], "split": split}
    ex = {}
    ids = df[id].tolist() if id else df["__row"].tolist()
    for a, i in zip(acts, ids):
        lst = ex.setdefault(action_key(_out(a)), [])
        if len(lst) < examples:
            lst.append(_json(i))
    return {"actions": {action_key(_out(a)): x for a, x in sorted(by_action.items(), key=lambda kv: -kv[1])},
            "entropy": h, "best": best,
            "candidates": [{k: v for k, v in d.items() if k != "_cells"} for d in cands[:5]],
            "examples": ex, "examples_by": id or "row"}


def _out(v):
    return None if v is _NULL else _json(v)


def _json(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def _headline(out, n_mixed) -> str:
    if not out:
        return "no mixed fibers: every fiber carries one action"
    f = out[0]
    key = ", ".join(f"{k}={v}" for k, v in f["key"].items())
    if f["best"] is None:
        return f"{n_mixed:,} mixed fibers; the heaviest ({key}) is not separated by any column"
    return (f"{n_mixed:,} mixed fibers; the heaviest ({key}) is best separated by '{f['best']['column']}' "
            f"({f['best']['information_gain']:.3f} of {f['entropy']:.3f} bits)")


class ExplainResult(Result):
    """What :func:`explain` found: ``summary`` (per fiber: best column, split, examples) and
    ``columns`` (per explained fiber, its five best columns with their information gain)."""

    FILES = {"columns": "explain_columns"}

    def __init__(self, summary: dict, columns):
        super().__init__(summary)
        self.columns = columns
