"""The Tensor and its automatic differentiation engine (lecture: automatic differentiation).

A :class:`Tensor` holds an array (``.data``) and, when it was made by an operation, the name of that
operation (``.op``), the tensors it was made from (its *parents*) and two small rules:

* its **VJP** (vector-Jacobian product): given the gradient ``g`` of the final scalar with respect to
  this tensor, the gradients with respect to each parent — what reverse mode (backprop) needs;
* its **JVP** (Jacobian-vector product): given the tangents (directional derivatives) of the parents,
  the tangent of this tensor — what forward mode needs.

``loss.backward()`` orders the graph topologically (parents before children), then walks it backwards,
calling each node's VJP and *adding* the results into its parents' gradients: a tensor used twice
receives the sum of both contributions (gradients add at branches). Scalars are 0-d tensors, so the
lectures' scalar examples run on the same engine:

    >>> x, y, z = Tensor(-2.0, requires_grad=True), Tensor(5.0, requires_grad=True), Tensor(-4.0, requires_grad=True)
    >>> f = (x + y) * z
    >>> f.backward()
    >>> f.item(), float(x.grad), float(y.grad), float(z.grad)
    (-12.0, -4.0, -4.0, 3.0)

Conventions (as in PyTorch):

* Broadcasting works in every op; the engine sums a gradient back to the shape of the input it belongs to.
* Only leaves that require grad keep ``.grad`` after ``backward()``; call ``t.retain_grad()`` to keep an
  intermediate's, or ``backward(retain_graph_grads=True)`` to keep every node's (graph drawings use this).
* ``.grad`` is a Tensor (an array given to it is wrapped). Calling ``backward()`` again *adds* into it;
  clear it with ``zero_grad()`` (nn/optim), ``t.grad.zero_()`` or ``t.grad = None``.
* Comparisons (``==``, ``!=``, ``<``, ...) are elementwise and give boolean Tensors with no gradient. Tensors
  still hash by identity, so they sit in sets and dicts (the engine keys its bookkeeping by ``id``).
* In-place ops (``add_``, ``-=``, ``t[mask] = 0``, ...) change the data in place. As in PyTorch, a leaf that
  requires grad may only be changed so under :func:`no_grad` (the optimiser's update), and every change
  bumps the tensor's version: ``backward()`` refuses a graph whose saved inputs were changed since.
  DeepGrad records no in-place op in the graph: on a tensor that requires grad, write ``y = y + x``.
* ``max``/``min`` send the gradient to the arg-max; ties share it evenly (PyTorch's ``amax`` rule).
* The dtype is kept: float32 in gives float32 values and gradients.

Arrays may be NumPy or CuPy (``Tensor.to("cuda")``); the array module always follows the data.

The names an op records in ``Tensor.op`` are the keys of :data:`OPS`, listed at the end.
"""
from __future__ import annotations

import contextlib
import operator
from dataclasses import dataclass, field
from numbers import Number

import numpy as np

from . import backend, losses
from .checks import check_int

__all__ = [
    "Tensor", "tensor", "cat", "stack", "Function", "no_grad", "enable_grad", "is_grad_enabled", "set_grad_enabled", "from_op",
    "trace", "Graph", "GraphNode", "jvp", "vjp", "grad", "value_and_grad", "OPS",
]

_state = {"grad_enabled": True, "forward_mode": 0}

# Every op the engine records (``Tensor.op``): the symbol graph drawings show, and its local gradient rule
# in words, where {c} is the op's result, {p} the input the gradient is sent to and {o} the final output.
# Graph drawings (viz.graph) and the backprop explorer (widgets.backprop) take their symbols and rules
# from here; a test checks that every op named in a from_op call has an entry.
OPS = {
    "add": ("+", "∂{o}/∂{p} = ∂{o}/∂{c} · 1"),
    "sub": ("−", "∂{o}/∂{p} = ∂{o}/∂{c} · (±1)"),
    "mul": ("×", "∂{o}/∂{p} = ∂{o}/∂{c} · {other}"),
    "div": ("÷", "∂{o}/∂{p} = ∂{o}/∂{c} · {divrule}"),
    "neg": ("−", "∂{o}/∂{p} = ∂{o}/∂{c} · (−1)"),
    "pow": ("**", "∂{o}/∂{p} = ∂{o}/∂{c} · n·{p}ⁿ⁻¹"),
    "matmul": ("@", "∂{o}/∂{p} = ∂{o}/∂{c} times the other factor, transposed (G Bᵀ for A, Aᵀ G for B)"),
    "sum": ("Σ", "∂{o}/∂{p} = ∂{o}/∂{c}, copied to every summand"),
    "mean": ("mean", "∂{o}/∂{p} = ∂{o}/∂{c} / n, for each of the n averaged entries"),
    "max": ("max", "the gradient goes to the largest input"),
    "min": ("min", "the gradient goes to the smallest input"),
    "reshape": ("reshape", "∂{o}/∂{p} = ∂{o}/∂{c}, reshaped back to {p}'s shape"),
    "transpose": ("ᵀ", "∂{o}/∂{p} = ∂{o}/∂{c}, transposed back"),
    "getitem": ("[ ]", "∂{o}/∂{p} = ∂{o}/∂{c} at the picked entries, 0 elsewhere"),
    "sin": ("sin", "∂{o}/∂{p} = ∂{o}/∂{c} · cos({p})"),
    "cos": ("cos", "∂{o}/∂{p} = ∂{o}/∂{c} · (−sin({p}))"),
    "exp": ("exp", "∂{o}/∂{p} = ∂{o}/∂{c} · exp({p}) = ∂{o}/∂{c} · {c}"),
    "log": ("log", "∂{o}/∂{p} = ∂{o}/∂{c} / {p}"),
    "sqrt": ("√", "∂{o}/∂{p} = ∂{o}/∂{c} / (2√{p})"),
    "abs": ("|x|", "∂{o}/∂{p} = ∂{o}/∂{c} · sign({p})"),
    "relu": ("ReLU", "∂{o}/∂{p} = ∂{o}/∂{c} · [{p} > 0]"),
    "leaky_relu": ("LReLU", "∂{o}/∂{p} = ∂{o}/∂{c} · (1 where {p} > 0, else the negative slope)"),
    "sigmoid": ("σ", "∂{o}/∂{p} = ∂{o}/∂{c} · σ(1 − σ)"),
    "tanh": ("tanh", "∂{o}/∂{p} = ∂{o}/∂{c} · (1 − tanh²)"),
    "clip": ("clip", "∂{o}/∂{p} = ∂{o}/∂{c} · [min ≤ {p} ≤ max]"),
    "softmax": ("softmax", "∂{o}/∂{p} = s · (∂{o}/∂{c} − Σ s · ∂{o}/∂{c}), s = softmax({p})"),
    "log_softmax": ("log\nsoftmax", "∂{o}/∂{p} = ∂{o}/∂{c} − softmax({p}) · Σ ∂{o}/∂{c}"),
    "cat": ("cat", "∂{o}/∂{p} = ∂{o}/∂{c}, the slice that came from {p}"),
    "clone": ("clone", "∂{o}/∂{p} = ∂{o}/∂{c} · 1"),
    "cast": ("cast", "∂{o}/∂{p} = ∂{o}/∂{c}, converted back to {p}'s dtype"),
    "function": ("f", "∂{o}/∂{p} = what the Function's own backward returns for {p}"),
    "to": ("to", "∂{o}/∂{p} = ∂{o}/∂{c}, moved back to {p}'s device"),
    "linear": ("xW+b", "∂{o}/∂x = ∂{o}/∂{c} Wᵀ, ∂{o}/∂W = xᵀ ∂{o}/∂{c}, ∂{o}/∂b = Σ over the batch of ∂{o}/∂{c}"),
    "cross_entropy": ("CE", "∂{o}/∂{p} = ∂{o}/∂{c} · (softmax({p}) − onehot(y)) / N"),
    "bce_with_logits": ("BCE", "∂{o}/∂x = ∂{o}/∂{c} · (σ(x) − y), ∂{o}/∂y = ∂{o}/∂{c} · (−x) (÷ N for the mean)"),
}

