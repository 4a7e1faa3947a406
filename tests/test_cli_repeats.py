"""Repeated options (issue 15, item 3): list options accumulate, a single-value option given twice
is an error, and a column whose name holds a comma can be named (CSV-style double quotes)."""

from __future__ import annotations

import json

import click

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast.cli import main
from dcb_fast.cli.options import split_names

from .reference import audit_oracle, compare_metrics


@pytest.fixture
def log(tmp_path):
    t = pa.table({
        "lang": ["en", "en", "fr", "fr", "de", "de", "en", "fr"],
        "bin": pa.array([1, 1, 2, 2, 3, 3, 1, 3], pa.int16()),
        "price, usd": [1, 2, 1, 1, 2, 2, 1, 1],
        "route": ["a", "b", "a", "a", "b", "a", "a", "b"],
        "w": [1.0, 2.0, 0.5, 0.5, 4.0, 1.0, 1.0, 3.0],
        "p1": [0, 1, 0, 0, 1, 0, 0, 1],
        "p2": [1, 1, 0, 1, 0, 0, 1, 1],
    })
    p = tmp_path / "log.parquet"
    pq.write_table(t, p)
    return str(p), t


def invoke(args, code=0):
    res = CliRunner().invoke(main, args)
    assert res.exit_code == code, (res.output, res.exception)
    return res


def audit_json(args):
    return json.loads(invoke(["audit", *args, "-f", "json", "-q"]).stdout)


def test_repeated_evidence_accumulates(log):
    path, t = log
    rep = audit_json([path, "-e", "lang", "-e", "bin", "-a", "route", "-w", "w"])
    assert rep["parameters"]["evidence"] == ["lang", "bin"]
    compare_metrics(rep["metrics"], audit_oracle(t.to_pylist(), ["lang", "bin"], "route", "w"))
    three = audit_json([path, "-e", "lang", "-e", 'bin,"price, usd"', "-a", "route"])
    assert three["parameters"]["evidence"] == ["lang", "bin", "price, usd"]
    assert audit_json([path, "-e", "lang,bin", "-a", "route", "-w", "w"])["metrics"] == rep["metrics"]


def test_repeated_probes_accumulate(log):
    path, _ = log
    args = ["complete", path, "-e", "lang", "-a", "route", "-f", "json", "-q"]
    a = json.loads(invoke(args + ["-p", "p1", "-p", "p2"]).stdout)
    b = json.loads(invoke(args + ["-p", "p1,p2"]).stdout)
    assert a["parameters"]["probes"] == ["p1", "p2"] and a["metrics"] == b["metrics"]


@pytest.mark.parametrize("args, names", [
    (["-a", "route", "-a", "lang"], "--action/-a"),
    (["-a", "route", "-w", "w", "--weight", "w"], "--weight/-w"),
    (["-a", "route", "-s", "2", "-s", "3"], "--min-support/-s"),
    (["-a", "route", "-o", "x", "-o", "y"], "--out/-o"),
])
def test_a_single_value_option_given_twice_is_an_error(log, args, names):
    path, _ = log
    res = invoke(["audit", path, "-e", "lang", *args], code=2)
    assert res.output.splitlines()[-1] == f"Error: option {names} is given more than once; it takes one value, give it once"


def test_a_column_name_with_a_comma_is_quoted(log):
    path, t = log
    rows = [{("price" if k == "price, usd" else k): v for k, v in r.items()} for r in t.to_pylist()]
    s = audit_json([path, "-e", '"price, usd",lang', "-a", "route", "-w", "w"])
    assert s["parameters"]["evidence"] == ["price, usd", "lang"]
    compare_metrics(s["metrics"], audit_oracle(rows, ["price", "lang"], "route", "w"))
    # unquoted, the comma splits the name, and the error names the two halves' first
    res = invoke(["audit", path, "-e", "price, usd", "-a", "route"], code=1)
    assert "has no column 'price'" in res.output


def test_split_names():
    assert split_names(" a , b ") == ["a", "b"]
    assert split_names('"x, y", "say ""hi""",z') == ["x, y", 'say "hi"', "z"]
    for bad in ["a,,b", "", '"a,b']:
        with pytest.raises(click.BadParameter):
            split_names(bad)
