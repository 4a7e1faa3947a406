"""Every method on every engine (issue 17): audit, certify, coverage, complete, replay, the
acquisition replay and the sweep count through ``engines.run``, and give the local run's metrics
and tables with a checkpoint (also after a crash and a resume) and on a 2-process Dask
LocalCluster (slow). The registry picks engines by ``scheduler`` / ``checkpoint``, and a new
engine is one class and one ``register_engine`` call."""

from __future__ import annotations

import json
import os
from types import SimpleNamespace

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

import dcb_fast as dcb
from dcb_fast import engines
from dcb_fast.cli import main
from dcb_fast.engines.base import _ENGINES
from dcb_fast.errors import DcbError
from dcb_fast.io.sources import open_source

from .multifile import ACTION, EVIDENCE, WEIGHT, table, two_worker_cluster
from . import test_checkpoint

FILES = 5
reads = test_checkpoint.reads  # the fixture that simulates a crash mid-run (a read that raises)


def wide(rows: int, seed: int) -> pa.Table:
    """multifile's table plus probe, score, day and error columns (no nulls in those)."""
    t = table(rows, seed)
    rng = np.random.default_rng(seed + 100)
    tier = np.nan_to_num(t["tier"].to_numpy(zero_copy_only=False).astype(float), nan=0).astype(int)
    route = np.array([int(r[1:]) for r in t["route"].to_pylist()], dtype=int)
    return (t.append_column("p1", pa.array(((route + tier) % 2).astype(np.int64)))
             .append_column("p2", pa.array(rng.integers(0, 3, rows)))
             .append_column("score", pa.array(np.round(route + rng.normal(0, 0.6, rows), 1)))
             .append_column("error", pa.array(rng.normal(0, 0.3, rows)))
             .append_column("day", pa.array([f"2026-11-0{d}" for d in rng.integers(1, 3, rows)])))


def write_wide(root) -> list[str]:
    os.makedirs(root, exist_ok=True)
    names = []
    for i in range(FILES):
        name = f"part-{i:02d}.parquet"
        pq.write_table(wide(300 if i < FILES - 1 else 0, seed=i), os.path.join(root, name), row_group_size=75)
        names.append(name)
    return names


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    names = write_wide(root)
    return SimpleNamespace(root=str(root), names=names, ck=str(tmp_path / "ck"), tmp=tmp_path)


def canon(obj) -> str:
    """A comparable text of metrics and tables (NaN equal to NaN, unlike ==)."""
    if isinstance(obj, pa.Table):
        obj = {"schema": str(obj.schema), "rows": obj.to_pylist()}
    return json.dumps(obj, sort_keys=True, default=str)


# -- each method: (the result, what must not depend on the engine) --------------------------------
def m_audit(d, **kw):
    r = dcb.audit(d.root, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, min_support=2, **kw)
    return r, [r.metrics, r.fibers]


def m_audit_rules(d, **kw):
    r = dcb.audit(d.root, evidence=["lang", "score"], action=ACTION, rules={"score": "width:0.5"}, by="day",
                  max_minority=0.2, **kw)
    return r, [r.metrics, r.fibers]


def m_certify(d, **kw):
    c = dcb.certify(d.root, evidence=EVIDENCE, action=ACTION, weight=WEIGHT, min_support=2, **kw)
    return c, [c.describe(), c.table]


def m_coverage(d, **kw):
    if not hasattr(d, "cert"):  # built once: a simulated crash must hit the coverage pass
        d.cert = dcb.certify(d.root, evidence=["lang"], action=ACTION, min_support=3)
    cert = d.cert
    r = dcb.coverage(cert, d.root, weight=WEIGHT, action=ACTION, by="day", **kw)
    return r, [r.metrics, r.uncovered, r.by]


def m_complete(d, **kw):
    r = dcb.complete(d.root, ["lang"], ACTION, ["tier", "p1", "p2"], weight=WEIGHT, min_support=2, by="day", **kw)
    return r, [r.metrics, r.curve]


def m_complete_holdout(d, **kw):
    r = dcb.complete(d.root, ["lang"], ACTION, ["tier", "p1", "p2"], weight=WEIGHT, holdout=0.3, seed=4, **kw)
    return r, [r.metrics, r.curve]


def m_replay(d, **kw):
    r = dcb.replay(d.root, action=ACTION, models={"a": ["lang", "tier"], "b": ["lang", "p1"]}, weight=WEIGHT,
                   splits=4, min_support=2, **kw)
    return r, [r.metrics, r.splits]


