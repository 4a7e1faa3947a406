"""Coverage without auditing production: each production row is looked up in the certificate.

The certificate's fibers are few; a production log's rows are many. So the log is not counted
into fibers: per batch, every evidence column is coded against the certificate's own value
dictionary (a value the certificate never saw gets a negative code, null a code of its own) and
the rows wait in a window (1M rows a thread). A window's codes are packed into one int64 key
(more words when the radix product passes 2**62), hashed and scattered by the key's top hash bits
into partitions; the threads take disjoint partitions, look each row up in its partition's small
table of certificate keys (``kernels.lookup``) and add its weight to its certificate fiber (rows
and a 128-bit weight per fiber) and to the false-decision sums. Only the rows whose key the
certificate lacks (unseen) are grouped into fibers (a :class:`FiberState` of their own): they are
the uncovered fibers that have no certificate row, and they are counted in ``n_fibers``.

Every figure is the one :func:`dcb_fast.coverage` reported when it audited the log (same 128-bit
fixed-point sums, so the same floats whatever the batch split, file split or thread count).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._jit import default_threads
from .._threads import parallel_map
from ..errors import DcbError
from ..fibers.state import FiberState, batch_column, batch_weights
from ..io import arrow as A
from ..io.encoding import MISSING, ColumnEncoder
from ..kernels import lookup as kl
from ..kernels import sums as ks
from ..engines.local import prefetch
from ..fibers.finalize import action_key, zero_weight_message
from .coverage_figures import CLASS_NAMES, UNSEEN, certified_by_action, coverage_metrics, decision_metrics, total
_PARALLEL_ROWS = 1 << 15  # below this many rows a batch is looked up on one thread
_WORD_BITS = 62  # a packed word holds columns whose radix product stays below 2**62
PARTITIONED = True  # one-word keys go through the partitioned lookup (off: the row-by-row probe)
# rows looked up together (per thread): a partition's table and sums come into cache once for
# this many rows (10M rows, 284k certificate fibers, one thread: the probe cost 60 ns a row with
# 512k rows, 52 with 1M, 38 with 2M; end to end 512k-2M were within the noise of a loaded
# machine), and the window's arrays cost about 75 bytes a row, first touches included
WINDOW_PER_THREAD = 1 << 20


class CertificateKeys:
    """A certificate's keys as codes of its own dictionaries, and the table that finds them.

    >>> from dcb_fast import certify
    >>> ck = CertificateKeys(certify(pa.table({"a": ["x", "y"], "d": [1, 2]}), ["a"], "d"))
    >>> ck.codes(pa.table({"a": ["y", "z", None]})).tolist()
    [[1, -2, 2]]
    """

    def __init__(self, cert):
        self.cert = cert
        self.evidence = list(cert.evidence)
        self.rules = {c: cert.rules[c] for c in self.evidence}
        nf = cert.table.num_rows
        self.encoders, codes = [], np.zeros((len(self.evidence), nf), np.int32)
        for j, c in enumerate(self.evidence):
            enc = ColumnEncoder(c, keep_nulls=True)
            enc.encode(A.as_array(cert.table[c]), out=codes[j])
            enc.encode(pa.nulls(1))  # null gets a code even when no certificate key holds it
            self.encoders.append(enc)
        self.null_codes = np.array([e.null_code for e in self.encoders], np.int32)
        self.word_of, self.strides, nw = _layout([len(e) for e in self.encoders])
        words = np.zeros((nf, nw), np.int64)
        for j in range(len(self.evidence)):
            words[:, self.word_of[j]] += codes[j].astype(np.int64) * self.strides[j]
        # one-word keys (the usual case): a table per hash partition, rows scattered to them;
        # wider keys: one table, probed row by row
        self.partitioned = nw == 1 and PARTITIONED
        if self.partitioned:
            self.bits = kl.partitions_for(nf)
            self.order, _, self.pslots, self.slot_off = kl.partitioned_table(words, self.bits)
        else:
            self.slots = kl.build_table(words)
        self.cls = cert.class_codes().astype(np.int8)

    def codes(self, batch, out: np.ndarray | None = None, threads: int = 1) -> np.ndarray:
        """Certificate codes int32[k, n] of a batch's evidence (fiber rules applied; a value the
        certificate never saw: -2)."""
        n = batch.num_rows
        out = np.empty((len(self.evidence), n), np.int32) if out is None else out

        def one(j):
            c = self.evidence[j]
            arr = self.rules[c].apply(batch_column(batch, c), c)
            enc = self.encoders[j]
            if enc.kind in (None, A.NULL):  # every certificate key is null here: any value is unseen
                valid = A.np_values(pc.is_valid(arr)) if not pa.types.is_floating(A.value_type(arr.type)) else \
                    ~np.isnan(A.np_values(arr, nan_nulls=True).astype(np.float64))
                out[j] = np.where(valid, MISSING, enc.null_code)
            else:
                enc.encode(arr, insert=False, out=out[j])

        parallel_map(one, range(len(self.evidence)), threads if n >= _PARALLEL_ROWS else 1)
        return out


def _layout(radix: list[int]):
    """Column -> word and stride: columns packed in order, a new word when the mixed-radix
    product would reach 2**62 (so a key is exact for any cardinality)."""
    word_of, strides = np.zeros(len(radix), np.int64), np.zeros(len(radix), np.int64)
    w, room = 0, 1
    for j, r in enumerate(radix):
        r = max(int(r), 1)
        if room * r >= 1 << _WORD_BITS and room > 1:
            w, room = w + 1, 1
        word_of[j], strides[j] = w, room
        room *= r
    return word_of, strides, w + 1


class _Actions:
    """The production action dictionary, and per action code: its certificate action code, is
    it the global majority, is it a label (under ``nulls=drop`` a null action is none)."""

    def __init__(self, cert, name):
        self.enc = ColumnEncoder(name, keep_nulls=True)
        self.cert_enc = ColumnEncoder("action")
        self.cert_enc.encode(cert.action_values())
        self.glabel = cert.meta.get("global_majority")
        self.drop_null = cert.nulls == "drop"
        self.gcode = -1
        self.p2c = np.zeros(0, np.int32)
        self.is_global = np.zeros(0, np.uint8)
        self.labelled = np.zeros(0, np.uint8)

    def encode(self, col, out):
        self.enc.encode(col, out=out)
        n, have = len(self.enc), len(self.p2c)
        if n > have:  # new action values (or null) appeared: extend the per-code tables
            vals = self.enc.values()
            new = vals.slice(have)
            self.p2c = np.concatenate([self.p2c, self.cert_enc.encode(new, insert=False)]).astype(np.int32)
            null = self.enc.null_code if self.drop_null else -1
            if self.gcode < 0:
                for p, v in enumerate(new.to_pylist(), start=have):
                    if action_key(v) == self.glabel and p != null:
                        self.gcode = p
                        break
            self.is_global = np.zeros(n, np.uint8)
            if self.gcode >= 0:
                self.is_global[self.gcode] = 1
            self.labelled = np.ones(n, np.uint8)
            if null >= 0:
                self.labelled[null] = 0
        return out


class Lookup:
    """The running sums of one coverage run (see the module docstring)."""

    def __init__(self, cert, weight, action, threads=None, unseen_types=None, total_rows=None):
        self.keys = CertificateKeys(cert)
        self.weight, self.action = weight, action
        self.threads = default_threads() if threads is None else max(1, int(threads))
        nf = cert.table.num_rows
        # per-fiber sums: shared by the threads of the partitioned lookup (they take disjoint
        # partitions), one copy per thread for the row-by-row probe
        copies = 1 if self.keys.partitioned else self.threads
        self.fibers = [np.zeros((nf, 4), np.int64) for _ in range(copies)]
        self.scalars = [np.zeros((kl.N_SCALARS, 2), np.int64) for _ in range(self.threads)]
        self.rows_read = self.dropped = 0
        self.actions = _Actions(cert, action) if action else None
        aenc = self.actions.cert_enc if action else ColumnEncoder("action")
        if not action:
            aenc.encode(cert.action_values())
        self.fiber_act = aenc.encode(A.as_array(cert.table["__action"]), insert=False).astype(np.int32)
        self.fiber_major = aenc.encode(A.as_array(cert.table["__majority"]), insert=False).astype(np.int32)
        meta = kl.fiber_meta(self.keys.cls, self.fiber_act, self.fiber_major)
        if self.keys.partitioned:  # the sums are kept in partition order
            meta = meta[self.keys.order]
        for f in self.fibers:
            f[:, 3] = meta
        self._sbuf = None
        self._unseen_types, self.total_rows = unseen_types or {}, total_rows
        self._unseen: FiberState | None = None
        self._buf = None
        self.window = WINDOW_PER_THREAD * self.threads
        self._rows, self._pending, self._wkind, self._null_w = 0, [], None, False

    @property
    def unseen(self) -> FiberState:
        """The unseen rows, grouped by their production values (nulls kept as values)."""
        return self._unseen_state(0, 0)

    def _unseen_state(self, unseen_rows: int, rows: int) -> FiberState:
        """Made on first use, sized for the unseen rows the log's share so far predicts (a
        table that grows as it fills costs twice as much: measured 1.5 s against 0.75 s for
        the 2M unseen rows of a 10M-row log)."""
        if self._unseen is None:
            expect = None
            if self.total_rows and rows:
                expect = min(self.total_rows, int(1.2 * unseen_rows / rows * self.total_rows) + 1024)
            st = FiberState(self.keys.evidence, None, self.weight, "value", self.keys.rules, shards=self.threads,
                            expected_rows=expect)
            for c, enc in zip(self.keys.evidence, st.encoders):  # the production column types
                if c in self._unseen_types:
                    enc.encode(self.keys.rules[c].apply(pa.array([], type=self._unseen_types[c]), c))
            self._unseen = st
        return self._unseen

    def _window(self, n):
        """The window's arrays for ``n`` more rows (codes, weights, null weights, actions),
        allocated once and kept (fresh large arrays pay their page faults every time)."""
        used = self._rows
        need = used + n
        if self._buf is None or self._buf[0].shape[1] < need:
            cap = max(need, min(self.window, 4 * need), 1024)
            old = self._buf
            self._buf = (np.empty((len(self.keys.evidence), cap), np.int32), np.empty(cap, np.float64),
                         np.zeros(cap, np.uint8), np.empty(cap, np.int32))
            if old is not None and used:
                for a, b in zip(old, self._buf):
                    b[..., :used] = a[..., :used]
        codes, w, null_w, acodes = self._buf
        return codes[:, used:need], w[used:need], null_w[used:need], acodes[used:need]

    def _scatter_buffers(self, n):
        """The partitioned lookup's buffers for a window of ``n`` rows (every thread scatters
        its rows into its own slice), kept between windows."""
        b = self._sbuf
        if b is None or b[1].shape[0] < n:
            cap = max(n, 1024)
            P = 1 << self.keys.bits
            b = (np.zeros((self.threads, P + 2), np.int64), np.empty(cap, np.int32), np.empty(cap, np.int64),
                 np.empty((cap, 3), np.int64), [np.empty(cap, np.int32) for _ in range(self.threads)])
            self._sbuf = b
        return b

    def update(self, batch) -> None:
        """Take the rows of one record batch: coded now, looked up when the window is full
        (``window`` rows, or at :meth:`flush`): a partition's table and sums are then
        brought into cache once for many rows."""
        n = batch.num_rows
        self.rows_read += n
        if n == 0:
            return
        wkind = None
        col = batch_column(batch, self.weight) if self.weight else None
        if col is not None:
            t = col.type
            wkind = "int" if pa.types.is_integer(t) and not pa.types.is_uint64(t) else "float"
            if self._rows and wkind != self._wkind:  # one weight kind per window
                self.flush()
        if self._rows + n > self.window and self._rows:
            self.flush()
        self._wkind = wkind
        codes, wbuf, null_wbuf, acodes = self._window(n)
        self.keys.codes(batch, out=codes, threads=self.threads)
        if col is not None:
            w, nw = batch_weights(col, self.weight, out=wbuf)
            if w.dtype == np.int64:  # integer weights come back as they are: their bits go in the window
                wbuf.view(np.int64)[:] = w
            elif not np.shares_memory(w, wbuf):
                wbuf[:] = w
            null_wbuf[:] = 0 if nw is None else nw
            self._null_w |= nw is not None
        if self.action:
            self.actions.encode(batch_column(batch, self.action), acodes)
        cols = self.keys.evidence + ([self.weight] if self.weight else [])
        self._pending.append((self._rows, pa.table([batch_column(batch, c) for c in cols], names=cols)))
        self._rows += n
        if self._rows >= self.window:
            self.flush()

    def flush(self) -> None:
        """Look up every row of the window."""
        n = self._rows
        if n == 0:
            return
        codes, wbuf, null_wbuf, acodes = (a[..., :n] for a in self._buf)
        weights, wbits = np.zeros(0, np.float64), np.zeros(0, np.int64)
        if self._wkind == "int":
            wbits = wbuf.view(np.int64)
        elif self._wkind == "float":
            weights, wbits = wbuf, wbuf.view(np.int64)
        null_w = null_wbuf if self._null_w else np.zeros(0, np.uint8)
        if self.action:
            p2c, is_global, labelled = self.actions.p2c, self.actions.is_global, self.actions.labelled
        else:
            acodes = np.zeros(0, np.int32)
            p2c = np.zeros(0, np.int32)
            is_global = labelled = np.zeros(0, np.uint8)
        parts = self.threads if n >= _PARALLEL_ROWS else 1
        cuts = [n * p // parts for p in range(parts + 1)]
        k = self.keys
        if k.partitioned:
            # every thread scatters its rows by partition, then takes a share of the partitions
            # (of every thread's rows): each brings only its partitions' tables into cache, and
            # the fiber sums are shared without a lock
            hists, part, keys, pay, rows = self._scatter_buffers(n)
            starts = np.array(cuts[:-1], np.int64)
            P = 1 << k.bits

            def scatter(p):
                lo, hi = cuts[p], cuts[p + 1]
                return kl.scatter_rows(codes, k.strides, k.null_codes, k.bits, lo, hi, null_w, wbits, acodes,
                                       hists[p], part[lo:hi], keys[lo:hi], pay[lo:hi])

            def probe(p):
                lo, hi = P * p // parts, (P * (p + 1) // parts) + (1 if p == parts - 1 else 0)
                nu = kl.probe_partitions(pay, pay.view(np.float64), hists[:parts], starts, lo, hi, k.bits,
                                         len(weights) > 0, k.slot_off, k.pslots, len(acodes) > 0, p2c, is_global,
                                         labelled, self.fibers[0], self.scalars[p], rows[p])
                return rows[p][:nu].copy()

            dropped = sum(parallel_map(scatter, range(parts), parts))
            found = parallel_map(probe, range(parts), parts)
        else:
            crow, null_ev = np.empty(n, np.int32), np.empty(n, np.uint8)
            iweights = wbits if self._wkind == "int" else np.zeros(0, np.int64)

            def run(p):
                lo, hi = cuts[p], cuts[p + 1]
                dropped = kl.find_rows(codes, k.word_of, k.strides, k.null_codes, k.slots, lo, hi, null_w, crow,
                                       null_ev)
                kl.accumulate(crow, null_ev, lo, hi, weights, iweights, acodes, p2c, is_global, labelled,
                              self.fibers[p], self.scalars[p])
                return dropped, lo + np.flatnonzero(crow[lo:hi] == kl.UNSEEN_ROW)

            done = parallel_map(run, range(parts), parts)
            dropped, found = sum(d for d, _ in done), [u for _, u in done]
        self.dropped += int(dropped)
        unseen = np.sort(np.concatenate(found))
        # the unseen rows of each batch of the window, grouped by their production values
        state = self._unseen_state(len(unseen), n) if len(unseen) else None
        for (off, table), end in zip(self._pending, [o for o, _ in self._pending[1:]] + [n]):
            lo, hi = np.searchsorted(unseen, [off, end])
            if hi > lo:
                state.update(table.take(unseen[lo:hi] - off))
        self._pending, self._rows, self._null_w = [], 0, False

    def totals(self):
        """(per-fiber int64[F, 4]: rows, weight parts, meta; scalars int64[S, 2]) over every thread."""
        fib, sc = self.fibers[0], self.scalars[0]
        for f in self.fibers[1:]:
            kl.merge_fibers(f, fib)
        for s in self.scalars[1:]:
            ks.group_sum128(np.arange(kl.N_SCALARS, dtype=np.int64), s[:, 0].copy(),
                            s[:, 1].view(np.uint64).copy(), sc)
        self.fibers, self.scalars = [fib], [sc]
        if self.keys.partitioned:  # back to certificate order
            out = np.empty_like(fib)
            out[self.keys.order] = fib
            return out, sc
        return fib, sc


def run(cert, src, columns, weight, action, threads=None, bar=None) -> Lookup:
    """Stream every batch of ``src`` through a :class:`Lookup` (the next batch is read while
    this one is looked up)."""
    look = Lookup(cert, weight, action, threads, unseen_types={c: src.types[c] for c in cert.evidence},
                  total_rows=src.total_rows)
    labels = dict(src.parts())
    for part, batch in prefetch(src.batches(columns)):
        try:
            look.update(batch)
        except DcbError as exc:
            where = labels.get(part)
            raise DcbError(f"{where}: {exc}" if where and not where.startswith("<") else str(exc)) from None
        if bar is not None:
            bar.add(batch.num_rows)
    look.flush()
    return look


def figures(look: Lookup, weight, action):
    """(metrics without ``top_uncovered``, ``uncovered()``) of a finished run: the same figures,
    from the same exact sums, as the audit of the log gave. ``uncovered()`` gives the fibers
    that are not certified, as ``methods.coverage._uncovered_table`` takes them: (the unseen
    state, whose dictionaries code them all, keys, rows, weight parts, classes, certificate
    rows or -1)."""
    cert, keys = look.keys.cert, look.keys
    fib, sc = look.totals()
    rows_f = fib[:, 0]
    hi, lo = np.ascontiguousarray(fib[:, 1]), np.ascontiguousarray(fib[:, 2]).view(np.uint64)
    hit = rows_f > 0
    cls = keys.cls.astype(np.int64)
    unseen = look.unseen
    n_rows = int(rows_f.sum()) + (unseen.n_rows if unseen.n_fibers else 0)
    if n_rows == 0:
        raise DcbError("empty production input: no rows" +
                       (f" left: every row has a null in weight column '{weight}'" if look.rows_read else ""))
    acc = np.zeros((5, 2), np.int64)
    ks.group_sum128(cls, hi, lo, acc)
    acc[UNSEEN], acc[4] = sc[kl.UNSEEN_W], sc[kl.NULL_W]
    W = sum(total(acc, g) for g in range(4))
    if W == 0:
        raise DcbError(zero_weight_message(weight, n_rows, "production rows"))
    aenc = look.actions.cert_enc if action else ColumnEncoder("action")
    action_vals = cert.action_values()
    if not action:
        aenc.encode(action_vals)
    by_action = certified_by_action(np.where(cls == 0, look.fiber_act, -1), hi, lo, aenc, action_vals,
                                    look.fiber_act, W)
    n_unseen = unseen.n_fibers
    metrics = coverage_metrics(acc, W, n_rows, look.dropped, int(hit.sum()) + n_unseen, by_action,
                               {**{CLASS_NAMES[g]: int((hit & (cls == g)).sum()) for g in range(3)},
                                "unseen": int(n_unseen)})
    if action:
        metrics.update(decision_metrics(total(sc, kl.FD_CERT), total(sc, kl.FD_MAJOR), total(sc, kl.FD_GLOBAL),
                                        total(acc, 0), total(sc, kl.LABELLED_CERT), total(sc, kl.LABELLED), W,
                                        action))

    def uncovered():
        # the unseen fibers (grouped by production values) and the certificate fibers with
        # traffic that are not certified, as codes of the unseen state's dictionaries
        ukeys, ucounts, uwhi, uwlo = unseen.table_arrays()
        nu = ukeys.shape[0]
        u_hi, u_lo = np.empty(nu, np.int64), np.empty(nu, np.uint64)
        ks.row_totals(np.ascontiguousarray(uwhi), np.ascontiguousarray(uwlo), u_hi, u_lo)
        sel = np.flatnonzero(hit & (cls != 0))
        ckeys = np.empty((len(sel), len(keys.evidence)), np.int32)
        for j, c in enumerate(keys.evidence):
            col = A.as_array(cert.table[c]).take(pa.array(sel))
            want = unseen.encoders[j].values().type  # the production column's type (primed)
            if col.type != want and not pa.types.is_null(want):
                try:  # these fibers had production traffic: their values fit the production type
                    col = col.cast(want)
                except pa.ArrowInvalid:
                    pass
            ckeys[:, j] = unseen.encoders[j].encode(col)
        all_keys = np.concatenate([ukeys, ckeys]) if len(sel) else ukeys
        crow = np.concatenate([np.full(nu, -1, np.int64), sel])
        all_cls = np.concatenate([np.full(nu, UNSEEN, np.int64), cls[sel]])
        return (unseen, all_keys, np.concatenate([ucounts.sum(axis=1), rows_f[sel]]), np.concatenate([u_hi, hi[sel]]),
                np.concatenate([u_lo, lo[sel]]), all_cls, crow)

    return metrics, uncovered
