"""``kernels.partitions`` called directly, without ``fiber_tables``: the documented key hash, the
partition and slot bits, the payload layout of ``scatter`` for every weight mode, and
``aggregate``'s stop-grow-resume contract driven by hand (tables too small, grown with
``regrow`` into more partitions), against ``code_fibers_oracle``.

Already covered in tests/test_partitions.py (through ``fiber_tables.Partitions`` and on the
kernels): exact counts and 128-bit weights for any partition bits, batch split, buffer size,
growth and thread count; fixed-point cells with carries; ``hash_part``'s histogram, dropped rows
and equal hashes for equal keys; ``scatter`` with float weights in input order per partition;
``lookup`` at every table index. New here: the hash equals ``key_hash_oracle`` (and the record
hash ``key_hash`` equals the row hash, which ``regrow`` relies on), ``scatter`` with cells,
integer and fixed weights and none, ``aggregate``'s returned partition and ``done`` counts
when records run out, ``regrow_hist``.

Contract (module docstring): partition of hash h among 2**b is ``h >> (64 - b)`` (0 for b = 0);
the slot index in a table of 2**lg slots is the lg hash bits just below the partition bits; a
payload row is (hash, kw key words, action, [count], [weight: float64 bits, or integer part,
or integer part and fraction]); ``aggregate`` returns -1 when done, else the buffer partition
where some table's records ran out, after adding that partition's counted rows to ``done[p]``."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
from hypothesis import given, strategies as st

from dcb_fast.kernels import partitions as kp

from .reference import code_fibers_oracle, decode_records_oracle, key_hash_oracle


@given(st.integers(0, 2**64 - 1), st.integers(0, 12), st.integers(1, 20))
def test_part_and_slot_bits(h, b, lg):
    assert kp.part_of(np.uint64(h), b) == (h >> (64 - b) if b else 0)
    assert int(kp.slot_of(np.uint64(h), b, lg)) == ((h << b) % 2**64) >> (64 - lg)


@given(st.integers(1, 2**62))
def test_log2_is_the_floor(n):
    assert kp.log2(n) == n.bit_length() - 1


@st.composite
def rows(draw):
    k = draw(st.integers(1, 4))
    n = draw(st.integers(0, 80))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    big = draw(st.booleans())  # codes over the whole int32 range, or few (many repeated keys)
    codes = (rng.integers(0, 2**31 - 1, (k, n)) if big else rng.integers(0, 6, (k, n))).astype(np.int32)
    if n and draw(st.booleans()):
        codes[rng.integers(0, k, n // 6), rng.integers(0, n, n // 6)] = -1
    na = draw(st.integers(1, 3))
    acodes = rng.integers(0, na, n).astype(np.int32)
    mode = draw(st.sampled_from([0, 1, 2, 3]))  # unweighted, float, int, fixed (integer part, fraction)
    cells = draw(st.booleans())
    cnt = rng.integers(1, 5, n).astype(np.int64) if cells else np.zeros(0, np.int64)
    weights = rng.random(n) * 100 if mode == 1 else np.zeros(0, np.float64)
    chi = rng.integers(0, 1 << 30, n).astype(np.int64) if mode >= 2 else np.zeros(0, np.int64)
    clo = rng.integers(0, 2**64 - 1, n, dtype=np.uint64) if mode == 3 else np.zeros(0, np.uint64)
    return k, codes, acodes, na, mode, cnt, weights, chi, clo


def payload(k, codes, acodes, mode, cnt, weights, chi, clo, b):
    n = codes.shape[1]
    kw = (k + 1) // 2
    hashes = np.zeros(n, np.uint64)
    hist = np.zeros(1 << b, np.int64)
    a = acodes.copy()
    dropped = kp.hash_part(codes, a, b, hashes, hist)
    starts = np.concatenate([[0], np.cumsum(hist)]).astype(np.int64)
    width = 2 + kw + (1 if len(cnt) else 0) + {0: 0, 1: 1, 2: 1, 3: 2}[mode]
    buf = np.zeros((max(int(starts[-1]), 1), width), np.int64)
    kp.scatter(codes, a, weights, cnt, chi, clo, b, hashes, starts[:-1].copy(), buf, buf.view(np.float64))
    return hashes, dropped, starts, buf


@given(rows(), st.integers(0, 4))
def test_hashes_and_payload_rows(data, b):
    k, codes, acodes, na, mode, cnt, weights, chi, clo = data
    n = codes.shape[1]
    kw = (k + 1) // 2
    hashes, dropped, starts, buf = payload(k, codes, acodes, mode, cnt, weights, chi, clo, b)
    kept = [i for i in range(n) if (codes[:, i] >= 0).all()]
    assert dropped == n - len(kept)
    assert [int(hashes[i]) for i in range(n)] == [key_hash_oracle(codes[:, i]) for i in range(n)]
    order = sorted(kept, key=lambda i: (int(hashes[i]) >> (64 - b) if b else 0))  # stable: input order within
    for pos, i in enumerate(order):
        r = buf[pos]
        want = [int(hashes[i])]
        for j in range(0, k, 2):
            want.append(int(codes[j, i]) % 2**32 | (int(codes[j + 1, i]) % 2**32 << 32 if j + 1 < k else 0))
        want.append(int(acodes[i]))
        if len(cnt):
            want.append(int(cnt[i]))
        if mode == 1:
            want.append(int(np.float64(weights[i]).view(np.int64)) % 2**64)
        elif mode >= 2:
            want.append(int(chi[i]))
            if mode == 3:
                want.append(int(clo[i]))
        assert [int(x) % 2**64 for x in r] == want
    # the record hash of the packed key words is the row hash
    rec = buf[: len(order), 1 : 1 + kw].copy()
    for pos, i in enumerate(order):
        assert int(kp.key_hash(rec, pos, k)) == int(hashes[i])


class Driver:
    """Hand-made tables of 2**b partitions (``kernels.partitions`` layout), ``rcap`` records each."""

    def __init__(self, b, rcap, width):
        self.b, self.rcap, self.scap = b, rcap, 2 * rcap
        parts = 1 << b
        self.rec = np.zeros((parts * rcap, width), np.int64)
        self.slots = np.zeros(parts * self.scap, np.uint64)
        self.ns = np.full(parts, 16, np.int64)
        self.nf = np.zeros(parts, np.int64)

    def regrown(self, k, b):
        hist = np.zeros(1 << b, np.int64)
        kp.regrow_hist(self.rec, self.rcap, self.nf, k, b, hist)
        keys = [self.rec[p * self.rcap + f, : (k + 1) // 2] for p in range(len(self.nf)) for f in range(self.nf[p])]
        codes = [[(int(w[j // 2]) % 2**64 >> (32 * (j % 2))) & 0xFFFFFFFF for j in range(k)] for w in keys]
        assert hist.tolist() == np.bincount([key_hash_oracle(c) >> (64 - b) if b else 0 for c in codes],
                                            minlength=1 << b).tolist()
        new = Driver(b, 2 * max(int(hist.max(initial=0)), 8), self.rec.shape[1])
        kp.regrow(self.rec, self.rcap, self.nf, k, b, new.rec, new.rcap, new.slots, new.scap, new.ns, new.nf)
        assert new.nf.tolist() == hist.tolist()
        return new

    def fibers(self, k, na, weighted):
        recs = np.concatenate([self.rec[p * self.rcap : p * self.rcap + self.nf[p]] for p in range(len(self.nf))])
        return decode_records_oracle(recs, k, na, weighted)


@given(rows(), st.integers(0, 2), st.integers(0, 2))
def test_aggregate_stops_when_records_run_out_and_resumes(data, pb, extra_bits):
    k, codes, acodes, na, mode, cnt, weights, chi, clo = data
    kw = (k + 1) // 2
    _, dropped, starts, buf = payload(k, codes, acodes, mode, cnt, weights, chi, clo, pb)
    width = kw + na * (3 if mode else 1)
    t = Driver(pb + extra_bits, 8, width)  # 8 records a partition: tables fill up quickly
    done = np.zeros(1 << pb, np.int64)
    p, stops = 0, 0
    while True:
        r = kp.aggregate(buf, buf.view(np.float64), starts[None, :], p, 1 << pb, pb, len(cnt) > 0, mode, kw, na, t.b,
                         t.rec, t.rcap, t.slots, t.scap, t.ns, t.nf, done)
        if r < 0:
            break
        assert p <= r < 1 << pb and done[r] < starts[r + 1] - starts[r]  # stopped inside partition r
        assert (done[:r] == np.diff(starts)[:r]).all()  # the partitions before it are finished
        stops += 1
        t = t.regrown(k, min(t.b + 1, 6))
        p = r
    assert (done == np.diff(starts)).all()
    kind = {0: "float", 1: "float", 2: "int", 3: "fixed"}[mode]
    w = None if mode == 0 else (weights if mode == 1 else (chi if mode == 2 else list(zip(chi, clo))))
    want, want_dropped = code_fibers_oracle(codes, acodes, w, cnt if len(cnt) else None, kind=kind)
    assert dropped == want_dropped
    assert t.fibers(k, na, mode != 0) == want
    if len(want) > 8 * (1 << (pb + extra_bits)):
        assert stops  # more fibers than the first tables could hold: it had to stop


def test_aggregate_on_cells_with_a_fraction_carry():
    codes = np.array([[4, 4]], np.int32)
    acodes = np.zeros(2, np.int32)
    cnt = np.array([2, 3], np.int64)
    chi, clo = np.array([1, 2], np.int64), np.array([2**63, 2**63], np.uint64)
    _, _, starts, buf = payload(1, codes, acodes, 3, cnt, np.zeros(0), chi, clo, 0)
    t = Driver(0, 8, 1 + 3)
    assert kp.aggregate(buf, buf.view(np.float64), starts[None, :], 0, 1, 0, True, 3, 1, 1, 0, t.rec, t.rcap,
                        t.slots, t.scap, t.ns, t.nf, np.zeros(1, np.int64)) == -1
    assert t.fibers(1, 1, True) == {(4,): {0: [5, Fraction(4)]}}  # 1.5 + 2.5
