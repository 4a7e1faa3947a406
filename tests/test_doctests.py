"""The examples in the package's docstrings run and print what they say (STYLE: every public
function shows a runnable example)."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import dcb_fast

MODULES = sorted(m.name for m in pkgutil.walk_packages(dcb_fast.__path__, "dcb_fast."))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} docstring examples in {name} failed"


def test_examples_exist():
    """The check above is not empty: the package carries examples (counted, not run again)."""
    finder = doctest.DocTestFinder()
    found = sum(len(t.examples) for n in MODULES for t in finder.find(importlib.import_module(n)))
    assert found >= 30
