"""``kernels.dictionaries`` called directly with tiny tables: integer and byte-string codes are
the codes of first appearance (``first_appearance_oracle``), whatever the table size (the kernels
stop when full; a plain driver here grows the arrays, rehashes and resumes), the Arrow validity
bitmap and its bit offset, the direct-mapped window, frozen (lookup-only) tables and dictionary
indices (``take_codes``).

Already covered in tests/test_encoding.py through ``io.encoding.ColumnEncoder``: every integer
width, the direct window's edges around the first value, int64/uint64 wrap-around, nulls, frozen
dictionaries. New here: the kernels' stop-and-resume contract on tables that fill up every few
rows, a bitmap offset that is not a multiple of 8, the byte kernel on embedded NUL bytes and
empty strings, ``rehash_*`` skipping the reserved null code, and ``take_codes``.

Contract (module and function docstrings): ``encode_*`` write ``out[i]`` for rows ``start..``;
a new value gets the next code (``state[0]``) when ``insert``, else ``missing_code``; a null
gets ``null_code``; they return the row where they stopped, ``len(values)`` when done, and stop
*before* a row whose new value would leave the slot table more than half full or overflow the
key (or byte) arrays; ``state`` is then consistent and the call can resume from that row after
the caller grows the arrays and rebuilds ``slots`` with ``rehash_*`` (which skip the reserved
null code ``skip``: it owns a code but no slot). ``direct[v - base]`` caches codes of values in
``[base, base + len(direct))`` (-1: not yet)."""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from dcb_fast.kernels import dictionaries as kd

from .reference import first_appearance_oracle

MISSING = -2


