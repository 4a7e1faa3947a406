"""The probe-acquisition replay (SPEC section 5, the paper's Fig. 5c): hand-computed cases, the
row-level oracle of tests/reference.py, properties of the split, and the paper's Tox21 figures
under both tie rules."""

from __future__ import annotations

import json
import random

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from dcb_fast import acquisition_replay
from dcb_fast.cli import main
from dcb_fast.errors import DcbError
from dcb_fast.tools.synth import tox21_compounds

from .reference import acquisition_oracle, permutation_split_oracle

NR = ["NR-AR", "NR-AR-LBD", "NR-AhR", "NR-Aromatase", "NR-ER", "NR-ER-LBD", "NR-PPAR-gamma"]
SR = ["SR-ARE", "SR-ATAD5", "SR-HSE", "SR-MMP"]
POLICIES = ["response_rank", "uncertainty", "diversity", "benchmark_aligned", "random", "oracle"]


def _placed(cal_rows, test_rows, seed, cols):
    """A table whose ``split="permutation"`` split of ``seed`` puts exactly ``cal_rows`` in
    calibration: row i of calibration goes where the permutation's i-th index points."""
    n = len(cal_rows) + len(test_rows)
    idx = np.random.default_rng(seed).permutation(n)
    rows = [None] * n
    for pos, r in zip(idx, cal_rows + test_rows):
        rows[pos] = r
    assert permutation_split_oracle(n, seed)[idx[: len(cal_rows)]].all()
    return pa.table({c: [r[j] for r in rows] for j, c in enumerate(cols)})


# calibration: u and v each certify 2 of 4 rows (a tie); test holds a wrong certified row and an unseen key
HAND_CAL = [(0, 0, 0, 0), (0, 0, 1, 0), (0, 1, 0, 1), (0, 1, 1, 0)]
HAND_TEST = [(0, 0, 0, 0), (0, 0, 0, 1), (0, 1, 1, 1), (1, 0, 0, 0)]


def _hand(policy, tie_break, min_support=1, seed=7):
    t = _placed(HAND_CAL, HAND_TEST, seed, ["e", "u", "v", "d"])
    r = acquisition_replay(t, ["e"], "d", ["u", "v"], policies=[policy], splits=1, split="permutation", seed=seed,
                           min_support=min_support, tie_break=tie_break)
    return r.steps.to_pylist()


@pytest.mark.parametrize("policy", ["response_rank", "uncertainty", "diversity", "benchmark_aligned"])
def test_hand_case_ties_go_to_the_rule(policy):
    # step 0 (e): calibration e=0 holds actions 0 and 1: nothing certified
    # u: key (0,0) pure 0 -> test rows (0,0,.,0) right, (0,0,.,1) wrong; (0,1) mixed; (1,0) unseen
    # v: key (0,1) pure 0 -> test row (0,1,1,1) wrong; (0,0) mixed; (1,0) unseen
    # both: every calibration key pure (support 1): 3 test rows certified, 2 wrong
    first = _hand(policy, "first")
    assert [s["probe"] for s in first] == [None, "u", "v"]
    assert [s["certified_fraction"] for s in first] == [0.0, 0.5, 0.75]
    assert [s["false_decisions"] for s in first] == [0.0, 0.25, 0.5]
    assert [s["error_among_certified"] for s in first] == [None, 0.5, pytest.approx(2 / 3)]
    last = _hand(policy, "last")
    assert [s["probe"] for s in last] == [None, "v", "u"]
    assert [s["certified_fraction"] for s in last] == [0.0, 0.25, 0.75]
    assert [s["error_among_certified"] for s in last] == [None, 1.0, pytest.approx(2 / 3)]


def test_hand_case_oracle_uses_test_labels():
    # on test, u certifies 2 rows and v 1: no tie, u under either rule
    for tie in ("first", "last"):
        assert [s["probe"] for s in _hand("oracle", tie)] == [None, "u", "v"]


def test_hand_case_min_support():
    # s = 2: u's key (0,0) and v's key (0,1) have 2 calibration rows each; with both probes every
    # key has one row: thin, so nothing is certified and the error is undefined
    steps = _hand("response_rank", "first", min_support=2)
    assert [s["certified_fraction"] for s in steps] == [0.0, 0.5, 0.0]
    assert [s["error_among_certified"] for s in steps] == [None, 0.5, None]
    assert [s["calibration_certified_fraction"] for s in steps] == [0.0, 0.5, 0.0]


