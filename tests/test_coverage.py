"""Certificates and coverage against a DuckDB SQL oracle (joins on values), round trips and
bad input."""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import given, strategies as st

from dcb_fast import Certificate, certify, coverage
from dcb_fast.cli import main
from dcb_fast.errors import DcbError

from .reference import coverage_sql_oracle


def _random_pair(seed, n_cal=400, n_prod=600, overlap=True, weighted=True, nulls=True):
    rng = np.random.default_rng(seed)

    def col(n, pool, dictionary):
        vals = [pool[i] for i in rng.integers(0, len(pool), n)]
        if nulls:
            vals = [None if rng.random() < 0.03 else v for v in vals]
        arr = pa.array(vals)
        return arr.dictionary_encode() if dictionary else arr

    a_cal, a_prod = ["x", "y", "z", "w"], (["x", "y", "z", "w", "new1", "new2"] if overlap else ["p", "q"])
    cal = pa.table({
        "a": col(n_cal, a_cal, dictionary=True),
        "b": pa.array(rng.integers(0, 6, n_cal), pa.int16()),
        "d": col(n_cal, ["serve", "route", "hold"], dictionary=False),
        "w": pa.array(rng.integers(1, 5, n_cal) / 2.0),
    })
    prod = pa.table({
        "a": col(n_prod, a_prod, dictionary=False),
        "b": pa.array(rng.integers(0, 8, n_prod), pa.int32()),
        "d": col(n_prod, ["serve", "route", "hold", "other"], dictionary=True),
        "w": pa.array(rng.integers(1, 5, n_prod) / 4.0),
        "day": pa.array(rng.integers(0, 3, n_prod)),
    })
    return cal, prod


@given(st.integers(0, 10_000), st.integers(1, 4), st.booleans(), st.booleans())
def test_matches_sql_oracle(seed, s, overlap, weighted):
    cal, prod = _random_pair(seed, overlap=overlap)
    want = coverage_sql_oracle(cal, prod, s, weighted)
    cert = certify(cal, ["a", "b"], "d", weight="w" if weighted else None, min_support=s)
    m = coverage(cert, prod, weight="w" if weighted else None, action="d").metrics
    assert m["certified_coverage"] == pytest.approx(want["certified"], abs=1e-12)
    assert m["ambiguous_coverage"] == pytest.approx(want["ambiguous"], abs=1e-12)
    assert m["thin_coverage"] == pytest.approx(want["thin"], abs=1e-12)
    assert m["unseen_fraction"] == pytest.approx(want["unseen"], abs=1e-12)
    assert m["benchmark_coverage"] == pytest.approx(1 - want["unseen"], abs=1e-12)
    assert m["false_decisions"]["certificate"] == pytest.approx(want["fd_cert"], abs=1e-12)


@given(st.integers(0, 10_000), st.lists(st.integers(1, 599), max_size=4), st.integers(1, 3))
def test_splitting_production_changes_nothing(tmp_path_factory, seed, cuts, threads):
    cal, prod = _random_pair(seed)
    cert = certify(cal, ["a", "b"], "d", weight="w", min_support=2)
    whole = coverage(cert, prod, weight="w", action="d", by="day")
    d = tmp_path_factory.mktemp("prod")
    bounds = sorted({0, prod.num_rows, *cuts})
    paths = []
    for i, (lo, hi) in enumerate(zip(bounds, bounds[1:])):
        p = d / f"p{i}.parquet"
        pq.write_table(prod.slice(lo, hi - lo), p)
        paths.append(str(p))
    split = coverage(cert, paths, weight="w", action="d", by="day", threads=threads, batch_rows=37)
    for k in ("benchmark_coverage", "certified_coverage", "ambiguous_coverage", "thin_coverage", "unseen_fraction",
              "false_decisions", "acquisitions", "certified_coverage_by_action", "by", "top_uncovered"):
        assert split.metrics[k] == whole.metrics[k], k
    assert split.uncovered.equals(whole.uncovered)


