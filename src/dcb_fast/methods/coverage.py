"""Coverage: how much production traffic a benchmark covers, and how much it actually determines
(SPEC section 4).

Production is not audited: each row's evidence is coded against the certificate's own
dictionaries and looked up in its key table, and the row's weight goes to its certificate fiber
(``coverage_lookup``, ``kernels.lookup``); only the rows whose key the certificate lacks are
grouped into fibers. With a ``by`` column the log is streamed into a fiber state keyed by the
evidence and ``by`` (the audit engine) and joined with the certificate per production fiber.
Both give the same exact figures. A production value never seen in calibration (a new string, a
new category, a number outside the calibration bins) makes its fiber *unseen*: never an error,
never a wrong match.

Every production row is traffic: the log is counted with nulls kept as values whatever the
certificate's null policy, so a row with a null evidence value stays in the totals (unseen under
``nulls=drop``, and reported as ``null_evidence_fraction``) and the certified / ambiguous / thin /
unseen fractions partition all production weight. Only a row without a weight (its traffic is
unknown) is dropped, and counted in ``dropped_rows``.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa

from ..core.summary import envelope
from ..errors import DcbError
from ..fibers.certificate import FiberCertificate
from ..io import arrow as A
from ..io.encoding import ColumnEncoder
from ..io.sources import DEFAULT_BATCH_ROWS, open_source
from ..kernels import sums as ks
from ..fibers.finalize import action_key, evidence_columns, zero_weight_message
from ..core.progress import Progress
from ..core.results import Result
from .. import engines
from ..core.validation import check_types
from . import coverage_lookup as lookup
from .coverage_figures import (CLASS_NAMES, UNSEEN, certified_by_action, coverage_metrics, decision_metrics,
                               require_labels, total)

_SCALE = 1 << 64
# coverage without ``by``, in this process, looks production rows up in the certificate
# (``coverage_lookup``); with ``by``, a scheduler or a checkpoint (or this off: the tests'
# differential reference) it audits the log into fibers on an engine
LOOKUP = True


class CoverageResult(Result):
    """``summary`` (JSON-ready), ``uncovered`` (every production fiber that is not certified,
    by traffic; built on first use: it can hold millions of fibers), ``by`` (per value of the
    ``by`` column, or None); :meth:`write` saves them."""

    FILES = {"uncovered": "uncovered_fibers", "by": "coverage_by"}

    def __init__(self, summary: dict, uncovered, by: pa.Table | None):
        super().__init__(summary)
        self._uncovered = uncovered
        self.by = by

    @property
    def uncovered(self) -> pa.Table:
        if callable(self._uncovered):
            self._uncovered = self._uncovered()
        return self._uncovered


def coverage(cert: FiberCertificate | str, source, weight=None, action=None, by=None, top_k: int = 20,
             batch_rows: int = DEFAULT_BATCH_ROWS, threads: int | None = None, progress: bool | None = False,
             scheduler=None, checkpoint: str | None = None):
    """Check a production log against a certificate.

    Reports, weighted by ``weight`` (traffic per row): ``benchmark_coverage`` (keys that occur in
    calibration), ``certified_coverage`` (keys whose action the calibration determines),
    ``ambiguous_coverage``, ``thin_coverage``, ``unseen_fraction`` (the last four partition all
    production weight; a row with a null evidence value is unseen when the certificate drops
    nulls, and its weight is also reported as ``null_evidence_fraction``); per certified action; the
    production fibers ranked by uncovered traffic; with ``action`` (the true action, when the log
    has it) the false decisions of acting on the certificate, on the calibration fiber majority
    and on the global majority (the action with the largest calibration weight), as shares of the
    labelled traffic (rows whose true action is not null); with ``by`` the same figures per value
    of that column. ``scheduler`` and ``checkpoint`` choose the engine (see
    :func:`dcb_fast.engines.run`; ``result.run_info`` says what ran).

    >>> from dcb_fast.methods.certify import certify
    >>> cal = pa.table({"lang": ["en", "en", "fr", "de"], "route": ["a", "b", "a", "a"]})
    >>> prod = pa.table({"lang": ["fr", "fr", "en", "ja"]})
    >>> m = coverage(certify(cal, ["lang"], "route"), prod).metrics
    >>> m["benchmark_coverage"], m["certified_coverage"], m["unseen_fraction"]
    (0.75, 0.5, 0.25)
    """
    cert_path = None
    if isinstance(cert, (str, os.PathLike)):
        cert_path = os.fspath(cert)
        cert = FiberCertificate.load(cert_path)
    ev = cert.evidence
    if top_k < 0:
        raise DcbError(f"top must be at least 0, got {top_k}")
    for role, col in (("weight", weight), ("action", action), ("by", by)):
        if col is not None and col in ev:
            raise DcbError(f"{role} column '{col}' is also an evidence column of the certificate; pick another column")
    if by is not None and by in (weight, action):
        raise DcbError(f"by column '{by}' is also the {'weight' if by == weight else 'action'} column")
    key_cols = ev + ([by] if by else [])
    columns = key_cols + ([action] if action else []) + ([weight] if weight else [])
    src = open_source(source, columns, batch_rows)
    _check_types(cert, src)
    if weight:
        check_types(src, weight, {})

    if by is None and scheduler is None and checkpoint is None and LOOKUP:
        # the certificate's keys looked up row by row, in this process: production is not audited
        with Progress(src.total_rows, enabled=progress if progress is not None else None) as bar:
            look = lookup.run(cert, src, columns, weight, action, threads, bar)
        metrics, parts = lookup.figures(look, weight, action)

        def uncovered(limit=None):
            unseen, keys, rows, hi, lo, cls, crow = parts()
            return _uncovered_table(cert, unseen, keys, rows, hi, lo, cls, crow, crow >= 0, limit)

        return _result(cert, cert_path, src, look.rows_read, metrics, uncovered, None, weight, action, by, top_k)

    rules = {c: cert.rules[c] for c in ev}
    # nulls kept as values: a null-evidence row is traffic (unseen), never dropped
    spec = engines.PartialSpec.of(src, key_cols, action, weight, "value", rules)
    with Progress(src.total_rows, enabled=progress if progress is not None else None) as bar:
        state, run = engines.run(src, spec, scheduler=scheduler, checkpoint=checkpoint, threads=threads, progress=bar)
    if state.n_rows == 0:
        raise DcbError("empty production input: no rows" +
                       (f" left: every row has a null in weight column '{weight}'" if state.rows_read else ""))
    result = _finalize(cert, cert_path, state, src, weight, action, by, top_k)
    result.run_info = run
    return result


def _check_types(cert: FiberCertificate, src) -> None:
    types = cert.meta.get("types", {})
    for c in cert.evidence:
        want = types.get(c)
        got = src.types[c]
        if want is None:
            continue
        rule = cert.rules[c]
        if rule.numeric:
            vt = A.value_type(got)
            if not (pa.types.is_integer(vt) or pa.types.is_floating(vt) or pa.types.is_null(vt)):
                raise DcbError(f"production column '{c}' is {got}, but the certificate bins it as a number "
                               f"({rule.spec()}); pass the numeric column the certificate was built on")
            continue
        kw, kg = _kind(want), A.kind_of(got, c)
        if kg != A.NULL and kw != kg:
            raise DcbError(f"production column '{c}' is {got}, but the certificate was built on {want} values; "
                           "cast the column to the calibration type")


def _kind(type_name: str) -> str:
    if type_name.startswith(("int", "uint")):
        return A.INT
    for prefix, kind in (("string", A.STRING), ("large_string", A.STRING), ("dictionary", A.STRING),
                         ("binary", A.BINARY), ("large_binary", A.BINARY), ("bool", A.BOOL),
                         ("double", A.FLOAT), ("float", A.FLOAT), ("halffloat", A.FLOAT),
                         ("date", A.TEMPORAL), ("timestamp", A.TEMPORAL), ("time", A.TEMPORAL),
                         ("duration", A.TEMPORAL), ("decimal", A.STRING), ("null", A.NULL)):
        if type_name.startswith(prefix):
            return kind
    return type_name


def _finalize(cert, cert_path, state, src, weight, action, by, top_k):
    ev = cert.evidence
    keys, counts, whi, wlo = state.table_arrays()
    nf = keys.shape[0]
    whi, wlo = np.ascontiguousarray(whi), np.ascontiguousarray(wlo)
    tot_hi, tot_lo = np.empty(nf, np.int64), np.empty(nf, np.uint64)
    ks.row_totals(whi, wlo, tot_hi, tot_lo)
    rows = counts.sum(axis=1)

    # the join, one lookup per production fiber, by codes mapped between the dictionaries
    crow = cert.key_index().lookup_fibers(state, keys) if nf else np.zeros(0, np.int64)
    seen = crow >= 0
    cert_cls = cert.class_codes()
    cls = np.full(nf, UNSEEN, dtype=np.int64)
    cls[seen] = cert_cls[crow[seen]]

    acc = np.zeros((5, 2), np.int64)
    ks.group_sum128(cls, tot_hi, tot_lo, acc)
    ks.group_sum128(np.where(_null_evidence(state, keys, len(ev)), 4, -1).astype(np.int64), tot_hi, tot_lo, acc)
    W = sum(total(acc, g) for g in range(4))
    if W == 0:
        raise DcbError(zero_weight_message(weight, int(rows.sum()), "production rows"))

    # certified traffic per certified action (every action some calibration fiber certifies is
    # listed; an action that is only the majority of mixed or thin fibers certifies nothing)
    action_vals = cert.action_values()
    aenc = ColumnEncoder("action")
    aenc.encode(action_vals)  # certificate action value -> local code (its position)
    cert_action_code = aenc.encode(A.as_array(cert.table["__action"]), insert=False)  # -1 unless certified
    cert_major_code = aenc.encode(A.as_array(cert.table["__majority"]), insert=False)
    fiber_action = np.full(nf, -1, dtype=np.int64)
    fiber_action[seen] = cert_action_code[crow[seen]]
    by_action = certified_by_action(np.where(cls == 0, fiber_action, -1), tot_hi, tot_lo, aenc, action_vals,
                                    cert_action_code, W)
    metrics = coverage_metrics(acc, W, int(rows.sum()), state.dropped_rows, int(nf), by_action,
                               {CLASS_NAMES[g]: int((cls == g).sum()) for g in range(4)})

    if action:
        metrics.update(_false_decisions(cert, state, whi, wlo, tot_hi, tot_lo, cls, crow, seen,
                                        cert_action_code, cert_major_code, aenc, W, action))

    def uncovered(limit=None):
        return _uncovered_table(cert, state, keys, rows, tot_hi, tot_lo, cls, crow, seen, limit)

    by_table = _by_table(state, keys, tot_hi, tot_lo, cls, by) if by else None
    return _result(cert, cert_path, src, state.rows_read, metrics, uncovered, by_table, weight, action, by, top_k)


def _result(cert, cert_path, src, rows_read, metrics, uncovered, by_table, weight, action, by, top_k):
    """The :class:`CoverageResult` of finished figures (``uncovered(limit)`` builds the table)."""
    ev = cert.evidence
    metrics["top_uncovered"] = _top(uncovered(top_k), top_k)
    if by_table is not None:
        metrics["by"] = [{"value": _plain(r.pop(by)), **r} for r in by_table.to_pylist()]

    headline = (f"benchmark covers {metrics['benchmark_coverage']:.2%} of traffic; its action is determined "
                f"for {metrics['certified_coverage']:.2%}")
    summary = envelope("coverage", {
            "certificate": cert_path, "evidence": ev, "rules": cert.meta.get("rule_details", cert.meta["rules"]),
            "min_support": cert.min_support, "nulls": cert.nulls, "weight": weight, "action": action, "by": by,
            "top": top_k,
        },
                       certificate={"calibration": cert.meta["calibration"], "action": cert.action,
                        "global_majority": cert.meta.get("global_majority")},
                       input={**src.describe(), "rows_read": rows_read},
                       metrics=metrics,
                       headline=headline)
    return CoverageResult(summary, uncovered, by_table)


def _null_evidence(state, keys, k) -> np.ndarray:
    """Per production fiber: does one of its ``k`` evidence values hold a null (or NaN)?"""
    out = np.zeros(keys.shape[0], dtype=bool)
    for j, enc in enumerate(state.encoders[:k]):
        if enc.null_code >= 0:
            out |= keys[:, j] == enc.null_code
    return out


def _false_decisions(cert, state, whi, wlo, tot_hi, tot_lo, cls, crow, seen, cert_action_code, cert_major_code,
                     aenc, W, action):
    """False decisions (shares of the labelled weight) of acting on the certificate, the
    calibration fiber majority and the global majority, and the acquisitions
    certify-then-acquire needs (a share of all weight).

    Every chosen action is mapped to a production action code: a certificate action by value,
    the global majority (which may win no calibration fiber, and so need not be among the
    certificate's fiber majorities) by its label. An action that never occurs in the log is
    wrong on every labelled row. Under ``nulls=drop`` a null true action is no label: those rows
    count as traffic (in ``W`` and the acquisitions) but are neither right nor wrong."""
    nf = len(cls)
    pvals = state.action_encoder.values()
    p2c = aenc.encode(pvals, insert=False)  # production action code -> certificate code
    c2p = np.full(max(len(aenc), 1), -1, dtype=np.int64)
    for p, c in enumerate(p2c):
        if c >= 0:
            c2p[c] = p

    def to_prod(cert_codes):
        return np.where(cert_codes >= 0, c2p[np.maximum(cert_codes, 0)], -1).astype(np.int64)

    def weight_not(chosen, base_hi, base_lo, mask):
        out_hi, out_lo = np.empty(nf, np.int64), np.empty(nf, np.uint64)
        ks.minus_chosen(base_hi, base_lo, whi, wlo, chosen, out_hi, out_lo)
        acc = np.zeros((1, 2), np.int64)
        ks.group_sum128(np.where(mask, 0, -1).astype(np.int64), out_hi, out_lo, acc)
        return total(acc, 0), out_hi, out_lo

    everywhere = np.ones(nf, bool)
    null_action = state.action_encoder.null_code if cert.nulls == "drop" else -1
    if null_action >= 0:  # the labelled weight of each fiber: all but its null-action weight
        L, lab_hi, lab_lo = weight_not(np.full(nf, null_action, np.int64), tot_hi, tot_lo, everywhere)
    else:
        L, lab_hi, lab_lo = W, tot_hi, tot_lo
    require_labels(L, action)

    def fd(chosen, mask):
        return weight_not(chosen, lab_hi, lab_lo, mask)[0]

    glabel = cert.meta.get("global_majority")
    plabels = [action_key(v) for v in pvals.to_pylist()]
    gcode = next((p for p, lab in enumerate(plabels) if lab == glabel and p != null_action), -1)
    certified = cls == 0
    act_cert = np.full(nf, -1, np.int64)
    act_cert[seen] = to_prod(cert_action_code[crow[seen]])
    act_major = np.full(nf, gcode, np.int64)  # unseen: the global majority
    act_major[seen] = to_prod(cert_major_code[crow[seen]])
    fd_cert = fd(act_cert, certified)
    fd_major = fd(act_major, everywhere)
    fd_global = fd(np.full(nf, gcode, np.int64), everywhere)
    acc = np.zeros((2, 2), np.int64)
    ks.group_sum128(np.where(certified, 0, -1).astype(np.int64), tot_hi, tot_lo, acc)
    ks.group_sum128(np.where(certified, 1, -1).astype(np.int64), lab_hi, lab_lo, acc)
    return decision_metrics(fd_cert, fd_major, fd_global, total(acc, 0), total(acc, 1), L, W, action)


def _uncovered_table(cert, state, keys, rows, tot_hi, tot_lo, cls, crow, seen, limit=None) -> pa.Table:
    """Every production fiber that is not certified (or the ``limit`` heaviest), by traffic
    (descending). With a ``by`` column the state's keys carry it last; fibers are merged over
    it here."""
    k = len(cert.evidence)
    sel = np.nonzero(cls != 0)[0]
    if keys.shape[1] > k and len(sel):
        _, first, inv = np.unique(keys[sel, :k], axis=0, return_index=True, return_inverse=True)
        inv = inv.reshape(-1)
        acc = np.zeros((len(first), 2), np.int64)
        ks.group_sum128(inv.astype(np.int64), tot_hi[sel], tot_lo[sel], acc)
        g_rows = np.bincount(inv, weights=rows[sel], minlength=len(first)).astype(np.int64)
        sel = sel[first]
        g_hi, g_lo = acc[:, 0], acc[:, 1].view(np.uint64)
    else:
        g_rows, g_hi, g_lo = rows[sel], tot_hi[sel], tot_lo[sel]
    weight = g_hi.astype(np.float64) + g_lo.astype(np.float64) / 2.0**64
    if limit is not None and len(sel) > limit:  # only the heaviest: partial selection, then sort those
        keep = np.sort(np.argpartition(-weight, limit - 1)[:limit]) if limit > 0 else np.zeros(0, np.int64)
        cut = weight[keep].min() if len(keep) else np.inf
        keep = np.nonzero(weight >= cut)[0]  # ties at the cut stay, sorted below by value
        sel, weight, g_rows = sel[keep], weight[keep], g_rows[keep]
    # ties in traffic by evidence values (canonical order, null last), never by a fiber's position
    # in the state, which depends on the input's row order and batching
    ranks = [state.encoders[j].sort_ranks()[keys[sel, j]] for j in reversed(range(k))] if len(sel) else []
    order = np.lexsort((*ranks, -weight)) if len(sel) else np.zeros(0, np.int64)
    fib = sel[order]
    cols = evidence_columns(state, keys, fib, cert.evidence, cert.rules)
    cols["rows"] = pa.array(g_rows[order], pa.int64())
    cols["weight"] = pa.array(weight[order], pa.float64())
    cols["class"] = pa.array(np.array(CLASS_NAMES)[cls[fib]], pa.string())
    calib = np.zeros(len(fib), np.int64)
    hit = crow[fib] >= 0
    calib[hit] = A.np_values(cert.table["__rows"])[crow[fib][hit]]
    cols["calibration_rows"] = pa.array(calib, pa.int64())
    return pa.table(cols)


def _top(table: pa.Table, k: int) -> list[dict]:
    out = []
    for row in table.slice(0, k).to_pylist():
        out.append({key: _plain(v) for key, v in row.items()})
    return out


def _plain(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if isinstance(v, float) and not np.isfinite(v):
        return None
    return v


def _by_table(state, keys, tot_hi, tot_lo, cls, by) -> pa.Table:
    """Coverage figures per value of the ``by`` column (its code is the last key column)."""
    enc = state.encoders[-1]
    nby = len(enc)
    groups = keys[:, -1].astype(np.int64) * 4 + cls
    acc = np.zeros((max(nby, 1) * 4, 2), np.int64)
    ks.group_sum128(groups, tot_hi, tot_lo, acc)
    rows = []
    for b in np.argsort(enc.sort_ranks()):
        t = [total(acc, 4 * b + g) for g in range(4)]
        w = sum(t)
        if w == 0 and not (keys[:, -1] == b).any():
            continue
        rows.append({
            "value": b, "total_weight": w / _SCALE,
            "benchmark_coverage": (w - t[UNSEEN]) / w if w else 0.0,
            "certified_coverage": t[0] / w if w else 0.0,
            "ambiguous_coverage": t[1] / w if w else 0.0,
            "thin_coverage": t[2] / w if w else 0.0,
            "unseen_fraction": t[UNSEEN] / w if w else 0.0,
        })
    vals = enc.values()
    table = pa.table({
        by: vals.take(pa.array([r["value"] for r in rows], pa.int32())) if rows else vals[:0],
        **{k: pa.array([r[k] for r in rows], pa.float64()) for k in
           ("total_weight", "benchmark_coverage", "certified_coverage", "ambiguous_coverage", "thin_coverage",
            "unseen_fraction")},
    })
    return table