def test_hand_case_weighted():
    # calibration weights 1, 1, 1, 5: u certifies rows 0-1 (weight 2), v rows 1 and 3 (weight 6): v
    # test weights 1, 2, 3, 4 (total 10): [v] certifies test row 2 (weight 3, wrong);
    # [v, u] certifies rows 0, 1, 2 (weight 6), rows 1 and 2 wrong (weight 5)
    cal = [r + (w,) for r, w in zip(HAND_CAL, [1, 1, 1, 5])]
    test = [r + (w,) for r, w in zip(HAND_TEST, [1, 2, 3, 4])]
    t = _placed(cal, test, 7, ["e", "u", "v", "d", "w"])
    r = acquisition_replay(t, ["e"], "d", ["u", "v"], policies=["response_rank"], splits=1, split="permutation",
                           seed=7, weight="w")
    steps = r.steps.to_pylist()
    assert [s["probe"] for s in steps] == [None, "v", "u"]
    assert [s["calibration_certified_fraction"] for s in steps] == [0.0, 0.75, 1.0]
    assert [s["certified_fraction"] for s in steps] == [0.0, 0.3, 0.6]
    assert [s["false_decisions"] for s in steps] == [0.0, 0.3, 0.5]
    assert [s["error_among_certified"] for s in steps] == [None, 1.0, pytest.approx(5 / 6)]
    assert [s["certified_rows"] for s in steps] == [0, 1, 3]
    bad = t.set_column(4, "w", pa.array([-1] + t["w"].to_pylist()[1:]))
    with pytest.raises(DcbError, match="weight column 'w' has negative"):
        acquisition_replay(bad, ["e"], "d", ["u", "v"], splits=1, weight="w")


def test_summary_statistics_and_modal_pick():
    t = pa.table({"e": [0] * 40, "u": [0, 1] * 20, "v": [0] * 40, "d": [0, 1] * 20})
    r = acquisition_replay(t, ["e"], "d", ["v", "u"], splits=20, seed=3)
    m = r.metrics["policies"]
    for name in POLICIES:
        assert len(m[name]) == 3
    rr = m["response_rank"]
    assert rr[1]["modal_probe"] == "u" and rr[1]["modal_count"] == 20 and rr[1]["picks"] == {"u": 20}
    assert rr[1]["certified_fraction"] == {"mean": 1.0, "p10": 1.0, "p90": 1.0}
    assert rr[0]["error_among_certified"] == {"mean": None, "p10": None, "p90": None, "splits": 0}
    # diversity and benchmark-aligned: e is constant, every correlation is 0: a tie, so "u"
    assert m["diversity"][1]["modal_probe"] == "u"
    steps = r.steps.to_pandas()
    x = steps[(steps.policy == "random") & (steps.step == 1)].certified_fraction.to_numpy()
    want = m["random"][1]["certified_fraction"]
    assert want["mean"] == pytest.approx(x.mean()) and want["p10"] == pytest.approx(np.quantile(x, 0.1))
    assert r.summary["kind"] == "acquisition" and len(steps) == 20 * 6 * 3


def _tox21_complete():
    df = tox21_compounds().to_pandas()
    return df[NR + SR + ["SR-p53"]].dropna().astype(int).reset_index(drop=True)


@pytest.mark.parametrize("tie_break", ["first", "last"])
def test_tox21_splits_against_row_oracle(tie_break):
    """The first splits of the authors' protocol, every policy, against the pandas oracle."""
    df = _tox21_complete()
    splits = 4
    r = acquisition_replay(tox21_compounds(), NR, "SR-p53", SR, splits=splits, split="permutation", seed=31000,
                           min_support=50, tie_break=tie_break, random_seed=lambda s: 41000 + 101 * s + 4)
    got = r.steps.to_pandas()
    for s in range(splits):
        mask = permutation_split_oracle(len(df), 31000 + s)
        for policy in POLICIES:
            want = acquisition_oracle(df, NR, "SR-p53", SR, policy, mask, 50, tie_break,
                                      np.random.default_rng(41000 + 101 * s + 4))
            mine = got[(got.split == s) & (got.policy == policy)].sort_values("step")
            assert list(mine.probe.fillna("-")) == [w["probe"] or "-" for w in want]
            assert list(mine.certified_fraction) == pytest.approx([w["certified_fraction"] for w in want])
            assert list(mine.false_decisions) == pytest.approx([w["false_decisions"] for w in want])
            err = [None if pd.isna(x) else x for x in mine.error_among_certified]
            assert err == [pytest.approx(w["error_among_certified"]) if w["error_among_certified"] is not None
                           else None for w in want]


