"""A stand-in for CuPy on machines without a GPU: "device" arrays that refuse to become NumPy arrays.

CuPy keeps its arrays in GPU memory, and any attempt to use one where NumPy expects host data fails:
``numpy.asarray(cupy_array)`` raises ``TypeError: Implicit conversion to a NumPy array is not allowed``,
and a CuPy function or operator given a NumPy array raises ``TypeError: Unsupported type``. Only
explicit transfers work: ``cupy.asarray(host)`` up, ``device_array.get()`` / ``cupy.asnumpy`` down.

This module reproduces exactly those rules around NumPy, so that every machine can check that DeepGrad
never copies between host and device behind the user's back:

    >>> import fake_cuda
    >>> with fake_cuda.installed():          # registered with deepgrad.backend as the "cuda" device
    ...     d = fake_cuda.cupy.asarray([1.0, 2.0])
    ...     deepgrad.backend.device_of(d)    # 'cuda'
    ...     np.ones(2) + d                   # TypeError, as with CuPy

``fake_cuda.cupy`` is the stand-in module (``cupy.exp``, ``cupy.random.default_rng``, ``cupy.add.at``,
...: NumPy's functions, wrapped). Computation really happens in NumPy on the host; only the rules about
crossing the boundary are enforced.
"""
from __future__ import annotations

import contextlib
import types

import numpy as np
from numpy.lib.mixins import NDArrayOperatorsMixin

from deepgrad import backend

# Every crossing of the host/device boundary, counted (tests assert on these; reset with reset_transfers()).
transfers = {"to_device": 0, "to_host": 0}


def reset_transfers() -> None:
    transfers.update(to_device=0, to_host=0)


IMPLICIT = ("Implicit conversion to a NumPy array is not allowed. "
            "Please use `.get()` to construct a NumPy array explicitly.")

# Array attributes forwarded to the NumPy array inside (CuPy arrays have all of these).
_ATTRIBUTES = {"shape", "dtype", "ndim", "size", "itemsize", "nbytes", "strides", "flags"}
_METHODS = {
    "reshape", "ravel", "flatten", "transpose", "swapaxes", "squeeze", "astype", "copy", "fill", "view",
    "sum", "mean", "var", "std", "prod", "max", "min", "argmax", "argmin", "cumsum", "any", "all", "clip",
    "dot", "round", "nonzero", "repeat", "take", "conj",
}


def _refuse(value):
    raise TypeError(f"Unsupported type {type(value)}: a device function was given host data (a NumPy "
                    "array); copy it to the device explicitly with cupy.asarray")


def _unwrap(value, allow_host: bool = False):
    """NumPy data for ``value``: device arrays give their storage; host arrays are refused (as CuPy does)."""
    if isinstance(value, FakeDeviceArray):
        return value._a
    if isinstance(value, np.ndarray):
        if not allow_host:
            _refuse(value)
        transfers["to_device"] += 1  # accepted host data is copied up, as CuPy does
        return value
    if isinstance(value, (list, tuple)):
        return type(value)(_unwrap(v, allow_host) for v in value)
    if isinstance(value, dict):
        return {k: _unwrap(v, allow_host) for k, v in value.items()}
    return value


def _wrap(value):
    """Results back on the device. Like CuPy, reductions give 0-d device arrays, not host scalars."""
    if isinstance(value, np.ndarray):
        return FakeDeviceArray(value)
    if isinstance(value, np.generic) and not isinstance(value, (np.str_, np.bytes_)):
        return FakeDeviceArray(np.asarray(value))
    if isinstance(value, tuple):
        return tuple(_wrap(v) for v in value)
    if isinstance(value, list):
        return [_wrap(v) for v in value]
    if isinstance(value, (np.random.Generator, np.random.RandomState)):
        return _Proxy(value)
    return value


class _Proxy:
    """A device version of a NumPy object (a function, a ufunc, a random generator): data in and out stay
    on the device, host arrays are refused."""

    def __init__(self, target, allow_host: bool = False):
        self._target = target
        self._allow_host = allow_host

    def __call__(self, *args, **kwargs):
        args, kwargs = _unwrap(args, self._allow_host), _unwrap(kwargs, self._allow_host)
        return _wrap(self._target(*args, **kwargs))

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        value = getattr(self._target, name)
        return _Proxy(value) if callable(value) and not isinstance(value, type) else value

    def __repr__(self) -> str:
        return f"<fake_cuda {self._target!r}>"


