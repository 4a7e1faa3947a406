"""Parts of an input, and checkpoints that keep every finished part ("nothing lost on failure").

An audit's input is cut into **parts**: a file, an in-memory table, or a run of row groups of a
big Parquet file. Each part becomes its own :class:`~dcb_fast.fibers.state.FiberState`; the states merge
exactly and in any order, so the local engine and the Dask engine (``engines.dask``) cut the
input the same way and share checkpoints.

A checkpoint directory keeps every finished part as its partial state, so a re-run after a
crash, an interrupt or a killed worker computes only what is missing. Layout (one directory may
serve many audits)::

    DIR/audit-<key>/audit.json      the audit's parameters, for people reading the directory
    DIR/audit-<key>/<part>.partial  one finished part: magic line, JSON header line, Arrow IPC state

``<key>`` hashes what shapes a partial state (evidence, action, weight, nulls, rules, the
dcb_fast and state-format versions), so audits with other columns or rules never see each
other's parts and a directory shared by several audits keeps all of them side by side.
``min_support``, ``thin`` and ``id`` act only when finalizing: re-running with another minimum
support reuses every part. ``<part>`` hashes the file's absolute path and row-group range. The
header holds the file's fingerprint (size, mtime_ns, digest; for CSV also the column types it
was read with, since they are unified over all files) and a SHA-256 of the payload: a part whose
file changed is recomputed and overwritten, never merged stale; a part that fails its checksum
is recomputed with a warning.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import warnings
from dataclasses import dataclass
from typing import Iterator

from .._version import __version__
from ..errors import DcbError
from ..fibers.state import STATE_VERSION, FiberState, batch_weights
from ..io.sources import CSV, PARQUET, Source, parquet_batches, short_error
from ..io.writers import atomic_path
from .local import run_partials

CHECKPOINT_FORMAT = 1
_MAGIC = b"DCBPART1\n"
# a Parquet file with more rows than this is cut into runs of row groups, one task each: big
# files then spread over workers, and a crash loses at most one run
DEFAULT_PART_ROWS = 1 << 23


class CheckpointWarning(UserWarning):
    """A checkpoint part could not be used or written; the audit recomputed it or went on."""


class _Corrupt(Exception):
    pass


# -- parts of an input ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Part:
    """One task's share of the input: file or table ``index`` of the source, or only its row
    groups ``row_groups = (lo, hi)`` (a big Parquet file). ``rows`` is None when unknown (CSV)."""

    index: int
    label: str
    rows: int | None
    row_groups: tuple[int, int] | None = None


def plan_parts(src: Source, part_rows: int = DEFAULT_PART_ROWS) -> list[Part]:
    """Cut ``src`` into parts: one per file or table, and runs of row groups holding about
    ``part_rows`` rows for Parquet files that are larger.

    >>> import pyarrow as pa
    >>> from dcb_fast.io.sources import open_source
    >>> [p.rows for p in plan_parts(open_source([pa.table({"a": [1, 2]}), pa.table({"a": [3]})], ["a"]))]
    [2, 1]
    """
    if part_rows < 1:
        raise DcbError(f"rows per part must be at least 1, got {part_rows}")
    out = []
    for i, label in src.parts():
        if src.tables:
            out.append(Part(i, label, src.tables[i].num_rows))
            continue
        f = src.files[i]
        if f.format == PARQUET and f.rows and f.rows > part_rows:
            import pyarrow.parquet as pq

            meta = pq.ParquetFile(f.path).metadata
            lo, acc = 0, 0
            for g in range(meta.num_row_groups):
                acc += meta.row_group(g).num_rows
                if acc >= part_rows or g == meta.num_row_groups - 1:
                    whole = lo == 0 and g == meta.num_row_groups - 1
                    out.append(Part(i, label, acc, None if whole else (lo, g + 1)))
                    lo, acc = g + 1, 0
            continue
        out.append(Part(i, label, f.rows))
    return out


def part_batches(src: Source, part: Part, columns: list[str]) -> Iterator:
    """(index, record batch) of one part, read with pyarrow (no pandas on the way)."""
    if part.row_groups is None:
        yield from src.batches(columns, parts=[part.index])
        return
    import pyarrow as pa

    info = src.files[part.index]
    try:
        for b in parquet_batches(info, columns, src.batch_rows, range(*part.row_groups)):
            yield part.index, b
    except (pa.ArrowException, OSError) as exc:
        raise DcbError(f"cannot read row groups {part.row_groups[0]}-{part.row_groups[1] - 1} of '{info.path}': "
                       f"{short_error(exc)}; the file may be truncated or corrupt") from None


def part_source(src: Source, part: Part) -> tuple[Source, Part]:
    """A source holding only ``part``'s file or table (with an absolute path, so a worker in
    another directory finds it), and the part renumbered for it: what a cluster task receives."""
    if src.tables:
        one = dataclasses.replace(src, tables=[src.tables[part.index]], files=[])
    else:
        f = src.files[part.index]
        one = dataclasses.replace(src, files=[dataclasses.replace(f, path=os.path.abspath(f.path))], tables=[])
    return one, dataclasses.replace(part, index=0)


# -- what a partial state is built from --------------------------------------------------------------
@dataclass(frozen=True)
class PartialSpec:
    """Everything a task needs to turn a part into a partial state (picklable, small): the
    state's key columns (``evidence``: an audit's evidence, or a method's key columns, e.g. a
    coverage's evidence and slice column), its ``action`` (None: rows counted per fiber only),
    ``weight``, null policy and fiber rules. Every method builds one and hands it to
    :func:`dcb_fast.engines.run`; :meth:`params` (the checkpoint key) covers all of it, so two
    methods whose states differ never share checkpoint parts. ``part_column`` names a key
    column that is not read but holds each part's file name (a sweep's ``--per-file`` models):
    every engine adds it to the part's batches (:meth:`batch`). ``weight_keys`` names key
    columns that hold weights (a method that keeps each row's weight as a key value): they are
    checked as weights are (finite, >= 0), since as key values a NaN would pass as a null.

    >>> import pyarrow as pa
    >>> from dcb_fast.io.sources import open_source
    >>> src = open_source(pa.table({"e": [1, 2], "a": ["x", "y"], "w": [1.0, 2.0]}), ["e", "a", "w"])
    >>> PartialSpec.of(src, ["e", "w"], "a", "w", "drop", None).columns  # the weight read once
    ['e', 'w', 'a']
    """

    evidence: tuple
    action: str | None
    weight: str | None
    nulls: str
    rules: tuple  # ((column, Rule), ...): Rule objects, since a spec alone loses where edges came from
    types: tuple  # ((column, Arrow type), ...): the source's unified types
    max_fibers: int | None = None
    part_column: str | None = None
    weight_keys: tuple = ()

    @classmethod
    def of(cls, src: Source, evidence, action, weight, nulls, rules, max_fibers=None,
           part_column: str | None = None, weight_keys=()) -> "PartialSpec":
        cols = list(dict.fromkeys(list(evidence) + ([action] if action else []) + ([weight] if weight else [])))
        return cls(tuple(evidence), action, weight, nulls, tuple(sorted((rules or {}).items())),
                   tuple((c, src.types[c]) for c in cols if c in src.types), max_fibers, part_column,
                   tuple(weight_keys))

    @property
    def prepares(self) -> bool:
        """Does a batch need :meth:`batch` before it is counted?"""
        return self.part_column is not None or bool(self.weight_keys)

    @property
    def columns(self) -> list[str]:
        """The columns a task reads (each once)."""
        return [c for c in dict.fromkeys(list(self.evidence) + ([self.action] if self.action else [])
                                         + ([self.weight] if self.weight else [])) if c != self.part_column]

    def batch(self, batch, label: str):
        """A batch of the part called ``label`` as the state counts it: its ``weight_keys``
        checked, and with ``part_column`` a column holding the part's file name added."""
        for c in self.weight_keys:
            batch_weights(batch.column(c), c)  # raises on a negative, NaN or infinite weight
        if self.part_column is None:
            return batch
        import pyarrow as pa

        name = os.path.basename(label)
        return pa.RecordBatch.from_arrays(list(batch.columns) + [pa.array([name] * batch.num_rows, pa.string())],
                                          names=list(batch.schema.names) + [self.part_column])

    def new_state(self, shards: int | None = None, expected_rows: int | None = None) -> FiberState:
        return FiberState(list(self.evidence), self.action, self.weight, self.nulls, dict(self.rules),
                          max_fibers=self.max_fibers, shards=shards, expected_rows=expected_rows)

    def restore_rules(self, state: FiberState) -> FiberState:
        """Give a state read back from IPC this audit's rule objects: the IPC form keeps each
        rule's spec (what counting needs), not how it was found (quantile bins become plain
        edges), which the summary reports."""
        for c, rule in self.rules:
            if state.rules[c].spec() == rule.spec():
                state.rules[c] = rule
        return state

    def params(self) -> dict:
        """The parameters that shape a partial state (the checkpoint key)."""
        out = {"checkpoint_format": CHECKPOINT_FORMAT, "state_version": STATE_VERSION, "dcb_fast": __version__,
               "evidence": list(self.evidence), "action": self.action, "weight": self.weight,
               "nulls": self.nulls, "rules": {c: r.spec() for c, r in self.rules}}
        if self.part_column is not None:  # only then: the keys of every other state stay as they were
            out["part_column"] = self.part_column
        return out


def compute_part(src: Source, part: Part, spec: PartialSpec, shards: int | None = None, progress=None) -> FiberState:
    """The partial state of one part (read ahead on a background thread)."""
    return run_partials(part_batches(src, part, spec.columns), lambda: spec.new_state(shards, part.rows),
                        progress=progress, labels={part.index: part.label},
                        prepare=spec.prepares and (lambda _, b: spec.batch(b, part.label)))


def fingerprint(src: Source, part: Part, spec: PartialSpec) -> dict:
    """What must not change for a stored part to be reused: the file (path, size, mtime_ns,
    digest), the row groups, and for CSV the types its columns are read with."""
    if src.tables:
        raise DcbError("--checkpoint needs file inputs: an in-memory table has no fingerprint to check a stored "
                       "part against; write the table to Parquet first, or drop --checkpoint")
    f = src.files[part.index]
    fp = {"path": os.path.abspath(f.path), "row_groups": list(part.row_groups) if part.row_groups else None,
          "size": f.size, "mtime_ns": f.mtime_ns, "digest": f.digest}
    if f.format == CSV:
        fp["types"] = {c: str(t) for c, t in spec.types}
    return fp


# -- the checkpoint store --------------------------------------------------------------------------
def _hash(obj) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class Checkpoint:
    """The stored parts of one audit under ``directory`` (see the module docstring).

    >>> import tempfile, pyarrow as pa
    >>> from dcb_fast.io.sources import open_source
    >>> src = open_source(pa.table({"e": [1], "a": [2]}), ["e", "a"])
    >>> ck = Checkpoint(tempfile.mkdtemp(), PartialSpec.of(src, ["e"], "a", None, "drop", {}))
    >>> os.path.basename(ck.dir).startswith("audit-")
    True
    """

    def __init__(self, directory: str, spec: PartialSpec, create: bool = True):
        self.root = os.fspath(directory)
        params = spec.params()
        self.key = _hash(params)[:16]
        self.dir = os.path.join(self.root, f"audit-{self.key}")
        if create:
            self._create(params)

    def _create(self, params: dict) -> None:
        try:
            os.makedirs(self.dir, exist_ok=True)
        except OSError as exc:
            raise DcbError(f"cannot create checkpoint directory '{self.root}': {exc.strerror}; "
                           "choose another --checkpoint") from None
        meta = os.path.join(self.dir, "audit.json")
        try:
            with atomic_path(meta) as tmp:  # also proves that the directory is writable
                with open(tmp, "w", encoding="utf-8") as fh:
                    json.dump(params, fh, indent=2, sort_keys=True)
                    fh.write("\n")
        except OSError as exc:
            raise DcbError(f"checkpoint directory '{self.root}' is not writable ({exc.strerror}); "
                           "choose another --checkpoint or fix its permissions") from None

    @property
    def marker(self) -> str:
        """A file every process of a run must see (the checkpoint directory must be shared)."""
        return os.path.join(self.dir, "audit.json")

    def path(self, fp: dict) -> str:
        return os.path.join(self.dir, _hash({"path": fp["path"], "row_groups": fp["row_groups"]})[:24] + ".partial")

    def load(self, fp: dict) -> bytes | None:
        """The stored partial state (IPC bytes) for ``fp``; None when absent or made from other
        input. Raises ``_Corrupt`` when the stored file is damaged."""
        path = self.path(fp)
        try:
            with open(path, "rb") as fh:
                if fh.readline() != _MAGIC:
                    raise _Corrupt("not a dcb_fast checkpoint part")
                try:
                    head = json.loads(fh.readline())
                except ValueError:
                    head = None
                if not isinstance(head, dict):
                    raise _Corrupt("unreadable header")
                if head.get("audit") != self.key or head.get("fingerprint") != fp:
                    return None  # another version of the file (or a hash collision): recompute
                payload = fh.read()
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise _Corrupt(exc.strerror or type(exc).__name__) from None
        if len(payload) != head.get("payload_bytes") or hashlib.sha256(payload).hexdigest() != head.get("payload_sha256"):
            raise _Corrupt("checksum mismatch")
        return payload

    def save(self, fp: dict, payload: bytes) -> None:
        """Store one finished part atomically (temporary file, then rename)."""
        head = {"audit": self.key, "fingerprint": fp, "payload_bytes": len(payload),
                "payload_sha256": hashlib.sha256(payload).hexdigest()}
        path = self.path(fp)
        with atomic_path(path) as tmp:
            with open(tmp, "wb") as fh:
                fh.write(_MAGIC)
                fh.write(json.dumps(head, sort_keys=True).encode() + b"\n")
                fh.write(payload)


def new_stats(parts: int = 0) -> dict:
    """Counters of a run: parts, computed, reused, the labels computed, warnings."""
    return {"parts": parts, "computed": 0, "reused": 0, "computed_parts": [], "warnings": []}


def add_stats(a: dict, b: dict) -> dict:
    out = dict(a)
    for k in ("parts", "computed", "reused"):
        out[k] = a[k] + b[k]
    out["computed_parts"] = a["computed_parts"] + b["computed_parts"]
    out["warnings"] = a["warnings"] + b["warnings"]
    return out


def stored_or_none(store: Checkpoint | None, fp: dict | None, label: str, stats: dict) -> bytes | None:
    """The stored state of a part, or None (damaged parts are noted in ``stats`` as warnings)."""
    if store is None:
        return None
    try:
        return store.load(fp)
    except _Corrupt as exc:
        stats["warnings"].append(f"checkpoint part {store.path(fp)} for '{label}' is damaged ({exc}); "
                                 "recomputed it")
        return None


def save_part(store: Checkpoint | None, fp: dict | None, payload: bytes, label: str, stats: dict) -> None:
    if store is None:
        return
    try:
        store.save(fp, payload)
    except OSError as exc:
        # the result is still right, only this part is not resumable: go on and say so
        stats["warnings"].append(f"could not write the checkpoint part for '{label}' in {store.dir} "
                                 f"({exc.strerror}); a re-run will recompute it")


def emit(stats: dict) -> None:
    """Raise the run's warnings as :class:`CheckpointWarning` (at most a few, then a count)."""
    msgs = stats["warnings"]
    for m in msgs[:5]:
        warnings.warn(m, CheckpointWarning, stacklevel=3)
    if len(msgs) > 5:
        warnings.warn(f"... and {len(msgs) - 5} more checkpoint warnings", CheckpointWarning, stacklevel=3)


# -- the local engine with checkpoints --------------------------------------------------------------
def run_local(src: Source, spec: PartialSpec, checkpoint: str, threads: int | None = None, progress=None,
              part_rows: int = DEFAULT_PART_ROWS) -> tuple[FiberState, dict]:
    """Audit ``src`` part by part in this process, keeping each finished part in ``checkpoint``
    and reusing the parts a previous run finished. Returns the merged state and the run's
    counters (see :func:`new_stats`)."""
    parts = plan_parts(src, part_rows)
    fps = [fingerprint(src, p, spec) for p in parts]  # checks for file inputs before anything is written
    store = Checkpoint(checkpoint, spec)
    stats = new_stats(len(parts))
    total = spec.new_state(threads, src.total_rows)
    for part, fp in zip(parts, fps):
        data = stored_or_none(store, fp, part.label, stats)
        if data is not None:
            try:
                total.merge(FiberState.from_ipc(data, shards=threads))
            except DcbError as exc:
                stats["warnings"].append(f"checkpoint part {store.path(fp)} for '{part.label}' cannot be read "
                                         f"({exc}); recomputed it")
            else:
                stats["reused"] += 1
                if progress is not None:
                    progress.add(part.rows or 0)
                continue
        state = compute_part(src, part, spec, threads, progress)
        save_part(store, fp, state.to_ipc(), part.label, stats)
        total.merge(state)
        stats["computed"] += 1
        stats["computed_parts"].append(part.label)
    emit(stats)
    return total, stats


class CheckpointEngine:
    """The local engine with a checkpoint directory: :func:`run_local` (part by part, every
    finished part kept in ``directory``)."""

    name = "local"

    def __init__(self, directory: str, part_rows: int = DEFAULT_PART_ROWS):
        self.directory = directory
        self.part_rows = part_rows

    def run(self, source: Source, spec: PartialSpec, *, threads: int | None = None, progress=None):
        return run_local(source, spec, self.directory, threads=threads, progress=progress, part_rows=self.part_rows)
