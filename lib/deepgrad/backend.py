"""Which array module backs DeepGrad's arrays: NumPy (always) or CuPy (on an NVIDIA GPU).

Every part of the library asks this module for its array module instead of importing numpy directly,
so the same code runs on the CPU and on the GPU (lecture: "why GPUs made deep learning practical").

    >>> import deepgrad
    >>> deepgrad.use("numpy")          # the default; or set DEEPGRAD_BACKEND=cupy before importing
    <module 'numpy' ...>
    >>> deepgrad.backend.xp()          # the module now in use
    <module 'numpy' ...>

Devices. An array lives on the host ("cpu", a NumPy array) or on the GPU ("cuda", a CuPy array);
``device_of`` says which. Data only moves when asked to (``to_device``, ``to_numpy``): like PyTorch,
DeepGrad never copies between host and device behind your back, because on a real machine that copy is
the slow part (lecture: "memory transfers between CPUs and GPUs must be minimized"). ``check_same_device``
gives the one clear error that operations raise when their inputs live on different devices.

Tests without a GPU register a stand-in device array type (``register_device_array``): a wrapper that,
like CuPy, refuses implicit conversion to NumPy. Every device question in the library goes through this
module, so the stand-in is treated exactly like a CuPy array, and the "no silent copies" rule is checked
on every machine.
"""
from __future__ import annotations

import os
import types

import numpy as np

__all__ = [
    "BackendError", "use", "current", "xp", "get_array_module", "to_numpy", "asarray",
    "cupy_available", "gpu_available", "default_float", "set_default_float",
    "parameter_float",
    "DEVICES", "parse_device", "device_of", "default_device", "to_device", "check_same_device", "synchronize",
    "register_device_array", "unregister_device_array",
]

BACKENDS = ("numpy", "cupy")
DEVICES = ("cpu", "cuda")


class BackendError(RuntimeError):
    """The requested backend cannot run here (CuPy missing, or no GPU)."""


_state = {"name": "numpy", "module": np, "float": np.dtype(np.float64), "float_set": False}

# Extra array types that live on the "cuda" device, mapped to their array module (tests register a
# stand-in for CuPy here; real CuPy arrays are recognised by their module name and need no entry).
_device_arrays: dict[type, types.ModuleType] = {}


def _import_cupy() -> types.ModuleType:
    """Import CuPy and make sure a GPU is there, or say exactly which of the two is missing."""
    try:
        import cupy  # optional: imported only when the GPU backend is asked for
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


def _cuda_module() -> types.ModuleType:
    """The array module of the "cuda" device: a registered stand-in if there is one, else real CuPy."""
    if _device_arrays:
        return next(reversed(_device_arrays.values()))
    return _import_cupy()


def use(name: str) -> types.ModuleType:
    """Select the array backend by name, ``"numpy"`` or ``"cupy"``; returns the module now in use."""
    if not isinstance(name, str) or name.lower() not in BACKENDS:
        raise ValueError(f"backend name must be one of {BACKENDS}, got {name!r}")
    name = name.lower()
    module = np if name == "numpy" else _cuda_module()
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


def _device_module_of(x) -> types.ModuleType | None:
    """The module of a device ("cuda") array, or None for anything else. Never imports CuPy needlessly."""
    if _device_arrays:
        for array_type, module in _device_arrays.items():
            if isinstance(x, array_type):
                return module
    if _is_cupy_array(x):
        import cupy  # already imported: x is one of its arrays
        return cupy
    return None


def _unwrap(x):
    """The array inside a Tensor-like object (anything with ``.data`` that is not itself an array)."""
    if isinstance(x, np.ndarray) or _device_module_of(x) is not None:
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
        module = _device_module_of(_unwrap(a))
        if module is not None:
            return module
    return np


def to_numpy(x) -> np.ndarray:
    """``x`` (an array of either backend, a Tensor, a list or a number) as a NumPy array on the host.

    A device array is copied to the host explicitly (CuPy's ``.get()``); a NumPy array is returned as is.
    """
    x = _unwrap(x)
    if _device_module_of(x) is not None:
        return x.get()
    return np.asarray(x)


def asarray(x, dtype=None):
    """``x`` as an array of the backend in use (copied to the device when that is the GPU)."""
    return xp().asarray(x, dtype=dtype)


def default_float() -> np.dtype:
    """The dtype Python floats become in a Tensor: float64 unless ``deepgrad.set_default_dtype`` said otherwise."""
    return _state["float"]


def parameter_float() -> np.dtype:
    """The dtype of ``nn`` layers' parameters: float32 (PyTorch's) unless ``set_default_dtype`` was called."""
    return _state["float"] if _state["float_set"] else np.dtype(np.float32)


def set_default_float(dtype) -> None:
    """Make ``dtype`` (float32 or float64) the default of new floating-point tensors and of ``nn`` layers."""
    dtype = np.dtype(dtype)
    if dtype not in (np.float32, np.float64):
        raise TypeError(f"the default dtype must be float32 or float64, got {dtype}")
    _state.update(float=dtype, float_set=True)