def bitmap(valid, voff):
    """An Arrow validity bitmap (LSB first) holding ``valid`` from bit ``voff`` on."""
    bits = [0] * voff + [1 if v else 0 for v in valid]
    out = np.zeros((len(bits) + 7) // 8 + 1, np.uint8)
    for i, b in enumerate(bits):
        out[i >> 3] |= b << (i & 7)
    return out


def valid_of(batch, voff):
    if all(v is not None for v in batch):
        return np.zeros(0, np.uint8), 0  # an empty bitmap: no nulls
    return bitmap([v is not None for v in batch], voff), voff


class Ints:
    """The smallest driver of the integer kernels: arrays grown only when a kernel stops."""

    def __init__(self, cap, direct=0, base=0, null_code=-1):
        self.keys = np.zeros(cap, np.int64)
        self.slots = np.full(4, -1, np.int32)
        self.state = np.zeros(1, np.int64)
        self.direct = np.full(direct, -1, np.int32)
        self.base = base
        self.null_code = null_code
        self.stops = 0
        if null_code >= 0:  # a reserved null code owns a code but no slot
            self.state[0] = null_code + 1

    def encode(self, values, valid, voff, insert=True):
        out = np.full(len(values), 12345, np.int32)
        i = 0
        while True:
            i = kd.encode_ints(values, valid, voff, i, np.int32(self.null_code), insert, np.int32(MISSING), self.keys,
                               self.slots, self.state, out, self.direct, np.int64(self.base))
            if i >= len(values):
                return out
            self.stops += 1
            nv = int(self.state[0])
            assert not insert or nv + 1 > len(self.keys) or 2 * (nv + 1) > len(self.slots)  # it stopped for room
            if nv + 1 > len(self.keys):
                self.keys = np.concatenate([self.keys, np.zeros(len(self.keys) + 1, np.int64)])
            if 2 * (nv + 1) > len(self.slots):
                self.slots = np.full(2 * len(self.slots), -1, np.int32)
                kd.rehash_ints(self.keys, nv, self.null_code, self.slots)


INT = st.one_of(st.integers(-(2**63), 2**63 - 1), st.integers(-5, 5), st.sampled_from([-(2**63), 2**63 - 1]))


@given(st.lists(st.lists(st.one_of(st.none(), INT), max_size=25), min_size=1, max_size=4), st.integers(0, 13),
       st.sampled_from([0, 8, 64]), st.integers(-8, 8), st.booleans())
def test_int_codes_are_first_appearance_in_tables_that_fill_up(batches, voff, direct, base, keep_nulls):
    null_code = 0 if keep_nulls else -1
    enc = Ints(1, direct, base, null_code)
    want = first_appearance_oracle(batches)
    shift = 1 if keep_nulls else 0
    for b, w in zip(batches, want):
        values = np.array([0 if v is None else v for v in b], np.int64)
        valid, off = valid_of(b, voff)
        got = enc.encode(values, valid, off).tolist()
        assert got == [null_code if c is None else c + shift for c in w]
    n_codes = len({v for b in batches for v in b if v is not None})
    assert enc.state[0] == n_codes + shift
    seen = [v for v in dict.fromkeys(v for b in batches for v in b if v is not None)]
    assert enc.keys[shift:n_codes + shift].tolist() == seen  # code c holds its value
    for v, c in zip(seen, range(shift, n_codes + shift)):  # the direct window caches what it saw
        d = (v - base) % 2**64
        if d < direct:
            assert enc.direct[d] == c
    # frozen: known values keep their codes, new ones are MISSING, nothing is added
    probe = seen[:3] + [v for v in (7, -(2**63) + 1, 2**62) if v not in seen]
    got = enc.encode(np.array(probe, np.int64), np.zeros(0, np.uint8), 0, insert=False).tolist()
    assert got == [seen.index(v) + shift if v in seen else MISSING for v in probe]
    assert enc.state[0] == n_codes + shift


def test_a_full_table_stops_before_the_new_value_and_resumes():
    enc = Ints(2)
    values = np.array([5, 5, 6, 7, 5, 8], np.int64)
    out = np.full(6, 99, np.int32)
    # 4 slots and room for 2 keys: codes 0 (5) and 1 (6) fit (half the slots); the third code
    # would fill more than half: the kernel stops at row 3 (value 7) and has written rows 0..2
    i = kd.encode_ints(values, np.zeros(0, np.uint8), 0, 0, np.int32(-1), True, np.int32(MISSING), enc.keys,
                       enc.slots, enc.state, out, enc.direct, np.int64(0))
    assert i == 3 and enc.state[0] == 2 and out[:3].tolist() == [0, 0, 1] and out[3:].tolist() == [99] * 3
    assert enc.encode(values, np.zeros(0, np.uint8), 0).tolist() == [0, 0, 1, 2, 0, 3]


def test_rehash_ints_skips_the_reserved_null_code():
    keys = np.array([0, 10, 20], np.int64)  # code 0 is the null code: its key slot is a dummy 0
    slots = np.full(8, -1, np.int32)
    kd.rehash_ints(keys, 3, 0, slots)
    assert sorted(slots[slots >= 0].tolist()) == [1, 2]
    out = np.empty(2, np.int32)
    state = np.array([3], np.int64)
    kd.encode_ints(np.array([0, 20], np.int64), np.zeros(0, np.uint8), 0, 0, np.int32(0), False, np.int32(MISSING),
                   keys, slots, state, out, np.zeros(0, np.int32), np.int64(0))
    assert out.tolist() == [MISSING, 2]  # the value 0 never matches the null code


class Bytes:
    def __init__(self, null_code=-1):
        self.offsets = np.zeros(2, np.int64)
        self.data = np.zeros(1, np.uint8)
        self.hashes = np.zeros(1, np.uint64)
        self.slots = np.full(4, -1, np.int32)
        self.state = np.zeros(2, np.int64)
        self.null_code = null_code
        if null_code >= 0:
            self.state[0] = null_code + 1
            self.offsets = np.zeros(null_code + 3, np.int64)
            self.hashes = np.zeros(null_code + 2, np.uint64)

    def encode(self, strings, voff, insert=True):
        raw = [b"" if s is None else s for s in strings]
        offsets = np.cumsum([0] + [len(s) for s in raw]).astype(np.int64)
        data = np.frombuffer(b"".join(raw) + b"\x00", np.uint8)
        valid, off = valid_of(strings, voff)
        out = np.full(len(strings), 12345, np.int32)
        i = 0
        while True:
            i = kd.encode_bytes(offsets, data, valid, off, i, np.int32(self.null_code), insert, np.int32(MISSING),
                                self.offsets, self.data, self.hashes, self.slots, self.state, out)
            if i >= len(strings):
                return out
            nv, nb = int(self.state[0]), int(self.state[1])
            if nv + 1 > len(self.hashes):
                self.hashes = np.concatenate([self.hashes, np.zeros(len(self.hashes), np.uint64)])
                self.offsets = np.concatenate([self.offsets, np.zeros(len(self.hashes) + 1 - len(self.offsets),
                                                                      np.int64)])
            need = nb + int(offsets[i + 1] - offsets[i])
            if need > len(self.data):
                self.data = np.concatenate([self.data, np.zeros(need, np.uint8)])
            if 2 * (nv + 1) > len(self.slots):
                self.slots = np.full(2 * len(self.slots), -1, np.int32)
                kd.rehash_bytes(self.hashes, nv, self.null_code, self.slots)

    def value(self, c):
        return bytes(self.data[self.offsets[c]:self.offsets[c + 1]])


STR = st.one_of(st.binary(max_size=6), st.sampled_from([b"", b"\x00", b"\x00\x00", b"a", b"a\x00", b"\xff" * 9]))


@given(st.lists(st.lists(st.one_of(st.none(), STR), max_size=25), min_size=1, max_size=4), st.integers(0, 13),
       st.booleans())
def test_byte_codes_are_first_appearance_in_tables_that_fill_up(batches, voff, keep_nulls):
    null_code = 0 if keep_nulls else -1
    shift = 1 if keep_nulls else 0
    enc = Bytes(null_code)
    want = first_appearance_oracle(batches)
    for b, w in zip(batches, want):
        assert enc.encode(b, voff).tolist() == [null_code if c is None else c + shift for c in w]
    seen = list(dict.fromkeys(v for b in batches for v in b if v is not None))
    assert enc.state[0] == len(seen) + shift
    assert [enc.value(c + shift) for c in range(len(seen))] == seen  # the stored bytes of each code
    probe = seen[:2] + [s for s in (b"zz", b"\x00\x01") if s not in seen]
    assert enc.encode(probe, 0, insert=False).tolist() == [seen.index(s) + shift if s in seen else MISSING
                                                          for s in probe]


@given(st.lists(st.one_of(st.none(), st.integers(0, 4)), max_size=30), st.integers(0, 11))
def test_take_codes_maps_dictionary_indices(indices, voff):
    mapping = np.array([7, 3, 3, 0, 9], np.int32)
    idx = np.array([0 if i is None else i for i in indices], np.int32)
    valid, off = valid_of(indices, voff)
    out = np.full(len(indices), 12345, np.int32)
    kd.take_codes(idx, valid, off, mapping, np.int32(-1), out)
    assert out.tolist() == [-1 if i is None else int(mapping[i]) for i in indices]


def test_is_valid_reads_bit_voff_plus_i():
    bm = bitmap([True, False, True, True, False], 3)
    assert [kd.is_valid(bm, 3, i) for i in range(5)] == [True, False, True, True, False]
    assert kd.is_valid(np.zeros(0, np.uint8), 0, 10)  # no bitmap: no nulls
