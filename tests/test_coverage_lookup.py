"""Coverage by lookup (issue 21): production rows looked up in the certificate's key table give
the SPEC's figures (tests/reference.py, SPEC section 4) and exactly what auditing the log gave
(the audit path, ``methods.coverage.LOOKUP = False``), whatever the batch size, row order, file split,
relabelled values, unseen values, nulls, key packing and thread split."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import assume, given, settings, strategies as st

from dcb_fast import certify, coverage
from dcb_fast.errors import DcbError
from dcb_fast.kernels import lookup as kl
from dcb_fast.methods import coverage as production
from dcb_fast.methods import coverage_lookup as PL

from .multifile import as_files
from .reference import coverage_oracle
from .strategies import COLUMN_KINDS, _values, to_array

EV = ["e", "f"]


@st.composite
def pair(draw, max_rows=40, kinds=None):
    """A calibration and a production table over the same column kinds; production draws from
    more values (unseen ones) and both hold nulls, null weights and null actions."""
    kinds = kinds or [draw(st.sampled_from(COLUMN_KINDS)) for _ in EV]
    akind = draw(st.sampled_from(["str", "int8", "dict_str"]))
    weighted = draw(st.sampled_from([None, "int", "float"]))

    def table(n, unseen):
        cols = {}
        for c, kind in zip(EV, kinds):
            pool = _values(kind)
            vals = draw(st.lists(st.one_of(pool, st.none()), min_size=n, max_size=n))
            if not unseen:  # calibration: a few values only, so production meets unseen ones
                first = draw(pool)
                vals = [v if v is None or draw(st.booleans()) else first for v in vals]
            cols[c] = to_array(vals, kind)
        cols["d"] = to_array(draw(st.lists(st.one_of(_values(akind), st.none()), min_size=n, max_size=n)), akind)
        if weighted == "int":
            cols["w"] = pa.array(draw(st.lists(st.one_of(st.sampled_from([0, 1, 3, 30000]), st.none()),
                                               min_size=n, max_size=n)), pa.int64())
        elif weighted == "float":
            cols["w"] = pa.array(draw(st.lists(st.one_of(st.sampled_from([0.0, 1.0, 0.25, 2.5, 1e6]), st.none()),
                                               min_size=n, max_size=n)), pa.float64())
        return pa.table(cols)

    cal = table(draw(st.integers(1, max_rows)), unseen=False)
    prod = table(draw(st.integers(1, max_rows)), unseen=True)
    return cal, prod, ("w" if weighted else None)


def outcome(fn):
    """(metrics, uncovered table), or the error message (errors must agree too)."""
    try:
        r = fn()
        return r.summary["metrics"], r.uncovered
    except DcbError as exc:
        return ("error", str(exc))


def both_paths(cert, prod, **kw):
    looked = outcome(lambda: coverage(cert, prod, **kw))
    production.LOOKUP = False
    try:
        audited = outcome(lambda: coverage(cert, prod, **kw))
    finally:
        production.LOOKUP = True
    return looked, audited


def same(a, b):
    if a[0] == "error" or b[0] == "error":
        assert a == b
        return
    assert a[0] == b[0]
    assert a[1].equals(b[1]), (a[1], b[1])


@settings(max_examples=150, deadline=None)
@given(pair(), st.integers(1, 4), st.sampled_from(["drop", "value"]), st.booleans(), st.integers(1, 3),
       st.integers(1, 9), st.sampled_from([None, 1, 4]))
def test_lookup_equals_the_audit_of_the_log(data, s, nulls, with_action, threads, batch, window):
    cal, prod, w = data
    try:
        cert = certify(cal, EV, "d", weight=w, min_support=s, nulls=nulls)
    except DcbError:
        assume(False)
    kw = dict(weight=w, action="d" if with_action else None, top_k=50, threads=threads, batch_rows=batch)
    with pytest.MonkeyPatch.context() as mp:
        if window:  # windows of a few rows: looked up batch after batch, mid-stream
            mp.setattr(PL, "WINDOW_PER_THREAD", window)
            mp.setattr(PL, "_PARALLEL_ROWS", 1)
        same(*both_paths(cert, prod, **kw))


@settings(max_examples=60, deadline=None)
@given(pair(max_rows=30), st.integers(1, 3), st.sampled_from(["drop", "value"]), st.integers(1, 3))
def test_multi_word_keys_and_thread_splits(data, s, nulls, threads):
    """Keys packed one column per word, probed row by row (the path of keys wider than a word),
    and batches split over threads however small: the multi-word probe and the per-thread sums
    are exercised."""
    cal, prod, w = data
    try:
        cert = certify(cal, EV, "d", weight=w, min_support=s, nulls=nulls)
    except DcbError:
        assume(False)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(PL, "_WORD_BITS", 1)  # a word per column (unless a column has a single code)
        mp.setattr(PL, "PARTITIONED", False)
        mp.setattr(PL, "_PARALLEL_ROWS", 1)
        ck = PL.CertificateKeys(cert)
        if all(len(e) > 1 for e in ck.encoders):
            assert ck.slots.shape[1] == len(EV) + 1
        same(*both_paths(cert, prod, weight=w, action="d", top_k=50, threads=threads, batch_rows=7))


# --- against the SPEC oracle ------------------------------------------------------------------------------

FIGURES = ("n_rows", "dropped_rows", "total_weight", "benchmark_coverage", "certified_coverage", "ambiguous_coverage",
           "thin_coverage", "unseen_fraction", "null_evidence_fraction", "false_decisions", "error_among_certified",
           "acquisitions", "labelled_fraction")


@st.composite
def labelled_pair(draw, max_rows=40):
    """Calibration and production over string and int16 evidence (production has unseen values),
    a nullable action and dyadic weights (exact in fixed point), some null."""
    def table(n, unseen):
        def col(vals):
            return draw(st.lists(st.one_of(st.sampled_from(vals), st.none()), min_size=n, max_size=n))
        return pa.table({
            "e": pa.array(col(["p", "q", "r"] + (["s", "t"] if unseen else []))),
            "f": pa.array(col([0, 1, 2] + ([7, -1] if unseen else [])), pa.int16()),
            "d": pa.array(col(["a", "b", "c"])),
            "w": pa.array(draw(st.lists(st.one_of(st.sampled_from([0.0, 1.0, 2.0, 0.5, 3.0]), st.none()),
                                        min_size=n, max_size=n))),
        })
    return table(draw(st.integers(1, max_rows)), False), table(draw(st.integers(1, max_rows)), True)


def oracle_figures(cal, prod, s):
    return coverage_oracle(cal.to_pylist(), prod.to_pylist(), EV, "d", cal_weight="w", weight="w", prod_action="d",
                           min_support=s)


def ours(cal, prod, s, **kw):
    cert = certify(cal, EV, "d", weight="w", min_support=s)
    return coverage(cert, prod, weight="w", action="d", **kw).metrics


def relabel(table, column, mapping):
    vals = [None if v is None else mapping[v] for v in table[column].to_pylist()]
    return table.set_column(table.schema.get_field_index(column), column, pa.array(vals, table[column].type))


@settings(max_examples=120, deadline=None)
@given(labelled_pair(), st.integers(1, 3), st.data(), st.lists(st.integers(0, 40), max_size=3), st.integers(1, 7))
def test_matches_the_spec_oracle(tmp_path_factory, data, s, draw, cuts, batch):
    cal, prod = data
    try:
        certify(cal, EV, "d", weight="w", min_support=s)
    except DcbError:  # no calibration row without a null: no certificate (not coverage's concern)
        assume(False)
    try:
        want = oracle_figures(cal, prod, s)
    except ZeroDivisionError:  # no weight or no label in production: ours refuses with an error
        with pytest.raises(DcbError):
            ours(cal, prod, s)
        return
    got = ours(cal, prod, s)
    for k in FIGURES:
        assert got[k] == want[k], k
    assert {a: v for a, v in got["certified_coverage_by_action"].items() if v} == \
        {a: v for a, v in want["certified_coverage_by_action"].items() if v}

    # row order, file split and batch size change nothing, not even a bit
    perm = draw.draw(st.permutations(range(prod.num_rows)))
    d = tmp_path_factory.mktemp("prod")
    shuffled = ours(cal, as_files(prod.take(pa.array(perm, pa.int64())), cuts, d), s, batch_rows=batch)
    assert {k: shuffled[k] for k in FIGURES} == {k: got[k] for k in FIGURES}
    assert shuffled["fibers_by_class"] == got["fibers_by_class"] and shuffled["n_fibers"] == got["n_fibers"]

    # evidence values renamed by a bijection (in both tables) change no figure
    emap = dict(zip(["p", "q", "r", "s", "t"], draw.draw(st.permutations(["k", "l", "m", "n", "o"]))))
    renamed = ours(relabel(cal, "e", emap), relabel(prod, "e", emap), s)
    assert {k: renamed[k] for k in FIGURES} == {k: got[k] for k in FIGURES}


def test_null_evidence_unseen_and_dropped_by_hand():
    # calibration: (x, 1) certified a (2 rows); (y, 1) mixed; min support 2
    cal = pa.table({"e": ["x", "x", "y", "y"], "f": pa.array([1, 1, 1, 1], pa.int16()), "d": ["a", "a", "a", "b"]})
    prod = pa.table({
        "e": ["x", "x", None, "y", "z", "x"],
        "f": pa.array([1, 1, 1, 1, 1, None], pa.int16()),
        "d": ["a", "b", "a", "a", None, "a"],
        "w": pa.array([4, 1, 2, 3, 5, None], pa.int64()),
    })
    r = coverage(certify(cal, EV, "d", min_support=2), prod, weight="w", action="d")
    m = r.metrics
    # kept weight 15 (the null-weight row is dropped): certified 5, ambiguous 3, unseen 2 + 5
    assert (m["n_rows"], m["dropped_rows"], m["total_weight"]) == (5, 1, 15.0)
    assert (m["certified_coverage"], m["ambiguous_coverage"], m["unseen_fraction"]) == (5 / 15, 3 / 15, 7 / 15)
    assert m["null_evidence_fraction"] == 2 / 15
    # labelled weight 10 (z's action is null): certificate wrong on (x,1,b) 1 of 5 certified
    assert m["false_decisions"]["certificate"] == 1 / 10 and m["error_among_certified"] == 1 / 5
    assert m["fibers_by_class"] == {"certified": 1, "ambiguous": 1, "thin": 0, "unseen": 2}
    assert r.uncovered.column("class").to_pylist() == ["unseen", "ambiguous", "unseen"]
    assert r.uncovered.column("e").to_pylist() == ["z", "y", None]


def test_layout_packs_columns_into_words():
    word_of, strides, nw = PL._layout([3, 5, 2])
    assert (word_of.tolist(), strides.tolist(), nw) == ([0, 0, 0], [1, 3, 15], 1)
    word_of, strides, nw = PL._layout([2**40, 2**30, 7])
    assert (word_of.tolist(), strides.tolist(), nw) == ([0, 1, 1], [1, 1, 2**30], 2)


def test_table_finds_every_key_and_nothing_else():
    rng = np.random.default_rng(3)
    words = np.unique(rng.integers(0, 2**40, (500, 2)), axis=0)
    slots = kl.build_table(words)
    assert all(kl.find(slots, words[f]) == f for f in range(len(words)))
    assert kl.find(slots, np.array([-5, 3], np.int64)) == -1


def test_uncovered_table_keeps_the_production_column_types():
    """An int8 production column against a certificate built on int64 values: the uncovered
    table (ambiguous and thin certificate fibers included) is typed as the audit path types it."""
    C = production
    cal = pa.table({"e": ["a", "a", "b", "b", "c"] * 4, "f": [1, 1, 2, 2, 3] * 4, "d": ["x", "x", "y", "y", "x"] * 4,
                    "w": [1., 0., 2., 1., 0.] * 4})
    prod = pa.table({"e": ["a", "b", "c", "z", None, "a"] * 3, "f": pa.array([1, 2, 3, 4, 1, None] * 3, pa.int8()),
                     "d": ["x", "y", "y", "x", "x", None] * 3, "w": [1., 0., 2., 1., 3., 0.] * 3})
    cert = certify(cal, ["e", "f"], "d", weight="w", min_support=2)
    got = coverage(cert, prod, weight="w", action="d")
    saved = C.LOOKUP
    C.LOOKUP = False
    try:
        want = coverage(cert, prod, weight="w", action="d")
    finally:
        C.LOOKUP = saved
    assert got.uncovered.schema.field("f").type == pa.int8()
    assert got.uncovered.equals(want.uncovered) and got.summary == want.summary
