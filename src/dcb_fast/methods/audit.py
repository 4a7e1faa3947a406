"""The audit: stream a source into fiber states, merge them, finalize the metrics (SPEC section 2)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ..core.confidence import check_confidence, wilson_interval
from ..core.progress import Progress
from ..core.results import Result
from ..core.summary import envelope
from ..core.validation import check_columns, check_types, column_reader, fix_rules, resolve_rules
from .. import engines
from ..errors import DcbError
from ..fibers.finalize import audit_headline as headline, audit_warnings as warnings, fiber_table, summarize, tolerate
from ..fibers.state import FiberState
from ..io.result_dir import ResultDir
from ..io.sources import DEFAULT_BATCH_ROWS, Source, open_source
from ..io.writers import ParquetStream
from .slices import by_table, coarsen, slice_metrics
from .windows import audit_windows

def audit(source, evidence, action, weight=None, id=None, min_support: int = 1, thin: str = "ambiguous",
          nulls: str = "drop", rules=None, batch_rows: int = DEFAULT_BATCH_ROWS, threads: int | None = None,
          progress: bool | None = False, max_fibers: int | None = None, scheduler=None,
          checkpoint: str | None = None, confidence: float = 0.95,
          max_minority: float | None = None, by: str | None = None) -> "AuditResult":
    """Audit whether ``action`` is determined by the ``evidence`` columns.

    Rows are grouped into evidence fibers (identical evidence values); a fiber is certified when
    one action occurs in it and its support is at least ``min_support``, ambiguous when it is
    mixed, thin when its support is lower. ``source`` is a path, glob, directory, list of paths,
    or an Arrow table / record batch / pandas DataFrame.

    ``scheduler`` runs the audit on Dask (``engines.dask``): a ``distributed.Client``, a scheduler
    address (``tcp://host:8786``) or ``local:N`` (a local cluster of N worker processes).
    ``checkpoint`` is a directory that keeps every finished file's partial state, so a re-run
    after a failure computes only the rest (``engines.checkpoint``). Results are identical to
    the plain local run; ``result.run_info`` tells what was computed and what was reused.

    ``confidence`` is the level of each fiber's ``minority_upper`` (fiber table) and of the
    certified fraction's interval; ``max_minority`` (off by default: the strict rule) certifies
    a fiber when its support reaches ``min_support`` and its ``minority_upper`` is at most it.
    ``by`` adds ``metrics["by"]``: the headline figures per value of that column, from the same
    pass (see ``slices``; rows with a null ``by`` value are dropped unless ``nulls="value"``).

    >>> t = pa.table({"lang": ["en", "en", "fr", "de"], "route": ["a", "b", "a", "a"]})
    >>> r = audit(t, evidence=["lang"], action="route")
    >>> r.summary["metrics"]["n_fibers"], r.summary["metrics"]["ambiguous_fraction"]
    (3, 0.5)
    """
    evidence = check_columns(evidence, action, weight, id)
    if nulls not in ("drop", "value"):
        raise DcbError(f"nulls must be 'drop' or 'value', not '{nulls}'")
    if thin not in ("ambiguous", "skip"):
        raise DcbError(f"thin must be 'ambiguous' or 'skip', not '{thin}'")
    if int(min_support) < 1:
        raise DcbError(f"min support must be at least 1, got {min_support}")
    confidence = check_confidence(confidence)
    if max_minority is not None and not (0.0 <= float(max_minority) < 1.0):
        raise DcbError(f"max minority must be in [0, 1) (e.g. 0.05), got {max_minority}")
    conf = {"confidence": confidence, "max_minority": None if max_minority is None else float(max_minority)}
    rules = resolve_rules(evidence, rules)
    if by is not None:
        if by in evidence or by in (action, weight, id):
            raise DcbError(f"by column '{by}' is also an evidence, action, weight or id column; slice by another column")
        if any(r.overlapping for r in rules.values()):
            raise DcbError("--by needs disjoint fibers; a window rule makes overlapping ones (use a binned rule)")
        fine = audit(source, evidence + [by], action, weight=weight, id=id, min_support=min_support, thin=thin,
                     nulls=nulls, rules=rules, batch_rows=batch_rows, threads=threads, progress=progress,
                     max_fibers=max_fibers, scheduler=scheduler, checkpoint=checkpoint, confidence=confidence,
                     max_minority=max_minority)
        return _sliced(fine, evidence, by)
    columns = evidence + [action] + ([weight] if weight else [])
    extra = [r.column for r in rules.values() if getattr(r, "column", None)]  # error columns of windows
    src = source if isinstance(source, Source) else open_source(source, columns + ([id] if id else []) + extra,
                                                                batch_rows)
    src.columns = columns + ([id] if id else [])
    check_types(src, weight, rules)
    overlapping = [c for c, r in rules.items() if r.overlapping]
    if overlapping:
        if len(evidence) != 1:
            raise DcbError(f"rule {rules[overlapping[0]].spec()} makes overlapping fibers on one numeric column; "
                           f"it must be the only evidence column (got {', '.join(evidence)})")
        if scheduler is not None or checkpoint is not None:
            raise DcbError(f"rule {rules[overlapping[0]].spec()} (overlapping fibers) runs in one process; "
                           "drop --scheduler and --checkpoint for it")
        if max_minority is not None:
            raise DcbError(f"--max-minority needs disjoint fibers; rule {rules[overlapping[0]].spec()} makes "
                           "overlapping ones (use a binned rule)")

        rule = rules[evidence[0]].resolve(column_reader(src), evidence[0])
        return audit_windows(src, evidence[0], action, weight, rule, int(min_support), thin, nulls)
    rules = fix_rules(src, rules)
    spec = engines.PartialSpec.of(src, evidence, action, weight, nulls, rules, max_fibers)
    with Progress(src.total_rows, enabled=progress if progress is not None else None) as bar:
        state, run = engines.run(src, spec, scheduler=scheduler, checkpoint=checkpoint, threads=threads, progress=bar)
    result = AuditResult.from_state(state, src, min_support=int(min_support), thin=thin, id=id, **conf)
    result.run_info = run
    return result


def _sliced(fine: "AuditResult", evidence, by) -> "AuditResult":
    """The whole audit (the slice column summed out of ``fine``'s state) with its slices."""
    p = fine.summary["parameters"]
    coarse = coarsen(fine.state, len(evidence))
    result = AuditResult.from_state(coarse, fine.source, min_support=p["min_support"], thin=p["thin"], id=p["id"],
                                    confidence=p["confidence"], max_minority=p["max_minority"])
    result.summary["parameters"]["by"] = by
    result.summary["metrics"]["by"] = slice_metrics(fine.state, p["min_support"], p["thin"], p["max_minority"],
                                                    p["confidence"])
    result.by_type = fine.state.encoders[-1].values().type
    result.run_info = fine.run_info
    return result


class AuditResult(Result):
    """What an audit found: ``summary`` (JSON-ready dict), ``fibers`` (per-fiber Arrow table),
    the merged ``state``, and writers for all outputs."""

    def __init__(self, state: FiberState, source: Source | None, summary: dict, fib, id=None):
        super().__init__(summary)
        self.state = state
        self.source = source
        self._fib = fib
        self.id = id
        self._fibers: pa.Table | None = None
        self.run_info: dict = {"engine": "local", "checkpoint": None}  # engines add their counters

    @classmethod
    def from_state(cls, state: FiberState, source: Source | None = None, min_support: int = 1,
                   thin: str = "ambiguous", id=None, confidence: float = 0.95,
                   max_minority: float | None = None) -> "AuditResult":
        """Finalize a (merged) partial state."""
        if state.n_rows == 0:
            where = ""
            if state.rows_read:
                raise DcbError(
                    f"no rows left: all {state.rows_read} rows have a null in an evidence, action or weight column; "
                    "pass --nulls value to keep nulls as a value"
                )
            if source is not None and source.files:
                where = " in " + ", ".join(f.path for f in source.files[:3]) + (" ..." if len(source.files) > 3 else "")
            raise DcbError(f"empty input: no rows{where}; check the input files")
        # the per-fiber arrays are built again if a table or mask is asked for: summaries of
        # millions of fibers should not hold them
        fib = None
        if max_minority is None:
            metrics, _ = summarize(state, min_support, thin, keep=False)
        else:  # the tolerant rule classifies from the per-fiber arrays: keep them
            metrics, fib = summarize(state, min_support, thin)
            metrics = tolerate(state, fib, metrics, min_support, thin, max_minority, confidence)
        lo, hi = wilson_interval(metrics["certifiable_fraction"], metrics["n_rows"], confidence)
        metrics["certified_fraction_lower"], metrics["certified_fraction_upper"] = lo, hi
        metrics["certified_fraction_interval"] = {"method": "wilson", "confidence": confidence,
                                                  "n": metrics["n_rows"]}
        inp = source.describe() if source is not None else {"files": [], "fingerprint": "merged-state"}
        inp["rows_read"] = state.rows_read
        summary = envelope("audit", {
                "evidence": state.evidence,
                "action": state.action,
                "weight": state.weight,
                "id": id,
                "min_support": min_support,
                "thin": thin,
                "confidence": confidence,
                "max_minority": max_minority,
                "nulls": state.nulls,
                "rules": {c: state.rules[c].describe() for c in state.evidence},
            },
                           input=inp,
                           metrics=metrics,
                           headline=headline(metrics),
                           warnings=warnings(metrics))
        return cls(state, source, summary, fib, id)

    @property
    def metrics(self) -> dict:
        return self.summary["metrics"]

    @property
    def fibers(self) -> pa.Table:
        """Per-fiber table in canonical order (evidence values ascending)."""
        if self._fibers is None:
            self._fibers = fiber_table(self.state, self.per_fiber(),
                                       confidence=self.summary["parameters"].get("confidence", 0.95))
        return self._fibers

    def per_fiber(self):
        if self._fib is None:
            p = self.summary["parameters"]
            self._fib = summarize(self.state, p["min_support"], p["thin"])[1]
            if p.get("max_minority") is not None:
                    tolerate(self.state, self._fib, self.summary["metrics"], p["min_support"], p["thin"],
                         p["max_minority"], p["confidence"])
        return self._fib

    def mixed_mask(self) -> np.ndarray:
        """Per fiber of the state: does it carry more than one action?"""
        return self.per_fiber().n_actions > 1

    def ambiguous_cases(self, path: str | None = None, batch_rows: int | None = None, _open=None):
        """Rows that lie in mixed fibers, found by a second streaming pass over the source.

        Columns: the id column (or ``row``, the position in the input, and ``file``), the
        evidence values and the action. Written to ``path`` (Parquet) when given, else returned
        as a table (small inputs only)."""
        if self.source is None:
            raise DcbError("ambiguous cases need the original input; this result was built from a partial state")
        mixed = self.mixed_mask()
        st = self.state
        cols = st.evidence + [st.action] + ([self.id] if self.id else [])
        schema = None
        out = None
        parts = []
        row0 = 0
        labels = dict(self.source.parts())
        for part, batch in self.source.batches(cols):
            fid = st.lookup(batch)
            hit = np.zeros(batch.num_rows, dtype=bool)
            ok = fid >= 0
            hit[ok] = mixed[fid[ok]]
            idx = np.nonzero(hit)[0]
            sel = batch.take(pa.array(idx)) if len(idx) else batch.slice(0, 0)
            front = {}
            if self.id:
                front[self.id] = sel.column(self.id)
            else:
                front["row"] = pa.array(idx + row0, pa.int64())
                if self.source.files:
                    front["file"] = pa.array([labels[part]] * len(idx), pa.string())
            row0 += batch.num_rows
            data = {**front, **{c: _plain(sel.column(c)) for c in st.evidence + [st.action]}}
            table = pa.table(data)
            if schema is None:
                schema = table.schema
                if _open is not None:  # a stream into a result set (see write)
                    out = _open(schema)
                elif path is not None:
                    out = ParquetStream(path, schema)
            table = table.cast(schema)
            if out is not None:
                out.write(table)
            else:
                parts.append(table)
        if out is not None:
            out.close()
            return out.rows
        if not parts:
            return pa.table({})
        return pa.concat_tables(parts)

    def write(self, out_dir: str, fiber_format: str = "parquet", cases: bool = True) -> dict:
        """Write ``summary.json``, ``fibers.parquet`` (or ``.csv``) and, when ``cases``,
        ``ambiguous_cases.parquet`` into ``out_dir``, as one unit: the set is built beside
        ``out_dir`` and renamed into place at the end (a previous set stays until then; see
        :mod:`dcb_fast.io.result_dir`). Returns the paths written."""
        if fiber_format not in ("parquet", "csv"):
            raise DcbError(f"unknown fiber table format '{fiber_format}'; use parquet or csv")
        with ResultDir(out_dir, self.summary) as rd:
            rd.table("fibers", self.fibers, fiber_format)
            if self.summary["metrics"].get("by") is not None:
                rd.table("audit_by", by_table(self.summary["metrics"]["by"], self.summary["parameters"]["by"],
                                              self.by_type), fiber_format)
            if cases and self.source is not None:
                self.ambiguous_cases(_open=lambda schema: rd.stream("ambiguous_cases", schema))
            return rd.commit()


def _plain(col):
    if pa.types.is_dictionary(col.type):
        return col.cast(col.type.value_type)
    return col
