"""Replays against the row-level oracle of tests/reference.py on the library's own split
assignment, the split rules of SPEC section 6 (same rows for every model, reproducible from the
seed alone, error among certified over the splits that certify, certifying nothing never wins,
window majorities) and their hypothesis properties."""

from __future__ import annotations

import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, strategies as st

from dcb_fast import replay
from dcb_fast.io.sources import open_source
from dcb_fast.methods.replay import FIELDS, POLICIES, read_cells, split_counts, split_stats
from dcb_fast.core.rules import Window
from dcb_fast.tools.synth import TOX21_ASSAYS, tox21_compounds, tox21_table

from .reference import replay_split_oracle, replay_summary_oracle, split_stats_oracle


# -- the library's split assignment, as row-level calibration masks -------------------------------

def library_masks(table, models, action, weight, f, seed, splits, tol=None, by=None):
    """The rows the replay keeps and, per split, a calibration mask over them: cell i of the
    library's draw has ``cal[i]`` calibration rows, here its first ``cal[i]`` rows in input order
    (rows of one cell agree on every column a replay reads, so which ones is immaterial)."""
    cols = sorted({c for m in models.values() for c in m})
    rules = {c: Window(tol=tol) for c in cols} if tol is not None else {}
    src = open_source(table, cols + [action] + ([weight] if weight else []) + ([by] if by else []))
    cells, _ = read_cells(src, models, action, weight, "drop", rules, by=by)
    keys = cells.key_table()
    key_cols = [c for c in keys.column_names if c != "count"]
    index = {tuple(r[c] for c in key_cols): i for i, r in enumerate(keys.to_pylist())}
    rows = [r for r in table.to_pylist() if all(r[c] is not None for c in key_cols)]
    cell_of = [index[tuple(r[c] for c in key_cols)] for r in rows]
    assert np.bincount(cell_of, minlength=len(cells.count)).tolist() == cells.count.tolist()
    masks = []
    for k in range(splits):
        cal, test = split_counts(cells, f, seed, k)
        assert cal.sum() == round(f * len(rows)) and (cal >= 0).all() and (test >= 0).all()
        left = cal.copy()
        mask = []
        for ci in cell_of:
            mask.append(bool(left[ci] > 0))
            left[ci] -= left[ci] > 0
        masks.append(mask)
    return rows, masks


def oracle_splits(table, models, action, weight=None, f=0.5, seed=0, splits=5, s=1, tol=None):
    rows, masks = library_masks(table, models, action, weight, f, seed, splits, tol)
    return [replay_split_oracle(rows, models, action, m, weight, s, tol) for m in masks]


def per_split(result):
    """{(split, model, policy): figures} of a replay's splits table."""
    return {(r["split"], r["model"], r["policy"]): tuple(r[f] for f in FIELDS) for r in result.splits.to_pylist()}


def close(got, want, rel=1e-12):
    if want is None or got is None:
        return got is None and want is None
    return math.isclose(got, float(want), rel_tol=rel, abs_tol=1e-15)


def assert_matches_oracle(result, want, names):
    got = per_split(result)
    for k, split in enumerate(want):
        for n in names:
            for p in POLICIES:
                g, w = got[(k, n, p)], split[n][p]
                assert all(close(a, b) for a, b in zip(g, w)), (k, n, p, g, [None if x is None else float(x) for x in w])


def assert_stats(got, want):
    assert got["n_splits"] == want["n_splits"], (got, want)
    for q in ("mean", "median", "p10", "p90"):
        assert close(got[q], want[q], 1e-9), (q, got, want)


# -- the library against the oracle -----------------------------------------------------------------

@st.composite
def replay_tables(draw):
    n = draw(st.integers(6, 40))
    a = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    b = draw(st.lists(st.sampled_from(["x", "y", None]), min_size=n, max_size=n))
    d = draw(st.lists(st.sampled_from(["p", "q", "r"]), min_size=n, max_size=n))
    w = draw(st.lists(st.sampled_from([1.0, 2.0, 0.5]), min_size=n, max_size=n))
    return pa.table({"a": a, "b": b, "d": d, "w": w})


@given(replay_tables(), st.integers(1, 3), st.integers(0, 50), st.booleans(), st.sampled_from([0.3, 0.5, 0.7]),
       st.sampled_from([{"model": ["a"]}, {"A": ["a"], "AB": ["a", "b"], "B": ["b"]}]))
