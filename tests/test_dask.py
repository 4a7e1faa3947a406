"""The Dask engine on a real LocalCluster (2 worker processes): outputs byte-identical to the local
run, a worker killed mid-job loses nothing, kernels warmed on every worker, and the CLI options
with their exact errors."""

from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from distributed.diagnostics.plugin import WorkerPlugin

from dcb_fast import audit
from dcb_fast.methods.audit import AuditResult
from dcb_fast.cli import main
from dcb_fast.engines.checkpoint import PartialSpec
from dcb_fast.engines.dask import (
    local_cluster_options,
    register_plugin,
    run_dask,
    usable_cpus,
)
from dcb_fast.io.sources import open_source

from .multifile import ACTION, EVIDENCE, WEIGHT, outputs, table, two_worker_cluster, write_dataset


@pytest.fixture(scope="module")
def client():
    cluster, client = two_worker_cluster()
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    names = write_dataset(root)
    return SimpleNamespace(root=str(root), names=names, ck=str(tmp_path / "ck"), tmp=tmp_path)


def run(data, **kw):
    return audit(data.root, **{"evidence": EVIDENCE, "action": ACTION, "weight": WEIGHT, **kw})


def test_outputs_identical_to_the_local_run(client, data):
    want = outputs(run(data), data.tmp / "local")
    got = run(data, scheduler=client)
    assert got.run_info["engine"] == "dask" and got.run_info["workers"] == 2
    assert got.run_info["parts"] == len(data.names) == got.run_info["computed"]
    assert outputs(got, data.tmp / "dask") == want
    # with a checkpoint: a re-run reuses every part; a changed file alone is recomputed
    first = run(data, scheduler=client, checkpoint=data.ck)
    assert first.run_info["computed"] == len(data.names) and outputs(first, data.tmp / "ck1") == want
    changed = os.path.join(data.root, data.names[2])
    pq.write_table(table(250, seed=21), changed)
    again = run(data, scheduler=client, checkpoint=data.ck)
    assert again.run_info["computed_parts"] == [changed] and again.run_info["reused"] == len(data.names) - 1
    assert outputs(again, data.tmp / "ck2") == outputs(run(data), data.tmp / "local2") != want


def test_tree_reduction_over_row_group_parts(client, tmp_path):
    """Many parts (row groups of big files) merged two at a time over several levels, through a
    scheduler address: still the local result."""
    paths = []
    for i in range(3):
        p = tmp_path / f"big{i}.parquet"
        pq.write_table(table(900, seed=30 + i), p, row_group_size=100)
        paths.append(str(p))
    cols = EVIDENCE + [ACTION, WEIGHT]
    src = open_source(paths, cols)
    spec = PartialSpec.of(src, EVIDENCE, ACTION, WEIGHT, "drop", {})
    state, stats = run_dask(src, spec, client.scheduler.address, partitions=3, part_rows=200)
    assert stats["parts"] == 15 == stats["computed"]  # 5 runs of row groups per file
    got = AuditResult.from_state(state, src)
    want = audit(paths, evidence=EVIDENCE, action=ACTION, weight=WEIGHT)
    assert got.summary == want.summary and got.fibers.equals(want.fibers)


def test_kernels_are_warmed_on_every_worker(client):
    register_plugin(client)

    def probe(dask_worker):
        from dcb_fast.kernels import counting

        info = dask_worker.dcb_fast_warmup
        return info["task_threads"], info["signatures"], len(counting.count_shard.signatures), info["pid"]

    seen = client.run(probe)
    assert len(seen) == 2
    for threads, signatures, compiled, pid in seen.values():
        assert threads == 1 and signatures > 10 and compiled > 0 and pid != os.getpid()


class KillOnce(WorkerPlugin):
    """Logs every file a worker opens; the first worker to open ``victim`` dies on the spot
    (``os._exit``, as a worker killed by the OOM killer or a lost node would)."""

    def __init__(self, log, victim, marker):
        self.log, self.victim, self.marker = log, victim, marker

    def setup(self, worker):
        from dcb_fast.io import sources

        original = getattr(sources, "_unpatched_read_file", sources._read_file)
        sources._unpatched_read_file = original
        log, victim, marker = self.log, self.victim, self.marker

        def read(info, *args, **kwargs):
            name = os.path.basename(info.path)
            if name == victim and not os.path.exists(marker):
                open(marker, "w").close()
                os._exit(1)
            with open(log, "a") as fh:
                fh.write(name + "\n")
            return original(info, *args, **kwargs)

        sources._read_file = read

    def teardown(self, worker):
        from dcb_fast.io import sources

        sources._read_file = sources._unpatched_read_file


