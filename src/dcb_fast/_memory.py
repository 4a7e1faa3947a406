"""Large working arrays (fiber records, slot tables), mapped straight from the operating system.

Memory from an anonymous mapping is zero-filled and backed page by page only when written, so a
table sized for the worst case costs only what is used. We also leave these mappings on small
pages on purpose: numpy asks for transparent huge pages on big arrays, and on machines where the
kernel compacts memory synchronously to serve them (``defrag=madvise``, common on cloud VMs),
first touches of a fresh table were measured 3-4x slower and far less predictable than with small
pages, which costs more than the TLB misses huge pages save on a randomly probed table. (Measured
again on 10M rows, 1.4M fibers, 2 threads: huge pages cut a probe's TLB cost, 68 -> 43 ns a
row for the loads alone, but the whole count ran 0.85-1.9 s against 1.0-1.3 s on small pages.)
"""

from __future__ import annotations

import mmap

import numpy as np

_SMALL = 1 << 20  # below this, numpy's allocator is faster than a mapping of our own


def zeros(shape, dtype) -> np.ndarray:
    """A zero-filled array; large ones come from their own anonymous mapping."""
    dtype = np.dtype(dtype)
    n = int(np.prod(shape)) if isinstance(shape, tuple) else int(shape)
    nbytes = n * dtype.itemsize
    if nbytes < _SMALL:
        return np.zeros(shape, dtype=dtype)
    buf = mmap.mmap(-1, nbytes, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    if hasattr(mmap, "MADV_NOHUGEPAGE"):
        buf.madvise(mmap.MADV_NOHUGEPAGE)
    return np.frombuffer(buf, dtype=dtype, count=n).reshape(shape)
