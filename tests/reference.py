"""Slow, obvious oracles: plain Python over lists of dicts, exact arithmetic with Fractions."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from fractions import Fraction


def norm(v):
    """The key an exact fiber rule gives a value: NaN is null, -0.0 is 0.0."""
    if isinstance(v, float):
        if math.isnan(v):
            return None
        if v == 0.0:
            return 0.0
    return v


def fibers_oracle(rows, evidence, action, weight=None, nulls="drop"):
    """{key tuple: {action: [rows, Fraction weight]}}, dropped row count."""
    fib = defaultdict(lambda: defaultdict(lambda: [0, Fraction(0)]))
    dropped = 0
    for r in rows:
        key = tuple(norm(r[c]) for c in evidence)
        a = norm(r[action])
        w = r[weight] if weight else 1
        if w is None or (nulls == "drop" and (a is None or any(v is None for v in key))):
            dropped += 1
            continue
        cell = fib[key][a]
        cell[0] += 1
        cell[1] += Fraction(w)
    return fib, dropped


def label(v):
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def audit_oracle(rows, evidence, action, weight=None, min_support=1, thin="ambiguous", nulls="drop"):
    """The metrics of SPEC section 2, computed the obvious way."""
    fib, dropped = fibers_oracle(rows, evidence, action, weight, nulls)
    total = sum(c[1] for cells in fib.values() for c in cells.values())
    n_rows = sum(c[0] for cells in fib.values() for c in cells.values())
    cert = amb = thn = risk = Fraction(0)
    n_fibers = n_mixed = n_thin = 0
    cert_rows, cert_fibers, cert_w, prev = defaultdict(int), defaultdict(int), defaultdict(Fraction), defaultdict(Fraction)
    for key, cells in fib.items():
        support = sum(c[0] for c in cells.values())
        w = sum(c[1] for c in cells.values())
        is_thin = support < min_support
        mixed = len(cells) > 1
        risk += w - max(c[1] for c in cells.values())
        for a, c in cells.items():
            prev[label(a)] += c[1]
        if is_thin:
            thn += w
            n_thin += 1
        elif mixed:
            amb += w
        else:
            (a,) = cells
            cert += w
            cert_rows[label(a)] += support
            cert_fibers[label(a)] += 1
            cert_w[label(a)] += w
        if thin == "skip" and is_thin:
            continue
        n_fibers += 1
        n_mixed += mixed

    def fr(x):
        return float(x / total) if total else 0.0

    return {
        "n_rows": n_rows,
        "dropped_rows": dropped,
        "total_weight": float(total),
        "n_fibers": n_fibers,
        "n_mixed_fibers": n_mixed,
        "n_thin_fibers": n_thin,
        "certifiable_fraction": fr(cert),
        "ambiguous_fraction": fr(amb),
        "thin_fraction": fr(thn),
        "decision_risk": fr(risk),
        "prevalence": {a: fr(p) for a, p in prev.items()},
        "certified_rows": dict(cert_rows),
        "certified_fibers": dict(cert_fibers),
        "certified_weight": {a: float(w) for a, w in cert_w.items()},
    }


def compare_metrics(got: dict, want: dict) -> None:
    """Assert exact equality of every oracle metric (zero entries in per-action maps are allowed
    to be absent from the oracle)."""
    for k, v in want.items():
        if isinstance(v, dict):
            g = {a: x for a, x in got[k].items() if x}
            w = {a: x for a, x in v.items() if x}
            assert g == w, (k, got[k], v)
        else:
            assert got[k] == v, (k, got[k], v)


def fiber_rows_oracle(rows, evidence, action, weight=None, nulls="drop"):
    """{key tuple: (support, {action label: rows})} for comparing per-fiber tables."""
    fib, _ = fibers_oracle(rows, evidence, action, weight, nulls)
    return {k: (sum(c[0] for c in cells.values()), {label(a): c[0] for a, c in cells.items()}) for k, cells in fib.items()}


def greedy_completion_oracle(rows, evidence, action, probes, weight=None, min_support=1, target=None, costs=None):
    """Greedy completion by regrouping every row from scratch at every step and for every probe."""
    def certified(cols):
        fib = defaultdict(lambda: [0, Fraction(0), set()])
        for r in rows:
            key = tuple(r[c] for c in cols)
            f = fib[key]
            f[0] += 1
            f[1] += Fraction(r[weight]) if weight else 1
            f[2].add(r[action])
        total = sum(f[1] for f in fib.values())
        cert = sum(f[1] for f in fib.values() if f[0] >= min_support and len(f[2]) == 1)
        return cert, total

    selected = list(evidence)
    cert, total = certified(selected)
    curve = [(None, float(cert / total))]
    pool = sorted(probes)
    while pool and not (target is not None and cert / total >= target):
        scored = []
        for p in pool:
            c, _ = certified(selected + [p])
            scored.append((p, c))
        p, cert = pick_probe_oracle(scored, cert, costs)
        pool.remove(p)
        selected.append(p)
        curve.append((p, float(cert / total)))
    return curve


# --- window audits: tolerance and kNN windows with ties (SPEC sections 2-3) ---


def _knn_members(values, sv, v, k):
    """Rows in the kNN window of value ``v``, straight from SPEC section 2 ("Ties"): ``sv`` is
    the sorted values; v's tie group occupies sorted positions [a, b); pos = (a + b - 1) // 2;
    the k positions start at pos - k//2, shifted at the ends to hold k (all n when n < k); then
    widened to whole tie groups: every row whose value lies between the first and the last value
    at those positions."""
    n = len(sv)
    a = min(p for p in range(n) if sv[p] == v)
    b = max(p for p in range(n) if sv[p] == v) + 1
    pos = (a + b - 1) // 2
    kk = min(k, n)
    s = pos - k // 2
    if s > n - kk:
        s = n - kk
    if s < 0:
        s = 0
    first, last = sv[s], sv[s + kk - 1]
    return [j for j in range(len(values)) if first <= values[j] <= last]


def _tolerance_members(values, v, tol):
    return [j for j in range(len(values)) if abs(v - values[j]) <= tol]


def window_audit_oracle(values, actions, weights, rule, param, min_support=1, thin="ambiguous", action_rank=None):
    """A window audit row by row (SPEC sections 2-3), O(n^2): row i's fiber is its window
    (``rule`` 'window': every row within ``param`` of its value; 'knn': the tie-aware k rows).
    Nothing here orders rows by action, weight or input position. Classes per row: thin (window
    support in rows < ``min_support``), else ambiguous (two or more actions in the window), else
    certified. Fractions are weighted, exact (Fractions). Fibers are the distinct windows (sets of
    rows); with ``thin='skip'`` thin windows are left out of the fiber counts. The decision risk
    gives each row its window's majority action by weight, ties to the lowest ``action_rank``
    (default: the sorted action values, the library's canonical order)."""
    n = len(values)
    rank = action_rank or {a: r for r, a in enumerate(sorted(set(actions)))}
    w = [Fraction(x) for x in weights] if weights is not None else [Fraction(1)] * n
    total = sum(w, Fraction(0))
    cert = amb = thn = risk = Fraction(0)
    cert_rows, cert_w, prev = defaultdict(int), defaultdict(Fraction), defaultdict(Fraction)
    fibers, sizes = {}, []
    sv = sorted(values)
    window = {}  # value -> (its window's rows, weight per action): the window of a value
    for i in range(n):
        v = values[i]
        if v not in window:  # computed once per distinct value, only to keep this fast
            members = _knn_members(values, sv, v, param) if rule == "knn" else _tolerance_members(values, v, param)
            by_action = defaultdict(Fraction)
            for j in members:
                by_action[actions[j]] += w[j]
            window[v] = (frozenset(members), by_action)
        members, by_action = window[v]
        support = len(members)
        is_thin = support < min_support
        mixed = len(by_action) > 1
        fibers[members] = (is_thin, mixed)
        sizes.append(support)
        prev[label(actions[i])] += w[i]
        major = min(by_action, key=lambda x: (-by_action[x], rank[x]))
        if actions[i] != major:
            risk += w[i]
        if is_thin:
            thn += w[i]
        elif mixed:
            amb += w[i]
        else:
            cert += w[i]
            cert_rows[label(actions[i])] += 1
            cert_w[label(actions[i])] += w[i]
    kept = [f for f in fibers.values() if not (thin == "skip" and f[0])]

    def fr(x):
        return float(x / total) if total else 0.0

    return {
        "n_rows": n,
        "total_weight": float(total),
        "n_fibers": len(kept),
        "n_mixed_fibers": sum(1 for f in kept if f[1]),
        "n_thin_fibers": sum(1 for f in fibers.values() if f[0]),
        "certifiable_fraction": fr(cert),
        "ambiguous_fraction": fr(amb),
        "thin_fraction": fr(thn),
        "decision_risk": fr(risk),
        "prevalence": {a: fr(p) for a, p in prev.items()},
        "certified_rows": dict(cert_rows),
        "certified_weight": {a: float(x) for a, x in cert_w.items()},
        "median_window_size": float(statistics.median(sizes)) if sizes else 0.0,
    }


# --- replays (SPEC section 6) ---


_NONE = object()  # "not certified" (an action may itself be None)


def _first_action(actions):
    """The tie rule of replays: among tied actions, the lowest value (null last)."""
    return min(actions, key=lambda a: (a is None, a))


def replay_split_oracle(rows, models, action, cal_mask, weight=None, min_support=1, tol=None):
    """One split of a held-out replay, by plain loops over the rows (SPEC section 6).

    ``rows`` are dicts, ``models`` ``{name: evidence columns}``, ``cal_mask[i]`` says whether row
    i is in calibration (rows with a null in a model column or the action must be left out by
    the caller). ``tol``: each model's single numeric column is a tolerance window. Returns
    ``{model: {policy: (certified, error among certified or None, false decisions,
    acquisitions)}}`` as Fractions of the test weight."""
    wt = [Fraction(r[weight]) if weight else Fraction(1) for r in rows]
    cal = [i for i in range(len(rows)) if cal_mask[i]]
    test = [i for i in range(len(rows)) if not cal_mask[i]]
    glob = defaultdict(Fraction)
    for i in cal:
        glob[rows[i][action]] += wt[i]
    top = max(glob.values()) if glob else None
    g = _first_action([a for a, x in glob.items() if x == top]) if glob else None
    W = sum(wt[i] for i in test)
    out = {}
    for name, cols in models.items():
        cert_w = wrong = fd_major = fd_glob = Fraction(0)
        fiber = defaultdict(list)  # calibration rows per evidence key
        for j in cal:
            fiber[tuple(rows[j][c] for c in cols)].append(j)
        verdicts = {}  # per evidence key (or window value): (certified action or None, majority)
        for i in test:
            at = tuple(rows[i][c] for c in cols)
            if at not in verdicts:
                if tol is None:
                    mine = fiber.get(at, [])
                else:
                    (c,) = cols
                    mine = [j for j in cal if abs(rows[j][c] - rows[i][c]) <= tol]
                acts = {rows[j][action] for j in mine}
                certified = next(iter(acts)) if len(mine) >= min_support and len(acts) == 1 else _NONE
                # fiber majority: unseen fibers, and windows with fewer than s rows, use the global one
                if mine and (tol is None or len(mine) >= min_support):
                    per = defaultdict(Fraction)
                    for j in mine:
                        per[rows[j][action]] += wt[j]
                    best = max(per.values())
                    major = _first_action([a for a, x in per.items() if x == best])
                else:
                    major = g
                verdicts[at] = (certified, major)
            certified, major = verdicts[at]
            if certified is not _NONE:
                cert_w += wt[i]
                wrong += wt[i] * (certified != rows[i][action])
            fd_major += wt[i] * (major != rows[i][action])
            fd_glob += wt[i] * (g != rows[i][action])
        c = cert_w / W
        err = wrong / cert_w if cert_w else None
        out[name] = {"certify_only": (c, err, wrong / W, Fraction(0)),
                     "fiber_majority": (Fraction(1), fd_major / W, fd_major / W, Fraction(0)),
                     "global_majority": (Fraction(1), fd_glob / W, fd_glob / W, Fraction(0)),
                     "certify_then_acquire": (c, err, wrong / W, 1 - c)}
    return out


def _quantile(xs, q):
    """numpy's default (linear) quantile of a sorted list."""
    pos = (len(xs) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def split_stats_oracle(values):
    """Mean, median, p10, p90 over the splits where a figure is defined (not None) and their count."""
    xs = sorted(float(x) for x in values if x is not None)
    if not xs:
        return {"mean": None, "median": None, "p10": None, "p90": None, "n_splits": 0}
    return {"mean": math.fsum(xs) / len(xs), "median": statistics.median(xs), "p10": _quantile(xs, 0.1),
            "p90": _quantile(xs, 0.9), "n_splits": len(xs)}


def replay_summary_oracle(per_split, names, score_means=None):
    """Summaries of SPEC section 6 from per-split oracle figures (a list of
    :func:`replay_split_oracle` answers): per model and policy the split statistics, lambda* per
    split (None when nothing is acquired) and its statistics, and the model choice (benchmark:
    lowest score, else fewest fiber-majority false decisions; certification: lowest error among
    certified with nothing certified counting as 1, then the highest certified fraction; ties to
    the model listed first)."""
    fields = ["certified_fraction", "error_among_certified", "false_decisions", "acquisitions"]
    out = {"policies": {}, "lambda": {}}
    for n in names:
        out["policies"][n] = {p: {f: split_stats_oracle([s[n][p][i] for s in per_split]) for i, f in enumerate(fields)}
                              for p in per_split[0][n]}
        lams = []
        for s in per_split:
            acq = s[n]["certify_then_acquire"][3]
            lams.append((s[n]["fiber_majority"][2] - s[n]["certify_then_acquire"][2]) / acq if acq else None)
        out["lambda"][n] = split_stats_oracle(lams)
    bench_n, cert_n = dict.fromkeys(names, 0), dict.fromkeys(names, 0)
    differ = 0
    for s in per_split:
        if score_means is not None:
            bench = min(names, key=lambda n: (score_means[n], names.index(n)))
        else:
            bench = min(names, key=lambda n: (s[n]["fiber_majority"][2], names.index(n)))
        cert = min(names, key=lambda n: (1 if s[n]["certify_only"][1] is None else s[n]["certify_only"][1],
                                         -s[n]["certify_only"][0], names.index(n)))
        bench_n[bench] += 1
        cert_n[cert] += 1
        differ += bench != cert
    out["choice"] = {"benchmark_choices": bench_n, "certification_choices": cert_n,
                     "differ_fraction": differ / len(per_split)}
    return out


# --- probe-acquisition replay (SPEC section 5, Fig. 5c) ---
def permutation_split_oracle(n, seed, calib_fraction=0.5):
    """SPEC 5: the split of seed s is a permutation from a generator seeded s; its first
    round(f n) rows (in input order) are calibration. Returns a boolean calibration mask."""
    import numpy as np

    idx = np.random.default_rng(seed).permutation(n)
    mask = np.zeros(n, dtype=bool)
    mask[idx[: int(round(calib_fraction * n))]] = True
    return mask


def acquisition_oracle(df, evidence, action, probes, policy, cal_mask, min_support=1, tie_break="first", rng=None):
    """One split of the probe-acquisition replay, row by row with pandas: the policy orders the
    probes on the calibration rows (the oracle: on the test rows), the order is frozen, each step
    is scored on the test rows. Returns one dict per step."""
    import math

    import numpy as np

    cal, test = df[cal_mask], df[~cal_mask]

    def certificate(cols):
        cert = {}
        for key, g in cal.groupby(cols, sort=False):
            key = key if isinstance(key, tuple) else (key,)
            acts = set(g[action])
            if len(g) >= min_support and len(acts) == 1:
                cert[key] = acts.pop()
        return cert

    def apply(rows, cols):  # certified rows and wrong certified rows
        cert = certificate(cols)
        n_cert = wrong = 0
        for key, y in zip(zip(*[rows[c] for c in cols]), rows[action]):
            if key in cert:  # a key unseen in calibration is not in the certificate
                n_cert += 1
                wrong += cert[key] != y
        return n_cert, wrong

    def entropy(q):
        p = cal[q].value_counts(normalize=True).to_numpy()
        return -sum(x * math.log2(x) for x in p if x > 0)

    def mean_abs_corr(sel, q):
        out = []
        for c in sel:
            x, y = cal[c].astype(float), cal[q].astype(float)
            out.append(0.0 if x.std(ddof=0) < 1e-12 or y.std(ddof=0) < 1e-12 else abs(np.corrcoef(x, y)[0, 1]))
        return sum(out) / len(out)

    score = {
        "response_rank": lambda sel, q: apply(cal, sel + [q])[0],
        "oracle": lambda sel, q: apply(test, sel + [q])[0],
        "uncertainty": lambda sel, q: entropy(q),
        "benchmark_aligned": lambda sel, q: mean_abs_corr(sel, q),
        "diversity": lambda sel, q: -mean_abs_corr(sel, q),
    }
    selected, remaining, steps = list(evidence), list(probes), []
    while True:
        n_cert, wrong = apply(test, selected)
        steps.append({"probe": selected[-1] if len(selected) > len(evidence) else None,
                      "certified_fraction": n_cert / len(test), "false_decisions": wrong / len(test),
                      "error_among_certified": wrong / n_cert if n_cert else None})
        if not remaining:
            return steps
        if policy == "random":
            q = remaining[int(rng.integers(0, len(remaining)))]
        else:
            vals = {q: score[policy](selected, q) for q in remaining}
            best = max(vals.values())
            tied = sorted(q for q in remaining if vals[q] == best)
            q = tied[0] if tie_break == "first" else tied[-1]
        selected.append(q)
        remaining.remove(q)


# --- coverage and costed completion (SPEC sections 4 and 5) ---


def pick_probe_oracle(scored, certified_now, costs=None):
    """One greedy step of SPEC 5 from ``[(probe, certified weight)]``: the most certified
    weight (ties: lexical name); with costs, the largest gain / cost among probes that gain
    (ties: name), and when none gains the largest gain, ties by lower cost, then name."""
    if not costs:
        return min(scored, key=lambda pc: (-pc[1], pc[0]))
    def cost(p):
        return Fraction(costs.get(p, 1.0))
    gaining = [(p, c) for p, c in scored if c - certified_now > 0]
    if gaining:
        return min(gaining, key=lambda pc: (-(pc[1] - certified_now) / cost(pc[0]), pc[0]))
    return min(scored, key=lambda pc: (-(pc[1] - certified_now), cost(pc[0]), pc[0]))


def _key(row, evidence):
    return tuple(norm(row[c]) for c in evidence)


def certificate_oracle(rows, evidence, action, weight=None, min_support=1):
    """{key: (class, certified action or None, majority action)} and the global majority, from
    calibration rows by plain dict grouping (nulls dropped). The majority of a fiber and the
    global majority are the actions with the largest weight (ties: the smallest value); the
    global majority is taken over all calibration rows, not over fiber majorities."""
    fib = defaultdict(lambda: defaultdict(lambda: [0, Fraction(0)]))
    total = defaultdict(Fraction)
    for r in rows:
        key, a = _key(r, evidence), norm(r[action])
        w = r[weight] if weight else 1
        if w is None or a is None or any(v is None for v in key):
            continue
        fib[key][a][0] += 1
        fib[key][a][1] += Fraction(w)
        total[a] += Fraction(w)
    out = {}
    for key, cells in fib.items():
        support = sum(c[0] for c in cells.values())
        major = min(cells, key=lambda a: (-cells[a][1], a))
        if support < min_support:
            out[key] = ("thin", None, major)
        elif len(cells) > 1:
            out[key] = ("ambiguous", None, major)
        else:
            out[key] = ("certified", major, major)
    glob = min(total, key=lambda a: (-total[a], a)) if total else None
    return out, glob


def coverage_oracle(cal_rows, prod_rows, evidence, action, cal_weight=None, weight=None, prod_action=None,
                    min_support=1):
    """The coverage metrics of SPEC section 4, one production row at a time: a row without a
    weight is dropped (its traffic is unknown); a row with a null evidence value is unseen (and
    counted in ``null_evidence_fraction``); the four classes partition all production weight.
    False decisions are shares of the labelled weight (rows whose true action is not null)."""
    cert, glob = certificate_oracle(cal_rows, evidence, action, cal_weight, min_support)
    by_class = defaultdict(Fraction)
    by_action = defaultdict(Fraction)
    null_ev = labelled = cert_labelled = Fraction(0)
    fd = defaultdict(Fraction)
    n_rows = dropped = 0
    for r in prod_rows:
        w = r[weight] if weight else 1
        if w is None:
            dropped += 1
            continue
        w = Fraction(w)
        n_rows += 1
        key = _key(r, evidence)
        if any(v is None for v in key):
            null_ev += w
        cls, act, major = cert.get(key, ("unseen", None, glob))
        by_class[cls] += w
        if cls == "certified":
            by_action[label(act)] += w
        if prod_action is None:
            continue
        truth = norm(r[prod_action])
        if truth is None:
            continue
        labelled += w
        if cls == "certified":
            cert_labelled += w
            fd["certificate"] += w * (truth != act)
        fd["fiber_majority"] += w * (truth != major)
        fd["global_majority"] += w * (truth != glob)
    W = sum(by_class.values())
    out = {
        "n_rows": n_rows, "dropped_rows": dropped, "total_weight": float(W),
        "benchmark_coverage": float((W - by_class["unseen"]) / W),
        "certified_coverage": float(by_class["certified"] / W),
        "ambiguous_coverage": float(by_class["ambiguous"] / W),
        "thin_coverage": float(by_class["thin"] / W),
        "unseen_fraction": float(by_class["unseen"] / W),
        "null_evidence_fraction": float(null_ev / W),
        "certified_coverage_by_action": {a: float(v / W) for a, v in by_action.items()},
    }
    if prod_action is not None:
        out["false_decisions"] = {
            "certificate": float(fd["certificate"] / labelled), "fiber_majority": float(fd["fiber_majority"] / labelled),
            "global_majority": float(fd["global_majority"] / labelled),
            "certify_then_acquire": float(fd["certificate"] / labelled)}
        out["error_among_certified"] = float(fd["certificate"] / cert_labelled) if cert_labelled else None
        out["acquisitions"] = float((W - by_class["certified"]) / W)
        out["labelled_fraction"] = float(labelled / W)
    return out


# --- partitioned counting: fibers of code tuples, the kernels' inputs (SPEC section 2) ---


def fixed_weight(w) -> Fraction:
    """A weight as the 128-bit fixed point holds it: truncated to a multiple of 2**-64."""
    return Fraction(math.floor(Fraction(w) * 2**64), 2**64)


def code_fibers_oracle(codes, actions, weights=None, cnt=None, kind="float"):
    """{key tuple of codes: {action: [rows, exact weight]}} for rows given as codes (``codes[j][i]``
    is column j of row i; a negative code or action drops the row), and the number of rows
    dropped. ``cnt[i]``: rows a row stands for (pre-aggregated cells). ``weights[i]``: by
    ``kind``, a float (truncated as the fixed point does), an int (exact), or a ``(integer part,
    fraction)`` pair; without weights a row weighs its row count."""
    fib = defaultdict(lambda: defaultdict(lambda: [0, Fraction(0)]))
    dropped = 0
    for i in range(len(actions)):
        key = tuple(int(col[i]) for col in codes)
        if actions[i] < 0 or any(c < 0 for c in key):
            dropped += 1
            continue
        rows = 1 if cnt is None else int(cnt[i])
        if weights is None:
            w = Fraction(rows)
        elif kind == "fixed":
            w = int(weights[i][0]) + Fraction(int(weights[i][1]), 2**64)
        elif kind == "int":
            w = Fraction(int(weights[i]))
        else:
            w = fixed_weight(float(weights[i]))
        cell = fib[key][int(actions[i])]
        cell[0] += rows
        cell[1] += w
    return {k: dict(v) for k, v in fib.items()}, dropped


def stable_partition_oracle(parts, rows):
    """The rows listed partition by partition (partition numbers ``parts[i]``), each partition in
    input order."""
    out = []
    for p in sorted(set(parts)):
        out.extend(r for r, q in zip(rows, parts) if q == p)
    return out


# --- paper reproductions: channels, linear policies, vision bins (SPEC sections 5, 7, 8) ---


def numpy_default_quantile_oracle(scores, level):
    """numpy's default ('linear') quantile, from its definition: sort, position h = (n - 1) level,
    interpolate between the order statistics around h (exact rational arithmetic)."""
    x = sorted(Fraction(v) for v in scores)
    h = (len(x) - 1) * Fraction(level)
    lo = math.floor(h)
    if lo + 1 >= len(x):
        return float(x[-1])
    return float(x[lo] + (h - lo) * (x[lo + 1] - x[lo]))


def paper_conformal_quantile_oracle(scores, alpha):
    """SPEC 7: the quantile of |residuals| at level min(1, (1 - alpha)(n + 1) / n), numpy's default."""
    n = len(scores)
    return numpy_default_quantile_oracle(scores, min(1.0, (1 - alpha) * (n + 1) / n))


def least_squares_oracle(X_train, y_train, X, intercept=False):
    """Minimum-norm least squares through the pseudo-inverse (SVD), optionally with a column of ones."""
    import numpy as np

    A, Z = np.asarray(X_train, float), np.asarray(X, float)
    if intercept:
        A, Z = np.column_stack([np.ones(len(A)), A]), np.column_stack([np.ones(len(Z)), Z])
    return Z @ (np.linalg.pinv(A) @ np.asarray(y_train, float))


def _span_residual(S, v):
    """Distance from v to the row span of S, by least squares (0 rows: |v|)."""
    import numpy as np

    S = np.asarray(S, float)
    if len(S) == 0:
        return float(np.linalg.norm(v))
    c, *_ = np.linalg.lstsq(S.T, v, rcond=None)
    return float(np.linalg.norm(v - S.T @ c))


def linear_policy_oracle(B, K, pool, n, policy):
    """SPEC 5's probe-choice policies, one loop per step over the pool in index order, keeping the
    first strict best (ties: lowest index). q is the pool probe normalised; S the probes so far.
    uncertainty: cos^2(q, v), v the top eigenvector of R^T R, R the deployment probes' residuals
    (0 when R vanishes); diversity: |(I - P_S) q|; benchmark_aligned: |P_S q|;
    residual_greedy: minus the largest deployment residual against S + q."""
    import numpy as np

    B, K, pool = (np.asarray(a, float) for a in (B, K, pool))
    chosen = []
    for _ in range(n):
        S = np.vstack([B] + [pool[i][None, :] for i in chosen])
        if policy == "uncertainty":
            R = np.array([_residual_vector(S, k) for k in K])
            if np.linalg.norm(R) < 1e-10:
                v = None
            else:
                w, V = np.linalg.eigh(R.T @ R)
                v = V[:, int(np.argmax(w))]
        best, best_i = -np.inf, None
        for i in range(len(pool)):
            if i in chosen:
                continue
            q = pool[i] / np.linalg.norm(pool[i])
            if policy == "residual_greedy":
                score = -max(_span_residual(np.vstack([S, pool[i]]), k) for k in K)
            elif policy == "uncertainty":
                score = 0.0 if v is None else float(q @ v) ** 2
            elif policy == "diversity":
                score = _span_residual(S, q)
            elif policy == "benchmark_aligned":
                score = math.sqrt(max(0.0, 1.0 - _span_residual(S, q) ** 2))
            else:
                raise ValueError(policy)
            if score > best + 1e-12:
                best, best_i = score, i
        chosen.append(best_i)
    return chosen


def _residual_vector(S, v):
    import numpy as np

    c, *_ = np.linalg.lstsq(np.asarray(S, float).T, v, rcond=None)
    return v - np.asarray(S, float).T @ c


def qcut_bins_oracle(values, q=10):
    """SPEC 8's decile bin: pandas' qcut labels (right-closed bins, duplicate edges dropped)."""
    import numpy as np
    import pandas as pd

    return np.asarray(pd.qcut(np.asarray(values, float), q, labels=False, duplicates="drop")).astype(int)


def certifiable_share_oracle(keys, actions):
    """Share of rows whose key's group holds one action value (min support 1)."""
    groups = defaultdict(set)
    for k, a in zip(keys, actions):
        groups[k].add(a)
    return sum(len(groups[k]) == 1 for k in keys) / len(keys)


# --- leaderboard replays (SPEC section 6, "Leaderboard replays") ---


def leaderboard_split_items_oracle(ids, calib_fraction, seed, index):
    """The calibration items of split ``index``: the distinct ids in sorted order, permuted by a
    generator seeded ``[seed, index]``, the first ``round(f * n)`` of the permutation."""
    import numpy as np

    items = sorted(set(ids))
    perm = np.random.default_rng([seed, index]).permutation(len(items))
    return {items[i] for i in perm[:int(round(calib_fraction * len(items)))]}


def leaderboard_split_oracle(rows, model, item, pred, action, cal_items, min_support=1, tol=None, error=None):
    """One split of a leaderboard replay by plain loops (SPEC section 6): ``rows`` are dicts, a
    row per (model, item), ``cal_items`` the calibration items (the same for every model).

    Per model: the tolerance is ``tol`` or the mean |error| over its calibration rows; a test
    row's window is the model's calibration rows with |prediction - its prediction| <= tolerance;
    certified when the window has >= s rows and one action; the window's majority (by rows, ties
    to the lowest action) when it has >= s rows, else the model's global calibration majority.
    Returns ``{model: {"figures": {policy: (certified, error among certified or None, false
    decisions, acquisitions)} as Fractions of the model's test rows, "tolerance", "mae"}}``."""
    out = {}
    for m in sorted({r[model] for r in rows}):
        mine = [r for r in rows if r[model] == m]
        cal = [r for r in mine if r[item] in cal_items]
        test = [r for r in mine if r[item] not in cal_items]
        mae = math.fsum(abs(r[error]) for r in cal) / len(cal) if error else None
        t = tol if tol is not None else mae
        glob = defaultdict(int)
        for r in cal:
            glob[r[action]] += 1
        top = max(glob.values())
        g = _first_action([a for a, x in glob.items() if x == top])
        cert = wrong = fd_major = fd_glob = 0
        for r in test:
            window = [q for q in cal if abs(q[pred] - r[pred]) <= t]
            per = defaultdict(int)
            for q in window:
                per[q[action]] += 1
            major = g
            if len(window) >= min_support:
                best = max(per.values())
                major = _first_action([a for a, x in per.items() if x == best])
                if len(per) == 1:
                    cert += 1
                    wrong += major != r[action]
            fd_major += major != r[action]
            fd_glob += g != r[action]
        W = len(test)
        c = Fraction(cert, W)
        err = Fraction(wrong, cert) if cert else None
        out[m] = {"figures": {"certify_only": (c, err, Fraction(wrong, W), Fraction(0)),
                              "fiber_majority": (Fraction(1), Fraction(fd_major, W), Fraction(fd_major, W), Fraction(0)),
                              "global_majority": (Fraction(1), Fraction(fd_glob, W), Fraction(fd_glob, W), Fraction(0)),
                              "certify_then_acquire": (c, err, Fraction(wrong, W), 1 - c)},
                  "tolerance": t, "mae": mae}
    return out


def leaderboard_summary_oracle(per_split):
    """Pooled and per-model summaries of a leaderboard replay from per-split oracle answers:
    split statistics of every figure over all (model, split) runs, lambda* per run, and per
    split the model with the lowest calibration MAE (ties: first model name) vs certification's
    pick (lowest error among certified, nothing certified = 1, then the highest certified
    fraction)."""
    fields = ["certified_fraction", "error_among_certified", "false_decisions", "acquisitions"]
    names = sorted(per_split[0])

    def lam(fig):
        acq = fig["certify_then_acquire"][3]
        return (fig["fiber_majority"][2] - fig["certify_then_acquire"][2]) / acq if acq else None

    runs = [s[n]["figures"] for s in per_split for n in names]
    pooled = {p: {f: split_stats_oracle([r[p][i] for r in runs]) for i, f in enumerate(fields)} for p in runs[0]}
    models = {n: {p: {f: split_stats_oracle([s[n]["figures"][p][i] for s in per_split]) for i, f in enumerate(fields)}
                  for p in runs[0]} for n in names}
    bench_n, cert_n, differ = dict.fromkeys(names, 0), dict.fromkeys(names, 0), 0
    for s in per_split:
        bench = min(names, key=lambda n: (s[n]["mae"], n))
        cert = min(names, key=lambda n: (1 if s[n]["figures"]["certify_only"][1] is None
                                         else s[n]["figures"]["certify_only"][1],
                                         -s[n]["figures"]["certify_only"][0], n))
        bench_n[bench] += 1
        cert_n[cert] += 1
        differ += bench != cert
    return {"policies": pooled, "models": models, "lambda_runs": split_stats_oracle([lam(r) for r in runs]),
            "lambda_models": {n: split_stats_oracle([lam(s[n]["figures"]) for s in per_split]) for n in names},
            "choice": {"benchmark_choices": bench_n, "certification_choices": cert_n,
                       "differ_fraction": differ / len(per_split)}}


# --- drift, confidence, explain (SPEC sections 2 and 4; issue 18) ---


def verdicts_oracle(rows, evidence, action, weight=None, min_support=1, nulls="drop"):
    """{key: (class, certified action or None, rows, Fraction weight)} of one period (SPEC 2):
    certified when one action and support >= min_support; ambiguous when mixed; thin otherwise."""
    fib, _ = fibers_oracle(rows, evidence, action, weight, nulls)
    out = {}
    for key, cells in fib.items():
        support = sum(c[0] for c in cells.values())
        w = sum(c[1] for c in cells.values())
        if len(cells) > 1:
            cls = "ambiguous"
        elif support < min_support:
            cls = "thin"
        else:
            cls = "certified"
        out[key] = (cls, next(iter(cells)) if cls == "certified" else None, support, w)
    return out


def diff_oracle(old, new):
    """Change of every key of two verdict dicts, and the shares of weight (issue 18, item 1)."""
    W_o = sum(v[3] for v in old.values())
    W_n = sum(v[3] for v in new.values())
    change = {}
    for key in set(old) | set(new):
        if key not in old:
            change[key] = "new_key"
        elif key not in new:
            change[key] = "gone_key"
        else:
            co, cn = old[key][0] == "certified", new[key][0] == "certified"
            if co and not cn:
                change[key] = "lost"
            elif cn and not co:
                change[key] = "gained"
            elif co and cn:
                change[key] = "still_certified" if old[key][1] == new[key][1] else "action_changed"
            else:
                change[key] = "still_uncertified"
    per = {}
    for c in ("lost", "gained", "action_changed", "new_key", "gone_key", "still_certified", "still_uncertified"):
        keys = [k for k, v in change.items() if v == c]
        per[c] = {"fibers": len(keys),
                  "weight_old": float(sum(old[k][3] for k in keys if k in old) / W_o),
                  "weight_new": float(sum(new[k][3] for k in keys if k in new) / W_n)}
    cert_o = sum(v[3] for v in old.values() if v[0] == "certified")
    cert_n = sum(v[3] for v in new.values() if v[0] == "certified")
    kept = sum(old[k][3] for k, v in change.items() if v == "still_certified")
    return {
        "change": change, "changes": per,
        "certified_old": float(cert_o / W_o), "certified_new": float(cert_n / W_n),
        "old_certificate_coverage": float(sum(v[3] for k, v in new.items() if k in old and old[k][0] == "certified") / W_n),
        "covered_new": float(sum(v[3] for k, v in new.items() if k in old) / W_n),
        "retained_certified": float(kept / cert_o) if cert_o else 0.0,
    }


def binomial_upper_oracle(x, n, confidence=0.95):
    """One-sided Clopper-Pearson upper bound by bisection on the plain binomial tail
    sum_{k<=x} C(n,k) p^k (1-p)^(n-k) = alpha (small n only)."""
    alpha = 1 - confidence
    if x >= n:
        return 1.0

    def tail(p):
        return sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x + 1))

    lo, hi = 0.0, 1.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if tail(mid) > alpha:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def wilson_oracle(p, n, z):
    """Wilson score interval: (p + z^2/2n -+ z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)."""
    c = (p + z * z / (2 * n)) / (1 + z * z / n)
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, c - h), min(1.0, c + h)


