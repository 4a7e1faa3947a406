"""Replays sliced by a column (``replay(by=...)``, ``dcb replay --by``; issue 18, SPEC section 6).

Per slice value the figures are those of the slice's test rows under the certificate of all the
split's calibration rows (the slice column is not evidence): checked against
``reference.replay_slice_oracle`` on the library's own splits, and the slices' figures, weighted
by their share of the split's test weight, add up to the split's own figures.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import dcb_fast
from dcb_fast.errors import DcbError
from dcb_fast.methods.replay import FIELDS, POLICIES

from .reference import replay_slice_oracle
from .test_replay_splits import library_masks

ADDITIVE = ("certified_fraction", "false_decisions", "acquisitions")  # shares of the test weight


def table(n=600, seed=0, weighted=False, slices=("mon", "tue", "wed")):
    rng = np.random.default_rng(seed)
    e = rng.integers(0, 6, n)
    d = np.where(rng.random(n) < 0.15, rng.integers(0, 3, n), e % 3)  # mostly determined, some noise
    cols = {"e": e, "f": rng.integers(0, 2, n), "d": d, "day": rng.choice(list(slices), n)}
    if weighted:
        cols["w"] = rng.integers(1, 4, n).astype(float)
    return pa.table(cols)


def slice_rows(result):
    """{(split, model, policy, by): (figures..., test_share)} of the slices' rows."""
    return {(r["split"], r["model"], r["policy"], r["by"]): r for r in result.splits.to_pylist() if r["slice"]}


def close(a, b, rel=1e-12):
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(float(a), float(b), rel_tol=rel, abs_tol=1e-15)


@pytest.mark.parametrize("weighted", [False, True])
def test_slices_match_the_row_oracle_on_the_librarys_splits(weighted):
    t = table(weighted=weighted)
    models = {"model": ["e"]}
    w = "w" if weighted else None
    r = dcb_fast.replay(t, ["e"], "d", splits=4, seed=3, min_support=2, weight=w, by="day")
    rows, masks = library_masks(t, models, "d", w, 0.5, 3, 4, by="day")
    got = slice_rows(r)
    for k, mask in enumerate(masks):
        for day in ("mon", "tue", "wed"):
            want = replay_slice_oracle(rows, models, "d", mask, "day", day, w, 2)
            for p in POLICIES:
                g = got[(k, "model", p, day)]
                assert all(close(g[f], x) for f, x in zip(FIELDS, want["model"][p])), (k, day, p, g, want["model"][p])


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.integers(1, 4), st.booleans())
def test_slices_add_up_to_the_split(seed, s, weighted):
    t = table(n=300, seed=seed, weighted=weighted)
    r = dcb_fast.replay(t, ["e", "f"], "d", splits=3, seed=seed, min_support=s, weight="w" if weighted else None,
                        by="day")
    rows = r.splits.to_pylist()
    whole = {(x["split"], x["policy"]): x for x in rows if not x["slice"]}
    for (k, p), x in whole.items():
        parts = [y for y in rows if y["split"] == k and y["policy"] == p and y["slice"]]
        assert math.isclose(sum(y["test_share"] for y in parts), 1.0, rel_tol=1e-12)
        for f in ADDITIVE:
            total = sum(y["test_share"] * y[f] for y in parts if y[f] is not None)
            assert math.isclose(total, x[f], rel_tol=1e-9, abs_tol=1e-12), (k, p, f, total, x[f])


def test_a_slice_absent_from_a_splits_test_rows_has_no_figures():
    # 'rare' has one row: in each split it is either calibration (no test rows) or test
    base = table(n=200, seed=1)
    rare = pa.table({"e": [1], "f": [0], "d": [1], "day": ["rare"]}).cast(base.schema)
    r = dcb_fast.replay(pa.concat_tables([base, rare]), ["e"], "d", splits=8, seed=0, by="day")
    entry = next(b for b in r.metrics["by"] if b["value"] == "rare")
    mine = [x for x in slice_rows(r).values() if x["by"] == "rare" and x["policy"] == "fiber_majority"]
    in_test = [x for x in mine if x["test_share"] > 0]
    assert entry["n_rows"] == 1 and len(mine) == 8
    assert 0 < len(in_test) < 8  # some splits put it in calibration, some in test
    assert all(x["false_decisions"] is None for x in mine if x["test_share"] == 0)
    assert entry["policies"]["fiber_majority"]["false_decisions"]["n_splits"] == len(in_test)


