"""The one Arrow adapter: turns Arrow arrays into what kernels take.

Every function here honours ``array.offset`` (sliced arrays share buffers with their parent) and
returns numpy views over Arrow buffers where the layout allows, copies only where it must
(booleans are bit-packed, narrow ints are widened to int64, floats are normalised).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import DcbError

EMPTY_BITMAP = np.zeros(0, dtype=np.uint8)

# A column's kind decides how its values are keyed; every Arrow type we accept maps to one.
STRING, BINARY, INT, BOOL, FLOAT, TEMPORAL, NULL = "string", "binary", "int", "bool", "float", "temporal", "null"


def value_type(t: pa.DataType) -> pa.DataType:
    """The value type of a (possibly dictionary-encoded) column type."""
    return t.value_type if pa.types.is_dictionary(t) else t


def kind_of(t: pa.DataType, column: str = "?") -> str:
    """Classify an Arrow type; raise a clear error for types that cannot be evidence."""
    t = value_type(t)
    if pa.types.is_string(t) or pa.types.is_large_string(t) or _is_view(t, "string"):
        return STRING
    if pa.types.is_decimal(t):
        return STRING  # keyed by its exact text form
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t) or _is_view(t, "binary"):
        return BINARY
    if pa.types.is_integer(t):
        return INT
    if pa.types.is_boolean(t):
        return BOOL
    if pa.types.is_floating(t):
        return FLOAT
    if pa.types.is_temporal(t):
        return TEMPORAL
    if pa.types.is_null(t):
        return NULL
    raise DcbError(
        f"column '{column}' has type {t}, which cannot be used as evidence or action; "
        "use a string, integer, boolean, float, date or timestamp column"
    )


def _is_view(t: pa.DataType, what: str) -> bool:
    name = "is_string_view" if what == "string" else "is_binary_view"
    check = getattr(pa.types, name, None)
    return bool(check and check(t))


def unify(a: pa.DataType | None, b: pa.DataType, column: str, where: str = "") -> pa.DataType:
    """The type a column keeps when parts of the input disagree on it (or a clear error)."""
    b = value_type(b)
    if a is None or pa.types.is_null(a):
        return b
    if pa.types.is_null(b) or a.equals(b):
        return a
    ka, kb = kind_of(a, column), kind_of(b, column)
    if ka == kb == INT:
        if pa.types.is_uint64(a) != pa.types.is_uint64(b):
            raise DcbError(
                f"column '{column}' is {a} in one part of the input and {b} in another{where}; "
                "uint64 cannot be mixed with signed integers: cast the column to one type"
            )
        return pa.uint64() if pa.types.is_uint64(a) else pa.int64()
    if ka == kb and ka in (STRING, BINARY):
        return a if not pa.types.is_decimal(a) else pa.string()
    if ka == kb == FLOAT:
        return pa.float64()
    if ka == kb == TEMPORAL and _temporal_family(a) == _temporal_family(b):
        if getattr(a, "tz", None) != getattr(b, "tz", None):
            raise DcbError(
                f"column '{column}' has time zone {a.tz!r} in one part of the input and {b.tz!r} in another{where}; "
                "convert it to one time zone"
            )
        return _finer(a, b)
    raise DcbError(
        f"column '{column}' is {a} in one part of the input and {b} in another{where}; "
        "types that differ in kind cannot be one evidence value: cast the column to one type in every file"
    )


def _temporal_family(t: pa.DataType) -> str:
    for fam in ("timestamp", "date", "time", "duration"):
        if getattr(pa.types, f"is_{fam}")(t):
            return fam
    return str(t)


_UNIT_ORDER = {"s": 0, "ms": 1, "us": 2, "ns": 3}


def _finer(a: pa.DataType, b: pa.DataType) -> pa.DataType:
    if pa.types.is_date(a):
        return pa.date64() if pa.types.is_date64(a) or pa.types.is_date64(b) else pa.date32()
    if _UNIT_ORDER.get(getattr(b, "unit", "s"), 0) > _UNIT_ORDER.get(getattr(a, "unit", "s"), 0):
        return b
    return a


def validity(arr: pa.Array) -> tuple[np.ndarray, int]:
    """(bitmap bytes, bit offset) of an array's validity; an empty bitmap means no nulls."""
    buf = arr.buffers()[0]
    if buf is None or arr.null_count == 0:
        return EMPTY_BITMAP, 0
    return np.frombuffer(buf, dtype=np.uint8), arr.offset


def bitmap_from_mask(mask: np.ndarray) -> np.ndarray:
    """Pack a boolean 'valid' mask into an Arrow-style little-endian bitmap."""
    return np.packbits(mask, bitorder="little")


def int_values(arr: pa.Array) -> np.ndarray:
    """Integer, boolean and temporal values as a zero-copy numpy view in their own width (the
    kernels widen each value to int64 as they read it; nulls hold arbitrary values). Booleans
    are bit-packed in Arrow and come back unpacked as uint8."""
    t = arr.type
    n = len(arr)
    if pa.types.is_boolean(t):
        buf = arr.buffers()[1]
        bits = np.unpackbits(np.frombuffer(buf, dtype=np.uint8), bitorder="little")
        return bits[arr.offset : arr.offset + n]
    width = t.bit_width
    if pa.types.is_integer(t):
        dtype = np.dtype(f"{'u' if pa.types.is_unsigned_integer(t) else ''}int{width}")
    else:  # temporal: plain signed storage of its width
        dtype = np.dtype(f"int{width}")
    return np.frombuffer(arr.buffers()[1], dtype=dtype)[arr.offset : arr.offset + n]


