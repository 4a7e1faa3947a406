"""Global dictionaries: map column values to dense codes that are stable across the whole input.

Two tables, both open addressing with linear probing over a power-of-two slot array:

- integers (ints, bools, dates, timestamps, and float bit patterns) keyed by their int64 value;
- byte strings (utf8 and binary) stored in one growing byte buffer with int64 offsets.

``slots[s]`` holds a code or -1. A reserved null code, when the caller keeps nulls as a value,
owns a code but no slot, so no value can ever match it.

Validity is read straight from the Arrow bitmap: bit ``voff + i`` of ``valid`` (an empty ``valid``
means no nulls). The encoders stop and return the row they reached when the table is full; the
caller grows it and resumes, which keeps every kernel free of allocation.
"""

import numpy as np

from .._jit import inline, kernel
from .hashing import hash_bytes, mix64


@inline
def is_valid(valid, voff, i):
    if valid.shape[0] == 0:
        return True
    b = voff + i
    return (valid[b >> 3] >> (b & 7)) & 1 == 1


@kernel
def encode_ints(values, valid, voff, start, null_code, insert, missing_code, t_keys, slots, state, out,
                direct, base):
    """Write the code of each ``values[i]`` into ``out[i]`` from row ``start`` on.

    New values get the next code when ``insert`` is true, else ``missing_code``. Nulls get
    ``null_code``. ``state[0]`` is the number of codes. Returns the row where it stopped
    (``len(values)`` when done; less when the table needs to grow).

    ``direct`` (int32, may be empty) remembers the code of each value in ``[base, base +
    len(direct))`` once the hash table has given it (-1: not yet), so small-range columns (int8
    and int16 columns, ids near each other) skip hashing and probing for almost every row.
    """
    n = values.shape[0]
    nslots = slots.shape[0]
    mask = np.uint64(nslots - 1)
    nv = state[0]
    cap = t_keys.shape[0]
    ndirect = np.uint64(direct.shape[0])
    ubase = np.uint64(base)
    for i in range(start, n):
        if not is_valid(valid, voff, i):
            out[i] = null_code
            continue
        v = np.int64(values[i])
        d = np.uint64(v) - ubase  # wraps around for values below base: then d >= ndirect
        if d < ndirect:
            c = direct[d]
            if c >= 0:
                out[i] = c
                continue
        s = mix64(np.uint64(v)) & mask
        code = -1
        while True:
            c = slots[s]
            if c < 0:
                if not insert:
                    out[i] = missing_code
                    break
                if nv >= cap or 2 * (nv + 1) > nslots:
                    state[0] = nv
                    return i
                t_keys[nv] = v
                slots[s] = nv
                code = nv
                nv += 1
                break
            if t_keys[c] == v:
                code = c
                break
            s = (s + np.uint64(1)) & mask
        if code >= 0:
            out[i] = code
            if d < ndirect:
                direct[d] = code
    state[0] = nv
    return n


@kernel
def rehash_ints(t_keys, n, skip, slots):
    """Rebuild ``slots`` for codes 0..n-1 (except the reserved null code ``skip``)."""
    slots[:] = -1
    mask = np.uint64(slots.shape[0] - 1)
    for c in range(n):
        if c == skip:
            continue
        s = mix64(np.uint64(t_keys[c])) & mask
        while slots[s] >= 0:
            s = (s + np.uint64(1)) & mask
        slots[s] = c


@kernel
def encode_bytes(offsets, data, valid, voff, start, null_code, insert, missing_code,
                 t_offsets, t_data, t_hashes, slots, state, out):
    """Byte-string form of :func:`encode_ints`. ``offsets`` has ``n + 1`` entries already
    shifted by the array offset; ``state`` is (number of codes, bytes used)."""
    n = offsets.shape[0] - 1
    nslots = slots.shape[0]
    mask = np.uint64(nslots - 1)
    nv = state[0]
    nb = state[1]
    capv = t_hashes.shape[0]
    capb = t_data.shape[0]
    for i in range(start, n):
        if not is_valid(valid, voff, i):
            out[i] = null_code
            continue
        a = np.int64(offsets[i])
        b = np.int64(offsets[i + 1])
        length = b - a
        h = hash_bytes(data, a, b)
        s = h & mask
        while True:
            c = slots[s]
            if c < 0:
                if not insert:
                    out[i] = missing_code
                    break
                if nv >= capv or nb + length > capb or 2 * (nv + 1) > nslots:
                    state[0] = nv
                    state[1] = nb
                    return i
                for p in range(length):
                    t_data[nb + p] = data[a + p]
                nb += length
                t_offsets[nv + 1] = nb
                t_hashes[nv] = h
                slots[s] = nv
                out[i] = nv
                nv += 1
                break
            if t_hashes[c] == h:
                ta = t_offsets[c]
                if t_offsets[c + 1] - ta == length:
                    same = True
                    for p in range(length):
                        if t_data[ta + p] != data[a + p]:
                            same = False
                            break
                    if same:
                        out[i] = c
                        break
            s = (s + np.uint64(1)) & mask
    state[0] = nv
    state[1] = nb
    return n


@kernel
def rehash_bytes(t_hashes, n, skip, slots):
    slots[:] = -1
    mask = np.uint64(slots.shape[0] - 1)
    for c in range(n):
        if c == skip:
            continue
        s = t_hashes[c] & mask
        while slots[s] >= 0:
            s = (s + np.uint64(1)) & mask
        slots[s] = c


@kernel
def take_codes(indices, valid, voff, mapping, null_code, out):
    """Dictionary-encoded input: ``out[i] = mapping[indices[i]]`` (nulls get ``null_code``)."""
    for i in range(indices.shape[0]):
        if is_valid(valid, voff, i):
            out[i] = mapping[indices[i]]
        else:
            out[i] = null_code
