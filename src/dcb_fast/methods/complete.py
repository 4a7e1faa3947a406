"""Completion: which probe to measure next, completion curves and completion cost (SPEC section 5,
finite form).

Rows are read and encoded once, into *atoms*: the fibers of all evidence and probe columns
together, with per-action counts and weights (``kernels.refine``). The current fibers are
segments of a permutation of the atoms; every greedy step splits them by each remaining probe,
one sequential pass over the atoms per probe (the probes on parallel threads), then reorders the
atoms by the chosen probe: the work of a step is O(atoms x probes) whatever the step number.
"""

from __future__ import annotations


import numpy as np
import pyarrow as pa

from .._threads import parallel_map
from ..core.summary import envelope
from ..errors import DcbError
from ..io import arrow as A
from ..fibers.state import FiberState
from ..io.sources import DEFAULT_BATCH_ROWS, open_source
from ..kernels import counting as kc
from ..kernels import refine as kr
from ..kernels.hashing import weights_to_fixed
from ..kernels.sorting import lexsort
from ..fibers.finalize import canonical_order, zero_weight_message
from ..core.progress import Progress
from ..core.results import Result
from ..core.validation import check_columns, check_types, fix_rules, resolve_rules
from .. import engines
from .slices import atom_slices

_SCALE = 1 << 64


