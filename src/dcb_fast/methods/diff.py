"""Drift between two periods: what changed between two certificates or two audits (SPEC
sections 2 and 4 applied to two tables of the same evidence).

Each side is a certificate (``dcb certify``) or an audit (a result directory of ``dcb audit
--out``, or an :class:`~dcb_fast.methods.audit.AuditResult`): per evidence fiber, its class, its
certified action, its rows and weight. The two sides are joined on the fiber key (with the same
exact hashing the audit uses, nulls included), and every key of either side gets one change:

- ``lost``: certified in OLD, ambiguous or thin in NEW;
- ``gained``: ambiguous or thin in OLD, certified in NEW;
- ``action_changed``: certified in both, with different actions;
- ``new_key``: only in NEW (traffic no OLD certificate covers);
- ``gone_key``: only in OLD;
- ``still_certified`` (same action) and ``still_uncertified`` (ambiguous or thin in both).

Shares of weight: a change's ``weight_new`` is its NEW weight over NEW's total weight (the
traffic of the new period it concerns), ``weight_old`` its OLD weight over OLD's total.
"""

from __future__ import annotations

import json
import math
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..core.summary import envelope
from ..errors import DcbError
from ..io import arrow as A
from ..fibers.finalize import action_key
from ..core.results import Result
from .audit import AuditResult
from .certify import Certificate, KeyIndex

CHANGES = ("lost", "gained", "action_changed", "new_key", "gone_key", "still_certified", "still_uncertified")


class Side:
    """One period as a verdict per fiber: ``keys`` (one column per evidence column; binned
    columns as their bin label), ``cls`` (0 certified, 1 ambiguous, 2 thin), ``action`` (the
    certified action, null unless certified), ``rows`` and ``weight``."""

    def __init__(self, name, kind, evidence, rules, keys, cls, action, rows, weight, meta):
        self.name, self.kind, self.evidence, self.rules = name, kind, evidence, rules
        self.keys, self.cls, self.action, self.rows, self.weight = keys, cls, action, rows, weight
        self.meta = meta

    @property
    def n(self) -> int:
        return len(self.cls)


def load_side(obj, name: str = "OLD") -> Side:
    """A :class:`Side` from a certificate (object or file), an audit result, or an audit result
    directory."""
    if isinstance(obj, Certificate):
        return _from_certificate(obj, name, "certificate")
    if isinstance(obj, AuditResult):
        return _from_audit(obj.summary, obj.fibers, name, "audit")
    if not isinstance(obj, (str, os.PathLike)):
        raise DcbError(f"{name} must be a certificate, an audit result or a path, not {type(obj).__name__}")
    path = os.fspath(obj)
    if os.path.isdir(path):
        spath = os.path.join(path, "summary.json")
        if not os.path.isfile(spath):
            raise DcbError(f"{name} '{path}' has no summary.json; pass a certificate file or a 'dcb audit --out' "
                           "directory")
        try:
            with open(spath, encoding="utf-8") as fh:
                summary = json.load(fh)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DcbError(f"cannot read '{spath}': {exc}; rerun the audit that wrote it") from None
        if not isinstance(summary, dict):
            summary = {}
        if summary.get("kind") != "audit":
            raise DcbError(f"{name} '{path}' holds a '{summary.get('kind')}' result; diff compares audits "
                           "('dcb audit --out') or certificates ('dcb certify')")
        for ext in (".parquet", ".csv"):
            fpath = os.path.join(path, "fibers" + ext)
            if os.path.isfile(fpath):
                table = _read_whole(fpath, ext)
                return _from_audit(summary, table, name, path)
        raise DcbError(f"{name} '{path}' has no fibers.parquet or fibers.csv; rerun 'dcb audit --out {path}'")
    if os.path.isfile(path):
        return _from_certificate(Certificate.load(path), name, path)
    raise DcbError(f"{name} '{path}' does not exist; pass a certificate file or a 'dcb audit --out' directory")


def _read_whole(path, ext):
    try:
        if ext == ".parquet":
            import pyarrow.parquet as pq

            return pq.read_table(path)
        import pyarrow.csv as pcsv

        return pcsv.read_csv(path)
    except (OSError, pa.ArrowException) as exc:
        raise DcbError(f"cannot read '{path}': {exc}; rerun the audit that wrote it") from None


def _plain(col) -> pa.Array:
    col = A.as_array(col)
    return col.cast(col.type.value_type) if pa.types.is_dictionary(col.type) else col


