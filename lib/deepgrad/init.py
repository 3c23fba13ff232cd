"""Weight initialisers with PyTorch's names, formulas and defaults (lecture: initialisation).

Each ``*_`` function fills an array (NumPy or CuPy) or a Tensor/Parameter **in place** and returns it,
as ``torch.nn.init`` does. DeepGrad weights are stored ``(fan_in, fan_out)`` = ``(D, M)`` (inputs times
weights), so for a 2-D weight ``fan_in = shape[0]`` and ``fan_out = shape[1]`` — the transpose of
PyTorch's ``(out, in)`` storage, with the same numbers.

Randomness is seeded: pass ``generator=`` a seed (int) or a ``numpy.random.Generator``; with none, the
module-wide generator set by :func:`manual_seed` is used.
"""
from __future__ import annotations

import math

import numpy as np

from . import backend
from .checks import check_choice, check_generator, check_number

__all__ = [
    "manual_seed", "calculate_gain", "calculate_fan_in_and_fan_out",
    "constant_", "zeros_", "ones_", "uniform_", "normal_",
    "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_",
]

_default_rng = np.random.default_rng(0)


def manual_seed(seed: int) -> None:
    """Reseed the generator used when no ``generator=`` is given."""
    global _default_rng
    _default_rng = np.random.default_rng(seed)


def default_generator() -> np.random.Generator:
    """The generator used when no ``generator=`` is given (reseeded by :func:`manual_seed`)."""
    return _default_rng


def _rng(generator) -> np.random.Generator:
    return check_generator(generator, default=_default_rng)


def _array(tensor):
    """The array to fill: the tensor itself, or the ``.data`` of a Tensor/Parameter."""
    is_array = hasattr(tensor, "__array_interface__") or hasattr(tensor, "__cuda_array_interface__")
    arr = tensor if is_array else getattr(tensor, "data", None)
    if not hasattr(arr, "shape"):
        raise TypeError(f"tensor must be an array or a Tensor, got {type(tensor).__name__}")
    return arr


def _fill(tensor, values: np.ndarray):
    arr = _array(tensor)
    arr[...] = backend.get_array_module(arr).asarray(values, dtype=arr.dtype)
    return tensor


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended gain for an activation (PyTorch's table).

    ``linear``/``sigmoid``/``identity`` → 1, ``tanh`` → 5/3, ``relu`` → √2,
    ``leaky_relu`` → √(2 / (1 + slope²)) with ``param`` the negative slope (default 0.01), ``selu`` → 3/4.
    """
    if nonlinearity in ("linear", "identity", "sigmoid"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else param
        slope = check_number(slope, "param (the negative slope)")
        return math.sqrt(2.0 / (1 + slope ** 2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise ValueError(
        f"nonlinearity must be one of linear, identity, sigmoid, tanh, relu, leaky_relu, selu; got {nonlinearity!r}"
    )


def calculate_fan_in_and_fan_out(shape) -> tuple[int, int]:
    """``(fan_in, fan_out)`` of a weight of this shape: ``(D, M)`` for a 2-D ``(D, M)`` weight.

    1-D shapes (biases) have no fan-out; PyTorch refuses them too.
    """
    shape = tuple(shape)
    if len(shape) < 2:
        raise ValueError(f"fan in and fan out need a weight with at least 2 dimensions, got shape {shape}")
    receptive = math.prod(shape[2:]) if len(shape) > 2 else 1
    return shape[0] * receptive, shape[1] * receptive


def constant_(tensor, val: float):
    """Fill with ``val``. (A constant init makes all units of a layer identical: see lesson 11.)"""
    return _fill(tensor, np.full(_array(tensor).shape, val))


def zeros_(tensor):
    return constant_(tensor, 0.0)


def ones_(tensor):
    return constant_(tensor, 1.0)


def uniform_(tensor, a: float = 0.0, b: float = 1.0, generator=None):
    """Fill with draws from U(a, b)."""
    return _fill(tensor, _rng(generator).uniform(a, b, size=_array(tensor).shape))


def normal_(tensor, mean: float = 0.0, std: float = 1.0, generator=None):
    """Fill with draws from N(mean, std²)."""
    std = check_number(std, "std", minimum=0)
    return _fill(tensor, _rng(generator).normal(mean, std, size=_array(tensor).shape))


def xavier_uniform_(tensor, gain: float = 1.0, generator=None):
    """Glorot & Bengio (2010): U(−a, a) with a = gain·√(6 / (fan_in + fan_out)).

    Keeps the variance of activations and of gradients roughly equal across layers.
    """
    fan_in, fan_out = calculate_fan_in_and_fan_out(_array(tensor).shape)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    return uniform_(tensor, -bound, bound, generator)


def xavier_normal_(tensor, gain: float = 1.0, generator=None):
    """Glorot & Bengio (2010): N(0, std²) with std = gain·√(2 / (fan_in + fan_out))."""
    fan_in, fan_out = calculate_fan_in_and_fan_out(_array(tensor).shape)
    return normal_(tensor, 0.0, gain * math.sqrt(2.0 / (fan_in + fan_out)), generator)


def _kaiming_std(shape, a, mode, nonlinearity) -> float:
    check_choice(mode, "mode", ("fan_in", "fan_out"))
    fan_in, fan_out = calculate_fan_in_and_fan_out(shape)
    fan = fan_in if mode == "fan_in" else fan_out
    # A zero-element weight has fan 0; it has nothing to fill either (PyTorch leaves it alone too).
    return calculate_gain(nonlinearity, a) / math.sqrt(fan) if fan else 0.0


def kaiming_uniform_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He et al. (2015): U(−b, b) with b = gain·√(3 / fan); for ReLU, gain = √2 so Var(w) = 2 / fan_in.

    ``a`` is the negative slope of a leaky ReLU (0 gives plain ReLU), as in PyTorch.
    """
    std = _kaiming_std(_array(tensor).shape, a, mode, nonlinearity)
    bound = math.sqrt(3.0) * std
    return uniform_(tensor, -bound, bound, generator)


def kaiming_normal_(tensor, a: float = 0.0, mode: str = "fan_in", nonlinearity: str = "leaky_relu", generator=None):
    """He et al. (2015): N(0, std²) with std = gain / √fan."""
    std = _kaiming_std(_array(tensor).shape, a, mode, nonlinearity)
    return normal_(tensor, 0.0, std, generator)