def m_replay_window(d, **kw):
    r = dcb.replay(d.root, ["score"], ACTION, splits=4, tolerance=0.3, **kw)
    return r, [r.metrics, r.splits]


def m_acquire(d, **kw):
    r = dcb.acquisition_replay(d.root, ["lang"], ACTION, ["tier", "p1", "p2"], splits=3,
                               policies=["response_rank", "uncertainty", "random", "oracle"], **kw)
    return r, [r.metrics, r.steps]


def m_acquire_permutation(d, **kw):  # a second pass over the rows, in input order, in this process
    r = dcb.acquisition_replay(d.root, ["lang"], ACTION, ["p1", "p2"], splits=2, split="permutation",
                               policies=["response_rank"], **kw)
    return r, [r.metrics, r.steps]


def m_sweep(d, **kw):
    r = dcb.sweep(d.root, "score", ACTION, error="error", weight=WEIGHT, group_by="day",
                  rules=["quantile:4", "width:0.5", "knn:25", "window:mae"], **kw)
    return r, [r.metrics, r.table]


def m_sweep_per_file(d, **kw):
    r = dcb.sweep(d.root, "score", ACTION, per_file=True, rules=["quantile:5", "knn:10"], **kw)
    return r, [r.metrics, r.table]


METHODS = {f.__name__[2:]: f for f in [m_audit, m_audit_rules, m_certify, m_coverage, m_complete, m_complete_holdout,
                                       m_replay, m_replay_window, m_acquire, m_acquire_permutation, m_sweep,
                                       m_sweep_per_file]}


def same(got, want):
    assert [canon(x) for x in got] == [canon(x) for x in want]


# -- the checkpoint engine (default suite) --------------------------------------------------------
@pytest.mark.parametrize("name", METHODS)
def test_checkpoint_run_and_rerun_equal_the_local_run(data, name):
    method = METHODS[name]
    local, want = method(data)
    assert local.run_info == {"engine": "local", "checkpoint": None}
    first, got = method(data, checkpoint=data.ck)
    same(got, want)
    assert first.run_info["checkpoint"] == data.ck and first.run_info["parts"] == FILES
    again, got = method(data, checkpoint=data.ck)
    same(got, want)
    assert again.run_info["reused"] == FILES and again.run_info["computed"] == 0


@pytest.mark.parametrize("name", ["audit", "certify", "coverage", "complete", "replay", "acquire", "sweep"])
@pytest.mark.parametrize("k", [0, 2])
def test_killed_run_resumes_from_its_checkpoint(data, reads, name, k):
    method = METHODS[name]
    _, want = method(data)
    reads.fail.add(data.names[k])
    with pytest.raises(RuntimeError, match="simulated crash"):
        method(data, checkpoint=data.ck)
    resumed, got = method(data, checkpoint=data.ck)
    same(got, want)
    assert resumed.run_info["reused"] == k and resumed.run_info["computed"] == FILES - k
    assert resumed.run_info["computed_parts"] == [os.path.join(data.root, n) for n in data.names[k:]]


def test_methods_with_other_states_never_share_parts(data):
    """One directory, seven methods: the audit and the certificate of the same columns count
    the same state (and share its parts); every other method keys its own."""
    for name in ["audit", "certify", "coverage", "complete", "replay", "acquire", "sweep"]:
        METHODS[name](data, checkpoint=data.ck)
    dirs = sorted(d for d in os.listdir(data.ck) if d.startswith("audit-"))
    keys = [json.load(open(os.path.join(data.ck, d, "audit.json"))) for d in dirs]
    assert len(dirs) == len({json.dumps(k, sort_keys=True) for k in keys}) == 6
    # certify reused the audit's parts: same evidence, action, weight, nulls and rules
    again = METHODS["certify"](data, checkpoint=data.ck)[0]
    assert again.run_info["reused"] == FILES


# -- the registry ---------------------------------------------------------------------------------
def test_engine_choice_is_a_lookup():
    assert engines.engine_names()[:3] == ["local", "checkpoint", "dask"]
    assert type(engines.engine_for()).__name__ == "LocalEngine"
    assert type(engines.engine_for(checkpoint="ck")).__name__ == "CheckpointEngine"
    for s in ["local:2", "tcp://10.0.0.1:8786", "10.0.0.1:8786"]:
        assert type(engines.engine_for(s)).__name__ == "DaskEngine"


