"""Module paths the README named before the package was layered (issue 17) still import, with a
DeprecationWarning naming the new path, and give the same objects."""

from __future__ import annotations

import importlib
import sys

import pytest

OLD = [  # (old module, name, new module): every old path the README documented at f134532
    ("dcb_fast.synth", "write_log", "dcb_fast.tools.synth"),
    ("dcb_fast.synth", "tox21_compounds", "dcb_fast.tools.synth"),
    ("dcb_fast.replaying", "read_cells", "dcb_fast.methods.cells"),
    ("dcb_fast.replaying", "evaluate_split", "dcb_fast.methods.replay"),
    ("dcb_fast.linear", "PROBE_POLICIES", "dcb_fast.methods.linear"),
    ("dcb_fast.channels", "least_squares_predict", "dcb_fast.methods.channels"),
    ("dcb_fast.benchmark", "AUDIT_BASELINES", "dcb_fast.tools.benchmark"),
]


@pytest.mark.parametrize("old, name, new", OLD)
def test_old_paths_import_with_a_warning(old, name, new):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to"):
        mod = importlib.import_module(old)
    assert getattr(mod, name) is getattr(importlib.import_module(new), name)
