"""Baselines for the completion, coverage, window and replay cases: what a competent user writes
without dcb_fast (vectorised DuckDB SQL, lazy Polars, pyarrow group-bys, numpy), returning the
same numbers as the matching ``*_ours`` function in ``cases.py``.

Conventions shared with dcb_fast, so that results agree exactly:
- a fiber is certified when it holds one action and at least ``min_support`` rows; thin (fewer
  rows) wins over mixed;
- sorted windows order rows by (value, action), as dcb_fast does;
- ties between equally good probes go to the lexically first name; ties between majority
  actions to the lexically first action.
"""

from __future__ import annotations

import math
import os

from .data import ACTION, EVIDENCE, PROBES, WEIGHT


def _q(c: str) -> str:
    return '"' + c.replace('"', '""') + '"'


def _cols(cols) -> str:
    return ", ".join(_q(c) for c in cols)


def _path(p) -> str:
    return os.fspath(p).replace("'", "''")


# -- completion: the greedy loop, group-bys from scratch for every candidate at every step ----------

def _greedy(evaluate_many, evidence, probes):
    """The greedy completion loop. ``evaluate_many(list of key lists)`` returns, per key list,
    (fibers, mixed fibers, certified weight, total weight) with exact integer weights."""
    selected = list(evidence)
    pool = sorted(probes)
    fibers, mixed, cert, total = evaluate_many([selected])[0]
    steps = [(None, int(fibers), int(mixed), int(cert) / int(total))]
    while pool:
        res = evaluate_many([selected + [p] for p in pool])
        i = max(range(len(pool)), key=lambda j: (int(res[j][2]), -j))  # ties: lexically first probe
        p = pool.pop(i)
        selected.append(p)
        fibers, mixed, cert, total = res[i]
        steps.append((p, int(fibers), int(mixed), int(cert) / int(total)))
    return {"steps": steps}


def completion_duckdb(source, evidence=EVIDENCE, action=ACTION, probes=PROBES, weight=WEIGHT):
    """Load the needed columns once into DuckDB's memory, then one aggregation query (cells, then
    fibers) per candidate per step; DuckDB runs each query on all cores."""
    import duckdb

    con = duckdb.connect()
    try:
        cols = list(evidence) + list(probes) + [action, weight]
        con.execute(f"create table t as select {_cols(cols)} from read_parquet('{_path(source)}')")

        def evaluate(keys):
            k = _cols(keys)
            return con.execute(f"""
                select count(*), count(*) filter (where n > 1), coalesce(sum(w) filter (where n = 1), 0), sum(w)
                from (select {k}, count(*) n, sum(w) w
                      from (select {k}, {_q(action)}, sum({_q(weight)}) w from t group by all) group by all)
            """).fetchone()

        return _greedy(lambda key_lists: [evaluate(k) for k in key_lists], evidence, probes)
    finally:
        con.close()


def completion_polars(source, evidence=EVIDENCE, action=ACTION, probes=PROBES, weight=WEIGHT):
    """Read the needed columns once, then per step all candidates' group-bys as lazy queries run
    together (``collect_all``); a fiber is pure when its min action equals its max action."""
    import polars as pl

    df = pl.read_parquet(os.fspath(source), columns=list(evidence) + list(probes) + [action, weight])

    def query(keys):
        g = df.lazy().group_by(keys).agg(pl.col(action).min().alias("mn"), pl.col(action).max().alias("mx"),
                                         pl.col(weight).sum().alias("w"))
        pure = pl.col("mn") == pl.col("mx")
        return g.select(pl.len().alias("fibers"), (~pure).sum().alias("mixed"),
                        pl.col("w").filter(pure).sum().alias("certified"), pl.col("w").sum().alias("total"))

    return _greedy(lambda key_lists: [f.row(0) for f in pl.collect_all([query(k) for k in key_lists])],
                   evidence, probes)