def information_gain_oracle(rows, column, action, weight=None):
    """H(action) - sum_v w_v/w H(action | column = v) in bits over ``rows`` (one fiber), weighted."""
    def h(cells):
        tot = sum(cells.values())
        return -sum(float(x / tot) * math.log2(float(x / tot)) for x in cells.values() if x > 0)

    allc, by = defaultdict(Fraction), defaultdict(lambda: defaultdict(Fraction))
    for r in rows:
        w = Fraction(r[weight]) if weight else Fraction(1)
        allc[r[action]] += w
        by[r[column]][r[action]] += w
    W = sum(allc.values())
    return h(allc) - sum(float(sum(c.values()) / W) * h(c) for c in by.values())



# --- coverage by SQL (SPEC section 4; moved here from tests/test_coverage.py, issue 17) ---


def coverage_sql_oracle(cal, prod, s, weight=True):
    """SPEC 4's coverage of production ``prod`` by the certificate of ``cal`` (Arrow tables with
    evidence ``a``, ``b``, action ``d``, weight ``w``), written as SQL joins on values: the
    calibration fibers (nulls dropped) and their classes, then a left join of every production
    row. Every production row is traffic: null evidence finds no calibration key (unseen); false
    decisions of the certificate are a share of the rows whose true action is known."""
    import duckdb

    con = duckdb.connect()
    con.register("cal", cal)
    con.register("prod", prod)
    wc = "w" if weight else "1.0::double"
    con.execute(f"""
        create table fib as
        with cells as (select a, b, d, count(*) n, sum({wc}) wt from cal
                       where a is not null and b is not null and d is not null group by all),
             f as (select a, b, sum(n) n, count(*) nact, arg_max(d, wt) maj from cells group by all)
        select a, b, case when n < {s} then 'thin' when nact > 1 then 'ambiguous' else 'certified' end cls,
               case when n >= {s} and nact = 1 then maj end act from f""")
    pw = "p.w" if weight else "1.0::double"
    rows = con.execute(f"""
        select coalesce(f.cls, 'unseen') cls, sum({pw}) w,
               sum(case when f.cls = 'certified' and p.d is not null and p.d <> f.act then {pw} else 0 end) fd,
               sum(case when p.d is not null then {pw} else 0 end) lab
        from prod p left join fib f on p.a = f.a and p.b = f.b
        group by all""").fetchall()
    tot = sum(r[1] for r in rows)
    by = {r[0]: r[1] / tot for r in rows}
    fd = sum(r[2] for r in rows) / sum(r[3] for r in rows)
    return {"certified": by.get("certified", 0.0), "ambiguous": by.get("ambiguous", 0.0),
            "thin": by.get("thin", 0.0), "unseen": by.get("unseen", 0.0), "fd_cert": fd}


