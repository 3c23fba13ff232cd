"""Which array module backs DeepGrad's arrays: NumPy (always) or CuPy (on an NVIDIA GPU).

Every part of the library asks this module for its array module instead of importing numpy directly,
so the same code runs on the CPU and on the GPU (lecture: "why GPUs made deep learning practical").

    >>> import deepgrad
    >>> deepgrad.use("numpy")          # the default; or set DEEPGRAD_BACKEND=cupy before importing
    >>> deepgrad.backend.xp()          # the module now in use
    <module 'numpy' ...>
"""
from __future__ import annotations

import os
import types

import numpy as np

__all__ = [
    "BackendError", "use", "current", "xp", "get_array_module", "to_numpy", "asarray",
    "cupy_available", "gpu_available",
]

BACKENDS = ("numpy", "cupy")


class BackendError(RuntimeError):
    """The requested backend cannot run here (CuPy missing, or no GPU)."""


_state = {"name": "numpy", "module": np}


def _import_cupy() -> types.ModuleType:
    """Import CuPy and make sure a GPU is there, or say exactly which of the two is missing."""
    try:
        import cupy  # noqa: PLC0415 (optional dependency)
    except ImportError as exc:
        raise BackendError(
            "backend 'cupy' needs the CuPy package, which is not installed: "
            "pip install -e '.[gpu]' (CUDA 12) or pip install cupy-cuda13x (CUDA 13)"
        ) from exc
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as exc:  # CUDA driver missing or broken
        raise BackendError(f"backend 'cupy': CuPy is installed but no usable NVIDIA GPU was found ({exc})") from exc
    if count < 1:
        raise BackendError("backend 'cupy': CuPy is installed but no NVIDIA GPU was found")
    return cupy


def use(name: str) -> types.ModuleType:
    """Select the array backend by name, ``"numpy"`` or ``"cupy"``; returns the module now in use."""
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"backend name must be one of {BACKENDS}, got {name!r}")
    name = name.lower()
    module = np if name == "numpy" else _import_cupy()
    _state.update(name=name, module=module)
    return module


def current() -> str:
    """The name of the backend in use: ``"numpy"`` or ``"cupy"``."""
    return _state["name"]


def xp() -> types.ModuleType:
    """The array module in use (``numpy`` or ``cupy``): new arrays are made with it."""
    return _state["module"]


def _is_cupy_array(x) -> bool:
    return type(x).__module__.split(".")[0] == "cupy"


def _unwrap(x):
    """The array inside a Tensor-like object (anything with ``.data`` that is not itself an array)."""
    if isinstance(x, np.ndarray) or _is_cupy_array(x):
        return x
    return getattr(x, "data", x)


def get_array_module(*arrays) -> types.ModuleType:
    """The module that owns the given arrays: ``cupy`` if any is a CuPy array, else ``numpy``.

    With no arrays, the backend in use. Functions that receive arrays follow their inputs, so a NumPy
    array passed in always gives NumPy results, whatever backend is selected.
    """
    if not arrays:
        return xp()
    for a in arrays:
        if _is_cupy_array(_unwrap(a)):
            import cupy  # noqa: PLC0415
            return cupy
    return np


def to_numpy(x) -> np.ndarray:
    """A NumPy copy of ``x`` (an array of either backend, a Tensor, a list or a number) on the host."""
    x = _unwrap(x)
    if _is_cupy_array(x):
        return x.get()
    return np.asarray(x)


def asarray(x, dtype=None):
    """``x`` as an array of the backend in use (copied to the device when that is the GPU)."""
    return xp().asarray(x, dtype=dtype)


def cupy_available() -> bool:
    """True when CuPy imports (whether or not a GPU is present)."""
    try:
        import cupy  # noqa: F401, PLC0415
    except ImportError:
        return False
    return True


def gpu_available() -> bool:
    """True when CuPy imports and sees at least one NVIDIA GPU."""
    try:
        _import_cupy()
    except BackendError:
        return False
    return True


def _from_environment() -> None:
    name = os.environ.get("DEEPGRAD_BACKEND", "").strip()
    if name:
        use(name)


_from_environment()