def test_killed_worker_loses_nothing(client, data):
    want = outputs(run(data), data.tmp / "local")
    log, marker = str(data.tmp / "reads.log"), str(data.tmp / "killed")
    try:
        client.register_plugin(KillOnce(log, data.names[3], marker), name="kill-once")
        got = run(data, scheduler=client, checkpoint=data.ck)
        assert os.path.exists(marker)  # a worker did die mid-job
        with open(log) as fh:
            reads = fh.read().split()
        # every file read exactly once: partials lost with the dead worker came back from the
        # checkpoint, and the killed task ran again on a live worker
        assert sorted(reads) == data.names
        info = got.run_info
        assert info["computed"] + info["reused"] == len(data.names) == info["parts"]
        assert len(set(info["computed_parts"])) == info["computed"]
        assert outputs(got, data.tmp / "dask") == want
        open(log, "w").close()
        again = run(data, scheduler=client, checkpoint=data.ck)
        assert open(log).read() == "" and again.run_info["computed"] == 0
        assert outputs(again, data.tmp / "again") == want
    finally:
        client.unregister_worker_plugin("kill-once")
        client.wait_for_workers(2, timeout=120)  # the nanny restarts the killed worker


def cli_same_outputs(data, scheduler, workers):
    runner = CliRunner()
    args = ["audit", data.root, "-e", ",".join(EVIDENCE), "-a", ACTION, "-w", WEIGHT]
    plain = runner.invoke(main, args + ["-o", str(data.tmp / "plain")])
    res = runner.invoke(main, args + ["-o", str(data.tmp / "dask"), "--scheduler", scheduler, "--checkpoint", data.ck])
    assert res.exit_code == 0, res.output
    n = len(data.names)
    assert f"ran on Dask: {workers} workers, {n} parts\n" in res.stderr
    assert f"checkpoint {data.ck}: computed {n} of {n} parts, reused 0\n" in res.stderr
    assert res.stdout == plain.stdout
    for f in ("summary.json", "fibers.parquet", "ambiguous_cases.parquet"):
        assert (data.tmp / "dask" / f).read_bytes() == (data.tmp / "plain" / f).read_bytes()


def test_cli_scheduler_address(client, data):
    cli_same_outputs(data, client.scheduler.address, workers=2)


@pytest.mark.slow
def test_cli_local_cluster(data):
    cli_same_outputs(data, "local:2", workers=2)


def test_local_cluster_does_not_oversubscribe_the_cores(monkeypatch):
    monkeypatch.delenv("DCB_FAST_CACHE_DIR", raising=False)
    cores = usable_cpus()
    for n in (1, 2, 3, 8):
        opts = local_cluster_options(n)
        per = int(opts["env"]["DCB_FAST_THREADS"])
        assert opts["n_workers"] == n and opts["threads_per_worker"] == 1 and opts["processes"]
        assert n * per <= max(cores, n) and per >= 1
    monkeypatch.setenv("DCB_FAST_CACHE_DIR", "/somewhere/cache")
    assert local_cluster_options(2)["env"]["DCB_FAST_CACHE_DIR"] == "/somewhere/cache"


@pytest.mark.parametrize("scheduler, message", [
    ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler at 'tcp://127.0.0.1:1' (Connection refused); check the "
                          "address and that `dask scheduler` runs there, or use --scheduler local:N"),
    ("local:0", "--scheduler 'local:0' needs a positive worker count, e.g. local:2"),
    ("local:two", "--scheduler 'local:two' needs a positive worker count, e.g. local:2"),
    ("tcp://nohost", "--scheduler 'tcp://nohost' is not a scheduler address (missing port number in address "
                     "'nohost'); use tcp://host:8786 or local:N"),
])
def test_cli_bad_scheduler(data, scheduler, message):
    res = CliRunner().invoke(main, ["audit", data.root, "-e", "lang", "-a", ACTION, "--scheduler", scheduler])
    assert res.exit_code == 1
    assert res.output == f"Error: {message}\n"


def test_cli_without_dask(data, monkeypatch):
    monkeypatch.setitem(sys.modules, "distributed", None)  # as if dask were not installed
    res = CliRunner().invoke(main, ["audit", data.root, "-e", "lang", "-a", ACTION, "--scheduler", "local:2"])
    assert res.exit_code == 1
    assert res.output == ("Error: the Dask engine needs dask.distributed, which is not installed; "
                          "pip install 'dcb-fast[dask]'\n")


def test_cli_unwritable_checkpoint_fails_before_any_cluster_starts(data):
    bad = os.path.join(data.root, data.names[0], "ck")
    res = CliRunner().invoke(main, ["audit", data.root, "-e", "lang", "-a", ACTION, "--scheduler", "local:2",
                                    "--checkpoint", bad])
    assert res.exit_code == 1
    assert res.output == f"Error: cannot create checkpoint directory '{bad}': Not a directory; choose another --checkpoint\n"


