"""The figures of a coverage run from its exact sums (SPEC section 4), shared by its two paths:
the audit of the production log (``methods.coverage``, with ``--by`` or an engine) and the
lookup of each production row in the certificate (``methods.coverage_lookup``). Both hand over
128-bit fixed-point totals, so both give the same floats."""

from __future__ import annotations

import numpy as np

from ..errors import DcbError
from ..fibers.certificate import CLASSES
from ..fibers.finalize import action_key
from ..kernels import sums as ks

UNSEEN = 3  # the class of production traffic whose key the certificate lacks
CLASS_NAMES = CLASSES + ["unseen"]
_SCALE = 1 << 64


def total(acc: np.ndarray, g: int) -> int:
    """Row ``g`` of an int64[G, 2] fixed-point accumulator as an exact Python int (units 2**-64)."""
    return int(acc[g, 0]) * _SCALE + int(np.uint64(acc[g, 1]))


def certified_by_action(codes, hi, lo, aenc, action_values, cert_codes, W: int) -> dict:
    """Certified traffic per certified action, as a share of ``W``: ``codes`` gives each fiber's
    certified action code (-1: not certified) for the weights ``hi``/``lo``; every action some
    certificate fiber certifies (``cert_codes``) is listed, in value order, even with no traffic."""
    acc = np.zeros((len(action_values), 2), np.int64)
    ks.group_sum128(np.asarray(codes, dtype=np.int64), hi, lo, acc)
    labels = [action_key(v) for v in action_values.to_pylist()]
    certifiable = set(np.unique(cert_codes[cert_codes >= 0]).tolist())
    return {labels[a]: total(acc, a) / W for a in np.argsort(aenc.sort_ranks()) if int(a) in certifiable}


def coverage_metrics(acc, W: int, n_rows: int, dropped: int, n_fibers: int, by_action: dict,
                     fibers_by_class: dict) -> dict:
    """The coverage metrics from the class totals ``acc`` (rows 0-2 the certificate's classes,
    ``UNSEEN``, 4 the null-evidence weight) and the total weight ``W``."""
    return {
        "n_rows": n_rows,
        "total_weight": W / _SCALE,
        "dropped_rows": dropped,
        "n_fibers": n_fibers,
        "benchmark_coverage": (W - total(acc, UNSEEN)) / W,
        "certified_coverage": total(acc, 0) / W,
        "ambiguous_coverage": total(acc, 1) / W,
        "thin_coverage": total(acc, 2) / W,
        "unseen_fraction": total(acc, UNSEEN) / W,
        "null_evidence_fraction": total(acc, 4) / W,
        "certified_coverage_by_action": by_action,
        "fibers_by_class": fibers_by_class,
    }


def require_labels(L: int, action: str) -> None:
    """A one-line error when no production row carries a true action (labelled weight ``L`` 0)."""
    if L == 0:
        raise DcbError(f"action column '{action}' is null on every production row: there is no true action to "
                       "count false decisions against; drop --action or pass a labelled log")


def decision_metrics(fd_cert: int, fd_major: int, fd_global: int, w_cert: int, l_cert: int, L: int, W: int,
                     action: str) -> dict:
    """False decisions of each policy over the labelled weight ``L`` (exact totals), the error
    among certified (over ``l_cert``, the labelled certified weight; None when nothing is),
    acquisitions and the labelled share."""
    require_labels(L, action)
    return {
        "false_decisions": {
            "certificate": fd_cert / L,
            "fiber_majority": fd_major / L,
            "global_majority": fd_global / L,
            "certify_then_acquire": fd_cert / L,
        },
        "error_among_certified": fd_cert / l_cert if l_cert else None,  # undefined: nothing certified
        "acquisitions": (W - w_cert) / W,
        "labelled_fraction": L / W,
    }
