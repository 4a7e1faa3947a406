"""Result directories as one unit (issue 15, item 2): a set is renamed into place whole, the
previous set stays until then, every file carries the run's fingerprint, and readers refuse a
directory whose files disagree. The interrupt tests send SIGINT to real ``dcb`` processes."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import time

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast.methods.certify import Certificate, certify
from dcb_fast.cli import main
from dcb_fast.errors import DcbError
from dcb_fast.io.result_dir import ResultDir, verify

DCB = [sys.executable, "-c", "from dcb_fast.cli import run; run()"]


@pytest.fixture
def log(tmp_path):
    n = 400
    t = pa.table({
        "lang": [["en", "fr", "de"][i % 3] for i in range(n)],
        "bin": pa.array([i % 7 for i in range(n)], pa.int16()),
        "route": [["a", "b"][(i * 7 // 3) % 2] for i in range(n)],
        "rid": [f"r{i}" for i in range(n)],
    })
    p = tmp_path / "log.parquet"
    pq.write_table(t, p)
    return str(p)


def invoke(args, code=0):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == code, (res.output, res.exception)
    return res


def snapshot(d) -> dict:
    return {f: open(os.path.join(d, f), "rb").read() for f in sorted(os.listdir(d))}


def leftovers(d) -> list:
    return glob.glob(os.path.join(os.path.dirname(os.path.abspath(d)), f".{os.path.basename(d)}.dcb-*"))


# -- every file carries the fingerprint; readers check it -------------------------------------------

def test_every_file_of_a_set_carries_the_run_fingerprint(log, tmp_path):
    out = tmp_path / "o"
    invoke(["audit", log, "-e", "lang,bin", "-a", "route", "--id", "rid", "-o", str(out), "-q"])
    s = json.loads((out / "summary.json").read_text())
    run = s["output"]["run"]
    assert sorted(s["output"]["files"]) == ["ambiguous_cases.parquet", "fibers.parquet"]
    for name, entry in s["output"]["files"].items():
        assert pq.read_schema(out / name).metadata[b"dcb_fast.run"].decode() == run
        assert entry["bytes"] == os.path.getsize(out / name)
    # the fingerprint is the summary's: the same audit writes byte-identical sets
    again = tmp_path / "again"
    invoke(["audit", log, "-e", "lang,bin", "-a", "route", "--id", "rid", "-o", str(again), "-q"])
    assert snapshot(again) == snapshot(out)
    assert verify(str(out))["output"]["run"] == run


def test_report_refuses_a_directory_that_mixes_two_runs(log, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    invoke(["audit", log, "-e", "lang", "-a", "route", "-o", str(a), "--no-cases", "-q"])
    invoke(["audit", log, "-e", "lang,bin", "-a", "route", "-o", str(b), "--no-cases", "-q"])
    shutil.copy(b / "fibers.parquet", a / "fibers.parquet")  # the new table beside the old summary
    res = invoke(["report", str(a), "-q"], code=1)
    assert res.output == (f"Error: '{a / 'fibers.parquet'}' has {os.path.getsize(a / 'fibers.parquet'):,} bytes, "
                          f"'{a / 'summary.json'}' recorded "
                          f"{json.loads((a / 'summary.json').read_text())['output']['files']['fibers.parquet']['bytes']:,}; "
                          "the directory mixes files of different runs; rerun the command that wrote it\n")
    assert not (a / "report.html").exists()


def test_report_refuses_a_table_of_another_run_with_the_same_size(tmp_path):
    t = pa.table({"x": [1, 2, 3]})
    s1 = {"schema_version": 1, "kind": "audit", "dcb_fast_version": "0", "n": 1}
    s2 = {**s1, "n": 2}
    with ResultDir(str(tmp_path / "a"), s1) as rd:
        rd.table("fibers", t)
        rd.commit()
    with ResultDir(str(tmp_path / "b"), s2) as rd:
        rd.table("fibers", t)
        rd.commit()
    shutil.copy(tmp_path / "b" / "fibers.parquet", tmp_path / "a" / "fibers.parquet")  # same size, other run
    with pytest.raises(DcbError, match=r"fibers.parquet' belongs to another run than .*summary.json' "
                                       r"\(run fingerprints differ\)"):
        verify(str(tmp_path / "a"))


def test_csv_tables_are_checked_by_digest_and_unlisted_tables_refused(log, tmp_path):
    out = tmp_path / "o"
    invoke(["audit", log, "-e", "lang", "-a", "route", "-o", str(out), "--fiber-format", "csv", "--no-cases", "-q"])
    assert len(json.loads((out / "summary.json").read_text())["output"]["files"]["fibers.csv"]["sha256"]) == 64
    invoke(["report", str(out), "-q"])
    text = (out / "fibers.csv").read_text()
    edited = text.replace('"de",133', '"de",134', 1)  # same size, other content
    assert edited != text and len(edited) == len(text)
    (out / "fibers.csv").write_text(edited)
    res = invoke(["report", str(out), "-q"], code=1)
    assert res.output == (f"Error: '{out / 'fibers.csv'}' changed since '{out / 'summary.json'}' was written "
                          "(SHA-256 differs); the directory mixes files of different runs; rerun the command that "
                          "wrote it\n")
    (out / "fibers.csv").write_text(text)
    shutil.copy(out / "fibers.csv", out / "coverage_by.csv")
    res = invoke(["report", str(out), "-q"], code=1)
    assert res.output == (f"Error: '{out / 'coverage_by.csv'}' is not part of the run recorded in "
                          f"'{out / 'summary.json'}'; the directory mixes files of different runs; rerun the "
                          "command that wrote it\n")


def test_summaries_without_a_fingerprint_still_read_unless_a_table_has_one(log, tmp_path):
    out = tmp_path / "o"
    invoke(["audit", log, "-e", "lang", "-a", "route", "-o", str(out), "--no-cases", "-q"])
    s = json.loads((out / "summary.json").read_text())
    del s["output"]  # as written by dcb_fast before fingerprints
    (out / "summary.json").write_text(json.dumps(s))
    res = invoke(["report", str(out), "-q"], code=1)
    assert "belongs to another run" in res.output
    pq.write_table(pq.read_table(out / "fibers.parquet").replace_schema_metadata({}), out / "fibers.parquet")
    invoke(["report", str(out), "-q"])


# -- failed runs leave the previous set, and nothing else -------------------------------------------

def corrupt_column(path, column: str, out):
    """A copy of Parquet file ``path`` whose ``column`` chunk is overwritten with garbage: readers
    of the other columns never notice (the audit's first pass), readers of it fail."""
    meta = pq.ParquetFile(path).metadata.row_group(0)
    j = [meta.column(i).path_in_schema for i in range(meta.num_columns)].index(column)
    col = meta.column(j)
    start = col.dictionary_page_offset or col.data_page_offset
    data = bytearray(open(path, "rb").read())
    data[start:start + col.total_compressed_size] = b"\xff" * col.total_compressed_size
    with open(out, "wb") as fh:
        fh.write(data)
    return str(out)


def test_a_failed_second_pass_keeps_the_previous_set(log, tmp_path):
    out = tmp_path / "o"
    invoke(["audit", log, "-e", "lang", "-a", "route", "-o", str(out), "-q"])
    before = snapshot(out)
    bad = corrupt_column(log, "rid", tmp_path / "bad.parquet")
    res = invoke(["audit", bad, "-e", "lang,bin", "-a", "route", "--id", "rid", "-o", str(out), "-q"], code=1)
    assert res.output.startswith(f"Error: cannot read '{bad}'") and res.output.count("\n") == 1
    assert snapshot(out) == before and leftovers(str(out)) == []
    fresh = tmp_path / "fresh"
    invoke(["audit", bad, "-e", "lang,bin", "-a", "route", "--id", "rid", "-o", str(fresh), "-q"], code=1)
    assert not fresh.exists() and leftovers(str(fresh)) == []


def test_an_out_dir_that_is_not_a_result_dir_is_refused_before_reading(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep me")
    res = invoke(["audit", str(tmp_path / "missing.parquet"), "-e", "a", "-a", "b", "-o", str(mine)], code=1)
    assert res.output == (f"Error: output directory '{mine}' holds 'notes.txt' and no dcb summary.json: it is not a "
                          "dcb result directory, and dcb replaces a result directory as a whole; choose a new or "
                          "empty --out\n")
    (mine / "sub").mkdir()
    res = invoke(["coverage", "cert.arrow", "x.parquet", "-o", str(mine)], code=1)
    assert "holds subdirectory 'sub'" in res.output
    assert (mine / "notes.txt").read_text() == "keep me"


def test_rerun_replaces_the_whole_set(log, tmp_path):
    out = tmp_path / "o"
    invoke(["audit", log, "-e", "lang", "-a", "route", "-o", str(out), "-q"])
    invoke(["report", str(out), "-q"])
    assert sorted(os.listdir(out)) == ["ambiguous_cases.parquet", "fibers.parquet", "report.html", "summary.json"]
    invoke(["audit", log, "-e", "lang,bin", "-a", "route", "-o", str(out), "--no-cases", "-q"])
    assert sorted(os.listdir(out)) == ["fibers.parquet", "summary.json"]  # nothing stale stays beside it
    assert verify(str(out))["parameters"]["evidence"] == ["lang", "bin"]


def test_certificate_load_refuses_a_table_and_metadata_of_different_runs(log, tmp_path):
    small = certify(log, ["lang"], "route")
    big = certify(log, ["lang", "bin"], "route")
    p = tmp_path / "c.arrow"
    big.save(str(p))
    spliced = pa.ipc.open_file(pa.memory_map(str(p))).read_all()
    small.save(str(tmp_path / "s.arrow"))
    meta = pa.ipc.open_file(pa.memory_map(str(tmp_path / "s.arrow"))).schema.metadata
    spliced = spliced.select(["lang", "__class", "__action", "__majority", "__rows", "__weight"])
    with pa.OSFile(str(tmp_path / "x.arrow"), "wb") as sink, pa.ipc.new_file(
            sink, spliced.schema.with_metadata(meta)) as w:
        w.write_table(spliced.replace_schema_metadata(meta))
    with pytest.raises(DcbError, match=r"is damaged: its metadata describes 3 fibers, its table holds 21"):
        Certificate.load(str(tmp_path / "x.arrow"))
    assert Certificate.load(str(p)).meta == big.meta


# -- SIGINT to a real dcb process, at several points of a multi-million-row run ----------------------

ROWS = 2_000_000
EVIDENCE_OLD = "lang,domain"
EVIDENCE_NEW = "lang,domain,model,score_bin"


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    from dcb_fast.tools.synth import write_log

    d = tmp_path_factory.mktemp("big")
    path = write_log(str(d / "log.parquet"), rows=ROWS, seed=3, row_group_rows=250_000)
    return d, path


def audit_args(path, evidence, out):
    return ["audit", path, "-e", evidence, "-a", "route", "-w", "requests", "--id", "request_id", "-o", out, "-q"]


def start(args):
    return subprocess.Popen(DCB + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def interrupt(proc, when):
    """Send SIGINT once ``when()`` is true (unless the process ended first); return (rc, stderr,
    whether the signal was sent while ``when()`` held)."""
    while proc.poll() is None and not when():
        time.sleep(0.005)
    sent = proc.poll() is None and when()
    if sent:
        proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=600)
    return proc.returncode, err, sent


def reading(proc, path):
    """True once ``proc`` has the input file open (its first pass has begun; Linux /proc)."""
    target = os.path.realpath(path)

    def when():
        try:
            fds = os.listdir(f"/proc/{proc.pid}/fd")
        except OSError:
            return False
        for fd in fds:
            try:
                if os.readlink(f"/proc/{proc.pid}/fd/{fd}") == target:
                    return True
            except OSError:
                pass
        return False

    return when


def staged(out, name):
    return lambda: any(os.path.exists(os.path.join(t, name)) for t in leftovers(out))


def check_outcome(out, rc, err, before, evidence_new):
    """The directory holds the previous set (or nothing, without one) or one complete new set,
    and the message says which."""
    assert leftovers(out) == []
    if rc == 130:
        if os.path.isdir(out) and snapshot(out) != (before or {}):
            assert err.strip() == f"Interrupted; complete results were written to {out} before the interrupt; " \
                                  "nothing else was written.", err
        else:
            assert err.strip() == "Interrupted; no output was written (an existing --out directory keeps its " \
                                  "previous results).", err
            assert (snapshot(out) if before is not None else os.path.exists(out)) == (before or False)
            return "previous"
    else:
        assert rc == 0, err
    s = verify(out)
    assert s["parameters"]["evidence"] == evidence_new.split(",")
    assert sorted(os.listdir(out)) == ["ambiguous_cases.parquet", "fibers.parquet", "summary.json"]
    assert pq.read_metadata(os.path.join(out, "ambiguous_cases.parquet")).num_rows > 0
    res = subprocess.run(DCB + ["report", out, "-q", "-o", out + ".html"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return "new"


POINTS = [  # (label, condition for the SIGINT, given the process, the input and the target directory)
    ("first pass", lambda proc, path, target: reading(proc, path)),
    ("second pass", lambda proc, path, target: staged(target, "fibers.parquet")),
    ("cases written", lambda proc, path, target: staged(target, "ambiguous_cases.parquet")),
]


def interrupted_runs(path, targets, before):
    outcomes = []
    for (label, when), target in zip(POINTS, targets):
        proc = start(audit_args(path, EVIDENCE_NEW, target))
        rc, err, sent = interrupt(proc, when(proc, path, target))
        outcomes.append((label, sent, check_outcome(target, rc, err, before, EVIDENCE_NEW)))
    print(outcomes)  # which points were caught (pytest -s shows it)
    for label, sent, outcome in outcomes:
        if sent:  # caught while the input was being read or the new set was being built
            assert outcome == "previous", (label, outcomes)
    assert sum(sent for _, sent, _ in outcomes) >= 2, outcomes  # the points were caught mid-run


def test_sigint_into_an_existing_result_dir_keeps_the_previous_set(big, tmp_path):
    d, path = big
    # a complete earlier set with other evidence (3-column fibers), no cases
    old = str(tmp_path / "old")
    res = subprocess.run(DCB + audit_args(path, EVIDENCE_OLD, old) + ["--no-cases"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    before = snapshot(old)
    targets = [str(tmp_path / f"into-{i}") for i in range(len(POINTS))]
    for t in targets:
        shutil.copytree(old, t)
    interrupted_runs(path, targets, before)
    # a run to the end into the same set: the complete new set replaces it
    res = subprocess.run(DCB + audit_args(path, EVIDENCE_NEW, old), capture_output=True, text=True)
    assert check_outcome(old, res.returncode, res.stderr, before, EVIDENCE_NEW) == "new"


def test_sigint_into_a_new_dir_writes_nothing(big, tmp_path):
    d, path = big
    interrupted_runs(path, [str(tmp_path / f"fresh-{i}") for i in range(len(POINTS))], None)


# -- every command with --out ---------------------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["audit", "MISSING", "-e", "a", "-a", "b"],
    ["coverage", "MISSING.arrow", "MISSING"],
    ["complete", "MISSING", "-e", "a", "-a", "b", "-p", "c"],
    ["sweep", "MISSING", "-e", "a", "-a", "b"],
    ["replay", "MISSING", "-e", "a", "-a", "b"],
    ["acquire", "MISSING", "-e", "a", "-a", "b", "-p", "c"],
])
def test_every_out_is_checked_before_reading(tmp_path, args):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "data.parquet").write_bytes(b"x")
    args = [a.replace("MISSING", str(tmp_path / "missing")) for a in args]
    res = invoke(args + ["-o", str(mine)], code=1)
    assert res.output.startswith(f"Error: output directory '{mine}' holds 'data.parquet' and no dcb summary.json")
    assert os.listdir(mine) == ["data.parquet"] and leftovers(str(mine)) == []


class _Failing:
    """A table whose writing fails halfway through a set (a full disk, a bug)."""

    def __getattr__(self, name):
        raise OSError(28, "No space left on device")


def test_a_result_set_that_fails_midway_keeps_the_previous_set(log, tmp_path):
    from dcb_fast.methods.coverage import CoverageResult

    cert = certify(log, ["lang"], "route")
    cov = cert.coverage(log)
    out = tmp_path / "cov-out"
    cov.write(str(out))
    before = snapshot(out)
    assert sorted(before) == ["summary.json", "uncovered_fibers.parquet"]
    broken = CoverageResult.__new__(CoverageResult)
    broken.__dict__.update(cov.__dict__)
    broken.summary = {**cov.summary, "headline": "another run"}
    broken.by = _Failing()  # written after uncovered_fibers
    with pytest.raises(OSError):
        broken.write(str(out))
    assert snapshot(out) == before and leftovers(str(out)) == []


def test_the_current_directory_is_never_replaced(tmp_path, monkeypatch):
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)
    for out in (".", str(tmp_path)):
        res = invoke(["audit", "missing.parquet", "-e", "a", "-a", "b", "-o", out], code=1)
        assert res.output == (f"Error: output directory '{out}' is (or holds) the current directory, and dcb replaces "
                              "a result directory as a whole; choose a subdirectory such as audit-out\n")


def test_the_interrupt_message_names_what_was_written(tmp_path, capsys):
    from dcb_fast.cli.options import handle_errors

    out = str(tmp_path / "o")

    @handle_errors
    def command(commit: bool):
        if commit:
            with ResultDir(out, {"kind": "audit", "dcb_fast_version": "0"}) as rd:
                rd.commit()
        raise KeyboardInterrupt

    for commit, message in [(False, "Interrupted; no output was written (an existing --out directory keeps its "
                                    "previous results)."),
                            (True, f"Interrupted; complete results were written to {out} before the interrupt; "
                                   "nothing else was written.")]:
        with pytest.raises(SystemExit) as stop:
            command(commit)
        assert stop.value.code == 130 and capsys.readouterr().err == message + "\n"


def test_a_failed_final_rename_puts_the_previous_set_back(log, tmp_path, monkeypatch):
    # the previous set is moved aside, then the new one renamed into place: if that second rename
    # fails, DIR must hold the previous set again (not be missing)
    from dcb_fast.io import result_dir as rd

    cert = certify(log, ["lang"], "route")
    cov = cert.coverage(log)
    out = tmp_path / "cov-out"
    cov.write(str(out))
    before = snapshot(out)
    real = os.replace

    def failing(src, dst):
        if os.path.basename(str(src)).endswith(".tmp") and str(dst) == str(out):
            raise OSError(18, "Invalid cross-device link")
        return real(src, dst)

    monkeypatch.setattr(rd.os, "replace", failing)
    with pytest.raises(OSError):
        cov.write(str(out))
    monkeypatch.setattr(rd.os, "replace", real)
    assert snapshot(out) == before
    assert [p for p in leftovers(str(out)) if ".dcb-old-" in p] == []
