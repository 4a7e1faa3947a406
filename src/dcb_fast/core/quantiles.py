"""Exact quantiles over a whole streamed input, in bounded memory (SPEC section 2: quantile bins).

:func:`exact_quantiles` gives the same numbers as ``numpy.quantile(values, qs)`` (linear
interpolation, numpy's own arithmetic) without holding the column in memory: a few passes over
that one column narrow each needed order statistic down (see ``kernels.selection``).
"""

from __future__ import annotations

import math

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DcbError
from ..io import arrow as A
from ..kernels import selection as ksel

_BUDGET = 1 << 23  # collect the remaining candidates once at most this many are left
_D = ksel.DIGIT_BITS


def _keys(arr: pa.Array, scratch: np.ndarray) -> tuple[np.ndarray, int]:
    arr = A.as_array(arr)
    if pa.types.is_dictionary(arr.type):
        arr = arr.cast(arr.type.value_type)
    if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_null(arr.type)):
        raise DcbError(f"quantiles need a numeric column, got {arr.type}")
    vals = np.ascontiguousarray(A.np_values(pc.cast(arr, pa.float64()), nan_nulls=True))
    bitmap, off = A.validity(arr)
    m = ksel.keys_of(vals, vals.view(np.uint64), bitmap, off, scratch[: len(vals)])
    return scratch, int(m)


def order_statistics(read_batches, ranks: list[int]) -> dict[int, float]:
    """Values of the given 0-based ranks (in ascending order of the non-null, non-NaN values).

    ``read_batches()`` yields the column's arrays; it is called once per pass."""
    scratch = np.empty(1 << 16, dtype=np.uint64)

    def passes():
        nonlocal scratch
        for arr in read_batches():
            if len(arr) > len(scratch):
                scratch = np.empty(len(arr), dtype=np.uint64)
            yield _keys(arr, scratch)

    # state per wanted rank: (prefix of the key found so far, its bit length, rank within it)
    want = {r: (0, 0, r) for r in ranks}
    result: dict[int, float] = {}
    while want:
        depth = next(iter(want.values()))[1]
        prefixes = np.array(sorted({p for p, _, _ in want.values()}), dtype=np.uint64)
        if depth >= 64:
            for r, (p, _, _) in want.items():
                result[r] = ksel.key_to_float(int(p))
            break
        shift_prefix = 64 - depth
        digit = min(_D, 64 - depth)
        shift_digit = 64 - depth - digit
        hist = np.zeros((len(prefixes), 1 << _D), dtype=np.int64)
        for keys, m in passes():
            ksel.histogram_digit(keys, m, prefixes, shift_prefix, shift_digit, digit, hist)
        hist = hist[:, : 1 << digit]
        pos = {int(p): i for i, p in enumerate(prefixes)}
        new = {}
        for r, (p, d, within) in want.items():
            h = hist[pos[int(p)]]
            cum = np.cumsum(h)
            b = int(np.searchsorted(cum, within, side="right"))
            before = int(cum[b - 1]) if b else 0
            new[r] = ((int(p) << digit) | b, d + digit, within - before)
        want = new
        # few candidates left (and not yet exact): one more pass collects and sorts them
        depth = depth + digit
        if depth < 64:
            prefixes = np.array(sorted({p for p, _, _ in want.values()}), dtype=np.uint64)
            total = 0
            counted = set()
            for r, (p, _, _) in want.items():
                parent = p >> digit
                if p not in counted:
                    counted.add(p)
                    total += int(hist[pos[int(parent)], p & ((1 << digit) - 1)])
            if total <= _BUDGET:
                out = np.empty(total, dtype=np.uint64)
                m = 0
                for keys, n in passes():
                    m = ksel.collect(keys, n, prefixes, 64 - depth, out, m)
                out.sort()
                starts = {}
                for p in sorted(counted):
                    lo = int(np.searchsorted(out >> np.uint64(64 - depth), np.uint64(p), side="left"))
                    starts[p] = lo
                for r, (p, _, within) in want.items():
                    result[r] = ksel.key_to_float(int(out[starts[p] + within]))
                want = {}
    return result


def exact_quantiles(read_batches, qs, n: int | None = None) -> np.ndarray:
    """``numpy.quantile(values, qs)`` (method 'linear') over a streamed column, exactly."""
    qs = np.asarray(qs, dtype=np.float64)
    if n is None:
        n = 0
        for arr in read_batches():
            arr = A.as_array(arr)
            if pa.types.is_dictionary(arr.type):
                arr = arr.cast(arr.type.value_type)
            v = pc.cast(arr, pa.float64())
            n += len(v) - v.null_count - int(pc.sum(pc.is_nan(v)).as_py() or 0)
    if n == 0:
        raise DcbError("no non-null values to compute quantiles from")
    # numpy's arithmetic for method='linear': virtual index (n - 1) * q, gamma = index - floor
    virtual = (n - 1) * qs
    prev = np.floor(virtual).astype(np.int64)
    prev = np.clip(prev, 0, n - 1)
    nxt = np.minimum(prev + 1, n - 1)
    gamma = virtual - np.floor(virtual)
    stats = order_statistics(read_batches, sorted(set(prev.tolist()) | set(nxt.tolist())))
    a = np.array([stats[int(i)] for i in prev])
    b = np.array([stats[int(i)] for i in nxt])
    diff = b - a
    out = a + diff * gamma
    hi = gamma >= 0.5
    out[hi] = (b - diff * (1 - gamma))[hi]
    return out


def quantile_edges(read_batches, n_bins: int, n: int | None = None) -> np.ndarray:
    """Edges at the ``n_bins`` quantiles of a column (0, 1/n, ..., 1), duplicates removed."""
    if n_bins < 1:
        raise DcbError(f"quantile rule needs at least 1 bin, got {n_bins}")
    e = exact_quantiles(read_batches, np.linspace(0.0, 1.0, n_bins + 1), n)
    e = np.unique(e)
    if len(e) == 1:  # a single value: one closed bin [v, v]
        e = np.array([e[0], e[0]])
    if not all(math.isfinite(x) for x in e):
        raise DcbError("quantile edges are not finite: the column holds infinite values; filter them or use edges:")
    return e


def mean_abs(read_batches) -> float:
    """Mean of |x| over a streamed column (nulls and NaN left out), correctly rounded."""
    return _mean(read_batches, absolute=True)


def mean_signed(read_batches) -> float:
    """Mean of a streamed numeric column (nulls and NaN left out), correctly rounded."""
    return _mean(read_batches, absolute=False)


def _mean(read_batches, absolute: bool) -> float:
    vals, n = [], 0
    for arr in read_batches():
        arr = A.as_array(arr)
        if pa.types.is_dictionary(arr.type):
            arr = arr.cast(arr.type.value_type)
        if not (pa.types.is_integer(arr.type) or pa.types.is_floating(arr.type) or pa.types.is_null(arr.type)):
            raise DcbError(f"a mean needs a numeric column, got {arr.type}")
        v = A.np_values(pc.cast(arr, pa.float64()), nan_nulls=True)
        ok = ~np.isnan(v)
        if arr.null_count:
            ok &= A.np_values(arr.is_valid())
        vals.append(np.abs(v[ok]) if absolute else v[ok])
        n += int(ok.sum())
    if n == 0:
        raise DcbError("no non-null values to compute a mean from")
    return math.fsum(np.concatenate(vals)) / n
