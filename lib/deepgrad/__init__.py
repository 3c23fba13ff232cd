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
    "viz", "widgets", "functional", "pytorch", "utils",
}
_LAZY_ATTRS = {"Tensor": "autograd", "no_grad": "autograd"}
# PyTorch's top-level names (torch.float, torch.zeros, torch.save, ...) live in deepgrad.pytorch, so that a
# tutorial runs with `import deepgrad as torch`; they too are imported on first use.
_PYTORCH_NAMES = frozenset((
    "float32 float float64 double float16 half int64 long int32 int int16 int8 uint8 bool set_default_dtype "
    "get_default_dtype tensor as_tensor from_numpy is_tensor numel zeros ones full empty eye rand randn randint "
    "randperm arange linspace zeros_like ones_like full_like empty_like rand_like randn_like manual_seed sin cos "
    "exp log sqrt abs tanh sigmoid relu sum mean max min argmax matmul mm pow clamp flatten reshape squeeze "
    "unsqueeze transpose allclose equal where cat stack enable_grad set_grad_enabled is_grad_enabled device cuda "
    "save load as_torch").split())


def __getattr__(name):
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(f".{_LAZY_ATTRS[name]}", __name__), name)
    if name in _PYTORCH_NAMES:
        return getattr(importlib.import_module(".pytorch", __name__), name)
    raise AttributeError(f"module 'deepgrad' has no attribute {name!r}")


__all__ = ["backend", "use", "to_numpy", "__version__", *sorted(_LAZY), *sorted(_LAZY_ATTRS)]
