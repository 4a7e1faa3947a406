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
