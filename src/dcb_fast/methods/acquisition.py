"""Probe-acquisition replay (SPEC section 5, the paper's Fig. 5c): which probe to measure next,
chosen on calibration data only and scored on held-out data.

Per seeded split of a labelled table into calibration and test, a *policy* orders the probe
columns one at a time, seeing only the calibration part (except the oracle); the order is then
frozen and every step (the evidence plus the first ``j`` probes) is scored on the test part:
test rows whose evidence key is certified on calibration (pure, support >= ``min_support``;
unseen keys are not certified), the false decisions of acting on that certificate, and the error
among certified rows.

The input is read once into cells: (evidence + probes, action) with their row counts, grouped by
the fiber engine. A split is a per-cell draw of calibration counts, so every split and step is
a computation over the cells, never over the rows.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pyarrow as pa

from ..core.summary import envelope
from ..errors import DcbError
from ..io import arrow as A
from ..io.sources import DEFAULT_BATCH_ROWS, open_source
from ..fibers.finalize import canonical_order, check_cell_weights
from ..core.results import Result
from .. import engines
from .cells import split_counts
from ..core.validation import check_columns, check_types

SPLITS = ("cells", "permutation")
TIE_BREAKS = ("first", "last")


# -- cells --------------------------------------------------------------------------------------
class ProbeCells:
    """Cells of (evidence + probe values, action) in canonical value order.

    ``codes`` int[n_cells, k + p]: per column the rank of the cell's value in sorted order;
    ``action`` the action's rank; ``count`` the rows of each cell; ``w`` the weight of each of
    them (1 unweighted); ``values`` the decoded column values as floats (None for a column that
    is not numeric); ``row_cell`` the cell of each kept input row, in input order (only when a
    split needs the row order)."""

    coarse = None  # no slices: :func:`~dcb_fast.methods.cells.split_counts` draws on the cells themselves

    def __init__(self, codes, action, count, w, n_actions, columns, values, row_cell=None):
        self.codes, self.action, self.count, self.w = codes, action, count, w
        self.n_actions, self.columns, self.values, self.row_cell = n_actions, columns, values, row_cell
        self._fibers: dict[tuple, tuple[np.ndarray, int]] = {}
        self.run_info: dict = {"engine": "local", "checkpoint": None}

    @property
    def n_rows(self) -> int:
        return int(self.count.sum())

    def fibers(self, cols) -> tuple[np.ndarray, int]:
        """Fiber id of every cell under the columns ``cols`` (indices), and the fiber count;
        cached: a split only changes counts, never which cells share a key."""
        key = tuple(sorted(cols))
        if key not in self._fibers:
            if not key:
                self._fibers[key] = (np.zeros(len(self.count), np.int64), 1)
            else:
                # refine the fibers of all but the last column by that column: one 1-D key (fiber
                # id x radix + value rank), far cheaper than np.unique over rows of a 2-D array
                fid, _ = self.fibers(key[:-1])
                col = self.codes[:, key[-1]]
                radix = int(col.max()) + 1 if len(col) else 1
                _, inv = np.unique(fid * radix + col, return_inverse=True)
                inv = inv.reshape(-1).astype(np.int64)
                self._fibers[key] = (inv, int(inv.max()) + 1 if len(inv) else 0)
        return self._fibers[key]


def read_probe_cells(src, columns, action, weight, nulls, threads=None, with_rows=False, scheduler=None,
                     checkpoint: str | None = None) -> tuple[ProbeCells, pa.Array]:
    """Read the input once into :class:`ProbeCells` (the fiber engine groups the rows, on the
    engine ``scheduler`` and ``checkpoint`` choose); with ``with_rows``, a second pass (in this
    process) records each kept row's cell in input order."""
    # the state keys the columns in sorted name order, so that the canonical cell order (which a
    # split walks) depends on the columns and not on the order the probes were listed in
    keycols = sorted(columns)
    pos = [keycols.index(c) for c in columns]
    key = keycols + ([weight] if weight else [])
    spec = engines.PartialSpec.of(src, key, action, None, nulls, None)
    state, run = engines.run(src, spec, scheduler=scheduler, checkpoint=checkpoint, threads=threads)
    if state.n_rows == 0:
        raise DcbError("empty input: no rows" + (" left after dropping nulls" if state.rows_read else ""))
    order = canonical_order(state)
    keys, counts, _, _ = state.table_arrays()
    ranks = state.action_encoder.sort_ranks()
    # action columns in canonical (value) order, so that cells are in value order throughout
    counts = _take_cols(counts, ranks)
    keys, counts = keys[order], counts[order]
    atom, act = np.nonzero(counts)
    col_ranks = [enc.sort_ranks() for enc in state.encoders]
    codes = np.stack([col_ranks[pos[j]][keys[atom, pos[j]]] for j in range(len(columns))], axis=1).astype(np.int64) \
        if columns else np.zeros((len(atom), 0), np.int64)
    values = []
    for j in range(len(columns)):
        v = state.encoders[pos[j]].values()
        t = v.type
        if pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t):
            values.append(A.np_values(v.cast(pa.float64()), nan_nulls=True)[keys[atom, pos[j]]])
        else:
            values.append(None)
    k = len(columns)
    w = (A.np_values(state.encoders[k].values(), nan_nulls=True)[keys[atom, k]].astype(np.float64)
         if weight else np.ones(len(atom)))
    actions = state.action_encoder.values().take(pa.array(np.argsort(ranks)))
    cells = ProbeCells(codes, act.astype(np.int64), counts[atom, act], w, len(ranks), columns, values)
    if with_rows:
        cells.row_cell = _row_cells(src, state, order, atom, act, ranks, key, action)
    cells.run_info = run
    return cells, actions


