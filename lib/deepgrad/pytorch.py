"""PyTorch's top-level names, so that a beginner's tutorial runs with ``import deepgrad as torch``.

The layer a student types before and around the engine: dtype names, the default dtype, factories
(``tensor``, ``zeros``, ``randn``, ``linspace``, ...), elementwise functions (``torch.sin(x)``), ``cat`` and
``stack``, devices, ``manual_seed``, ``save`` / ``load``. Everything here is a thin layer over
:mod:`deepgrad.autograd` (the engine) and NumPy; ``deepgrad.<name>`` finds these names on first use.

    >>> import deepgrad as torch
    >>> x = torch.tensor([1, 2, 3])
    >>> x.dtype == torch.int64, torch.linspace(0, 1, 3).tolist()
    (True, [0.0, 0.5, 1.0])

One deliberate difference: floating-point tensors are float64 by default (so that gradient checks are
exact); ``torch.set_default_dtype(torch.float32)`` gives PyTorch's default. ``nn`` layers are float32 unless
a default was set. :func:`as_torch` lets ``import torch`` itself find DeepGrad (a tutorial run unchanged).
"""
from __future__ import annotations

import builtins
import pickle
import sys

import numpy as np

from . import autograd, backend, init
from .autograd import Tensor, cat, enable_grad, is_grad_enabled, no_grad, set_grad_enabled, stack
from .checks import check_int

__all__ = [
    "float32", "float", "float64", "double", "float16", "half", "int64", "long", "int32", "int", "int16",
    "int8", "uint8", "bool", "set_default_dtype", "get_default_dtype",
    "tensor", "as_tensor", "from_numpy", "is_tensor", "numel", "zeros", "ones", "full", "empty", "eye",
    "rand", "randn", "randint", "randperm", "arange", "linspace", "zeros_like", "ones_like", "full_like",
    "empty_like", "rand_like", "randn_like", "manual_seed",
    "sin", "cos", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu", "sum", "mean", "max", "min",
    "argmax", "matmul", "mm", "pow", "clamp", "flatten", "reshape", "squeeze", "unsqueeze", "transpose",
    "allclose", "equal", "where", "cat", "stack",
    "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled",
    "device", "cuda", "save", "load", "as_torch",
]

# ------------------------------------------------------------------------------------------- dtypes
# NumPy dtypes under PyTorch's names: ``x.dtype == torch.float32`` holds for a float32 tensor.
float32 = float = np.dtype(np.float32)
float64 = double = np.dtype(np.float64)
float16 = half = np.dtype(np.float16)
int64 = long = np.dtype(np.int64)
int32 = int = np.dtype(np.int32)
int16, int8, uint8 = np.dtype(np.int16), np.dtype(np.int8), np.dtype(np.uint8)
bool = np.dtype(np.bool_)


def set_default_dtype(dtype) -> None:
    """The dtype of new floating-point tensors and of ``nn`` layers' parameters (float32 or float64)."""
    backend.set_default_float(dtype)


def get_default_dtype():
    """float64 unless :func:`set_default_dtype` said otherwise (DeepGrad's default, for exact gradient checks)."""
    return backend.default_float()


def _dtype(dtype):
    return backend.default_float() if dtype is None else np.dtype(dtype)


def _new(array, dtype=None, device=None, requires_grad: builtins.bool = False) -> Tensor:
    if dtype is not None:
        array = array.astype(dtype, copy=False)
    out = Tensor(array, requires_grad=requires_grad)
    return out if device is None else out.to(device)


