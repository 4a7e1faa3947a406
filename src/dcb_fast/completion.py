"""Completion: which probe to measure next, completion curves and completion cost (SPEC section 5,
finite form).

Rows are read and encoded once, into *atoms*: the fibers of all evidence and probe columns
together, with per-action counts and weights (``kernels.refine``). Every greedy step refines the
current fibers by each remaining probe, one pass over the atoms per probe, the probes on parallel
threads; the work of a step is O(atoms x probes) whatever the step number.
"""

from __future__ import annotations


import numpy as np
import pyarrow as pa

from . import __version__
from ._threads import parallel_map
from .errors import DcbError
from .fibers import FiberState
from .io.sources import DEFAULT_BATCH_ROWS, open_source
from .kernels import refine as kr
from .kernels.hashing import weights_to_fixed
from .metrics import canonical_order
from .progress import Progress
from .results import Result

_SCALE = 1 << 64


class Atoms:
    """The finest fibers of a labelled table: codes per column, counts and weights per action,
    in canonical order (so seeded splits never depend on how the input was read)."""

    def __init__(self, state: FiberState):
        order = canonical_order(state)
        keys, counts, whi, wlo = state.table_arrays()
        self.columns = list(state.evidence)
        self.codes = np.ascontiguousarray(keys[order].astype(np.int64))
        self.counts = np.ascontiguousarray(counts[order])
        self.whi = np.ascontiguousarray(whi[order])
        self.wlo = np.ascontiguousarray(wlo[order])
        self.state = state
        self.weighted = state.weight is not None

    def code(self, column: str) -> np.ndarray:
        return np.ascontiguousarray(self.codes[:, self.columns.index(column)])

    def group(self, columns: list[str], counts=None, whi=None, wlo=None) -> np.ndarray:
        g = np.zeros(len(self.codes), np.int64)
        for c in columns:
            g = self.refine(g, self.code(c), counts, whi, wlo)[0]
        return g

    def refine(self, group, code, counts=None, whi=None, wlo=None):
        out = np.empty(len(group), np.int64)
        stats = kr.refine(group, code, self.counts if counts is None else counts, self.whi if whi is None else whi,
                          self.wlo if wlo is None else wlo, out)
        return out, stats


def score(stats, min_support: int, skip_thin: bool) -> dict:
    """Certifiable / ambiguous / thin fractions and fiber counts of refined groups."""
    rows, thi, tlo, act = stats
    acc = np.zeros((4, 2), np.int64)
    cnt = np.zeros(3, np.int64)
    kr.class_totals(rows, thi, tlo, act, int(min_support), skip_thin, acc, cnt)
    tot = [int(acc[i, 0]) * _SCALE + int(np.uint64(acc[i, 1])) for i in range(4)]
    W = tot[0]
    return {
        "certifiable_fraction": tot[1] / W if W else 0.0,
        "ambiguous_fraction": tot[2] / W if W else 0.0,
        "thin_fraction": tot[3] / W if W else 0.0,
        "n_fibers": int(cnt[0]), "n_mixed_fibers": int(cnt[1]), "_certified": tot[1], "_total": W,
    }


class CompletionResult(Result):
    """``summary`` (kind "completion") and ``curve`` (one row per step)."""

    FILES = {"curve": "completion_curve"}

    def __init__(self, summary: dict, curve: pa.Table):
        super().__init__(summary)
        self.curve = curve