def _class_codes(col) -> np.ndarray:
    names = _plain(col).to_numpy(zero_copy_only=False)
    out = np.full(len(names), -1, np.int8)
    for i, c in enumerate(("certified", "ambiguous", "thin")):
        out[names == c] = i
    if (out < 0).any():
        raise DcbError(f"unknown fiber class '{names[out < 0][0]}'; the input was not written by dcb_fast")
    return out


def _from_certificate(cert, name, where) -> Side:
    keys = []
    for c in cert.evidence:
        col = _plain(cert.table[c])
        decoded = cert.rules[c].decode(col)
        keys.append(decoded[""] if decoded else col)
    rules = cert.meta.get("rule_details") or {c: {"rule": s} for c, s in cert.meta["rules"].items()}
    return Side(name, "certificate", list(cert.evidence), rules, keys, cert.class_codes(),
                _plain(cert.table["__action"]), A.np_values(cert.table["__rows"]).astype(np.int64),
                A.np_values(cert.table["__weight"]).astype(np.float64),
                {"where": where, "action": cert.action, "min_support": cert.min_support,
                 "weight": cert.meta.get("weight"),
                 "fingerprint": str(cert.meta["calibration"]["input"].get("fingerprint", ""))})


def _from_audit(summary, fibers, name, where) -> Side:
    p = summary["parameters"]
    ev = list(p["evidence"])
    missing = [c for c in ev + ["rows", "weight", "class", "majority_action"] if c not in fibers.column_names]
    if missing:
        raise DcbError(f"the fiber table of {name} ({where}) has no column '{missing[0]}'; rerun 'dcb audit --out'")
    cls = _class_codes(fibers["class"])
    major = _plain(fibers["majority_action"])
    action = pc.if_else(pa.array(cls == 0), major, pa.scalar(None, type=major.type))
    return Side(name, "audit", ev, p["rules"], [_plain(fibers[c]) for c in ev], cls, action,
                A.np_values(_plain(fibers["rows"])).astype(np.int64),
                A.np_values(_plain(fibers["weight"])).astype(np.float64),
                {"where": where, "action": p["action"], "min_support": p["min_support"], "weight": p.get("weight"),
                 "fingerprint": str(summary.get("input", {}).get("fingerprint", ""))})


def _same_rule(a: dict, b: dict) -> bool:
    if "edges" in a or "edges" in b:  # quantile:4 and the edges it resolved to are the same bins
        return a.get("edges") == b.get("edges")
    return a == b


def _check_compatible(old: Side, new: Side) -> list[str]:
    if sorted(old.evidence) != sorted(new.evidence):
        raise DcbError(f"OLD has evidence {', '.join(old.evidence)} but NEW has {', '.join(new.evidence)}; "
                       "diff compares two periods audited on the same evidence columns")
    for c in old.evidence:
        if not _same_rule(old.rules.get(c, {}), new.rules.get(c, {})):
            raise DcbError(f"evidence column '{c}' is binned differently in OLD ({old.rules.get(c)}) and NEW "
                           f"({new.rules.get(c)}); audit both periods with the same fixed rule (edges:... or width:W)")
    notes = []
    if old.meta["action"] != new.meta["action"]:
        notes.append(f"the action column is '{old.meta['action']}' in OLD and '{new.meta['action']}' in NEW")
    if old.meta["min_support"] != new.meta["min_support"]:
        notes.append(f"min support is {old.meta['min_support']} in OLD and {new.meta['min_support']} in NEW: "
                     "thin fibers are not judged alike")
    return notes


def _unify_types(old: Side, new: Side) -> None:
    """Give both sides' key columns one type per column, in NEW's column order made OLD's (an
    all-null column reads as type null and takes the other side's type)."""
    new_keys = [new.keys[new.evidence.index(c)] for c in old.evidence]
    for j, (c, a, b) in enumerate(zip(old.evidence, old.keys, new_keys)):
        if a.type == b.type:
            continue
        try:
            if pa.types.is_null(a.type):
                old.keys[j] = a.cast(b.type)
            else:
                new_keys[j] = b.cast(a.type)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            raise DcbError(f"evidence column '{c}' is {a.type} in OLD but {b.type} in NEW; "
                           "write both periods with the same column types") from None
    new.keys, new.evidence = new_keys, list(old.evidence)


def _match(old: Side, new: Side) -> np.ndarray:
    """For each NEW fiber, the row of the same key in OLD (-1 when absent)."""
    if old.n == 0 or new.n == 0:
        return np.full(new.n, -1, np.int64)
    index = KeyIndex(old.evidence, old.keys, nulls="value")
    return index.lookup(pa.table(dict(zip(old.evidence, new.keys))))


