"""Compile every kernel ahead of time (for cluster images and worker start-up).

:func:`warmup` runs the counting warm-up of :mod:`dcb_fast.fibers.warm` and then small audits
that reach every other path (finalizing, the per-fiber table, ambiguous-case lookup, continuous
rules, completion, certificates and coverage), so a later run neither compiles nor loads
anything new. Run it once when building an image (``dcb warmup``); workers of the Dask engine
warm the counting part on start, which then only loads the cached code.
"""

from __future__ import annotations

from ..fibers.warm import warm
from ..methods.audit import audit
from ..methods.certify import certify
from ..methods.complete import complete
from ..methods.coverage import coverage


def _warm_audits(big, small, threads: int) -> None:
    """Everything else an audit and its relatives run in the calling process: finalizing, the
    per-fiber table, ambiguous-case lookup, continuous rules, completion, certificates and
    coverage."""
    for table, batch_rows, th in ((big, 1 << 20, max(2, threads)), (small, 1_000, 1), (small, 2_500, threads)):
        r = audit(table, evidence=["s", "d", "i8", "f"], action="act", weight="w", batch_rows=batch_rows, threads=th)
        r.ambiguous_cases()
        audit(table, evidence=["i64", "b", "day", "u"], action="d", weight="wi", nulls="value",
              batch_rows=batch_rows, threads=th)
        audit(table, evidence=["d", "b"], action="act", batch_rows=batch_rows, threads=th)
    r.fibers  # the per-fiber table (its finalize kernels), on the small input only: it costs per fiber
    audit(small, evidence=["s", "d"], action="act", weight="w", min_support=3, thin="skip").fibers
    # continuous evidence: quantile bins (resolved by a first pass), tolerance and kNN windows
    for rule in ("quantile:5", "window:0.3", "knn:25", "window:mae:err"):
        audit(small, evidence=["f"], action="act", weight="w", rules={"f": rule}, threads=threads)
    audit(big, evidence=["f"], action="act", rules={"f": "quantile:10"}, threads=max(2, threads))
    # completion refines fibers by each candidate probe

    complete(small, ["d"], "act", ["i8", "b"], weight="w", min_support=2, holdout=0.5)
    complete(small, ["d"], "act", ["i8", "b"], threads=threads)
    # certificates and production coverage reuse the same kernels and add their own sums
    cert = certify(small, evidence=["s", "d"], action="act", weight="w", min_support=2)
    coverage(cert, big.slice(0, 5_000), weight="w", action="act", by="b", threads=threads)
    # without by, production rows are looked up in the certificate (float, integer and no weights)
    for w, act in (("w", "act"), ("wi", None), (None, "act")):
        coverage(cert, big, weight=w, action=act, threads=max(2, threads))


def warmup(threads: int | None = None, parts_only: bool = False) -> dict:
    """Compile (or load from the on-disk cache) every kernel the methods use.

    With ``parts_only``, only what a cluster task runs (counting partial states, serializing
    and merging them): what a Dask worker needs, at a fraction of the start-up time.

    Returns where the cache is (``cache_dirs``), how long it took (``seconds``), how many kernel
    signatures were compiled (``compiled``) or loaded from the cache (``loaded``), and which
    kernels of ``dcb_fast.kernels`` were not reached (``not_warmed``; they compile on first use).

    >>> info = warmup(threads=1, parts_only=True)
    >>> info["signatures"] > 0 and info["seconds"] >= 0
    True
    """
    return warm(threads, None if parts_only else _warm_audits)