class Recording:
    """A new engine in a few lines, the shape of README section 8's Ray sketch: every part
    through ``compute_part``, shipped as IPC bytes, merged here in reverse order (any order:
    merging is exact); the calls are recorded."""

    calls: list = []
    name = "recording"

    def __init__(self, scheduler, checkpoint):
        self.scheduler = scheduler

    def run(self, source, spec, *, threads=None, progress=None):
        from dcb_fast.engines.checkpoint import compute_part, part_source, plan_parts
        from dcb_fast.fibers import FiberState

        parts = plan_parts(source)
        state = spec.new_state(threads)
        for data in [compute_part(*part_source(source, p), spec).to_ipc() for p in reversed(parts)]:
            state.merge(FiberState.from_ipc(data))
        Recording.calls.append((self.scheduler, tuple(spec.columns)))
        return spec.restore_rules(state), {"parts": len(parts)}


@pytest.fixture
def recording():
    Recording.calls = []
    engines.register_engine("recording", Recording, schemes=("rec",))
    yield Recording
    _ENGINES.pop("recording")


@pytest.mark.parametrize("name", ["audit", "coverage", "complete", "replay", "acquire", "sweep"])
def test_a_registered_engine_runs_every_method(data, recording, name):
    _, want = METHODS[name](data)
    r, got = METHODS[name](data, scheduler="rec://here")
    same(got, want)
    assert r.run_info["engine"] == "recording" and r.run_info["parts"] == FILES
    assert [c[0] for c in recording.calls] == ["rec://here"]


@st.composite
def split_tables(draw):
    """A small table (nulls in the evidence, weights, a numeric score, two days) and the same
    rows cut into 1-4 in-memory parts."""
    n = draw(st.integers(1, 60))
    col = lambda s: draw(st.lists(s, min_size=n, max_size=n))  # noqa: E731
    t = pa.table({"e": pa.array(col(st.one_of(st.none(), st.integers(0, 3))), pa.int64()),
                  "p": pa.array(col(st.integers(0, 2)), pa.int64()),
                  "q": pa.array(col(st.sampled_from(["a", "b", "c"]))),
                  "d": pa.array(col(st.sampled_from(["x", "y", "z"]))),
                  "w": pa.array(col(st.integers(0, 4)), pa.int64()),
                  "score": pa.array(col(st.integers(0, 8)), pa.float64()),
                  "day": pa.array(col(st.sampled_from(["mon", "tue"])))})
    cuts = sorted(draw(st.lists(st.integers(0, n), max_size=3)))
    bounds = [0] + cuts + [n]
    return t, [t.slice(a, b - a) for a, b in zip(bounds, bounds[1:])]


PROPERTY_METHODS = {
    "audit": lambda src, **kw: (lambda r: [r.metrics, r.fibers])(
        dcb.audit(src, ["e", "q"], "d", weight="w", min_support=2, **kw)),
    "coverage": lambda src, cert, **kw: (lambda r: [r.metrics, r.uncovered, r.by])(
        dcb.coverage(cert, src, weight="w", action="d", by="day", **kw)),
    "complete": lambda src, **kw: (lambda r: [r.metrics, r.curve])(
        dcb.complete(src, ["e"], "d", ["p", "q"], by="day", **kw)),
    "replay": lambda src, **kw: (lambda r: [r.metrics, r.splits])(
        dcb.replay(src, ["e", "p"], "d", splits=2, **kw)),
    "acquire": lambda src, **kw: (lambda r: [r.metrics, r.steps])(
        dcb.acquisition_replay(src, ["q"], "d", ["e", "p"], splits=2, policies=["response_rank", "oracle"], **kw)),
    "sweep": lambda src, **kw: (lambda r: [r.metrics, r.table])(
        dcb.sweep(src, "score", "d", weight="w", group_by="day", rules=["quantile:3", "knn:4"], **kw)),
}


def outcome(fn):
    """What a call gives: its comparable results, or the one-line error it raises."""
    try:
        return [canon(x) for x in fn()]
    except DcbError as exc:
        return f"DcbError: {exc}"


@settings(max_examples=25)
@given(split_tables(), st.sampled_from(sorted(PROPERTY_METHODS)))
def test_any_split_into_parts_on_an_engine_equals_the_local_run(tables, name):
    """Every method: the rows cut into parts, counted part by part by a registered engine and
    merged in reverse order, give what one local pass over the whole table gives (or the same
    one-line error)."""
    whole, parts = tables
    extra = {}
    if name == "coverage":
        extra["cert"] = dcb.certify(pa.table({"e": [0, 1, 2, None], "q": ["a", "a", "b", "c"], "d": ["x", "y", "x", "z"]}),
                                    ["e", "q"], "d", nulls="value")
    engines.register_engine("recording", Recording, schemes=("rec",))
    try:
        want = outcome(lambda: PROPERTY_METHODS[name](whole, **extra))
        got = outcome(lambda: PROPERTY_METHODS[name](parts, scheduler="rec://parts", **extra))
    finally:
        _ENGINES.pop("recording")
    assert got == want


