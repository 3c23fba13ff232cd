"""The layering DESIGN.md describes, enforced: lower layers never import higher ones, and no module imports
one that imports it back. Every import counts, also those inside functions (they run too, just later)."""
from __future__ import annotations

import ast
import os

import pytest

from conftest import ROOT

LIB = os.path.join(ROOT, "lib", "deepgrad")

# DESIGN.md's layers. A module may import its own layer and those below. widgets sit on viz (every
# widget draws with viz), so viz is below widgets.
LAYERS = {
    "deepgrad": 1, "backend": 1, "checks": 1,
    "gradcheck": 2,
    "losses": 3, "linear": 3,
    "layers": 4,
    "autograd": 5,
    "functional": 6, "nn": 6, "optim": 6, "init": 6, "data": 6, "train": 6, "generalization": 6,
    "viz": 7,
    "widgets": 8,
}

# Imports that break the rules today, (module, package it may not import), each with its issue: delete the
# line when the issue is fixed (test_known_exceptions_are_still_needed fails, saying so, once it is).
KNOWN: set[tuple[str, str]] = set()


def _known(module: str, imported: str) -> bool:
    return any(module == m and (imported == p or imported.startswith(p + ".")) for m, p in KNOWN)


def _modules():
    """{module name: path} for every module of the package."""
    found = {}
    for folder, _, files in os.walk(LIB):
        for f in files:
            if f.endswith(".py"):
                rel = os.path.relpath(os.path.join(folder, f), os.path.dirname(LIB))[:-3].split(os.sep)
                name = ".".join(rel[:-1] if rel[-1] == "__init__" else rel)
                found[name] = os.path.join(folder, f)
    return found


MODULES = _modules()


def _imports(name: str, path: str) -> set[str]:
    """The package modules ``name`` imports (resolved: ``from .. import autograd`` is deepgrad.autograd)."""
    is_package = path.endswith("__init__.py")
    out = set()
    for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names if a.name.split(".")[0] == "deepgrad"}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = name.split(".")
                base = parts if is_package else parts[:-1]
                base = base[:len(base) - (node.level - 1)]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            if source.split(".")[0] != "deepgrad":
                continue
            for alias in node.names:  # `from . import losses` imports the module deepgrad.losses
                sub = f"{source}.{alias.name}"
                out.add(sub if sub in MODULES else source)
    return {m for m in out if m != name}


GRAPH = {name: _imports(name, path) for name, path in MODULES.items()}


def _layer(module: str) -> int:
    parts = module.split(".")
    return LAYERS[parts[1] if len(parts) > 1 else parts[0]]


def test_every_module_has_a_layer():
    missing = sorted(m for m in MODULES if (m.split(".") + [""])[1 if "." in m else 0] not in LAYERS)
    assert not missing, f"give these modules a layer in LAYERS (and in DESIGN.md): {missing}"


def test_the_resolver_sees_relative_and_function_level_imports():
    # guards the test itself: these imports exist, written in each of the ways the resolver must read
    assert "deepgrad.backend" in GRAPH["deepgrad.autograd"]            # from . import backend
    assert "deepgrad.autograd" in GRAPH["deepgrad.optim"]              # from ..autograd import Tensor
    assert "deepgrad.optim.lr_scheduler" in GRAPH["deepgrad.optim"]    # from . import lr_scheduler (a package)
    assert "deepgrad.viz.style" in GRAPH["deepgrad.viz.graph"]         # from .style import ...


@pytest.mark.parametrize("module", sorted(MODULES))
def test_lower_layers_never_import_higher_ones(module):
    upward = sorted(m for m in GRAPH[module]
                    if m in MODULES and _layer(m) > _layer(module) and not _known(module, m))
    assert not upward, (f"{module} (layer {_layer(module)}) imports higher layers: "
                        + ", ".join(f"{m} (layer {_layer(m)})" for m in upward))


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
