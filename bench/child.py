"""Run one registry entry in this fresh process and print, as the last line of stdout, a JSON
object with the call's wall time (``seconds``) and the process's peak resident memory
(``peak_rss``, bytes, from ``getrusage``; it includes the interpreter and the imported engines).

    python -m bench.child '{"case": "audit", "engine": "dcb_fast", "args": ["log.parquet"]}'

``warm_args``: call the entry once on these first (compiles or loads our kernels), so that
``seconds`` times the work alone; the peak is over the whole process either way.
"""

from __future__ import annotations

import json
import resource
import sys
import time

from .cases import CASES


def main(argv=None):
    spec = json.loads((argv or sys.argv[1:])[0])
    case = CASES[spec["case"]]
    fn = case.ours if spec["engine"] == "dcb_fast" else case.baselines[spec["engine"]]
    kwargs = spec.get("kwargs") or {}
    if spec.get("warm_args"):
        fn(*spec["warm_args"], **kwargs)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    fn(*spec["args"], **kwargs)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"seconds": seconds, "peak_rss": peak, "peak_rss_before_call": rss_before}))


if __name__ == "__main__":
    main()