def test_default_split_against_row_oracle():
    """The default (cells) split: expand its calibration counts back into rows, then the oracle."""
    from dcb_fast.methods.acquisition import read_probe_cells, split_cells
    from dcb_fast.io.sources import open_source

    rng = random.Random(5)
    rows = [(rng.randint(0, 1), rng.randint(0, 2), rng.randint(0, 1), rng.choice("xyz")) for _ in range(300)]
    t = pa.table({c: [r[j] for r in rows] for j, c in enumerate(["e", "p", "q", "d"])})
    r = acquisition_replay(t, ["e"], "d", ["p", "q"], splits=4, seed=11, min_support=3,
                           policies=["response_rank", "uncertainty", "benchmark_aligned", "oracle"])
    cells, actions = read_probe_cells(open_source(t, ["e", "p", "q", "d"]), ["e", "p", "q"], "d", None, "drop")
    values = [np.unique(t[c].to_numpy()) for c in ["e", "p", "q"]]
    got = r.steps.to_pandas()
    for k in range(4):
        cal, test = split_cells(cells, "cells", 0.5, 11, k)
        recs = []
        for i in range(len(cells.count)):
            base = {c: values[j][cells.codes[i, j]] for j, c in enumerate(["e", "p", "q"])}
            base["d"] = actions[int(cells.action[i])].as_py()
            recs += [{**base, "cal": True}] * int(cal[i]) + [{**base, "cal": False}] * int(test[i])
        df = pd.DataFrame(recs)
        for policy in ["response_rank", "uncertainty", "benchmark_aligned", "oracle"]:
            want = acquisition_oracle(df, ["e"], "d", ["p", "q"], policy, df.cal.to_numpy(), 3)
            mine = got[(got.split == k) & (got.policy == policy)].sort_values("step")
            assert list(mine.probe.fillna("-")) == [w["probe"] or "-" for w in want]
            assert list(mine.certified_fraction) == pytest.approx([w["certified_fraction"] for w in want])
            assert list(mine.false_decisions) == pytest.approx([w["false_decisions"] for w in want])


# -- properties ---------------------------------------------------------------------------------
ROWS = st.lists(st.tuples(st.integers(0, 1), st.integers(0, 2), st.booleans(), st.integers(0, 2)),
                min_size=4, max_size=60)


def _table(rows):
    return pa.table({"e": [r[0] for r in rows], "p": [r[1] for r in rows], "q": [r[2] for r in rows],
                     "d": [r[3] for r in rows]})


def _run(t, **kw):
    kw = {"splits": 3, "seed": 2, "min_support": 2, **kw}
    return acquisition_replay(t, ["e"], "d", ["p", "q"], **kw)


def _same(a, b):
    assert a.steps.equals(b.steps)
    assert a.metrics == b.metrics


@settings(max_examples=25, deadline=None)
@given(ROWS, st.randoms(use_true_random=False))
def test_default_split_ignores_row_order(rows, rnd):
    shuffled = list(rows)
    rnd.shuffle(shuffled)
    _same(_run(_table(rows)), _run(_table(shuffled)))


@settings(max_examples=25, deadline=None)
@given(ROWS, st.integers(1, 7), st.sampled_from(["cells", "permutation"]))
def test_batch_size_and_files_change_nothing(rows, batch_rows, split):
    t = _table(rows)
    base = _run(t, split=split)
    _same(base, _run(t, split=split, batch_rows=batch_rows))
    cut = len(rows) // 2
    _same(base, _run([t.slice(0, cut), t.slice(cut)], split=split))


