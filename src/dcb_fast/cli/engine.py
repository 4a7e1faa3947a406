"""Options that choose where a method's counting pass runs (``--scheduler``) and what survives a
failure (``--checkpoint``), and the notes they print on stderr: one definition for every command
(audit, certify, coverage, complete, replay, acquire, sweep, explain)."""

from __future__ import annotations

import contextlib
import warnings

import click

from .options import note


def engine_options(fn):
    """--scheduler, --checkpoint (see :func:`dcb_fast.engines.run`)."""
    for opt in reversed([
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Count on Dask: a scheduler address (tcp://host:8786), or local:N to start N local worker "
                          "processes for this run (needs pip install 'dcb-fast[dask]'); or SCHEME://... of another "
                          "registered engine."),
        click.option("--checkpoint", default=None, metavar="DIR",
                     help="Keep each finished file's partial state in DIR; a re-run computes only files that are "
                          "missing or changed (with --scheduler, DIR must be shared by all workers)."),
    ]):
        fn = opt(fn)
    return fn


@contextlib.contextmanager
def warnings_as_notes(quiet: bool):
    """Checkpoint warnings become ``warning: ...`` lines on stderr instead of Python warnings."""
    from ..engines.checkpoint import CheckpointWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CheckpointWarning)
        yield
    for w in caught:
        if issubclass(w.category, CheckpointWarning):
            note(quiet, f"warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def note_run(quiet: bool, run: dict) -> None:
    """One line on what the engine did (workers; parts computed and reused)."""
    if run.get("engine") == "dask":
        w = run["workers"]
        note(quiet, f"ran on Dask: {w} worker{'s' if w != 1 else ''}, {run['parts']} parts")
    if run.get("checkpoint"):
        note(quiet, f"checkpoint {run['checkpoint']}: computed {run['computed']} of {run['parts']} parts, "
                    f"reused {run['reused']}")