def completion_pyarrow(source, evidence=EVIDENCE, action=ACTION, probes=PROBES, weight=WEIGHT):
    """The same loop with pyarrow's ``Table.group_by`` (cells, then fibers)."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    t = pq.read_table(os.fspath(source), columns=list(evidence) + list(probes) + [action, weight])

    def evaluate(keys):
        cells = t.group_by(keys + [action]).aggregate([(weight, "sum")])
        fib = cells.group_by(keys).aggregate([(f"{weight}_sum", "sum"), (f"{weight}_sum", "count")])
        w, n = fib[f"{weight}_sum_sum"], fib[f"{weight}_sum_count"]
        pure = pc.equal(n, 1)
        return (fib.num_rows, fib.num_rows - pc.sum(pure).as_py(), pc.sum(pc.filter(w, pure)).as_py() or 0,
                pc.sum(w).as_py())

    return _greedy(lambda key_lists: [evaluate(k) for k in key_lists], evidence, probes)


# -- coverage: certificate from the calibration file, joined with the production log ------------------

_CLASSES = ["certified", "ambiguous", "thin", "unseen"]


def _coverage_result(rows) -> dict:
    """``rows``: (class, production fibers, weight, false-decision weight) per class."""
    by = {c: (0, 0, 0) for c in _CLASSES}
    for cls, n, w, fd in rows:
        by[cls] = (int(n), int(w or 0), int(fd or 0))
    total = sum(v[1] for v in by.values())
    return {"total": total, **{c: by[c][1] for c in _CLASSES},
            "false_certificate": by["certified"][2], "fibers": {c: by[c][0] for c in _CLASSES}}


def coverage_duckdb(calibration, production, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, min_support=5):
    """One query: calibration fibers (support, number of actions, the action) joined to the
    production cells by evidence, aggregated per class."""
    import duckdb

    ev, a, w = _cols(evidence), _q(action), _q(weight)
    sql = f"""
    with cal as (select {ev}, {a} a, count(*) n from read_parquet('{_path(calibration)}') group by all),
    cert as (select {ev}, sum(n) support, count(*) nact, min(a) act from cal group by all),
    prod as (select {ev}, {a} a, sum({w}) w from read_parquet('{_path(production)}') group by all),
    j as (select p.*, c.act,
                 case when c.support is null then 'unseen' when c.support < {int(min_support)} then 'thin'
                      when c.nact > 1 then 'ambiguous' else 'certified' end cls
          from prod p left join cert c using ({ev})),
    fib as (select {ev}, any_value(cls) cls, sum(w) w,
                   sum(w) filter (where cls = 'certified' and a <> act) fd from j group by all)
    select cls, count(*), sum(w), sum(fd) from fib group by cls"""
    con = duckdb.connect()
    try:
        return _coverage_result(con.execute(sql).fetchall())
    finally:
        con.close()


def coverage_polars(calibration, production, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, min_support=5):
    """The same plan as lazy Polars scans of both files."""
    import polars as pl

    ev = list(evidence)
    cert = (pl.scan_parquet(os.fspath(calibration)).group_by(ev + [action]).agg(pl.len().alias("n"))
            .group_by(ev).agg(pl.col("n").sum().alias("support"), pl.len().alias("nact"),
                              pl.col(action).min().alias("act")))
    prod = pl.scan_parquet(os.fspath(production)).group_by(ev + [action]).agg(pl.col(weight).sum().alias("w"))
    s = pl.col("support")
    cls = (pl.when(s.is_null()).then(pl.lit("unseen")).when(s < int(min_support)).then(pl.lit("thin"))
           .when(pl.col("nact") > 1).then(pl.lit("ambiguous")).otherwise(pl.lit("certified")))
    j = prod.join(cert, on=ev, how="left").with_columns(cls.alias("cls"))
    wrong = (pl.col("cls") == "certified") & (pl.col(action).cast(pl.String) != pl.col("act").cast(pl.String))
    fib = j.group_by(ev).agg(pl.col("cls").first(), pl.col("w").sum(), pl.col("w").filter(wrong).sum().alias("fd"))
    out = fib.group_by("cls").agg(pl.len().alias("fibers"), pl.col("w").sum(), pl.col("fd").sum()).collect()
    return _coverage_result(out.rows())


# -- knn and tolerance windows on one numeric column ------------------------------------------------------
# A row's window: knn, the k rows starting at its sorted position - k//2, shifted at the ends to hold
# k rows; tolerance, every row within tol of its value. Results: rows, distinct windows, distinct mixed
# windows, rows certified true / false (their window holds one action). The action is boolean here.
# These knn baselines assume no tied values (the benchmark's predictions have none): with ties the
# library widens windows to whole tie groups (SPEC section 2), which a fixed ROWS frame cannot do.

def _window_result(rows, windows, mixed, cert_true, cert_false):
    return {"rows": int(rows), "windows": int(windows), "mixed_windows": int(mixed),
            "certified_true": int(cert_true or 0), "certified_false": int(cert_false or 0)}


def knn_duckdb(source, column="pred", action="stable", k=50):
    """A ROWS frame of k rows around each row (sorted by value, action); the first and last
    k//2 rows take the first and last k rows, as the window is shifted there."""
    import duckdb

    h = k // 2
    v, a = _q(column), _q(action)
    sql = f"""
    with s as (select {a}::int a, row_number() over o - 1 p,
                      sum({a}::int) over (order by {v}, {a} rows between {h} preceding and {k - h - 1} following) c_mid
               from read_parquet('{_path(source)}') where {v} is not null and not isnan({v}) and {a} is not null
               window o as (order by {v}, {a})),
    n as (select count(*) n, sum(a) filter (where p < {k}) first_k from s),
    e as (select sum(a) last_k from s, n where p >= n.n - {k}),
    w as (select a, greatest(0, least(p - {h}, n - {k})) st,
                 case when p < {h} then first_k when p - {h} > n - {k} then last_k else c_mid end c
          from s, n, e)
    select count(*), count(distinct st), count(distinct st) filter (where c > 0 and c < {k}),
           count(*) filter (where c = {k}), count(*) filter (where c = 0) from w"""
    con = duckdb.connect()
    try:
        row = con.execute(sql).fetchone()
    finally:
        con.close()
    assert row[0] >= k, "the knn baselines assume at least k rows"
    return _window_result(*row)