@settings(max_examples=25, deadline=None)
@given(ROWS, st.permutations(["alpha", "beta", "gamma"]))
def test_action_bijection_changes_nothing_under_permutation_split(rows, names):
    # the permutation split never looks at values: any relabelling of the action gives the same steps
    t = _table(rows)
    relabelled = t.set_column(3, "d", pa.array([names[v] for v in t["d"].to_pylist()]))
    _same(_run(t, split="permutation"), _run(relabelled, split="permutation"))


@settings(max_examples=25, deadline=None)
@given(ROWS)
def test_order_preserving_action_relabelling_changes_nothing_under_cells_split(rows):
    # the cells split walks cells in value order, so it is invariant under relabellings that keep
    # that order (a relabelling that reorders values reorders the cells: a different, equally
    # distributed draw)
    t = _table(rows)
    relabelled = t.set_column(3, "d", pa.array([f"a{v}" for v in t["d"].to_pylist()]))
    _same(_run(t), _run(relabelled))


def test_permutation_split_follows_row_order():
    # the permutation split is the authors' protocol: it permutes positions, so reordering the
    # rows changes which rows are calibration (and the default split does not)
    rng = np.random.default_rng(0)
    t = pa.table({"e": [0] * 40, "p": [i % 4 for i in range(40)], "d": rng.integers(0, 2, 40)})
    shuffled = t.take(rng.permutation(40))
    runs = {split: [acquisition_replay(x, ["e"], "d", ["p"], splits=5, split=split, policies=["response_rank"])
                    .steps["calibration_certified_fraction"].to_pylist() for x in (t, shuffled)]
            for split in ("permutation", "cells")}
    assert runs["permutation"][0] != runs["permutation"][1]
    assert runs["cells"][0] == runs["cells"][1]


# -- errors and CLI -----------------------------------------------------------------------------
@pytest.mark.parametrize("kw,match", [
    ({"probes": []}, "no probe columns"),
    ({"probes": ["e"]}, "both evidence and a probe"),
    ({"policies": ["greedy"]}, "unknown policy 'greedy'"),
    ({"split": "rows"}, "split must be one of cells, permutation"),
    ({"tie_break": "middle"}, "tie_break must be 'first' or 'last'"),
    ({"probes": ["s"], "policies": ["diversity"]}, "policy diversity correlates columns .* 's' is string"),
])
def test_errors(kw, match):
    t = pa.table({"e": [0, 1] * 4, "p": [0, 1, 1, 0] * 2, "s": ["a", "b"] * 4, "d": [0, 1] * 4})
    kw = {"probes": ["p"], **kw}
    probes = kw.pop("probes")
    with pytest.raises(DcbError, match=match):
        acquisition_replay(t, ["e"], "d", probes, **kw)