# ---------------------------------------------------------------------------------------- factories
def tensor(data, dtype=None, device=None, requires_grad: builtins.bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``, its dtype inferred as PyTorch does: Python ints give int64,
    bools bool, floats the default dtype; an array or Tensor keeps its dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray) or autograd._is_cuda(data):
        array = data.copy()
    else:
        array = np.array(data)
        if array.dtype.kind == "f" or array.dtype.kind == "O":
            array = array.astype(backend.default_float())
        array = backend.asarray(array)
    return _new(array, dtype, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like :func:`tensor`, without a copy where the data already is an array of the right dtype."""
    if isinstance(data, np.ndarray) and (dtype is None or np.dtype(dtype) == data.dtype):
        return _new(data, device=device)
    return tensor(data, dtype=dtype, device=device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing ``array``'s memory: a change to one shows in the other."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy expects a numpy.ndarray, got {type(array).__name__}")
    return Tensor(array)


def is_tensor(obj) -> builtins.bool:
    return isinstance(obj, Tensor)


def numel(t: Tensor) -> builtins.int:
    return t.numel()


def _shape(size):
    return tuple(size[0]) if len(size) == 1 and isinstance(size[0], (tuple, list)) else tuple(size)


def zeros(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _new(backend.xp().zeros(_shape(size), dtype=_dtype(dtype)), None, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _new(backend.xp().ones(_shape(size), dtype=_dtype(dtype)), None, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad=False) -> Tensor:
    return zeros(*size, dtype=dtype, device=device, requires_grad=requires_grad)  # zeros: nothing left over


def full(size, fill_value, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is None:  # PyTorch infers the dtype from the fill value
        dtype = tensor(fill_value).dtype
    return _new(backend.xp().full(tuple(size), fill_value, dtype=dtype), None, device, requires_grad)


def eye(n: builtins.int, m: builtins.int | None = None, dtype=None, device=None, requires_grad=False) -> Tensor:
    return _new(backend.xp().eye(n, m, dtype=_dtype(dtype)), None, device, requires_grad)


def _generator(generator):
    return init.default_generator() if generator is None else generator


def rand(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Uniform on [0, 1), from :func:`manual_seed`'s generator (NumPy's stream, not PyTorch's numbers)."""
    values = _generator(generator).random(_shape(size))
    return _new(backend.asarray(values), _dtype(dtype), device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad=False) -> Tensor:
    """Standard normal samples, from :func:`manual_seed`'s generator (NumPy's stream, not PyTorch's numbers)."""
    values = _generator(generator).standard_normal(_shape(size))
    return _new(backend.asarray(values), _dtype(dtype), device, requires_grad)


def randint(low, high=None, size=(), generator=None, dtype=None, device=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` starts at 0), int64 unless told otherwise."""
    if high is None:
        low, high = 0, low
    values = _generator(generator).integers(low, high, size=tuple(size))
    return _new(backend.asarray(values), np.int64 if dtype is None else dtype, device)


def randperm(n: builtins.int, generator=None, device=None) -> Tensor:
    return _new(backend.asarray(_generator(generator).permutation(check_int(n, "n", minimum=0))), None, device)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``start, start + step, ...`` below ``end``; int64 when all three are ints, else the default dtype."""
    if end is None:
        start, end = 0, start
    if dtype is None:
        integral = all(isinstance(v, builtins.int) for v in (start, end, step))
        dtype = np.int64 if integral else backend.default_float()
    return _new(backend.xp().arange(start, end, step, dtype=dtype), None, device, requires_grad)


def linspace(start, end, steps: builtins.int, dtype=None, device=None, requires_grad=False) -> Tensor:
    """``steps`` evenly spaced values from ``start`` to ``end``, both included."""
    values = backend.xp().linspace(start, end, check_int(steps, "steps", minimum=0))
    return _new(values, _dtype(dtype), device, requires_grad)


def zeros_like(t, dtype=None, requires_grad=False) -> Tensor:
    return zeros(t.shape, dtype=t.dtype if dtype is None else dtype, device=t.device, requires_grad=requires_grad)


def ones_like(t, dtype=None, requires_grad=False) -> Tensor:
    return ones(t.shape, dtype=t.dtype if dtype is None else dtype, device=t.device, requires_grad=requires_grad)


def empty_like(t, dtype=None, requires_grad=False) -> Tensor:
    return zeros_like(t, dtype=dtype, requires_grad=requires_grad)


def full_like(t, fill_value, dtype=None, requires_grad=False) -> Tensor:
    return full(t.shape, fill_value, dtype=t.dtype if dtype is None else dtype, device=t.device,
                requires_grad=requires_grad)


def rand_like(t, dtype=None, requires_grad=False) -> Tensor:
    return rand(t.shape, dtype=t.dtype if dtype is None else dtype, device=t.device, requires_grad=requires_grad)


def randn_like(t, dtype=None, requires_grad=False) -> Tensor:
    return randn(t.shape, dtype=t.dtype if dtype is None else dtype, device=t.device, requires_grad=requires_grad)


def manual_seed(seed: builtins.int):
    """Reseed the generator behind :func:`rand`, :func:`randn`, ... and the ``nn`` layers' initialisation."""
    init.manual_seed(check_int(seed, "seed", minimum=0))
    return init.default_generator()


# ----------------------------------------------------------------------------------------- functions
def _t(x) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


sin = lambda x: _t(x).sin()  # noqa: E731 (each is the Tensor method of the same name)
cos = lambda x: _t(x).cos()  # noqa: E731
exp = lambda x: _t(x).exp()  # noqa: E731
log = lambda x: _t(x).log()  # noqa: E731
sqrt = lambda x: _t(x).sqrt()  # noqa: E731
abs = lambda x: _t(x).abs()  # noqa: E731
tanh = lambda x: _t(x).tanh()  # noqa: E731
sigmoid = lambda x: _t(x).sigmoid()  # noqa: E731
relu = lambda x: _t(x).relu()  # noqa: E731
sum = lambda x, *args, **kwargs: _t(x).sum(*args, **kwargs)  # noqa: E731
mean = lambda x, *args, **kwargs: _t(x).mean(*args, **kwargs)  # noqa: E731
max = lambda x, *args, **kwargs: _t(x).max(*args, **kwargs)  # noqa: E731
min = lambda x, *args, **kwargs: _t(x).min(*args, **kwargs)  # noqa: E731
argmax = lambda x, *args, **kwargs: _t(x).argmax(*args, **kwargs)  # noqa: E731
matmul = mm = lambda a, b: _t(a) @ b
pow = lambda x, exponent: _t(x) ** exponent  # noqa: E731
clamp = lambda x, min=None, max=None: _t(x).clip(min, max)  # noqa: E731
flatten = lambda x, start_dim=0, end_dim=-1: _t(x).flatten(start_dim, end_dim)  # noqa: E731
reshape = lambda x, shape: _t(x).reshape(shape)  # noqa: E731
squeeze = lambda x, dim=None: _t(x).squeeze(dim)  # noqa: E731
unsqueeze = lambda x, dim: _t(x).unsqueeze(dim)  # noqa: E731


def transpose(x, dim0: builtins.int, dim1: builtins.int) -> Tensor:
    """Swap two axes (PyTorch's ``torch.transpose``)."""
    axes = list(range(_t(x).ndim))
    axes[dim0], axes[dim1] = axes[dim1], axes[dim0]
    return _t(x).transpose(axes)


def allclose(a, b, rtol: builtins.float = 1e-5, atol: builtins.float = 1e-8) -> builtins.bool:
    return builtins.bool(np.allclose(backend.to_numpy(_t(a).data), backend.to_numpy(_t(b).data), rtol, atol))


def equal(a, b) -> builtins.bool:
    """True when both have the same shape and entries."""
    return _t(a).shape == _t(b).shape and builtins.bool((_t(a) == _t(b)).all())


def where(condition, x, y) -> Tensor:
    """``x`` where ``condition`` holds, else ``y`` (differentiable in both)."""
    mask = _t(condition).data.astype(np.bool_)
    x, y = _t(x), _t(y)
    return x * Tensor(mask) + y * Tensor(~mask)


# ------------------------------------------------------------------------------------------- devices
class device(str):
    """``torch.device("cuda")``: a device name (``"cpu"`` or ``"cuda"``, the CuPy backend) with ``.type``."""

    def __new__(cls, name="cpu", index=None):
        name = builtins.str(name) if index is None else f"{name}:{index}"
        backend.parse_device(name)  # a clear error for anything else
        return super().__new__(cls, name)

    type = property(lambda self: self.split(":")[0])
    index = property(lambda self: builtins.int(self.split(":")[1]) if ":" in self else None)

    def __repr__(self):
        return f"device(type={self.type!r})"


class cuda:
    """``torch.cuda.is_available()``: True when CuPy and a GPU are there (DeepGrad's "cuda" is CuPy)."""

    is_available = staticmethod(backend.gpu_available)

    @staticmethod
    def device_count() -> builtins.int:
        return 1 if backend.gpu_available() else 0

    @staticmethod
    def manual_seed(seed):
        manual_seed(seed)

    @staticmethod
    def synchronize():
        backend.synchronize()


# ----------------------------------------------------------------------------------------- save/load
def save(obj, f) -> None:
    """Pickle ``obj`` (a ``state_dict``, a tensor, a dict of them) to the path or file ``f``; tensors are
    stored as host arrays."""
    if hasattr(f, "write"):
        pickle.dump(obj, f)
    else:
        with open(f, "wb") as fh:
            pickle.dump(obj, fh)


def load(f, map_location=None, weights_only: builtins.bool = True):
    """What :func:`save` wrote (``weights_only`` and ``map_location`` accepted for PyTorch's scripts; only load
    files you trust: this is pickle)."""
    if hasattr(f, "read"):
        obj = pickle.load(f)
    else:
        with open(f, "rb") as fh:
            obj = pickle.load(fh)
    return obj


# -------------------------------------------------------------------------------------- import torch
def as_torch() -> None:
    """Let ``import torch`` (and ``torch.nn``, ``torch.optim``, ``torch.utils.data``, ``torch.autograd``,
    ``torch.nn.functional``) find DeepGrad's modules in this Python process, so a tutorial runs unchanged."""
    import deepgrad  # the package itself: its lazy attributes resolve these names
    from deepgrad import functional, nn, optim, utils
    from deepgrad.utils import data
    sys.modules.update({"torch": deepgrad, "torch.nn": nn, "torch.nn.functional": functional, "torch.optim": optim,
                        "torch.utils": utils, "torch.utils.data": data, "torch.autograd": autograd})