def window_duckdb(source, column="pred", action="stable", tol=0.05):
    """Prefix sums of the action over the sorted rows, and each window's first and last
    position by two as-of joins (value - tol <= v, value + tol >= v) against the distinct values.

    The direct form, ``sum(a) over (order by v range between tol preceding and tol following)``,
    gives the same numbers but DuckDB evaluates it in time proportional to the frame size (about
    60x slower here on 1M rows, windows of ~50k rows), so a user who measures writes this."""
    import duckdb

    v, a, t = _q(column), _q(action), float(tol)
    sql = f"""
    with s as (select {v} v, {a}::int a, row_number() over w p, sum({a}::int) over (w rows unbounded preceding) cs
               from read_parquet('{_path(source)}')
               where {v} is not null and not isnan({v}) and {a} is not null
               window w as (order by {v}, {a})),
    u as (select v, min(p) - 1 lo, max(p) hi, min(cs - a) cs_lo, max(cs) cs_hi from s group by v),
    x as (select s.a, s.v, l.lo, l.cs_lo from s asof join u l on s.v - {t!r} <= l.v),
    y as (select x.a, x.lo, x.cs_lo, h.hi, h.cs_hi from x asof join u h on x.v + {t!r} >= h.v),
    m as (select a, lo, hi, cs_hi - cs_lo c, hi - lo size from y)
    select count(*), count(distinct (lo, hi)), count(distinct (lo, hi)) filter (where c > 0 and c < size),
           count(*) filter (where c = size), count(*) filter (where c = 0) from m"""
    con = duckdb.connect()
    try:
        return _window_result(*con.execute(sql).fetchone())
    finally:
        con.close()


def _polars_sorted(source, column, action):
    """The rows sorted by (value, action) with prefix sums ``cs`` of the action. Eager, and the
    boolean cast to an integer before the sort: Polars' lazy two-key sort with a boolean key was
    4-8x slower here on 1M rows."""
    import polars as pl

    df = (pl.read_parquet(os.fspath(source), columns=[column, action])
          .select(pl.col(column).alias("v"), pl.col(action).cast(pl.Int8).alias("a"))
          .filter(pl.col("v").is_not_null() & pl.col("v").is_not_nan() & pl.col("a").is_not_null())
          .sort(["v", "a"]))
    return df.lazy().with_columns(pl.col("a").cast(pl.Int64).cum_sum().alias("cs"))


def _polars_window_counts(lf, lo, hi):
    """Count windows [lo, hi) given as expressions over the sorted frame with prefix sums ``cs``.
    Bounds are monotone in the sorted position, so distinct windows are counted as changes."""
    import polars as pl

    cs = pl.col("cs")
    c = cs.gather(hi - 1) - pl.when(lo > 0).then(cs.gather((lo - 1).clip(0))).otherwise(0)
    w = lf.with_columns(lo.alias("lo"), hi.alias("hi"), c.alias("c"))
    size = pl.col("hi") - pl.col("lo")
    mixed = (pl.col("c") > 0) & (pl.col("c") < size)

    def changes(x_lo, x_hi):
        return ((x_lo != x_lo.shift(1)) | (x_hi != x_hi.shift(1))).fill_null(True).sum()

    m_lo, m_hi = pl.col("lo").filter(mixed), pl.col("hi").filter(mixed)
    return w.select(pl.len().alias("rows"), changes(pl.col("lo"), pl.col("hi")).alias("windows"),
                    changes(m_lo, m_hi).alias("mixed_windows"),
                    (pl.col("c") == size).sum().alias("certified_true"),
                    (pl.col("c") == 0).sum().alias("certified_false")).collect().row(0)