# --- held-out completion steps (SPEC sections 5 and 6; moved here from tests/test_completion.py, issue 17) ---


def holdout_step_oracle(records, idx, min_support):
    """One step of a completion curve scored on held-out rows (SPEC 5, with SPEC 6's
    certify-only policy on the test rows): ``records`` are ``(key values,
    action, is_test, rows)``; the fibers are the key columns ``idx``; a calibration fiber with
    one action and at least ``min_support`` rows certifies it; returns the certified share of
    the test rows and the share certified with the wrong action."""
    cal_fib = {}
    for key, a, is_test, c in records:
        if not is_test:
            k = tuple(key[i] for i in idx)
            f = cal_fib.setdefault(k, {})
            f[a] = f.get(a, 0) + c
    cert = {k: next(iter(f)) for k, f in cal_fib.items() if len(f) == 1 and sum(f.values()) >= min_support}
    total = sum(c for _, _, is_test, c in records if is_test)
    in_cert = sum(c for key, a, is_test, c in records if is_test and tuple(key[i] for i in idx) in cert)
    wrong = sum(c for key, a, is_test, c in records
                if is_test and tuple(key[i] for i in idx) in cert and cert[tuple(key[i] for i in idx)] != a)
    return in_cert / total, wrong / total


# --- replay policies with pandas (SPEC section 6; moved here from tests/test_replay.py, issue 17) ---