def _take_cols(counts, ranks):
    out = np.zeros((counts.shape[0], len(ranks)), np.int64)
    na = min(counts.shape[1], len(ranks))
    out[:, ranks[:na]] = counts[:, :na]
    return out


def _row_cells(src, state, order, atom, act, ranks, key, action) -> np.ndarray:
    """Cell index of every kept row, in input order (rows with a dropped null are skipped)."""
    n_fib = len(order)
    pos = np.empty(n_fib, np.int64)
    pos[order] = np.arange(n_fib)  # table_arrays index -> canonical position
    cell_of = np.full((n_fib, len(ranks)), -1, np.int64)
    cell_of[atom, act] = np.arange(len(atom))
    parts = []
    for _, batch in src.batches(list(dict.fromkeys(key + [action]))):
        fib = state.lookup(batch)
        a = state.action_encoder.encode(batch.column(action), insert=False)
        ok = (fib >= 0) & (a >= 0)
        parts.append(cell_of[pos[fib[ok]], ranks[a[ok]]])
    rows = np.concatenate(parts) if parts else np.zeros(0, np.int64)
    if (rows < 0).any():  # cannot happen: every kept row was counted into its cell
        raise DcbError("internal error: a row's cell was not found on the second pass")
    return rows


# -- splits -------------------------------------------------------------------------------------
def split_cells(cells: ProbeCells, split: str, calib_fraction: float, seed: int, index: int):
    """Calibration and test row counts per cell for split ``index``.

    ``"cells"``: ``round(f n)`` calibration rows drawn uniformly without replacement, as a
    multivariate hypergeometric draw over the cells in canonical order from a generator seeded
    ``[seed, index]``: depends only on the multiset of rows and the seed. ``"permutation"``: a
    permutation of the kept rows *in input order* from a generator seeded ``seed + index``, the
    first ``round(f n)`` calibration (the authors' protocol: depends on the row order)."""
    n = cells.n_rows
    n_cal = int(round(calib_fraction * n))
    if split == "cells":
        cal, _ = split_counts(cells, calib_fraction, seed, index)
    else:
        idx = np.random.default_rng(seed + index).permutation(n)
        cal = np.bincount(cells.row_cell[idx[:n_cal]], minlength=len(cells.count))
    return cal.astype(np.int64), cells.count - cal