class Atoms:
    """The finest fibers of a labelled table: codes per column, counts and weights per action.

    The atoms are kept sorted so that the current fibers are contiguous segments, and reordered
    when a probe is chosen, so every candidate probe is scored by one sequential pass. With
    ``canonical=True`` they start in canonical order (evidence values ascending), so that seeded
    splits of the rows never depend on how the input was read. Arrays passed to :meth:`attach`
    (held-out counts) are reordered along."""

    def __init__(self, state: FiberState, canonical: bool = False, counts: bool = True):
        self.columns = list(state.evidence)
        self.ncodes = [max(len(e), 1) for e in state.encoders]
        self.state = state
        if not counts and not canonical:  # codes and the summary "s_" alone (see :meth:`summarize`)
            self.arrays = _codes_and_summaries(state, "s_")
            self.weighted = state.weight is not None
            return
        keys, counts, whi, wlo = state.table_arrays()
        if canonical:
            order = canonical_order(state)
            keys, counts, whi, wlo = keys[order], counts[order], whi[order], wlo[order]
        self.arrays = {"codes": np.ascontiguousarray(keys), "counts": np.ascontiguousarray(counts),
                       "whi": np.ascontiguousarray(whi), "wlo": np.ascontiguousarray(wlo)}
        self.weighted = state.weight is not None

    def __getattr__(self, name):
        try:
            return self.__dict__["arrays"][name]
        except KeyError:
            raise AttributeError(name) from None

    def attach(self, **arrays) -> None:
        """Arrays with one row per atom, to be kept in the atoms' order."""
        # own copies: two names must never share a buffer, since each is reordered in place
        self.arrays.update({k: np.array(v, copy=True, order="C") for k, v in arrays.items()})

    def _reorder(self, perm: np.ndarray) -> None:
        # into a second buffer per array, kept between steps: a fresh array per step would map
        # new memory every time, which costs more than the gather itself on some machines
        spare = self.__dict__.setdefault("_spare", {})

        def one(k):
            v = self.arrays[k]
            two = v.reshape(len(v), -1)
            out = spare.get(k)
            if out is None or out.shape != two.shape or out.dtype != two.dtype:
                out = np.empty_like(two, order="C")
            kr.gather_rows(two, perm, out)
            # a strided view (columns dropped by :meth:`segments`) is no buffer to reuse: it would
            # keep the whole old array alive and hand the kernels strided rows
            spare[k] = two if two.flags.c_contiguous else None
            self.arrays[k] = out.reshape(v.shape)

        parallel_map(one, list(self.arrays), 2)

    def segments(self, leading: int) -> np.ndarray:
        """Sort the atoms by the first ``leading`` key columns (one mixed-radix number of their
        codes when it fits 62 bits) and return the boundaries of their fibers. Those columns are
        dropped from ``codes`` afterwards: the segments say all that is needed of them, and every
        later reorder moves less."""
        n = len(self.codes)
        if n == 0 or leading == 0:
            return np.array([0, n], np.int64) if n else np.zeros(1, np.int64)
        radix = self.ncodes[:leading]
        if float(np.prod(np.array(radix, dtype=np.float64))) < 2.0**62:
            composite = np.zeros(n, np.int64)
            for j, r in enumerate(radix):
                composite *= r
                composite += self.codes[:, j]
            perm = lexsort([composite])
            lead = composite[perm]
            starts = lead[1:] != lead[:-1]
        else:
            perm = lexsort([self.codes[:, j] for j in range(leading)])
            lead = self.codes[perm, :leading]
            starts = (lead[1:] != lead[:-1]).any(axis=1)
        self.arrays["codes"] = self.codes[:, leading:]  # a view: the reorder makes it contiguous
        self.columns, self.ncodes = self.columns[leading:], self.ncodes[leading:]
        self._reorder(perm)
        return np.concatenate([[0], np.nonzero(starts)[0] + 1, [n]]).astype(np.int64)

    def summarize(self, prefix: str, counts, whi, wlo) -> None:
        """Attach per-atom rows, weight and action of these counts as ``<prefix>rows`` etc."""
        n = len(counts)
        out = {f"{prefix}rows": np.empty(n, np.int64), f"{prefix}thi": np.empty(n, np.int64),
               f"{prefix}tlo": np.empty(n, np.uint64), f"{prefix}act": np.empty(n, np.int64)}
        kr.summarize_atoms(np.ascontiguousarray(counts), np.ascontiguousarray(whi), np.ascontiguousarray(wlo),
                           True, *out.values())
        self.arrays.update(out)

    def score(self, seg, column, prefix, min_support, skip) -> dict:
        """Scores of the current fibers split by ``column`` (None: as they are), from the atom
        summaries ``prefix`` (see :meth:`summarize`)."""
        col = -1 if column is None else self.columns.index(column)
        acc = np.zeros((4, 2), np.int64)
        cnt = np.zeros(3, np.int64)
        a = self.arrays
        kr.score_split(seg, self.codes, col, self.ncodes[col] if col >= 0 else 1, a[f"{prefix}rows"],
                       a[f"{prefix}thi"], a[f"{prefix}tlo"], a[f"{prefix}act"], int(min_support), skip, acc, cnt)
        return _score(acc, cnt)

    def split(self, seg, column) -> np.ndarray:
        """Split every fiber by ``column``: reorder the atoms, return the new boundaries."""
        perm = np.empty(len(self.codes), np.int64)
        new_seg = np.empty(len(self.codes) + 1, np.int64)
        col = self.columns.index(column)
        ns = kr.apply_split(seg, self.codes, col, self.ncodes[col], perm, new_seg)
        self._reorder(perm)
        return new_seg[: ns + 1].copy()

    @staticmethod
    def group_of(seg) -> np.ndarray:
        return np.repeat(np.arange(len(seg) - 1, dtype=np.int64), np.diff(seg))