def replay_pandas_oracle(df, s, tol=None):
    """The four policies of SPEC 6 on one split, the obvious way with pandas. ``df`` has a row
    per input row: ``fiber`` (evidence key), ``value`` (the numeric evidence, for ``tol``),
    ``action``, ``w`` and ``part`` ('cal' or 'test'). ``tol``: the fiber of a test row is every
    calibration row within ``tol`` of its value (a window with fewer than ``s`` rows takes the
    global majority). Returns ``{policy: [certified, error among certified (NaN when nothing
    is certified), false decisions, acquisitions]}`` as shares of the test weight."""
    cal, test = df[df.part == "cal"], df[df.part == "test"]
    glob = cal.groupby("action")["w"].sum()
    g = sorted(glob.index[glob == glob.max()])[0]
    W = test.w.sum()
    cert_w = wrong = fd_major = 0.0
    for _, r in test.iterrows():
        if tol is None:
            mine = cal[cal.fiber == r.fiber]
        else:
            mine = cal[(cal.value - r.value).abs() <= tol]
        rows = mine.groupby("action").size()
        wts = mine.groupby("action")["w"].sum()
        certified = len(mine) >= s and len(rows) == 1
        if certified:
            cert_w += r.w
            wrong += r.w * (rows.index[0] != r.action)
        # a window with fewer than s calibration rows uses the global majority (SPEC 6)
        local = len(mine) >= (s if tol is not None else 1)
        major = sorted(wts.index[wts == wts.max()])[0] if local else g
        fd_major += r.w * (major != r.action)
    c = cert_w / W
    e = wrong / cert_w if cert_w else float("nan")  # undefined when nothing is certified (SPEC 6)
    fd_g = (test.w * (test.action != g)).sum() / W
    return {"certify_only": [c, e, wrong / W, 0.0],
            "fiber_majority": [1.0, fd_major / W, fd_major / W, 0.0],
            "global_majority": [1.0, fd_g, fd_g, 0.0],
            "certify_then_acquire": [c, e, wrong / W, 1.0 - c]}


