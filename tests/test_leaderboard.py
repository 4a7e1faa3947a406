"""Leaderboard replays (SPEC section 6, "Leaderboard replays"; issue 19): a long table, a row per
(model, item), against the oracle of tests/reference.py; splits assign items, the same for every
model, and depend only on the set of rows and the seed; wide and long inputs of the same data
agree; the CLI."""

from __future__ import annotations

import json
from fractions import Fraction

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from dcb_fast.cli import main
from dcb_fast.errors import DcbError
from dcb_fast.io.sources import open_source
from dcb_fast.methods.leaderboard import item_split, leaderboard_replay, read_board
from dcb_fast.methods.replay import FIELDS, POLICIES, evaluate_split, read_cells
from dcb_fast.core.rules import Window
from dcb_fast.tools.synth import leaderboard

from .reference import leaderboard_split_items_oracle, leaderboard_split_oracle, leaderboard_summary_oracle

ARGS = ("model", "item", "pred", "label")


def per_run(result):
    """{(split, model): {policy: (figures...)}} from the splits table (None for undefined)."""
    out = {}
    for r in result.splits.to_pylist():
        out.setdefault((r["split"], r["model"]), {})[r["policy"]] = tuple(r[f] for f in FIELDS)
    return out


def close(a, b):
    if b is None:
        return a is None
    return a is not None and abs(a - float(b)) <= 1e-12 * max(1.0, abs(float(b)))


def oracle_runs(table, f, seed, splits, s, tol=None, error="error"):
    rows = table.to_pylist()
    ids = [r["item"] for r in rows]
    return [leaderboard_split_oracle(rows, "model", "item", "pred", "label",
                                     leaderboard_split_items_oracle(ids, f, seed, k), s, tol,
                                     error if tol is None else None) for k in range(splits)]


def assert_matches_oracle(result, orc):
    runs = per_run(result)
    assert len(runs) == sum(len(s) for s in orc)
    for k, split in enumerate(orc):
        for m, o in split.items():
            for p in POLICIES:
                for got, want in zip(runs[(k, m)][p], o["figures"][p]):
                    assert close(got, want), (k, m, p, got, want)


# -- a hand case ----------------------------------------------------------------------------------

def test_hand_case_fixed_tolerance_inclusive_window():
    """Two models, four items; one split puts items {a, b} (say) in calibration. Worked by hand
    below from SPEC section 6 for whatever calibration half the seed draws."""
    t = pa.table({"model": ["A"] * 4 + ["B"] * 4, "item": ["a", "b", "c", "d"] * 2,
                  "pred": [0.0, 1.0, 0.5, 3.0, 0.0, 0.0, 0.0, 0.0],
                  "label": [0, 1, 0, 1, 0, 1, 1, 1]})
    r = leaderboard_replay(t, *ARGS, tolerance=0.5, splits=1, seed=3, min_support=1)
    cal = item_split(4, 0.5, 3, 0)
    cal_items = {"abcd"[i] for i in np.flatnonzero(cal)}
    assert len(cal_items) == 2
    runs = per_run(r)
    # model B predicts 0 everywhere: every test item's window is both calibration items
    bl = {"a": 0, "b": 1, "c": 1, "d": 1}
    cal_labels = sorted(bl[i] for i in cal_items)
    test_items = sorted(set("abcd") - cal_items)
    pure = len(set(cal_labels)) == 1
    if pure:
        want_c = 1.0
        want_err = sum(bl[i] != cal_labels[0] for i in test_items) / 2
    else:
        want_c = 0.0
        want_err = None
    assert runs[(0, "B")]["certify_only"][:2] == (want_c, want_err)
    # model A with tolerance 0.5: |0.5 - 0.0| = 0.5 and |1.0 - 0.5| = 0.5 are inside (inclusive)
    al = {"a": 0, "b": 1, "c": 0, "d": 1}
    ap = {"a": 0.0, "b": 1.0, "c": 0.5, "d": 3.0}
    cert = wrong = 0
    for i in test_items:
        win = [al[j] for j in cal_items if abs(ap[j] - ap[i]) <= 0.5]
        if win and len(set(win)) == 1:
            cert += 1
            wrong += win[0] != al[i]
    assert runs[(0, "A")]["certify_only"][0] == cert / 2
    assert runs[(0, "A")]["certify_only"][2] == wrong / 2