def _score(acc, cnt) -> dict:
    """Certifiable / ambiguous / thin fractions and fiber counts from class totals."""
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
             progress: bool | None = False, by: str | None = None, scheduler=None,
             checkpoint: str | None = None) -> CompletionResult:
    """Greedy completion: add, one at a time, the probe whose addition to the evidence makes the
    largest weight certifiable (with ``costs``: the largest gain per unit cost; ties: the
    lexically first name), until the pool is empty or ``target`` is reached.

    With ``holdout`` (a fraction), probes are chosen on a calibration part of the rows and the
    frozen order is scored on the held-out part at every step (certified fraction, error among
    certified, false decisions); the split is seeded by ``seed``.

    With ``by``, every step of the curve also gets ``by``: the figures of each value's slice
    (its own fibers over the step's columns), from the same pass (``slices.atom_slices``).
    ``scheduler`` and ``checkpoint`` choose the engine of that pass (:func:`dcb_fast.engines.run`).

    >>> t = pa.table({"e": [0, 0, 0, 0, 1, 1], "p": [0, 0, 1, 1, 0, 1], "q": [0, 1, 0, 1, 0, 0],
    ...               "d": ["a", "a", "b", "b", "a", "a"]})
    >>> r = complete(t, ["e"], "d", ["p", "q"])
    >>> r.metrics["recommended_probe"], [s["certifiable_fraction"] for s in r.metrics["curve"]]
    ('p', [0.3333333333333333, 1.0, 1.0])
    """
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
    if any(r.overlapping for r in rules.values()):
        raise DcbError("completion needs finite fibers: use exact, quantile, edges or width rules for its columns")
    # with a held-out split and weights, rows of one atom must share their weight: key on it too
    key_cols = columns + ([weight] if (holdout is not None and weight) else [])
    if by is not None:  # a trailing key column, never a fiber column: the curve does not change
        if by in columns or by in (action, weight):
            raise DcbError(f"by column '{by}' is also an evidence, probe, action or weight column; slice by another column")
        if holdout is not None:
            raise DcbError("--by and --holdout together are not supported; slice the calibration curve without --holdout")
        key_cols = key_cols + [by]
    src = open_source(source, key_cols + [action] + ([weight] if weight and weight not in key_cols else []),
                      batch_rows)
    check_types(src, weight, rules)
    rules = fix_rules(src, rules)
    spec = engines.PartialSpec.of(src, key_cols, action, weight, nulls, rules)
    with Progress(src.total_rows, enabled=progress if progress is not None else None) as bar:
        state, run = engines.run(src, spec, scheduler=scheduler, checkpoint=checkpoint, threads=threads, progress=bar)
    if state.n_rows == 0:
        raise DcbError("empty input: no rows" + (" left after dropping nulls" if state.rows_read else ""))
    held = holdout is not None
    atoms = Atoms(state, canonical=held, counts=held)
    threads = threads or state.threads
    if held:
        if weight and not (atoms.whi.any() or atoms.wlo.any()):
            raise DcbError(zero_weight_message(weight, state.n_rows))
        cal, test = _split(atoms, holdout, seed, weight)
        atoms.attach(cc=cal[0], chi=cal[1], clo=cal[2], tc=test[0], thi=test[1], tlo=test[2])
        atoms.summarize("s_", *cal)  # probes are chosen on the calibration part
        for name in ("counts", "whi", "wlo"):  # only the summaries are needed from here on
            del atoms.arrays[name]

    def heldout_figures(seg):
        a = atoms
        return _heldout(a.group_of(seg), (a.cc, a.chi, a.clo), (a.tc, a.thi, a.tlo), min_support)

    skip = thin == "skip"
    seg = atoms.segments(len(evidence))
    current = atoms.score(seg, None, "s_", min_support, skip)
    if current["_total"] == 0:  # every fraction would be 0 / 0
        if not held:
            raise DcbError(zero_weight_message(weight, state.n_rows))
        raise DcbError(f"the calibration part (holdout {holdout}, seed {seed}) has " +
                       (f"a total weight of 0 in weight column '{weight}'" if weight else "no rows") +
                       ": fractions of zero weight are undefined; lower --holdout or give more rows a positive weight")
    curve = [{"step": 0, "probe": None, "cost": 0.0, **_public(current)}]
    if held:
        curve[0].update(heldout_figures(seg))

    def slices_now(seg):
        enc = state.encoders[len(key_cols) - 1]
        return atom_slices(atoms, seg, atoms.columns.index(by), enc.values(), enc.sort_ranks(), int(min_support))

    if by is not None:
        curve[0]["by"] = slices_now(seg)
    chosen: list[str] = []
    pool = sorted(probes)
    while pool and not (target is not None and current["certifiable_fraction"] >= target):
        results = parallel_map(lambda p: (p, atoms.score(seg, p, "s_", min_support, skip)), pool, threads)

        p, current = _pick(results, current["_certified"], costs)
        seg = atoms.split(seg, p)
        pool.remove(p)
        chosen.append(p)
        cost = curve[-1]["cost"] + float(costs.get(p, 1.0))
        curve.append({"step": len(chosen), "probe": p, "cost": cost, **_public(current)})
        if held:
            curve[-1].update(heldout_figures(seg))
        if by is not None:
            curve[-1]["by"] = slices_now(seg)

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
    summary = envelope("completion", {"evidence": evidence, "action": action, "probes": probes, "weight": weight,
                       "min_support": int(min_support), "thin": thin, "nulls": nulls, "target": target,
                       "costs": costs or None, "holdout": holdout, "seed": seed if holdout is not None else None, "by": by,
                       "rules": {c: rules[c].describe() for c in rules}},
                       input={**src.describe(), "rows_read": state.rows_read},
                       metrics=metrics,
                       headline=_headline(metrics, target))
    table = pa.table({k: [s.get(k) for s in curve] for k in curve[0] if k != "by"})
    result = CompletionResult(summary, table)
    result.run_info = run
    return result


