"""``--fail-under``: exit code 3 with a one-line reason when a figure is below its floor
(hand-computed figures of a small log), 0 when every floor is met, 2 for a malformed gate."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast.cli import main
from dcb_fast.cli.gates import GATE_EXIT, failed_gates


@pytest.fixture
def log(tmp_path):
    # fibers: en {a, b} mixed (2 rows), fr {a, a} certified, de {b} certified: 3 of 5 rows certified
    t = pa.table({"lang": ["en", "en", "fr", "fr", "de"], "route": ["a", "b", "a", "a", "b"]})
    p = tmp_path / "log.parquet"
    pq.write_table(t, p)
    return str(p)


def invoke(args):
    return CliRunner().invoke(main, args)


def test_gate_passes_at_or_above_the_floor(log):
    res = invoke(["audit", log, "-e", "lang", "-a", "route", "-q", "--fail-under", "certifiable_fraction=0.6"])
    assert res.exit_code == 0, res.output
    assert res.stderr == ""


def test_gate_fails_below_the_floor_after_printing_the_result(log, tmp_path):
    out = tmp_path / "o"
    res = invoke(["audit", log, "-e", "lang", "-a", "route", "-q", "-f", "json", "-o", str(out),
                  "--fail-under", "certifiable_fraction=0.61,ambiguous_fraction=0.1"])
    assert res.exit_code == GATE_EXIT == 3
    assert json.loads(res.stdout)["metrics"]["certifiable_fraction"] == 0.6  # the result is still printed
    assert (out / "summary.json").is_file()  # and written
    # certifiable 3/5 = 0.6 < 0.61 fails; ambiguous 2/5 = 0.4 >= 0.1 passes
    assert res.stderr == "fail-under: certifiable_fraction = 0.6 is below 0.61\n"


def test_repeated_option_and_two_failures_one_line(log):
    res = invoke(["audit", log, "-e", "lang", "-a", "route", "-q", "--fail-under", "certifiable_fraction=0.9",
                  "--fail-under", "n_fibers=4"])
    assert res.exit_code == 3
    assert res.stderr == "fail-under: certifiable_fraction = 0.6 is below 0.9; n_fibers = 3 is below 4\n"


@pytest.mark.parametrize("gate, message", [
    ("certifiable_fraction", "is not METRIC=VALUE"),
    ("certifiable_fraction=high", "floor 'high' of certifiable_fraction is not a number"),
    ("certified=0.5", "'certified' is not a figure of dcb audit"),
    ("certifiable_fraction=nan", "is not a finite number"),
])
def test_malformed_gate_is_a_usage_error(log, gate, message):
    res = invoke(["audit", log, "-e", "lang", "-a", "route", "-q", "--fail-under", gate])
    assert res.exit_code == 2
    assert message in res.stderr


def test_an_error_is_still_exit_1(log):
    res = invoke(["audit", log, "-e", "colour", "-a", "route", "-q", "--fail-under", "certifiable_fraction=0.9"])
    assert res.exit_code == 1 and res.stderr.startswith("Error: ")


def test_coverage_gate(log, tmp_path):
    cert = str(tmp_path / "c.arrow")
    assert invoke(["certify", log, "-e", "lang", "-a", "route", "-o", cert, "-q"]).exit_code == 0
    prod = tmp_path / "prod.parquet"
    # production: fr (certified), en (ambiguous), ja (unseen), fr: certified coverage 2/4
    pq.write_table(pa.table({"lang": ["fr", "en", "ja", "fr"]}), prod)
    ok = invoke(["coverage", cert, str(prod), "--fail-under", "certified_coverage=0.5,benchmark_coverage=0.75"])
    assert ok.exit_code == 0, ok.stderr
    bad = invoke(["coverage", cert, str(prod), "--fail-under", "benchmark_coverage=0.8"])
    assert bad.exit_code == 3
    assert bad.stderr.strip().splitlines()[-1] == "fail-under: benchmark_coverage = 0.75 is below 0.8"


def test_missing_figure_fails_the_gate():
    assert failed_gates({"a": 1.0}, [("b", 0.0)]) == ["b is not in this summary"]
    assert failed_gates({"f": {"x": 0.2}}, [("f.x", 0.3)]) == ["f.x = 0.2 is below 0.3"]


def test_the_console_script_exits_3(log):
    import os
    import subprocess
    import sys

    cmd = [sys.executable, "-c", "from dcb_fast.cli import run; run()", "audit", log, "-e", "lang", "-a", "route",
           "-q", "--fail-under", "certifiable_fraction=0.7"]
    res = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ))
    assert res.returncode == 3, res.stderr
    assert res.stderr == "fail-under: certifiable_fraction = 0.6 is below 0.7\n"
    assert "certified" in res.stdout
    ok = subprocess.run(cmd[:-1] + ["certifiable_fraction=0.6"], capture_output=True, text=True, env=dict(os.environ))
    assert ok.returncode == 0, ok.stderr
