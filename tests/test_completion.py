"""Finite completion against a brute-force oracle that regroups from scratch at every step."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from dcb_fast import complete
from dcb_fast.cli import main
from dcb_fast.errors import DcbError

from .reference import greedy_completion_oracle, holdout_step_oracle


@st.composite
def labelled(draw):
    n = draw(st.integers(1, 60))
    ncols = draw(st.integers(2, 5))
    cols = {f"c{j}": draw(st.lists(st.integers(0, draw(st.integers(0, 3))), min_size=n, max_size=n))
            for j in range(ncols)}
    cols["d"] = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    cols["w"] = draw(st.lists(st.sampled_from([1.0, 0.5, 2.0, 0.0]), min_size=n, max_size=n))
    return pa.table(cols), [f"c{j}" for j in range(ncols)]


@given(labelled(), st.integers(1, 3), st.booleans(), st.booleans(),
       st.one_of(st.none(), st.sampled_from([0.5, 0.9, 1.0])))
def test_greedy_matches_oracle(data, s, weighted, with_costs, target):
    t, cols = data
    evidence, probes = cols[:1], cols[1:]
    costs = {p: float(i + 1) for i, p in enumerate(probes)} if with_costs else None
    rows = t.to_pylist()
    w = "w" if weighted else None
    if weighted and sum(r["w"] for r in rows) == 0:
        return
    want = greedy_completion_oracle(rows, evidence, "d", probes, w, s, target, costs)
    got = complete(t, evidence, "d", probes, weight=w, min_support=s, target=target, costs=costs)
    curve = got.metrics["curve"]
    assert [(c["probe"], c["certifiable_fraction"]) for c in curve] == want
    if target is not None:
        reached = next((c for c in curve if c["certifiable_fraction"] >= target), None)
        cc = got.metrics["completion_cost"]
        assert cc == ("not reached" if reached is None else {"probes": reached["step"], "cost": reached["cost"]})


def test_curve_may_fall_with_min_support_and_says_so():
    t = pa.table({"e": [0] * 6, "p": [0, 1, 2, 3, 4, 5], "d": ["a"] * 6})
    r = complete(t, ["e"], "d", ["p"], min_support=2)
    assert [c["certifiable_fraction"] for c in r.metrics["curve"]] == [1.0, 0.0]
    assert r.metrics["curve_falls_at"] == [1]


def test_probes_that_add_nothing_and_ties():
    t = pa.table({"e": [0, 0, 1, 1], "same": [0, 0, 0, 0], "also": [1, 1, 1, 1], "d": ["a", "b", "a", "a"]})
    r = complete(t, ["e"], "d", ["same", "also"])
    assert [c["probe"] for c in r.metrics["curve"]] == [None, "also", "same"]  # tie: lexical
    assert [c["certifiable_fraction"] for c in r.metrics["curve"]] == [0.5, 0.5, 0.5]


def test_holdout_matches_a_row_level_replay():
    """The held-out figures equal a direct computation on the rows of the same seeded split."""
    from dcb_fast.methods.complete import Atoms, _split
    from dcb_fast.fibers.state import FiberState

    rng = np.random.default_rng(3)
    n = 3000
    t = pa.table({"e": rng.integers(0, 4, n), "p": rng.integers(0, 3, n), "q": rng.integers(0, 2, n)})
    d = np.where((t["e"].to_numpy() + t["p"].to_numpy()) % 3 == 0, "a", "b")
    d = np.where(rng.random(n) < 0.05, "c", d)
    t = t.append_column("d", pa.array(d))
    r = complete(t, ["e"], "d", ["p", "q"], min_support=5, holdout=0.4, seed=9)
    st_ = FiberState(["e", "p", "q"], "d", shards=1)
    st_.update(t)
    atoms = Atoms(st_, canonical=True)
    (cal, _, _), (held, _, _) = _split(atoms, 0.4, 9, None)
    vals = {c: st_.encoders[j].values().to_numpy()[atoms.codes[:, j]] for j, c in enumerate(["e", "p", "q"])}
    acts = st_.action_encoder.values().to_pylist()
    records = []  # (e, p, q, action, is_test, count)
    for i in range(len(atoms.codes)):
        for a in range(cal.shape[1]):
            for part, c in ((False, cal[i, a]), (True, held[i, a])):
                if c:
                    records.append(((vals["e"][i], vals["p"][i], vals["q"][i]), acts[a], part, int(c)))
    order = [None] + [c["probe"] for c in r.metrics["curve"][1:]]
    selected = []
    for step, probe in zip(r.metrics["curve"], order):
        if probe:
            selected.append({"p": 1, "q": 2}[probe])
        want_certified, want_fd = holdout_step_oracle(records, [0] + selected, 5)
        assert step["holdout_certified_fraction"] == pytest.approx(want_certified, abs=1e-12)
        assert step["holdout_false_decisions"] == pytest.approx(want_fd, abs=1e-12)
    # the split is reproducible from the seed alone, whatever the threads and batches
    again = complete(t, ["e"], "d", ["p", "q"], min_support=5, holdout=0.4, seed=9, threads=1, batch_rows=77)
    assert again.metrics["curve"] == r.metrics["curve"]


def test_errors():
    t = pa.table({"e": [1], "p": [1], "d": [1]})
    with pytest.raises(DcbError, match="probe column 'e' is already the evidence"):
        complete(t, ["e"], "d", ["e"])
    with pytest.raises(DcbError, match="a cost is given for 'x', which is not among the probes"):
        complete(t, ["e"], "d", ["p"], costs={"x": 1})
    with pytest.raises(DcbError, match="no probe columns given"):
        complete(t, ["e"], "d", [])


def test_cli(tmp_path):
    rng = np.random.default_rng(1)
    n = 500
    t = pa.table({"e": rng.integers(0, 3, n), "p": rng.integers(0, 3, n), "q": rng.integers(0, 2, n),
                  "d": rng.integers(0, 2, n)})
    import pyarrow.parquet as pq

    pq.write_table(t, tmp_path / "t.parquet")
    out = tmp_path / "o"
    res = CliRunner().invoke(main, ["complete", str(tmp_path / "t.parquet"), "-e", "e", "-a", "d", "-p", "p,q",
                                    "--cost", "p=2,q=1", "--target", "0.9", "-o", str(out), "--table-format", "csv",
                                    "-f", "json", "-q"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert s["kind"] == "completion" and len(s["metrics"]["curve"]) >= 2
    assert (out / "completion_curve.csv").exists()
    res = CliRunner().invoke(main, ["complete", str(tmp_path / "t.parquet"), "-e", "e", "-a", "d", "-p", "p,q",
                                    "--cost", "p"])
    assert res.exit_code == 2 and "is not PROBE=COST" in res.output