def _codes_and_summaries(state: FiberState, prefix: str) -> dict:
    """The atoms' codes and their :meth:`Atoms.summarize` arrays, read from the fiber table's
    records shard by shard (the per-action columns of the records, as views): the per-action
    counts and weights of millions of atoms are never copied out."""
    nf, k, kw, na = state.n_fibers, len(state.evidence), state.key_words, state.n_action_slots
    weighted = state.weight is not None
    codes = np.empty((nf, k), np.int32)
    out = {f"{prefix}rows": np.empty(nf, np.int64), f"{prefix}thi": np.empty(nf, np.int64),
           f"{prefix}tlo": np.empty(nf, np.uint64), f"{prefix}act": np.empty(nf, np.int64)}
    no_counts = np.zeros((nf, 0), np.int64)

    def one(rec, m, off):
        sl = slice(off, off + m)
        kc.unpack_table(rec, m, k, kw, 0, False, codes[sl], no_counts[sl], no_counts[sl],  # keys only
                        no_counts[sl].view(np.uint64))
        counts = rec[:m, kw : kw + na]
        if weighted:
            whi, wlo = rec[:m, kw + na : kw + 2 * na], rec[:m, kw + 2 * na : kw + 3 * na]
        else:  # not read: the weight is the row count
            whi = wlo = counts
        kr.summarize_atoms(counts, whi, wlo.view(np.uint64), weighted, *(v[sl] for v in out.values()))

    state.shard_map(one)
    return {"codes": codes, **out}


def _pick(results, certified_now: int, costs: dict):
    """The next probe of a greedy step (SPEC section 5), from ``(probe, score)`` pairs in name
    order. Without costs: the most certified weight, ties by name. With costs: the largest gain
    per unit cost among the probes that gain; when none gains (a falling or flat curve), the
    largest gain (the smallest loss), ties by lower cost, then name. Dividing a loss by a cost
    would prefer a costly probe that loses more (-0.5 / 10 beats -0.25 / 1)."""
    if not costs:
        best = max(sc["_certified"] for _, sc in results)
        return next(r for r in results if r[1]["_certified"] == best)
    gain = {p: sc["_certified"] - certified_now for p, sc in results}  # exact, in units of 2**-64
    cost = {p: float(costs.get(p, 1.0)) for p, _ in results}
    gaining = [r for r in results if gain[r[0]] > 0]
    if gaining:
        return max(gaining, key=lambda r: gain[r[0]] / cost[r[0]])  # max keeps the first of ties: by name
    return min(results, key=lambda r: (-gain[r[0]], cost[r[0]], r[0]))


def _public(sc: dict) -> dict:
    return {k: v for k, v in sc.items() if not k.startswith("_")}


def _split(atoms: Atoms, fraction: float, seed: int, weight: str | None):
    """Seeded split of the rows into calibration and held-out parts: ``round(fraction * n)`` rows
    held out, drawn as a uniformly random subset (multivariate hypergeometric over the
    (atom, action) cells, which is what a random permutation of the rows gives)."""
    counts = atoms.counts
    # the cells are walked in canonical order (atoms by value, then actions by value), never in
    # the order actions were first met: the split depends on the rows' multiset and the seed only
    ranks = atoms.state.action_encoder.sort_ranks()
    ranks = np.concatenate([ranks, np.arange(len(ranks), counts.shape[1])])[: counts.shape[1]]
    cols = np.argsort(ranks, kind="stable")
    flat = np.ascontiguousarray(counts[:, cols]).ravel()
    n = int(flat.sum())
    rng = np.random.default_rng(seed)
    drawn = rng.multivariate_hypergeometric(flat, int(round(fraction * n)), method="marginals")
    held = np.empty_like(counts)
    held[:, cols] = drawn.reshape(counts.shape)
    cal = counts - held
    if weight is None:
        z = np.zeros(counts.shape, np.uint64)
        return (cal, cal, z), (held, held, z)
    w = A.np_values(atoms.state.encoders[-1].values(), nan_nulls=True)[atoms.codes[:, -1]]

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