def test_run_reports_the_engine():
    src = open_source(pa.table({"e": [1, 1, 2], "a": ["x", "y", "x"]}), ["e", "a"])
    state, info = engines.run(src, engines.PartialSpec.of(src, ["e"], "a", None, "drop", None))
    assert (state.n_fibers, state.n_rows, info) == (2, 3, {"engine": "local", "checkpoint": None})


def test_spec_key_covers_what_shapes_the_state():
    src = open_source(pa.table({"e": [1], "f": [2], "a": ["x"], "w": [1.0]}), ["e", "f", "a", "w"])
    of = lambda *a: engines.PartialSpec.of(src, *a).params()  # noqa: E731
    base = of(["e"], "a", "w", "drop", None)
    others = [of(["e", "f"], "a", "w", "drop", None), of(["e"], None, "w", "drop", None),
              of(["e"], "a", None, "drop", None), of(["e"], "a", "w", "value", None),
              of(["e"], "a", "w", "drop", {"e": dcb.parse_rule("width:2")}), of(["e", "w"], "a", None, "drop", None)]
    assert all(p != base for p in others) and len({json.dumps(p, sort_keys=True) for p in others}) == len(others)


# -- what stays in one process --------------------------------------------------------------------
def test_leaderboard_and_grouped_completion_refuse_engines(data):
    from dcb_fast.tools.synth import leaderboard

    board = leaderboard(models=2, items=50)
    with pytest.raises(DcbError, match=r"^replay --group-by reads the leaderboard row by row .* drop --scheduler"):
        dcb.leaderboard_replay(board, "model", "item", "pred", "label", splits=2, checkpoint=data.ck)
    with pytest.raises(DcbError, match=r"^complete --group-by reads the table into memory .* drop --scheduler"):
        dcb.complete_groups(data.root, "day", ["lang"], ACTION, ["p1"], scheduler="local:2")


def test_sweep_still_checks_its_weights(data):
    """The sweep keeps each row's weight as a key value, where a NaN would pass as a null: it
    is checked as a weight on every engine, as the sweep always did."""
    t = pa.table({"s": [0.1, 0.2, 0.3, 0.4], "a": [0, 0, 1, 1], "w": [1.0, float("nan"), 1.0, -2.0]})
    with pytest.raises(DcbError, match=r"^weight column 'w' has 2 rows with negative, NaN, infinite or too large"):
        dcb.sweep(t, "s", "a", weight="w", rules=["quantile:2"])
    path = str(data.tmp / "bad.parquet")
    pq.write_table(t, path)
    with pytest.raises(DcbError, match=r"bad.parquet: weight column 'w' has 2 rows with negative, NaN"):
        dcb.sweep(path, "s", "a", weight="w", rules=["quantile:2"], checkpoint=data.ck)


# -- the CLI: one option definition on every command ----------------------------------------------
CLI = {
    "audit": ["audit", "{root}", "-e", "lang,tier", "-a", ACTION, "-w", WEIGHT],
    "certify": ["certify", "{root}", "-e", "lang,tier", "-a", ACTION, "-o", "{tmp}/cert-{n}.arrow"],
    "coverage": ["coverage", "{cert}", "{root}", "-w", WEIGHT, "-a", ACTION, "--by", "day"],
    "complete": ["complete", "{root}", "-e", "lang", "-a", ACTION, "-p", "tier,p1,p2", "-s", "2"],
    "replay": ["replay", "{root}", "-e", "lang,tier", "-a", ACTION, "-n", "3"],
    "acquire": ["acquire", "{root}", "-e", "lang", "-a", ACTION, "-p", "p1,p2", "-n", "2",
                "--policy", "response_rank,random"],
    "sweep": ["sweep", "{root}", "-e", "score", "-a", ACTION, "--rule", "quantile:4", "--rule", "knn:20"],
}


def cli_args(name, data, n):
    cert = str(data.tmp / "cert.arrow")
    if name == "coverage" and not os.path.exists(cert):
        dcb.certify(data.root, evidence=["lang"], action=ACTION, min_support=3).save(cert)
    return [a.format(root=data.root, tmp=data.tmp, n=n, cert=cert) for a in CLI[name]]