# -- one split ----------------------------------------------------------------------------------
class Split:
    """The cells with one split's calibration and test counts."""

    def __init__(self, cells: ProbeCells, cal, test, min_support: int, weighted: bool):
        self.cells, self.cal, self.test, self.s = cells, cal, test, min_support
        # unweighted: integer row counts, so equal scores are exactly equal (ties are real)
        self.cal_w = cal * cells.w if weighted else cal
        self.test_w = test * cells.w if weighted else test
        self._certs: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}
        self._moments: dict[int, tuple] = {}

    def certificate(self, cols):
        """Per cell: is its key certified on calibration, and with which action (cached: a
        policy scores ``selected + [q]`` and then evaluates the same columns)."""
        key = tuple(sorted(cols))
        if key not in self._certs:
            self._certs[key] = self._certificate(key)
        return self._certs[key]

    def _certificate(self, cols):
        c = self.cells
        fid, nf = c.fibers(cols)
        na = c.n_actions
        rows = np.bincount(fid * na + c.action, weights=self.cal, minlength=nf * na).reshape(nf, na)
        cert = (rows.sum(axis=1) >= self.s) & ((rows > 0).sum(axis=1) == 1)
        return cert[fid], rows.argmax(axis=1)[fid]

    def calibration_score(self, cols):
        cert, _ = self.certificate(cols)
        return self.cal_w[cert].sum()

    def test_score(self, cols):
        cert, _ = self.certificate(cols)
        return self.test_w[cert].sum()

    def evaluate(self, cols) -> dict:
        cert, act = self.certificate(cols)
        W = self.test_w.sum()
        cw = self.test_w[cert].sum()
        wrong = self.test_w[cert & (act != self.cells.action)].sum()
        return {"calibration_certified_fraction": float(self.cal_w[cert].sum() / self.cal_w.sum()),
                "certified_fraction": float(cw / W), "false_decisions": float(wrong / W),
                "error_among_certified": float(wrong / cw) if cw > 0 else None,
                "certified_rows": int(self.test[cert].sum()), "test_rows": int(self.test.sum())}

    def entropy(self, q):
        p = np.bincount(self.cells.codes[:, q], weights=self.cal_w).astype(np.float64)
        p = np.sort(p[p > 0] / p.sum())
        return float(-(p * np.log2(p)).sum()) if len(p) > 1 else 0.0

    def _centred(self, j):
        """Column ``j`` centred on its calibration mean, times the calibration weights, and its
        (population) standard deviation; cached per split."""
        if j not in self._moments:
            wt = self.cal_w.astype(np.float64)
            tot = wt.sum()
            x = self.cells.values[j]
            d = x - (wt * x).sum() / tot
            self._moments[j] = (wt * d / tot, d, math.sqrt((wt * d * d).sum() / tot))
        return self._moments[j]

    def mean_abs_corr(self, selected, q):
        wdq, _, sq = self._centred(q)
        corrs = []
        for j in selected:
            _, dj, sj = self._centred(j)
            corrs.append(0.0 if sj < 1e-12 or sq < 1e-12 else abs(float(wdq @ dj) / (sj * sq)))
        return float(np.mean(corrs)) if corrs else 0.0


# -- policies (a registry: name -> how a probe is scored) ---------------------------------------
class Policy:
    """A probe-choice policy: ``score(split, selected, q)``, the best is the largest (or the
    smallest when ``maximise`` is False); ``numeric``: needs numeric columns; ``sees_test``:
    uses test labels (an upper bound, not deployable)."""

    def __init__(self, name, score, maximise=True, numeric=False, sees_test=False, doc=""):
        self.name, self.score, self.maximise = name, score, maximise
        self.numeric, self.sees_test, self.doc = numeric, sees_test, doc


POLICIES: dict[str, Policy] = {}


def register_policy(policy: Policy) -> Policy:
    POLICIES[policy.name] = policy
    return policy


register_policy(Policy("response_rank", lambda sp, sel, q: sp.calibration_score(sel + [q]),
                       doc="largest certified fraction of calibration with the probe added (in-sample)"))