class FakeDeviceArray(NDArrayOperatorsMixin):
    """An array "in GPU memory": NumPy storage that cannot be reached implicitly from the host."""

    __slots__ = ("_a",)
    __array_priority__ = 1000  # NumPy defers binary operators to us, and we refuse host operands

    def __init__(self, array: np.ndarray):
        self._a = array

    # -- the boundary -------------------------------------------------------------------------------
    def __array__(self, dtype=None, copy=None):
        raise TypeError(IMPLICIT)

    def get(self) -> np.ndarray:
        """An explicit copy on the host (CuPy's ``ndarray.get``)."""
        transfers["to_host"] += 1
        return self._a.copy()

    def _scalar(self):
        transfers["to_host"] += 1  # a number read back from the device: a (small) transfer and a sync
        return self._a

    @property
    def __cuda_array_interface__(self) -> dict:
        """Present, as on CuPy arrays, so that code can recognise a device array without importing CuPy."""
        return {"shape": self._a.shape, "typestr": self._a.dtype.str, "data": (self._a.ctypes.data, False),
                "version": 3}

    @property
    def data(self):
        """Device memory is not a Python buffer (CuPy: a ``MemoryPointer``): no host view of it."""
        return _MemoryPointer(self._a.ctypes.data)

    @property
    def device(self):
        return "fake-cuda:0"

    # -- NumPy protocols: computations stay on the device, host operands are refused ---------------------
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        out = kwargs.get("out")
        result = getattr(ufunc, method)(*_unwrap(inputs), **_unwrap(kwargs))
        if out is not None:  # in place (a += b): hand back the very arrays written to
            return out[0] if len(out) == 1 else out
        return _wrap(result)

    def __array_function__(self, func, types_, args, kwargs):
        return _wrap(func(*_unwrap(args), **_unwrap(kwargs)))

    # -- the array API ---------------------------------------------------------------------------------
    def __getattr__(self, name):
        if name in _ATTRIBUTES:
            return getattr(self._a, name)
        if name in _METHODS:
            return _Proxy(getattr(self._a, name))
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def T(self):
        return FakeDeviceArray(self._a.T)

    def __getitem__(self, index):
        # CuPy accepts host index arrays (it copies them up); so do we.
        return _wrap(self._a[_unwrap(index, allow_host=True)])

    def __setitem__(self, index, value):
        # CuPy copies a host value into device memory here: an explicit assignment, so allowed.
        self._a[_unwrap(index, allow_host=True)] = _unwrap(value, allow_host=True)

    def __len__(self) -> int:
        return len(self._a)

    def __iter__(self):
        return (_wrap(row) for row in self._a)

    def __bool__(self) -> bool:
        return bool(self._scalar())

    def __float__(self) -> float:
        return float(self._scalar())

    def __int__(self) -> int:
        return int(self._scalar())

    def __index__(self) -> int:
        return self._scalar().__index__()

    def item(self):
        return self._scalar().item()

    def tolist(self):
        return self._scalar().tolist()

    def __copy__(self):
        return FakeDeviceArray(self._a.copy())

    def __deepcopy__(self, memo):
        return FakeDeviceArray(self._a.copy())

    def __reduce__(self):
        return FakeDeviceArray, (self._a,)

    def __repr__(self) -> str:
        return "fake_cuda." + repr(self._a)

    __hash__ = None


class _MemoryPointer:
    def __init__(self, ptr: int):
        self.ptr = ptr


# --------------------------------------------------------------------------------- the module stand-in
def _upload(a):
    """Host data (an array, a list, a number) for a new device array: counted as one transfer."""
    if not isinstance(a, np.ndarray):
        transfers["to_device"] += 1
    return _unwrap(a, allow_host=True)


def _asarray(a, dtype=None, order=None, *, copy=None):
    """Host (or device) data to the device: the one explicit way up, as ``cupy.asarray``."""
    if isinstance(a, FakeDeviceArray):
        return FakeDeviceArray(np.asarray(a._a, dtype=dtype, order=order))
    return FakeDeviceArray(np.array(_upload(a), dtype=dtype, order=order, copy=True))


def _array(a, dtype=None, copy=True, order="K", ndmin=0):
    if isinstance(a, FakeDeviceArray):
        return FakeDeviceArray(np.array(a._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin))
    return FakeDeviceArray(np.array(_upload(a), dtype=dtype, copy=True, order=order, ndmin=ndmin))


def _asnumpy(a, stream=None, order="C", out=None):
    return a.get() if isinstance(a, FakeDeviceArray) else np.asarray(a)


class _Stream:
    def synchronize(self) -> None:
        """Work on the stand-in is done as soon as it is called: nothing to wait for."""


class _Runtime:
    @staticmethod
    def getDeviceCount() -> int:
        return 1


class FakeCupyModule(types.ModuleType):
    """``cupy`` as far as DeepGrad uses it: NumPy's namespace with device arrays in and out."""

    ndarray = FakeDeviceArray
    asarray = staticmethod(_asarray)
    array = staticmethod(_array)
    asnumpy = staticmethod(_asnumpy)

    def __init__(self):
        super().__init__("fake_cupy", "A CuPy stand-in whose arrays refuse implicit conversion to NumPy.")
        self.cuda = types.SimpleNamespace(get_current_stream=_Stream, runtime=_Runtime,
                                          Device=lambda i=0: types.SimpleNamespace(synchronize=lambda: None))
        self.random = _Proxy(np.random)
        self.linalg = _Proxy(np.linalg)

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = getattr(np, name)
        if isinstance(value, (type, np.dtype)) or not callable(value):
            return value  # dtypes, constants (np.float32, np.pi, np.newaxis)
        return _Proxy(value)


cupy = FakeCupyModule()


def install() -> None:
    """Register the stand-in with deepgrad.backend as the "cuda" device."""
    backend.register_device_array(FakeDeviceArray, cupy)


def uninstall() -> None:
    backend.unregister_device_array(FakeDeviceArray)


@contextlib.contextmanager
def installed():
    """``with installed():`` the stand-in plays the GPU for the duration of the block (nesting is fine:
    only the outermost block uninstalls it)."""
    already = FakeDeviceArray in backend._device_arrays
    install()
    try:
        yield cupy
    finally:
        if not already:
            uninstall()