def test_relabelled_slice_values_change_nothing_but_the_labels():
    t = table(n=400, seed=5)
    names = {"mon": "z1", "tue": "a2", "wed": "m3"}  # other names, other sort order
    u = t.set_column(3, "day", pa.array([names[v] for v in t["day"].to_pylist()]))
    a = dcb_fast.replay(t, ["e"], "d", splits=5, by="day")
    b = dcb_fast.replay(u, ["e"], "d", splits=5, by="day")
    # the whole is drawn without the slice column: unchanged; within a cell, the calibration rows
    # are spread over its slices in value order, so a relabelling that reorders the values draws
    # another (equally random) spread: the slices' rows agree, their figures are other draws
    assert a.metrics["policies"] == b.metrics["policies"]
    assert {names[x["value"]]: x["n_rows"] for x in a.metrics["by"]} == {x["value"]: x["n_rows"] for x in b.metrics["by"]}
    assert [x["value"] for x in b.metrics["by"]] == sorted(names.values())


def test_row_order_changes_nothing():
    t = table(n=500, seed=7, weighted=True)
    perm = np.random.default_rng(0).permutation(t.num_rows)
    a = dcb_fast.replay(t, ["e"], "d", splits=6, by="day", weight="w")
    b = dcb_fast.replay(t.take(pa.array(perm)), ["e"], "d", splits=6, by="day", weight="w")
    assert a.metrics == b.metrics
    assert a.splits.equals(b.splits)


def test_several_models_get_their_slices():
    t = table(n=400, seed=2)
    r = dcb_fast.replay(t, models={"one": ["e"], "two": ["e", "f"]}, action="d", splits=3, by="day")
    for entry in r.metrics["by"]:
        assert set(entry["models"]) == {"one", "two"}
        assert entry["policies"] == entry["models"]["one"]


def test_a_slice_column_that_is_evidence_or_the_action_is_refused():
    t = table(n=50)
    for bad in ("e", "d"):
        with pytest.raises(DcbError, match=f"by column '{bad}' is also an evidence"):
            dcb_fast.replay(t, ["e"], "d", by=bad)