def test_replay_matches_the_row_oracle(t, s, seed, weighted, f, models):
    weight = "w" if weighted else None
    try:
        r = replay(t, None if len(models) > 1 else models["model"], "d", splits=4, calib_fraction=f, seed=seed,
                   min_support=s, weight=weight, models=models if len(models) > 1 else None)
    except Exception as exc:  # a test part without rows: nothing to compare
        assert "test part has no weight" in str(exc) or "no rows" in str(exc)
        return
    want = oracle_splits(t, models, "d", weight, f, seed, 4, s)
    names = list(models)
    assert_matches_oracle(r, want, names)
    summ = replay_summary_oracle(want, names)
    for n in names:
        pol = r.metrics["models"][n] if len(names) > 1 else r.metrics["policies"]
        for p in POLICIES:
            for fld in FIELDS:
                assert_stats(pol[p][fld], summ["policies"][n][p][fld])
        lam = r.metrics["break_even_lambda_models"][n] if len(names) > 1 else r.metrics["break_even_lambda_splits"]
        assert_stats(lam, summ["lambda"][n])
    if len(names) > 1:
        mc = r.metrics["model_choice"]
        for k in ("benchmark_choices", "certification_choices", "differ_fraction"):
            assert mc[k] == summ["choice"][k], k


@given(st.lists(st.sampled_from([0.0, 0.1, 0.2, 0.35, 0.5, 1.0]), min_size=6, max_size=30), st.integers(0, 30),
       st.sampled_from([0.0, 0.1, 0.25]), st.integers(1, 4))
def test_window_replay_matches_the_row_oracle(values, seed, tol, s):
    rng = np.random.default_rng(seed)
    t = pa.table({"v": values, "u": [round(1 - v, 2) for v in values], "d": rng.choice(["a", "b"], len(values))})
    models = {"v": ["v"], "u": ["u"]}
    r = replay(t, None, "d", splits=3, seed=seed, min_support=s, models=models, tolerance=tol)
    assert_matches_oracle(r, oracle_splits(t, models, "d", None, 0.5, seed, 3, s, tol), list(models))


# -- item 2: every model sees the same rows ---------------------------------------------------------

def test_relabelled_equivalent_models_get_identical_figures_in_every_split():
    """Model B is model A with its values renamed by a bijection that reorders them (the same
    partition of the rows): both must give the same figures in each of 20 splits, and those
    figures are the oracle's on the library's split."""
    t = tox21_table()
    pats = sorted(set(t["pattern"].to_pylist()))
    rename = {p: f"p{(i * 17) % len(pats):02d}" for i, p in enumerate(pats)}  # 43 values, 17 coprime
    assert len(set(rename.values())) == len(pats) and sorted(rename, key=rename.get) != pats
    t = t.append_column("renamed", pa.array([rename[p] for p in t["pattern"].to_pylist()]))
    models = {"A": ["pattern"], "B": ["renamed"]}
    r = replay(t, None, "sr_p53", splits=20, seed=3, min_support=50, models=models)
    got = per_split(r)
    for k in range(20):
        for p in POLICIES:
            assert got[(k, "A", p)] == got[(k, "B", p)], (k, p)
    assert r.metrics["models"]["A"] == r.metrics["models"]["B"]
    assert_matches_oracle(r, oracle_splits(t, models, "sr_p53", None, 0.5, 3, 20, 50), ["A", "B"])


# -- item 3: reproducible from the seed alone --------------------------------------------------------

def _tox21_sorted(active_first: bool) -> pa.Table:
    t = tox21_table()
    y = np.asarray(t["sr_p53"])
    order = np.argsort(-y if active_first else y, kind="stable")
    return t.take(pa.array(order))


def test_tox21_inactive_first_and_active_first_give_the_same_replay():
    a = replay(_tox21_sorted(False), ["pattern"], "sr_p53", splits=20, seed=0, min_support=50)
    b = replay(_tox21_sorted(True), ["pattern"], "sr_p53", splits=20, seed=0, min_support=50)
    assert a.splits.equals(b.splits)
    assert a.metrics == b.metrics
    want = oracle_splits(_tox21_sorted(True), {"model": ["pattern"]}, "sr_p53", None, 0.5, 0, 20, 50)
    assert_matches_oracle(b, want, ["model"])


def test_tox21_from_compounds_gives_the_fiber_table_replay():
    """The 4391 compounds with all 8 labels, evidence the 7 assay columns, are the same multiset
    of rows (and the same canonical walk: single-digit patterns sort as the tuples) as the
    expansion of the paper's fiber table: the replay is the same, split by split."""
    c = tox21_compounds()
    nr = TOX21_ASSAYS[:7]
    a = replay(c, nr, "SR-p53", splits=20, seed=0, min_support=50)
    b = replay(tox21_table(), ["pattern"], "sr_p53", splits=20, seed=0, min_support=50)
    assert a.metrics["n_rows"] == 4391
    assert per_split(a) == per_split(b)


