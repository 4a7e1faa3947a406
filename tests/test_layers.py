"""The package's layers, checked from the source: who may import whom (README "How it works").

Every module of ``src/dcb_fast`` belongs to a layer: the base modules at the package root
(errors, _jit, _threads, _memory, _version), then the folders in :data:`ORDER`. A module imports
only its own layer and the layers before it, there is no import cycle, a function-level import of
one of our own modules outside ``cli/`` carries a comment saying why (at most :data:`MAX_LAZY`),
and no module is longer than :data:`MAX_LINES` lines. These tests parse the imports (nothing is
imported), so they fail on a violation whether or not the import would run.
"""

from __future__ import annotations

import ast
import os
from collections import defaultdict

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src")
PACKAGE = "dcb_fast"
BASE = {"errors", "_jit", "_threads", "_memory", "_version"}
ORDER = ["kernels", "io", "core", "fibers", "engines", "methods", "report", "tools", "cli"]
MAX_LAZY = 6
MAX_LINES = 600
# old module names kept for scripts written before the layers: each only re-exports its new
# module and warns (test_compat_modules_only_reexport), so the layer rules do not apply to them
COMPAT = {"dcb_fast.synth", "dcb_fast.replaying", "dcb_fast.linear", "dcb_fast.channels", "dcb_fast.benchmark"}


def modules() -> dict[str, str]:
    """Module name -> path, for every module of the package."""
    out = {}
    for d, dirs, files in os.walk(os.path.join(SRC, PACKAGE)):
        dirs[:] = [x for x in dirs if x != "__pycache__"]
        for f in files:
            if f.endswith(".py"):
                path = os.path.join(d, f)
                name = os.path.relpath(path, SRC)[:-3].replace(os.sep, ".")
                out[name[: -len(".__init__")] if name.endswith(".__init__") else name] = path
    return out


MODULES = modules()


def layer(name: str) -> int:
    """The layer index of a module: -1 for the base modules and the package itself."""
    parts = name.split(".")
    if name in COMPAT:  # above every layer: nothing of ours may import an old name
        return len(ORDER)
    if len(parts) == 1 or parts[1] in BASE:
        return -1
    if parts[1] not in ORDER:
        raise AssertionError(f"module {name} is in no layer: put it in one of {ORDER} or the base")
    return ORDER.index(parts[1])


