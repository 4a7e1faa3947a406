"""The Dask engine's partition-wise plan (issue 20): a fiber's partition depends on its values
alone, the pieces of a split are disjoint and add up to the state, and on a LocalCluster (started
once for the module) the result equals the local one whatever the number of tasks, partitions
or workers, also after a worker is restarted mid-run."""

from __future__ import annotations

import threading
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from distributed.diagnostics.plugin import WorkerPlugin
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dcb_fast import FiberState, audit
from dcb_fast.engines.checkpoint import PartialSpec
from dcb_fast.engines.dask import run_dask
from dcb_fast.fibers.split import merge_tables, split_state
from dcb_fast.io.sources import open_source
from dcb_fast.methods.audit import AuditResult

from .multifile import ACTION, EVIDENCE, WEIGHT, table, two_worker_cluster
from .strategies import tables


def cells_of(t: pa.Table) -> dict:
    """{(evidence values..., action): rows} of a serialized state, decoded to values."""
    cols = [c for c in t.column_names if not c.startswith("__")]
    vals = [t[c].to_pylist() for c in cols]
    return {tuple(repr(v[i]) for v in vals): r for i, r in enumerate(t["__rows"].to_pylist())}  # repr: NaN == NaN


def state_of(t: pa.Table, evidence, action, shards=1, nulls="drop") -> FiberState:
    st = FiberState(evidence, action, nulls=nulls, shards=shards)
    st.update(t)
    return st


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tables(max_rows=60, weighted=False), st.integers(1, 7), st.sampled_from(["drop", "value"]),
       st.randoms(use_true_random=False))
def test_a_fiber_lands_in_one_partition_whatever_state_counted_it(data, parts, nulls, rnd):
    """Two states of the same rows seen in other orders (other dictionaries, other codes) put
    every fiber in the same piece; pieces are disjoint and hold every cell once."""
    _, t, evidence, action, _ = data
    order = list(range(t.num_rows))
    rnd.shuffle(order)
    a = split_state(state_of(t, evidence, action, nulls=nulls), parts)
    b = split_state(state_of(t.take(pa.array(order, pa.int64())), evidence, action, nulls=nulls), parts)
    assert len(a) == len(b) == parts
    fibers_a = [{k[:-1] for k in cells_of(p)} for p in a]
    assert fibers_a == [{k[:-1] for k in cells_of(p)} for p in b]
    for i in range(parts):
        for j in range(i + 1, parts):
            assert not fibers_a[i] & fibers_a[j]
    whole = cells_of(state_of(t, evidence, action, nulls=nulls).to_arrow())
    joined = {}
    for p in a:
        joined.update(cells_of(p))
    assert joined == whole
    assert merge_tables(a).rows_read == t.num_rows  # only the first piece carries the totals


def test_split_and_merge_match_a_hand_count():
    """Rows by (lang, route) counted by hand, through a split into 3 pieces and back."""
    t = pa.table({"lang": ["en", "fr", "en", "de", "fr", "en", None],
                  "route": ["a", "a", "b", "a", "a", "a", "a"]})
    pieces = split_state(state_of(t, ["lang"], "route"), 3)
    got = {}
    for p in pieces:
        got.update(cells_of(p))
    assert got == {("'en'", "'a'"): 2, ("'en'", "'b'"): 1, ("'fr'", "'a'"): 2, ("'de'", "'a'"): 1}  # reprs
    merged = merge_tables(pieces)
    assert (merged.n_fibers, merged.n_rows, merged.rows_read, merged.dropped_rows) == (3, 6, 7, 1)


def test_null_lands_alike_when_a_column_was_all_null_in_one_state():
    """With --nulls value, a state whose column held only nulls (no type yet) and one where it
    held strings put the null fiber in the same piece."""
    a = state_of(pa.table({"lang": pa.array(["en", None, "fr"]), "route": ["a", "b", "a"]}), ["lang"], "route",
                 nulls="value")
    b = state_of(pa.table({"lang": pa.nulls(2), "route": ["b", "a"]}), ["lang"], "route", nulls="value")
    pa_, pb = split_state(a, 5), split_state(b, 5)
    where_a = {k: i for i, p in enumerate(pa_) for k in cells_of(p) if k[0] == "None"}
    where_b = {k: i for i, p in enumerate(pb) for k in cells_of(p)}
    assert set(where_b.values()) == {where_a[("None", "'b'")]} and len(where_b) == 2
    merged = merge_tables(pa_ + pb)
    assert (merged.n_fibers, merged.n_rows) == (3, 5)


@pytest.mark.parametrize("kw, message", [({"partitions": 0}, "partitions must be at least 1, got 0"),
                                         ({"tasks": 0}, "tasks must be at least 1, got 0")])
def test_bad_plan_options(kw, message):
    from dcb_fast.errors import DcbError

    src = open_source(table(5, 0), EVIDENCE + [ACTION])
    with pytest.raises(DcbError) as exc:
        run_dask(src, PartialSpec.of(src, EVIDENCE, ACTION, None, "drop", {}), "local:1", **kw)
    assert str(exc.value) == message


