"""Aggregates of the per-fiber table for the report, computed with pyarrow compute.

The fiber table may hold millions of rows; the report only ever sees what these functions
return: the top ``k`` mixed fibers (selected with ``select_k_unstable``, a linear-time
partial selection, before any Python object is built), sums per class and action, and a
histogram over power-of-two fiber sizes (at most 64 bins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..io.arrow import np_values

CLASSES = ("certified", "ambiguous", "thin")


@dataclass
class FiberLayout:
    """Where things are in a fiber table (written by :func:`dcb_fast.fibers.finalize.fiber_table`)."""

    evidence: list[str]  # columns before ``rows`` (binned columns as col, col.lo, col.hi)
    actions: list[str]  # action labels, in table order
    mix: dict[str, str]  # action label -> its weight column (``weight[a]``, else ``rows[a]``)
    weighted: bool


def layout(fibers: pa.Table) -> FiberLayout | None:
    """Read the layout of a fiber table; ``None`` when it is not one (the report then skips
    the sections that need it)."""
    return layout_of_names(fibers.column_names)


def layout_of_names(names: list[str]) -> FiberLayout | None:
    """:func:`layout` from the column names alone."""
    need = ("rows", "n_actions", "class")
    if any(n not in names for n in need):
        return None
    i = names.index("rows")
    mix = {}
    for n in names[i + 1:]:
        for prefix in ("rows[", "weight["):
            if n.startswith(prefix) and n.endswith("]"):
                a = n[len(prefix):-1]
                if prefix == "weight[" or a not in mix:
                    mix[a] = n  # a weight column wins over the row count of the same action
    weighted = any(c.startswith("weight[") for c in mix.values())
    return FiberLayout(names[:i], list(mix), mix, weighted)


def needed_columns(names: list[str]) -> list[str]:
    """The columns of a saved fiber table that the report reads: a fiber table with many
    actions is mostly per-action columns, and only one per action is needed."""
    lay = layout_of_names(names)
    if lay is None:
        return list(names)
    keep = set(lay.mix.values())
    return [n for n in names if n in keep or not (n.startswith(("rows[", "weight[")) and n.endswith("]"))]


def _weight(fibers: pa.Table):
    return fibers.column("weight") if "weight" in fibers.column_names else fibers.column("rows")


def top_mixed(fibers: pa.Table, k: int = 50) -> tuple[pa.Table, int]:
    """The ``k`` mixed fibers (two or more actions) with the most weight (ties: more rows, then
    table order, which is evidence order), heaviest first; and the number of mixed fibers."""
    return top_rows(fibers, k, pc.greater(fibers.column("n_actions"), 1))


def top_rows(table: pa.Table, k: int, mask=None) -> tuple[pa.Table, int]:
    """The ``k`` rows (of those where ``mask`` holds) with the most weight, heaviest first (ties:
    more rows, then table order); and how many rows were eligible."""
    if mask is None:
        idx = pa.array(np.arange(table.num_rows, dtype=np.int64))
    else:
        idx = pc.indices_nonzero(mask)
    n = len(idx)
    if n == 0 or k <= 0:
        return table.slice(0, 0), n
    rows = table.column("rows") if "rows" in table.column_names else pa.array(np.zeros(table.num_rows, np.int64))
    keys = pa.table({"w": pc.take(_weight(table), idx), "r": pc.take(rows, idx), "i": idx})
    order = [("w", "descending"), ("r", "descending"), ("i", "ascending")]
    top = keys.take(pc.select_k_unstable(keys, min(k, n), order)).sort_by(order)
    return table.take(top.column("i")), n


def _class_codes(fibers: pa.Table) -> np.ndarray:
    """Class per fiber as 0 certified, 1 ambiguous, 2 thin, 3 anything else."""
    col = fibers.column("class")
    if pa.types.is_dictionary(col.type):
        col = pc.cast(col, col.type.value_type)
    codes = pc.index_in(col, value_set=pa.array(CLASSES))
    return np_values(pc.fill_null(codes, 3)).astype(np.int64)


def action_totals(fibers: pa.Table, lay: FiberLayout) -> dict[str, float]:
    """Weight per action over all fibers."""
    return {a: float(pc.sum(fibers.column(c)).as_py() or 0.0) for a, c in lay.mix.items()}


def class_by_action(fibers: pa.Table, lay: FiberLayout, actions: list[str]) -> dict[str, dict[str, float]]:
    """For each of ``actions``: its weight in certified, ambiguous and thin fibers."""
    codes = _class_codes(fibers)
    out = {}
    for a in actions:
        w = np_values(fibers.column(lay.mix[a]), nan_nulls=True).astype(np.float64)
        sums = np.bincount(codes, weights=w, minlength=4)
        out[a] = {c: float(sums[i]) for i, c in enumerate(CLASSES)}
    return out


def size_profile(fibers: pa.Table) -> list[dict]:
    """Fibers and weight per power-of-two size bin, the weight split by class:
    ``[{min_rows, max_rows, fibers, weight: {class: w}}]`` (bins with no fiber left out)."""
    rows = np_values(fibers.column("rows"))
    if len(rows) == 0:
        return []
    w = np_values(_weight(fibers), nan_nulls=True).astype(np.float64)
    b = np.floor(np.log2(np.maximum(rows, 1).astype(np.float64))).astype(np.int64)
    codes = _class_codes(fibers)
    nb = int(b.max()) + 1
    count = np.bincount(b, minlength=nb)
    weight = np.bincount(b * 4 + codes, weights=w, minlength=nb * 4).reshape(nb, 4)
    out = []
    for i in range(nb):
        if count[i]:
            out.append({"min_rows": 1 << i, "max_rows": (1 << (i + 1)) - 1, "fibers": int(count[i]),
                        "weight": {c: float(weight[i, j]) for j, c in enumerate(CLASSES)}})
    return out


def shown_evidence(lay: FiberLayout, evidence: list[str] | None = None, limit: int = 8) -> list[str]:
    """Evidence columns worth a table column: the parameters' evidence when the table has them,
    binned columns by their label only, at most ``limit``."""
    cols = [c for c in (evidence or []) if c in lay.evidence] or [
        c for c in lay.evidence if not ((c.endswith(".lo") or c.endswith(".hi")) and c[:-3] in lay.evidence)]
    return cols[:limit]