# --- split conformal on a table (SPEC section 7; moved here from tests/test_channels.py, issue 17) ---


def conformal_rank_oracle(n: int, alpha: str) -> int:
    """SPEC 7's level ``(1 - alpha)(n + 1) / n`` as a rank: ceil((n + 1)(1 - alpha)) in exact
    rational arithmetic (uncapped; ``alpha`` as a decimal string so that it is exact)."""
    return math.ceil((n + 1) * (1 - Fraction(alpha)))


def split_conformal_quantile_oracle(scores, alpha: str):
    """SPEC 7's q: the k-th smallest score, k = min(n, ceil((n + 1)(1 - alpha)))."""
    s = sorted(scores)
    return s[min(len(s), conformal_rank_oracle(len(s), alpha)) - 1]


def channels_check_oracle(t, alpha, f, seed, pd="p"):
    """SPEC 7 on a table ``t`` (prediction ``p``, benchmark label ``yb``, deployment label ``yd``,
    deployment prediction ``pd``): a permutation from a generator seeded ``seed``, its first
    round(f n) rows calibration; q on each channel's calibration |residuals|; coverage of the
    closed interval on the test rows (transfer: the benchmark q on deployment labels)."""
    import numpy as np

    d = {c: np.asarray(t.column(c).to_pylist(), dtype=float) for c in ["p", "yb", "yd", pd]}
    n = t.num_rows
    perm = np.random.default_rng(seed).permutation(n)
    cal, test = perm[: round(f * n)], perm[round(f * n):]

    def q(y, p):
        return split_conformal_quantile_oracle(abs(y[cal] - p[cal]), str(alpha))

    qb, qd = q(d["yb"], d["p"]), q(d["yd"], d[pd])
    return {
        "q_bench": qb, "q_deploy": qd,
        "benchmark_coverage": np.mean(abs(d["yb"][test] - d["p"][test]) <= qb),
        "transfer_coverage": np.mean(abs(d["yd"][test] - d[pd][test]) <= qb),
        "deployment_coverage": np.mean(abs(d["yd"][test] - d[pd][test]) <= qd),
    }