# -- on a LocalCluster ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster():
    c, client = two_worker_cluster()
    yield c, client
    client.close()
    c.close()


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """Two Parquet files of 50-row row groups (with nulls, each its own dictionaries)."""
    root = tmp_path_factory.mktemp("plan")
    paths = []
    for i in range(2):
        p = root / f"big{i}.parquet"
        pq.write_table(table(600, seed=40 + i), p, row_group_size=50)
        paths.append(str(p))
    return paths


def same_as_local(paths, client, **kw):
    src = open_source(paths, EVIDENCE + [ACTION, WEIGHT])
    spec = PartialSpec.of(src, EVIDENCE, ACTION, WEIGHT, "drop", {})
    state, info = run_dask(src, spec, client, **kw)
    got = AuditResult.from_state(state, src)
    want = audit(paths, evidence=EVIDENCE, action=ACTION, weight=WEIGHT)
    assert got.summary == want.summary and got.fibers.equals(want.fibers)
    return info


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                 HealthCheck.too_slow])
@given(part_rows=st.sampled_from([50, 120, 300, 10_000]), partitions=st.integers(1, 9), tasks=st.integers(1, 5))
def test_identical_to_local_whatever_the_tasks_and_partitions(cluster, big, part_rows, partitions, tasks):
    info = same_as_local(big, cluster[1], part_rows=part_rows, partitions=partitions, tasks=tasks)
    assert info["partitions"] == partitions and info["parts"] == info["computed"]
    assert info["tasks"] == min(tasks, info["parts"]) == len(info["part_fibers"])
    assert info["parts"] == {50: 24, 120: 8, 300: 4, 10_000: 2}[part_rows]  # 12 row groups of 50 per file
    assert info["state_bytes"] > 0 and info["shipped_bytes"] == info["map_bytes"] + info["reduced_bytes"]


def test_identical_to_local_on_one_worker_and_on_two(cluster, big):
    """The default plan (parts shared evenly among the workers, 2 partitions each) on 2 workers
    and on 1 (the other retired)."""
    c, client = cluster
    info = same_as_local(big, client)
    assert (info["workers"], info["tasks"], info["partitions"], info["parts"]) == (2, 2, 4, 2)
    c.scale(1)  # the cluster retires one worker (its spec shrinks, so scale(2) starts a new one)
    try:
        for _ in range(600):
            if len(client.scheduler_info()["workers"]) == 1:
                break
            time.sleep(0.1)
        info = same_as_local(big, client)
        assert (info["workers"], info["tasks"], info["partitions"], info["parts"]) == (1, 1, 2, 2)  # a part a file
    finally:
        c.scale(2)
        client.wait_for_workers(2, timeout=120)


class SlowReads(WorkerPlugin):
    """Every file read on a worker waits ``seconds`` first, so a run is still going when a
    worker is restarted."""

    def __init__(self, seconds):
        self.seconds = seconds

    def setup(self, worker):
        from dcb_fast.io import sources

        original = getattr(sources, "_unpatched_read_file", sources._read_file)
        sources._unpatched_read_file = original
        pause = self.seconds

        def read(info, *args, **kwargs):
            time.sleep(pause)
            return original(info, *args, **kwargs)

        sources._read_file = read

    def teardown(self, worker):
        from dcb_fast.io import sources

        sources._read_file = sources._unpatched_read_file


def test_worker_restarted_mid_run_changes_nothing(cluster, big, tmp_path):
    """``client.restart_workers`` (the nanny kills the worker process and starts a new one) while
    map tasks run: Dask recomputes the lost tasks, the result is the local one, and the cluster
    is back to 2 workers at once (no 120 s wait for a dead worker's heartbeat)."""
    _, client = cluster
    client.register_plugin(SlowReads(1.0), name="slow-reads")
    out, errors = {}, []

    def go():
        try:
            out["info"] = same_as_local(big, client, part_rows=100, partitions=3, checkpoint=str(tmp_path / "ck"))
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)

    try:
        t = threading.Thread(target=go)
        t.start()
        victim = None
        for _ in range(600):
            busy = {w: ks for w, ks in client.processing().items() if any(k.startswith("dcb-map") for k in ks)}
            if busy:
                victim = sorted(busy)[0]
                break
            time.sleep(0.05)
        assert victim is not None
        before = set(client.scheduler_info()["workers"])
        client.restart_workers([victim], timeout=60)
        t.join(timeout=300)
        assert not t.is_alive() and not errors, errors
        after = set(client.scheduler_info()["workers"])
        assert len(after) == 2 and victim not in after and before - after == {victim}
        info = out["info"]
        assert info["parts"] == 12 == info["computed"] + info["reused"] and info["tasks"] == 2
    finally:
        client.unregister_worker_plugin("slow-reads")
        client.wait_for_workers(2, timeout=120)


def test_log_benchmark_body_once_on_tiny_data(cluster, tmp_path):
    """bench/test_dask.py's 10M-log body on a 3000-row log, every plan, so the benchmark never rots."""
    from bench.data import log_file
    from bench.test_dask import PLANS, log_audit

    path = log_file(3000, directory=str(tmp_path))
    want = log_audit(path).metrics
    for plan in PLANS.values():
        res = log_audit(path, cluster[1], plan)
        assert res.metrics == want and res.run_info["tasks"] == min(plan.get("tasks", 2), res.run_info["parts"])