def diff(old, new, top_k: int = 20) -> "DiffResult":
    """Compare two periods (certificates, audit results or their paths): fibers that lost or
    gained certification, certified actions that changed, keys new in NEW, and the shift of the
    certified fraction.

    >>> a = pa.table({"lang": ["en", "en", "fr", "de"], "route": ["a", "b", "a", "a"]})
    >>> b = pa.table({"lang": ["en", "fr", "fr", "ja"], "route": ["a", "a", "b", "a"]})
    >>> from dcb_fast import certify
    >>> d = diff(certify(a, ["lang"], "route"), certify(b, ["lang"], "route"))
    >>> d.metrics["n_changes"]["gained"], d.metrics["n_changes"]["lost"], d.metrics["n_changes"]["new_key"]
    (1, 1, 1)
    """
    old_s, new_s = load_side(old, "OLD"), load_side(new, "NEW")
    notes = _check_compatible(old_s, new_s)
    _unify_types(old_s, new_s)
    row = _match(old_s, new_s)
    return _finalize(old_s, new_s, row, notes, int(top_k))


def _actions_equal(a: pa.Array, b: pa.Array) -> np.ndarray:
    if a.type != b.type:
        a, b = a.cast(pa.string()), b.cast(pa.string())
    eq = pc.equal(a, b)
    return np.asarray(pc.fill_null(eq, False).to_numpy(zero_copy_only=False), dtype=bool)


