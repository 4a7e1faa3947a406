"""The report from the command line (--report, dcb report and its errors), every command's JSON
against summary.schema.json, and a report opened in a real headless Chromium."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from dcb_fast.cli import main
from dcb_fast.report import plots
from dcb_fast.report.html import render_report, write_report
from dcb_fast.tools.synth import tox21_table

from .report_helpers import (assert_safe_page, channel_check, planned_summaries, report_audit, report_log,
                             skipped, validator)


@pytest.fixture(scope="module")
def log_table():
    return report_log()


@pytest.fixture(scope="module")
def audit_result(log_table):
    return report_audit(log_table)


@pytest.fixture(scope="module")
def summaries(audit_result):
    return {"audit": (audit_result.summary, None), "channels": (channel_check(), None),
            **{k: (v, None) for k, v in planned_summaries().items()}}


# ---------------------------------------------------------------- JSON schema


@pytest.fixture(scope="module")
def cli_data(tmp_path_factory, log_table):
    d = tmp_path_factory.mktemp("cli")
    log = d / "log.parquet"
    pq.write_table(log_table, log)
    rng = np.random.default_rng(8)
    n = 400
    p = rng.normal(size=n)
    ch = d / "channels.parquet"
    pq.write_table(pa.table({"p": p, "yb": p + 0.1 * rng.normal(size=n), "yd": p + rng.normal(size=n),
                             "g": rng.choice(["a", "b", "c", "d"], n)}), ch)
    cal, prod = d / "cal.parquet", d / "prod.parquet"
    pq.write_table(log_table.slice(0, 10_000), cal)
    pq.write_table(log_table.slice(10_000), prod)
    cert = d / "cert.arrow"
    res = CliRunner().invoke(main, ["certify", str(cal), "-e", "lang,domain", "-a", "route", "-s", "3", "-o", str(cert),
                                    "-q"])
    assert res.exit_code == 0, res.output
    tox = d / "tox21.parquet"
    pq.write_table(tox21_table(), tox)
    return {"log": str(log), "channels": str(ch), "dir": d, "cal": str(cal), "prod": str(prod), "cert": str(cert),
            "tox21": str(tox)}


# Every command's --format json output must validate against summary.schema.json: add a line per
# command (and per option that changes the summary's shape).
JSON_COMMANDS = [
    pytest.param(lambda d: ["audit", d["log"], "-e", "lang,domain,model", "-a", "route", "-f", "json", "-q"],
                 id="audit"),
    pytest.param(lambda d: ["audit", d["log"], "-e", "lang,score", "-a", "route", "-w", "requests", "-s", "5",
                            "--thin", "skip", "--rule", "score=width:0.1", "--nulls", "value", "-f", "json", "-q"],
                 id="audit-weighted-binned"),
    pytest.param(lambda d: ["channels", d["channels"], "--pred", "p", "--bench-label", "yb", "--deploy-label", "yd",
                            "-f", "json", "-q"], id="channels"),
    pytest.param(lambda d: ["channels", d["channels"], "--pred", "p", "--bench-label", "yb", "--deploy-label", "yd",
                            "--group-by", "g", "--alpha", "0.2", "-f", "json", "-q"], id="channels-groups"),
    pytest.param(lambda d: ["coverage", d["cert"], d["prod"], "-w", "requests", "-a", "route", "--by", "region",
                            "-f", "json", "-q"], id="coverage"),
    pytest.param(lambda d: ["complete", d["cal"], "-e", "lang,domain", "-a", "route", "-p", "probe_gpu,probe_latency",
                            "-s", "3", "-f", "json", "-q"], id="completion"),
    pytest.param(lambda d: ["sweep", d["cal"], "-e", "score", "-a", "route", "--error", "score_err", "--group-by",
                            "model", "-f", "json", "-q"], id="sweep"),
    pytest.param(lambda d: ["replay", d["tox21"], "-e", "pattern", "-a", "sr_p53", "--splits", "4", "-s", "50", "-f",
                            "json", "-q"], id="replay"),
]


@pytest.mark.parametrize("args", JSON_COMMANDS)
def test_cli_json_validates_against_the_schema(cli_data, args):
    res = CliRunner().invoke(main, args(cli_data))
    assert res.exit_code == 0, (res.output, res.exception)
    summary = json.loads(res.stdout)
    errors = [f"{list(e.path)}: {e.message}" for e in validator().iter_errors(summary)]
    assert errors == []
    # and its report has every section
    page = render_report(summary)
    assert_safe_page(page)
    assert skipped(page) == []


def test_planned_kinds_validate_and_broken_summaries_do_not(summaries):
    v = validator()
    for kind, (s, _) in summaries.items():
        assert [e.message for e in v.iter_errors(s)] == [], kind
    broken = [
        ("audit", lambda s: s["metrics"].pop("certifiable_fraction")),
        ("audit", lambda s: s["metrics"].__setitem__("ambiguous_fraction", 1.5)),
        ("audit", lambda s: s.__setitem__("schema_version", 2)),
        ("audit", lambda s: s.__setitem__("kind", "audit-ish")),
        ("channels", lambda s: s["parameters"].pop("alpha")),
        ("coverage", lambda s: s["metrics"].pop("top_uncovered")),
        ("completion", lambda s: s["metrics"]["curve"][0].pop("certifiable_fraction")),
        ("sweep", lambda s: s["metrics"]["by_rule"][0].pop("median_certifiable")),
        ("replay", lambda s: s["metrics"]["policies"]["certify_only"]["false_decisions"].pop("p90")),
        ("replay", lambda s: s.pop("headline")),
    ]
    for kind, breaker in broken:
        s = copy.deepcopy(summaries[kind][0])
        breaker(s)
        assert list(v.iter_errors(s)), (kind, breaker)


def test_schema_ships_in_the_package():
    import importlib.resources

    text = importlib.resources.files("dcb_fast.report").joinpath("summary.schema.json").read_text(encoding="utf-8")
    assert json.loads(text)["$schema"] == "https://json-schema.org/draft/2020-12/schema"


# ---------------------------------------------------------------- CLI


def test_cli_audit_and_channels_write_reports(cli_data, tmp_path):
    r = CliRunner()
    res = r.invoke(main, ["audit", cli_data["log"], "-e", "lang,domain", "-a", "route", "--report",
                          str(tmp_path / "new" / "audit.html"), "-q"])
    assert res.exit_code == 0, res.output
    page = (tmp_path / "new" / "audit.html").read_text(encoding="utf-8")
    assert_safe_page(page)
    assert "Top mixed fibers" in page and "fiber table is not available" not in page
    res = r.invoke(main, ["channels", cli_data["channels"], "--pred", "p", "--bench-label", "yb", "--deploy-label",
                          "yd", "--group-by", "g", "--report", str(tmp_path / "ch.html")])
    assert res.exit_code == 0, res.output
    assert "wrote report" in res.stderr
    assert "Per g" in (tmp_path / "ch.html").read_text(encoding="utf-8")


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_cli_report_from_a_result_directory(cli_data, tmp_path, fmt):
    r = CliRunner()
    out = tmp_path / "res"
    res = r.invoke(main, ["audit", cli_data["log"], "-e", "lang,domain", "-a", "route", "-w", "requests",
                          "-o", str(out), "--fiber-format", fmt, "--no-cases", "-q",
                          "--report", str(tmp_path / "direct.html")])
    assert res.exit_code == 0, res.output
    res = r.invoke(main, ["report", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(out / "report.html")
    page = (out / "report.html").read_text(encoding="utf-8")
    assert_safe_page(page)
    assert "Top mixed fibers" in page and "fiber table is not available" not in page
    if fmt == "parquet":  # the saved outputs (only the columns the report reads) give the same page as the run
        assert page == (tmp_path / "direct.html").read_text(encoding="utf-8")
    res = r.invoke(main, ["report", str(out / "summary.json"), "--out", str(tmp_path / "x.html"), "--top", "5", "-q"])
    assert res.exit_code == 0, res.output
    top = re.search(r"<h2>Top mixed fibers</h2>.*?</section>", (tmp_path / "x.html").read_text(), re.S).group(0)
    assert top.count("<tr>") == 1 + 5


def test_cli_report_errors(tmp_path):
    r = CliRunner()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "summary.json").write_text('{"hello": 1}')
    (tmp_path / "newer").mkdir()
    (tmp_path / "newer" / "summary.json").write_text('{"schema_version": 7, "kind": "audit"}')
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "summary.json").write_text('{"schema_version": 1,')
    cases = [
        (tmp_path / "missing", f"Error: result directory '{tmp_path / 'missing'}' does not exist; pass the --out "
                               "directory of a dcb command"),
        (foreign, f"Error: no summary.json in '{foreign}'; pass a directory written by a dcb command with --out"),
        (tmp_path / "bad", f"Error: '{tmp_path / 'bad' / 'summary.json'}' is not a dcb summary (no schema_version "
                           "and kind); pass a directory written by a dcb command with --out"),
        (tmp_path / "newer", f"Error: '{tmp_path / 'newer' / 'summary.json'}' has schema_version 7, newer than this "
                             "dcb_fast reads (1); upgrade dcb-fast"),
    ]
    for path, message in cases:
        res = r.invoke(main, ["report", str(path)])
        assert res.exit_code == 1 and res.output.strip() == message, res.output
    res = r.invoke(main, ["report", str(tmp_path / "broken")])
    assert res.exit_code == 1 and res.output.startswith(f"Error: cannot read '{tmp_path / 'broken' / 'summary.json'}'")
    assert len(res.output.strip().splitlines()) == 1


def test_cli_report_path_that_is_a_directory_fails_before_the_audit(cli_data, tmp_path):
    res = CliRunner().invoke(main, ["audit", cli_data["log"], "-e", "lang", "-a", "route", "--report", str(tmp_path)])
    assert res.exit_code == 1
    assert res.output.strip() == (f"Error: report path '{tmp_path}' is a directory; give a file name such as "
                                  f"{tmp_path}/report.html")


# ---------------------------------------------------------------- a real browser


CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--enable-logging=stderr", "--v=0"]


def chromium_path() -> str:
    """Debian's Chromium. The browser tests are marked ``browser``: the default suite deselects them
    (a fresh machine has no Chromium), ``python -m pytest -m browser`` runs them (.ci/run does,
    after installing Chromium), and then they fail, never skip, when it is missing."""
    path = os.environ.get("DCB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(path):
        pytest.fail("headless Chromium is needed for the browser test but was not found ($DCB_CHROMIUM, chromium on "
                    "PATH, /usr/bin/chromium): install it with `apt-get install -y chromium` (.ci/run does)")
    return path


def run_chromium(page: str, tmp_path, *args) -> tuple[str, list[str]]:
    """Open ``page`` (a file path) in headless Chromium; return stdout and the console messages."""
    profile = tmp_path / f"profile-{len(os.listdir(tmp_path))}"
    res = subprocess.run([chromium_path(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args,
                          "file://" + os.path.abspath(page)], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
    console = [line for line in res.stderr.splitlines() if re.search(r":CONSOLE[:(]", line)]
    return res.stdout, console


@pytest.mark.browser
def test_console_capture_sees_errors(tmp_path):
    # the check below means something only if a page with errors is caught
    bad = tmp_path / "bad.html"
    bad.write_text('<!DOCTYPE html><html><body><p>x</p><script>console.error("boom-1"); nope();</script></body></html>')
    _, console = run_chromium(str(bad), tmp_path, "--dump-dom")
    assert any("boom-1" in c for c in console) and any("nope" in c for c in console)


@pytest.mark.browser
def test_report_renders_in_headless_chromium(tmp_path, audit_result):
    path = tmp_path / "report.html"
    write_report(str(path), audit_result.summary, {"fibers": audit_result.fibers})
    dom, console = run_chromium(str(path), tmp_path, "--dump-dom")
    assert console == []
    m = audit_result.metrics
    assert "dcb audit report" in dom and audit_result.summary["headline"] in dom
    for key in ("certifiable_fraction", "ambiguous_fraction", "thin_fraction"):
        assert f"{100 * m[key]:.2f}%" in dom
    if plots.available():
        assert dom.count("<svg") == 3
    shot = tmp_path / "shot.png"
    _, console = run_chromium(str(path), tmp_path, f"--screenshot={shot}", "--window-size=1100,1400")
    assert console == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 20_000



def test_coverage_report_lists_uncovered_fibers_from_the_full_table(cli_data, tmp_path):
    r = CliRunner()
    out = tmp_path / "cov"
    res = r.invoke(main, ["coverage", cli_data["cert"], cli_data["prod"], "-w", "requests", "--top", "3", "-o",
                          str(out), "-q", "--report", str(tmp_path / "direct.html")])
    assert res.exit_code == 0, res.output
    n_uncovered = pq.read_metadata(out / "uncovered_fibers.parquet").num_rows
    assert n_uncovered > 60
    direct = (tmp_path / "direct.html").read_text(encoding="utf-8")
    assert_safe_page(direct)
    top = re.search(r"<h2>Top uncovered fibers</h2>.*?</section>", direct, re.S).group(0)
    # the summary lists 3; the report takes the top 50 of the full table
    assert top.count("<tr>") == 1 + 50 and f"and {n_uncovered - 50:,} more uncovered fibers" in top
    res = r.invoke(main, ["report", str(out), "-q"])
    assert res.exit_code == 0, res.output
    assert (out / "report.html").read_text(encoding="utf-8") == direct
