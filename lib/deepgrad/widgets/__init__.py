"""Interactive explorers for the lessons (ipywidgets 8). Each function returns a widget to display.

Every explorer keeps its logic in ``widget.controller`` (a plain object: set values, call methods,
read state), shows its picture in ``widget.image`` (redrawn in place) and prints any error of its
handlers into ``widget.output``. ``widget.figure_png()`` gives the current picture as PNG bytes. Explorers
that train run in the background: after setting a control, ``widget.wait()`` before reading the state.

``_WHERE`` below is the one list of explorers (name -> module): ``bench/bench_widgets.py`` and the burst
test in ``tests/test_widgets.py`` go through ``__all__``, so a new explorer is covered by its entry.
"""
from __future__ import annotations

import importlib

_WHERE = {
    "gate_explorer": "gates", "backprop_explorer": "backprop", "decision_boundary_explorer": "boundary",
    "optimizer_race": "optimizers", "init_explorer": "initialization",
    "regularization_explorer": "regularization", "gradient_check_explorer": "gradcheck",
    "linear_classifier_explorer": "linear", "jacobian_explorer": "jacobians",
}
__all__ = [name for name in _WHERE]


def __getattr__(name):
    # Each explorer imports only what it needs (the optimiser race does not need the digits, ...).
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module 'deepgrad.widgets' has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *__all__])
