"""DeepGrad: deep learning from first principles, small enough to read and fast enough to use.

The package is layered as the lectures are, from arrays and gradients computed by hand up to the engine,
PyTorch-shaped building blocks and the widgets; lower layers never import higher ones. ARCHITECTURE.md at the
root of the project holds the table of layers (tests/test_layering.py reads it from there).
"""
from __future__ import annotations

import importlib

from . import backend
from .backend import to_numpy, use

__version__ = "0.1.0"

# Higher layers are imported on first use so that `import deepgrad` stays fast and a lesson that never
# draws anything never imports matplotlib.
_LAZY = {
    "checks", "gradcheck", "losses", "linear", "layers", "init", "data", "autograd", "nn", "optim", "train",
    "viz", "widgets", "functional",
}
_LAZY_ATTRS = {"Tensor": "autograd", "no_grad": "autograd", "tensor": "autograd"}


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
    raise AttributeError(f"module 'deepgrad' has no attribute {name!r}")


__all__ = ["backend", "use", "to_numpy", "__version__", *sorted(_LAZY), *sorted(_LAZY_ATTRS)]
