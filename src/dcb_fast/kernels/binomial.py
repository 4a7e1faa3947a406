"""The exact one-sided Clopper-Pearson upper bound of a binomial proportion, per fiber.

With ``x`` minority rows among ``n``, the upper bound at confidence ``1 - alpha`` is the ``p``
with ``P(Bin(n, p) <= x) = alpha``, i.e. the ``1 - alpha`` quantile of Beta(x + 1, n - x). The
binomial tail is the regularized incomplete beta ``I_{1-p}(n - x, x + 1)`` (a continued
fraction, modified Lentz), and the bound is found by bisection on ``p``: the tail falls
monotonically in ``p``. No scipy at run time; tests compare with ``scipy.stats.beta.ppf``.
"""

import math

from .._jit import inline, kernel

_TINY = 1e-300


@inline
def _lentz(aa, c, d):
    """One step of the modified Lentz recurrence for the coefficient ``aa``: the new ``(c, d)``."""
    d = 1.0 + aa * d
    if abs(d) < _TINY:
        d = _TINY
    c = 1.0 + aa / c
    if abs(c) < _TINY:
        c = _TINY
    return c, 1.0 / d


@inline
def _betacf(a, b, x):
    """Continued fraction of the regularized incomplete beta (Numerical Recipes' betacf)."""
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c = 1.0
    d = 1.0 - qab * x / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    for m in range(1, 100000):
        m2 = 2.0 * m
        c, d = _lentz(m * (b - m) * x / ((qam + m2) * (a + m2)), c, d)  # the even step
        h *= d * c
        c, d = _lentz(-(a + m) * (qab + m) * x / ((a + m2) * (qap + m2)), c, d)  # the odd step
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-16:
            break
    return h


@inline
def _ibeta(a, b, x, lbeta):
    """Regularized incomplete beta ``I_x(a, b)``; ``lbeta`` = log B(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(a * math.log(x) + b * math.log1p(-x) - lbeta)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


@kernel
def clopper_pearson_upper(x, n, alpha, out):
    """``out[i]``: the one-sided upper confidence bound of the proportion ``x[i] / n[i]`` at
    level ``1 - alpha`` (1 when ``x == n``; ``1 - alpha**(1/n)`` when ``x == 0``)."""
    for i in range(x.shape[0]):
        xi, ni = x[i], n[i]
        if ni <= 0 or xi >= ni:
            out[i] = 1.0
            continue
        if xi == 0:
            out[i] = -math.expm1(math.log(alpha) / ni)
            continue
        a, b = float(ni - xi), float(xi + 1)
        lbeta = math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
        # for alpha <= 0.5 the bound lies above the point estimate (the median of Bin(n, x/n) is
        # x); at lower confidence it can lie below it, so the search starts at 0
        lo, hi = (xi / ni if alpha <= 0.5 else 0.0), 1.0
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if mid <= lo or mid >= hi:
                break
            # P(X <= x | n, p) = I_{1-p}(n - x, x + 1): falls in p
            if _ibeta(a, b, 1.0 - mid, lbeta) > alpha:
                lo = mid
            else:
                hi = mid
        out[i] = 0.5 * (lo + hi)
