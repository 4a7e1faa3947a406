"""The joint cells of a replay and its seeded splits (SPEC section 6).

The input is read once into **joint cells**: one per distinct (evidence of every model, weight,
[slice,] action), with its row count. A split of the rows into calibration and test is a draw of
per-cell calibration counts (multivariate hypergeometric: exactly what a uniformly random
choice of ``round(f n)`` calibration rows gives), so N splits cost N passes over the cells,
never over the rows. The draw walks the cells in a canonical order, so a split depends only on
the multiset of rows, the seed and the split index.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from .. import engines
from ..errors import DcbError
from ..fibers.finalize import canonical_order
from ..io import arrow as A


class Cells:
    """Joint cells of a replay, in canonical order: ``count`` rows of each, their ``action``
    (rank in the canonical action order) and ``w`` (the weight of every row of the cell, 1 when
    unweighted); per model, ``fibers[name]`` numbers the model's evidence fibers and
    ``values[name]`` holds the numeric evidence of window replays.

    ``fiber`` / ``value`` are the first (or only) model's; :meth:`model` gives a one-model view;
    :meth:`key_table` decodes each cell's columns (evidence, weight, action)."""

    def __init__(self, count, action, w, n_actions, fibers: dict, values: dict | None = None, keys=None,
                 by=None, by_values=None):
        self.count = count
        self.by = by  # per cell: the code of its slice value (``by_values`` decodes it), or None
        self.by_values = by_values
        self.coarse = None  # with slices: per cell, its cell of the replay without the slice column
        self.action = action
        self.w = w
        self.n_actions = n_actions
        self.fibers = fibers
        self.values = values or {}
        self._keys = keys
        self.run_info: dict = {"engine": "local", "checkpoint": None}

    @property
    def models(self) -> list[str]:
        return list(self.fibers)

    @property
    def fiber(self) -> np.ndarray:
        return self.fibers[self.models[0]]

    @property
    def value(self):
        return self.values.get(self.models[0])

    @property
    def n_rows(self) -> int:
        return int(self.count.sum())

    def model(self, name: str) -> "Cells":
        """The same cells seen by one model only."""
        vals = {name: self.values[name]} if name in self.values else {}
        return Cells(self.count, self.action, self.w, self.n_actions, {name: self.fibers[name]}, vals, self._keys,
                     self.by, self.by_values)

    def key_table(self) -> pa.Table:
        """One row per cell: its evidence columns, weight and action, decoded, plus ``count``."""
        if self._keys is None:
            raise DcbError("these cells carry no keys")
        cols = self._keys()
        return pa.table({**cols, "count": pa.array(self.count)})


def read_cells(src, models, action, weight, nulls, rules, threads=None, scheduler=None,
               checkpoint: str | None = None, by: str | None = None) -> tuple[Cells, pa.Array]:
    """Read the input once into joint cells (the fiber engine does the grouping, on the engine
    ``scheduler`` and ``checkpoint`` choose: see :func:`dcb_fast.engines.run`).

    ``models`` is ``{name: evidence columns}`` or one list of evidence columns (one model named
    "model"). Returns the cells (``cells.run_info``: what the engine did) and the action values
    in canonical order (``cells.action`` indexes them). ``by`` adds a slice column to the cells
    (no model's evidence): ``cells.by`` gives each cell's slice."""
    if not isinstance(models, dict):
        models = {"model": list(models)}
    cols = sorted({c for m in models.values() for c in m})
    key = cols + ([weight] if weight else []) + ([by] if by else [])
    # a null slice value is a slice of its own: the state keeps nulls, and the rows the replay
    # without the slice column drops (a null in evidence, weight or action) are dropped below
    drop_later = bool(by) and nulls == "drop"
    # a window column is counted by its exact values: windows are drawn per split
    spec = engines.PartialSpec.of(src, key, action, None, "value" if drop_later else nulls,
                                  {c: r for c, r in (rules or {}).items() if c in cols and not r.overlapping})
    state, run = engines.run(src, spec, scheduler=scheduler, checkpoint=checkpoint, threads=threads)
    if state.n_rows == 0:
        raise DcbError("empty input: no rows" + (" left after dropping nulls" if state.rows_read else ""))
    order = canonical_order(state)
    keys, counts, _, _ = state.table_arrays()
    keys = keys[order]
    actions = state.action_encoder.values()
    ranks = state.action_encoder.sort_ranks()
    by_rank = np.argsort(ranks)  # the action code of each canonical rank
    # columns in canonical action order, so that nonzero() walks atoms in canonical order and,
    # within an atom, actions by value: the walk never depends on the order values were first seen
    counts = counts[np.ix_(order, by_rank)]
    if drop_later:
        keep = np.ones(len(keys), dtype=bool)
        for j in range(len(key) - 1):
            keep &= ~np.isin(keys[:, j], _null_codes(state.encoders[j].values()))
        keys, counts = keys[keep], counts[keep]
        counts[:, _null_codes(actions.take(pa.array(by_rank)))] = 0
        if not counts.any():
            raise DcbError("empty input: no rows left after dropping nulls")
    cell_atom, cell_action = np.nonzero(counts)
    k = len(cols)
    atoms = keys[cell_atom]
    fibers, values = {}, {}
    for name, mcols in models.items():
        if set(mcols) == set(cols):
            # canonical order sorts by the evidence columns first: a fiber is a run of equal codes
            change = np.ones(len(keys), dtype=bool)
            if len(keys) and k:
                change[1:] = (keys[1:, :k] != keys[:-1, :k]).any(axis=1)
            fibers[name] = (np.cumsum(change, dtype=np.int64) - 1)[cell_atom]
        else:
            idx = [cols.index(c) for c in mcols]
            fibers[name] = np.unique(atoms[:, idx], axis=0, return_inverse=True)[1].reshape(-1).astype(np.int64)
        r = (rules or {}).get(mcols[0])
        if len(mcols) == 1 and r is not None and r.overlapping:
            j = cols.index(mcols[0])
            values[name] = A.np_values(state.encoders[j].values(), nan_nulls=True)[atoms[:, j]].astype(np.float64)
    w = (A.np_values(state.encoders[k].values(), nan_nulls=True)[atoms[:, k]].astype(np.float64)
         if weight else np.ones(len(cell_atom)))
    canon = actions.take(pa.array(by_rank))
    by_codes = by_values = None
    if by:
        j = len(key) - 1  # slices numbered in value order (null last), whatever order values came in
        ranks = state.encoders[j].sort_ranks()
        by_values = state.encoders[j].values().take(pa.array(np.argsort(ranks)))
        by_codes = ranks[atoms[:, j]].astype(np.int64)
        # the cells of the same replay without the slice column: canonical order sorts by the
        # other key columns first, so a coarse atom is a run of equal codes there
        change = np.ones(len(keys), dtype=bool)
        if len(keys) and j:
            change[1:] = (keys[1:, :j] != keys[:-1, :j]).any(axis=1)
        coarse_atom = (np.cumsum(change, dtype=np.int64) - 1)[cell_atom]
        pair = coarse_atom * len(actions) + cell_action
        coarse = np.unique(pair, return_inverse=True)[1].reshape(-1).astype(np.int64)
    encoders = state.encoders  # not the state: its fiber tables are freed when this returns

    def decode():
        out = {c: encoders[j].values().take(pa.array(atoms[:, j])) for j, c in enumerate(key)}
        out[action] = canon.take(pa.array(cell_action))
        return out

    cells = Cells(counts[cell_atom, cell_action].astype(np.int64), cell_action.astype(np.int64), w, len(actions),
                  fibers, values, decode, by_codes, by_values)
    if by:
        cells.coarse = coarse
    cells.run_info = run
    return cells, canon


