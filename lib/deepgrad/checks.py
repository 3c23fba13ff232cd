"""Argument checks shared by the whole library: one way to say what was wrong with an argument.

Every check names the argument, shows the value (or its shape or dtype) and says what was expected,
in one sentence: ``batch_size must be an integer >= 1, got True (a bool)``. A wrong *kind* of value
raises TypeError; a value of the right kind out of range (or of the wrong shape) raises ValueError.

    >>> import numpy as np
    >>> check_int(np.int64(8), "batch_size", minimum=1)
    8
    >>> check_int(True, "batch_size", minimum=1)
    Traceback (most recent call last):
    ...
    TypeError: batch_size must be an integer >= 1, got True (a bool)

This module is the lowest layer beside ``backend``: it imports nothing of DeepGrad but ``backend``, so
every other module may use it.
"""
from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np

from . import backend

__all__ = ["check_array", "check_int", "check_number", "check_probability", "check_choice", "check_shape", "check_dtype",
           "check_labels", "check_generator", "deprecated"]


def _got(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return f"{bool(value)!r} (a bool)"
    if isinstance(value, np.generic):  # NumPy 2 writes np.float64(10.0): show the number and its type
        return f"{value.item()!r} (a numpy.{type(value).__name__})"
    if hasattr(value, "shape") and getattr(value, "ndim", 0):
        return f"an array of shape {tuple(value.shape)}"
    return repr(value)


def _range(minimum, maximum, open_min: bool = False, open_max: bool = False) -> str:
    if minimum is not None and maximum is not None:
        return f" in {'(' if open_min else '['}{minimum}, {maximum}{')' if open_max else ']'}"
    if minimum is not None:
        return f" {'>' if open_min else '>='} {minimum}"
    if maximum is not None:
        return f" {'<' if open_max else '<='} {maximum}"
    return ""


def check_array(a, name: str, ndim: int | None = None, finite: bool = True, allow_inf: bool = False):
    """``a`` as a real (bool, int or float) array of its own module (NumPy or CuPy; lists become NumPy).

    With ``ndim``, it must have that many dimensions. With ``finite``, NaN and inf are refused
    (``allow_inf``: NaN only), saying how many there are.
    """
    xp = backend.get_array_module(a)
    try:
        a = xp.asarray(a)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be an array of numbers, got {type(a).__name__} ({exc})") from exc
    check_dtype(a, name, "biuf")
    if ndim is not None and a.ndim != ndim:
        raise ValueError(f"{name} must be {ndim}-D, got shape {a.shape}")
    if finite and a.dtype.kind == "f":
        bad = xp.isnan(a) if allow_inf else ~xp.isfinite(a)
        if bool(bad.any()):
            what = "NaN" if allow_inf else "NaN/inf"
            raise ValueError(f"{name} (shape {a.shape}) contains {int(bad.sum())} {what} value(s); expected "
                             "finite numbers (check the previous step: a learning rate too large often causes this)")
    return a


def check_int(value, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as a Python int: Python and NumPy integers pass, bools and floats (even 3.0) do not."""
    expected = f"an integer{_range(minimum, maximum)}"
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be {expected}, got {_got(value)}")
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise ValueError(f"{name} must be {expected}, got {_got(value)}")
    return int(value)


def check_number(value, name: str, minimum: float | None = None, maximum: float | None = None,
                 open_min: bool = False, open_max: bool = False) -> float:
    """``value`` as a finite Python float in ``[minimum, maximum]``; ``open_min``/``open_max`` exclude the ends."""
    expected = f"a finite number{_range(minimum, maximum, open_min, open_max)}"
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f"{name} must be {expected}, got {_got(value)}")
    v = float(value)
    below = minimum is not None and (v <= minimum if open_min else v < minimum)
    above = maximum is not None and (v >= maximum if open_max else v > maximum)
    if not math.isfinite(v) or below or above:
        raise ValueError(f"{name} must be {expected}, got {_got(value)}")
    return v


def check_probability(value, name: str, allow_one: bool = True) -> float:
    """A probability in [0, 1] (``allow_one=False``: in [0, 1), e.g. a drop rate that must keep something)."""
    return check_number(value, name, 0, 1, open_max=not allow_one)


def check_choice(value, name: str, choices):
    """``value`` if it is one of ``choices`` (strings, or None among them)."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def check_shape(array, name: str, expected: tuple):
    """``array`` if its shape matches ``expected``: ints are fixed sizes, names (``"N"``, ``"D"``) any size.

    ``check_shape(W, "W", ("D", 3))`` accepts any 2-D W with 3 columns.
    """
    shape = tuple(getattr(array, "shape", ()))
    if len(shape) != len(expected) or any(isinstance(e, int) and s != e for s, e in zip(shape, expected, strict=True)):
        want = "(" + ", ".join(map(str, expected)) + ("," if len(expected) == 1 else "") + ")"
        raise ValueError(f"{name} must have shape {want}, got shape {shape}")
    return array


def check_dtype(array, name: str, kinds: str):
    """``array`` if its dtype is of one of ``kinds`` (NumPy kind letters: ``'f'`` float, ``'iu'`` integer,
    ``'biuf'`` real numbers)."""
    words = {"f": "floating-point", "iu": "integer", "fc": "floating-point", "biuf": "real (bool, integer or float)"}
    dtype = getattr(array, "dtype", None)
    if dtype is None or dtype.kind not in kinds:
        raise TypeError(f"{name} must hold {words.get(kinds, kinds)} values, got dtype {dtype}")
    return array


def check_labels(y, name: str = "y", n: int | None = None, num_classes: int | None = None):
    """Class labels: a 1-D integer array of length ``n`` with values in ``[0, num_classes)``.

    Returns ``y`` as an array of its own module (NumPy or CuPy).
    """
    xp = backend.get_array_module(y)
    y = xp.asarray(y)
    if y.dtype.kind not in "iu":
        hint = f"; convert with {name}.astype(int)" if y.dtype.kind in "fb" else ""
        raise TypeError(f"{name} must hold integer class labels, got dtype {y.dtype}{hint}")
    if y.ndim != 1:
        raise ValueError(f"{name} must be 1-D (N,), one label per row, got shape {y.shape}")
    if n is not None and y.shape[0] != n:
        raise ValueError(f"{name} must have one label per row of scores: expected length {n}, got {y.shape[0]} "
                         f"(shape {y.shape})")
    if y.size and num_classes is not None:
        lo, hi = int(y.min()), int(y.max())
        if lo < 0 or hi >= num_classes:
            raise ValueError(f"{name} must hold labels in [0, {num_classes}) (one per class column), "
                             f"found {lo if lo < 0 else hi}")
    return y


def check_generator(generator, name: str = "generator", default: np.random.Generator | None = None):
    """A ``numpy.random.Generator`` from an int seed or a Generator (returned as is, so its stream goes on).

    None gives ``default``, or a freshly seeded generator when there is no default.
    """
    if generator is None:
        return default if default is not None else np.random.default_rng()
    if isinstance(generator, np.random.Generator):
        return generator
    if isinstance(generator, bool) or not isinstance(generator, Integral) or generator < 0:
        raise TypeError(f"{name} must be None, an integer seed >= 0 or a numpy.random.Generator, "
                        f"got {_got(generator)}")
    return np.random.default_rng(int(generator))


def deprecated(old: str, new: str, stacklevel: int = 3) -> None:
    """Warn that ``old`` is a deprecated name for ``new``, kept for one release (students' notebooks use it)."""
    warnings.warn(f"{old} is deprecated and will be removed in the next release; use {new}",
                  DeprecationWarning, stacklevel=stacklevel)