def float_keys(arr: pa.Array) -> tuple[np.ndarray, np.ndarray, int]:
    """Float values keyed by their bit pattern: -0.0 becomes 0.0, NaN counts as null.

    Returns (int64 keys, validity bitmap, bit offset)."""
    vals = np_values(arr, nan_nulls=True).astype(np.float64, copy=True)
    nan = np.isnan(vals)
    vals[vals == 0.0] = 0.0
    keys = vals.view(np.int64)
    if nan.any():
        return keys, bitmap_from_mask(~nan), 0
    bitmap, off = validity(arr)
    return keys, bitmap, off


def byte_parts(arr: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """(offsets with n + 1 entries, data bytes) of a string or binary array."""
    t = arr.type
    if not (pa.types.is_string(t) or pa.types.is_binary(t) or pa.types.is_large_string(t) or pa.types.is_large_binary(t)):
        target = pa.large_binary() if kind_of(t) == BINARY else pa.large_string()
        arr = arr.cast(target)
        t = arr.type
    otype = np.int64 if (pa.types.is_large_string(t) or pa.types.is_large_binary(t)) else np.int32
    bufs = arr.buffers()
    offsets = np.frombuffer(bufs[1], dtype=otype)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(bufs[2], dtype=np.uint8) if bufs[2] is not None else np.zeros(0, dtype=np.uint8)
    return offsets, data


def as_array(col) -> pa.Array:
    """A single contiguous array from an Array or ChunkedArray."""
    if isinstance(col, pa.ChunkedArray):
        if col.num_chunks == 1:
            return col.chunk(0)
        return pa.concat_arrays(col.chunks) if col.num_chunks else pa.array([], type=col.type)
    return col


def cast_to(arr: pa.Array, t: pa.DataType, column: str) -> pa.Array:
    """Cast an array to the column's unified type, with a clear error when it cannot be done."""
    try:
        return pc.cast(arr, t, safe=True)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
        raise DcbError(f"column '{column}': cannot convert {arr.type} to {t} ({exc}); cast it consistently") from None


def np_values(arr, nan_nulls: bool = False) -> np.ndarray:
    """A numeric, boolean or temporal array's values as numpy, read from its Arrow buffers.

    pyarrow's own ``to_numpy`` imports pandas (0.4 s on a cold start), so the library reads the
    buffers itself. Nulls keep whatever their slot holds unless ``nan_nulls`` (then float64 with
    NaN at the nulls, as ``to_numpy`` gives). Other types fall back to ``to_numpy``."""
    arr = as_array(arr)
    t = arr.type
    if pa.types.is_dictionary(t):
        arr = arr.cast(t.value_type)
        t = arr.type
    n = len(arr)
    bufs = arr.buffers()
    if pa.types.is_null(t):
        out = np.full(n, np.nan) if nan_nulls else np.zeros(n)
        return out
    if pa.types.is_boolean(t):
        if n == 0 or bufs[1] is None:
            out = np.zeros(n, dtype=bool)
        else:
            bits = np.unpackbits(np.frombuffer(bufs[1], dtype=np.uint8), bitorder="little")
            out = bits[arr.offset : arr.offset + n].astype(bool)
    elif pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_temporal(t):
        if pa.types.is_floating(t):
            dtype = np.dtype(f"float{t.bit_width}")
        elif pa.types.is_unsigned_integer(t):
            dtype = np.dtype(f"uint{t.bit_width}")
        else:
            dtype = np.dtype(f"int{t.bit_width}")
        if n == 0 or bufs[1] is None:
            out = np.zeros(n, dtype=dtype)
        else:
            out = np.frombuffer(bufs[1], dtype=dtype)[arr.offset : arr.offset + n]
    else:
        return arr.to_numpy(zero_copy_only=False)
    if nan_nulls and arr.null_count:
        out = out.astype(np.float64, copy=True)
        valid = np.unpackbits(np.frombuffer(bufs[0], dtype=np.uint8), bitorder="little")[arr.offset : arr.offset + n]
        out[valid == 0] = np.nan
    return out


def from_numpy(values: np.ndarray, t: pa.DataType | None = None) -> pa.Array:
    """An Arrow array over a numpy array of numbers or booleans (no nulls), built from buffers:
    ``pa.array`` on numpy input imports pandas (0.4 s on a cold start)."""
    values = np.ascontiguousarray(values)
    if values.dtype == np.bool_:
        bits = np.packbits(values, bitorder="little")
        return pa.Array.from_buffers(pa.bool_(), len(values), [None, pa.py_buffer(bits)])
    if t is None:
        t = pa.from_numpy_dtype(values.dtype)
    if np.dtype(values.dtype).itemsize * 8 != t.bit_width:
        values = values.astype(np.dtype(f"{values.dtype.kind}{t.bit_width // 8}"))
    return pa.Array.from_buffers(t, len(values), [None, pa.py_buffer(values)])