@pytest.mark.parametrize("name", CLI)
def test_cli_checkpoint_on_every_command(data, name):
    runner = CliRunner()
    plain = runner.invoke(main, cli_args(name, data, 0))
    assert plain.exit_code == 0, plain.output
    for n, note in [(1, f"computed {FILES} of {FILES} parts, reused 0"),
                    (2, f"computed 0 of {FILES} parts, reused {FILES}")]:
        res = runner.invoke(main, cli_args(name, data, n) + ["--checkpoint", data.ck])
        assert res.exit_code == 0, res.output
        assert f"checkpoint {data.ck}: {note}\n" in res.stderr
        assert res.stdout == plain.stdout.replace("cert-0.arrow", f"cert-{n}.arrow")


def test_cli_group_by_replay_refuses_an_engine(data):
    from dcb_fast.tools.synth import leaderboard

    path = str(data.tmp / "board.parquet")
    pq.write_table(leaderboard(models=2, items=50), path)
    res = CliRunner().invoke(main, ["replay", path, "--group-by", "model", "--id", "item", "-e", "pred", "-a", "label",
                                    "--tolerance", "mae:error", "--checkpoint", data.ck])
    assert res.exit_code == 1
    assert res.output.startswith("Error: replay --group-by reads the leaderboard row by row")


# -- a 2-process Dask LocalCluster (slow: CI's slow run) ------------------------------------------
@pytest.fixture(scope="module")
def client():
    cluster, client = two_worker_cluster()
    yield client
    client.close()
    cluster.close()


@pytest.mark.slow
@pytest.mark.parametrize("name", METHODS)
def test_dask_equals_the_local_run(client, data, name):
    method = METHODS[name]
    _, want = method(data)
    r, got = method(data, scheduler=client)
    same(got, want)
    assert r.run_info["engine"] == "dask" and r.run_info["workers"] == 2 and r.run_info["parts"] == FILES


try:
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover - the core install: only the slow Dask tests need it
    WorkerPlugin = object


class FailOnce(WorkerPlugin):
    """A worker plugin: the first read of ``victim`` on any worker raises (the task fails, the
    run stops with that error, as a crashed job would); later reads work."""

    name = "fail-once"

    def __init__(self, victim, marker):
        self.victim, self.marker = victim, marker

    def setup(self, worker):
        from dcb_fast.io import sources

        original = getattr(sources, "_unpatched_read_file", sources._read_file)
        sources._unpatched_read_file = original
        victim, marker = self.victim, self.marker

        def read(info, *args, **kwargs):
            if os.path.basename(info.path) == victim and not os.path.exists(marker):
                open(marker, "w").close()
                raise RuntimeError(f"simulated crash while reading {victim}")
            return original(info, *args, **kwargs)

        sources._read_file = read

    def teardown(self, worker):
        from dcb_fast.io import sources

        sources._read_file = sources._unpatched_read_file


@pytest.mark.slow
@pytest.mark.parametrize("name", ["coverage", "complete", "replay", "acquire", "sweep"])
def test_dask_run_resumes_from_its_checkpoint_after_a_crash(client, data, name):
    """A task that fails on one file stops the run; the parts the workers finished are in the
    shared checkpoint, and the re-run on the cluster computes only the rest."""
    method = METHODS[name]
    _, want = method(data)
    client.register_plugin(FailOnce(data.names[2], str(data.tmp / "failed")), name="fail-once")
    try:
        with pytest.raises(RuntimeError, match="simulated crash"):
            method(data, scheduler=client, checkpoint=data.ck)
        stored = len([f for _, _, fs in os.walk(data.ck) for f in fs if f.endswith(".partial")])
        assert stored < FILES
        resumed, got = method(data, scheduler=client, checkpoint=data.ck)
    finally:
        client.unregister_worker_plugin("fail-once")
    same(got, want)
    # parts still running when the error came may have finished since: reused counts them too
    info = resumed.run_info
    assert info["reused"] >= stored and info["reused"] + info["computed"] == FILES
    assert os.path.join(data.root, data.names[2]) in info["computed_parts"]  # the crashed part, and only
    assert len(info["computed_parts"]) == info["computed"]  # what was missing, was computed
    again, got = method(data, scheduler=client, checkpoint=data.ck)
    same(got, want)
    assert again.run_info["reused"] == FILES and again.run_info["computed"] == 0


@pytest.mark.slow
@pytest.mark.parametrize("name", ["coverage", "complete", "replay", "sweep"])
def test_cli_scheduler_on_every_command(client, data, name):
    runner = CliRunner()
    plain = runner.invoke(main, cli_args(name, data, 0))
    res = runner.invoke(main, cli_args(name, data, 0) + ["--scheduler", client.scheduler.address])
    assert res.exit_code == 0, res.output
    assert f"ran on Dask: 2 workers, {FILES} parts\n" in res.stderr
    assert res.stdout == plain.stdout