def test_core_install_never_imports_dask():
    code = ("import sys, dcb_fast, dcb_fast.methods.audit, dcb_fast.cli, dcb_fast.engines.checkpoint, dcb_fast.tools.warmup, "
            "dcb_fast.engines.local, dcb_fast.fibers.state; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('dask', 'distributed')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_benchmark_body_once_on_tiny_data(client, tmp_path):
    """bench/test_dask.py's body on a tiny 40-file dataset, so the benchmark never rots."""
    from bench.data import log_dataset
    from bench.test_dask import EVIDENCE_SETS, FILES, audit_body, dataset_rows

    path = log_dataset(FILES * 100, FILES, directory=str(tmp_path))
    assert len(os.listdir(path)) == FILES and dataset_rows(path) == FILES * 100
    for evidence in EVIDENCE_SETS.values():
        assert audit_body(path, client, evidence) == audit_body(path, None, evidence)


@pytest.mark.parametrize("tier_type", ["int16", "int32"])
def test_merge_ipc_equals_merging_states(monkeypatch, tier_type):
    """Merging serialized partials by concatenating their cell tables gives the states' merge;
    partials whose columns differ in type take the state-by-state path, with the same result."""
    import pyarrow as pa

    from dcb_fast import FiberState
    from dcb_fast.engines import dask as engine
    from dcb_fast.fibers import split

    parts = [table(300, 1), table(300, 2).set_column(1, "tier", table(300, 2)["tier"].cast(tier_type)),
             table(0, 3), table(300, 4)]
    states = []
    for t in parts:
        st = FiberState(EVIDENCE, ACTION, WEIGHT)
        st.update(t)
        states.append(st)
    real, slow = split._merge_states, []

    def counted(tables, shards):
        slow.append(len(tables))
        return real(tables, shards)

    monkeypatch.setattr(split, "_merge_states", counted)
    got = engine.merge_ipc([s.to_ipc() for s in states], shards=2)
    want = FiberState(EVIDENCE, ACTION, WEIGHT)
    for st in states:
        want.merge(st)
    a, b = AuditResult.from_state(got), AuditResult.from_state(want)
    assert a.summary == b.summary and a.fibers.equals(b.fibers)
    assert got.rows_read == 900 and slow == ([] if tier_type == "int16" else [4])
    assert pa.types.is_integer(a.fibers.schema.field("tier").type)


def _threads_without_env(plan):
    from dcb_fast.engines.dask import task_threads

    saved = os.environ.pop("DCB_FAST_THREADS", None)
    try:
        return task_threads(plan)
    finally:
        if saved is not None:
            os.environ["DCB_FAST_THREADS"] = saved


def test_task_threads_share_the_cores_of_a_host(client):
    """Without DCB_FAST_THREADS, a task's threads are the host's usable cores divided by the
    Dask threads of all workers on that host (here 2 processes x 1 thread)."""
    from dcb_fast.engines.dask import host_threads

    plan = host_threads(client)
    assert sum(plan.values()) == 2
    got = client.submit(_threads_without_env, plan, pure=False).result()
    assert got == max(1, usable_cpus() // 2)
    assert client.submit(_threads_without_env, 3, pure=False).result() == 3  # an explicit number wins


def test_checkpoint_directory_must_be_shared(tmp_path):
    from dcb_fast.engines.checkpoint import Checkpoint
    from dcb_fast.engines.dask import _check_shared
    from dcb_fast.errors import DcbError

    src = open_source(table(5, 0), EVIDENCE + [ACTION])
    store = Checkpoint(str(tmp_path / "ck"), PartialSpec.of(src, EVIDENCE, ACTION, None, "drop", {}))

    class Workers:  # what Client.run answers when one worker cannot see the file
        def run(self, fn, path):
            return {"tcp://10.0.0.2:4000": fn(path), "tcp://10.0.0.3:4000": False}

    with pytest.raises(DcbError) as exc:
        _check_shared(Workers(), store)
    assert str(exc.value) == (f"checkpoint directory '{tmp_path / 'ck'}' is not visible from worker "
                              "tcp://10.0.0.3:4000; put it on a filesystem that the client and all workers share")


def test_quantile_rule_on_dask(client, data):
    """Quantile edges are found on the client, then every task bins with them; the summary
    still says where the edges came from."""
    kw = {"evidence": ["requests", "lang"], "weight": None, "rules": {"requests": "quantile:3"}}
    want = run(data, **kw)
    got = run(data, scheduler=client, **kw)
    assert got.summary == want.summary and got.fibers.equals(want.fibers)
    assert got.summary["parameters"]["rules"]["requests"]["rule"] == "quantile:3"