def test_hand_case_exact_numbers():
    """Seed 0 draws calibration items {0, 2} of {0, 1, 2, 3} (checked). Model x: predictions
    0, 1, 2, 3, |errors| 0.5, 0.25, 0.25, 1, labels 0, 0, 1, 1. Calibration MAE = (0.5 + 0.25)
    / 2 = 0.375; global majority of labels {0, 1}: a tie, the lowest, 0.
    Tolerance mae: test item 1 (pred 1): calibration predictions 0 and 2 are 1 away: empty
    window, ambiguous, majority 0 (right); test item 3 (pred 3): 2 is 1 away: empty, majority 0
    (wrong). Certified 0, window-majority and global false decisions 1/2, lambda* = 1/2 / 1.
    Tolerance 1 (inclusive): item 1's window {0: label 0, 2: label 1} is mixed, majority tied ->
    0 (right); item 3's window {2: label 1} certifies 1 (right). Certified 1/2, error 0, false
    decisions 0 everywhere but global (1/2), lambda* = (0 - 0) / (1/2) = 0."""
    assert set(np.flatnonzero(item_split(4, 0.5, 0, 0)).tolist()) == {0, 2}
    t = pa.table({"model": ["x"] * 4, "item": [3, 1, 0, 2], "pred": [3.0, 1.0, 0.0, 2.0],
                  "error": [1.0, -0.25, 0.5, 0.25], "label": [1, 0, 0, 1]})
    r = leaderboard_replay(t, *ARGS, tolerance="mae:error", splits=1, seed=0)
    run = per_run(r)[(0, "x")]
    assert run["certify_only"] == (0.0, None, 0.0, 0.0)
    assert run["fiber_majority"][2] == 0.5 and run["global_majority"][2] == 0.5
    assert run["certify_then_acquire"][3] == 1.0
    assert r.splits.to_pylist()[0]["tolerance"] == 0.375
    assert r.metrics["break_even_lambda"] == 0.5
    r1 = leaderboard_replay(t, *ARGS, tolerance=1.0, splits=1, seed=0)
    run = per_run(r1)[(0, "x")]
    assert run["certify_only"] == (0.5, 0.0, 0.0, 0.0)
    assert run["fiber_majority"][2] == 0.0 and run["global_majority"][2] == 0.5
    assert r1.metrics["break_even_lambda"] == 0.0


# -- against the oracle ---------------------------------------------------------------------------

@pytest.mark.parametrize("s,tol", [(1, None), (3, None), (2, 0.25)])
def test_against_oracle(s, tol):
    t = leaderboard(models=4, items=60, seed=5, missing=0.15)
    f, seed, splits = 0.5, 11, 6
    r = leaderboard_replay(t, *ARGS, tolerance="mae:error" if tol is None else tol, splits=splits, seed=seed,
                           min_support=s, error="error")
    orc = oracle_runs(t, f, seed, splits, s, tol)
    assert_matches_oracle(r, orc)
    if tol is None:
        got_tol = {(x["split"], x["model"]): x["tolerance"] for x in r.splits.to_pylist()}
        for k, split in enumerate(orc):
            for m, o in split.items():
                assert got_tol[(k, m)] == o["tolerance"]
    # summaries: pooled over (model, split) runs, per model, lambda*, model choice
    summ = leaderboard_summary_oracle(orc)
    m = r.metrics
    assert m["runs"] == 4 * splits and m["n_models"] == 4
    for p in POLICIES:
        for fld in FIELDS:
            for stat in ("mean", "median", "p10", "p90"):
                assert close(m["policies"][p][fld][stat], summ["policies"][p][fld][stat]), (p, fld, stat)
            assert m["policies"][p][fld]["n_splits"] == summ["policies"][p][fld]["n_splits"]
            for name in summ["models"]:
                assert close(m["models"][name][p][fld]["mean"], summ["models"][name][p][fld]["mean"])
    for stat in ("mean", "median", "p10", "p90", "n_splits"):
        assert close(m["break_even_lambda_splits"][stat], summ["lambda_runs"][stat]), stat
        for name in summ["models"]:
            assert close(m["break_even_lambda_models"][name][stat], summ["lambda_models"][name][stat])
    mc = m["model_choice"]
    for key in ("benchmark_choices", "certification_choices", "differ_fraction"):
        assert mc[key] == summ["choice"][key], key