def _finalize(old: Side, new: Side, row: np.ndarray, notes: list, top_k: int) -> "DiffResult":
    n_new = new.n
    hit = row >= 0
    in_new = np.zeros(old.n, bool)
    in_new[row[hit]] = True
    gone = np.nonzero(~in_new)[0]
    # NEW fibers first (matched or new keys), then OLD fibers whose key is gone
    o_idx = np.concatenate([np.where(hit, row, -1), gone])
    n_idx = np.concatenate([np.arange(n_new), np.full(len(gone), -1)])
    has_o, has_n = o_idx >= 0, n_idx >= 0
    cls_o = np.where(has_o, old.cls[np.maximum(o_idx, 0)] if old.n else -1, -1)
    cls_n = np.where(has_n, new.cls[np.maximum(n_idx, 0)] if n_new else -1, -1)
    take_o = pa.array(np.where(has_o, o_idx, 0)) if old.n else None
    take_n = pa.array(np.where(has_n, n_idx, 0)) if n_new else None

    def pick(arr, take, mask, n):
        if take is None:
            return pa.nulls(n, arr.type)
        return pc.if_else(pa.array(mask), arr.take(take), pa.scalar(None, type=arr.type))

    m = len(o_idx)
    act_o = pick(old.action, take_o, has_o, m)
    act_n = pick(new.action, take_n, has_n, m)
    same_action = _actions_equal(act_o, act_n)
    change = np.full(m, "", dtype=object)
    both = has_o & has_n
    change[~has_o] = "new_key"
    change[~has_n] = "gone_key"
    change[both & (cls_o == 0) & (cls_n != 0)] = "lost"
    change[both & (cls_o != 0) & (cls_n == 0)] = "gained"
    change[both & (cls_o == 0) & (cls_n == 0) & ~same_action] = "action_changed"
    change[both & (cls_o == 0) & (cls_n == 0) & same_action] = "still_certified"
    change[both & (cls_o != 0) & (cls_n != 0)] = "still_uncertified"

    w_o = np.where(has_o, old.weight[np.maximum(o_idx, 0)] if old.n else 0.0, np.nan)
    w_n = np.where(has_n, new.weight[np.maximum(n_idx, 0)] if n_new else 0.0, np.nan)
    r_o = np.where(has_o, old.rows[np.maximum(o_idx, 0)] if old.n else 0, 0)
    r_n = np.where(has_n, new.rows[np.maximum(n_idx, 0)] if n_new else 0, 0)
    W_o, W_n = math.fsum(old.weight), math.fsum(new.weight)

    def share(x, W):
        return x / W if W else 0.0

    per = {}
    for c in CHANGES:
        sel = change == c
        per[c] = {"fibers": int(sel.sum()),
                  "weight_old": share(math.fsum(w_o[sel & has_o]), W_o),
                  "weight_new": share(math.fsum(w_n[sel & has_n]), W_n)}
    cert_o = share(math.fsum(old.weight[old.cls == 0]), W_o)
    cert_n = share(math.fsum(new.weight[new.cls == 0]), W_n)
    w_cert_o = math.fsum(old.weight[old.cls == 0])
    metrics = {
        "total_weight_old": W_o, "total_weight_new": W_n,
        "n_fibers_old": old.n, "n_fibers_new": n_new,
        "certified_old": cert_o,
        "certified_new": cert_n,
        "certified_shift": cert_n - cert_o,
        # NEW traffic the OLD certificate certifies (what `dcb coverage` of NEW by OLD would say)
        "old_certificate_coverage": share(math.fsum(w_n[has_n & (cls_o == 0)]), W_n),
        "covered_new": share(math.fsum(w_n[both]), W_n),
        "new_key_weight": per["new_key"]["weight_new"],
        "gone_key_weight": per["gone_key"]["weight_old"],
        "lost_certified_weight": per["lost"]["weight_new"],
        "gained_certified_weight": per["gained"]["weight_new"],
        "changed_action_weight": per["action_changed"]["weight_new"],
        # of OLD's certified weight, the part still certified with the same action in NEW
        "retained_certified": math.fsum(w_o[change == "still_certified"]) / w_cert_o if w_cert_o else 0.0,
        "n_changes": {c: per[c]["fibers"] for c in CHANGES},
        "changes": per,
    }
    names = ["certified", "ambiguous", "thin"]
    cols = {}
    for j, c in enumerate(old.evidence):
        vo = pick(old.keys[j], take_o, has_o, m)
        vn = pick(new.keys[j], take_n, has_n, m)
        cols[c] = pc.if_else(pa.array(has_n), vn, vo)
    cols["change"] = pa.array(change.astype(str), pa.string())
    cols["class_old"] = pa.array([names[c] if c >= 0 else None for c in cls_o], pa.string())
    cols["class_new"] = pa.array([names[c] if c >= 0 else None for c in cls_n], pa.string())
    cols["action_old"] = act_o
    cols["action_new"] = act_n
    cols["rows_old"] = pa.array(r_o, pa.int64(), mask=~has_o)
    cols["rows_new"] = pa.array(r_n, pa.int64(), mask=~has_n)
    cols["weight_old"] = pa.array(np.nan_to_num(w_o), pa.float64(), mask=~has_o)
    cols["weight_new"] = pa.array(np.nan_to_num(w_n), pa.float64(), mask=~has_n)
    # heaviest first: NEW weight, then OLD weight for gone keys; ties in key order of the inputs
    rank = np.lexsort((np.arange(m), -np.nan_to_num(w_o), -np.nan_to_num(w_n)))
    table = pa.table(cols).take(pa.array(rank, pa.int64()))
    metrics["top_changes"] = _top_changes(table, old.evidence, top_k)
    headline = (f"certified {cert_o:.2%} -> {cert_n:.2%} ({100 * (cert_n - cert_o):+.2f} points); "
                f"{per['lost']['fibers']:,} fibers lost certification ({per['lost']['weight_new']:.2%} of new traffic), "
                f"{per['gained']['fibers']:,} gained ({per['gained']['weight_new']:.2%}), "
                f"{per['action_changed']['fibers']:,} changed action ({per['action_changed']['weight_new']:.2%}); "
                f"new keys carry {per['new_key']['weight_new']:.2%} of new traffic")
    summary = envelope("diff", {"evidence": old.evidence, "rules": old.rules, "top": top_k,
                       "old": {"source": str(old.meta["where"]), "kind": old.kind, **{k: old.meta[k] for k in
                                                                                      ("action", "min_support", "weight")}},
                       "new": {"source": str(new.meta["where"]), "kind": new.kind, **{k: new.meta[k] for k in
                                                                                      ("action", "min_support", "weight")}}},
                       input={"files": [], "fingerprint": f"{old.meta['fingerprint']}|{new.meta['fingerprint']}"},
                       metrics=metrics,
                       headline=headline,
                       warnings=notes)
    return DiffResult(summary, table)


def _top_changes(table: pa.Table, evidence, k: int) -> dict:
    out = {}
    ch = table["change"]
    for c in ("lost", "gained", "action_changed", "new_key", "gone_key"):
        sub = table.filter(pc.equal(ch, c)).slice(0, k)
        out[c] = [{key: (action_key(v) if key.startswith("action_") and v is not None else _json(v))
                   for key, v in r.items() if key != "change"} for r in sub.to_pylist()]
    return out


def _json(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


class DiffResult(Result):
    """What :func:`diff` found: ``summary`` and ``changes`` (one row per fiber key of either
    period, heaviest first, with its change, classes, actions, rows and weights)."""

    FILES = {"changes": "changes"}

    def __init__(self, summary: dict, changes: pa.Table):
        super().__init__(summary)
        self.changes = changes