def complete_groups(source, group_by: str, evidence, action, probes, batch_rows: int = DEFAULT_BATCH_ROWS,
                    **options) -> CompletionResult:
    """Greedy completion per model of a long table (``group_by`` names the model; issue 19):
    one :func:`complete` on each model's rows, and a pooled view, :func:`complete` on every row
    with the model column leading the evidence (fibers never mix models; one probe order chosen
    for all models together). ``options`` are :func:`complete`'s; rules that depend on the data
    (quantile bins) are resolved on each model's own rows.

    ``metrics`` is the pooled view's, plus ``groups`` ({model: its metrics}) and ``group_by``;
    ``curve`` holds the pooled curve (``group`` null) and every model's curve. Rows with a null
    model are left out (``dropped_group_rows``). The input is read into memory once.

    >>> t = pa.table({"m": ["x"] * 4 + ["y"] * 4, "e": [0] * 8, "p": [0, 0, 1, 1, 0, 1, 0, 1],
    ...               "d": [0, 0, 1, 1, 0, 0, 0, 0]})
    >>> r = complete_groups(t, "m", ["e"], "d", ["p"])
    >>> {g: m["curve"][-1]["certifiable_fraction"] for g, m in r.metrics["groups"].items()}
    {'x': 1.0, 'y': 1.0}
    """
    import pyarrow.compute as pc

    if options.pop("scheduler", None) is not None or options.pop("checkpoint", None) is not None:
        raise DcbError("complete --group-by reads the table into memory once and runs in one process; "
                       "drop --scheduler and --checkpoint (or run complete on each model's files)")
    evidence = check_columns(evidence, action, options.get("weight"))
    plist = [probes] if isinstance(probes, str) else list(probes or [])
    if group_by in evidence or group_by in plist or group_by == action or group_by == options.get("weight"):
        raise DcbError(f"--group-by column '{group_by}' is also the evidence, a probe, the action or the weight; "
                       "it must name the model")
    cols = list(dict.fromkeys([group_by] + evidence + plist + [action] + [options.get("weight")] * bool(
        options.get("weight"))))
    src = open_source(source, cols, batch_rows)
    table = pa.Table.from_batches([b for _, b in src.batches(cols)])
    g = table.column(group_by)
    if pa.types.is_dictionary(g.type):
        g = g.cast(g.type.value_type)
        table = table.set_column(0, group_by, g)
    dropped = g.null_count
    if dropped:
        table = table.filter(pc.is_valid(g))
        g = table.column(group_by)
    if table.num_rows == 0:
        raise DcbError("empty input: no rows with a model")
    names = sorted(pc.unique(g).to_pylist())
    pooled = complete(table, [group_by] + evidence, action, plist, **options)
    groups, tables = {}, [pooled.curve.append_column("group", pa.nulls(pooled.curve.num_rows, pa.string()))]
    for name in names:
        r = complete(table.filter(pc.equal(g, name)), evidence, action, plist, **options)
        groups[str(name)] = r.metrics
        tables.append(r.curve.append_column("group", pa.array([str(name)] * r.curve.num_rows, pa.string())))
    summary = dict(pooled.summary)
    summary["parameters"] = {**pooled.summary["parameters"], "evidence": evidence, "group_by": group_by}
    summary["input"] = src.describe()
    summary["metrics"] = {**pooled.metrics, "group_by": group_by, "groups": groups, "dropped_group_rows": dropped}
    summary["headline"] = (f"{len(groups)} models; pooled (one probe order for all): " + pooled.summary["headline"])
    return CompletionResult(summary, pa.concat_tables(tables, promote_options="permissive"))