# -- item 4: error among certified, and certifying nothing never wins ---------------------------------

def test_split_stats_leave_out_undefined_splits():
    """Hand computation: error among certified 0.1 and 0.3 on the two splits that certify, a third
    certifies nothing."""
    got = split_stats([float("nan"), 0.1, 0.3])
    assert got["n_splits"] == 2 and got["mean"] == pytest.approx(0.2, abs=1e-15)
    assert got["median"] == pytest.approx(0.2, abs=1e-15)
    assert got["p10"] == pytest.approx(0.12, abs=1e-15) and got["p90"] == pytest.approx(0.28, abs=1e-15)
    assert split_stats([float("nan")]) == {"mean": None, "median": None, "p10": None, "p90": None, "n_splits": 0}


def test_tox21_error_among_certified_is_over_the_splits_that_certify():
    """Most Tox21 splits certify nothing at s = 50: the error among certified is the mean over
    the others (the oracle's, on the same splits), with their count, not a mean with zeros."""
    t = tox21_table()
    r = replay(t, ["pattern"], "sr_p53", splits=20, seed=3, min_support=50)
    want = oracle_splits(t, {"model": ["pattern"]}, "sr_p53", None, 0.5, 3, 20, 50)
    err = [w["model"]["certify_only"][1] for w in want]
    assert 2 <= sum(e is not None for e in err) <= 18
    got = r.metrics["policies"]["certify_only"]["error_among_certified"]
    assert_stats(got, split_stats_oracle(err))
    for k, e in enumerate(err):
        assert close(per_split(r)[(k, "model", "certify_only")][1], e)


def test_a_model_certifying_nothing_never_wins_the_certification_choice():
    """A row id certifies nothing (every test row is unseen in calibration); listed first, it
    would win every tie. The other model certifies most rows with a small error."""
    rng = np.random.default_rng(4)
    n = 2000
    e = rng.integers(0, 10, n)
    d = np.where(e < 8, e % 2, rng.integers(0, 2, n))  # fibers 8 and 9 are mixed
    t = pa.table({"id": np.arange(n), "e": e, "d": d})
    models = {"rowid": ["id"], "good": ["e"]}
    r = replay(t, None, "d", splits=20, seed=1, min_support=5, models=models)
    mc = r.metrics["model_choice"]
    assert mc["certification_choices"] == {"rowid": 0, "good": 20}
    assert r.metrics["models"]["rowid"]["certify_only"]["certified_fraction"]["mean"] == 0.0
    assert r.metrics["models"]["rowid"]["certify_only"]["error_among_certified"]["n_splits"] == 0
    want = oracle_splits(t, models, "d", None, 0.5, 1, 20, 5)
    summ = replay_summary_oracle(want, list(models))
    assert mc["certification_choices"] == summ["choice"]["certification_choices"]
    fd = [w["good"]["certify_then_acquire"][2] for w in want]
    assert_stats(mc["certification_choice_false_decisions"], split_stats_oracle(fd))


def test_break_even_lambda_is_per_split():
    """lambda* per split, then summarised (SPEC section 6): the mean of per-split values."""
    t = tox21_table()
    r = replay(t, ["pattern"], "sr_p53", splits=10, seed=2, min_support=50)
    want = oracle_splits(t, {"model": ["pattern"]}, "sr_p53", None, 0.5, 2, 10, 50)
    lam = replay_summary_oracle(want, ["model"])["lambda"]["model"]
    assert_stats(r.metrics["break_even_lambda_splits"], lam)
    assert close(r.metrics["break_even_lambda"], lam["mean"], 1e-9)
    rows = [x for x in r.splits.to_pylist() if x["policy"] == "certify_then_acquire"]
    for x in rows:
        w = want[x["split"]]["model"]
        assert close(x["break_even_lambda"], (w["fiber_majority"][2] - w["certify_then_acquire"][2])
                     / w["certify_then_acquire"][3], 1e-9)


# -- item 5: a window with fewer than s calibration rows -------------------------------------------