def imports(name: str) -> list[tuple[str, int, bool, str]]:
    """(imported module, line, function-level?, the line's text and the one above) of our own
    modules imported by ``name``."""
    path = MODULES[name]
    text = open(path, encoding="utf-8").read()
    lines = text.splitlines()
    tree = ast.parse(text)
    top = {id(n) for n in tree.body}
    # an import inside `if TYPE_CHECKING:` or `try:` at module level still counts as top level
    for n in tree.body:
        if isinstance(n, (ast.If, ast.Try)):
            top |= {id(m) for m in ast.walk(n)}
    pkg = name if path.endswith("__init__.py") else name.rsplit(".", 1)[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            targets = [f"{target}.{a.name}" if f"{target}.{a.name}" in MODULES else target for a in node.names]
        elif isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        else:
            continue
        context = "\n".join(lines[max(0, node.lineno - 2): node.lineno])
        for t in targets:
            if t == PACKAGE or t.startswith(PACKAGE + "."):
                while t not in MODULES:  # `import dcb_fast.x.y` names a module; an attribute path does not
                    t = t.rsplit(".", 1)[0]
                out.append((t, node.lineno, id(node) not in top, context))
    return out


GRAPH = {m: imports(m) for m in MODULES}


def test_every_module_has_a_layer():
    for m in MODULES:
        layer(m)


def test_layers_import_only_layers_before_them():
    bad = []
    for m, deps in GRAPH.items():
        if m == PACKAGE or m in COMPAT:  # the package's lazy public API names modules of every layer
            continue
        for t, line, _, _ in deps:
            if layer(t) > layer(m):
                where = "base" if layer(m) < 0 else ORDER[layer(m)] if layer(m) < len(ORDER) else "compat"
                bad.append(f"{MODULES[m]}:{line}: {m} ({where}) imports {t}")
    assert not bad, "imports against the layer order " + " < ".join(ORDER) + ":\n" + "\n".join(bad)


def test_base_modules_import_no_module_of_ours():
    for m in MODULES:
        if m != PACKAGE and m not in COMPAT and layer(m) == -1:
            assert not [t for t, *_ in GRAPH[m] if t != m], f"{m} is a base module and imports {GRAPH[m]}"


def test_no_private_name_is_imported_from_another_module():
    """A name with a leading underscore is its module's own: other modules use public ones."""
    bad = []
    for m, path in MODULES.items():
        tree = ast.parse(open(path, encoding="utf-8").read())
        for n in ast.walk(tree):
            if isinstance(n, ast.ImportFrom) and (n.level or (n.module or "").startswith(PACKAGE)):
                for a in n.names:
                    if a.name.startswith("_") and not a.name.startswith("__"):
                        bad.append(f"{path}:{n.lineno}: {m} imports {a.name} from {'.' * n.level}{n.module or ''}")
    assert not bad, "private names imported across modules:\n" + "\n".join(bad)


def test_compat_modules_only_reexport():
    """An old module name holds a docstring, imports and one warnings.warn call: nothing else."""
    for m in COMPAT:
        tree = ast.parse(open(MODULES[m], encoding="utf-8").read())
        for n in tree.body:
            ok = isinstance(n, (ast.Import, ast.ImportFrom)) or (
                isinstance(n, ast.Expr) and (isinstance(n.value, ast.Constant) or (
                    isinstance(n.value, ast.Call) and ast.unparse(n.value.func) == "warnings.warn")))
            assert ok, f"{MODULES[m]}:{n.lineno}: a compatibility module only re-exports its new module"


def _cycle() -> list[str] | None:
    edges = defaultdict(set)
    for m, deps in GRAPH.items():
        if m == PACKAGE:
            continue
        for t, *_ in deps:
            if t != m and t != PACKAGE:
                edges[m].add(t)
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for t in sorted(edges[m]):
            if state.get(t) == 1:
                return stack[stack.index(t):] + [t]
            if t not in state:
                found = visit(t)
                if found:
                    return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state:
            found = visit(m)
            if found:
                return found
    return None


def test_no_import_cycle():
    cycle = _cycle()
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def lazy_imports() -> list[str]:
    """Function-level imports of our own modules outside cli/ (where command bodies import
    lazily to keep ``dcb --help`` fast)."""
    out = []
    for m, deps in GRAPH.items():
        if m.startswith(f"{PACKAGE}.cli") or m == PACKAGE:
            continue
        for t, line, lazy, context in deps:
            if lazy:
                out.append((f"{MODULES[m]}:{line}: {m} imports {t}", "#" in context))
    return out


def test_few_lazy_imports_each_with_its_reason():
    found = lazy_imports()
    silent = [where for where, commented in found if not commented]
    assert not silent, "function-level imports without a comment saying why:\n" + "\n".join(silent)
    assert len(found) <= MAX_LAZY, f"{len(found)} function-level imports (at most {MAX_LAZY}):\n" + \
        "\n".join(w for w, _ in found)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_module_length(name):
    n = sum(1 for _ in open(MODULES[name], encoding="utf-8"))
    assert n <= MAX_LINES, f"{MODULES[name]} has {n} lines (at most {MAX_LINES}): split it"


def test_the_checks_catch_violations():
    """The checker itself: a made-up graph with a cycle and an upward import is caught."""
    saved = dict(GRAPH)
    try:
        GRAPH["dcb_fast.kernels.counting"] = saved["dcb_fast.kernels.counting"] + [
            ("dcb_fast.methods.audit", 1, False, "")]
        GRAPH["dcb_fast.methods.audit"] = saved["dcb_fast.methods.audit"] + [
            ("dcb_fast.kernels.counting", 1, False, "")]
        with pytest.raises(AssertionError, match="imports against the layer order"):
            test_layers_import_only_layers_before_them()
        assert _cycle() is not None
    finally:
        GRAPH.clear()
        GRAPH.update(saved)