def test_cli(tmp_path):
    p = tmp_path / "t.csv"
    pd.DataFrame({"e": [0] * 40, "u": [0, 1] * 20, "v": [0] * 40, "d": [0, 1] * 20}).to_csv(p, index=False)
    runner = CliRunner()
    res = runner.invoke(main, ["acquire", str(p), "-e", "e", "-a", "d", "-p", "v,u", "--splits", "4",
                               "--policy", "response_rank,random", "-f", "json", "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.output)
    assert s["kind"] == "acquisition" and list(s["metrics"]["policies"]) == ["response_rank", "random"]
    assert s["metrics"]["policies"]["response_rank"][1]["modal_probe"] == "u"
    assert (tmp_path / "out" / "acquisition_steps.parquet").exists()
    res = runner.invoke(main, ["acquire", str(p), "-e", "e", "-a", "d", "-p", "u", "--policy", "greedy"])
    assert res.exit_code == 1 and res.output.startswith("Error: unknown policy 'greedy'")
    res = runner.invoke(main, ["acquire", str(p), "-e", "e", "-a", "d", "-p", "u", "--splits", "3"])
    assert res.exit_code == 0 and "response-rank" in res.output


# -- the paper's Fig. 5c (SPEC section 5) -------------------------------------------------------
def _tox21(tie_break):
    return acquisition_replay(tox21_compounds(), NR, "SR-p53", SR, splits=200, split="permutation", seed=31000,
                              min_support=50, tie_break=tie_break, random_seed=lambda s: 41000 + 101 * s + 4)


def _pct(x):
    return round(100 * x, 2)


def test_tox21_fig5c_lexically_last_is_the_paper():
    r = _tox21("last")
    assert r.metrics["n_rows"] == 3079 and r.metrics["n_calibration"] == 1540
    m = r.metrics["policies"]
    assert [_pct(s["certified_fraction"]["mean"]) for s in m["response_rank"]] == [1.74, 5.64, 6.58, 6.50, 6.65]
    assert (m["response_rank"][1]["modal_probe"], m["response_rank"][1]["modal_count"]) == ("SR-MMP", 116)
    assert m["response_rank"][2]["modal_probe"] == "SR-HSE"
    step1 = {p: (_pct(m[p][1]["certified_fraction"]["mean"]), m[p][1]["modal_probe"]) for p in POLICIES}
    assert step1 == {"response_rank": (5.64, "SR-MMP"), "uncertainty": (4.73, "SR-ARE"),
                     "diversity": (1.72, "SR-HSE"), "benchmark_aligned": (1.24, "SR-MMP"),
                     "random": (2.82, "SR-HSE"), "oracle": (5.66, "SR-MMP")}
    for p in POLICIES:
        assert _pct(m[p][4]["certified_fraction"]["mean"]) == 6.65
        for s in m[p]:
            assert 0.025 <= s["error_among_certified"]["mean"] <= 0.04  # "about 3%"
    for p in ["response_rank", "oracle"]:  # "false decisions 0.06-0.10% of test"
        assert all(0.06 <= _pct(s["false_decisions"]["mean"]) <= 0.10 for s in m[p])


def test_tox21_fig5c_lexically_first_is_this_librarys_rule():
    m = _tox21("first").metrics["policies"]
    assert [_pct(s["certified_fraction"]["mean"]) for s in m["response_rank"]] == [1.74, 5.65, 7.53, 7.00, 6.65]
    assert m["response_rank"][1]["modal_probe"] == "SR-ARE"


def test_summary_validates_against_the_schema():
    from .report_helpers import validator

    t = pa.table({"e": [0] * 40, "u": [0, 1] * 20, "d": [0, 1] * 20})
    summary = json.loads(json.dumps(acquisition_replay(t, ["e"], "d", ["u"], splits=2).summary))
    validator().validate(summary)


def test_html_report(tmp_path):
    from dcb_fast.report.html import render_report

    t = pa.table({"e": [0] * 40, "u": [0, 1] * 20, "v": [0] * 40, "d": [0, 1] * 20})
    r = acquisition_replay(t, ["e"], "d", ["v", "u"], splits=3)
    page = render_report(r.summary, {"steps": r.steps})
    assert "dcb acquisition report" in page and "Held-out curves" in page
    assert "<td>u</td>" in page.replace(' class="num"', "") and "100.00%" in page
    p = tmp_path / "t.csv"
    pd.DataFrame(t.to_pydict()).to_csv(p, index=False)
    res = CliRunner().invoke(main, ["acquire", str(p), "-e", "e", "-a", "d", "-p", "v,u", "--splits", "2", "-q",
                                    "--report", str(tmp_path / "r.html")])
    assert res.exit_code == 0, res.output
    assert "Held-out curves" in (tmp_path / "r.html").read_text()


@settings(max_examples=15, deadline=None)
@given(ROWS, st.sampled_from(["cells", "permutation"]))
def test_one_policy_alone_equals_its_rows_among_all(rows, split):
    t = _table(rows)
    every = _run(t, split=split).steps.to_pandas()
    for policy in ["response_rank", "random", "diversity"]:
        alone = _run(t, split=split, policies=[policy]).steps.to_pandas()
        part = every[every.policy == policy].reset_index(drop=True)
        pd.testing.assert_frame_equal(alone, part)


@settings(max_examples=15, deadline=None)
@given(ROWS)
def test_renaming_columns_in_the_same_lexical_order_changes_nothing(rows):
    t = _table(rows)
    renamed = t.rename_columns(["E", "P1", "Q1", "D"])
    a = _run(t).steps.to_pandas()
    b = acquisition_replay(renamed, ["E"], "D", ["P1", "Q1"], splits=3, seed=2, min_support=2).steps.to_pandas()
    names = {"P1": "p", "Q1": "q"}
    b["probe"] = b.probe.map(names)
    b["selected"] = b.selected.map(lambda s: ",".join(names[x] for x in s.split(",")) if s else "")
    pd.testing.assert_frame_equal(a, b)
