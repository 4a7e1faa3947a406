"""``kernels.binomial.clopper_pearson_upper`` called directly: its closed forms, and the bound
bracketed by the exact binomial tail (``binomial_cdf_oracle``, rational arithmetic).

Already covered in tests/test_confidence.py through ``confidence.minority_upper`` (which
deduplicates (x, n) pairs and calls this kernel): agreement with ``scipy.stats.beta.ppf`` up to
n = 10**7 (rtol 1e-9) and with the bisection oracle ``binomial_upper_oracle`` for n < 25 at
confidence 0.9. New here: the kernel's own edge cases (n <= 0, x >= n, x = 0), any alpha, the
defining equation P(Bin(n, b) <= x) = alpha checked exactly on both sides of the bound, and
monotonicity.

Contract (docstring): ``out[i]`` is the one-sided upper bound at level 1 - alpha of x[i] / n[i]:
the p with P(Bin(n, p) <= x) = alpha; 1 when x >= n (and, unstated there but in the code, when
n <= 0: no rows bound nothing); 1 - alpha**(1/n) when x = 0."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, strategies as st

from dcb_fast.kernels.binomial import clopper_pearson_upper

from .reference import binomial_cdf_oracle


def bound(x, n, alpha):
    out = np.full(len(x), -1.0)
    clopper_pearson_upper(np.asarray(x, np.int64), np.asarray(n, np.int64), float(alpha), out)
    return out


def test_closed_forms():
    got = bound([5, 7, 0, 3, 0, 0], [5, 3, 0, -1, 1, 50], 0.05)
    assert got[:4].tolist() == [1.0, 1.0, 1.0, 1.0]
    assert got[4] == -math.expm1(math.log(0.05))  # 1 - alpha for one row
    assert got[5] == -math.expm1(math.log(0.05) / 50)
    assert round(got[5], 4) == 0.0582  # SPEC: 50 pure rows bound the minority at 5.82%


@given(st.integers(1, 40).flatmap(lambda n: st.tuples(st.integers(1, n - 1) if n > 1 else st.just(0), st.just(n))),
       st.sampled_from([0.01, 0.05, 0.1, 0.2, 0.5, 0.9]))
@example((1, 2), 0.05)
@example((39, 40), 0.01)

def test_the_tail_at_the_bound_is_alpha(xn, alpha):
    """b solves P(Bin(n, b) <= x) = alpha: just below b the tail is above alpha, just above it
    is below (relative step 1e-9; the kernel's bisection stops at float resolution)."""
    x, n = xn
    b = float(bound([x], [n], alpha)[0])
    assert 0.0 < b < 1.0
    if alpha <= 0.5:  # the median of Bin(n, x/n) is x: the bound lies above the point estimate
        assert b > x / n
    lo, hi = b * (1 - 1e-9), min(1.0, b * (1 + 1e-9))
    assert binomial_cdf_oracle(x, n, lo) > alpha > binomial_cdf_oracle(x, n, hi)


@given(st.integers(1, 300), st.sampled_from([0.01, 0.05, 0.2]))
def test_monotone_in_the_minority_and_the_support(n, alpha):
    xs = np.arange(0, n + 1)
    up = bound(xs, np.full(n + 1, n), alpha)
    assert np.all(np.diff(up) > 0) or n == 0  # more minority rows: a higher bound
    assert up[-1] == 1.0
    more = bound(np.zeros(1, np.int64), [n + 1], alpha)[0]
    assert more < up[0]  # one more pure row: a lower bound


def test_low_confidence_bound_below_the_point_estimate():
    # P(Bin(2, p) <= 1) = 1 - p**2 = alpha = 0.9  ->  p = sqrt(0.1); the bisection used to start
    # at the point estimate x/n = 0.5 and returned it (check_confidence accepts any (0, 1))
    assert bound([1], [2], 0.9)[0] == pytest.approx(math.sqrt(0.1), rel=1e-12)


def test_every_row_is_written_independently():
    x = np.array([0, 1, 2, 1, 0], np.int64)
    n = np.array([10, 10, 10, 10, 10], np.int64)
    got = bound(x, n, 0.05)
    assert got[1] == got[3] and got[0] == got[4]
    assert bound(x[1:2], n[1:2], 0.05)[0] == got[1]
