"""The radix lexsort (``kernels.sorting``) orders rows exactly as ``np.lexsort``."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dcb_fast.kernels.sorting import lexsort, sortable

FLOATS = st.sampled_from([0.0, -0.0, 1.5, -1.5, 2.0**-1074, -(2.0**-1074), 1e300, -1e300, float("inf"),
                          float("-inf"), 3.0, 1.0 + 2.0**-52])
INTS = st.sampled_from([0, 1, -1, 2**62, -(2**63), 2**63 - 1, 7])


@settings(max_examples=200, deadline=None)
@given(st.integers(0, 60).flatmap(lambda n: st.tuples(
    st.lists(FLOATS, min_size=n, max_size=n), st.lists(st.integers(0, 3), min_size=n, max_size=n),
    st.lists(INTS, min_size=n, max_size=n))))
def test_matches_numpy_lexsort_with_ties_signed_zero_and_extremes(cols):
    v, c, i = (np.array(x) for x in cols)
    v = v.astype(np.float64)
    c = c.astype(np.int64)
    i = i.astype(np.int64)
    assert np.array_equal(lexsort([v, c, i]), np.lexsort([i, c, v]))
    assert np.array_equal(lexsort([i, v]), np.lexsort([v, i]))
    assert np.array_equal(lexsort([c]), np.argsort(c, kind="stable"))


def test_large_random_keys_use_every_digit():
    rng = np.random.default_rng(5)
    v = rng.normal(size=200_000)
    v[::7] = v[3]  # ties
    c = rng.integers(0, 3, len(v))
    w = rng.exponential(size=len(v)).round(2)
    assert np.array_equal(lexsort([v, c, w]), np.lexsort([w, c, v]))


def test_sortable_is_monotone_and_rejects_other_types():
    x = np.array([-np.inf, -1e300, -1.0, -0.0, 0.0, 2.0**-1074, 1.0, np.inf])
    k = sortable(x)
    assert np.all(k[1:] >= k[:-1]) and k[3] == k[4]
    y = np.array([-(2**63), -1, 0, 1, 2**63 - 1])
    assert np.all(np.diff(sortable(y).astype(object)) > 0)
    try:
        sortable(np.array(["a"]))
    except TypeError as exc:
        assert "dtype" in str(exc)
    else:
        raise AssertionError("strings have no radix key")