def knn_polars(source, column="pred", action="stable", k=50):
    """Sort once, prefix sums of the action, the shifted window start clipped to [0, n - k]."""
    import polars as pl

    st = (pl.int_range(pl.len()) - k // 2).clip(0, pl.len() - k)
    return _window_result(*_polars_window_counts(_polars_sorted(source, column, action), st, st + k))


def window_polars(source, column="pred", action="stable", tol=0.05):
    """Sort once, prefix sums of the action, window bounds by binary search of value -+ tol."""
    import polars as pl

    v = pl.col("v")
    lo = v.search_sorted(v - tol, side="left").cast(pl.Int64)
    hi = v.search_sorted(v + tol, side="right").cast(pl.Int64)
    return _window_result(*_polars_window_counts(_polars_sorted(source, column, action), lo, hi))


def _numpy_sorted(source, column, action):
    import numpy as np
    import pyarrow.parquet as pq

    t = pq.read_table(os.fspath(source), columns=[column, action])
    v = t[column].to_numpy().astype(np.float64)
    a = t[action].to_numpy(zero_copy_only=False).astype(np.int64)
    order = np.lexsort((a, v))
    v, a = v[order], a[order]
    pref = np.zeros(len(a) + 1, np.int64)
    np.cumsum(a, out=pref[1:])
    return v, a, pref


def _numpy_counts(a, pref, lo, hi):
    import numpy as np

    c = pref[hi] - pref[lo]
    size = hi - lo
    mixed = (c > 0) & (c < size)
    change = np.ones(len(lo), bool)  # windows are monotone in the sorted position: count changes
    change[1:] = (lo[1:] != lo[:-1]) | (hi[1:] != hi[:-1])
    lm, hm = lo[mixed], hi[mixed]
    mixed_windows = int(len(lm) and 1 + np.count_nonzero((lm[1:] != lm[:-1]) | (hm[1:] != hm[:-1])))
    return _window_result(len(a), change.sum(), mixed_windows, (c == size).sum(), (c == 0).sum())


def knn_numpy(source, column="pred", action="stable", k=50):
    """numpy: lexsort, prefix sums, clipped window starts."""
    import numpy as np

    v, a, pref = _numpy_sorted(source, column, action)
    lo = np.clip(np.arange(len(v)) - k // 2, 0, len(v) - k)
    return _numpy_counts(a, pref, lo, lo + k)


def window_numpy(source, column="pred", action="stable", tol=0.05):
    """numpy: lexsort, prefix sums, window bounds by ``searchsorted`` of value -+ tol."""
    import numpy as np

    v, a, pref = _numpy_sorted(source, column, action)
    return _numpy_counts(a, pref, np.searchsorted(v, v - tol, "left"), np.searchsorted(v, v + tol, "right"))


# -- replay: certify-then-acquire over random splits ------------------------------------------------------
# Per split, every row goes to calibration with probability 1/2 (a hash of its request id and the split
# number: the usual way to split rows reproducibly in SQL); the four policies of dcb_fast.replay are
# scored on the test rows. Weighted by ``weight``; majority ties go to the lexically first action.
# DuckDB's multi-argument hash(rid, seed, k) has the same parity for every k (every split would be the
# same split), so the split number goes into one integer: hash(rid * 1000003 + seed * 1009 + k).

def _policy_figures(W, cert_w, wrong_cert, fd_major, fd_glob):
    W = float(W)
    c = float(cert_w or 0) / W
    wrong = float(wrong_cert or 0) / W
    return {("certify_only", "certified_fraction"): c, ("certify_only", "false_decisions"): wrong,
            ("certify_only", "acquisitions"): 0.0,
            ("fiber_majority", "certified_fraction"): 1.0, ("fiber_majority", "false_decisions"): float(fd_major) / W,
            ("fiber_majority", "acquisitions"): 0.0,
            ("global_majority", "certified_fraction"): 1.0, ("global_majority", "false_decisions"): float(fd_glob) / W,
            ("global_majority", "acquisitions"): 0.0,
            ("certify_then_acquire", "certified_fraction"): c, ("certify_then_acquire", "false_decisions"): wrong,
            ("certify_then_acquire", "acquisitions"): 1.0 - c}


def _replay_stats(per_split: list[dict]) -> dict:
    n = len(per_split)
    out = {}
    for key in per_split[0]:
        vals = [s[key] for s in per_split]
        mean = math.fsum(vals) / n
        sd = math.sqrt(math.fsum((x - mean) ** 2 for x in vals) / (n - 1)) if n > 1 else 0.0
        out[key] = (mean, sd)
    return {"splits": n, "stats": out}


def replay_duckdb(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, splits=100, seed=0, min_support=1):
    """Load once; per split one query: cells with calibration and test figures (one scan), the
    calibration certificate per fiber, the global majority, the four policies' totals."""
    import duckdb

    ev = _cols(evidence)
    con = duckdb.connect()
    try:
        con.execute(f"""create table t as select {ev}, {_q(action)} a, {_q(weight)} w, request_id rid
                        from read_parquet('{_path(source)}')""")
        con.execute("create table ranks as select a, row_number() over (order by a) - 1 r from (select distinct a from t)")
        per_split = []
        for k in range(splits):
            row = con.execute(f"""
            with c as (select {ev}, r, count(*) filter (where cal) cn, coalesce(sum(w) filter (where cal), 0) cw,
                              coalesce(sum(w) filter (where not cal), 0) tw
                       from (select *, hash(rid * 1000003 + {int(seed) * 1009 + k}) % 2 = 0 cal from t) join ranks using (a)
                       group by all),
                 g as (select r g from (select r, sum(cw) w from c group by r) order by w desc, r limit 1),
                 f as (select {ev}, sum(cn) support, count(*) filter (where cn > 0) present,
                              max(r) filter (where cn > 0) cert_act, arg_max(r, cw * 8 - r) major
                       from c group by all)
            select sum(tw),
                   sum(tw) filter (where support >= {int(min_support)} and present = 1),
                   sum(tw) filter (where support >= {int(min_support)} and present = 1 and r <> cert_act),
                   sum(tw) filter (where r <> (case when support > 0 then major else g end)),
                   sum(tw) filter (where r <> g)
            from c join f using ({ev}), g""").fetchone()
            per_split.append(_policy_figures(*row))
        return _replay_stats(per_split)
    finally:
        con.close()


def replay_polars(source, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, splits=100, seed=0, min_support=1):
    """Read once; per split one lazy query with the same plan as the DuckDB baseline."""
    import polars as pl

    ev = list(evidence)
    df = pl.read_parquet(os.fspath(source), columns=ev + [action, weight, "request_id"])
    names = sorted(df[action].cast(pl.String).unique().to_list())
    df = df.with_columns(pl.col(action).cast(pl.String).replace_strict({n: i for i, n in enumerate(names)},
                                                                        return_dtype=pl.Int64).alias("r"))
    s = int(min_support)
    per_split = []
    for k in range(splits):
        cal = (pl.col("request_id").hash(seed=int(seed) * 1_000_003 + k) % 2) == 0
        w = pl.col(weight)
        # plain sums of precomputed columns: Polars' filtered aggregations were 2x slower here
        c = (df.lazy().with_columns(cal.alias("cal"))
             .with_columns(pl.col("cal").cast(pl.Int64).alias("cn"), (w * pl.col("cal")).alias("cw"),
                           (w * ~pl.col("cal")).alias("tw"))
             .group_by(ev + ["r"]).agg(pl.col("cn").sum(), pl.col("cw").sum(), pl.col("tw").sum()).collect().lazy())
        g = c.group_by("r").agg(pl.col("cw").sum()).sort(["cw", "r"], descending=[True, False]).select(
            pl.col("r").first().alias("g"))
        f = c.group_by(ev).agg(pl.col("cn").sum().alias("support"), (pl.col("cn") > 0).sum().alias("present"),
                               pl.col("r").filter(pl.col("cn") > 0).max().alias("cert_act"),
                               pl.col("r").sort_by(["cw", "r"], descending=[True, False]).first().alias("major"))
        j = c.join(f, on=ev).join(g, how="cross")
        certified = (pl.col("support") >= s) & (pl.col("present") == 1)
        major = pl.when(pl.col("support") > 0).then(pl.col("major")).otherwise(pl.col("g"))
        tw = pl.col("tw")
        row = j.select(tw.sum().alias("W"), tw.filter(certified).sum().alias("cert"),
                       tw.filter(certified & (pl.col("r") != pl.col("cert_act"))).sum().alias("wrong"),
                       tw.filter(pl.col("r") != major).sum().alias("fd_major"),
                       tw.filter(pl.col("r") != pl.col("g")).sum().alias("fd_glob")).collect().row(0)
        per_split.append(_policy_figures(*row))
    return _replay_stats(per_split)
