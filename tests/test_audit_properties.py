"""The audit agrees exactly with the oracle, whatever the batching, threads, splits and merges."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, strategies as st

from dcb_fast import FiberState, audit
from dcb_fast.methods.audit import AuditResult
from dcb_fast.errors import DcbError

from .reference import audit_oracle, compare_metrics, fiber_rows_oracle, label, norm
from .strategies import tables


import contextlib


@contextlib.contextmanager
def key_space(cells):
    """Run with dense counting for key spaces up to ``cells`` (0: always hash)."""
    import dcb_fast.fibers.state as F

    old = F._DENSE_CELLS
    F._DENSE_CELLS = cells
    try:
        yield
    finally:
        F._DENSE_CELLS = old


def _audit_or_empty(table, ev, act, w, **kw):
    try:
        return audit(table, evidence=ev, action=act, weight=w, **kw)
    except DcbError as exc:  # nothing kept, or a total weight of zero (every fraction undefined)
        assert "no rows" in str(exc) or "empty input" in str(exc) or f"weight column '{w}' sums to 0" in str(exc)
        return None


@given(tables(), st.integers(1, 4), st.sampled_from(["ambiguous", "skip"]), st.sampled_from(["drop", "value"]),
       st.sampled_from([0, 4, 1 << 16]), st.integers(1, 9))
def test_matches_oracle(data, min_support, thin, nulls, cells, batch):
    """Whether counted in hash shards, in a dense table, or both (a dense table outgrown
    mid-stream), the result is the oracle's."""
    rows, table, ev, act, w = data
    want = audit_oracle(rows, ev, act, w, min_support, thin, nulls)
    with key_space(cells):
        got = _audit_or_empty(table, ev, act, w, min_support=min_support, thin=thin, nulls=nulls, batch_rows=batch)
    if got is None:
        assert want["n_rows"] == 0 or want["total_weight"] == 0
        return
    compare_metrics(got.metrics, want)


@given(tables(nullable=True), st.sampled_from(["drop", "value"]))
def test_fiber_table_matches_oracle(data, nulls):
    rows, table, ev, act, w = data
    got = _audit_or_empty(table, ev, act, w, nulls=nulls)
    want = fiber_rows_oracle(rows, ev, act, w, nulls)
    if got is None:
        assert not want or audit_oracle(rows, ev, act, w, nulls=nulls)["total_weight"] == 0
        return
    f = got.fibers.to_pydict()
    seen = {}
    labels = [c[5:-1] for c in f if c.startswith("rows[")]
    for i in range(got.fibers.num_rows):
        key = tuple(norm(f[c][i]) for c in ev)
        per = {a: f[f"rows[{a}]"][i] for a in labels if f[f"rows[{a}]"][i]}
        seen[key] = (f["rows"][i], per)
        assert f["class"][i] == ("ambiguous" if len(per) > 1 else "certified")
    assert seen == want


@given(tables(max_rows=80), st.integers(1, 9), st.sampled_from([1, 2]))
def test_batch_size_and_threads_do_not_matter(data, batch_rows, threads):
    rows, table, ev, act, w = data
    base = _audit_or_empty(table, ev, act, w, nulls="value")
    other = _audit_or_empty(table, ev, act, w, nulls="value", batch_rows=batch_rows, threads=threads)
    if base is None:
        assert other is None
        return
    assert other.metrics == base.metrics
    assert other.fibers.equals(base.fibers)


@given(tables(max_rows=80), st.lists(st.integers(0, 80), max_size=5), st.randoms(use_true_random=False),
       st.booleans())
def test_any_split_merged_in_any_order(data, cuts, rnd, serialize):
    """Partials from arbitrary row ranges (each with its own dictionaries, some re-encoded as
    dictionary arrays or chunked) merge to the same result in any order."""
    rows, table, ev, act, w = data
    base = _audit_or_empty(table, ev, act, w)
    bounds = sorted({0, table.num_rows, *[min(c, table.num_rows) for c in cuts]})
    parts = []
    for a, b in zip(bounds, bounds[1:]):
        piece = table.slice(a, b - a)
        if rnd.random() < 0.5:  # re-encode string columns with this piece's own dictionary
            piece = pa.table({n: (c.dictionary_encode() if pa.types.is_string(c.type) else c)
                              for n, c in zip(piece.column_names, piece.columns)})
        st_ = FiberState(ev, act, w)
        for batch in piece.to_batches(max_chunksize=rnd.randint(1, 7)):
            st_.update(batch)
        parts.append(FiberState.from_ipc(st_.to_ipc()) if serialize else st_)
    rnd.shuffle(parts)
    merged = FiberState(ev, act, w)
    # merge as a random binary tree
    while len(parts) > 1:
        i = rnd.randrange(len(parts) - 1)
        parts[i:i + 2] = [parts[i].merge(parts[i + 1])]
    if parts:
        merged.merge(parts[0])
    if base is None:
        assert merged.n_rows == 0 or audit_oracle(rows, ev, act, w)["total_weight"] == 0
        return
    got = AuditResult.from_state(merged)
    assert got.metrics == base.metrics
    assert got.fibers.equals(base.fibers)


