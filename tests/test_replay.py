"""Replays against a direct pandas implementation on the rows of the same seeded splits, and the
paper's Tox21 replay."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from dcb_fast import replay
from dcb_fast.cli import main
from dcb_fast.errors import DcbError
from dcb_fast.io.sources import open_source
from dcb_fast.methods.replay import POLICIES, evaluate_split, read_cells, split_counts
from dcb_fast.core.rules import Window
from dcb_fast.tools.synth import tox21_table

from .reference import replay_pandas_oracle


def _rows_of_split(cells, cal, test, actions):
    """Expand cells back into rows, each marked calibration or test."""
    recs = []
    for i in range(len(cells.count)):
        for part, c in (("cal", cal[i]), ("test", test[i])):
            for _ in range(int(c)):
                recs.append({"fiber": cells.fiber[i], "value": None if cells.value is None else cells.value[i],
                             "action": actions[cells.action[i]], "w": cells.w[i], "part": part})
    return pd.DataFrame(recs)


@st.composite
def small_tables(draw):
    n = draw(st.integers(4, 40))
    e = draw(st.lists(st.integers(0, 3), min_size=n, max_size=n))
    d = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    w = draw(st.lists(st.sampled_from([1.0, 2.0, 0.5]), min_size=n, max_size=n))
    return pa.table({"e": e, "d": d, "w": w})


@given(small_tables(), st.integers(1, 4), st.integers(0, 50), st.booleans(), st.sampled_from([0.3, 0.5, 0.7]))
def test_policies_match_pandas(t, s, seed, weighted, f):
    src = open_source(t, ["e", "d", "w"])
    cells, actions = read_cells(src, ["e"], "d", "w" if weighted else None, "drop", {})
    cal, test = split_counts(cells, f, seed, 0)
    df = _rows_of_split(cells, cal, test, actions.to_pylist())
    if df[df.part == "test"].w.sum() == 0:
        return
    got = evaluate_split(cells, cal, test, s)
    want = replay_pandas_oracle(df, s)
    for p in POLICIES:
        assert got[p] == pytest.approx(want[p], abs=1e-12, nan_ok=True), p


@given(st.lists(st.sampled_from([0.0, 0.1, 0.2, 0.35, 0.5, 1.0]), min_size=6, max_size=40), st.integers(0, 30),
       st.sampled_from([0.0, 0.1, 0.25]), st.integers(1, 3))
def test_window_policies_match_pandas(values, seed, tol, s):
    rng = np.random.default_rng(seed)
    t = pa.table({"v": values, "d": rng.choice(["a", "b"], len(values))})
    src = open_source(t, ["v", "d"])
    cells, actions = read_cells(src, ["v"], "d", None, "drop", {"v": Window(tol=tol)})
    cal, test = split_counts(cells, 0.5, seed, 3)
    df = _rows_of_split(cells, cal, test, actions.to_pylist())
    got = evaluate_split(cells, cal, test, s, tol)
    want = replay_pandas_oracle(df, s, tol)
    for p in POLICIES:
        assert got[p] == pytest.approx(want[p], abs=1e-12, nan_ok=True), p


def test_replay_aggregates_the_splits():
    rng = np.random.default_rng(2)
    t = pa.table({"e": rng.integers(0, 5, 400), "d": rng.choice(["a", "b"], 400, p=[0.8, 0.2])})
    r = replay(t, ["e"], "d", splits=7, seed=11, min_support=3)
    src = open_source(t, ["e", "d"])
    cells, _ = read_cells(src, ["e"], "d", None, "drop", {})
    per = [evaluate_split(cells, *split_counts(cells, 0.5, 11, k), 3) for k in range(7)]
    fd = np.array([x["certify_then_acquire"][2] for x in per])
    got = r.metrics["policies"]["certify_then_acquire"]["false_decisions"]
    assert got["mean"] == np.mean(fd) and got["median"] == np.median(fd)
    assert got["p10"] == np.quantile(fd, 0.1) and got["p90"] == np.quantile(fd, 0.9)
    # reproducible from the seed alone
    again = replay(t, ["e"], "d", splits=7, seed=11, min_support=3, threads=1, batch_rows=13)
    assert again.metrics == r.metrics


def test_break_even_lambda_and_cost_curve():
    """lambda* is the mean of per-split values (SPEC section 6, as the paper's 1.17%), no longer
    the ratio of mean figures; the cost curve is still that of the mean figures."""
    rng = np.random.default_rng(5)
    t = pa.table({"e": rng.integers(0, 8, 2000), "d": rng.choice(["a", "b"], 2000, p=[0.9, 0.1])})
    r = replay(t, ["e"], "d", splits=5, seed=1)
    m = r.metrics
    per = r.splits.to_pandas()
    lams = []
    for k in range(5):
        fm = per[(per.split == k) & (per.policy == "fiber_majority")].iloc[0]
        ca = per[(per.split == k) & (per.policy == "certify_then_acquire")].iloc[0]
        lams.append((fm.false_decisions - ca.false_decisions) / ca.acquisitions)
    assert m["break_even_lambda"] == pytest.approx(np.mean(lams), rel=1e-12)
    assert m["break_even_lambda_splits"]["n_splits"] == 5
    p = m["policies"]
    base, acq = p["fiber_majority"]["false_decisions"]["mean"], p["certify_then_acquire"]
    ratio = (base - acq["false_decisions"]["mean"]) / acq["acquisitions"]["mean"]
    at = next(c for c in m["cost_curve"] if c["lambda"] == m["break_even_lambda"])
    assert at["reduction"] == pytest.approx(1 - (acq["false_decisions"]["mean"] + m["break_even_lambda"]
                                                 * acq["acquisitions"]["mean"]) / base, abs=1e-12)
    assert (at["reduction"] > 0) == (m["break_even_lambda"] < ratio)


def test_model_choice():
    rng = np.random.default_rng(7)
    n = 3000
    truth = rng.integers(0, 2, n)
    good = np.where(rng.random(n) < 0.9, truth, 1 - truth)
    noisy = rng.integers(0, 4, n)
    t = pa.table({"good": good, "noisy": noisy, "y": truth, "loss_good": rng.random(n), "loss_noisy": rng.random(n) / 2})
    r = replay(t, None, "y", splits=10, models={"good": "good", "noisy": "noisy"},
               score={"good": "loss_good", "noisy": "loss_noisy"})
    mc = r.metrics["model_choice"]
    assert 0.0 <= mc["differ_fraction"] <= 1.0
    assert r.metrics["benchmark_scores"]["noisy"] < r.metrics["benchmark_scores"]["good"]
    assert set(r.metrics["models"]) == {"good", "noisy"}
    with pytest.raises(DcbError, match="give one score column per model"):
        replay(t, None, "y", splits=2, models={"good": "good", "noisy": "noisy"}, score={"good": "loss_good"})


def test_tox21_replay_reproduces_the_paper():
    """SPEC section 6: 100 splits, 50/50, s = 50. Our split draws differ from the paper's, so
    each of our means is compared with the paper's value within three standard errors of the
    difference of two independent 100-split means (sqrt(2) x the standard error of ours): a
    disagreement larger than that would not be split noise."""
    r = replay(tox21_table(), ["pattern"], "sr_p53", splits=100, calib_fraction=0.5, seed=0, min_support=50)
    splits = r.splits.to_pandas()
    paper = {("fiber_majority", "false_decisions"): 0.0119, ("certify_only", "certified_fraction"): 0.0066,
             ("certify_then_acquire", "false_decisions"): 0.00027, ("certify_then_acquire", "acquisitions"): 0.993}
    for (policy, field), want in paper.items():
        x = splits[splits.policy == policy][field].to_numpy()
        se = x.std(ddof=1) / np.sqrt(len(x))
        assert abs(x.mean() - want) <= 3 * np.sqrt(2) * se + 1e-12, (policy, field, x.mean(), want, se)
    assert abs(r.metrics["break_even_lambda"] - 0.0118) <= 0.001


def test_cli(tmp_path):
    pq.write_table(tox21_table(), tmp_path / "tox.parquet")
    res = CliRunner().invoke(main, ["replay", str(tmp_path / "tox.parquet"), "-e", "pattern", "-a", "sr_p53",
                                    "--splits", "5", "-s", "50", "-f", "json", "-o", str(tmp_path / "o"), "-q"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["kind"] == "replay" and s["metrics"]["splits"] == 5
    assert (tmp_path / "o" / "replay_splits.parquet").exists()
    res = CliRunner().invoke(main, ["replay", str(tmp_path / "tox.parquet"), "-a", "sr_p53"])
    assert res.exit_code == 2 and "give --evidence COLS or one --model NAME=COLS per model" in res.output
    res = CliRunner().invoke(main, ["replay", str(tmp_path / "tox.parquet"), "-e", "pattern", "-a", "sr_p53",
                                    "--tolerance", "abc"])
    assert res.output == "Error: tolerance must be a number or mae:COLUMN, got 'abc'\n"
