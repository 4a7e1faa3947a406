"""Fiber rules for numeric evidence: bins against numpy, windows against the O(n^2) reference."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, strategies as st

from dcb_fast import audit, parse_rule
from dcb_fast.errors import DcbError
from dcb_fast.core.quantiles import exact_quantiles, quantile_edges

from .reference import audit_oracle, compare_metrics, quantile_bins_oracle, window_audit_oracle

VALUES = st.lists(st.sampled_from([0.0, 0.5, 1.0, 1.5, 2.25, -1.0, 3.0, 0.1, 0.2, 0.30000000000000004]),
                  min_size=1, max_size=60)


@st.composite
def numeric_tables(draw, weighted=None, nan=True):
    vals = draw(VALUES)
    n = len(vals)
    if nan:
        vals = [float("nan") if draw(st.integers(0, 9)) == 0 else v for v in vals]
    acts = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    w = draw(st.lists(st.sampled_from([1.0, 0.5, 2.0, 3.25]), min_size=n, max_size=n)) \
        if (weighted if weighted is not None else draw(st.booleans())) else None
    cols = {"v": pa.array(vals), "d": acts}
    if w is not None:
        cols["w"] = w
    return pa.table(cols), vals, acts, w


def _kept(vals, acts, w):
    keep = [i for i, x in enumerate(vals) if x == x]
    return [vals[i] for i in keep], [acts[i] for i in keep], ([w[i] for i in keep] if w is not None else None)


@given(numeric_tables(), st.sampled_from([0.0, 0.1, 0.5, 1.0, 2.5]), st.integers(1, 4))
def test_window_matches_naive(data, tol, s):
    t, vals, acts, w = data
    v, a, ww = _kept(vals, acts, w)
    if not v:
        with pytest.raises(DcbError):
            audit(t, ["v"], "d", weight="w" if w is not None else None, rules={"v": f"window:{tol}"})
        return
    m = audit(t, ["v"], "d", weight="w" if w is not None else None, rules={"v": f"window:{tol}"}, min_support=s).metrics
    compare_metrics(m, window_audit_oracle(v, a, ww, "window", tol, s))
    assert m["dropped_rows"] == len(vals) - len(v)


@given(numeric_tables(), st.integers(1, 70), st.integers(1, 4))
def test_knn_matches_naive(data, k, s):
    t, vals, acts, w = data
    v, a, ww = _kept(vals, acts, w)
    if not v:
        return
    m = audit(t, ["v"], "d", weight="w" if w is not None else None, rules={"v": f"knn:{k}"}, min_support=s).metrics
    compare_metrics(m, window_audit_oracle(v, a, ww, "knn", k, s))


@given(numeric_tables(weighted=True, nan=False), st.randoms(use_true_random=False), st.sampled_from(["knn:7", "window:0.5"]))
def test_windows_do_not_depend_on_input_order(data, rnd, rule):
    t, *_ = data
    perm = list(range(t.num_rows))
    rnd.shuffle(perm)
    a = audit(t, ["v"], "d", weight="w", rules={"v": rule}).metrics
    b = audit(t.take(perm), ["v"], "d", weight="w", rules={"v": rule}, batch_rows=rnd.randint(1, 9)).metrics
    assert a == b


def test_single_value_and_fewer_rows_than_k():
    t = pa.table({"v": [1.0, 1.0, 1.0], "d": ["a", "a", "b"]})
    m = audit(t, ["v"], "d", rules={"v": "knn:10"}).metrics
    assert m["n_fibers"] == 1 and m["median_window_size"] == 3.0 and m["ambiguous_fraction"] == 1.0
    m = audit(t, ["v"], "d", rules={"v": "quantile:4"}).metrics
    assert m["n_fibers"] == 1
    m = audit(t, ["v"], "d", rules={"v": "window:0"}, min_support=4).metrics
    assert m["thin_fraction"] == 1.0


@given(numeric_tables(nan=False), st.integers(1, 12))
def test_quantile_bins_match_numpy(data, nbins):
    t, vals, acts, w = data
    edges, bins = quantile_bins_oracle(vals, nbins)
    rows = [{"b": int(b), "d": d} for b, d in zip(bins, acts)]
    got = audit(t, ["v"], "d", rules={"v": f"quantile:{nbins}"})
    assert got.summary["parameters"]["rules"]["v"]["edges"] == [float(e) for e in edges]
    compare_metrics(got.metrics, audit_oracle(rows, ["b"], "d"))


@given(numeric_tables(nan=True), st.integers(1, 12), st.integers(1, 9))
def test_quantile_bins_do_not_depend_on_batches_or_files(tmp_path_factory, data, nbins, batch):
    t, *_ = data
    if all(x != x for x in t["v"].to_pylist()):
        return
    base = audit(t, ["v"], "d", rules={"v": f"quantile:{nbins}"})
    d = tmp_path_factory.mktemp("q")
    half = t.num_rows // 2
    pq.write_table(t.slice(0, half), d / "a.parquet")
    pq.write_table(t.slice(half), d / "b.parquet")
    split = audit(str(d), ["v"], "d", rules={"v": f"quantile:{nbins}"}, batch_rows=batch)
    assert split.summary["parameters"]["rules"] == base.summary["parameters"]["rules"]
    assert split.metrics == base.metrics


def test_exact_quantiles_multi_pass(monkeypatch):
    """With a tiny collection budget the selection refines key digits over several passes."""
    import dcb_fast.core.quantiles as q

    monkeypatch.setattr(q, "_BUDGET", 3)
    rng = np.random.default_rng(4)
    v = np.concatenate([rng.normal(size=5000), np.full(300, 0.25), rng.integers(0, 3, 500).astype(float)])
    chunks = [pa.array(c) for c in np.array_split(v, 7)]
    qs = np.linspace(0, 1, 21)
    assert np.array_equal(exact_quantiles(lambda: iter(chunks), qs), np.quantile(v, qs))
    assert np.array_equal(quantile_edges(lambda: iter(chunks), 5), np.unique(np.quantile(v, np.linspace(0, 1, 6))))


@pytest.mark.parametrize("spec,edges,values,want", [
    ("edges:0,1,2", [0.0, 1.0, 2.0], [0.0, 0.999, 1.0, 2.0, 2.01, -0.5], [0, 0, 1, 1, 2, -1]),
    ("width:0.5", None, [0.0, 0.49, 0.5, -0.01], [0, 0, 1, -1]),
    ("width:1,0.5", None, [0.5, 1.49, 1.5, 0.4], [0, 0, 1, -1]),
])
def test_fixed_bins(spec, edges, values, want):
    r = parse_rule(spec)
    assert r.apply(pa.array(values), "x").to_pylist() == want


def test_rule_errors():
    t = pa.table({"v": [1.0, 2.0], "e": [1.0, 2.0], "d": [0, 1]})
    with pytest.raises(DcbError, match="must be the only evidence column"):
        audit(t, ["v", "e"], "d", rules={"v": "knn:3"})
    with pytest.raises(DcbError, match="unknown fiber rule 'knn:x'"):
        parse_rule("knn:x")
    with pytest.raises(DcbError, match="quantile rule needs at least 1 bin"):
        parse_rule("quantile:0")
    with pytest.raises(DcbError, match="input table has no column 'err'"):
        audit(t, ["v"], "d", rules={"v": "window:mae:err"})
