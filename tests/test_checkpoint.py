"""Checkpoints ("nothing lost on failure"): finished files are kept, a re-run computes only the
rest and writes byte-identical outputs; changed files, other parameters and damaged parts are
recomputed, never merged stale."""

from __future__ import annotations

import os
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast import audit
from dcb_fast.methods.audit import AuditResult
from dcb_fast.cli import main
from dcb_fast.engines.checkpoint import Checkpoint, CheckpointWarning, PartialSpec, fingerprint, plan_parts, run_local
from dcb_fast.errors import DcbError
from dcb_fast.io import sources
from dcb_fast.io.sources import open_source

from .multifile import ACTION, EVIDENCE, WEIGHT, outputs, table, write_dataset


@pytest.fixture
def data(tmp_path):
    root = tmp_path / "data"
    names = write_dataset(root)
    return SimpleNamespace(root=str(root), names=names, ck=str(tmp_path / "ck"), tmp=tmp_path)


@pytest.fixture
def reads(monkeypatch):
    """Every file the audit opens, in order; ``fail`` holds file names whose next read raises."""
    log, fail = [], set()
    original = sources._read_file

    def counting(info, *args, **kwargs):
        name = os.path.basename(info.path)
        if name in fail:
            fail.discard(name)
            raise RuntimeError(f"simulated crash while reading {name}")
        log.append(name)
        return original(info, *args, **kwargs)

    monkeypatch.setattr(sources, "_read_file", counting)
    return SimpleNamespace(log=log, fail=fail)


def run(data, **kw):
    kw = {"evidence": EVIDENCE, "action": ACTION, "weight": WEIGHT, **kw}
    return audit(data.root, **kw)


def parts(ck):
    return sorted(os.path.join(r, f) for r, _, fs in os.walk(ck) for f in fs if f.endswith(".partial"))


def test_rerun_reuses_every_part_and_writes_identical_outputs(data, reads):
    want = outputs(run(data), data.tmp / "plain")
    reads.log.clear()
    first = run(data, checkpoint=data.ck)
    assert reads.log == data.names  # every file read once, the empty one included
    assert first.run_info["computed"] == len(data.names) and first.run_info["reused"] == 0
    assert len(parts(data.ck)) == len(data.names)
    assert outputs(first, data.tmp / "first") == want
    reads.log.clear()
    again = run(data, checkpoint=data.ck)
    assert reads.log == []
    assert again.run_info["reused"] == len(data.names) and again.run_info["computed"] == 0
    assert outputs(again, data.tmp / "again") == want


@pytest.mark.parametrize("k", [0, 3])
def test_interrupted_run_resumes_without_recomputing_finished_files(data, reads, k):
    want = outputs(run(data), data.tmp / "plain")
    reads.log.clear()
    reads.fail.add(data.names[k])
    with pytest.raises(RuntimeError, match="simulated crash"):
        run(data, checkpoint=data.ck)
    assert reads.log == data.names[:k] and len(parts(data.ck)) == k
    reads.log.clear()
    resumed = run(data, checkpoint=data.ck)
    assert reads.log == data.names[k:]  # the finished files are not read again
    assert resumed.run_info["computed_parts"] == [os.path.join(data.root, n) for n in data.names[k:]]
    assert resumed.run_info["reused"] == k
    assert outputs(resumed, data.tmp / "resumed") == want