# --- linear response-rank geometry (SPEC section 5, "Linear form"; moved here from tests/test_linear.py, issue 17) ---


def svd_projector_oracle(B):
    """The projector P_B onto the row space of B, from its SVD and numpy's rank."""
    import numpy as np

    B = np.atleast_2d(np.asarray(B, dtype=float))
    r = np.linalg.matrix_rank(B)
    U = np.linalg.svd(B.T, full_matrices=False)[0][:, :r]
    return U @ U.T


def lstsq_residual_oracle(B, k) -> float:
    """g = ||(I - P_B) k||: the distance from k to the row space of B, by least squares."""
    import numpy as np

    c, *_ = np.linalg.lstsq(np.asarray(B, dtype=float).T, k, rcond=None)
    return float(np.linalg.norm(k - np.asarray(B, dtype=float).T @ c))


def residual_greedy_oracle(B, K, pool, n):
    """Residual-greedy completion: ``n`` times, the pool probe (index order, first strict best)
    whose addition makes the largest deployment residual smallest."""
    import numpy as np

    chosen = []
    for _ in range(n):
        best, best_i = np.inf, None
        for i in range(len(pool)):
            if i in chosen:
                continue
            S = np.vstack([B, pool[chosen + [i]]])
            worst = max(lstsq_residual_oracle(S, k) for k in K)
            if worst < best - 1e-12:
                best, best_i = worst, i
        chosen.append(best_i)
    return chosen


def certify_candidates_oracle(est, radius, g, thr=0.0):
    """SPEC 5: candidate i is certified iff for every deployment probe j the closed interval
    ``est +- R_i g_j`` excludes the threshold (``est[i]`` one estimate, or one per probe)."""
    out = []
    for i in range(len(radius)):
        ok = True
        for j in range(len(g)):
            e = est[i][j] if getattr(est[i], "ndim", 0) else est[i]
            lo, hi = e - radius[i] * g[j], e + radius[i] * g[j]
            ok &= not (lo <= thr <= hi)
        out.append(ok)
    return out


# --- quantile bins (SPEC section 2, "quantile bins"; moved here from tests/test_rules.py, issue 17) ---


def quantile_bins_oracle(vals, nbins):
    """Edges at the ``nbins`` quantiles (numpy's default, duplicates removed; one distinct value
    gives the single bin [v, v]) and each value's bin: half-open [lo, hi) except the last."""
    import numpy as np

    edges = np.unique(np.quantile(np.array(vals), np.linspace(0, 1, nbins + 1)))
    if len(edges) == 1:
        edges = np.array([edges[0], edges[0]])
    bins = np.clip(np.searchsorted(edges, vals, side="right") - 1, 0, len(edges) - 2)
    return edges, bins


# --- entropy (explain's information gain, issue 18; moved here from tests/test_explain.py, issue 17) ---