def complete(source, evidence, action, probes, weight=None, min_support: int = 1, target: float | None = None,
             costs: dict | None = None, holdout: float | None = None, seed: int = 0, thin: str = "ambiguous",
             nulls: str = "drop", rules=None, batch_rows: int = DEFAULT_BATCH_ROWS, threads: int | None = None,
             progress: bool | None = False) -> CompletionResult:
    """Greedy completion: add, one at a time, the probe whose addition to the evidence makes the
    largest weight certifiable (with ``costs``: the largest gain per unit cost; ties: the
    lexically first name), until the pool is empty or ``target`` is reached.

    With ``holdout`` (a fraction), probes are chosen on a calibration part of the rows and the
    frozen order is scored on the held-out part at every step (certified fraction, error among
    certified, false decisions); the split is seeded by ``seed``.

    >>> t = pa.table({"e": [0, 0, 0, 0, 1, 1], "p": [0, 0, 1, 1, 0, 1], "q": [0, 1, 0, 1, 0, 0],
    ...               "d": ["a", "a", "b", "b", "a", "a"]})
    >>> r = complete(t, ["e"], "d", ["p", "q"])
    >>> r.metrics["recommended_probe"], [s["certifiable_fraction"] for s in r.metrics["curve"]]
    ('p', [0.3333333333333333, 1.0, 1.0])
    """
    from .auditing import check_columns, check_types, resolve_quantiles, resolve_rules
    from .engines.local import run_partials

    evidence = check_columns(evidence, action, weight)
    probes = [probes] if isinstance(probes, str) else list(probes or [])
    if not probes:
        raise DcbError("no probe columns given; pass --probes p1,p2,...")
    for p in probes:
        if p in evidence or p == action or p == weight:
            raise DcbError(f"probe column '{p}' is already the evidence, action or weight; a probe must be a new column")
    if len(set(probes)) != len(probes):
        raise DcbError("a probe column is given twice; list each probe once")
    costs = dict(costs or {})
    for p, c in costs.items():
        if p not in probes:
            raise DcbError(f"a cost is given for '{p}', which is not among the probes")
        if not (float(c) > 0):
            raise DcbError(f"cost of probe '{p}' must be positive, got {c}")
    if target is not None and not (0 < target <= 1):
        raise DcbError(f"target must be a fraction in (0, 1], got {target}")
    if holdout is not None and not (0 < holdout < 1):
        raise DcbError(f"holdout must be a fraction in (0, 1), got {holdout}")
    if thin not in ("ambiguous", "skip"):
        raise DcbError(f"thin must be 'ambiguous' or 'skip', not '{thin}'")
    columns = evidence + probes
    rules = resolve_rules(columns, rules)
    if any(r.name in ("window", "knn") for r in rules.values()):
        raise DcbError("completion needs finite fibers: use exact, quantile, edges or width rules for its columns")
    # with a held-out split and weights, rows of one atom must share their weight: key on it too
    key_cols = columns + ([weight] if (holdout is not None and weight) else [])
    src = open_source(source, key_cols + [action] + ([weight] if weight and weight not in key_cols else []),
                      batch_rows)
    check_types(src, weight, rules)
    rules = resolve_quantiles(src, rules)
    read_cols = list(dict.fromkeys(key_cols + [action] + ([weight] if weight else [])))
    with Progress(src.total_rows, enabled=progress if progress is not None else None) as bar:
        state = run_partials(src.batches(read_cols),
                             lambda: FiberState(key_cols, action, weight, nulls, rules, shards=threads,
                                                expected_rows=src.total_rows),
                             progress=bar, labels=dict(src.parts()))
    if state.n_rows == 0:
        raise DcbError("empty input: no rows" + (" left after dropping nulls" if state.rows_read else ""))
    atoms = Atoms(state)
    threads = threads or state.threads

    cal = test = None
    if holdout is not None:
        cal, test = _split(atoms, holdout, seed, weight)
    counts, whi, wlo = (atoms.counts, atoms.whi, atoms.wlo) if cal is None else cal
    skip = thin == "skip"
    group = atoms.group(evidence, counts, whi, wlo)
    base = score(atoms.refine(group, np.zeros(len(group), np.int64), counts, whi, wlo)[1], min_support, skip)
    curve = [{"step": 0, "probe": None, "cost": 0.0, **_public(base)}]
    chosen: list[str] = []
    groups = [group]
    pool = sorted(probes)
    current = base
    while pool and not (target is not None and current["certifiable_fraction"] >= target):
        def evaluate(p):
            g, stats = atoms.refine(group, atoms.code(p), counts, whi, wlo)
            return p, g, score(stats, min_support, skip)

        results = parallel_map(evaluate, pool, threads)

        def merit(item):
            p, _, sc = item
            gain = sc["_certified"] - current["_certified"]  # exact, in units of 2**-64 weight
            return (gain / float(costs.get(p, 1.0))) if costs else sc["_certified"]

        best = max(merit(r) for r in results)
        p, group, current = next(r for r in results if merit(r) == best)  # pool is sorted: lexical ties
        pool.remove(p)
        chosen.append(p)
        groups.append(group)
        cost = curve[-1]["cost"] + float(costs.get(p, 1.0))
        curve.append({"step": len(chosen), "probe": p, "cost": cost, **_public(current)})

    if test is not None:
        for step, g in zip(curve, groups):
            step.update(_heldout(g, cal, test, min_support))
    reached = None
    if target is not None:
        reached = next((s for s in curve if s["certifiable_fraction"] >= target), None)
    falls = [s["step"] for s, prev in zip(curve[1:], curve) if s["certifiable_fraction"] < prev["certifiable_fraction"]]
    metrics = {
        "n_rows": state.n_rows, "dropped_rows": state.dropped_rows, "n_atoms": int(len(atoms.codes)),
        "curve": curve,
        "recommended_probe": curve[1]["probe"] if len(curve) > 1 else None,
        "completion_cost": ({"probes": reached["step"], "cost": reached["cost"]} if reached else "not reached")
        if target is not None else None,
        "curve_falls_at": falls,
    }
    summary = {
        "schema_version": 1,
        "kind": "completion",
        "dcb_fast_version": __version__,
        "parameters": {"evidence": evidence, "action": action, "probes": probes, "weight": weight,
                       "min_support": int(min_support), "thin": thin, "nulls": nulls, "target": target,
                       "costs": costs or None, "holdout": holdout, "seed": seed if holdout is not None else None,
                       "rules": {c: rules[c].describe() for c in rules}},
        "input": {**src.describe(), "rows_read": state.rows_read},
        "metrics": metrics,
        "headline": _headline(metrics, target),
    }
    table = pa.table({k: [s.get(k) for s in curve] for k in curve[0]})
    return CompletionResult(summary, table)


