"""Every entry of the benchmark registry (``bench/cases.py``) runs once on tiny data and every
baseline agrees with ours, so no benchmark can rot or time a baseline that computes something
else; each comparison is shown to fail on a wrong result; ``dcb bench`` runs end to end. No
timing is asserted anywhere."""

from __future__ import annotations

import copy
import json
import math

import pytest
from click.testing import CliRunner

from bench.cases import CASES
from dcb_fast.cli import main

ROWS = 5_000


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("bench-data"))


@pytest.fixture(scope="module")
def ours(data_dir):
    """Our result for every case, computed once."""
    cache = {}

    def get(name):
        if name not in cache:
            case = CASES[name]
            args = case.inputs(ROWS, data_dir)
            cache[name] = (args, case.ours(*args, **case.smoke_kwargs))
        return cache[name]

    return get


ENTRIES = [(name, engine) for name, case in CASES.items() for engine in sorted(case.baselines)]


def test_every_case_is_complete():
    for name, case in CASES.items():
        assert case.baselines and case.compare and case.inputs, name
        assert set(case.goal_vs) <= set(case.baselines), name


@pytest.mark.parametrize("name,engine", ENTRIES, ids=[f"{n}-{e}" for n, e in ENTRIES])
def test_baseline_agrees_with_ours(name, engine, ours):
    case = CASES[name]
    args, mine = ours(name)
    case.compare(mine, case.baselines[engine](*args, **case.smoke_kwargs))


def test_audit_baselines_agree_on_an_arrow_table(ours):
    """The in-memory variant of the audit benchmark (compute only) takes an Arrow table."""
    import pyarrow.parquet as pq

    from bench.data import ACTION, EVIDENCE, WEIGHT

    case = CASES["audit"]
    (path,), mine = ours("audit")
    table = pq.read_table(path, columns=EVIDENCE + [ACTION, WEIGHT])
    case.compare(mine, case.ours(table))
    for engine, fn in case.baselines.items():
        case.compare(mine, fn(table))


def _perturbed(name, result):
    """A result that differs from ``result`` in one figure a broken baseline could get wrong."""
    r = copy.deepcopy(result)
    if name in ("audit", "coverage"):
        r["certified"] = r["certified"] + 1
    elif name == "completion":
        probe, fibers, mixed, frac = r["steps"][1]
        r["steps"][1] = (probe, fibers, mixed + 1, frac)
    elif name in ("knn", "window"):
        r["mixed_windows"] += 1
    elif name == "replay":
        key = ("fiber_majority", "false_decisions")
        mean, sd = r["stats"][key]
        r["stats"][key] = (mean + 10 * sd + 0.01, sd)
    elif name == "leaderboard":
        key = sorted(r)[1]
        c, fd, fdm, fdg = r[key]
        r[key] = (c, fd, fdm + 1 / 1024, fdg)
    else:  # a new case needs its own perturbation here
        raise AssertionError(f"no perturbation for case {name}")
    return r


@pytest.mark.parametrize("name", sorted(CASES))
def test_compare_rejects_a_wrong_result(name, ours):
    _, mine = ours(name)
    with pytest.raises(AssertionError):
        CASES[name].compare(mine, _perturbed(name, mine))


def test_replay_compare_rejects_repeated_splits(ours):
    """A split rule that gives the same split every time agrees on means but has no spread."""
    _, mine = ours("replay")
    same = copy.deepcopy(mine)
    same["stats"] = {k: (m, 0.0) for k, (m, s) in mine["stats"].items()}
    if any(s > 0 for _, s in mine["stats"].values()):
        with pytest.raises(AssertionError, match="spread"):
            CASES["replay"].compare(mine, same)


def test_dcb_bench_command(tmp_path):
    res = CliRunner().invoke(main, ["bench", "--rows", "5000", "--repeat", "1", "--data-dir", str(tmp_path),
                                    "--format", "json", "-q"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    engines = [r["engine"] for r in out["results"]]
    assert engines == ["dcb_fast", "duckdb", "polars", "pyarrow"]
    assert all(r["agrees"] for r in out["results"][1:])
    assert all(r["median_s"] > 0 and math.isfinite(r["rows_per_s"]) for r in out["results"])
    assert out["missing"] == {} and out["rows"] == 5000
    # the file is kept for the next run; the table is printed
    assert (tmp_path / "dcb_bench_log_5000_s0.parquet").exists()
    res = CliRunner().invoke(main, ["bench", "--rows", "5000", "--repeat", "1", "--data-dir", str(tmp_path), "-q",
                                    "--engine", "pyarrow"])
    assert res.exit_code == 0, res.output
    assert "pyarrow" in res.stdout and "same numbers" in res.stdout and "duckdb" not in res.stdout
    # a subset of the evidence columns: every engine audits the same subset and agrees
    res = CliRunner().invoke(main, ["bench", "--rows", "5000", "--repeat", "1", "--data-dir", str(tmp_path), "-q",
                                    "--format", "json", "-e", "lang,model"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["evidence"] == ["lang", "model"] and all(r["agrees"] for r in out["results"][1:])
    assert out["summary"]["fibers"] <= 5 * 20  # far fewer fibers than with six columns
    res = CliRunner().invoke(main, ["bench", "--rows", "5000", "--data-dir", str(tmp_path), "-e", "lang,colour"])
    assert res.exit_code == 1
    assert "Error: evidence 'colour' is not among the generated log's columns; choose from lang, domain" in res.output


def test_dcb_bench_says_when_engines_are_missing(tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in ("duckdb", "polars") else real(n, *a))
    res = CliRunner().invoke(main, ["bench", "--rows", "5000", "--repeat", "1", "--data-dir", str(tmp_path), "-q"])
    assert res.exit_code == 0, res.output
    assert "duckdb" in res.stdout and "not installed (pip install 'dcb-fast[bench]')" in res.stdout
    assert "DuckDB and Polars are not installed" in res.stdout
    assert "pyarrow" in res.stdout


def test_dcb_bench_rejects_tiny_inputs():
    res = CliRunner().invoke(main, ["bench", "--rows", "10"])
    assert res.exit_code == 2 and "10 is not in the range x>=1000" in res.output


BENCH_FILES = ["test_audit.py", "test_completion.py", "test_coverage.py", "test_windows.py", "test_replay.py",
               "test_leaderboard.py",
               "test_scale.py"]


@pytest.mark.slow
def test_benchmark_files_run_on_tiny_data(tmp_path):
    """Every benchmark body once (``--benchmark-disable``) on 5,000 rows, generated into a
    temporary data directory: the bench files themselves cannot rot either."""
    import os
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env = dict(os.environ, DCB_BENCH_DATA=str(tmp_path))
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--benchmark-disable",
                          "--bench-rows", "5000", "--bench-rows-big", "6000", "-o", "addopts=",
                          *[os.path.join("bench", f) for f in BENCH_FILES]],
                         cwd=root, env=env, capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-4000:] + out.stderr[-2000:]
    assert " failed" not in out.stdout and " error" not in out.stdout