register_policy(Policy("uncertainty", lambda sp, sel, q: sp.entropy(q),
                       doc="largest entropy of the probe's own values on calibration"))
register_policy(Policy("diversity", lambda sp, sel, q: sp.mean_abs_corr(sel, q), maximise=False, numeric=True,
                       doc="least mean |correlation| with the selected columns on calibration"))
register_policy(Policy("benchmark_aligned", lambda sp, sel, q: sp.mean_abs_corr(sel, q), numeric=True,
                       doc="largest mean |correlation| with the selected columns on calibration"))
register_policy(Policy("random", None, doc="a uniform draw among the remaining probes (in the order given)"))
register_policy(Policy("oracle", lambda sp, sel, q: sp.test_score(sel + [q]), sees_test=True,
                       doc="largest certified fraction of test with the probe added (uses test labels)"))


def choose(policy: Policy, sp: Split, selected, remaining, names, tie_break, rng) -> int:
    """The next probe (a column index) under ``policy``; score ties go to the lexically first
    (or last) column name."""
    if policy.score is None:
        return remaining[int(rng.integers(0, len(remaining)))]
    scores = [policy.score(sp, selected, q) for q in remaining]
    best = max(scores) if policy.maximise else min(scores)
    tied = [q for q, v in zip(remaining, scores) if v == best]
    pick = min if tie_break == "first" else max
    return pick(tied, key=lambda q: names[q])


def run_split(cells: ProbeCells, sp: Split, n_evidence: int, policies, tie_break, rng_for) -> list[dict]:
    """Every policy's frozen order and its per-step scores on one split."""
    names = cells.columns
    out = []
    for name in policies:
        policy = POLICIES[name]
        rng = rng_for(name)
        selected = list(range(n_evidence))
        remaining = list(range(n_evidence, len(names)))
        step = 0
        while True:
            out.append({"policy": name, "step": step, "probe": names[selected[-1]] if step else None,
                        "selected": ",".join(names[j] for j in selected[n_evidence:]), **sp.evaluate(selected)})
            if not remaining:
                break
            q = choose(policy, sp, selected, remaining, names, tie_break, rng)
            selected.append(q)
            remaining.remove(q)
            step += 1
    return out


# -- the replay ---------------------------------------------------------------------------------
def _stats(x) -> dict:
    x = np.asarray(x, dtype=np.float64)
    return {"mean": float(np.mean(x)), "p10": float(np.quantile(x, 0.1)), "p90": float(np.quantile(x, 0.9))}


class AcquisitionResult(Result):
    """``summary`` (kind "acquisition") and ``steps`` (one row per split, policy and step)."""

    FILES = {"steps": "acquisition_steps"}

    def __init__(self, summary: dict, steps: pa.Table):
        super().__init__(summary)
        self.steps = steps


