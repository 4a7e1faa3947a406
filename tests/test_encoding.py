"""Column encoders give every value the code of its first appearance, across batches, for any
integer width: including the direct-mapped window that skips hashing for values near the first
one seen (``io.encoding._DIRECT``), its edges, wrap-around at the int64/uint64 extremes, nulls,
and frozen (lookup-only) dictionaries."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from dcb_fast.io.encoding import _DIRECT, MISSING, ColumnEncoder

from .reference import first_appearance_oracle

I64_MIN, I64_MAX = -(2**63), 2**63 - 1
EDGES = [0, 1, -1, _DIRECT // 2, _DIRECT // 2 - 1, -_DIRECT // 2, -_DIRECT // 2 - 1, _DIRECT, 10**12,
         I64_MIN, I64_MIN + 1, I64_MAX, I64_MAX - 1]


def check(batches, type_):
    enc = ColumnEncoder("x")
    want = first_appearance_oracle(batches)
    for b, w in zip(batches, want):
        got = enc.encode(pa.array(b, type_)).tolist()
        assert got == [-1 if c is None else c for c in w], (b, got, w)
    assert enc.values().to_pylist() == list(dict.fromkeys(v for b in batches for v in b if v is not None))
    return enc


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.one_of(st.none(), st.sampled_from(EDGES), st.integers(-70000, 70000)), max_size=40),
                min_size=1, max_size=4))
def test_int64_codes_are_first_appearance(batches):
    enc = check(batches, pa.int64())
    seen = {v for b in batches for v in b if v is not None}
    probe = [v for v in EDGES + [123456789] if v not in seen][:3] + sorted(seen)[:3]
    got = enc.encode(pa.array(probe, pa.int64()), insert=False).tolist()
    codes = {v: c for v, c in zip(enc.values().to_pylist(), range(len(enc)))}
    assert got == [codes.get(v, MISSING) for v in probe]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from([0, 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64 - 2, 40000]), max_size=30),
                min_size=1, max_size=3))
def test_uint64_codes_wrap_like_the_kernel(batches):
    check(batches, pa.uint64())


def test_small_widths_and_window_edges():
    rng = np.random.default_rng(3)
    check([rng.integers(-128, 128, 500).tolist() for _ in range(3)], pa.int8())
    check([rng.integers(0, 65536, 2000).tolist() for _ in range(3)], pa.uint16())
    # the window is centred on the first value: values just inside and just outside it
    first = 5
    inside = [first - _DIRECT // 2, first + _DIRECT // 2 - 1]
    outside = [first - _DIRECT // 2 - 1, first + _DIRECT // 2]
    check([[first], inside + outside, outside + inside + [first]], pa.int32())
