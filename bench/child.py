"""Run one registry entry in this fresh process and print, as the last line of stdout, a JSON
object with the call's wall time (``seconds``) and the process's peak resident memory
(``peak_rss``, bytes: ``VmHWM`` of ``/proc/self/status``; it includes the interpreter and the
imported engines). Not ``getrusage``: on Linux its ``ru_maxrss`` survives fork and exec, so a
child of a big pytest process would report the parent's peak.

    python -m bench.child '{"case": "audit", "engine": "dcb_fast", "args": ["log.parquet"]}'

``warm_args``: call the entry once on these first (compiles or loads our kernels), so that
``seconds`` times the work alone; the peak is over the whole process either way.
"""

from __future__ import annotations

import json
import sys
import time

from .cases import CASES


def peak_rss() -> int:
    """Peak resident memory of this process so far, in bytes."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024  # kB
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def main(argv=None):
    spec = json.loads((argv or sys.argv[1:])[0])
    case = CASES[spec["case"]]
    fn = case.ours if spec["engine"] == "dcb_fast" else case.baselines[spec["engine"]]
    kwargs = spec.get("kwargs") or {}
    if spec.get("warm_args"):
        fn(*spec["warm_args"], **kwargs)
    rss_before = peak_rss()
    t0 = time.perf_counter()
    fn(*spec["args"], **kwargs)
    seconds = time.perf_counter() - t0
    peak = peak_rss()
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "peak_rss_before_call": rss_before}))


if __name__ == "__main__":
    main()
