"""The ``dcb`` CLI: every option, and every bad input with its exact one-line error."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast.cli import main
from dcb_fast.tools.synth import tox21_table

from .reference import audit_oracle, compare_metrics


@pytest.fixture
def runner():
    return CliRunner()


@pytest.fixture
def log(tmp_path):
    t = pa.table({
        "lang": ["en", "en", "fr", "fr", "de", None, "en", "de"],
        "bin": pa.array([1, 1, 2, 2, 3, 3, 1, 3], pa.int16()),
        "route": ["a", "b", "a", "a", "b", "a", "a", "b"],
        "w": [1.0, 2.0, 0.5, 0.5, 4.0, 1.0, 1.0, 3.0],
        "rid": [f"r{i}" for i in range(8)],
    })
    p = tmp_path / "log.parquet"
    pq.write_table(t, p)
    return str(p), t


def run(runner, args, code=0):
    res = runner.invoke(main, args)
    assert res.exit_code == code, (res.output, res.exception)
    return res


def test_help_lists_commands(runner):
    res = run(runner, ["--help"])
    assert "audit" in res.output and "demo" in res.output


def test_audit_json_matches_oracle(runner, log):
    path, t = log
    res = run(runner, ["audit", path, "-e", "lang,bin", "-a", "route", "-w", "w", "--format", "json", "-q"])
    summary = json.loads(res.stdout)
    compare_metrics(summary["metrics"], audit_oracle(t.to_pylist(), ["lang", "bin"], "route", "w"))
    assert summary["metrics"]["dropped_rows"] == 1
    assert summary["input"]["files"][0]["rows"] == 8


def test_audit_table_output(runner, log):
    path, _ = log
    res = run(runner, ["audit", path, "-e", "lang", "-a", "route"])
    assert "fibers" in res.output and "certified" in res.output and "ambiguous" in res.output


def test_out_dir_writes_all_outputs(runner, log, tmp_path):
    path, _ = log
    out = tmp_path / "out"
    run(runner, ["audit", path, "-e", "lang,bin", "-a", "route", "--id", "rid", "-o", str(out), "-q"])
    assert sorted(os.listdir(out)) == ["ambiguous_cases.parquet", "fibers.parquet", "summary.json"]
    cases = pq.read_table(out / "ambiguous_cases.parquet")
    # fibers (en,1) holds a and b: rows r0, r1, r6
    assert sorted(cases["rid"].to_pylist()) == ["r0", "r1", "r6"]
    fibers = pq.read_table(out / "fibers.parquet")
    assert fibers.num_rows == 3 and fibers["bin"].type == pa.int16()


def test_fiber_csv_and_no_cases(runner, log, tmp_path):
    path, _ = log
    out = tmp_path / "o"
    run(runner, ["audit", path, "-e", "lang", "-a", "route", "-o", str(out), "--fiber-format", "csv", "--no-cases", "-q"])
    assert sorted(os.listdir(out)) == ["fibers.csv", "summary.json"]
    assert pcsv.read_csv(out / "fibers.csv").num_rows == 3


def test_cases_without_id_give_row_and_file(runner, log, tmp_path):
    path, _ = log
    out = tmp_path / "o"
    run(runner, ["audit", path, "-e", "lang", "-a", "route", "-o", str(out), "-q"])
    cases = pq.read_table(out / "ambiguous_cases.parquet").to_pydict()
    assert cases["row"] == [0, 1, 6] and set(cases["file"]) == {path}


def test_options_min_support_thin_nulls_threads_batches(runner, log):
    path, t = log
    rows = t.to_pylist()
    for extra, kw in [
        (["--min-support", "2", "--thin", "skip"], dict(min_support=2, thin="skip")),
        (["-s", "3"], dict(min_support=3)),
        (["--nulls", "value"], dict(nulls="value")),
        (["--threads", "2", "--batch-rows", "3"], {}),
    ]:
        res = run(runner, ["audit", path, "-e", "lang", "-a", "route", "-f", "json", "-q", *extra])
        compare_metrics(json.loads(res.stdout)["metrics"], audit_oracle(rows, ["lang"], "route", **kw))


def test_rule_option(runner, tmp_path):
    p = tmp_path / "x.csv"
    pcsv.write_csv(pa.table({"score": [0.1, 0.2, 0.6, 0.7, 0.9], "d": [1, 1, 0, 0, 1]}), p)
    res = run(runner, ["audit", str(p), "-e", "score", "-a", "d", "--rule", "score=edges:0,0.5,1", "-f", "json"])
    s = json.loads(res.stdout)
    assert s["metrics"]["n_fibers"] == 2 and s["metrics"]["n_mixed_fibers"] == 1
    assert s["parameters"]["rules"]["score"] == {"rule": "edges", "edges": [0.0, 0.5, 1.0]}


def test_csv_ipc_directory_and_glob(runner, tmp_path, log):
    _, t = log
    d = tmp_path / "mixed"
    d.mkdir()
    pcsv.write_csv(t.slice(0, 3), d / "a.csv")
    with pa.OSFile(str(d / "b.arrow"), "wb") as f, pa.ipc.new_file(f, t.schema) as w:
        w.write_table(t.slice(3, 3))
    with pa.OSFile(str(d / "c.arrows"), "wb") as f, pa.ipc.new_stream(f, t.schema) as w:
        w.write_table(t.slice(6))
    want = audit_oracle(t.to_pylist(), ["lang"], "route")
    for src in [str(d), str(d / "*")]:
        res = run(runner, ["audit", src, "-e", "lang", "-a", "route", "-f", "json"])
        compare_metrics(json.loads(res.stdout)["metrics"], want)


def test_tox21_acceptance_through_cli(runner, tmp_path):
    p = tmp_path / "tox.parquet"
    pq.write_table(tox21_table(), p)
    m = json.loads(run(runner, ["audit", str(p), "-e", "pattern", "-a", "sr_p53", "-f", "json"]).stdout)["metrics"]
    assert (m["n_fibers"], m["n_mixed_fibers"]) == (43, 14)
    assert m["certified_rows"] == {"0": 86, "1": 8} and m["certified_fibers"] == {"0": 22, "1": 7}
    assert m["n_rows"] - sum(m["certified_rows"].values()) == 4297
    assert round(m["ambiguous_fraction"], 6) == 0.978593
    assert round(m["prevalence"]["1"], 6) == 0.011842


# -- bad input: one line, exit 1, no traceback, nothing written --------------------------------

def expect_error(runner, args, message, tmp_out=None):
    res = runner.invoke(main, args)
    assert res.exit_code == 1, res.output
    assert res.output == f"Error: {message}\n"
    assert res.exception is None or isinstance(res.exception, SystemExit)
    if tmp_out is not None:
        assert not os.path.exists(tmp_out) or os.listdir(tmp_out) == []


def test_missing_column(runner, log, tmp_path):
    path, _ = log
    out = tmp_path / "o"
    expect_error(runner, ["audit", path, "-e", "lang,colour", "-a", "route", "-o", str(out)],
                 f"{path} has no column 'colour' (it has: lang, bin, route, w, rid)", out)


def test_missing_column_suggests_case(runner, log):
    path, _ = log
    expect_error(runner, ["audit", path, "-e", "Lang", "-a", "route"], f"{path} has no column 'Lang'; did you mean 'lang'?")


def test_evidence_twice(runner, log):
    expect_error(runner, ["audit", log[0], "-e", "lang,bin,lang", "-a", "route"],
                 "evidence column 'lang' is given twice; list each column once")


def test_action_in_evidence(runner, log):
    expect_error(runner, ["audit", log[0], "-e", "lang,route", "-a", "route"],
                 "action column 'route' is also an evidence column; the action cannot be its own evidence")


def test_unsupported_type(runner, tmp_path):
    p = tmp_path / "l.parquet"
    pq.write_table(pa.table({"x": [[1], [2]], "d": [1, 2]}), p)
    expect_error(runner, ["audit", str(p), "-e", "x", "-a", "d"],
                 "column 'x' has type list<element: int64>, which cannot be used as evidence or action; "
                 "use a string, integer, boolean, float, date or timestamp column")


def test_empty_input(runner, tmp_path):
    p = tmp_path / "e.parquet"
    pq.write_table(pa.table({"x": pa.array([], pa.string()), "d": pa.array([], pa.int64())}), p)
    expect_error(runner, ["audit", str(p), "-e", "x", "-a", "d"], f"empty input: no rows in {p}; check the input files")


def test_zero_byte_file(runner, tmp_path):
    p = tmp_path / "z.parquet"
    p.write_bytes(b"")
    expect_error(runner, ["audit", str(p), "-e", "x", "-a", "d"],
                 f"'{p}' is empty (0 bytes); remove it from the input or regenerate it")


def test_all_rows_null(runner, tmp_path):
    p = tmp_path / "n.parquet"
    pq.write_table(pa.table({"x": pa.array([None, None], pa.string()), "d": [1, 2]}), p)
    expect_error(runner, ["audit", str(p), "-e", "x", "-a", "d"],
                 "no rows left: all 2 rows have a null in an evidence, action or weight column; "
                 "pass --nulls value to keep nulls as a value")


def test_truncated_parquet(runner, log, tmp_path):
    path, _ = log
    p = tmp_path / "trunc.parquet"
    data = open(path, "rb").read()
    p.write_bytes(data[: len(data) // 2])
    res = runner.invoke(main, ["audit", str(p), "-e", "lang", "-a", "route"])
    assert res.exit_code == 1
    assert res.output.startswith(f"Error: cannot read '{p}' as Parquet: ")
    assert res.output.endswith("; is the file complete and in that format?\n") and res.output.count("\n") == 1


def test_corrupt_data_pages(runner, tmp_path):
    """A file whose footer is intact but whose data pages are garbage fails while streaming."""
    p = tmp_path / "bad.parquet"
    pq.write_table(pa.table({"x": [f"v{i}" for i in range(5000)], "d": list(range(5000))}), p, compression="snappy")
    raw = bytearray(p.read_bytes())
    for i in range(8, len(raw) // 2):
        raw[i] = 0xAB
    p.write_bytes(bytes(raw))
    res = runner.invoke(main, ["audit", str(p), "-e", "x", "-a", "d"])
    assert res.exit_code == 1 and res.output.startswith("Error: cannot read")
    assert str(p) in res.output and res.output.count("\n") == 1


def test_unknown_format(runner, tmp_path):
    p = tmp_path / "data.bin"
    p.write_bytes(b"hello world")
    expect_error(runner, ["audit", str(p), "-e", "x", "-a", "d"],
                 f"'{p}' is not a Parquet, Arrow IPC or CSV file (unknown extension and no magic bytes); "
                 "rename it with its format's extension")


def test_no_such_file(runner, tmp_path):
    expect_error(runner, ["audit", str(tmp_path / "nope.parquet"), "-e", "x", "-a", "d"],
                 f"no such file or directory: '{tmp_path / 'nope.parquet'}'")


def test_glob_matches_nothing(runner, tmp_path):
    expect_error(runner, ["audit", str(tmp_path / "*.parquet"), "-e", "x", "-a", "d"],
                 f"no files match '{tmp_path / '*.parquet'}'")


def test_schema_drift_missing_column(runner, tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"x": ["u"], "d": [1]}), a)
    pq.write_table(pa.table({"y": ["u"], "d": [1]}), b)
    expect_error(runner, ["audit", str(tmp_path), "-e", "x", "-a", "d"], f"{b} has no column 'x' (it has: y, d)")


def test_schema_drift_types(runner, tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"x": ["u"], "d": [1]}), a)
    pq.write_table(pa.table({"x": [3], "d": [1]}), b)
    expect_error(runner, ["audit", str(a), str(b), "-e", "x", "-a", "d"],
                 f"column 'x' is string in one part of the input and int64 in another ({b}); "
                 "types that differ in kind cannot be one evidence value: cast the column to one type in every file")


def test_schema_drift_int_widths_unify(runner, tmp_path):
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"x": pa.array([1, 2], pa.int8()), "d": [1, 2]}), a)
    pq.write_table(pa.table({"x": pa.array([2, 300], pa.int32()), "d": [1, 1]}), b)
    m = json.loads(run(runner, ["audit", str(a), str(b), "-e", "x", "-a", "d", "-f", "json"]).stdout)["metrics"]
    assert (m["n_fibers"], m["n_mixed_fibers"]) == (3, 1)


@pytest.mark.parametrize("bad,count", [([1.0, -1.0, 2.0], 1), ([float("nan"), float("inf"), 1.0], 2)])
def test_bad_weights(runner, tmp_path, bad, count):
    p = tmp_path / "w.parquet"
    pq.write_table(pa.table({"x": ["a", "b", "c"], "d": [1, 2, 1], "w": bad}), p)
    expect_error(runner, ["audit", str(p), "-e", "x", "-a", "d", "-w", "w"],
                 f"{p}: weight column 'w' has {count} rows with negative, NaN, infinite or too large values; "
                 "weights must be finite and >= 0: fix or filter those rows")


def test_weight_not_numeric(runner, log):
    path, _ = log
    expect_error(runner, ["audit", path, "-e", "bin", "-a", "route", "-w", "lang"],
                 "weight column 'lang' has type string; it must be numeric (a count or a share of traffic)")


def test_out_dir_not_writable(runner, log, tmp_path):
    path, _ = log
    blocker = tmp_path / "file"
    blocker.write_text("x")
    expect_error(runner, ["audit", path, "-e", "lang", "-a", "route", "-o", str(blocker / "sub")],
                 f"cannot create output directory '{blocker / 'sub'}': Not a directory; choose another --out")


def test_bad_rule(runner, log):
    expect_error(runner, ["audit", log[0], "-e", "bin", "-a", "route", "--rule", "bin=log:3"],
                 "unknown fiber rule 'log:3'; use exact, quantile:N, edges:E1,E2,..., width:W[,ORIGIN], "
                 "window:TOL, window:mae:COL, window:q80:COL or knn:K")


def test_rule_on_string_column(runner, log):
    path, _ = log
    expect_error(runner, ["audit", path, "-e", "lang", "-a", "route", "--rule", "lang=width:1"],
                 "rule width:1.0,0.0 needs a numeric column, but 'lang' is string; use the exact rule for it")


def test_demo_runs(runner, tmp_path):
    out = tmp_path / "demo"
    res = run(runner, ["demo", "--out", str(out), "--rows", "5000", "-q"])
    assert "97.8593% of compounds sit in mixed fibers" in res.output
    assert "benchmark covers" in res.output and "measure 'probe_gpu' next" in res.output
    for f in ["audit/summary.json", "audit/report.html", "tox21/fibers.parquet", "benchmark_cert.arrow",
              "coverage-out/summary.json", "completion/completion_curve.parquet"]:
        assert (out / f).exists(), f


def test_absurd_cardinality(runner, tmp_path):
    p = tmp_path / "ids.parquet"
    pq.write_table(pa.table({"rid": [f"id{i}" for i in range(5000)], "d": [i % 2 for i in range(5000)]}), p)
    expect_error(runner, ["audit", str(p), "-e", "rid", "-a", "d", "--max-fibers", "1000"],
                 "more than 1,000 distinct fibers (column 'rid' alone has 5,000 distinct values); an id-like "
                 "column makes every row its own fiber: drop it from --evidence, bin it with --rule, or raise --max-fibers")
    res = run(runner, ["audit", str(p), "-e", "rid", "-a", "d"])
    assert "warning: 5,000 fibers for 5,000 rows" in res.output


def _console(args):
    """The console script's entry point (``dcb_fast.cli:run``) in a child process."""
    import subprocess
    import sys

    code = "import sys; from dcb_fast.cli import run; sys.argv = ['dcb'] + sys.argv[1:]; run()"
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)


def test_console_script_fast_exit_keeps_output_and_exit_codes(log, tmp_path):
    path, t = log
    out = tmp_path / "out"
    ok = _console(["audit", path, "-e", "lang,bin", "-a", "route", "-w", "w", "--format", "json", "-q",
                   "--out", str(out)])
    assert ok.returncode == 0, ok.stderr
    summary = json.loads(ok.stdout)  # all of stdout was flushed before the process ended
    compare_metrics(summary["metrics"], audit_oracle(t.to_pylist(), ["lang", "bin"], "route", "w"))
    assert json.loads((out / "summary.json").read_text())["metrics"] == summary["metrics"]
    bad = _console(["audit", path, "-e", "nope", "-a", "route"])
    assert bad.returncode == 1 and "nope" in bad.stderr and "Traceback" not in bad.stderr
    usage = _console(["audit", path, "--bogus"])
    assert usage.returncode == 2 and "--bogus" in usage.stderr
