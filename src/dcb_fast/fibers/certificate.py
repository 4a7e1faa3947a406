"""The certificate's content: what a labelled calibration table certifies, per evidence fiber
(SPEC section 4), with its file format. ``methods.certify`` builds one from an audit and adds
:meth:`~dcb_fast.methods.certify.Certificate.coverage`.

A certificate holds, for every fiber, its class (certified, ambiguous, thin under the minimum
support), the certified action, the majority action and its support. It is saved as a
versioned Arrow IPC file that carries the evidence columns, their fiber rules (bin edges
included), the minimum support and the fingerprint of the calibration input, so that a
production log can later be checked against it (``dcb_fast.coverage``) on another machine.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .._version import __version__
from ..core.confidence import minority_upper
from ..core.rules import Rule, parse_rule
from ..errors import DcbError
from ..io import arrow as A
from ..io.result_dir import check_out_file, record
from ..io.writers import atomic_path
from .finalize import AMBIGUOUS, CERTIFIED, THIN, action_key, canonical_order, minority_rows
from .state import FiberState


CERT_FORMAT = "dcb_fast.certificate"
CERT_VERSION = 1
CLASSES = [CERTIFIED, AMBIGUOUS, THIN]
_STAT_COLUMNS = ["__class", "__action", "__majority", "__rows", "__weight"]


class KeyIndex:
    """Row positions of a table of unique keys, looked up by value with the fiber engine.

    Each key is inserted once into an action-less :class:`FiberState` with its row position + 1
    as its count, so a lookup returns the row through the same exact hashing and dictionaries
    the audit uses (no Python dict of values, no hash-collision risk).
    """

    def __init__(self, names: list[str], columns: list[pa.Array], nulls: str = "drop"):
        self.names = list(names)
        self.state = FiberState(self.names, None, nulls=nulls, shards=1)
        n = len(columns[0]) if columns else 0
        if n:
            keys = np.repeat(np.arange(n, dtype=np.int64)[:, None], len(self.names), axis=1)
            self.state.add_cells(list(columns), keys, pa.array([True]), np.zeros(n, np.int64),
                                  np.arange(1, n + 1, dtype=np.int64), np.zeros(0, np.int64), np.zeros(0, np.uint64))
        self._rows = self.state.table_arrays()[1][:, 0] - 1

    def lookup(self, batch) -> np.ndarray:
        """Row position of each row of ``batch`` (columns ``names``), -1 when absent."""
        return self._rows_of(self.state.lookup(batch))

    def lookup_fibers(self, state: FiberState, keys: np.ndarray) -> np.ndarray:
        """Row position of each fiber of another state (its codes ``keys``, int32[n, k] over
        the same columns), -1 when absent: dictionaries are mapped once, values never decoded."""
        return self._rows_of(self.state.lookup_codes(self.state.recode(state, keys)))

    def _rows_of(self, fid: np.ndarray) -> np.ndarray:
        out = np.full(len(fid), -1, dtype=np.int64)
        hit = fid >= 0
        out[hit] = self._rows[fid[hit]]
        return out


class FiberCertificate:
    """Per-fiber verdicts of a calibration table.

    ``table`` has one row per calibration fiber: the evidence keys (values for exact columns, bin
    indices for binned ones), ``__class`` (certified / ambiguous / thin), ``__action`` (the
    certified action, null unless certified), ``__majority`` (majority action by weight),
    ``__rows`` (support) and ``__weight``.
    """

    def __init__(self, table: pa.Table, meta: dict):
        self.table = table
        self.meta = meta
        self.evidence: list[str] = meta["evidence"]
        self.rules: dict[str, Rule] = {c: parse_rule(s) for c, s in meta["rules"].items()}
        self.min_support: int = meta["min_support"]
        self.nulls: str = meta["nulls"]
        self.action: str = meta["action"]
        self._index: KeyIndex | None = None

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def from_audit(cls, result) -> "FiberCertificate":
        """The certificate of a finished calibration audit (an :class:`AuditResult`)."""
        state, fib, summary = result.state, result.per_fiber(), result.summary
        if fib.order is None:
            fib.order = canonical_order(state)
        o = fib.order
        keys = state.table_arrays()[0]
        cols = {c: enc.values().take(pa.array(keys[o, j], pa.int32())) for j, (c, enc) in
                enumerate(zip(state.evidence, state.encoders))}
        actions = state.action_encoder.values()
        cls_idx = fib.cls[o]
        majority = actions.take(pa.array(fib.major[o]))
        certified = pa.array(cls_idx == 0)
        cols["__class"] = pa.array(np.array(CLASSES)[cls_idx], pa.string()).dictionary_encode()
        cols["__action"] = _where(certified, majority)
        cols["__majority"] = majority
        cols["__rows"] = pa.array(fib.support[o], pa.int64())
        cols["__weight"] = pa.array(fib.tot_hi[o].astype(np.float64) + fib.tot_lo[o].astype(np.float64) / 2.0**64)
        # the upper confidence bound of each fiber's minority share (issue 18); older
        # certificates lack the column, readers must not require it
        cols["__minority_upper"] = pa.array(minority_upper(minority_rows(state, fib)[o], fib.support[o],
                                                           summary["parameters"].get("confidence", 0.95)))
        m = summary["metrics"]
        prev = m["prevalence"]
        labels = m["actions"]  # ascending: ties go to the first
        global_majority = max(labels, key=lambda a: (prev[a], -labels.index(a))) if labels else None
        meta = {
            "format": CERT_FORMAT, "version": CERT_VERSION, "dcb_fast": __version__,
            "evidence": state.evidence, "rules": {c: state.rules[c].spec() for c in state.evidence},
            "rule_details": summary["parameters"]["rules"],
            "min_support": summary["parameters"]["min_support"], "nulls": state.nulls,
            "confidence": summary["parameters"].get("confidence"),
            "max_minority": summary["parameters"].get("max_minority"),
            "action": state.action, "weight": state.weight,
            "global_majority": global_majority,  # the label of the most frequent action (by weight)
            "types": {c: str(state.encoders[j].type) for j, c in enumerate(state.evidence)},
            "calibration": {"input": summary["input"], "n_rows": m["n_rows"], "total_weight": m["total_weight"],
                            "n_fibers": m["n_fibers"], "certifiable_fraction": m["certifiable_fraction"]},
        }
        return cls(pa.table(cols), meta)

    # -- files ----------------------------------------------------------------------------------------
    def save(self, path: str) -> str:
        """Write the certificate as an Arrow IPC file (atomically)."""
        # the fiber count travels with the metadata, so that load() refuses a table and metadata
        # that were not written together (a file spliced from two certificates)
        meta = {**self.meta, "table_rows": self.table.num_rows}
        table = self.table.replace_schema_metadata({"dcb_fast": json.dumps(meta)})

        check_out_file(path)
        with atomic_path(path) as tmp:
            with pa.OSFile(tmp, "wb") as sink, pa.ipc.new_file(sink, table.schema) as w:
                w.write_table(table)

        record(path)
        return path

    @classmethod
    def load(cls, path: str) -> "FiberCertificate":
        """Read a certificate written by :meth:`save`; refuses corrupt or foreign files."""
        if not os.path.isfile(path):
            raise DcbError(f"no such certificate file: '{path}'")
        try:
            with pa.memory_map(path) as src:
                table = pa.ipc.open_file(src).read_all()
        except (pa.ArrowInvalid, OSError) as exc:
            raise DcbError(f"'{path}' is not a dcb_fast certificate (not a readable Arrow IPC file: "
                           f"{str(exc).splitlines()[0]}); build one with 'dcb certify'") from None
        raw = (table.schema.metadata or {}).get(b"dcb_fast")
        try:
            meta = json.loads(raw) if raw else {}
        except ValueError:
            meta = {}
        if meta.get("format") != CERT_FORMAT:
            raise DcbError(f"'{path}' is an Arrow file but not a dcb_fast certificate; build one with 'dcb certify'")
        if meta.get("version") != CERT_VERSION:
            raise DcbError(f"certificate '{path}' has format version {meta.get('version')}, this dcb_fast reads "
                           f"version {CERT_VERSION}; rebuild it with 'dcb certify'")
        missing = [c for c in meta["evidence"] + _STAT_COLUMNS if c not in table.column_names]
        if missing:
            raise DcbError(f"certificate '{path}' is damaged: column '{missing[0]}' is missing; rebuild it")
        rows = meta.pop("table_rows", table.num_rows)
        if rows != table.num_rows:
            raise DcbError(f"certificate '{path}' is damaged: its metadata describes {rows:,} fibers, "
                           f"its table holds {table.num_rows:,}; rebuild it with 'dcb certify'")
        return cls(table, meta)

    # -- use ------------------------------------------------------------------------------------------
    def key_index(self) -> KeyIndex:
        if self._index is None:
            self._index = KeyIndex(self.evidence, [A.as_array(self.table[c]) for c in self.evidence], self.nulls)
        return self._index

    def class_codes(self) -> np.ndarray:
        """Class of each certificate fiber: 0 certified, 1 ambiguous, 2 thin."""
        names = A.as_array(self.table["__class"])
        lookup = {c: i for i, c in enumerate(CLASSES)}
        d = [lookup[v] for v in names.dictionary.to_pylist()]
        return np.asarray(d, dtype=np.int8)[A.np_values(names.indices)]

    def action_values(self) -> pa.Array:
        """The calibration's majority-action values (distinct, as stored)."""
        import pyarrow.compute as pc

        return pc.unique(A.as_array(self.table["__majority"]))

    def describe(self) -> dict:
        """A JSON-ready description (what ``dcb show`` prints)."""
        cls = self.class_codes()
        w = A.np_values(self.table["__weight"])
        total = float(w.sum()) or 1.0
        per_action = {}
        act = A.as_array(self.table["__action"]).to_pylist()

        for a, c, wt in zip(act, cls, w):
            if c == 0:
                per_action[action_key(a)] = per_action.get(action_key(a), 0) + 1
        return {
            "format": f"{CERT_FORMAT} v{self.meta['version']}",
            "dcb_fast_version": self.meta["dcb_fast"],
            "evidence": self.evidence,
            "rules": self.meta.get("rule_details", self.meta["rules"]),
            "types": self.meta.get("types", {}),
            "action": self.action,
            "weight": self.meta.get("weight"),
            "min_support": self.min_support,
            "confidence": self.meta.get("confidence"),
            "max_minority": self.meta.get("max_minority"),
            "nulls": self.nulls,
            "global_majority": self.meta.get("global_majority"),
            "calibration": self.meta["calibration"],
            "fibers": {CLASSES[i]: int((cls == i).sum()) for i in range(3)},
            "certified_fibers_by_action": per_action,
            "weight_by_class": {CLASSES[i]: float(w[cls == i].sum()) / total for i in range(3)},
        }


def _where(mask: pa.Array, values: pa.Array) -> pa.Array:
    return pc.if_else(mask, values, pa.scalar(None, type=values.type))