@given(tables(max_rows=50, nullable=False), st.integers(1, 4))
def test_files_with_different_dictionaries(tmp_path_factory, data, nfiles):
    rows, table, ev, act, w = data
    d = tmp_path_factory.mktemp("files")
    step = max(1, -(-table.num_rows // nfiles))
    paths = []
    for i, off in enumerate(range(0, max(table.num_rows, 1), step)):
        piece = table.slice(off, step)
        p = d / f"part{i}.parquet"
        pq.write_table(piece, p, row_group_size=max(1, step // 2))
        paths.append(str(p))
    base = _audit_or_empty(table, ev, act, w)
    got = _audit_or_empty(paths, ev, act, w, batch_rows=3)
    if base is None:
        assert got is None
        return
    assert got.metrics == base.metrics
    # Parquet may hand strings back with another physical type (large_string -> string)
    assert got.fibers.to_pylist() == base.fibers.to_pylist()


def test_column_order_does_not_change_metrics():
    rnd = random.Random(3)
    t = pa.table({"a": [rnd.choice("xyz") for _ in range(500)], "b": [rnd.randint(0, 5) for _ in range(500)],
                  "d": [rnd.randint(0, 2) for _ in range(500)]})
    m1 = audit(t, ["a", "b"], "d").metrics
    m2 = audit(t, ["b", "a"], "d").metrics
    assert m1 == m2


def test_sliced_and_chunked_arrays():
    base = pa.table({"e": ["a", "b", None, "a", "c", "b", "a"] * 5, "d": [1, 2, 1, 1, 2, 2, 1] * 5})
    sliced = base.slice(3, 20)
    chunked = pa.Table.from_batches(sliced.to_batches(max_chunksize=4) + [sliced.slice(0, 0).to_batches()[0]]
                                    if sliced.slice(0, 0).to_batches() else sliced.to_batches(max_chunksize=4))
    rows = sliced.to_pylist()
    want = audit_oracle(rows, ["e"], "d")
    for t in (sliced, chunked, sliced.combine_chunks()):
        compare_metrics(audit(t, ["e"], "d").metrics, want)


def test_tuple_keys_beyond_64_bits_are_exact():
    """Eight columns of 2**20 distinct values each: the key space is 2**160, keys stay exact."""
    import numpy as np

    rng = np.random.default_rng(0)
    n = 20000
    cols = {f"c{j}": rng.integers(0, 1 << 20, n) for j in range(8)}
    cols["c0"][: n // 2] = cols["c0"][n // 2:]  # duplicate keys in the second half
    for j in range(1, 8):
        cols[f"c{j}"][: n // 2] = cols[f"c{j}"][n // 2:]
    act = rng.integers(0, 2, n)
    t = pa.table({**cols, "d": act})
    rows = t.to_pylist()
    ev = [f"c{j}" for j in range(8)]
    compare_metrics(audit(t, ev, "d").metrics, audit_oracle(rows, ev, "d"))


def test_label_helper_matches_library():
    from dcb_fast.fibers.finalize import action_key

    for v in [None, True, False, 3, "x", 2.5]:
        assert action_key(v) == label(v)


@pytest.mark.parametrize("cells", [0, 1 << 16])
@pytest.mark.parametrize("threads", [1, 2, 3])
def test_large_batches_take_the_parallel_paths(threads, cells):
    """Batches of 2**15 rows and more are encoded, hashed and counted on several threads; the
    result must not change (small hypothesis tables never reach those paths)."""
    import numpy as np

    rng = np.random.default_rng(11)
    n = 120_000
    a = rng.integers(0, 300, n)
    b = pa.array([f"s{x}" for x in rng.integers(0, 40, n)]).dictionary_encode()
    d = rng.integers(0, 3, n)
    w = rng.integers(0, 5, n).astype(float) / 4
    mask = rng.random(n) < 0.01
    t = pa.table({"a": pa.array(a, mask=mask), "b": b, "d": d, "w": w})
    rows = t.to_pylist()
    want = audit_oracle(rows, ["a", "b"], "d", "w", min_support=2)
    with key_space(cells):
        got = audit(t, ["a", "b"], "d", weight="w", min_support=2, threads=threads, batch_rows=50_000)
    compare_metrics(got.metrics, want)
    base = audit(t, ["a", "b"], "d", weight="w", min_support=2, threads=1, batch_rows=1 << 20)
    assert got.fibers.equals(base.fibers)
    # merging a serialized copy doubles every count: same fibers, same fractions
    st = got.state
    twice = AuditResult.from_state(FiberState.from_ipc(st.to_ipc(), shards=threads).merge(st), min_support=4).metrics
    assert twice["n_rows"] == 2 * got.metrics["n_rows"]
    for k in ("n_fibers", "n_mixed_fibers", "certifiable_fraction", "ambiguous_fraction", "thin_fraction",
              "decision_risk", "prevalence"):
        assert twice[k] == got.metrics[k], k


def test_dense_table_outgrown_mid_stream():
    """Early batches fit a dense table, later ones bring new values: the counts move to the hash
    shards and the result is still the oracle's."""
    import numpy as np

    rng = np.random.default_rng(5)
    n = 200_000
    a = np.where(np.arange(n) < n // 2, rng.integers(0, 4, n), rng.integers(0, 5000, n))
    t = pa.table({"a": a, "b": rng.integers(0, 3, n), "d": rng.integers(0, 2, n)})
    want = audit_oracle(t.to_pylist(), ["a", "b"], "d")
    compare_metrics(audit(t, ["a", "b"], "d", batch_rows=40_000).metrics, want)
