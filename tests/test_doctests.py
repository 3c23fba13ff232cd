"""Every docstring example in the library runs and shows what it says (``>>>`` lines are doctests)."""
from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import deepgrad

MODULES = sorted(["deepgrad"] + [m.name for m in pkgutil.walk_packages(deepgrad.__path__, "deepgrad.")])


def test_the_examples_are_found():
    assert {"deepgrad.autograd", "deepgrad.checks", "deepgrad.viz.graph", "deepgrad.optim.lr_scheduler"} <= set(MODULES)
    found = doctest.DocTestFinder().find(importlib.import_module("deepgrad.autograd"))
    assert sum(len(t.examples) for t in found) >= 4


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed (see the output above)"
