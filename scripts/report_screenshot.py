"""Regenerate docs/report.png: the demo audit's HTML report, screenshotted by headless Chromium.

    python scripts/report_screenshot.py [--out docs/report.png] [--rows 200000] [--top 10]

Runs the audit of ``dcb demo`` (the seeded request log; evidence lang, domain, model, score_bin;
action route; weight requests; minimum support 5) with ``--report``, then opens the report in
Debian's Chromium (``apt-get install -y chromium``).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

from dcb_fast import audit
from dcb_fast.report.html import write_report
from dcb_fast.tools.synth import EVIDENCE, write_log


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "docs", "report.png"))
    ap.add_argument("--rows", type=int, default=200_000)
    ap.add_argument("--top", type=int, default=10, help="mixed fibers listed (the page's length)")
    ap.add_argument("--width", type=int, default=1100)
    ap.add_argument("--height", type=int, default=2150)
    a = ap.parse_args(argv)
    chromium = os.environ.get("DCB_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not os.path.exists(chromium):
        print("Chromium not found: apt-get install -y chromium", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory() as tmp:
        log = write_log(os.path.join(tmp, "demo_log.parquet"), rows=a.rows, seed=7, row_group_rows=50_000)
        result = audit(log, evidence=EVIDENCE[:4], action="route", weight="requests", id="request_id",
                       min_support=5)
        # the page shows the log's path: keep it short and stable
        result.summary["input"]["files"][0]["path"] = "dcb-demo/demo_log.parquet"
        page = write_report(os.path.join(tmp, "report.html"), result.summary, {"fibers": result.fibers}, top_k=a.top)
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                        "--disable-background-networking", "--disable-component-update", "--disable-sync",
                        "--no-first-run", "--hide-scrollbars", f"--user-data-dir={os.path.join(tmp, 'profile')}",
                        f"--window-size={a.width},{a.height}", f"--screenshot={os.path.abspath(a.out)}",
                        "file://" + os.path.abspath(page)], check=True, capture_output=True, timeout=120)
    print(a.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
