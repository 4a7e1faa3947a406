"""Statistical confidence of a certification (issue 18, item 2).

Strict purity with a minimum support is brittle: 50 pure rows still allow a minority of up to
1 - 0.05**(1/50) = 5.82% at 95% confidence. Per fiber, :func:`minority_upper` is the exact
one-sided Clopper-Pearson upper bound of the share of rows that do not carry the fiber's most
frequent action; a tolerant certification (``max_minority``) certifies a fiber when its support
reaches the minimum and this bound is at most ``max_minority``.

The certified fraction gets a two-sided Wilson score interval (:func:`wilson_interval`), with
the rows of the audit as the sample size: the audit table is read as a sample of the traffic
and each row's class as fixed by its fiber. Wilson rather than the Wald interval because
certified fractions sit near 0 or 1, where Wald's interval collapses or leaves [0, 1]; rather
than Clopper-Pearson because that one is conservative (covers more than asked) and a headline
interval should be as wide as the sampling noise, not wider. It does not count the uncertainty
of each fiber's own class (that is what ``minority_upper`` measures), and with uneven weights
the effective sample is smaller than the row count, so the interval is then too narrow.
"""

from __future__ import annotations

import math
from statistics import NormalDist

import numpy as np

from ..errors import DcbError
from ..kernels.binomial import clopper_pearson_upper


def check_confidence(confidence: float) -> float:
    c = float(confidence)
    if not (0.0 < c < 1.0):
        raise DcbError(f"confidence must be strictly between 0 and 1 (e.g. 0.95), got {confidence}")
    return c


def minority_upper(minority, support, confidence: float = 0.95) -> np.ndarray:
    """The one-sided upper ``confidence`` bound of the minority share of each fiber, from its
    ``minority`` rows (rows without the fiber's most frequent action) among ``support`` rows.

    >>> round(float(minority_upper([0], [50])[0]), 4)  # 1 - 0.05 ** (1 / 50)
    0.0582
    >>> round(float(minority_upper([1], [10])[0]), 4)
    0.3942
    """
    alpha = 1.0 - check_confidence(confidence)
    x = np.asarray(minority, dtype=np.int64)
    n = np.asarray(support, dtype=np.int64)
    if x.size == 0:
        return np.zeros(0, np.float64)
    # many fibers share a (minority, support) pair: solve each pair once. One int64 key per
    # fiber (np.unique over 2-D rows sorts structured rows, many times slower)
    base = int(n.max()) + 1
    key = x * base + n if base < (1 << 31) else None
    size = (int(x.max()) + 1) * base
    if size <= 1 << 22:  # small supports (the common case): a dense table of pairs, no sort
        present = np.zeros(size, dtype=bool)
        present[key] = True
        uniq = np.flatnonzero(present)
        slot = np.empty(size, dtype=np.int32)
        slot[uniq] = np.arange(len(uniq), dtype=np.int32)
        inv = slot[key]
        px, pn = uniq // base, uniq % base
    elif key is not None:
        uniq, inv = np.unique(key, return_inverse=True)
        px, pn = uniq // base, uniq % base
    else:
        pairs, inv = np.unique(np.stack([x, n], axis=1), axis=0, return_inverse=True)
        px, pn = pairs[:, 0], pairs[:, 1]
    out = np.empty(len(px), np.float64)
    clopper_pearson_upper(np.ascontiguousarray(px), np.ascontiguousarray(pn), alpha, out)
    return out[inv.reshape(-1)]


def wilson_interval(p: float, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided Wilson score interval of a proportion ``p`` observed on ``n`` draws.

    >>> lo, hi = wilson_interval(0.5, 100)
    >>> round(lo, 4), round(hi, 4)
    (0.4038, 0.5962)
    """
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + check_confidence(confidence) / 2.0)
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z * math.sqrt(max(p * (1 - p), 0.0) / n + z2 / (4 * n * n)) / (1 + z2 / n)
    # at p = 0 (or 1) the bound is 0 (or 1) exactly; the formula leaves a rounding residue
    lo = 0.0 if p <= 0.0 else max(0.0, centre - half)
    hi = 1.0 if p >= 1.0 else min(1.0, centre + half)
    return lo, hi
