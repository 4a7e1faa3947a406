"""Finalization helpers against numpy."""

import numpy as np
import pytest

from dcb_fast.fibers.finalize import size_distribution


@pytest.mark.parametrize("seed", range(5))
def test_size_distribution_matches_numpy(seed):
    rng = np.random.default_rng(seed)
    sizes = np.concatenate([rng.integers(1, 40, rng.integers(1, 500)), rng.integers(60_000, 200_000, seed)])
    d = size_distribution(sizes)
    assert d["median"] == float(np.median(sizes))
    assert d["p90"] == float(np.quantile(sizes, 0.9, method="lower"))
    assert d["max"] == int(sizes.max())
    assert sum(h["fibers"] for h in d["histogram"]) == len(sizes)
    for h in d["histogram"]:
        assert h["fibers"] == int(((sizes >= h["min_rows"]) & (sizes <= h["max_rows"])).sum())


def test_size_distribution_empty():
    assert size_distribution(np.zeros(0, np.int64)) == {"median": 0, "p90": 0, "max": 0, "histogram": []}