def _public(sc: dict) -> dict:
    return {k: v for k, v in sc.items() if not k.startswith("_")}


def _split(atoms: Atoms, fraction: float, seed: int, weight: str | None):
    """Seeded split of the rows into calibration and held-out parts: ``round(fraction * n)`` rows
    held out, drawn as a uniformly random subset (multivariate hypergeometric over the
    (atom, action) cells, which is what a random permutation of the rows gives)."""
    counts = atoms.counts
    flat = counts.ravel()
    n = int(flat.sum())
    rng = np.random.default_rng(seed)
    held = rng.multivariate_hypergeometric(flat, int(round(fraction * n)), method="marginals").reshape(counts.shape)
    cal = counts - held
    if weight is None:
        z = np.zeros(counts.shape, np.uint64)
        return (cal, cal, z), (held, held, z)
    w = atoms.state.encoders[-1].values().to_numpy(zero_copy_only=False)[atoms.codes[:, -1]]

    def fixed(c):
        x = np.ascontiguousarray((c * w[:, None]).astype(np.float64)).ravel()
        hi, lo = np.empty(len(x), np.int64), np.empty(len(x), np.uint64)
        weights_to_fixed(x, hi, lo)
        return c, hi.reshape(c.shape), lo.reshape(c.shape)

    return fixed(cal), fixed(held)


def _heldout(group, cal, test, min_support) -> dict:
    """Held-out figures for one step: the calibration part certifies, the held-out part is scored."""
    ccount, chi, clo = cal
    tcount, thi, tlo = test
    ng = int(group.max()) + 1 if len(group) else 0
    na = ccount.shape[1]
    # per group sums as one bincount over (group, action) (numpy's add.at is far slower)
    flat = (group[:, None] * na + np.arange(na)).ravel()
    cal_rows = np.bincount(flat, weights=ccount.ravel(), minlength=ng * na).reshape(ng, na)
    wt = thi.astype(np.float64) + tlo.astype(np.float64) / 2.0**64
    test_w = np.bincount(flat, weights=wt.ravel(), minlength=ng * na).reshape(ng, na)
    support = cal_rows.sum(axis=1)
    present = (cal_rows > 0).sum(axis=1)
    certified = (support >= min_support) & (present == 1)
    act = cal_rows.argmax(axis=1)
    total = test_w.sum()
    cert_w = test_w[certified].sum()
    wrong = (test_w[certified].sum(axis=1) - test_w[certified, act[certified]]).sum()
    return {
        "holdout_certified_fraction": float(cert_w / total) if total else 0.0,
        "holdout_error_among_certified": float(wrong / cert_w) if cert_w else 0.0,
        "holdout_false_decisions": float(wrong / total) if total else 0.0,
    }


def _headline(m: dict, target) -> str:
    c = m["curve"]
    s = (f"certifiable {c[0]['certifiable_fraction']:.2%} with the evidence alone, "
         f"{c[-1]['certifiable_fraction']:.2%} after {len(c) - 1} probe{'s' if len(c) != 2 else ''}")
    if m["recommended_probe"]:
        s += f"; measure '{m['recommended_probe']}' next"
    if target is not None:
        cc = m["completion_cost"]
        s += f"; target {target:.0%}: " + (f"reached with {cc['probes']} probes (cost {cc['cost']:g})"
                                            if isinstance(cc, dict) else "not reached")
    return s