# The ops whose VJP reads their inputs' or their result's data later, as PyTorch saves them for backward:
# backward refuses to run through one of them when that data was changed in place since (version counters).
SAVES_INPUTS = {"mul", "div", "pow", "matmul", "log", "sin", "cos", "abs", "clip", "leaky_relu", "max", "min",
                "linear", "cross_entropy", "bce_with_logits", "function"}
SAVES_RESULT = {"exp", "sqrt", "relu", "sigmoid", "tanh", "softmax", "log_softmax", "max", "min"}


# ------------------------------------------------------------------------------------------ grad mode
def is_grad_enabled() -> bool:
    """True when new operations record the graph (outside :func:`no_grad`)."""
    return _state["grad_enabled"]


@contextlib.contextmanager
def set_grad_enabled(mode: bool):
    """Context manager that turns graph recording on or off for its block."""
    previous = _state["grad_enabled"]
    _state["grad_enabled"] = bool(mode)
    try:
        yield
    finally:
        _state["grad_enabled"] = previous


def no_grad():
    """Context manager: operations in the block record no graph (evaluation, optimiser updates)."""
    return set_grad_enabled(False)


def enable_grad():
    """Context manager: record the graph again inside a :func:`no_grad` block."""
    return set_grad_enabled(True)


# ---------------------------------------------------------------------------------------- helpers
def _is_cuda(array) -> bool:
    return not isinstance(array, np.ndarray) and backend.device_of(array) == "cuda"


def _unbroadcast(g, shape):
    """Sum ``g`` down to ``shape``: the gradient of a broadcast input adds over the copies it made."""
    extra = g.ndim - len(shape)
    if extra:
        g = g.sum(axis=tuple(range(extra)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and g.shape[i] != 1)
    if axes:
        g = g.sum(axis=axes, keepdims=True)
    return g


def _expand(g, shape, axis, keepdims):
    """Undo a reduction over ``axis``: put the reduced axes back (size 1) so ``g`` broadcasts to ``shape``."""
    if axis is not None and not keepdims:
        g = backend.get_array_module(g).expand_dims(g, axis)
    elif axis is None and not keepdims:
        g = g.reshape((1,) * len(shape))
    return g


def _axis(axis, dim, default=None):
    """The axis of a reduction given as NumPy's ``axis`` or PyTorch's ``dim`` (not both)."""
    if axis is not None and dim is not None:
        raise TypeError(f"give the axis once, as axis= or as dim=, got axis={axis!r} and dim={dim!r}")
    return default if axis is None and dim is None else (dim if axis is None else axis)


def _keepdims(keepdims, keepdim):
    return keepdims if keepdim is None else bool(keepdim)


def _check_devices(a, b, op=None):
    if a.__class__ is not b.__class__:  # same array type: same device, no need to ask (the common case)
        backend.check_same_device(a, b, op=op)


def _as_array(data, dtype=None):
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, np.ndarray) or _is_cuda(data):
        return data if dtype is None else data.astype(dtype, copy=False)
    if isinstance(data, np.generic):
        return np.asarray(data, dtype=dtype)
    if isinstance(data, (list, tuple)) and any(isinstance(d, Tensor) for d in data):
        data = [_as_array(d) for d in data]
    # Python numbers and (nested) lists: the default float dtype (float64 unless set_default_dtype said
    # otherwise, as the course's gradient checks need).
    xp = backend.xp()
    return xp.asarray(data, dtype=backend.default_float() if dtype is None else dtype)


class _GradFn:
    """What ``Tensor.grad_fn`` shows: the op that made a tensor (PyTorch prints ``<MulBackward0 ...>``)."""

    __slots__ = ("op",)

    def __init__(self, op):
        self.op = op

    def name(self) -> str:
        return f"{self.op.title().replace('_', '')}Backward"

    __repr__ = lambda self: f"<{self.name()}>"  # noqa: E731