def test_thin_window_uses_the_global_majority():
    """Hand computation. 40 rows at v = 0 with action a, 4 rows at v = 10 with action b; tol 1,
    s = 5. Whatever the split (22 calibration rows, so at least 18 of the a rows), the window at
    v = 10 holds at most 4 calibration rows: ambiguous, and its fiber majority is the global
    majority a, wrong for every b row in test; the window at v = 0 certifies a, always right. So
    in every split fiber-majority false decisions = global-majority false decisions = the share
    of test rows at v = 10 = 1 - certified fraction, and the error among certified is 0."""
    t = pa.table({"v": [0.0] * 40 + [10.0] * 4, "d": ["a"] * 40 + ["b"] * 4})
    r = replay(t, ["v"], "d", splits=30, seed=5, min_support=5, tolerance=1.0)
    got = per_split(r)
    some_b = 0
    for k in range(30):
        c, err, _, _ = got[(k, "model", "certify_only")]
        fd = got[(k, "model", "fiber_majority")][2]
        assert err == 0.0
        assert fd == got[(k, "model", "global_majority")][2]
        assert fd == pytest.approx(1 - c, abs=1e-15)
        some_b += fd > 0
    # all 4 b rows land in calibration with probability C(40,18)/C(44,22) ~ 0.054: most splits
    # test the thin window
    assert some_b >= 20


# -- properties: what must not change a replay -------------------------------------------------------

@st.composite
def property_tables(draw):
    n = draw(st.integers(10, 60))
    e = draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))
    g = draw(st.lists(st.sampled_from(["u", "v", "w"]), min_size=n, max_size=n))
    d = draw(st.lists(st.integers(0, 2), min_size=n, max_size=n))
    w = draw(st.lists(st.sampled_from([1.0, 2.0, 3.5]), min_size=n, max_size=n))
    return pa.table({"e": e, "g": g, "d": d, "w": w})


MODELS = {"E": ["e"], "EG": ["e", "g"], "G": ["g"]}


def _run(t, models=MODELS, action="d", **kw):
    kw = {"splits": 6, "seed": 7, "min_support": 2, "weight": "w", **kw}
    try:
        return replay(t, None, action, models=models, **kw)
    except Exception as exc:
        assert "test part has no weight" in str(exc)
        return None


def _same(a, b, names=None):
    if a is None or b is None:
        assert a is None and b is None
        return
    names = names or {}
    pa_, pb = per_split(a), per_split(b)
    assert pb == {(k, names.get(m, m), p): v for (k, m, p), v in pa_.items()}
    ma, mb = dict(a.metrics), dict(b.metrics)
    for m in (ma, mb):
        m.pop("benchmark_scores", None)
    ma["models"] = {names.get(k, k): v for k, v in ma["models"].items()}
    ma["break_even_lambda_models"] = {names.get(k, k): v for k, v in ma["break_even_lambda_models"].items()}
    mc = ma["model_choice"]
    for k in ("benchmark_choices", "certification_choices"):
        mc[k] = {names.get(n, n): v for n, v in mc[k].items()}
    assert ma == mb


@given(property_tables(), st.randoms(use_true_random=False))
def test_row_order_changes_nothing(t, rnd):
    order = list(range(t.num_rows))
    rnd.shuffle(order)
    _same(_run(t), _run(t.take(pa.array(order))))


@given(property_tables(), st.lists(st.integers(1, 15), min_size=1, max_size=4), st.integers(1, 9))
def test_files_and_batches_change_nothing(tmp_path_factory, t, cuts, batch_rows):
    d = tmp_path_factory.mktemp("parts")
    paths, start = [], 0
    for i, c in enumerate(cuts + [t.num_rows]):
        stop = min(t.num_rows, start + c)
        p = os.path.join(d, f"part-{i}.parquet")
        pq.write_table(t.slice(start, stop - start), p)
        paths.append(p)
        start = stop
    _same(_run(t), _run(paths, batch_rows=batch_rows))


@given(property_tables())
def test_order_preserving_relabelling_changes_nothing(t):
    """Action values 0, 1, 2 as the strings 'a0' < 'a1' < 'a2', evidence 0..4 as 10..50: the
    canonical order is by value, so a bijection that keeps the order changes nothing."""
    t2 = t.set_column(t.schema.get_field_index("d"), "d", pa.array([f"a{x}" for x in t["d"].to_pylist()]))
    t2 = t2.set_column(t2.schema.get_field_index("e"), "e", pa.array([10 * x + 10 for x in t["e"].to_pylist()]))
    _same(_run(t), _run(t2))


@given(property_tables())
def test_renaming_and_reordering_models_changes_no_model_figure(t):
    renamed = {"E": "m1", "EG": "m2", "G": "m3"}
    _same(_run(t), _run(t, models={renamed[k]: v for k, v in MODELS.items()}), renamed)
    # listing the models in another order (and their columns in another order) leaves every
    # model's figures as they were: the split does not depend on it
    a = _run(t)
    b = _run(t, models={"G": ["g"], "EG": ["g", "e"], "E": ["e"]})
    if a is not None:
        assert per_split(a) == per_split(b)
        assert a.metrics["models"] == b.metrics["models"]