def test_oracle_string_ids_and_many_ties():
    """String ids, coarse grid (many tied predictions), 5% of items missing per model."""
    t = leaderboard(models=3, items=50, seed=2, missing=0.05, grid=0.25, ids="str")
    r = leaderboard_replay(t, *ARGS, splits=4, seed=1, min_support=2)
    assert_matches_oracle(r, oracle_runs(t, 0.5, 1, 4, 2))


# -- splits assign items, the same for every model -------------------------------------------------

def test_same_items_every_model_and_only_the_item_set_matters():
    """Per split, each model's calibration rows are its rows whose item is drawn: the
    calibration MAE of every model equals the mean |error| over exactly those rows; the draw
    depends on the ids, not on the order of rows or models."""
    t = leaderboard(models=4, items=80, seed=9, missing=0.2)
    r = leaderboard_replay(t, *ARGS, splits=3, seed=4)
    rows = t.to_pylist()
    ids = sorted({x["item"] for x in rows})
    for x in r.splits.to_pylist():
        if x["policy"] != "certify_only":
            continue
        cal = np.flatnonzero(item_split(len(ids), 0.5, 4, x["split"]))
        cal_ids = {ids[i] for i in cal}
        mine = [abs(q["error"]) for q in rows if q["model"] == x["model"] and q["item"] in cal_ids]
        assert x["calibration_mae"] == pytest.approx(sum(mine) / len(mine), rel=1e-12)
    shuffled = t.take(pa.array(np.random.default_rng(0).permutation(t.num_rows)))
    r2 = leaderboard_replay(shuffled, *ARGS, splits=3, seed=4, batch_rows=17)
    assert r2.splits.equals(r.splits)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 50), perm_seed=st.integers(0, 1000), batch=st.integers(5, 200),
       nfiles=st.integers(1, 3))
def test_row_order_batch_size_file_split_change_nothing(tmp_path_factory, seed, perm_seed, batch, nfiles):
    t = leaderboard(models=3, items=40, seed=seed, missing=0.1)
    base = leaderboard_replay(t, *ARGS, splits=3, seed=seed, min_support=2)
    sh = t.take(pa.array(np.random.default_rng(perm_seed).permutation(t.num_rows)))
    d = tmp_path_factory.mktemp("lb")
    cuts = np.linspace(0, sh.num_rows, nfiles + 1).astype(int)
    paths = []
    for i in range(nfiles):
        p = str(d / f"part{i}.parquet")
        pq.write_table(sh.slice(cuts[i], cuts[i + 1] - cuts[i]), p)
        paths.append(p)
    other = leaderboard_replay(paths, *ARGS, splits=3, seed=seed, min_support=2, batch_rows=batch)
    assert other.splits.equals(base.splits)


def test_string_and_int_ids_of_the_same_order_agree():
    """Zero-padded string ids sort as the integers do: the same items drawn, the same figures."""
    a = leaderboard(models=3, items=90, seed=3, ids="int")
    b = leaderboard(models=3, items=90, seed=3, ids="str")
    ra = leaderboard_replay(a, *ARGS, splits=4, seed=2, min_support=3)
    rb = leaderboard_replay(b, *ARGS, splits=4, seed=2, min_support=3)
    assert ra.splits.equals(rb.splits)


def test_renamed_models_and_relabelled_actions():
    """Renaming models (any bijection) permutes per-model results; swapping the two labels
    (a bijection of actions) keeps every figure when no majority is tied."""
    t = leaderboard(models=3, items=70, seed=8)
    r = leaderboard_replay(t, *ARGS, splits=3, seed=0, min_support=2)
    names = {"m00": "zeta", "m01": "alpha", "m02": "mid"}
    t2 = t.set_column(0, "model", pa.array([names[m] for m in t["model"].to_pylist()]))
    r2 = leaderboard_replay(t2, *ARGS, splits=3, seed=0, min_support=2)
    a = {(k, names[m]): v for (k, m), v in per_run(r).items()}
    assert a == per_run(r2)
    t3 = t.set_column(t.column_names.index("label"), "label", pc_not(t["label"]))
    r3 = leaderboard_replay(t3, *ARGS, splits=3, seed=0, min_support=2)
    for key, v in per_run(r).items():
        w = per_run(r3)[key]
        assert v["certify_only"] == w["certify_only"]  # certification ignores which label is which


def pc_not(col):
    import pyarrow.compute as pc

    return pc.invert(col)


# -- wide and long inputs of the same data ----------------------------------------------------------

