"""``dcb complete --group-by MODEL`` (issue 19): a completion curve per model of a long table,
each against the greedy oracle of tests/reference.py on that model's rows alone, and the pooled
view (the model column leads the evidence: fibers never mix models) against the oracle too."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings, strategies as st

from dcb_fast.cli import main
from dcb_fast.methods.complete import complete_groups
from dcb_fast.errors import DcbError

from .reference import greedy_completion_oracle


def board(seed=0, n=300, models=3):
    """A long table: per row a model, evidence e, probes p, q, r and an action that depends on
    the evidence and, differently per model, on the probes."""
    rng = np.random.default_rng(seed)
    m = rng.integers(0, models, n)
    e = rng.integers(0, 3, n)
    p, q, r = rng.integers(0, 2, n), rng.integers(0, 3, n), rng.integers(0, 2, n)
    d = np.where(m == 0, (e + p) % 2, np.where(m == 1, (e + q) % 3 == 0, r)).astype(int)
    d = np.where(rng.random(n) < 0.03, 1 - np.minimum(d, 1), d)
    return pa.table({"model": [f"m{x}" for x in m], "e": e, "p": p, "q": q, "r": r, "d": d})


def curve_of(metrics):
    return [(s["probe"], s["certifiable_fraction"]) for s in metrics["curve"]]


@pytest.mark.parametrize("s", [1, 4])
def test_each_model_and_the_pooled_view_against_the_oracle(s):
    t = board()
    r = complete_groups(t, "model", ["e"], "d", ["p", "q", "r"], min_support=s)
    rows = t.to_pylist()
    assert sorted(r.metrics["groups"]) == ["m0", "m1", "m2"]
    for name, g in r.metrics["groups"].items():
        mine = [x for x in rows if x["model"] == name]
        want = greedy_completion_oracle(mine, ["e"], "d", ["p", "q", "r"], min_support=s)
        assert [a for a, _ in curve_of(g)] == [a for a, _ in want]
        for (_, a), (_, b) in zip(curve_of(g), want):
            assert a == pytest.approx(b, rel=1e-12)
    pooled = greedy_completion_oracle(rows, ["model", "e"], "d", ["p", "q", "r"], min_support=s)
    assert [a for a, _ in curve_of(r.metrics)] == [a for a, _ in pooled]
    for (_, a), (_, b) in zip(curve_of(r.metrics), pooled):
        assert a == pytest.approx(b, rel=1e-12)
    # the models really differ: m0 needs p first, m1 needs q
    assert r.metrics["groups"]["m0"]["recommended_probe"] == "p"
    assert r.metrics["groups"]["m1"]["recommended_probe"] == "q"
    # the curve table: the pooled rows (group null) then each model's
    groups = r.curve["group"].to_pylist()
    assert groups.count(None) == len(r.metrics["curve"])
    assert groups.count("m1") == len(r.metrics["groups"]["m1"]["curve"])


@settings(max_examples=10, deadline=None)
@given(perm=st.integers(0, 10_000), batch=st.integers(7, 400))
def test_row_order_and_batch_size_change_nothing(perm, batch):
    t = board(seed=3)
    base = complete_groups(t, "model", ["e"], "d", ["p", "q", "r"], min_support=2)
    sh = t.take(pa.array(np.random.default_rng(perm).permutation(t.num_rows)))
    other = complete_groups(sh, "model", ["e"], "d", ["p", "q", "r"], min_support=2, batch_rows=batch)
    assert other.metrics["groups"] == base.metrics["groups"]
    assert other.metrics["curve"] == base.metrics["curve"]


def test_errors_and_nulls():
    t = board()
    with pytest.raises(DcbError, match="--group-by column 'e' is also the evidence"):
        complete_groups(t, "e", ["e"], "d", ["p"])
    models = t["model"].to_pylist()
    models[0] = None
    t2 = t.set_column(0, "model", pa.array(models, pa.string()))
    r = complete_groups(t2, "model", ["e"], "d", ["p"])
    assert r.metrics["dropped_group_rows"] == 1 and r.metrics["n_rows"] == t.num_rows - 1


def test_cli(tmp_path):
    t = board()
    path = str(tmp_path / "b.parquet")
    pq.write_table(t, path)
    args = ["complete", path, "-e", "e", "-a", "d", "-p", "p,q,r", "--group-by", "model", "-s", "2"]
    res = CliRunner().invoke(main, args + ["--format", "json"])
    assert res.exit_code == 0, res.output
    got = json.loads(res.output)["metrics"]
    want = complete_groups(path, "model", ["e"], "d", ["p", "q", "r"], min_support=2).metrics
    assert got == json.loads(json.dumps(want))
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "pooled over model" in res.output and "per model:" in res.output
    for name in ("m0", "m1", "m2"):
        assert name in res.output
