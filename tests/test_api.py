"""The public API: every name in ``dcb_fast.__all__`` resolves, and the functions stay functions
after every submodule has been imported (a submodule named like a function would replace it)."""

import importlib
import pkgutil

import dcb_fast


def test_public_names_resolve_and_survive_submodule_imports():
    for info in pkgutil.walk_packages(dcb_fast.__path__, "dcb_fast."):
        if ".cli" in info.name or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)
    for name in dcb_fast.__all__:
        obj = getattr(dcb_fast, name)
        assert not isinstance(obj, type(dcb_fast)), f"dcb_fast.{name} is a module, not the API object"
    for fn in ("audit", "certify", "coverage", "sweep", "complete", "replay", "check_channels"):
        assert callable(getattr(dcb_fast, fn)), fn