def acquisition_replay(source, evidence, action, probes, policies=None, splits: int = 100,
                       calib_fraction: float = 0.5, seed: int = 0, split: str = "cells", min_support: int = 1,
                       tie_break: str = "first", weight: str | None = None, nulls: str = "drop",
                       random_seed=None, batch_rows: int = DEFAULT_BATCH_ROWS,
                       threads: int | None = None, scheduler=None, checkpoint: str | None = None) -> AcquisitionResult:
    """Probe-acquisition replay: per seeded split, each policy orders the ``probes`` on the
    calibration part, the order is frozen, and every step is scored on the test part.

    Step 0 is the ``evidence`` alone; step ``j`` adds the policy's first ``j`` probes. A test
    row is certified when its key is certified on calibration (pure, at least ``min_support``
    calibration rows; a key unseen in calibration is not certified). Per policy and step: the
    certified fraction of test, the false decisions of acting on the certificate (share of all
    test rows), the error among certified rows (its mean over the splits that certify
    something, with their count), as mean, p10 and p90 over splits, and the modal probe added.

    ``policies`` (default all): ``response_rank`` (largest calibration certified fraction,
    in-sample: the completion criterion), ``uncertainty`` (largest entropy of the probe's own
    values), ``diversity`` / ``benchmark_aligned`` (least / largest mean |correlation| with the
    selected columns; numeric columns), ``random`` (uniform among the remaining probes, in the
    order given, from a generator seeded ``random_seed(split_index)``, default
    ``[seed, split_index, 1]``), ``oracle`` (largest *test* certified fraction; an upper bound).
    Score ties go to the lexically ``first`` (default) or ``last`` probe name.

    ``split="cells"`` (default) draws ``round(calib_fraction * n)`` calibration rows over the
    cells in value order: the result depends only on the multiset of rows and ``seed``.
    ``split="permutation"`` permutes the kept rows *in input order* with a generator seeded
    ``seed + split_index`` and takes the first ``round(calib_fraction * n)`` as calibration:
    the authors' protocol (seed 31000 reproduces the paper), which depends on the row order.
    ``scheduler`` and ``checkpoint`` choose the engine of the counting pass
    (:func:`dcb_fast.engines.run`); the splits run on the cells in this process.

    >>> t = pa.table({"e": [0, 0, 0, 0] * 30, "u": [0, 1, 0, 1] * 30, "d": [0, 1, 0, 1] * 30})
    >>> r = acquisition_replay(t, ["e"], "d", ["u"], policies=["response_rank"], splits=5)
    >>> [round(s["certified_fraction"]["mean"], 3) for s in r.metrics["policies"]["response_rank"]]
    [0.0, 1.0]
    """
    evidence = check_columns(evidence, action, weight)
    probes = [c.strip() for c in probes.split(",")] if isinstance(probes, str) else list(probes or [])
    if not probes:
        raise DcbError("no probe columns given; pass --probes a,b,c")
    both = sorted(set(evidence) & set(probes))
    if both:
        raise DcbError(f"column '{both[0]}' is both evidence and a probe; list it in one of them")
    dup = sorted({c for c in probes if probes.count(c) > 1})
    if dup:
        raise DcbError(f"probe column '{dup[0]}' is given twice; list each column once")
    if action in probes or (weight and weight in probes):
        raise DcbError(f"the action or weight column cannot be a probe: {action if action in probes else weight}")
    policies = list(POLICIES) if policies is None else ([p.strip() for p in policies.split(",")]
                                                        if isinstance(policies, str) else list(policies))
    unknown = [p for p in policies if p not in POLICIES]
    if unknown or not policies:
        raise DcbError(f"unknown policy '{unknown[0] if unknown else ''}'; choose from {', '.join(POLICIES)}")
    if split not in SPLITS:
        raise DcbError(f"split must be one of {', '.join(SPLITS)}, got '{split}'")
    if tie_break not in TIE_BREAKS:
        raise DcbError(f"tie_break must be 'first' or 'last', got '{tie_break}'")
    if splits < 1:
        raise DcbError(f"splits must be at least 1, got {splits}")
    if not (0 < calib_fraction < 1):
        raise DcbError(f"calibration fraction must be in (0, 1), got {calib_fraction}")
    if min_support < 1:
        raise DcbError(f"min support must be at least 1, got {min_support}")
    columns = evidence + probes
    src = open_source(source, columns + [action] + ([weight] if weight else []), batch_rows)
    check_types(src, weight, {})
    cells, _ = read_probe_cells(src, columns, action, weight, nulls, threads, with_rows=split == "permutation",
                                scheduler=scheduler, checkpoint=checkpoint)
    if weight:
        check_cell_weights(cells.w, cells.count, weight, cells.n_rows)
    for p in policies:
        if POLICIES[p].numeric:
            bad = [c for c, v in zip(columns, cells.values) if v is None or np.isnan(v).any()]
            if bad:
                raise DcbError(f"policy {p} correlates columns and needs numeric ones without nulls; '{bad[0]}' "
                               f"is {src.types[bad[0]]}; cast it to numbers or leave {p} out of the policies")
    n_cal = int(round(calib_fraction * cells.n_rows))
    if n_cal < 1 or n_cal >= cells.n_rows:
        raise DcbError(f"{cells.n_rows} rows cannot be split {calib_fraction:.0%} / {1 - calib_fraction:.0%} "
                       "into two non-empty parts; use more rows or another calibration fraction")
    rseed = random_seed or (lambda k: [seed, k, 1])

    rows = []
    for k in range(splits):
        cal, test = split_cells(cells, split, calib_fraction, seed, k)
        sp = Split(cells, cal, test, min_support, weight is not None)
        for part, w in (("calibration", sp.cal_w), ("test", sp.test_w)):
            if not w.sum() > 0:  # every fraction of that part would be 0/0
                raise DcbError(f"split {k}: the {part} part has no weight (column '{weight}' is 0 on all its rows); "
                               "use more rows, or fewer rows of zero weight")
        for r in run_split(cells, sp, len(evidence), policies, tie_break,
                           lambda name, k=k: np.random.default_rng(rseed(k)) if name == "random" else None):
            rows.append({"split": k, **r})
    params = {"evidence": evidence, "action": action, "probes": probes, "policies": policies, "splits": splits,
              "calib_fraction": calib_fraction, "seed": seed, "split": split, "min_support": min_support,
              "tie_break": tie_break, "weight": weight, "nulls": nulls,
              "random_seed": "custom" if random_seed else "[seed, split, 1]"}
    result = _summarize(rows, params, policies, src, cells)
    result.run_info = cells.run_info
    return result