def test_cli_prints_the_slices_and_writes_them(tmp_path):
    import pyarrow.parquet as pq
    from click.testing import CliRunner

    from dcb_fast.cli import main as cli

    runner = CliRunner()
    path = tmp_path / "log.parquet"
    pq.write_table(table(n=800, seed=4), path)
    res = runner.invoke(cli, ["replay", str(path), "-e", "e", "-a", "d", "-n", "5", "--by", "day",
                              "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    assert "per day (means over splits" in res.output
    for day in ("mon", "tue", "wed"):
        assert any(line.strip().startswith(day) for line in res.output.splitlines())
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert [b["value"] for b in summary["metrics"]["by"]] == ["mon", "tue", "wed"]
    splits = pq.read_table(tmp_path / "out" / "replay_splits.parquet")
    assert set(splits["by"].drop_null().to_pylist()) == {"mon", "tue", "wed"}
    res = runner.invoke(cli, ["replay", str(path), "--group-by", "day", "--id", "f", "-e", "e", "-a", "d",
                              "--tolerance", "0.5", "--by", "day"])
    assert res.exit_code == 2 and "--by" in res.output


def test_html_report_has_the_slices_escaped():
    from dcb_fast.report import render_report

    t = table(n=300, seed=9, slices=("<b>x</b>", "plain"))
    page = render_report(dcb_fast.replay(t, ["e"], "d", splits=3, by="day").summary)
    assert "Per day" in page and "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page


@pytest.mark.parametrize("weighted", [False, True])
def test_the_whole_is_the_replay_without_by(weighted):
    """The same seed draws the same split on the cells without the slice column; the slices only
    break its test part down, so every figure of the whole equals the replay's without --by."""
    t = table(n=700, seed=11, weighted=weighted)
    w = "w" if weighted else None
    a = dcb_fast.replay(t, ["e", "f"], "d", splits=6, seed=4, min_support=2, weight=w)
    b = dcb_fast.replay(t, ["e", "f"], "d", splits=6, seed=4, min_support=2, weight=w, by="day")
    whole = b.splits.filter(pa.compute.invert(b.splits["slice"])).drop_columns(["slice", "by", "test_share"])
    for x, y in zip(a.splits.to_pylist(), whole.to_pylist()):
        assert x.keys() == y.keys()
        assert all(close(x[k], y[k]) if isinstance(x[k], float) else x[k] == y[k] for k in x), (x, y)
    assert a.metrics["policies"].keys() == b.metrics["policies"].keys()


def test_the_slices_spread_each_cells_calibration_rows_exactly():
    from dcb_fast.io.sources import open_source
    from dcb_fast.methods.replay import read_cells, split_counts

    t = table(n=500, seed=3)
    src = open_source(t, ["e", "d", "day"])
    cells, _ = read_cells(src, {"m": ["e"]}, "d", None, "drop", {}, by="day")
    coarse, _ = read_cells(open_source(t, ["e", "d"]), {"m": ["e"]}, "d", None, "drop", {})
    for k in range(5):
        cal, test = split_counts(cells, 0.5, 7, k)
        want, _ = split_counts(coarse, 0.5, 7, k)
        assert (np.bincount(cells.coarse, weights=cal).astype(int) == want).all()
        assert ((cal >= 0) & (test >= 0) & (cal + test == cells.count)).all()


def test_on_the_checkpoint_engine_the_slices_are_the_local_ones(tmp_path):
    import pyarrow.parquet as pq

    t = table(n=600, seed=12)
    paths = []
    for i, part in enumerate([t.slice(0, 250), t.slice(250)]):
        paths.append(str(tmp_path / f"p{i}.parquet"))
        pq.write_table(part, paths[-1])
    local = dcb_fast.replay(paths, ["e"], "d", splits=4, by="day")
    for _ in range(2):  # a first run stores every part, the second reuses them
        ck = dcb_fast.replay(paths, ["e"], "d", splits=4, by="day", checkpoint=str(tmp_path / "ck"))
        assert ck.metrics == local.metrics and ck.splits.equals(local.splits)
    assert ck.run_info["reused"] == 2


@pytest.mark.parametrize("nulls", ["drop", "value"])
def test_null_slice_values_are_a_slice_and_the_whole_is_unchanged(nulls):
    """A null (or NaN) slice value is a slice of its own, under either null rule: the whole stays
    the replay without --by, with its nulls in evidence, action or weight dropped or kept."""
    rng = np.random.default_rng(8)
    n = 900
    e = rng.integers(0, 5, n).astype(float)
    e[rng.random(n) < 0.05] = np.nan
    day = np.round(rng.random(n) * 2)
    day[rng.random(n) < 0.1] = np.nan
    w = rng.random(n) + 0.1
    t = pa.table({"e": e, "d": pa.array(rng.integers(0, 3, n), mask=rng.random(n) < 0.03),
                  "day": day, "tenant": pa.array(rng.choice(["x", "y"], n), mask=rng.random(n) < 0.1),
                  "w": pa.array(w, mask=(rng.random(n) < 0.02) & (nulls == "drop"))})  # a kept null weight is an error
    for by in ("day", "tenant"):
        a = dcb_fast.replay(t, ["e"], "d", splits=4, seed=5, weight="w", nulls=nulls)
        b = dcb_fast.replay(t, ["e"], "d", splits=4, seed=5, weight="w", nulls=nulls, by=by)
        assert b.metrics["n_rows"] == a.metrics["n_rows"]
        assert b.metrics["policies"] == a.metrics["policies"]
        values = [x["value"] for x in b.metrics["by"]]
        assert values[-1] is None  # null last
        assert sum(x["n_rows"] for x in b.metrics["by"]) == a.metrics["n_rows"]
        rows = b.splits.to_pylist()
        null_slice = [r for r in rows if r["slice"] and r["by"] is None]
        assert null_slice and all(r["test_share"] < 1 for r in null_slice)
        assert len([r for r in rows if not r["slice"]]) == a.splits.num_rows