# ---------------------------------------------------------------------------------------------- Tensor
class Tensor:
    """An array that remembers how it was computed, so that gradients can flow back through it.

    Inputs:
    - data: a NumPy/CuPy array (dtype kept), a Tensor (its data), a Python number or list (the default
      float dtype: float64 unless ``deepgrad.set_default_dtype`` chose float32)
    - requires_grad: if True, ``backward()`` computes ``.grad`` for this tensor
    - dtype: optional dtype to convert to
    - label: optional display name, used by :func:`trace` and graph drawings

    Attributes: ``data``, ``grad`` (a Tensor of ``data``'s shape, or None), ``requires_grad``, ``op`` (name of
    the operation that made it, ``''`` for leaves), ``parents`` (tuple of Tensors), ``label``, ``tangent``
    (forward mode, see :func:`jvp`).
    """

    __slots__ = ("_data", "_grad", "requires_grad", "op", "_parents", "_vjp", "_jvp", "label", "tangent",
                 "_retain", "_version", "_versions", "__weakref__")

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        """NumPy meeting a Tensor: ``array * t`` is the Tensor op (recorded); ``array -= t`` updates the array
        in place; any other ufunc (``np.isfinite(t.grad)``) computes on the data and returns an array."""
        if out is None and method == "__call__" and ufunc in _OPERATORS and not kwargs:
            like = next(x for x in inputs if isinstance(x, Tensor))
            return _OPERATORS[ufunc](*(_lift(x, like) for x in inputs))
        inputs = tuple(_data(x) for x in inputs)
        if out is not None:
            kwargs["out"] = tuple(_data(o) for o in out)
        return getattr(ufunc, method)(*inputs, **kwargs)

    def __init__(self, data, requires_grad: bool = False, dtype=None, label: str | None = None):
        self._data = _as_array(data, dtype)
        if requires_grad and self._data.dtype.kind not in "fc":
            raise TypeError(f"requires_grad=True needs a floating-point tensor, got dtype {self._data.dtype} "
                            "(pass dtype=np.float64 or float data)")
        self._grad = None
        self.requires_grad = bool(requires_grad)
        self.op = ""
        self._parents = ()
        self._vjp = self._jvp = None
        self.label = label
        self.tangent = None
        self._retain = False
        self._version, self._versions = 0, ()

    @property
    def data(self):
        """The array (NumPy or CuPy). Assigning a Tensor stores its array (``p.data -= lr * p.grad`` works)."""
        return self._data

    @data.setter
    def data(self, value):
        self._data = value._data if isinstance(value, Tensor) else value

    @property
    def grad(self):
        """The gradient as a Tensor of ``data``'s shape (None before ``backward()``); arrays are wrapped."""
        return self._grad

    @grad.setter
    def grad(self, value):
        self._grad = value if value is None or isinstance(value, Tensor) else Tensor(value)

    # ------------------------------------------------------------------------------- array-like info
    shape = property(lambda self: self.data.shape, doc="Shape of the data.")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    dtype = property(lambda self: self.data.dtype, doc="dtype of the data.")
    parents = property(lambda self: self._parents, doc="The tensors this one was computed from.")
    is_leaf = property(lambda self: not self._parents, doc="True for tensors not made by a recorded op.")
    grad_fn = property(lambda self: _GradFn(self.op) if self._parents else None,
                       doc="The op that made this tensor (None for a leaf), as PyTorch's ``grad_fn``.")

    def size(self, dim: int | None = None):
        """The shape (PyTorch's ``size()``), or its length along ``dim``."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def numel(self) -> int:
        """Number of elements."""
        return self.data.size

    def dim(self) -> int:
        return self.data.ndim

    @property
    def device(self) -> str:
        """``'cuda'`` when the data is a CuPy array, else ``'cpu'``."""
        return "cuda" if _is_cuda(self.data) else "cpu"

    def __len__(self):
        return len(self.data)

    def __repr__(self):
        extra = (", requires_grad=True" if self.requires_grad else "") + (f", op={self.op!r}" if self.op else "")
        extra += f", label={self.label!r}" if self.label else ""
        body = np.array2string(backend.to_numpy(self.data), separator=", ", prefix="Tensor(")
        return f"Tensor({body}{extra})"

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item() needs a tensor with one element, got shape {self.shape}")
        return self.data.item()

    def __bool__(self):
        return bool(self.item())

    def __float__(self):
        return float(self.item())

    def __reduce__(self):  # pickled (deepgrad.save) as a host array; a graph is never saved
        return type(self), (backend.to_numpy(self.data), self.requires_grad)

    def __format__(self, spec):
        return format(self.item(), spec) if spec else repr(self)

    def numpy(self) -> np.ndarray:
        """The data as a NumPy array, sharing memory as PyTorch does; a host copy of a GPU tensor's data."""
        return self.data if isinstance(self.data, np.ndarray) else backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        if not isinstance(self.data, np.ndarray):  # as PyTorch: copying a GPU tensor home must be explicit
            raise TypeError(f"cannot convert a tensor on {self.device} to a NumPy array implicitly; "
                            "use .cpu() or .numpy() first")
        out = self.data
        return out if dtype is None else out.astype(dtype)

    def tolist(self):
        return backend.to_numpy(self.data).tolist()

    def detach(self) -> Tensor:
        """The same data as a new leaf that requires no grad (no copy)."""
        return Tensor(self.data)

    def clone(self) -> Tensor:
        """A copy of the data, still in the graph (the gradient passes through unchanged)."""
        return from_op(self.data.copy(), (self,), "clone", lambda g: (g,), lambda da: da)

    # -------------------------------------------------------------------------------------- in place
    def _inplace(self, name):
        """PyTorch's check before changing ``self`` in place, then the bump of its version."""
        if self.requires_grad and _state["grad_enabled"]:
            if not self._parents:
                raise RuntimeError(f"{name}: a leaf tensor that requires grad is changed in place; do it under "
                                   "no_grad() (an optimiser's update) or on .data")
            raise RuntimeError(f"{name}: DeepGrad records no in-place op in the graph; write y = y + x instead")
        self._version += 1

    def _assign(self, name, value):
        self._inplace(name)
        xp = backend.get_array_module(self.data)
        self.data[...] = xp.asarray(_data(value), dtype=self.data.dtype)
        return self

    def __setitem__(self, index, value):
        """``t[index] = value`` in place (``t[mask] = 0``), under the checks of :meth:`_inplace`."""
        self._inplace("__setitem__")
        index = tuple(_data(i) for i in index) if isinstance(index, tuple) else _data(index)
        self.data[index] = _data(value)

    def zero_(self) -> Tensor:
        """Fill the data with zeros in place."""
        return self._assign("zero_", 0)

    def fill_(self, value) -> Tensor:
        return self._assign("fill_", value)

    def copy_(self, src) -> Tensor:
        return self._assign("copy_", src)

    def add_(self, other, *, alpha=1) -> Tensor:
        return self._assign("add_", self.data + alpha * _data(other))

    def sub_(self, other, *, alpha=1) -> Tensor:
        return self._assign("sub_", self.data - alpha * _data(other))

    def mul_(self, other) -> Tensor:
        return self._assign("mul_", self.data * _data(other))

    def div_(self, other) -> Tensor:
        return self._assign("div_", self.data / _data(other))

    def clamp_(self, min=None, max=None) -> Tensor:
        return self._assign("clamp_", backend.get_array_module(self.data).clip(self.data, min, max))

    def _augmented(self, name, op, other):
        """``self op= other``: in place, except on a non-leaf that records the graph, which Python rebinds."""
        if self.requires_grad and _state["grad_enabled"] and self._parents:
            return getattr(self, op)(other)
        return self._assign(name, getattr(self.data, op)(_data(other)))

    def __iadd__(self, other):
        return self._augmented("+=", "__add__", other)

    def __isub__(self, other):
        return self._augmented("-=", "__sub__", other)

    def __imul__(self, other):
        return self._augmented("*=", "__mul__", other)

    def __itruediv__(self, other):
        return self._augmented("/=", "__truediv__", other)

    def retain_grad(self) -> Tensor:
        """Keep this (non-leaf) tensor's ``.grad`` after ``backward()``."""
        self._retain = True
        return self

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = bool(requires_grad)
        return self

    def argmax(self, axis=None, *, dim=None, keepdim=False):
        """Index of the largest entry as an int64 Tensor (not differentiable)."""
        axis = _axis(axis, dim)
        out = self.data.argmax(axis=axis, keepdims=bool(keepdim) if axis is not None else False)
        return Tensor(backend.get_array_module(out).asarray(out, dtype=np.int64))

    def argmin(self, axis=None, *, dim=None, keepdim=False):
        return (-self.detach()).argmax(axis, dim=dim, keepdim=keepdim)

    def round(self, decimals: int = 0) -> Tensor:
        """Rounded values (not differentiable)."""
        return Tensor(self.data.round(decimals))

    def all(self) -> Tensor:
        return Tensor(self.data.all())

    def any(self) -> Tensor:
        return Tensor(self.data.any())

    # --------------------------------------------------------------------------------------- devices
    def to(self, device=None, dtype=None) -> Tensor:
        """This tensor on ``device`` (``'cpu'``, ``'cuda'`` or ``'cuda:0'``) and/or of ``dtype``; itself when
        already there. ``t.to(np.float32)`` converts the dtype (as PyTorch, a dtype may come first).

        Moving is differentiable: the gradient is moved back. Needs CuPy and a GPU for ``'cuda'``
        (otherwise :class:`deepgrad.backend.BackendError` says what is missing).
        """
        if device is not None and not isinstance(device, str):  # t.to(dtype)
            device, dtype = None, device
        out = self if dtype is None else self.type(dtype)
        return out if device is None else out._to_device(device)

    def type(self, dtype=None):
        """This tensor as ``dtype`` (differentiable between float types); without one, the dtype's name."""
        if dtype is None:
            return f"deepgrad.{np.dtype(self.dtype).name}"
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        return from_op(self.data.astype(dtype), (self,), "cast", lambda g: (g,), lambda da: da.astype(dtype))

    float = lambda self: self.type(np.float32)  # noqa: E731 (PyTorch's casts)
    double = lambda self: self.type(np.float64)  # noqa: E731
    long = lambda self: self.type(np.int64)  # noqa: E731
    int = lambda self: self.type(np.int32)  # noqa: E731
    bool = lambda self: self.type(np.bool_)  # noqa: E731

    def _to_device(self, device) -> Tensor:
        target = backend.parse_device(device)
        if target == self.device:
            return self
        here = self.device
        move = lambda a: backend.to_device(a, target)  # noqa: E731 (BackendError when CuPy/GPU is missing)
        back = lambda a: backend.to_device(a, here)  # noqa: E731
        out = from_op(move(self.data), (self,), "to", lambda g: (back(g),), lambda t: move(t))
        if not out._parents:  # a leaf moved outside autograd stays a leaf
            out.requires_grad = self.requires_grad
        out.label = self.label
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self) -> Tensor:
        return self.to("cuda")

    # ------------------------------------------------------------------------------------- backward
    def backward(self, gradient=None, retain_graph=None, retain_graph_grads: bool = False):
        """Backpropagate: add d(self)/d(leaf) into ``.grad`` of every leaf that requires grad.

        Inputs:
        - gradient: upstream gradient of self's shape; may be omitted only for a one-element tensor (1 is used)
        - retain_graph: accepted for PyTorch's scripts; DeepGrad always keeps the graph, so a second
          ``backward()`` through it works with or without it
        - retain_graph_grads: if True, every node of the graph (not just leaves) keeps its ``.grad``,
          so that :func:`trace` can show the gradient flowing into each node
        """
        if not self.requires_grad:
            raise RuntimeError("backward() on a tensor that does not require grad: no input of the graph has "
                               "requires_grad=True (or it was computed under no_grad())")
        xp = backend.get_array_module(self.data)
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(f"backward() without a gradient needs a scalar output, got shape {self.shape}; "
                                   "reduce it first (e.g. .sum()) or pass gradient= of the same shape")
            gradient = xp.ones_like(self.data)
        else:
            gradient = _as_array(gradient, self.dtype).copy()  # the caller's array never becomes a .grad
            if gradient.shape != self.shape:
                raise ValueError(f"gradient must have the output's shape {self.shape}, got {gradient.shape}")
        grads, stored = {id(self): gradient}, set()
        for node in reversed(_topological_order(self, grad_only=True)):
            g = grads.pop(id(node), None)
            if g is None:
                continue
            if not node._parents or node._retain or retain_graph_grads:
                node._add_to_grad(g, stored)
            if not node._parents:
                continue
            node._check_saved_unchanged()
            for parent, pg in zip(node._parents, node._vjp(g), strict=True):
                if pg is None or not parent.requires_grad:
                    continue
                if pg.shape != parent.data.shape:
                    pg = _unbroadcast(pg, parent.data.shape)
                if pg.dtype != parent.data.dtype:
                    pg = pg.astype(parent.data.dtype)
                key = id(parent)
                grads[key] = pg if key not in grads else grads[key] + pg

    def _add_to_grad(self, g, stored: set):
        """``.grad += g``. A view (e.g. of a broadcast) may be read-only, and one array may reach two tensors
        (``x + y`` sends g to both): each new ``.grad`` gets an array of its own, as ``.grad.zero_()`` works
        in place. ``stored`` holds the ids of the arrays given out in this backward pass."""
        if self._grad is not None:
            self._grad.data = self._grad.data + g
            return
        if not g.flags.owndata or id(g) in stored:
            g = g.copy()
        stored.add(id(g))
        self._grad = Tensor(g)

    def _check_saved_unchanged(self):
        """PyTorch's version check: what this op's VJP reads must not have changed in place since."""
        if (self._version and self.op in SAVES_RESULT) or (self.op in SAVES_INPUTS and any(
                p._version != v for p, v in zip(self._parents, self._versions, strict=True))):
            raise RuntimeError(f"a tensor needed to backpropagate through {self.op!r} was changed in place "
                               "after it was used (its version moved on); clone it before changing it")

    # ---------------------------------------------------------------------------------- arithmetic
    def __add__(self, other):
        other = _lift(other, self)
        a, b = self.data, other.data
        return from_op(a + b, (self, other), "add", lambda g: (g, g), lambda da, db: da + db)

    __radd__ = __add__

    def __sub__(self, other):
        other = _lift(other, self)
        return from_op(self.data - other.data, (self, other), "sub", lambda g: (g, -g), lambda da, db: da - db)

    def __rsub__(self, other):
        return _lift(other, self) - self

    def __mul__(self, other):
        other = _lift(other, self)
        a, b = self.data, other.data
        return from_op(a * b, (self, other), "mul", lambda g: (g * b, g * a), lambda da, db: da * b + a * db)

    __rmul__ = __mul__

    def __truediv__(self, other):
        other = _lift(other, self)
        a, b = self.data, other.data
        out = a / b
        return from_op(out, (self, other), "div",
                       lambda g: (g / b, -g * out / b),
                       lambda da, db: (da - out * db) / b)

    def __rtruediv__(self, other):
        return _lift(other, self) / self

    def __neg__(self):
        return from_op(-self.data, (self,), "neg", lambda g: (-g,), lambda da: -da)

    def __pos__(self):
        return self

    def __pow__(self, exponent):
        if isinstance(exponent, Tensor):  # x ** p, p a tensor: d/dx = p x^(p-1), d/dp = x^p log x
            a, p = self.data, exponent.data
            out = (a ** p).astype(a.dtype if a.dtype.kind == "f" else None, copy=False)
            log = backend.get_array_module(a).log
            return from_op(out, (self, exponent), "pow",
                           lambda g: (g * p * a ** (p - 1) if self.requires_grad else None,
                                      g * out * log(a) if exponent.requires_grad else None),
                           lambda da, dp: da * p * a ** (p - 1) + dp * out * log(a))
        if not isinstance(exponent, Number):
            raise TypeError(f"exponent must be a Python number or a Tensor, got {type(exponent).__name__}")
        a, p = self.data, exponent
        if p == 0:  # x**0 is the constant 1: slope 0, also at a = 0 where p * a**(p-1) would be 0 * inf
            slope = backend.get_array_module(a).zeros_like(a)
        else:
            slope = 2 * a if p == 2 else p * a ** (p - 1)  # d(a^p)/da
        return from_op(a ** p, (self,), "pow", lambda g: (g * slope,), lambda da: slope * da)

    def __matmul__(self, other):
        other = _lift(other, self)
        a, b = self.data, other.data
        A, B = self, other
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul needs tensors with at least 1 dimension, got shapes {a.shape} and {b.shape}")

        def vjp(g):
            # Skip the product an input does not need (e.g. d/dx of the data): it costs as much as dW.
            if a.ndim == 1 and b.ndim == 1:
                return g * b, g * a
            if a.ndim == 1:   # (k,) @ (..., k, m) -> (..., m)
                return ((b @ g[..., None])[..., 0] if A.requires_grad else None,
                        a[:, None] * g[..., None, :] if B.requires_grad else None)
            if b.ndim == 1:   # (..., n, k) @ (k,) -> (..., n)
                return (g[..., None] * b if A.requires_grad else None,
                        (a.swapaxes(-1, -2) @ g[..., None])[..., 0] if B.requires_grad else None)
            return (g @ b.swapaxes(-1, -2) if A.requires_grad else None,
                    a.swapaxes(-1, -2) @ g if B.requires_grad else None)

        return from_op(a @ b, (self, other), "matmul", vjp, lambda da, db: da @ b + a @ db)

    def __rmatmul__(self, other):
        return _lift(other, self) @ self

    # Comparisons are elementwise and give boolean Tensors: they have no gradient.
    def __lt__(self, other):
        return Tensor(self.data < _data(other))

    def __le__(self, other):
        return Tensor(self.data <= _data(other))

    def __gt__(self, other):
        return Tensor(self.data > _data(other))

    def __ge__(self, other):
        return Tensor(self.data >= _data(other))

    def __eq__(self, other):
        return Tensor(self.data == _data(other))

    def __ne__(self, other):
        return Tensor(self.data != _data(other))

    __hash__ = object.__hash__  # identity, as PyTorch: tensors stay usable as dict keys and in sets

    def __invert__(self):
        return Tensor(~self.data)

    def __and__(self, other):
        return Tensor(self.data & _data(other))

    def __or__(self, other):
        return Tensor(self.data | _data(other))

    # PyTorch's method names for the operators
    add = lambda self, other: self + other  # noqa: E731
    sub = lambda self, other: self - other  # noqa: E731
    mul = lambda self, other: self * other  # noqa: E731
    div = lambda self, other: self / other  # noqa: E731
    matmul = mm = lambda self, other: self @ other
    pow = lambda self, exponent: self ** exponent  # noqa: E731
    t = lambda self: self.transpose()  # noqa: E731

    # ------------------------------------------------------------------------------------ reductions
    def sum(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        """Sum over ``axis`` (int, tuple or None for all); the gradient copies ``g`` to every summand.

        Every reduction takes NumPy's names (``axis``, ``keepdims``) or PyTorch's (``dim``, ``keepdim``).
        """
        axis, keepdims = _axis(axis, dim), _keepdims(keepdims, keepdim)
        shape = self.shape
        xp = backend.get_array_module(self.data)
        return from_op(self.data.sum(axis=axis, keepdims=keepdims), (self,), "sum",
                       lambda g: (xp.broadcast_to(_expand(g, shape, axis, keepdims), shape),),
                       lambda da: da.sum(axis=axis, keepdims=keepdims))

    def mean(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        """Mean over ``axis``; the gradient is ``g / n`` for each of the n averaged entries."""
        axis, keepdims = _axis(axis, dim), _keepdims(keepdims, keepdim)
        shape = self.shape
        if axis is None:
            n = self.data.size
        else:
            n = int(np.prod([shape[ax] for ax in ((axis,) if isinstance(axis, int) else axis)]))
        xp = backend.get_array_module(self.data)
        scale = 1.0 / n if n else float("nan")  # the mean of nothing is NaN (and its gradient is empty)
        return from_op(self.data.mean(axis=axis, keepdims=keepdims), (self,), "mean",
                       lambda g: (xp.broadcast_to(_expand(g, shape, axis, keepdims) * scale, shape),),
                       lambda da: da.mean(axis=axis, keepdims=keepdims))

    def max(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        """Largest entry over ``axis``; the gradient goes to the arg-max, shared evenly between ties."""
        return self._extreme("max", _axis(axis, dim), _keepdims(keepdims, keepdim))

    def min(self, axis=None, keepdims: bool = False, *, dim=None, keepdim=None):
        """Smallest entry over ``axis``; gradient rule as :meth:`max`."""
        return self._extreme("min", _axis(axis, dim), _keepdims(keepdims, keepdim))

    def _extreme(self, kind, axis, keepdims):
        a = self.data
        best = a.max(axis=axis, keepdims=True) if kind == "max" else a.min(axis=axis, keepdims=True)
        share = (a == best).astype(a.dtype)
        share /= share.sum(axis=axis, keepdims=True)
        out = best if keepdims else (best.reshape(()) if axis is None else best.squeeze(axis))
        return from_op(out, (self,), kind,
                       lambda g: (_expand(g, a.shape, axis, keepdims) * share,),
                       lambda da: (da * share).sum(axis=axis, keepdims=keepdims))

    # --------------------------------------------------------------------------------- shape ops
    def reshape(self, *shape):
        shape = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list)) else shape
        old = self.shape
        return from_op(self.data.reshape(shape), (self,), "reshape",
                       lambda g: (g.reshape(old),), lambda da: da.reshape(shape))

    view = reshape

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """Merge the axes ``start_dim..end_dim`` (both included) into one."""
        n = self.ndim
        start, end = start_dim % n if n else 0, end_dim % n if n else 0
        return self.reshape(self.shape[:start] + (-1,) + self.shape[end + 1:]) if n else self.reshape(1)

    def unsqueeze(self, dim: int):
        """A new axis of length 1 at ``dim``."""
        dim = dim % (self.ndim + 1)
        return self.reshape(self.shape[:dim] + (1,) + self.shape[dim:])

    def squeeze(self, dim: int | None = None):
        """Drop the axes of length 1 (only ``dim`` when given, if it has length 1)."""
        if dim is None:
            return self.reshape(tuple(n for n in self.shape if n != 1))
        dim = dim % self.ndim
        return self.reshape(self.shape[:dim] + self.shape[dim + 1:]) if self.shape[dim] == 1 else self

    def transpose(self, *axes):
        """Permute axes (all reversed by default, as NumPy); ``.T`` is the same."""
        axes = axes[0] if len(axes) == 1 and isinstance(axes[0], (tuple, list)) else (axes or None)
        inverse = None if axes is None else tuple(np.argsort(axes))
        return from_op(self.data.transpose(axes), (self,), "transpose",
                       lambda g: (g.transpose(inverse),), lambda da: da.transpose(axes))

    T = property(lambda self: self.transpose(), doc="All axes reversed (the matrix transpose for 2-D).")

    def __getitem__(self, index):
        """Indexing by ints, slices, None, Ellipsis or integer/boolean arrays.

        The gradient is scattered back into a zero array; with integer arrays an entry picked twice
        receives both gradients (``np.add.at``).
        """
        index = tuple(_data(i) for i in index) if isinstance(index, tuple) else _data(index)
        a = self.data
        parts = index if isinstance(index, tuple) else (index,)
        # Ints, slices and one boolean mask pick each entry at most once: plain assignment scatters back.
        basic = all(isinstance(i, (int, np.integer, slice, type(None), type(Ellipsis))) for i in parts) or (
            len(parts) == 1 and getattr(getattr(parts[0], "dtype", None), "kind", "") == "b")

        def vjp(g):
            xp = backend.get_array_module(g)
            full = xp.zeros(a.shape, dtype=g.dtype)
            if basic:  # each entry picked at most once
                full[index] = g
            else:
                xp.add.at(full, index, g)
            return (full,)

        return from_op(a[index], (self,), "getitem", vjp, lambda da: da[index])

    # ------------------------------------------------------------------------------ elementwise
    def sin(self):
        a = self.data
        xp = backend.get_array_module(a)
        cos = xp.cos(a)
        return from_op(xp.sin(a), (self,), "sin", lambda g: (g * cos,), lambda da: da * cos)

    def cos(self):
        a = self.data
        xp = backend.get_array_module(a)
        minus_sin = -xp.sin(a)
        return from_op(xp.cos(a), (self,), "cos", lambda g: (g * minus_sin,), lambda da: da * minus_sin)

    def exp(self):
        out = backend.get_array_module(self.data).exp(self.data)
        return from_op(out, (self,), "exp", lambda g: (g * out,), lambda da: da * out)

    def log(self):
        a = self.data
        return from_op(backend.get_array_module(a).log(a), (self,), "log", lambda g: (g / a,), lambda da: da / a)

    def sqrt(self):
        out = backend.get_array_module(self.data).sqrt(self.data)
        return from_op(out, (self,), "sqrt", lambda g: (g / (2 * out),), lambda da: da / (2 * out))

    def abs(self):
        a = self.data
        xp = backend.get_array_module(a)
        sign = xp.sign(a)  # 0 at 0, as PyTorch
        return from_op(xp.abs(a), (self,), "abs", lambda g: (g * sign,), lambda da: da * sign)

    __abs__ = abs

    def relu(self):
        a = self.data
        mask = a > 0
        return from_op(backend.get_array_module(a).maximum(a, 0), (self,), "relu", lambda g: (g * mask,), lambda da: da * mask)

    def leaky_relu(self, negative_slope: float = 0.01):
        a = self.data
        xp = backend.get_array_module(a)
        slope = xp.where(a > 0, 1, negative_slope).astype(a.dtype)
        return from_op(a * slope, (self,), "leaky_relu", lambda g: (g * slope,), lambda da: da * slope)

    def sigmoid(self):
        out = losses.sigmoid(self.data)  # accurate far below 0, as layers.sigmoid_forward (the same code)
        local = out * (1 - out)
        return from_op(out, (self,), "sigmoid", lambda g: (g * local,), lambda da: da * local)

    def tanh(self):
        out = backend.get_array_module(self.data).tanh(self.data)
        local = 1 - out * out
        return from_op(out, (self,), "tanh", lambda g: (g * local,), lambda da: da * local)

    def clip(self, min=None, max=None):
        """Clamp into ``[min, max]``; the gradient passes where ``min <= x <= max`` (PyTorch's rule)."""
        a = self.data
        xp = backend.get_array_module(a)
        inside = xp.ones(a.shape, dtype=bool)
        if min is not None:
            inside &= a >= min
        if max is not None:
            inside &= a <= max
        return from_op(xp.clip(a, min, max), (self,), "clip", lambda g: (g * inside,), lambda da: da * inside)

    clamp = clip

    def softmax(self, axis: int | None = None, *, dim=None):
        """Softmax along ``axis`` (or ``dim``; the last by default), computed after subtracting the max."""
        axis = _axis(axis, dim, default=-1)
        a = self.data
        xp = backend.get_array_module(a)
        e = xp.exp(a - a.max(axis=axis, keepdims=True))
        p = e / e.sum(axis=axis, keepdims=True)
        return from_op(p, (self,), "softmax",
                       lambda g: (p * (g - (g * p).sum(axis=axis, keepdims=True)),),
                       lambda da: p * (da - (da * p).sum(axis=axis, keepdims=True)))

    def log_softmax(self, axis: int | None = None, *, dim=None):
        """``log(softmax(x))`` along ``axis`` (or ``dim``; the last by default) as ``x - logsumexp(x)``."""
        axis = _axis(axis, dim, default=-1)
        a = self.data
        xp = backend.get_array_module(a)
        shifted = a - a.max(axis=axis, keepdims=True)
        out = shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))
        p = xp.exp(out)
        return from_op(out, (self,), "log_softmax",
                       lambda g: (g - p * g.sum(axis=axis, keepdims=True),),
                       lambda da: da - (p * da).sum(axis=axis, keepdims=True))