def split_counts(cells: Cells, calib_fraction: float, seed: int, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Calibration and test row counts per cell for split ``index`` of ``seed``.

    ``round(calib_fraction * n)`` calibration rows drawn uniformly without replacement, as a
    multivariate hypergeometric draw over the cells in their canonical order, from a generator
    seeded ``[seed, index]``: the result depends only on the multiset of rows, the seed and the
    index, and one split costs one pass over the cells. Every model and policy of a replay uses
    the same draw (the cells are joint over all models' columns).

    >>> c = Cells(np.array([3, 5]), np.array([0, 1]), np.ones(2), 2, {"m": np.array([0, 0])})
    >>> cal, test = split_counts(c, 0.5, seed=0, index=0)
    >>> int(cal.sum()), bool((cal + test == c.count).all())
    (4, True)
    """
    rng = np.random.default_rng([seed, index])
    n = cells.n_rows
    if cells.coarse is None:
        cal = rng.multivariate_hypergeometric(cells.count, int(round(calib_fraction * n)), method="marginals")
        return cal, cells.count - cal
    # with slices: the draw of the replay without them, on its cells, then each cell's
    # calibration rows spread over its slices (a second draw: again uniform over the cell's rows)
    coarse_count = np.bincount(cells.coarse, weights=cells.count).astype(np.int64)
    coarse_cal = rng.multivariate_hypergeometric(coarse_count, int(round(calib_fraction * n)), method="marginals")
    return _spread(cells.coarse, cells.count, coarse_count, coarse_cal, np.random.default_rng([seed, index, 1]))


def _spread(group, count, group_count, group_cal, rng) -> tuple[np.ndarray, np.ndarray]:
    """Split each group's ``group_cal`` calibration rows over its members (rows ``count``), as
    uniformly random rows of the group: sequential hypergeometric draws, member by member in
    order, all groups at once per position."""
    order = np.argsort(group, kind="stable")
    g = group[order]
    start = np.searchsorted(g, np.arange(len(group_count)))
    pos = np.arange(len(g)) - start[g]
    left_rows = group_count.copy()
    left_cal = group_cal.copy()
    cal = np.zeros(len(count), dtype=np.int64)
    for p in range(int(pos.max(initial=-1)) + 1):
        members = order[pos == p]
        grp = group[members]
        good = count[members]
        draw = rng.hypergeometric(good, left_rows[grp] - good, left_cal[grp]) if len(members) else good
        cal[members] = draw
        left_rows[grp] -= good
        left_cal[grp] -= draw
    return cal, count - cal


def _null_codes(values: pa.Array) -> np.ndarray:
    """The codes of a dictionary's null entries (NaN counts as null, as the encoders count it)."""
    null = ~A.np_values(values.is_valid()) if values.null_count else np.zeros(len(values), dtype=bool)
    if pa.types.is_floating(values.type):
        null |= np.isnan(A.np_values(values, nan_nulls=True))
    return np.flatnonzero(null)
