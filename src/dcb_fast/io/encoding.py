"""Global dictionaries: every value of a column gets a dense int32 code, stable across batches,
row groups and files, whatever dictionary each of them carried.

A :class:`ColumnEncoder` owns one table (integers or byte strings, see
``kernels.dictionaries``). Dictionary-encoded input is handled by coding its dictionary once and
mapping the indices, so a Parquet dictionary page costs one lookup per distinct value.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DcbError
from ..kernels import dictionaries as kd
from . import arrow as A

MISSING = -2  # a value absent from a frozen dictionary (lookup mode)
_DIRECT = 1 << 16  # values an integer column maps without hashing (see kernels.dictionaries.encode_ints)
DROPPED = -1  # a null that the null policy drops
NULL_KEY = np.uint64(0x6E756C6C6E756C6C)  # the value key of null (see ColumnEncoder.value_keys)


def _pow2_at_least(n: int) -> int:
    return 1 << max(4, int(n - 1).bit_length())


class ColumnEncoder:
    """Dense codes for one column's values.

    ``keep_nulls`` gives null a code of its own (``--nulls value``); otherwise nulls (and float
    NaN) encode to -1 and the row is dropped. Codes are assigned in order of first appearance;
    :meth:`sort_ranks` gives the canonical order used in outputs.

    >>> enc = ColumnEncoder("lang")
    >>> enc.encode(pa.array(["en", "fr", "en", None])).tolist()
    [0, 1, 0, -1]
    >>> enc.values().to_pylist()
    ['en', 'fr']
    """

    def __init__(self, name: str, keep_nulls: bool = False, capacity: int = 64):
        self.name = name
        self.keep_nulls = keep_nulls
        self.type: pa.DataType | None = None
        self.kind: str | None = None
        self.null_code = -1
        self._state = np.zeros(2, dtype=np.int64)
        self._slots = np.full(_pow2_at_least(2 * capacity), -1, dtype=np.int32)
        self._cap = capacity
        self._keys = np.zeros(0, dtype=np.int64)
        self._offsets = np.zeros(0, dtype=np.int64)
        self._data = np.zeros(0, dtype=np.uint8)
        self._hashes = np.zeros(0, dtype=np.uint64)
        self._direct: np.ndarray | None = None  # integer kinds: value -> code for a window of values
        self._base = 0

    # -- set-up -------------------------------------------------------------------------------
    def _init_kind(self, t: pa.DataType) -> None:
        self.kind = A.kind_of(t, self.name)
        self.type = A.value_type(t)
        if pa.types.is_decimal(self.type):
            self.type = pa.string()
        if self.kind in (A.STRING, A.BINARY):
            self._offsets = np.zeros(self._cap + 1, dtype=np.int64)
            self._hashes = np.zeros(self._cap, dtype=np.uint64)
            self._data = np.zeros(16 * self._cap, dtype=np.uint8)
        elif self.kind != A.NULL:
            self._keys = np.zeros(self._cap, dtype=np.int64)

    def _accept(self, t: pa.DataType) -> None:
        vt = A.value_type(t)
        if pa.types.is_null(vt):
            return
        if self.kind is None or self.kind == A.NULL:
            had_null = self.null_code >= 0
            self._init_kind(vt)
            if had_null:  # a null code was reserved while the column was all-null so far
                self.null_code = -1
                self._state[:] = 0
                self._direct = None
                self._reserve_null()
            return
        self.type = A.unify(self.type, vt, self.name)
        if pa.types.is_decimal(self.type):
            self.type = pa.string()

    def __len__(self) -> int:
        return int(self._state[0])

    # -- encoding -----------------------------------------------------------------------------
    def encode(self, arr, insert: bool = True, out: np.ndarray | None = None) -> np.ndarray:
        """Codes (int32) of every value of ``arr``, written into ``out`` when given. With
        ``insert=False`` the dictionary is frozen and unknown values get -2 (``MISSING``)."""
        arr = A.as_array(arr)
        if insert:
            self._accept(arr.type)
        n = len(arr)
        if out is None:
            out = np.empty(n, dtype=np.int32)
        if n == 0:
            return out
        null_code = self._null_code_for(arr, insert)
        if pa.types.is_dictionary(arr.type):
            mapping = self.encode(arr.dictionary, insert)
            indices = arr.indices
            idx = A.int_values(indices)
            bitmap, off = A.validity(arr)
            kd.take_codes(idx, bitmap, off, mapping, np.int32(null_code), out)
            return out
        vt = arr.type
        if pa.types.is_null(vt) or self.kind in (None, A.NULL):
            out[:] = null_code
            return out
        if A.kind_of(vt, self.name) != self.kind:
            raise DcbError(
                f"column '{self.name}' holds {vt} values after {self.type} ones; cast it to one type in every file"
            )
        if self.kind == A.TEMPORAL and not vt.equals(self.type):
            arr = A.cast_to(arr, self.type, self.name)
        if self.kind in (A.STRING, A.BINARY):
            offsets, data = A.byte_parts(arr)
            bitmap, off = A.validity(arr)
            self._run_bytes(offsets, data, bitmap, off, null_code, insert, out)
            return out
        if self.kind == A.FLOAT:
            keys, bitmap, off = A.float_keys(arr)
        else:
            keys = A.int_values(arr)
            bitmap, off = A.validity(arr)
        self._run_ints(keys, bitmap, off, null_code, insert, out)
        return out

    def _null_code_for(self, arr: pa.Array, insert: bool) -> int:
        if not self.keep_nulls:
            return DROPPED
        if self.null_code < 0:
            if not insert:
                return MISSING
            if _may_hold_nulls(arr):
                self._reserve_null()
        return self.null_code

    def _reserve_null(self) -> None:
        """Give null a code that owns no hash slot, so no value can match it."""
        if self.null_code >= 0:
            return
        nv = int(self._state[0])
        if self.kind in (A.STRING, A.BINARY):
            self._grow_bytes(nv + 1, 0)
            self._offsets[nv + 1] = self._offsets[nv]
            self._hashes[nv] = 0
        elif self.kind not in (None, A.NULL):
            self._grow_ints(nv + 1)
            self._keys[nv] = 0
        self.null_code = nv
        self._state[0] = nv + 1

    def _run_ints(self, keys, bitmap, off, null_code, insert, out) -> None:
        i, n = 0, len(keys)
        if self._direct is None:
            # a window of _DIRECT values around the first value seen: all of an int8 or int16
            # column's range, or ids that sit near each other; values outside it are hashed
            self._direct = np.full(_DIRECT, -1, dtype=np.int32)
            # as int64, wrapping like the kernel's unsigned subtraction (uint64 values, extremes)
            self._base = (int(keys[0]) - _DIRECT // 2 + 2**63) % 2**64 - 2**63
        while True:
            i = kd.encode_ints(keys, bitmap, off, i, np.int32(null_code), insert, np.int32(MISSING),
                               self._keys, self._slots, self._state, out, self._direct, np.int64(self._base))
            if i >= n:
                return
            self._grow_ints(int(self._state[0]) + 1)

    def _run_bytes(self, offsets, data, bitmap, off, null_code, insert, out) -> None:
        i, n = 0, len(offsets) - 1
        while True:
            i = kd.encode_bytes(offsets, data, bitmap, off, i, np.int32(null_code), insert, np.int32(MISSING),
                                self._offsets, self._data, self._hashes, self._slots, self._state, out)
            if i >= n:
                return
            need = int(offsets[i + 1] - offsets[i])
            self._grow_bytes(int(self._state[0]) + 1, need)

    def _grow_slots(self, n_codes: int) -> bool:
        if 2 * n_codes <= len(self._slots):
            return False
        self._slots = np.full(_pow2_at_least(4 * n_codes), -1, dtype=np.int32)
        return True

    def _grow_ints(self, n_codes: int) -> None:
        if n_codes > len(self._keys):
            self._keys = _grown(self._keys, max(n_codes, 2 * len(self._keys)))
        if self._grow_slots(n_codes):
            kd.rehash_ints(self._keys, self._state[0], self.null_code, self._slots)

    def _grow_bytes(self, n_codes: int, extra_bytes: int) -> None:
        if n_codes > len(self._hashes):
            cap = max(n_codes, 2 * len(self._hashes))
            self._hashes = _grown(self._hashes, cap)
            self._offsets = _grown(self._offsets, cap + 1)
        used = int(self._state[1])
        if used + extra_bytes > len(self._data):
            self._data = _grown(self._data, max(used + extra_bytes, 2 * len(self._data)))
        if self._grow_slots(n_codes):
            kd.rehash_bytes(self._hashes, self._state[0], self.null_code, self._slots)

    # -- decoding -----------------------------------------------------------------------------
    def values(self) -> pa.Array:
        """The dictionary: value of each code, in code order (null at the null code)."""
        n = len(self)
        t = self.type if self.type is not None else pa.null()
        if self.kind in (None, A.NULL):
            return pa.nulls(n, type=t)
        if self.kind in (A.STRING, A.BINARY):
            large = pa.large_binary() if self.kind == A.BINARY else pa.large_string()
            offsets = pa.py_buffer(self._offsets[: n + 1].copy())
            data = pa.py_buffer(self._data[: int(self._state[1])].copy())
            arr = pa.Array.from_buffers(large, n, [None, offsets, data])
            target = t if not pa.types.is_fixed_size_binary(t) else pa.binary()
            if target != large:
                arr = arr.cast(target)
        else:
            keys = self._keys[:n].copy()
            if self.kind == A.FLOAT:
                arr = A.from_numpy(keys.view(np.float64), pa.float64()).cast(t)
            elif self.kind == A.BOOL:
                arr = A.from_numpy(keys != 0)
            elif self.kind == A.INT:
                arr = A.from_numpy(keys.view(np.uint64), pa.uint64()) if pa.types.is_uint64(t) else \
                    A.from_numpy(keys, pa.int64()).cast(t)
            else:
                storage = keys.astype(np.dtype(f"int{t.bit_width}"))
                arr = pa.Array.from_buffers(t, n, [None, pa.py_buffer(storage)])
        if self.null_code >= 0:
            mask = np.ones(n, dtype=bool)
            mask[self.null_code] = False
            arr = pc.if_else(A.from_numpy(mask), arr, pa.scalar(None, type=arr.type))
        return arr

    def value_keys(self) -> np.ndarray:
        """A 64-bit key of each code's value (uint64, in code order) that depends on the value
        alone, never on the order values were first seen: the byte hash for strings and binary,
        the int64 key (integer, temporal, bool, float bits) otherwise, ``NULL_KEY`` for null.
        Two encoders of the same column (other tasks, other machines) give a value the same key,
        so a hash of these keys places a fiber alike in every partial state.

        >>> a, b = ColumnEncoder("x"), ColumnEncoder("x")
        >>> _ = a.encode(pa.array(["en", "fr"])); _ = b.encode(pa.array(["fr", "en"]))
        >>> bool(a.value_keys()[0] == b.value_keys()[1])
        True
        """
        n = len(self)
        if self.kind in (A.STRING, A.BINARY):
            out = self._hashes[:n].copy()
        elif self.kind in (None, A.NULL):
            out = np.zeros(n, dtype=np.uint64)
        else:
            out = self._keys[:n].view(np.uint64).copy()
        if self.null_code >= 0:
            out[self.null_code] = NULL_KEY
        return out

    def sort_ranks(self) -> np.ndarray:
        """Rank of each code in the canonical value order (ascending, null last)."""
        vals = self.values()
        if len(vals) == 0:
            return np.zeros(0, dtype=np.int64)
        order = pc.array_sort_indices(vals, order="ascending", null_placement="at_end")
        ranks = np.empty(len(vals), dtype=np.int64)
        ranks[A.np_values(order)] = np.arange(len(vals), dtype=np.int64)
        return ranks

    def nbytes(self) -> int:
        return int(self._slots.nbytes + self._keys.nbytes + self._offsets.nbytes + self._data.nbytes + self._hashes.nbytes)


def _may_hold_nulls(arr: pa.Array) -> bool:
    if arr.null_count > 0 or pa.types.is_null(arr.type):
        return True
    if pa.types.is_dictionary(arr.type):
        return arr.dictionary.null_count > 0 or _may_hold_nulls(arr.dictionary)
    if pa.types.is_floating(arr.type):
        return bool(pc.any(pc.is_nan(arr)).as_py())
    return False


def _grown(a: np.ndarray, n: int) -> np.ndarray:
    out = np.zeros(n, dtype=a.dtype)
    out[: len(a)] = a
    return out
