"""Windows over tied values (SPEC section 2, "Ties"; issue 14 item 1): a window is a function of
the evidence value, so tied rows share one window, and neither the row order, the file split,
the batch size nor the names of the actions can change an audit or a sweep with window rules.

Every expected value below is a hand computation or comes from ``window_audit_oracle``
(tests/reference.py), which is written from the SPEC and never orders rows by action."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest
from hypothesis import assume, given, settings, strategies as st

from dcb_fast import audit, certify, sweep
from dcb_fast.errors import DcbError

from .reference import compare_metrics, window_audit_oracle

# values [1, 1, 1, 2, 2, 3]; actions a b a | b b | b (tie groups separated by |)
HAND_V = [1.0, 1.0, 1.0, 2.0, 2.0, 3.0]
HAND_A = ["a", "b", "a", "b", "b", "b"]


def _hand(rule, weights=None, **kw):
    cols = {"v": HAND_V, "d": HAND_A}
    if weights is not None:
        cols["w"] = weights
    t = pa.table(cols)
    return audit(t, ["v"], "d", weight="w" if weights is not None else None, rules={"v": rule}, **kw).metrics


@pytest.mark.parametrize("k", [2, 3])
def test_knn_hand_case_with_ties(k):
    # n = 6, sorted positions: value 1 at [0, 3), value 2 at [3, 5), value 3 at [5, 6).
    # value 1: pos (0+3-1)//2 = 1, start 1 - k//2 = 0 -> values {1} (k=2) / {1} (k=3), widened to
    #          the whole group of 1s: 3 rows, actions a, b -> mixed.
    # value 2: pos (3+5-1)//2 = 3, start 3 - 1 = 2 -> positions 2.. hold values 1 and 2, widened:
    #          all five rows with value 1 or 2 -> mixed.
    # value 3: pos 5, start 4, shifted to n - k (4 for k=2, 3 for k=3): values 2 and 3, widened
    #          to the rows of values 2 and 3: b, b, b -> pure, 3 rows.
    # So 1 row certified (the 3), 5 ambiguous; 3 distinct windows, 2 of them mixed; window
    # sizes 3, 3, 3, 5, 5, 3 (median 3). Ordering ties by action (a, a, b | b, b | b) gave 5/6.
    m = _hand(f"knn:{k}")
    assert m["certifiable_fraction"] == 1 / 6
    assert m["ambiguous_fraction"] == 5 / 6
    assert m["thin_fraction"] == 0.0
    assert (m["n_fibers"], m["n_mixed_fibers"]) == (3, 2)
    assert m["certified_rows"] == {"a": 0, "b": 1}
    assert m["median_window_size"] == 3.0
    # decision risk: the 1s' window has a, b, a (majority a): the b among the 1s is wrong; the
    # 2s' window a, b, a, b, b has majority b; the 3's window is all b -> 1 row of 6
    assert m["decision_risk"] == 1 / 6


def test_knn_hand_case_weights_and_min_support():
    # the 3 weighs 3, every other row 1: total 8, certified 3/8
    m = _hand("knn:2", weights=[1.0, 1.0, 1.0, 1.0, 1.0, 3.0])
    assert (m["certifiable_fraction"], m["ambiguous_fraction"]) == (3 / 8, 5 / 8)
    assert m["certified_weight"] == {"a": 0.0, "b": 3.0}
    # min support 4: the windows of the 1s and of the 3 hold 3 rows (thin), the 2s' holds 5
    m = _hand("knn:2", min_support=4)
    assert (m["certifiable_fraction"], m["ambiguous_fraction"], m["thin_fraction"]) == (0.0, 2 / 6, 4 / 6)
    assert (m["n_fibers"], m["n_mixed_fibers"], m["n_thin_fibers"]) == (3, 2, 2)
    m = _hand("knn:2", min_support=4, thin="skip")
    assert (m["n_fibers"], m["n_mixed_fibers"], m["n_thin_fibers"]) == (1, 1, 2)


def test_knn_weighted_majority():
    # one tie group, one window: a has 2 rows of weight 1, b one row of weight 5. The majority
    # by weight (SPEC: max_a W_f,a) is b, so the two a rows are the risk: 2 / 7.
    t = pa.table({"v": [1.0, 1.0, 1.0], "d": ["a", "a", "b"], "w": [1.0, 1.0, 5.0]})
    m = audit(t, ["v"], "d", weight="w", rules={"v": "knn:2"}).metrics
    assert m["decision_risk"] == 2 / 7


def test_tolerance_hand_case_with_ties():
    # tol 0.5: each tie group alone: 1s mixed, 2s pure b, 3 pure b -> 3 of 6 certified
    m = _hand("window:0.5")
    assert (m["certifiable_fraction"], m["ambiguous_fraction"], m["n_fibers"], m["n_mixed_fibers"]) == (0.5, 0.5, 3, 1)
    # tol 1: 1s see values 1..2 (mixed), 2s see 1..3 (mixed), the 3 sees 2..3 (b only)
    m = _hand("window:1")
    assert (m["certifiable_fraction"], m["ambiguous_fraction"]) == (1 / 6, 5 / 6)
    assert m["median_window_size"] == 5.0  # sizes 5, 5, 5, 6, 6, 3


def _rounded_column(n=20_000, seed=14):
    """The issue's case in spirit: a seeded numeric column rounded to 2 decimals (tie groups of
    up to ~80 rows, wider than the window), a noisy threshold action."""
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0.0, 1.0, n), 2)
    y = (x + rng.normal(0.0, 0.5, n) > 0).astype(np.int64)
    return x, y


def test_rounded_column_knn25_matches_oracle_and_ignores_labels():
    x, y = _rounded_column()
    want = window_audit_oracle(x.tolist(), y.tolist(), None, "knn", 25)
    t = pa.table({"x": x, "y": y})
    got = audit(t, ["x"], "y", rules={"x": "knn:25"}).metrics
    compare_metrics(got, want)
    swapped = pa.table({"x": x, "y": 1 - y})
    rows = [sweep(tb, "x", "y", rules=["knn:25"]).metrics["rows"][0] for tb in (t, swapped)]
    assert rows[0]["certifiable_fraction"] == want["certifiable_fraction"]
    for k in ("certifiable_fraction", "ambiguous_fraction", "thin_fraction", "n_fibers", "n_mixed_fibers",
              "median_fiber_size"):
        assert rows[0][k] == rows[1][k], k


# --- properties --------------------------------------------------------------------------------

RULES = st.one_of(st.integers(1, 30).map(lambda k: f"knn:{k}"),
                  st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.5]).map(lambda t: f"window:{t}"))


@st.composite
def tied_tables(draw, max_rows=50):
    """A numeric column with many ties (a handful of values), actions, maybe weights."""
    n = draw(st.integers(1, max_rows))
    pool = draw(st.lists(st.sampled_from([-1.0, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0, 3.5]), min_size=1, max_size=6,
                         unique=True))
    v = draw(st.lists(st.sampled_from(pool), min_size=n, max_size=n))
    acts = draw(st.lists(st.sampled_from(["a", "b", "c"]), min_size=n, max_size=n))
    w = draw(st.one_of(st.none(), st.lists(st.sampled_from([0.0, 0.5, 1.0, 2.0, 3.25]), min_size=n, max_size=n),
                       st.lists(st.sampled_from([0, 1, 3, 7]), min_size=n, max_size=n)))  # request counts
    assume(w is None or any(w))  # a total weight of zero is an error (issue 14 item 8: tests/test_right_answers)
    cols = {"v": pa.array(v, pa.float64()), "d": acts}
    if w is not None:
        cols["w"] = pa.array(w, pa.int64() if isinstance(w[0], int) else pa.float64())
    return pa.table(cols), v, acts, w


def _weight(t):
    names = t.column_names if isinstance(t, pa.Table) else pq.read_schema(os.path.join(t, "part-00.parquet")).names
    return "w" if "w" in names else None


def _audit(t, rule, s=1, thin="ambiguous", **kw):
    return audit(t, ["v"], "d", weight=_weight(t), rules={"v": rule}, min_support=s, thin=thin, **kw).metrics


def _sweep_rows(t, rule, **kw):
    return sweep(t, "v", "d", weight=_weight(t), rules=[rule], **kw).metrics["rows"]


@given(tied_tables(), RULES, st.integers(1, 6), st.sampled_from(["ambiguous", "skip"]))
def test_audit_matches_oracle(data, rule, s, thin):
    t, v, a, w = data
    name, _, p = rule.partition(":")
    want = window_audit_oracle(v, a, w, name, int(p) if name == "knn" else float(p), s, thin)
    compare_metrics(_audit(t, rule, s, thin), want)


@given(tied_tables(), RULES, st.integers(1, 6))
def test_sweep_matches_oracle(data, rule, s):
    t, v, a, w = data
    name, _, p = rule.partition(":")
    want = window_audit_oracle(v, a, w, name, int(p) if name == "knn" else float(p), s)
    (row,) = sweep(t, "v", "d", weight="w" if w is not None else None, rules=[rule], min_support=s).metrics["rows"]
    for k in ("certifiable_fraction", "ambiguous_fraction", "thin_fraction", "n_fibers", "n_mixed_fibers"):
        assert row[k] == want[k], k
    assert row["median_fiber_size"] == want["median_window_size"]


@given(tied_tables(), RULES, st.randoms(use_true_random=False), st.integers(1, 9))
def test_row_order_and_batch_size_change_nothing(data, rule, rnd, batch_rows):
    t = data[0]
    perm = list(range(t.num_rows))
    rnd.shuffle(perm)
    shuffled = t.take(pa.array(perm, pa.int64()))
    assert _audit(shuffled, rule, batch_rows=batch_rows) == _audit(t, rule)
    assert _audit(shuffled, rule, 3, "skip", batch_rows=batch_rows) == _audit(t, rule, 3, "skip")
    assert _sweep_rows(shuffled, rule, batch_rows=batch_rows) == _sweep_rows(t, rule)


@settings(max_examples=30, deadline=None)
@given(tied_tables(), RULES, st.lists(st.integers(0, 50), max_size=4))
def test_file_split_changes_nothing(data, rule, cuts):
    t = data[0]
    bounds = [0] + sorted(min(c, t.num_rows) for c in cuts) + [t.num_rows]
    with tempfile.TemporaryDirectory() as root:
        for i in range(len(bounds) - 1):  # some parts may be empty files
            pq.write_table(t.slice(bounds[i], bounds[i + 1] - bounds[i]), os.path.join(root, f"part-{i:02d}.parquet"))
        split = _audit(root, rule)
        rows = _sweep_rows(root, rule)
    assert split == _audit(t, rule)
    assert rows == _sweep_rows(t, rule)


ACTION_MAPS = [{"a": "b", "b": "a", "c": "c"}, {"a": "c", "b": "a", "c": "b"}, {"a": "z", "b": "y", "c": "x"},
               {"a": 1, "b": 0, "c": 2}]


@given(tied_tables(), RULES, st.sampled_from(ACTION_MAPS), st.integers(1, 4))
def test_relabelling_actions_changes_nothing(data, rule, mapping, s):
    """A bijection of the action values maps every per-action figure and leaves the rest. The
    decision risk is left out: with two actions tied for a window's majority it follows the
    canonical tie rule (lowest action), which a relabelling may flip."""
    t, v, a, w = data
    relabelled = t.set_column(1, "d", pa.array([mapping[x] for x in a]))
    got, base = _audit(relabelled, rule, s), _audit(t, rule, s)
    for k in ("certified_rows", "certified_weight", "prevalence"):
        assert got.pop(k) == {str(mapping[x]): y for x, y in base.pop(k).items()}, k
    got_actions, base_actions = got.pop("actions"), base.pop("actions")
    assert sorted(got_actions) == sorted(str(mapping[x]) for x in base_actions)
    got.pop("decision_risk"), base.pop("decision_risk")
    assert got == base
    assert _sweep_rows(relabelled, rule, min_support=s) == _sweep_rows(t, rule, min_support=s)


def test_certify_refuses_window_rules():
    t = pa.table({"v": HAND_V, "d": HAND_A})
    for rule in ("knn:3", "window:0.5"):
        with pytest.raises(DcbError, match=rf"^rule {rule} for 'v' makes overlapping fibers, which a certificate "
                                           r"cannot hold; certify with a binned rule \(quantile:N, width:W\)"):
            certify(t, ["v"], "d", rules={"v": rule})


@settings(max_examples=40)
@given(tied_tables(max_rows=60), RULES, st.randoms(use_true_random=False), st.integers(1, 9))
def test_sweep_models_row_order_and_model_names(data, rule, rnd, batch_rows):
    """Per-model sweeps (``group_by``) of a shuffled table, in small batches, with the models
    renamed: each model's row is the sweep of its rows alone."""
    t, v, a, w = data
    models = [rnd.choice(["m0", "m1", "m2"]) for _ in range(t.num_rows)]
    # a model whose rows weigh 0 in all is an error (issue 14 item 8): every model carries weight here
    assume(w is None or all(any(x for x, mm in zip(w, models) if mm == m) for m in set(models)))
    t = t.append_column("model", pa.array(models))
    perm = list(range(t.num_rows))
    rnd.shuffle(perm)
    renamed = {"m0": "zeta", "m1": "alpha", "m2": "10"}
    shuffled = t.take(pa.array(perm, pa.int64()))
    shuffled = shuffled.set_column(shuffled.column_names.index("model"), "model",
                                   pa.array([renamed[x] for x in shuffled["model"].to_pylist()]))
    got = {r["model"]: r for r in sweep(shuffled, "v", "d", weight=_weight(t), group_by="model", rules=[rule],
                                        batch_rows=batch_rows).metrics["rows"]}
    assert sorted(got) == sorted(renamed[m] for m in set(models))
    for m in set(models):
        alone = _sweep_rows(t.filter(pc.equal(t["model"], m)).drop_columns(["model"]), rule)[0]
        assert {**got[renamed[m]], "model": "all"} == alone