def entropy_bits_oracle(*p):
    """Shannon entropy in bits of the probabilities ``p`` (explain's information gain, issue 18)."""
    return -sum(x * math.log2(x) for x in p if x > 0)


# --- kernels ---
# The contracts of src/dcb_fast/kernels/* (one test file each: tests/test_kernel_<module>.py), in
# plain Python ints and Fractions; SPEC section 2 where a kernel implements it.


def first_appearance_oracle(batches):
    """Dense codes in order of first appearance across ``batches`` (lists of values, None for
    null): the code table every encoder keeps (exact rule, SPEC section 2: equal values, equal
    code; moved here from tests/test_encoding.py, issue 17)."""
    codes, out = {}, []
    for b in batches:
        out.append([None if v is None else codes.setdefault(v, len(codes)) for v in b])
    return out


TWO64 = 2**64


def fixed_value(hi, lo) -> int:
    """A 128-bit fixed-point number (signed integer part ``hi``, 64-bit fraction ``lo``) as one
    Python int in units of 2**-64."""
    return int(hi) * TWO64 + int(lo)


def fixed_parts(v: int):
    """The (signed int64 integer part, uint64 fraction) of ``v`` units of 2**-64, wrapped to 128
    bits two's complement, as the kernels' int64/uint64 pair holds it."""
    v %= 2**128
    hi, lo = v >> 64, v % TWO64
    return (hi - 2**64 if hi >= 2**63 else hi), lo


def to_fixed_oracle(w):
    """(floor(w), floor(frac(w) * 2**64)) by exact rational arithmetic."""
    f = Fraction(w)
    hi = math.floor(f)
    return hi, math.floor((f - hi) * TWO64)


def add128_oracle(a, b):
    return fixed_parts(fixed_value(*a) + fixed_value(*b))


def sub128_oracle(a, b):
    return fixed_parts(fixed_value(*a) - fixed_value(*b))


def less128_oracle(a, b) -> bool:
    return fixed_value(*a) < fixed_value(*b)


def mix64_oracle(x: int) -> int:
    """splitmix64's finaliser (Steele, Lea, Flood 2014; constants of Stafford's variant 13)."""
    m = TWO64 - 1
    x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & m
    x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & m
    return x ^ (x >> 31)


def hash_bytes_oracle(data: bytes) -> int:
    """64-bit FNV-1a of ``data`` (offset basis 0xCBF29CE484222325, prime 0x100000001B3), then
    the length xored in and mixed by splitmix64."""
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) % TWO64
    return mix64_oracle(h ^ len(data))


def key_hash_oracle(codes) -> int:
    """The hash of a fiber key (its int32 codes, as unsigned 32-bit words): start at the golden
    ratio 0x9E3779B97F4A7C15, per code xor it in and multiply by 0x9FB21C651E98DF25 (mod 2**64),
    then splitmix64's finaliser."""
    h = 0x9E3779B97F4A7C15
    for c in codes:
        h = ((h ^ (int(c) % 2**32)) * 0x9FB21C651E98DF25) % TWO64
    return mix64_oracle(h)


def fiber_records_oracle(fibers, k, na, weighted):
    """The int64 record of each fiber (the layout of ``kernels.counting``): ``ceil(k/2)`` key
    words (code j in the low 32 bits of word j//2 when j is even, the high 32 bits when odd),
    ``na`` row counts, then when ``weighted`` ``na`` integer parts and ``na`` fractions (the
    uint64 bit pattern). ``fibers`` is a list of (key codes, {action: [rows, exact weight]})."""
    import numpy as np

    kw = (k + 1) // 2
    rec = np.zeros((len(fibers), kw + na * (3 if weighted else 1)), np.int64)
    for f, (key, cells) in enumerate(fibers):
        for w in range(kw):
            lo = int(key[2 * w]) % 2**32
            hi = int(key[2 * w + 1]) % 2**32 if 2 * w + 1 < k else 0
            word = lo | hi << 32
            rec[f, w] = word - TWO64 if word >= 2**63 else word
        for a, (rows, weight) in cells.items():
            rec[f, kw + a] = rows
            if weighted:
                hi, lo = fixed_parts(math.floor(Fraction(weight) * TWO64))
                rec[f, kw + na + a] = hi
                rec[f, kw + 2 * na + a] = lo - TWO64 if lo >= 2**63 else lo
    return rec


def group_sums_oracle(groups, values, n_groups):
    """Per group g in 0..n_groups-1 the exact sum of ``values`` (ints in units of 2**-64) over
    rows with ``groups[i] == g``; negative groups are left out."""
    out = [0] * n_groups
    for g, v in zip(groups, values):
        if g >= 0:
            out[g] += v
    return out


def finalize_oracle(fibers, na, arank, min_support, skip_thin):
    """SPEC 2's per-fiber figures and totals of a list of fibers ``(key, {action: [rows, exact
    weight]})`` (actions with 0 rows absent), in the layout of ``kernels.finalize``: per fiber
    support, total weight, majority action (largest weight, ties to the lowest ``arank``), its
    weight, number of actions and class (0 certified, 1 ambiguous = mixed, 2 thin = support below
    ``min_support``, whatever its actions); the totals ``acc`` (exact ints in units of 2**-64:
    all, certified, ambiguous, thin, decision risk = total minus majority weight, then per action
    its weight and its certified weight) and ``cnt`` (fibers and mixed fibers, thin fibers left
    out with ``skip_thin``; thin fibers; then per action rows, certified rows, certified fibers)."""
    per = {"support": [], "total": [], "major": [], "major_weight": [], "n_actions": [], "cls": []}
    acc = [0] * (5 + 2 * na)
    cnt = [0] * (3 + 3 * na)
    for _, cells in fibers:
        units = {a: math.floor(Fraction(w) * TWO64) for a, (_, w) in cells.items()}
        support = sum(r for r, _ in cells.values())
        total = sum(units.values())
        major = min(cells, key=lambda a: (-units[a], arank[a]))
        cls = 2 if support < min_support else (1 if len(cells) > 1 else 0)
        for name, v in zip(per, (support, total, major, units[major], len(cells), cls)):
            per[name].append(v)
        acc[0] += total
        acc[1 + cls] += total
        acc[4] += total - units[major]
        for a, (r, _) in cells.items():
            acc[5 + 2 * a] += units[a]
            cnt[3 + 3 * a] += r
        if cls == 0:
            acc[5 + 2 * major + 1] += total
            cnt[3 + 3 * major + 1] += support
            cnt[3 + 3 * major + 2] += 1
        cnt[2] += cls == 2
        if not (skip_thin and cls == 2):
            cnt[0] += 1
            cnt[1] += len(cells) > 1
    return per, acc, cnt


def binomial_cdf_oracle(x: int, n: int, p) -> Fraction:
    """P(Bin(n, p) <= x) exactly, for a rational ``p`` (a float is taken at its exact value)."""
    p = Fraction(p)
    return sum((math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(x + 1)), Fraction(0))


def leaderboard_kernel_oracle(models, item_cal, fixed_tol, min_support, n_actions):
    """SPEC 6 ("Leaderboard replays") on one split, per model, by plain loops: ``models`` is a
    list of row lists ``(value, action rank, item, |error|)``. Returns per model (n_cal, n_test,
    tolerance, calibration MAE, certified, wrong certified, fiber-majority false decisions,
    global-majority false decisions) as counts; the tolerance is ``fixed_tol``, or the MAE when
    ``fixed_tol`` < 0 (NaN without calibration rows). A test row's window is the model's
    calibration rows q with |v_q - v_p| <= tolerance; with at least ``min_support`` rows its
    majority (most rows, ties to the lowest rank) is the fiber majority and one action certifies
    it; else the model's global calibration majority (most rows, ties lowest; rank 0 when the
    model has no calibration row) stands."""
    out = []
    for rows in models:
        cal = [r for r in rows if item_cal[r[2]]]
        test = [r for r in rows if not item_cal[r[2]]]
        mae = math.fsum(r[3] for r in cal) / len(cal) if cal else float("nan")
        tol = fixed_tol if fixed_tol >= 0 else mae
        per = [sum(1 for r in cal if r[1] == a) for a in range(n_actions)]
        glob = min(range(n_actions), key=lambda a: (-per[a], a))
        cert = wrong = fd_m = fd_g = 0
        for v, truth, _, _ in test:
            window = [q for q in cal if abs(q[0] - v) <= tol]
            major = glob
            if len(window) >= min_support:
                c = [sum(1 for q in window if q[1] == a) for a in range(n_actions)]
                major = min(range(n_actions), key=lambda a: (-c[a], a))
                if sum(1 for x in c if x) == 1:
                    cert += 1
                    wrong += major != truth
            fd_m += major != truth
            fd_g += glob != truth
        out.append((len(cal), len(test), tol, mae, cert, wrong, fd_m, fd_g))
    return out