@pytest.mark.parametrize("tol", [None, 0.125])
def test_wide_and_long_agree(tol):
    """The long table and its wide form (a row per item, a prediction column per model) give
    the same per-model figures on the same item split: the wide form goes through the held-out
    replay's own evaluation (replaying.evaluate_split) with the item id as an extra column so
    that each cell is one item."""
    long = leaderboard(models=3, items=120, seed=4, missing=0.0)
    s, splits = 2, 4
    r = leaderboard_replay(long, *ARGS, tolerance="mae:error" if tol is None else tol, splits=splits, seed=7,
                           min_support=s)
    df = long.to_pandas()
    wide = df.pivot(index="item", columns="model", values="pred").reset_index()
    wide = wide.merge(df.groupby("item")["label"].first().reset_index(), on="item")
    wt = pa.Table.from_pandas(wide, preserve_index=False)
    names = sorted(df["model"].unique())
    models = {m: [m] for m in names}
    models["_item"] = ["item"]
    rules = {m: Window(tol=0.0) for m in names}
    cells, _ = read_cells(open_source(wt, names + ["item", "label"]), models, "label", None, "drop", rules)
    items = cells.key_table()["item"].to_numpy()
    ids = np.array(sorted(df["item"].unique()))
    rank = np.searchsorted(ids, items)
    tols = {(x["split"], x["model"]): x["tolerance"] for x in r.splits.to_pylist()}
    runs = per_run(r)
    for k in range(splits):
        cal = item_split(len(ids), 0.5, 7, k)[rank].astype(np.int64)
        test = cells.count - cal
        for m in names:
            got = evaluate_split(cells, cal, test, s, tols[(k, m)], model=m)
            for p in POLICIES:
                for a, b in zip(runs[(k, m)][p], got[p]):
                    assert (a is None and np.isnan(b)) or a == pytest.approx(b, rel=1e-12, abs=1e-15), (k, m, p)


# -- bad input --------------------------------------------------------------------------------------

def test_errors():
    t = pa.table({"model": ["a", "a", "b"], "item": [1, 1, 2], "pred": [0.1, 0.2, 0.3], "error": [0.0] * 3,
                  "label": [0, 1, 0]})
    with pytest.raises(DcbError, match="model 'a' has item '1' in column 'item' more than once"):
        leaderboard_replay(t, *ARGS)
    t = pa.table({"model": ["a"] * 4, "item": [1, 2, 3, 4], "pred": ["x"] * 4, "error": [0.0] * 4, "label": [0] * 4})
    with pytest.raises(DcbError, match="column 'pred' is string, not numeric"):
        leaderboard_replay(t, *ARGS)
    t = pa.table({"model": ["a"] * 4 + ["b"], "item": [1, 2, 3, 4, 1], "pred": [0.0] * 5, "error": [0.0] * 5,
                  "label": [0] * 5})
    with pytest.raises(DcbError, match="model 'b' has no (test|calibration) rows on split 0"):
        leaderboard_replay(t, *ARGS, splits=3)
    with pytest.raises(DcbError, match="tolerance must be a number or mae:COLUMN"):
        leaderboard_replay(t, *ARGS, tolerance="abc")


def test_nulls_are_dropped_and_counted():
    t = leaderboard(models=2, items=40, seed=1)
    pred = t["pred"].to_pylist()
    pred[0] = None
    t2 = t.set_column(2, "pred", pa.array(pred, pa.float64()))
    r = leaderboard_replay(t2, *ARGS, splits=2)
    assert r.metrics["dropped_rows"] == 1 and r.metrics["n_rows"] == t.num_rows - 1


# -- the CLI ----------------------------------------------------------------------------------------

def test_cli_long_table(tmp_path):
    t = leaderboard(models=3, items=200, seed=0)
    p = str(tmp_path / "lb.parquet")
    pq.write_table(t, p)
    args = ["replay", p, "--group-by", "model", "--id", "item", "-e", "pred", "-a", "label",
            "--tolerance", "mae:error", "--splits", "5", "-s", "3"]
    res = CliRunner().invoke(main, args + ["--format", "json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)
    want = leaderboard_replay(p, *ARGS, tolerance="mae:error", splits=5, min_support=3).summary
    assert got["metrics"] == json.loads(json.dumps(want["metrics"]))
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "pooled over 15 (model, split) runs" in res.output
    assert "lambda* per run" in res.output and "m00" in res.output
    bad = CliRunner().invoke(main, ["replay", p, "--group-by", "model", "-e", "pred", "-a", "label"])
    assert bad.exit_code != 0 and "--id" in bad.output
