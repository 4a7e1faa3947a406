"""Invariances of audits, coverage and completion (issue 14): shuffling the rows, splitting the
input into files and batches, and relabelling the action values by a bijection change nothing:
the same summaries (up to the relabelling), and, where cheap, the oracle's figures."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, strategies as st

from dcb_fast import audit, certify, complete, coverage
from dcb_fast.errors import DcbError

from . import multifile
from .multifile import as_files
from .reference import (audit_oracle, certificate_oracle, compare_metrics, coverage_oracle, greedy_completion_oracle,
                        label, norm)

ACTIONS = ["a", "b", "c"]
NEW_LABELS = ["zz", "m", "b", "a0"]  # another order than the old labels: a bijection can reorder ties


@st.composite
def labelled(draw, max_rows=40, unseen=False, nulls=True):
    """A table with two evidence columns (nulls, and unseen values for production), two probes,
    an action (nullable) and a weight (zeros, sometimes null)."""
    n = draw(st.integers(1, max_rows))

    def col(values, null=nulls):
        return draw(st.lists(st.one_of(st.sampled_from(values), st.none()) if null else st.sampled_from(values),
                             min_size=n, max_size=n))

    return pa.table({
        "e": pa.array(col(["p", "q", "r"] + (["s"] if unseen else []))),
        "f": pa.array(col([0, 1, 2] + ([7] if unseen else [])), pa.int16()),
        "u": pa.array(col([0, 1, 2], null=False), pa.int8()),
        "v": pa.array(col(["x", "y"], null=False)),
        "d": pa.array(col(ACTIONS)),
        "w": pa.array(draw(st.lists(st.one_of(st.sampled_from([0.0, 1.0, 2.0, 0.5, 3.0]),
                                              *([st.none()] if nulls else [])), min_size=n, max_size=n))),
    })


def permuted(table: pa.Table, perm) -> pa.Table:
    return table.take(pa.array(perm, pa.int64()))


def relabel(table: pa.Table, mapping: dict) -> pa.Table:
    d = [None if v is None else mapping[v] for v in table["d"].to_pylist()]
    return table.set_column(table.schema.get_field_index("d"), "d", pa.array(d, pa.string()))


def outcome(fn):
    """The metrics of a run, or its error message (an error must be invariant too)."""
    try:
        return fn().summary["metrics"]
    except DcbError as exc:
        return ("error", str(exc))


def map_keys(m, mapping: dict, keys):
    """Metrics with the per-action maps of ``keys`` relabelled."""
    if isinstance(m, tuple):
        return m
    out = dict(m)
    for k in keys:
        if k in out and isinstance(out[k], dict):
            out[k] = {mapping.get(a, a): v for a, v in out[k].items()}
    if isinstance(out.get("actions"), list):
        out["actions"] = sorted(mapping.get(a, a) for a in out["actions"])
    return out


def sorted_actions(m):
    if isinstance(m, tuple):
        return m
    return {**m, "actions": sorted(m["actions"])} if "actions" in m else m


def bijections():
    return st.permutations(NEW_LABELS).map(lambda p: dict(zip(ACTIONS, p)))


# --- audits -------------------------------------------------------------------------------------------------
AUDIT_MAPS = ("certified_rows", "certified_weight", "certified_fibers", "prevalence")


@given(labelled(), st.data(), st.lists(st.integers(0, 40), max_size=3), st.integers(1, 7), bijections(),
       st.integers(1, 3), st.sampled_from(["ambiguous", "skip"]))
def test_audit_invariances(tmp_path_factory, table, data, cuts, batch, mapping, s, thin):
    perm = data.draw(st.permutations(range(table.num_rows)))
    kw = dict(evidence=["e", "f"], action="d", weight="w", min_support=s, thin=thin)
    base = outcome(lambda: audit(table, **kw))
    shuffled = outcome(lambda: audit(permuted(table, perm), **kw))
    files = outcome(lambda: audit(as_files(permuted(table, perm), cuts, tmp_path_factory.mktemp("a")),
                                  batch_rows=batch, **kw))
    assert shuffled == base and files == base
    relabelled = outcome(lambda: audit(relabel(table, mapping), **kw))
    assert sorted_actions(relabelled) == map_keys(base, mapping, AUDIT_MAPS)
    if not isinstance(base, tuple):
        compare_metrics(base, audit_oracle(table.to_pylist(), ["e", "f"], "d", "w", s, thin))


def test_audit_multifile_dataset_shuffled_and_split(tmp_path):
    """The multi-file dataset (its own string dictionary per file, plain strings in one, an empty
    file): read as files, or as one table shuffled, or relabelled, the audit is the same."""
    names = multifile.write_dataset(tmp_path, files=4, rows=300)
    paths = [str(tmp_path / n) for n in names]
    whole = pa.concat_tables([pq.read_table(p).cast(pq.read_table(paths[0]).schema) for p in paths])
    kw = dict(evidence=multifile.EVIDENCE, action=multifile.ACTION, weight=multifile.WEIGHT, min_support=2)
    base = audit(paths, batch_rows=61, **kw).metrics
    perm = list(reversed(range(whole.num_rows)))[::2] + list(reversed(range(whole.num_rows)))[1::2]
    assert audit(permuted(whole, perm), **kw).metrics == base
    mapping = {"r0": "z", "r1": "r0", "r2": "a"}
    route = [mapping[v] for v in whole[multifile.ACTION].to_pylist()]
    moved = whole.set_column(whole.schema.get_field_index(multifile.ACTION), multifile.ACTION, pa.array(route))
    assert sorted_actions(audit(moved, **kw).metrics) == map_keys(base, mapping, AUDIT_MAPS)


# --- coverage -----------------------------------------------------------------------------------------------
COVERAGE_MAPS = ("certified_coverage_by_action",)
TIE_SENSITIVE = ("fiber_majority", "global_majority")  # a majority tie is broken by action order


def majority_ties(rows) -> bool:
    """Does a calibration fiber, or the whole calibration, have two heaviest actions?"""
    fib, total = {}, {}
    for r in rows:
        key, a, w = (norm(r["e"]), norm(r["f"])), r["d"], r["w"]
        if a is None or w is None or None in key:
            continue
        fib.setdefault(key, {}).setdefault(a, 0)
        fib[key][a] += w
        total[a] = total.get(a, 0) + w
    def tied(cells):
        top = sorted(cells.values(), reverse=True)
        return len(top) > 1 and top[0] == top[1]
    return tied(total) or any(tied(c) for c in fib.values())


def run_coverage(cal, prod, s, batch_rows=None):
    kw = {"batch_rows": batch_rows} if batch_rows else {}

    def go():
        cert = certify(cal, ["e", "f"], "d", weight="w", min_support=s, **kw)
        return coverage(cert, prod, weight="w", action="d", top_k=50, **kw)
    return outcome(go)


def without_tie_sensitive(m):
    if isinstance(m, tuple):
        return m
    return {**m, "false_decisions": {k: v for k, v in m["false_decisions"].items() if k not in TIE_SENSITIVE}}


@given(labelled(), labelled(unseen=True), st.data(), st.lists(st.integers(0, 40), max_size=3), st.integers(1, 7),
       bijections(), st.integers(1, 3))
def test_coverage_invariances(tmp_path_factory, cal, prod, data, cuts, batch, mapping, s):
    cperm = data.draw(st.permutations(range(cal.num_rows)))
    pperm = data.draw(st.permutations(range(prod.num_rows)))
    base = run_coverage(cal, prod, s)
    assert run_coverage(permuted(cal, cperm), permuted(prod, pperm), s) == base
    d = tmp_path_factory.mktemp("c")
    (d / "cal").mkdir()
    (d / "prod").mkdir()
    assert run_coverage(as_files(permuted(cal, cperm), cuts, d / "cal"),
                        as_files(permuted(prod, pperm), cuts[::-1], d / "prod"), s, batch_rows=batch) == base
    relabelled = run_coverage(relabel(cal, mapping), relabel(prod, mapping), s)
    want = map_keys(base, mapping, COVERAGE_MAPS)
    if majority_ties(cal.to_pylist()):
        relabelled, want = without_tie_sensitive(relabelled), without_tie_sensitive(want)
    assert relabelled == want
    if isinstance(base, tuple):
        return
    oracle = coverage_oracle(cal.to_pylist(), prod.to_pylist(), ["e", "f"], "d", cal_weight="w", weight="w",
                             prod_action="d", min_support=s)
    for k, v in oracle.items():
        if k == "certified_coverage_by_action":  # actions certified on no traffic may be listed with 0
            assert {a: x for a, x in base[k].items() if x} == {a: x for a, x in v.items() if x}
        else:
            assert base[k] == v, k
    parts = ("certified_coverage", "ambiguous_coverage", "thin_coverage", "unseen_fraction")
    assert sum(base[k] for k in parts) == pytest.approx(1.0, abs=1e-12)


def test_coverage_oracle_sees_the_global_majority_by_weight():
    # a guard on the oracle itself: c wins no fiber but has the most weight
    cert, glob = certificate_oracle([{"e": 1, "d": "a", "w": 3}, {"e": 1, "d": "c", "w": 2},
                                     {"e": 2, "d": "b", "w": 3}, {"e": 2, "d": "c", "w": 2}], ["e"], "d", "w")
    assert glob == "c" and {k: v[2] for k, v in cert.items()} == {(1,): "a", (2,): "b"}
    assert label(True) == "true"


# --- completion ---------------------------------------------------------------------------------------------
@given(labelled(nulls=False), st.data(), st.lists(st.integers(0, 40), max_size=3), st.integers(1, 7), bijections(),
       st.integers(1, 3), st.booleans(), st.sampled_from([None, 0.4]))
def test_completion_invariances(tmp_path_factory, table, data, cuts, batch, mapping, s, with_costs, holdout):
    perm = data.draw(st.permutations(range(table.num_rows)))
    costs = {"f": 3.0, "u": 1.0, "v": 0.5} if with_costs else None
    kw = dict(evidence=["e"], action="d", probes=["f", "u", "v"], weight="w", min_support=s, costs=costs,
              holdout=holdout, seed=5)
    base = outcome(lambda: complete(table, **kw))
    assert outcome(lambda: complete(permuted(table, perm), **kw)) == base
    assert outcome(lambda: complete(as_files(permuted(table, perm), cuts, tmp_path_factory.mktemp("k")),
                                    batch_rows=batch, **kw)) == base
    if holdout is None:
        # certification does not look at which action a fiber carries, only at how many: the
        # curve is label-free (a held-out split walks the (fiber, action) cells in value order,
        # so there a relabelling draws another split; that is why it is left out)
        assert outcome(lambda: complete(relabel(table, mapping), **kw)) == base
        if not isinstance(base, tuple):
            want = greedy_completion_oracle(table.to_pylist(), ["e"], "d", ["f", "u", "v"], "w", s, None, costs)
            assert [(c["probe"], c["certifiable_fraction"]) for c in base["curve"]] == want