def test_binned_numeric_and_values_outside_the_bins():
    cal = pa.table({"score": [0.05, 0.1, 0.3, 0.35, 0.6, 0.9, 0.95], "d": [1, 1, 0, 0, 1, 0, 1]})
    cert = certify(cal, ["score"], "d", rules={"score": "edges:0,0.25,0.5,1"})
    prod = pa.table({"score": [0.2, 0.3, 0.7, 1.0, 1.5, -0.1, 0.45], "w": [1.0] * 7})
    m = coverage(cert, prod, weight="w").metrics
    # bins: [0,.25) certified 1; [.25,.5) certified 0; [.5,1] mixed; 1.5 and -0.1 fall outside: unseen
    assert m["certified_coverage"] == 3 / 7
    assert m["ambiguous_coverage"] == 2 / 7
    assert m["unseen_fraction"] == 2 / 7


def test_unseen_values_are_never_matched():
    cal = pa.table({"a": ["x", "y"], "d": ["p", "q"]})
    prod = pa.table({"a": pa.array(["x", "x ", "X", "", "y"]).dictionary_encode()})
    m = coverage(certify(cal, ["a"], "d"), prod).metrics
    assert m["certified_coverage"] == 2 / 5 and m["unseen_fraction"] == 3 / 5


def test_nulls_as_values():
    cal = pa.table({"a": ["x", None, None], "d": [1, 2, 2]})
    cert = certify(cal, ["a"], "d", nulls="value")
    m = coverage(cert, pa.table({"a": [None, "x", "z"]})).metrics
    assert m["certified_coverage"] == 2 / 3 and m["unseen_fraction"] == 1 / 3


def test_false_decisions_by_hand():
    cal = pa.table({"lang": ["en", "en", "fr", "de", "fr"], "route": ["a", "b", "a", "b", "a"]})
    prod = pa.table({"lang": ["fr", "fr", "en", "ja", "de"], "route": ["a", "b", "b", "a", "b"],
                     "w": [1.0, 2, 3, 4, 5]})
    m = coverage(certify(cal, ["lang"], "route"), prod, weight="w", action="route").metrics
    assert m["false_decisions"] == {"certificate": 2 / 15, "fiber_majority": 5 / 15, "global_majority": 10 / 15,
                                    "certify_then_acquire": 2 / 15}
    assert m["error_among_certified"] == 2 / 8 and m["acquisitions"] == 7 / 15


def test_certificate_round_trip(tmp_path):
    cal, _ = _random_pair(1)
    cert = certify(cal, ["a", "b"], "d", weight="w", min_support=2, rules=None)
    p = tmp_path / "c.arrow"
    cert.save(str(p))
    back = Certificate.load(str(p))
    assert back.table.equals(cert.table)
    assert back.meta == cert.meta
    _, prod = _random_pair(2)
    assert coverage(back, prod, weight="w").metrics == coverage(cert, prod, weight="w").metrics


def test_certificate_round_trip_with_rules(tmp_path):
    cal = pa.table({"s": np.linspace(0, 1, 50), "d": [i % 3 == 0 for i in range(50)]})
    cert = certify(cal, ["s"], "d", rules={"s": "width:0.1"})
    p = tmp_path / "c.arrow"
    cert.save(str(p))
    back = Certificate.load(str(p))
    assert back.rules["s"].spec() == "width:0.1,0.0"
    prod = pa.table({"s": [0.05, 0.55, 3.0]})
    assert coverage(back, prod).metrics == coverage(cert, prod).metrics


def test_rejects_mismatched_production(tmp_path):
    cert = certify(pa.table({"a": [1, 2], "d": [0, 1]}), ["a"], "d")
    with pytest.raises(DcbError, match=r"production column 'a' is string, but the certificate was built on int64"):
        coverage(cert, pa.table({"a": ["1", "2"]}))
    with pytest.raises(DcbError, match=r"the input table has no column 'a'"):
        coverage(cert, pa.table({"b": [1]}))