def refine_scores_oracle(seg, codes, col, atoms, min_support, skip_thin):
    """Split every fiber (atoms ``seg[s]:seg[s+1]``) by column ``col`` of ``codes`` (``col`` -1:
    as they are) and classify the sub-fibers as SPEC 2 does: ``atoms[i]`` is ``{action: [rows,
    weight units]}`` (an atom without rows takes no part). Returns the weight of (all, certified,
    ambiguous, thin) sub-fibers and (fibers, mixed fibers, thin fibers), thin fibers left out of
    the first two with ``skip_thin``."""
    acc, cnt = [0, 0, 0, 0], [0, 0, 0]
    for s in range(len(seg) - 1):
        subs = defaultdict(lambda: defaultdict(lambda: [0, 0]))
        for i in range(seg[s], seg[s + 1]):
            for a, (r, w) in atoms[i].items():
                if r:
                    cell = subs[codes[i][col] if col >= 0 else 0][a]
                    cell[0] += r
                    cell[1] += w
        for cells in subs.values():
            rows = sum(r for r, _ in cells.values())
            weight = sum(w for _, w in cells.values())
            thin, mixed = rows < min_support, len(cells) > 1
            acc[0] += weight
            acc[3 if thin else (2 if mixed else 1)] += weight
            cnt[2] += thin
            if not (skip_thin and thin):
                cnt[0] += 1
                cnt[1] += mixed
    return acc, cnt


def stable_split_oracle(seg, codes, col):
    """Positions of every segment sorted stably by column ``col`` (ascending), and the
    boundaries of the sub-segments (one per distinct code of each segment)."""
    perm, bounds = [], [0]
    for s in range(len(seg) - 1):
        pos = sorted(range(seg[s], seg[s + 1]), key=lambda p: codes[p][col])
        perm.extend(pos)
        for c in sorted({codes[p][col] for p in pos}):
            bounds.append(bounds[-1] + sum(1 for p in pos if codes[p][col] == c))
    return perm, bounds


def digit_histogram_oracle(keys, prefixes, shift_prefix, shift_digit, digit_bits):
    """For each prefix (in the given order) the count of each ``digit_bits``-bit digit
    ``(key >> shift_digit) & mask`` over keys whose ``key >> shift_prefix`` is that prefix (a
    shift of 64 or more leaves the prefix 0: every key)."""
    mask = (1 << digit_bits) - 1
    hist = [[0] * (1 << digit_bits) for _ in prefixes]
    for key in keys:
        p = key >> shift_prefix if shift_prefix < 64 else 0
        if p in prefixes:
            hist[prefixes.index(p)][(key >> shift_digit) & mask] += 1
    return hist


def window_bounds_oracle(sv, rule, param):
    """Per sorted position p of the sorted values ``sv``, its window (SPEC 2) as the half-open
    range of sorted positions [lo, hi): 'window' every row within ``param`` of sv[p]; 'knn' the
    tie-aware k rows of :func:`_knn_members`."""
    lo, hi = [], []
    for p in range(len(sv)):
        members = _knn_members(sv, sv, sv[p], param) if rule == "knn" else _tolerance_members(sv, sv[p], param)
        lo.append(min(members))
        hi.append(max(members) + 1)
        assert members == list(range(lo[-1], hi[-1]))  # sorted: a window is contiguous
    return lo, hi


def window_classes_oracle(acodes, weights, lo, hi, na, min_support, skip_thin):
    """SPEC 2's classes of overlapping fibers, row by row: row p's fiber is the rows lo[p]..hi[p]-1;
    support, class (thin below ``min_support``, else ambiguous when two actions occur, else
    certified); the majority action by weight (rows when unweighted; ties to the lowest code)
    for the decision risk. Weights are truncated to multiples of 2**-64 as the fixed point holds
    them; totals are ints in units of 2**-64 in the layout of ``kernels.windows.window_classes``:
    acc (all, certified, ambiguous, thin, risk, 0, then per action prevalence and certified
    weight), cnt (distinct windows, distinct mixed windows, distinct thin windows, 0, then per
    action rows, certified rows, 0); ``skip_thin`` leaves thin windows out of the first two."""
    n = len(acodes)
    unit = [math.floor(Fraction(w) * TWO64) for w in weights] if weights is not None else [TWO64] * n
    acc, cnt, support = [0] * (6 + 2 * na), [0] * (4 + 3 * na), []
    windows = {}
    for p in range(n):
        rows, wt = defaultdict(int), defaultdict(int)
        for q in range(lo[p], hi[p]):
            rows[acodes[q]] += 1
            wt[acodes[q]] += unit[q]
        s = hi[p] - lo[p]
        support.append(s)
        major = min(rows, key=lambda a: (-(wt[a] if weights is not None else rows[a]), a))
        cls = 3 if s < min_support else (2 if len(rows) > 1 else 1)
        a = acodes[p]
        acc[0] += unit[p]
        acc[cls] += unit[p]
        acc[4] += unit[p] if a != major else 0
        acc[6 + 2 * a] += unit[p]
        cnt[4 + 3 * a] += 1
        if cls == 1:
            acc[6 + 2 * a + 1] += unit[p]
            cnt[4 + 3 * a + 1] += 1
        windows[(lo[p], hi[p])] = (cls == 3, len(rows) > 1)
    for thin, mixed in windows.values():
        cnt[2] += thin
        if not (skip_thin and thin):
            cnt[0] += 1
            cnt[1] += mixed
    return support, acc, cnt


def decode_records_oracle(rec, k, na, weighted):
    """The fibers of records in ``kernels.counting``'s layout (the inverse of
    :func:`fiber_records_oracle`): ``{key codes: {action: [rows, exact weight]}}`` of the actions
    with rows; unweighted, a fiber's weight is its row count."""
    kw = (k + 1) // 2
    out = {}
    for r in rec:
        words = [int(x) % TWO64 for x in r[:kw]]
        key = []
        for j in range(k):
            c = (words[j // 2] >> (32 * (j % 2))) & 0xFFFFFFFF
            key.append(c - 2**32 if c >= 2**31 else c)
        cells = {}
        for a in range(na):
            rows = int(r[kw + a])
            if rows:
                w = Fraction(fixed_value(r[kw + na + a], int(r[kw + 2 * na + a]) % TWO64), TWO64) if weighted \
                    else Fraction(rows)
                cells[a] = [rows, w]
        assert tuple(key) not in out, "a fiber twice"
        out[tuple(key)] = cells
    return out


# --- replay slices (SPEC section 6 with issue 18's --by) ---
def replay_slice_oracle(rows, models, action, cal_mask, by, value, weight=None, min_support=1, tol=None):
    """One split's figures over the test rows whose ``by`` is ``value``: the certificate, the
    fiber majorities and the global majority still come from every calibration row (the slice
    column is not evidence), only the rows acted on are the slice's. None when the slice has no
    test rows in this split."""
    keep = [i for i in range(len(rows)) if cal_mask[i] or rows[i][by] == value]
    if all(cal_mask[i] for i in keep):
        return None
    return replay_split_oracle([rows[i] for i in keep], models, action, [cal_mask[i] for i in keep], weight,
                               min_support, tol)
