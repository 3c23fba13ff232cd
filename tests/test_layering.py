"""The layering ARCHITECTURE.md describes, enforced for the library and for the grader: lower layers never import
higher ones, no module imports one that imports it back, and a room of the grader never imports what its row
forbids. Every import counts, also those inside functions (they run too, just later). The layer tables are read
from ARCHITECTURE.md, the one place they are written."""
from __future__ import annotations

import ast
import os
import re

import pytest

from conftest import ROOT

LIB = os.path.join(ROOT, "lib", "deepgrad")
GRADER = os.path.join(ROOT, "autograder")


def _names(cell: str) -> list[str]:
    """The module names written in backticks in a table cell."""
    return re.findall(r"`([A-Za-z_]+)`", cell)


def _tables() -> dict[str, list[tuple[int, list[str], list[str]]]]:
    """ARCHITECTURE.md's layer tables, by section title: [(layer, modules, never imports)]."""
    tables, section = {}, None
    for line in open(os.path.join(ROOT, "ARCHITECTURE.md"), encoding="utf-8"):
        if line.startswith("## "):
            section = line[3:].strip()
        cells = [c.strip() for c in line.strip().strip("|").split("|")] if line.startswith("|") else []
        if cells and cells[0].isdigit():
            tables.setdefault(section, []).append(
                (int(cells[0]), _names(cells[1]), _names(cells[3]) if len(cells) > 3 else []))
    return tables


TABLES = _tables()
LAYERS = {m: layer for layer, modules, _ in TABLES["The library, layer by layer"] for m in modules}
ROOMS = {m: layer for layer, modules, _ in TABLES["The grader, room by room"] for m in modules}
NEVER = {m: set(never) for _, modules, never in TABLES["The grader, room by room"] for m in modules}

# Imports that break the rules today, (module, package it may not import), each with its issue: delete the
# line when the issue is fixed (test_known_exceptions_are_still_needed fails, saying so, once it is).
KNOWN: set[tuple[str, str]] = set()


def _known(module: str, imported: str) -> bool:
    return any(module == m and (imported == p or imported.startswith(p + ".")) for m, p in KNOWN)


def _modules(package_dir: str) -> dict[str, str]:
    """{module name: path} for every module of a package (``inside/`` programs of the sandbox included: they
    are loaded as text, and must import nothing of ours all the same)."""
    found = {}
    for folder, _, files in os.walk(package_dir):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, f), os.path.dirname(package_dir))[:-3].split(os.sep)
                name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
                found[name] = os.path.join(folder, f)
    return found


MODULES = {**_modules(LIB), **_modules(GRADER)}
OURS = ("deepgrad", "autograder")


def _imports(name: str, path: str) -> set[str]:
    """Our modules ``name`` imports (resolved: ``from .. import autograd`` is deepgrad.autograd)."""
    is_package = path.endswith("__init__.py")
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] in OURS}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = name.split(".")
                base = parts if is_package else parts[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] not in OURS:
                continue
            for alias in node.names:  # `from . import losses` imports the module deepgrad.losses
                sub = f"{source}.{alias.name}"
                out.add(sub if sub in MODULES else source)
    return {m for m in out if m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _room(module: str) -> str:
    """``deepgrad.optim.lr_scheduler`` -> ``optim``; a package's own name for its ``__init__``."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def _layer(module: str) -> int:
    return (LAYERS if module.startswith("deepgrad") else ROOMS)[_room(module)]


def _same_package(a: str, b: str) -> bool:
    return a.split(".")[0] == b.split(".")[0]


def test_the_layer_tables_are_read():
    # guards the test itself: ARCHITECTURE.md's tables were found and parsed
    assert LAYERS["gradcheck"] == 2 and LAYERS["widgets"] == 8
    assert ROOMS["sandbox"] == 1 and ROOMS["tools"] < ROOMS["grading"] and "deepgrad" in NEVER["sandbox"]


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if _room(m) not in (LAYERS if m.startswith("deepgrad") else ROOMS))
    assert not missing, f"give these modules a layer in ARCHITECTURE.md's tables: {missing}"


def test_the_resolver_sees_relative_and_function_level_imports():
    # guards the test itself: these imports exist, written in each of the ways the resolver must read
    assert "deepgrad.backend" in GRAPH["deepgrad.autograd"]            # from . import backend
    assert "deepgrad.autograd" in GRAPH["deepgrad.optim"]              # from ..autograd import Tensor
    assert "deepgrad.optim.lr_scheduler" in GRAPH["deepgrad.optim"]    # from . import lr_scheduler (a package)
    assert "deepgrad.viz.style" in GRAPH["deepgrad.viz.graph"]         # from .style import ...
    assert "autograder.sandbox" in GRAPH["autograder.grading.pipeline"]          # from ..sandbox import (a package)
    assert "autograder.records.gradebook" in GRAPH["autograder.records.grades"]  # from . import gradebook


@pytest.mark.parametrize("module", sorted(MODULES))
def test_lower_layers_never_import_higher_ones(module):
    upward = sorted(m for m in GRAPH[module] if m in MODULES and _same_package(m, module)
                    and _layer(m) > _layer(module) and not _known(module, m))
    assert not upward, (f"{module} (layer {_layer(module)}) imports higher layers: "
                        + ", ".join(f"{m} (layer {_layer(m)})" for m in upward))


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("autograder")))
def test_a_room_never_imports_what_its_row_forbids(module):
    forbidden = NEVER.get(_room(module), set())
    found = sorted(m for m in GRAPH[module] if _room(m) in forbidden or m.split(".")[0] in forbidden)
    assert not found, f"{module} ({_room(module)}) imports {found}, which ARCHITECTURE.md forbids it"


def test_the_library_never_imports_the_grader():
    found = sorted((m, i) for m in MODULES if m.startswith("deepgrad") for i in GRAPH[m] if i.startswith("autograder"))
    assert not found, f"the library imports the grader: {found}"


def test_the_by_hand_modules_never_import_the_engine():
    # DESIGN: what the lectures compute by hand must not lean on the autograd it teaches
    for module in ("deepgrad.losses", "deepgrad.linear", "deepgrad.layers", "deepgrad.gradcheck"):
        reachable, todo = set(), [module]
        while todo:
            for m in GRAPH.get(todo.pop(), ()):
                if m not in reachable:
                    reachable.add(m)
                    todo.append(m)
        assert "deepgrad.autograd" not in reachable, f"{module} reaches the engine"


def test_no_two_modules_import_each_other():
    cycles = sorted((a, b) for a in GRAPH for b in GRAPH[a]
                    if a < b and a in GRAPH.get(b, ()) and not (_known(a, b) or _known(b, a))
                    and not (b.startswith(a + ".") or a.startswith(b + ".")))  # a package and its own modules
    assert not cycles, f"modules that import each other: {cycles}"


def test_known_exceptions_are_still_needed():
    stale = sorted((m, p) for m, p in KNOWN if not any(_known(m, i) for i in GRAPH.get(m, ())))
    assert not stale, f"these layering exceptions are fixed: delete them from KNOWN: {stale}"
