"""The paths a new user hits first (issue 15): the README's set-up commands, output names that
cannot shadow a Python package, and what a plain install draws in a report."""

from __future__ import annotations

import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _pytest(*args) -> str:
    env = {**os.environ, "PATH": "/nonexistent", "DCB_CHROMIUM": "/nonexistent/chromium"}  # as without Chromium
    res = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    return res.stdout


def test_the_default_suite_deselects_the_browser_tests_and_ci_runs_them():
    # `python -m pytest` (the README's command) must pass on a machine without Chromium: the two
    # tests that open a page in Chromium are marked `browser` and deselected by the default addopts
    default = _pytest("tests/test_report_cli.py")
    assert "headless_chromium" not in default and "console_capture" not in default
    assert re.search(r"(\d+)/(\d+) tests collected \(2 deselected\)", default), default.splitlines()[-1]
    browser = _pytest("-m", "browser", "tests/test_report_cli.py")
    ids = sorted(line.split("::")[-1] for line in browser.splitlines() if "::" in line)
    assert ids == ["test_console_capture_sees_errors", "test_report_renders_in_headless_chromium"]
    # ... and CI installs Chromium, then runs exactly that selection
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    assert ci.index("apt-get install -y -qq chromium") < ci.index("run_pytest no -m browser")


# -- item 7: output names that cannot shadow a package ---------------------------------------------

def _coverage_installed() -> bool:
    code = "import importlib.util as u, sys; s = u.find_spec('coverage'); sys.exit(0 if s and s.origin else 1)"
    return subprocess.run([sys.executable, "-c", code], cwd="/").returncode == 0


def test_the_readme_coverage_output_cannot_shadow_the_package(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    outs = re.findall(r"^dcb coverage .*?(?:--out|-o) (\S+)", readme, flags=re.M)
    assert outs and all(not os.path.basename(o.rstrip("/")).isidentifier() for o in outs), outs
    pq.write_table(pa.table({"a": ["x", "y", "x"], "r": ["p", "q", "p"]}), tmp_path / "log.parquet")
    dcb = [sys.executable, "-c", "from dcb_fast.cli import run; run()"]
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    subprocess.run(dcb + ["certify", "log.parquet", "-e", "a", "-a", "r", "-o", "cert.arrow", "-q"], cwd=tmp_path,
                   env=env, check=True, capture_output=True)
    script = [sys.executable, "-c", "import numba.misc.coverage_support"]  # what numba imports first
    for name in ("coverage-out", "coverage"):
        res = subprocess.run(dcb + ["coverage", "cert.arrow", "log.parquet", "-o", name], cwd=tmp_path, env=env,
                             capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
        noted = "has the name of the Python package 'coverage'" in res.stderr
        after = subprocess.run(script, cwd=tmp_path, env=env, capture_output=True, text=True)
        if name == "coverage-out":
            assert after.returncode == 0 and not noted, (after.stderr, res.stderr)
        else:  # the folder shadows the package exactly when it is not installed, and dcb says so
            shadowed = not _coverage_installed()
            assert noted == shadowed and (after.returncode != 0) == shadowed, (res.stderr, after.stderr)
            if shadowed:
                assert "module 'coverage' has no attribute" in after.stderr


# -- item 8: what a plain install draws ------------------------------------------------------------

def test_demo_without_matplotlib_says_its_report_has_tables_for_plots(tmp_path):
    from dcb_fast.report.html import MATPLOTLIB_NOTE

    # a plain `pip install .` has no matplotlib: hide it from the dcb process
    code = "import sys; sys.modules['matplotlib'] = None; from dcb_fast.cli import run; run()"
    env = {**os.environ, "PYTHONPATH": os.path.join(ROOT, "src")}
    res = subprocess.run([sys.executable, "-c", code, "demo", "--out", "d", "--rows", "2000"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-2000:]
    page = (tmp_path / "d" / "audit" / "report.html").read_text(encoding="utf-8")
    assert "<svg" not in page
    assert MATPLOTLIB_NOTE in page or MATPLOTLIB_NOTE.replace('"', "&quot;") in page
    assert ("note: d/audit/report.html shows tables in place of plots: matplotlib is not installed; "
            'pip install "dcb-fast[report]" adds them') in res.stderr
    # and the README says what a plain install gives, next to its picture (taken with matplotlib)
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    around = " ".join(readme[readme.index("docs/report.png") - 800: readme.index("docs/report.png")].split())
    assert "A plain `pip install .`" in around and MATPLOTLIB_NOTE in around


def test_the_cli_imports_no_heavy_module():
    """`dcb --help` and every command's option parsing load click and the CLI modules only: the
    commands import numpy, pyarrow and numba when they run (a report renderer hoisted to import
    time once made every `dcb` call load pyarrow)."""
    code = ("import sys, dcb_fast.cli; "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'numpy', 'pyarrow', 'numba', 'distributed'}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