def test_refuses_corrupt_and_foreign_files(tmp_path):
    junk = tmp_path / "junk.arrow"
    junk.write_bytes(b"ARROW1\x00\x00garbage")
    with pytest.raises(DcbError, match="is not a dcb_fast certificate"):
        Certificate.load(str(junk))
    foreign = tmp_path / "foreign.arrow"
    t = pa.table({"x": [1]})
    with pa.OSFile(str(foreign), "wb") as f, pa.ipc.new_file(f, t.schema) as w:
        w.write_table(t)
    with pytest.raises(DcbError, match="is an Arrow file but not a dcb_fast certificate"):
        Certificate.load(str(foreign))
    cert = certify(pa.table({"a": [1, 2], "d": [0, 1]}), ["a"], "d")
    good = tmp_path / "good.arrow"
    cert.save(str(good))
    data = good.read_bytes()
    trunc = tmp_path / "trunc.arrow"
    trunc.write_bytes(data[: len(data) // 2])
    with pytest.raises(DcbError, match="not a readable Arrow IPC file"):
        Certificate.load(str(trunc))


def test_cli_certify_show_coverage(tmp_path):
    cal, prod = _random_pair(5)
    pq.write_table(cal, tmp_path / "cal.parquet")
    pq.write_table(prod, tmp_path / "prod.parquet")
    r = CliRunner()
    cert = str(tmp_path / "cert.arrow")
    res = r.invoke(main, ["certify", str(tmp_path / "cal.parquet"), "-e", "a,b", "-a", "d", "-w", "w", "-s", "2",
                          "-o", cert, "-q"])
    assert res.exit_code == 0, res.output
    assert "certified" in res.output and os.path.exists(cert)
    res = r.invoke(main, ["show", cert, "-f", "json"])
    assert json.loads(res.stdout)["min_support"] == 2
    out = tmp_path / "cov"
    res = r.invoke(main, ["coverage", cert, str(tmp_path / "prod.parquet"), "-w", "w", "-a", "d", "--by", "day",
                          "-o", str(out), "-f", "json", "-q"])
    assert res.exit_code == 0, res.output
    s = json.loads(res.stdout)
    want = coverage_sql_oracle(cal, prod, 2)
    assert s["metrics"]["certified_coverage"] == pytest.approx(want["certified"], abs=1e-12)
    assert s["headline"].startswith("benchmark covers")
    assert sorted(os.listdir(out)) == ["coverage_by.parquet", "summary.json", "uncovered_fibers.parquet"]
    res = r.invoke(main, ["coverage", cert, str(tmp_path / "prod.parquet"), "-w", "w"])
    assert "benchmark coverage" in res.output and "certified coverage" in res.output


def test_cli_errors(tmp_path):
    r = CliRunner()
    res = r.invoke(main, ["coverage", str(tmp_path / "nope.arrow"), str(tmp_path / "x.parquet")])
    assert res.exit_code == 1 and res.output == f"Error: no such certificate file: '{tmp_path / 'nope.arrow'}'\n"
    cert = str(tmp_path / "c.arrow")
    certify(pa.table({"a": [1, 2], "d": [0, 1]}), ["a"], "d").save(cert)
    pq.write_table(pa.table({"a": [1], "w": [-1.0]}), tmp_path / "p.parquet")
    res = r.invoke(main, ["coverage", cert, str(tmp_path / "p.parquet"), "-w", "w"])
    assert res.exit_code == 1
    assert res.output == (f"Error: {tmp_path / 'p.parquet'}: weight column 'w' has 1 rows with negative, NaN, "
                          "infinite or too large values; weights must be finite and >= 0: fix or filter those rows\n")
    res = r.invoke(main, ["coverage", cert, str(tmp_path / "p.parquet"), "--by", "a"])
    assert res.output == "Error: by column 'a' is also an evidence column of the certificate; pick another column\n"
