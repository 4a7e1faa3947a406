"""A corpus of bad inputs (issue 15, items 4-6 and the usual suspects): each gives one line,
``Error: ...`` naming the file or column and the fix, exit code 1, no traceback, nothing written."""

from __future__ import annotations

import json
import os

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast.cli import main
from dcb_fast.errors import DcbError
from dcb_fast.io.sources import column_types, open_source

from .reference import audit_oracle, compare_metrics


@pytest.fixture
def corpus(tmp_path):
    """The bad files, generated: name -> path."""
    d = tmp_path / "corpus"
    d.mkdir()
    good = pa.table({"lang": ["en", "fr", "en", "de"], "route": ["a", "b", "a", "a"], "rid": ["r0", "r1", "r2", "r3"]})
    pq.write_table(good, d / "good.parquet")
    data = (d / "good.parquet").read_bytes()
    (d / "truncated.parquet").write_bytes(data[: len(data) // 2])
    (d / "empty.csv").write_bytes(b"")
    (d / "truncated.csv").write_text("lang,route,rid\nen,a,r0\nfr,b,r1\nen,a")  # cut in its last row
    (d / "header_only.csv").write_text("lang,route\n")
    (d / "notes.dat").write_text("not a table\n")
    (d / "explicit.txt").write_text("lang,route\nen,a\n")
    with open(d / "drift_late.csv", "w") as fh:  # an integer column for 300k rows, then 'abc'
        fh.write("lang,code,route\n")
        fh.writelines(f"{'en' if i % 3 else 'fr'},{i % 17},{'a' if i % 5 else 'b'}\n" for i in range(300_000))
        fh.write("en,abc,a\n")
    drift = d / "schema_drift"
    drift.mkdir()
    pq.write_table(good, drift / "part-0.parquet")
    pq.write_table(pa.table({"lang": [1, 2], "route": ["a", "b"]}), drift / "part-1.parquet")
    withreadme = d / "with_readme"
    withreadme.mkdir()
    pq.write_table(good, withreadme / "part-0.parquet")
    (withreadme / "README.txt").write_text("These logs come from ...\n")
    (withreadme / "schema.json").write_text("{}")
    onlyreadme = d / "only_readme"
    onlyreadme.mkdir()
    (onlyreadme / "README.txt").write_text("nothing here\n")
    return {p.name: str(p) for p in d.iterdir()}


def fails(args, message=None, prefix=None):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1, res.output
    assert res.exception is None or isinstance(res.exception, SystemExit)
    line = res.output
    assert line.count("\n") == 1 and line.startswith("Error: "), line
    if message is not None:
        assert line == f"Error: {message}\n"
    if prefix is not None:
        assert line.startswith(f"Error: {prefix}"), line
    return line


@pytest.mark.parametrize("name, message", [
    ("empty.csv", "'{p}' is empty (0 bytes); remove it from the input or regenerate it"),
    ("header_only.csv", "empty input: no rows in {p}; check the input files"),
    ("notes.dat", "'{p}' is not a Parquet, Arrow IPC or CSV file (unknown extension and no magic bytes); rename it "
                  "with its format's extension"),
    ("explicit.txt", "'{p}' is not a Parquet, Arrow IPC or CSV file (unknown extension and no magic bytes); rename it "
                     "with its format's extension"),
    ("only_readme", "directory '{p}' holds no .parquet, .arrow/.feather or .csv files (only 1 other file, such as "
                    "'README.txt')"),
    ("schema_drift", "column 'lang' is string in one part of the input and int64 in another ({p}/part-1.parquet); "
                     "types that differ in kind cannot be one evidence value: cast the column to one type in every file"),
    ("drift_late.csv", "CSV column 'code' of '{p}' was read as int64 (inferred from its first rows), but it holds "
                       "'abc'; set its type: --column-type code=string (Python: "
                       "dcb_fast.io.sources.column_types({{'code': 'string'}}))"),
])
def test_bad_input_messages(corpus, tmp_path, name, message):
    p = corpus[name]
    evidence = "code,lang" if name == "drift_late.csv" else "lang"
    out = tmp_path / "out"
    fails(["audit", p, "-e", evidence, "-a", "route", "-o", str(out), "-q"], message.format(p=p))
    assert not out.exists()


@pytest.mark.parametrize("name, kind", [("truncated.parquet", "Parquet"), ("truncated.csv", "CSV")])
def test_truncated_files(corpus, name, kind):
    p = corpus[name]
    line = fails(["audit", p, "-e", "lang", "-a", "route"], prefix=f"cannot read '{p}' as {kind}: ")
    assert line.endswith("; is the file complete and in that format?\n")


def test_a_corrupt_column_the_first_pass_never_reads(corpus, tmp_path):
    # the id column is only read by the second pass (ambiguous cases): the error comes late, and
    # still as one line, with nothing written (see test_result_dir for a previous set kept)
    from .test_result_dir import corrupt_column

    bad = corrupt_column(corpus["good.parquet"], "rid", tmp_path / "bad_id.parquet")
    out = tmp_path / "out"
    fails(["audit", bad, "-e", "lang", "-a", "route", "--id", "rid", "-o", str(out), "-q"],
          prefix=f"cannot read '{bad}': ")
    assert not out.exists()


# -- item 5: a directory input reads only the documented extensions --------------------------------

def test_a_directory_skips_and_counts_other_files(corpus):
    res = CliRunner().invoke(main, ["audit", corpus["with_readme"], "-e", "lang", "-a", "route", "-f", "json"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    assert [os.path.basename(f["path"]) for f in s["input"]["files"]] == ["part-0.parquet"]
    assert s["input"]["skipped_files"] == 2
    assert res.stderr == ("note: skipped 2 files in the input directory without a .parquet, .arrow/.feather or .csv "
                          "extension (README.txt, schema.json)\n")
    compare_metrics(s["metrics"], audit_oracle(pq.read_table(os.path.join(corpus["with_readme"], "part-0.parquet"))
                                               .to_pylist(), ["lang"], "route", None))
    quiet = CliRunner().invoke(main, ["audit", corpus["with_readme"], "-e", "lang", "-a", "route", "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    assert open_source(corpus["good.parquet"], ["lang"]).describe()["skipped_files"] == 0


# -- item 6: CSV column types ------------------------------------------------------------------------

def test_column_type_reads_a_late_string_in_an_integer_looking_column(corpus):
    p = corpus["drift_late.csv"]
    res = CliRunner().invoke(main, ["audit", p, "-e", "code,lang", "-a", "route", "--column-type", "code=string",
                                    "-f", "json", "-q"])
    assert res.exit_code == 0, res.output
    rows = []
    with open(p) as fh:
        next(fh)
        for line in fh:
            lang, code, route = line.rstrip("\n").split(",")
            rows.append({"code": code, "lang": lang, "route": route})
    compare_metrics(json.loads(res.stdout)["metrics"], audit_oracle(rows, ["code", "lang"], "route", None))
    with column_types({"code": "string"}):
        assert open_source(p, ["code"]).types["code"] == pa.string()
    assert open_source(p, ["code"]).types["code"] == pa.int64()
    fails(["audit", p, "-e", "code", "-a", "route", "--column-type", "code=varchar"],
          "unknown column type 'varchar' for column 'code'; use string, int64, float64, bool, date32 or timestamp[s]")


# -- item 4: dcb certify -o is checked before any data is read ---------------------------------------

def test_certify_out_is_checked_before_reading(tmp_path):
    missing_input = str(tmp_path / "not-there.parquet")  # reading it would fail: the out check comes first
    d = tmp_path / "adir"
    d.mkdir()
    fails(["certify", missing_input, "-e", "a", "-a", "b", "-o", str(d)],
          f"certificate path '{d}' is a directory; give a file name such as {d / 'cert.arrow'}")
    fails(["certify", missing_input, "-e", "a", "-a", "b", "-o", str(tmp_path / "nope" / "c.arrow")],
          f"cannot write certificate '{tmp_path / 'nope' / 'c.arrow'}': directory '{tmp_path / 'nope'}' does not "
          "exist; create it or choose another --out")
    ro = tmp_path / "ro"
    ro.mkdir()
    os.chmod(ro, 0o555)
    try:
        if os.access(ro, os.W_OK):  # root ignores permission bits: a read-only filesystem instead
            ro = "/sys/kernel"
        line = fails(["certify", missing_input, "-e", "a", "-a", "b", "-o", os.path.join(ro, "c.arrow")])
        assert line.startswith(f"Error: cannot write certificate '{os.path.join(ro, 'c.arrow')}': directory '{ro}' "
                               "is not writable (") and line.endswith("); choose another --out or fix its permissions\n")
    finally:
        os.chmod(tmp_path / "ro", 0o755)


def test_certificate_save_checks_too(tmp_path):
    from dcb_fast.methods.certify import certify

    cert = certify(pa.table({"a": ["x", "y"], "b": ["p", "q"]}), ["a"], "b")
    with pytest.raises(DcbError, match="is a directory; give a file name"):
        cert.save(str(tmp_path))