def cupy_available() -> bool:
    """True when CuPy imports (whether or not a GPU is present)."""
    try:
        import cupy  # noqa: F401 (imported to see whether it can be)
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


# ------------------------------------------------------------------------------------------- devices
def parse_device(device) -> str:
    """``device`` in canonical form, ``"cpu"`` or ``"cuda"``; ``"cuda:0"`` is accepted for ``"cuda"``.

    DeepGrad uses one GPU (the current CuPy device), so other device indices are refused.
    """
    if isinstance(device, str):
        name = device.strip().lower()
        if name in DEVICES:
            return name
        if name == "cuda:0":
            return "cuda"
        if name.startswith("cuda:"):
            raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:0' (DeepGrad uses one GPU), got {device!r}; "
                             "to use another GPU, select it first with cupy.cuda.Device(i).use()")
    raise ValueError(f"device must be 'cpu', 'cuda' or 'cuda:0', got {device!r}")


def device_of(x) -> str:
    """Where the array (or Tensor) ``x`` lives: ``"cuda"`` for a CuPy (device) array, else ``"cpu"``."""
    return "cpu" if _device_module_of(_unwrap(x)) is None else "cuda"


def to_device(x, device):
    """The array ``x`` on ``device`` (``"cpu"`` or ``"cuda"``): an explicit copy when it must move.

    An array already on ``device`` is returned as is (no copy), as PyTorch's ``Tensor.to`` does. Moving to
    ``"cuda"`` without CuPy or a GPU raises :class:`BackendError` saying which is missing.

    Inputs:
    - x: NumPy or CuPy array (or a list / number, treated as host data), any shape
    - device: "cpu", "cuda" or "cuda:0"

    Returns:
    - array of the same shape and dtype on ``device``
    """
    device = parse_device(device)
    x = _unwrap(x)
    if device == "cpu":
        return to_numpy(x)  # no copy for a NumPy array
    if device_of(x) == "cuda":
        return x
    return _cuda_module().asarray(x)


def check_same_device(*arrays, op: str | None = None) -> str:
    """The device shared by ``arrays`` (arrays or Tensors); a clear error when they are not all on one.

    Mixing devices is an error rather than a silent copy (the copy is what is slow on a real GPU).
    Python and NumPy scalars belong to no device (CuPy accepts them), so they are ignored; with no
    arrays at all the answer is :func:`default_device`.

    Raises:
    - RuntimeError naming both devices (and ``op`` when given) and how to move the data
    """
    devices = [device_of(a) for a in arrays if _is_array(_unwrap(a))]
    first = devices[0] if devices else default_device()
    for other in devices[1:]:
        if other != first:
            where = f" in {op!r}" if op else ""
            raise RuntimeError(
                f"expected all tensors to be on the same device, but found at least two devices, {first} and "
                f"{other}{where}; DeepGrad never copies between host and GPU implicitly: move the data "
                "explicitly with .to('cuda') / .cuda() or .to('cpu') / .cpu() (arrays: backend.to_device)")
    return first


def _is_array(x) -> bool:
    return isinstance(x, np.ndarray) or _device_module_of(x) is not None


def default_device() -> str:
    """The device new arrays are made on: ``"cuda"`` on the CuPy backend, else ``"cpu"``."""
    return "cpu" if _state["module"] is np else "cuda"


def synchronize(*arrays) -> None:
    """Wait until the GPU has finished the work queued so far (a no-op on the CPU).

    GPU kernels run asynchronously: a timer stopped without synchronising measures only the time to
    *queue* the work. With arrays, synchronises the device they live on; without, the backend in use.
    """
    module = get_array_module(*arrays)
    if module is np:
        return
    stream = getattr(getattr(module, "cuda", None), "get_current_stream", None)
    if stream is not None:
        stream().synchronize()


def register_device_array(array_type: type, module: types.ModuleType) -> None:
    """Treat arrays of ``array_type`` as "cuda" arrays whose array module is ``module``.

    A testing hook: it lets a machine without a GPU stand in a CuPy-like module (arrays that refuse
    implicit conversion to NumPy) so that device handling is tested everywhere. While a stand-in is
    registered, ``use("cupy")`` and ``to_device(x, "cuda")`` use it too. Undo with
    :func:`unregister_device_array`.
    """
    if not isinstance(array_type, type):
        raise TypeError(f"array_type must be a class, got {array_type!r}")
    if not hasattr(module, "asarray"):
        raise TypeError(f"module must be an array module with asarray(), got {module!r}")
    _device_arrays[array_type] = module


def unregister_device_array(array_type: type) -> None:
    """Forget a type registered with :func:`register_device_array` (and leave its backend if selected)."""
    module = _device_arrays.pop(array_type, None)
    if module is not None and _state["module"] is module:
        _state.update(name="numpy", module=np)


def _from_environment() -> None:
    name = os.environ.get("DEEPGRAD_BACKEND", "").strip()
    if name:
        use(name)


_from_environment()