STEP_FIELDS = ["calibration_certified_fraction", "certified_fraction", "false_decisions", "error_among_certified",
               "certified_rows", "test_rows"]


def _summarize(rows, params, policies, src, cells) -> AcquisitionResult:
    table = pa.table({
        "split": pa.array([r["split"] for r in rows], pa.int64()),
        "policy": pa.array([r["policy"] for r in rows], pa.string()),
        "step": pa.array([r["step"] for r in rows], pa.int64()),
        "probe": pa.array([r["probe"] for r in rows], pa.string()),
        "selected": pa.array([r["selected"] for r in rows], pa.string()),
        **{f: pa.array([r[f] for r in rows], pa.int64() if f.endswith("_rows") else pa.float64())
           for f in STEP_FIELDS},
    })
    per = {}
    for name in policies:
        steps = []
        n_steps = max(r["step"] for r in rows if r["policy"] == name) + 1
        for j in range(n_steps):
            sub = [r for r in rows if r["policy"] == name and r["step"] == j]
            err = [r["error_among_certified"] for r in sub if r["error_among_certified"] is not None]
            entry = {"step": j,
                     "certified_fraction": _stats([r["certified_fraction"] for r in sub]),
                     "false_decisions": _stats([r["false_decisions"] for r in sub]),
                     "error_among_certified": {**(_stats(err) if err else {"mean": None, "p10": None, "p90": None}),
                                               "splits": len(err)},
                     "calibration_certified_fraction": _stats([r["calibration_certified_fraction"] for r in sub])}
            if j:
                counts = Counter(r["probe"] for r in sub)
                top = max(counts.values())
                entry["modal_probe"] = min(p for p, c in counts.items() if c == top)  # ties: lexically first
                entry["modal_count"] = top
                entry["picks"] = dict(sorted(counts.items()))
            steps.append(entry)
        per[name] = steps
    metrics = {"splits": params["splits"], "n_rows": cells.n_rows,
               "n_calibration": int(round(params["calib_fraction"] * cells.n_rows)),
               "policies": per}
    first = policies[0]
    curve = per[first]
    headline = (f"{first.replace('_', '-')}: held-out certified {curve[0]['certified_fraction']['mean']:.2%} with the "
                f"evidence alone")
    if len(curve) > 1:
        headline += (f", {curve[1]['certified_fraction']['mean']:.2%} after one probe (modal {curve[1]['modal_probe']}, "
                     f"{curve[1]['modal_count']} of {params['splits']} splits), "
                     f"{curve[-1]['certified_fraction']['mean']:.2%} with all {len(curve) - 1}")
    summary = envelope("acquisition", params,
                       input=src.describe(),
                       metrics=metrics,
                       headline=headline)
    return AcquisitionResult(summary, table)