def test_changed_file_is_recomputed_never_merged_stale(data, reads):
    old = run(data, checkpoint=data.ck)
    victim = os.path.join(data.root, data.names[1])
    pq.write_table(table(300, seed=11), victim)
    reads.log.clear()
    new = run(data, checkpoint=data.ck)
    assert reads.log == [data.names[1]]
    assert new.summary != old.summary  # the change is visible: the stale part was not used
    assert outputs(new, data.tmp / "new") == outputs(run(data), data.tmp / "plain")
    # a new modification time alone (same bytes) is enough to recompute
    st = os.stat(victim)
    os.utime(victim, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    reads.log.clear()
    assert run(data, checkpoint=data.ck).run_info["computed"] == 1 and reads.log == [data.names[1]]


def test_directory_shared_by_several_audits(data, reads):
    a = run(data, checkpoint=data.ck)
    b = run(data, evidence=["lang"], checkpoint=data.ck)  # another audit: its own parts
    c = run(data, weight=None, checkpoint=data.ck)
    assert a.run_info["computed"] == b.run_info["computed"] == c.run_info["computed"] == len(data.names)
    assert len([d for d in os.listdir(data.ck) if d.startswith("audit-")]) == 3
    reads.log.clear()
    # each audit finds its own parts again; finalize-only parameters reuse them too
    again = run(data, checkpoint=data.ck, min_support=3, thin="skip")
    b2 = run(data, evidence=["lang"], checkpoint=data.ck)
    assert reads.log == [] and again.run_info["reused"] == b2.run_info["reused"] == len(data.names)
    assert outputs(again, data.tmp / "s3") == outputs(run(data, min_support=3, thin="skip"), data.tmp / "p3")
    assert b2.summary == b.summary == run(data, evidence=["lang"]).summary
    assert c.summary == run(data, weight=None).summary


def test_damaged_part_is_recomputed_with_a_warning(data, reads):
    want = run(data).summary
    run(data, checkpoint=data.ck)
    src = open_source(data.root, EVIDENCE + [ACTION, WEIGHT])
    spec = PartialSpec.of(src, EVIDENCE, ACTION, WEIGHT, "drop", {})
    store = Checkpoint(data.ck, spec)
    bad = [store.path(fingerprint(src, p, spec)) for p in plan_parts(src)]
    with open(bad[2], "r+b") as fh:  # flip the last payload byte
        fh.seek(-1, os.SEEK_END)
        last = fh.read(1)
        fh.seek(-1, os.SEEK_END)
        fh.write(bytes([last[0] ^ 0xFF]))
    with open(bad[4], "wb") as fh:
        fh.write(b"garbage")
    reads.log.clear()
    with pytest.warns(CheckpointWarning) as caught:
        r = run(data, checkpoint=data.ck)
    msgs = sorted(str(w.message) for w in caught)
    assert msgs == sorted([
        f"checkpoint part {bad[2]} for '{os.path.join(data.root, data.names[2])}' is damaged (checksum mismatch); "
        "recomputed it",
        f"checkpoint part {bad[4]} for '{os.path.join(data.root, data.names[4])}' is damaged (not a dcb_fast "
        "checkpoint part); recomputed it",
    ])
    assert reads.log == [data.names[2], data.names[4]]
    assert r.summary == want
    reads.log.clear()
    assert run(data, checkpoint=data.ck).run_info["computed"] == 0  # repaired


def test_csv_types_are_part_of_the_fingerprint(tmp_path):
    """A CSV file's column types are unified over all input files, so the same file read with
    other neighbours is another partial state and must not be reused."""
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text("lang,tier,route\nen,,x\nfr,,y\n")  # an all-empty column: null type on its own
    b.write_text("lang,tier,route\nen,1,x\nfr,2,y\n")
    ck = str(tmp_path / "ck")
    kw = {"evidence": ["lang", "tier"], "action": "route", "nulls": "value"}
    both = audit([str(a), str(b)], checkpoint=ck, **kw)
    assert both.fibers.equals(audit([str(a), str(b)], **kw).fibers)
    alone = audit([str(a)], checkpoint=ck, **kw)
    assert alone.run_info["computed"] == 1
    assert alone.fibers.equals(audit([str(a)], **kw).fibers)


def test_row_group_parts_of_a_big_file(tmp_path):
    path = tmp_path / "big.parquet"
    pq.write_table(table(1000, seed=4), path, row_group_size=100)
    src = open_source(str(path), EVIDENCE + [ACTION, WEIGHT])
    plan = plan_parts(src, part_rows=250)
    assert [p.row_groups for p in plan] == [(0, 3), (3, 6), (6, 9), (9, 10)]
    assert [p.rows for p in plan] == [300, 300, 300, 100]
    spec = PartialSpec.of(src, EVIDENCE, ACTION, WEIGHT, "drop", {})
    state, stats = run_local(src, spec, str(tmp_path / "ck"), part_rows=250)
    assert stats["computed"] == 4
    got = AuditResult.from_state(state, src)
    want = audit(str(path), evidence=EVIDENCE, action=ACTION, weight=WEIGHT)
    assert got.summary == want.summary and got.fibers.equals(want.fibers)
    _, stats = run_local(src, spec, str(tmp_path / "ck"), part_rows=250)
    assert stats["reused"] == 4 and stats["computed"] == 0


def test_bad_checkpoint_directory(data, tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    with pytest.raises(DcbError) as exc:
        run(data, checkpoint=str(blocker / "ck"))
    assert str(exc.value) == f"cannot create checkpoint directory '{blocker / 'ck'}': Not a directory; choose another --checkpoint"
    with pytest.raises(DcbError, match="^--checkpoint needs file inputs: an in-memory table"):
        audit(table(10, 0), evidence=EVIDENCE, action=ACTION, checkpoint=str(tmp_path / "ck"))


def test_cli_checkpoint(data):
    runner = CliRunner()
    args = ["audit", data.root, "-e", ",".join(EVIDENCE), "-a", ACTION, "-w", WEIGHT]
    plain = runner.invoke(main, args + ["-o", str(data.tmp / "plain")])
    assert plain.exit_code == 0, plain.output
    n = len(data.names)
    for i, note in enumerate([f"computed {n} of {n} parts, reused 0", f"computed 0 of {n} parts, reused {n}"]):
        out = data.tmp / f"run{i}"
        res = runner.invoke(main, args + ["--checkpoint", data.ck, "-o", str(out)])
        assert res.exit_code == 0, res.output
        assert f"checkpoint {data.ck}: {note}\n" in res.stderr
        assert res.stdout == plain.stdout
        for f in ("summary.json", "fibers.parquet", "ambiguous_cases.parquet"):
            assert (out / f).read_bytes() == (data.tmp / "plain" / f).read_bytes()
    bad = parts(data.ck)[0]
    with open(bad, "ab") as fh:
        fh.write(b"x")
    res = runner.invoke(main, args + ["--checkpoint", data.ck, "-q"])
    assert res.exit_code == 0 and res.stderr == ""  # --quiet silences the warning too
    with open(bad, "ab") as fh:
        fh.write(b"x")
    res = runner.invoke(main, args + ["--checkpoint", data.ck])
    assert f"warning: checkpoint part {bad} for " in res.stderr and "is damaged (checksum mismatch)" in res.stderr
    res = runner.invoke(main, args + ["--checkpoint", os.path.join(data.root, data.names[0], "ck")])
    assert res.exit_code == 1
    assert res.output == (f"Error: cannot create checkpoint directory '{os.path.join(data.root, data.names[0], 'ck')}': "
                          "Not a directory; choose another --checkpoint\n")


def test_continuous_rules(data, reads):
    """Quantile bins are resolved to edges before counting, so the edges are part of the key;
    overlapping windows run in one process and refuse a checkpoint."""
    kw = {"evidence": ["requests"], "weight": None}
    plain = run(data, rules={"requests": "quantile:3"}, **kw)
    reads.log.clear()
    first = run(data, rules={"requests": "quantile:3"}, checkpoint=data.ck, **kw)
    counted = len(reads.log)
    reads.log.clear()
    again = run(data, rules={"requests": "quantile:3"}, checkpoint=data.ck, **kw)
    assert counted - len(reads.log) == len(data.names)  # the passes that find the quantiles, no counting pass
    assert again.run_info["reused"] == len(data.names)
    assert plain.summary == first.summary == again.summary
    with pytest.raises(DcbError, match=r"^rule knn:5 \(overlapping fibers\) runs in one process; drop --scheduler "
                                       "and --checkpoint for it$"):
        run(data, rules={"requests": "knn:5"}, checkpoint=data.ck, **kw)