def _data(x):
    return x.data if isinstance(x, Tensor) else x


# The ufuncs behind Python's operators: NumPy hands ``array + tensor`` to the Tensor op of the same name.
_OPERATORS = {np.add: operator.add, np.subtract: operator.sub, np.multiply: operator.mul,
              np.true_divide: operator.truediv, np.matmul: operator.matmul, np.negative: operator.neg}


def _lift(other, like: Tensor) -> Tensor:
    """``other`` as a Tensor that can meet ``like`` in an op: numbers take like's floating dtype."""
    if isinstance(other, Tensor):
        _check_devices(like.data, other.data)
        return other
    if isinstance(other, Number):
        dtype = like.data.dtype if like.data.dtype.kind in "fc" else None
        xp = backend.get_array_module(like.data)
        return Tensor(xp.asarray(other, dtype=dtype), label=f"{other:g}" if isinstance(other, float) else str(other))
    if isinstance(other, (list, tuple)):
        other = backend.get_array_module(like.data).asarray(other, dtype=like.data.dtype)
    elif not (isinstance(other, (np.ndarray, np.generic)) or _is_cuda(other)):
        raise TypeError(f"cannot combine a Tensor with {type(other).__name__}")
    _check_devices(like.data, other)
    return Tensor(other)


def tensor(data, requires_grad: bool = False, dtype=None, label: str | None = None) -> Tensor:
    """Make a :class:`Tensor` (PyTorch's ``torch.tensor``)."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype, label=label)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing axis ``dim`` (PyTorch's ``torch.cat``); the gradient is split back."""
    tensors = tuple(t if isinstance(t, Tensor) else Tensor(t) for t in tensors)
    if not tensors:
        raise ValueError("cat needs at least one tensor")
    arrays = [t.data for t in tensors]
    xp = backend.get_array_module(*arrays)
    bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]
    return from_op(xp.concatenate(arrays, axis=dim), tensors, "cat",
                   lambda g: tuple(xp.split(g, bounds, axis=dim)),
                   lambda *ts: xp.concatenate(ts, axis=dim))


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis ``dim`` (PyTorch's ``torch.stack``)."""
    return cat([(t if isinstance(t, Tensor) else Tensor(t)).unsqueeze(dim) for t in tensors], dim=dim)


def from_op(data, parents: tuple, op: str, vjp, jvp=None) -> Tensor:
    """Record the result of an operation: how to add a new differentiable op to the engine.

    Inputs:
    - data: the result array
    - parents: the Tensors it was computed from
    - op: a short name (``'mul'``), shown by graph drawings
    - vjp: ``vjp(g) -> tuple`` of one gradient per parent (an array, or None for "no gradient"), given
      the gradient ``g`` of ``data``'s shape; gradients of the output's shape are summed back to a
      broadcast parent's shape by the engine
    - jvp: ``jvp(*parent_tangents) -> tangent`` of the result (forward mode); optional

    Returns a Tensor that requires grad when grad mode is on and any parent requires grad.
    """
    if isinstance(data, np.generic):
        data = np.asarray(data)
    out = Tensor.__new__(Tensor)
    out._data, out._grad, out.op, out.label, out._retain = data, None, "", None, False
    out.tangent, out._version = None, 0
    if _state["grad_enabled"] and any(p.requires_grad for p in parents):
        out.requires_grad, out._parents, out._vjp, out._jvp, out.op = True, parents, vjp, jvp, op
        out._versions = tuple(p._version for p in parents)  # checked by backward (in-place changes)
    else:
        out.requires_grad, out._parents, out._vjp, out._jvp, out._versions = False, (), None, None, ()
    if _state["forward_mode"] and any(p.tangent is not None for p in parents):
        out.tangent = _push_tangent(data, parents, op, jvp)
    return out


class Function:
    """A differentiable op written outside the engine (PyTorch's ``torch.autograd.Function``).

    Subclass it with two static methods, ``forward(ctx, *inputs)`` computing the result from Tensors (no graph
    is recorded inside) and ``backward(ctx, grad_output)`` returning one gradient per input (a Tensor, an
    array or None); ``ctx.save_for_backward(*tensors)`` keeps what backward needs (``ctx.saved_tensors``).
    Call it with ``MyFunction.apply(*inputs)``: the result records the op ``'function'``.
    """

    class _Context:
        saved_tensors = ()

        def save_for_backward(self, *tensors):
            self.saved_tensors = tensors

    @classmethod
    def apply(cls, *inputs):
        ctx = cls._Context()
        with no_grad():
            out = cls.forward(ctx, *inputs)
        parents = tuple(t for t in inputs if isinstance(t, Tensor))

        def vjp(g):
            with no_grad():
                grads = cls.backward(ctx, Tensor(g))
            grads = grads if isinstance(grads, tuple) else (grads,)
            return tuple(_data(gr) for gr, x in zip(grads, inputs, strict=True) if isinstance(x, Tensor))

        return from_op(_data(out), parents, "function", vjp)

    @staticmethod
    def forward(ctx, *inputs):
        raise NotImplementedError("a Function subclass defines forward(ctx, *inputs)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass defines backward(ctx, grad_output)")


def _push_tangent(data, parents, op, jvp):
    if jvp is None:
        raise NotImplementedError(f"the op {op!r} has no forward-mode rule (jvp)")
    xp = backend.get_array_module(data)
    tangents = [p.tangent if p.tangent is not None else xp.zeros_like(p.data) for p in parents]
    t = jvp(*tangents)
    if t.shape != data.shape:
        t = xp.broadcast_to(t, data.shape)
    return t.astype(data.dtype, copy=False)


def _topological_order(root: Tensor, grad_only: bool) -> list[Tensor]:
    """Nodes reachable from ``root``, each after all of its parents (iterative DFS: no recursion limit).

    With ``grad_only``, parents that require no grad are not visited (backward has nothing to do there).
    """
    order, seen = [], set()
    stack = [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
            continue
        if id(node) in seen:
            continue
        seen.add(id(node))
        stack.append((node, True))
        for p in reversed(node._parents):
            if id(p) not in seen and (p.requires_grad or not grad_only):
                stack.append((p, False))
    return order


# -------------------------------------------------------------------------------------------- tracing
@dataclass
class GraphNode:
    """One node of a traced graph. ``value`` and ``grad`` are host (NumPy) copies."""

    id: int
    op: str
    label: str
    value: np.ndarray
    grad: np.ndarray | None
    parents: tuple[int, ...]
    requires_grad: bool = False


@dataclass
class Graph:
    """A computation graph as plain data: ``nodes`` in topological order (inputs first, root last)
    and ``edges`` ``(parent_id, child_id)``, one per input of an op (``x * x`` gives two equal edges)."""

    nodes: list[GraphNode] = field(default_factory=list)
    edges: list[tuple[int, int]] = field(default_factory=list)

    def reverse_order(self) -> list[int]:
        """Node ids in the order backward visits them (root first)."""
        return [n.id for n in reversed(self.nodes)]

    @property
    def root(self) -> GraphNode:
        return self.nodes[-1]


def trace(root: Tensor, backward: bool = False) -> Graph:
    """Snapshot the graph that produced ``root`` for drawing.

    Every node's ``grad`` is its ``.grad`` at the time of tracing: after ``root.backward()`` only leaves
    (and nodes with ``retain_grad()``) have one; after ``root.backward(retain_graph_grads=True)`` every
    node that requires grad does. ``trace(root, backward=True)`` runs that backward pass first
    (``root`` must then be a scalar). Unlabelled leaves are named ``x1, x2, ...``, unlabelled op results
    ``a1, a2, ...`` (numbers lifted into an op are labelled by their value).
    """
    if not isinstance(root, Tensor):
        raise TypeError(f"root must be a Tensor, got {type(root).__name__}")
    if backward:
        root.backward(retain_graph_grads=True)
    order = _topological_order(root, grad_only=False)
    ids = {id(t): i for i, t in enumerate(order)}
    graph, leaves, results = Graph(), 0, 0
    for i, t in enumerate(order):
        label = t.label
        if not label:
            if t._parents:
                results += 1
                label = f"a{results}"
            else:
                leaves += 1
                label = f"x{leaves}"
        parents = tuple(ids[id(p)] for p in t._parents)
        grad = None if t.grad is None else np.array(backend.to_numpy(t.grad.data), copy=True)
        graph.nodes.append(GraphNode(i, t.op, label, np.array(backend.to_numpy(t.data), copy=True), grad,
                                     parents, t.requires_grad))
        graph.edges.extend((p, i) for p in parents)
    return graph


# ----------------------------------------------------------------------- function transformations
def _as_primals(primals):
    """(tuple of primals, whether a single primal was given)."""
    if isinstance(primals, (tuple, list)):
        return tuple(primals), False
    return (primals,), True


def _float_array(x):
    a = _as_array(x)
    return a if a.dtype.kind in "fc" else a.astype(np.float64)


def jvp(f, primals, tangents):
    """Forward mode: ``f``'s outputs and their tangents ``J v`` for input tangents ``v``.

    Every op pushes tangents forward as it computes its value (dual numbers, with arrays), so the cost
    is one evaluation of ``f`` per input direction.

    Inputs:
    - f: function of Tensors returning a Tensor (or a tuple of Tensors)
    - primals: the input values (arrays, numbers or Tensors), a tuple/list, or one value
    - tangents: one tangent per primal, each of its primal's shape

    Returns a tuple ``(outputs, output_tangents)`` of arrays (tuples when ``f`` returns a tuple).
    """
    primals, single = _as_primals(primals)
    tangents = (tangents,) if single else tuple(tangents)
    if len(tangents) != len(primals):
        raise ValueError(f"tangents must give one tangent per primal: {len(primals)} primals, {len(tangents)} tangents")
    inputs = []
    for i, (x, v) in enumerate(zip(primals, tangents, strict=True)):
        t = Tensor(_float_array(x))
        v = _as_array(v, t.dtype)
        if v.shape != t.shape:
            raise ValueError(f"tangents[{i}] must have its primal's shape {t.shape}, got {v.shape}")
        t.tangent = v
        inputs.append(t)
    _state["forward_mode"] += 1
    try:
        with no_grad():
            out = f(*inputs)
    finally:
        _state["forward_mode"] -= 1

    def unpack(o):
        o = o if isinstance(o, Tensor) else Tensor(o)
        xp = backend.get_array_module(o.data)
        return o.data, (o.tangent if o.tangent is not None else xp.zeros_like(o.data))

    if isinstance(out, tuple):
        pairs = [unpack(o) for o in out]
        return tuple(p[0] for p in pairs), tuple(p[1] for p in pairs)
    return unpack(out)


def vjp(f, primals, cotangents=None):
    """Reverse mode: ``f``'s output and the vector-Jacobian products ``uᵀ J`` with respect to each input.

    Inputs:
    - f: function of Tensors returning a Tensor
    - primals: the input values, a tuple/list, or one value
    - cotangents: ``u``, of the output's shape (or the 1-tuple ``(u,)``). If omitted, returns ``(output, vjp_fn)`` instead, with
      ``vjp_fn(u)`` giving the products (JAX's form), so one forward pass serves many ``u``.

    Returns ``(output, grads)``: the output array and one gradient array per primal (a tuple, or a single
    array when ``primals`` was a single value).
    """
    primals, single = _as_primals(primals)
    inputs = [Tensor(_float_array(x), requires_grad=True) for x in primals]
    with enable_grad():
        out = f(*inputs)
    if not isinstance(out, Tensor):
        raise TypeError(f"f must return a Tensor, got {type(out).__name__}")

    def vjp_fn(u):
        for t in inputs:
            t.grad = None
        if out.requires_grad:
            out.backward(u)
        xp = backend.get_array_module(out.data)
        gs = tuple(t.grad.data if t.grad is not None else xp.zeros_like(t.data) for t in inputs)
        return gs[0] if single else gs

    if cotangents is None:
        return out.data, vjp_fn
    if isinstance(cotangents, tuple) and len(cotangents) == 1:  # (u,) for the single output, as in jvp
        cotangents = cotangents[0]
    return out.data, vjp_fn(cotangents)


def value_and_grad(f, argnums=0):
    """Like :func:`grad`, but the function returns ``(value, gradient)``."""
    single = not isinstance(argnums, (tuple, list))
    nums = tuple(check_int(i, "argnums", minimum=0) for i in ((argnums,) if single else argnums))

    def wrapped(*args):
        if nums and max(nums) >= len(args):
            raise TypeError(f"argnums={argnums!r} requires at least {max(nums) + 1} positional argument(s), "
                            f"got {len(args)}")
        inputs = [Tensor(_float_array(a), requires_grad=True) if i in nums else a for i, a in enumerate(args)]
        with enable_grad():
            out = f(*inputs)
        if not isinstance(out, Tensor) or out.data.size != 1:
            raise ValueError("grad needs f to return a one-element Tensor (a scalar loss), "
                             f"got {getattr(out, 'shape', type(out).__name__)}")
        if out.requires_grad:
            out.backward()
        xp = backend.get_array_module(out.data)
        gs = tuple(inputs[i].grad.data if inputs[i].grad is not None else xp.zeros_like(inputs[i].data)
                   for i in nums)
        return out.data, (gs[0] if single else gs)
    return wrapped


def grad(f, argnums=0):
    """The gradient function of a scalar-valued ``f`` (JAX's ``grad``).

    ``grad(f)(x, y)`` returns ∂f/∂x as an array; ``argnums=(0, 1)`` returns a tuple (∂f/∂x, ∂f/∂y).
    Arguments not differentiated are passed to ``f`` unchanged.
    """
    vg = value_and_grad(f, argnums)
    return lambda *args: vg(*args)[1]


__doc__ += "\nOp names: " + ", ".join(OPS) + ".\n"
