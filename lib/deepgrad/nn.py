"""Neural-network building blocks on the Tensor engine (PyTorch's ``torch.nn``).

A :class:`Module` is a callable holding :class:`Parameter` s and sub-modules; assigning one as an attribute
registers it, so ``model.parameters()`` finds every weight of a nested network:

    >>> import numpy as np
    >>> from deepgrad import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> loss = nn.CrossEntropyLoss()(model(np.ones((5, 4), np.float32)), np.array([0, 1, 2, 0, 1]))
    >>> loss.backward()
    >>> [(name, p.grad.shape) for name, p in model.named_parameters()]
    [('0.weight', (8, 4)), ('0.bias', (8,)), ('2.weight', (3, 8)), ('2.bias', (3,))]

:class:`Linear` stores its weight as PyTorch does, ``(out_features, in_features)`` = (M, D), and computes
``x @ W.T + b``; the by-hand layers (:mod:`deepgrad.layers`) keep CS231n's ``x @ W`` with W (D, M). The initial
values follow PyTorch's defaults.
Parameters are float32 by default (as PyTorch); pass ``dtype=np.float64`` for gradient checks.
"""
from __future__ import annotations

import math
from collections import OrderedDict

import numpy as np

from . import backend, init
from . import functional as F
from .autograd import Tensor
from .checks import check_choice, check_int, check_probability

functional = F  # torch.nn.functional

__all__ = [
    "Parameter", "Module", "Linear", "ReLU", "LeakyReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
    "Identity", "Flatten", "Dropout", "Sequential", "MLP", "CrossEntropyLoss", "MSELoss", "L1Loss",
    "MultiMarginLoss", "BCEWithLogitsLoss", "NLLLoss",
]


class Parameter(Tensor):
    """A Tensor that is a learnable parameter: it requires grad, and Modules register it on assignment."""

    __slots__ = ()

    def __init__(self, data, requires_grad: bool = True, dtype=None, label: str | None = None):
        super().__init__(data, requires_grad=requires_grad, dtype=dtype, label=label)

    def __repr__(self):
        return "Parameter" + super().__repr__()[len("Tensor"):]


class Module:
    """Base class of every layer and network. Subclasses set attributes in ``__init__`` and define ``forward``."""

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    def __setattr__(self, name, value):
        if "_parameters" not in self.__dict__:
            raise AttributeError(f"call super().__init__() in {type(self).__name__}.__init__ before assigning "
                                 f"attribute {name!r}")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__delattr__(self, name)

    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} must define forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------------------- traversal
    def named_modules(self, prefix: str = ""):
        """Yield ``(name, module)`` for this module and every sub-module, depth first."""
        yield prefix, self
        for name, m in self._modules.items():
            yield from m.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self):
        return (m for _, m in self.named_modules())

    def children(self):
        return iter(self._modules.values())

    def named_parameters(self, prefix: str = ""):
        """Yield ``(name, parameter)`` pairs such as ``('0.weight', W)``; a parameter shared by two layers once."""
        seen = set()
        for mname, m in self.named_modules(prefix):
            for pname, p in m._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mname}.{pname}" if mname else pname), p

    def parameters(self):
        """Every parameter of the module and its sub-modules (each once)."""
        return (p for _, p in self.named_parameters())

    def zero_grad(self, set_to_none: bool = True):
        """Clear every parameter's gradient (to None, or to zeros with ``set_to_none=False``)."""
        for p in self.parameters():
            p.grad = None if set_to_none else backend.get_array_module(p.data).zeros_like(p.data)

    def train(self, mode: bool = True):
        """Training mode (dropout active) for this module and all sub-modules; returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Evaluation mode (dropout off); returns self."""
        return self.train(False)

    # ------------------------------------------------------------------------------- state
    def state_dict(self) -> OrderedDict:
        """Parameter name -> a copy of it as a Tensor (a snapshot: later steps do not change it)."""
        return OrderedDict((name, Tensor(p.data.copy())) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict, strict: bool = True):
        """Copy arrays into the parameters (in place, so optimisers keep working on the same objects)."""
        params = dict(self.named_parameters())
        missing = [k for k in params if k not in state_dict]
        unexpected = [k for k in state_dict if k not in params]
        if strict and (missing or unexpected):
            raise KeyError(f"state_dict does not match the module: missing {missing}, unexpected {unexpected}")
        for name, value in state_dict.items():
            if name in params:
                p = params[name]
                if tuple(value.shape) != p.shape:
                    raise ValueError(f"state_dict[{name!r}] has shape {tuple(value.shape)}, the parameter has {p.shape}")
                value = value.data if isinstance(value, Tensor) else value  # a Tensor on the GPU has no __array__
                p.data[...] = backend.get_array_module(p.data).asarray(value)
        return self

    def to(self, device):
        """Move every parameter (and its gradient) to ``device`` in place, or cast them to a dtype
        (``model.to(np.float64)``, PyTorch's ``model.to(torch.float64)``); returns self."""
        if not isinstance(device, str):  # a dtype
            for p in self.parameters():
                p.data = p.data.astype(device, copy=False)
                p.grad = None if p.grad is None else p.grad.type(device)
            return self
        for p in self.parameters():
            moved = p.to(device)
            if moved is not p:
                p.data = moved.data
                p.grad = None if p.grad is None else p.grad.to(device)
        return self

    cpu = lambda self: self.to("cpu")  # noqa: E731 (PyTorch's shorthands)
    cuda = lambda self: self.to("cuda")  # noqa: E731
    float = lambda self: self.to(np.float32)  # noqa: E731
    double = lambda self: self.to(np.float64)  # noqa: E731

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------------------------- display
    def extra_repr(self) -> str:
        return ""

    def __repr__(self):
        if not self._modules:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"  ({name}): " + repr(m).replace("\n", "\n  ") for name, m in self._modules.items()]
        return f"{type(self).__name__}(\n" + "\n".join(lines) + "\n)"


# --------------------------------------------------------------------------------------- layers
class Linear(Module):
    """Fully connected layer ``y = x Wᵀ + b`` (PyTorch's ``nn.Linear``).

    Inputs:
    - in_features D, out_features M
    - bias: learn a bias of shape (M,)
    - dtype: parameter dtype (float32 by default, as PyTorch, or the one set by ``deepgrad.set_default_dtype``)
    - generator: int seed or numpy Generator for the initial values (default: ``init.manual_seed``'s)

    Parameters: ``weight`` of shape (M, D) = (out_features, in_features) as PyTorch stores it (the by-hand
    layers' W (D, M) is its transpose), and ``bias`` (M,). Both start U(−1/√D, 1/√D), PyTorch's default
    (its ``kaiming_uniform_`` with a = √5 gives exactly that bound).

    Forward: x of shape (N, D) -> (N, M).
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, dtype=None, generator=None):
        super().__init__()
        self.in_features = check_int(in_features, "in_features", minimum=1)
        self.out_features = check_int(out_features, "out_features", minimum=1)
        xp, dtype = backend.xp(), backend.parameter_float() if dtype is None else dtype
        # Drawn in the (in, out) layout of init's fans, then stored (out, in): a seed gives each connection the
        # value it had when the course's numbers were computed with the (in, out) layout.
        w = init.kaiming_uniform_(xp.empty((self.in_features, self.out_features), dtype=dtype), a=math.sqrt(5),
                                  generator=generator)
        self.weight = Parameter(xp.ascontiguousarray(w.T))
        if bias:
            bound = 1 / math.sqrt(in_features)
            self.bias = Parameter(xp.empty((out_features,), dtype=dtype))
            init.uniform_(self.bias, -bound, bound, generator=generator)
        else:
            self.bias = None

    def forward(self, x):
        return F.linear(x, self.weight, self.bias)

    def extra_repr(self):
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}"


class ReLU(Module):
    def forward(self, x):
        return x.relu()


class LeakyReLU(Module):
    def __init__(self, negative_slope: float = 0.01):
        super().__init__()
        self.negative_slope = negative_slope

    def forward(self, x):
        return x.leaky_relu(self.negative_slope)

    def extra_repr(self):
        return f"negative_slope={self.negative_slope}"


class Sigmoid(Module):
    def forward(self, x):
        return x.sigmoid()


class Tanh(Module):
    def forward(self, x):
        return x.tanh()


class Softmax(Module):
    def __init__(self, dim: int = -1):
        super().__init__()
        self.dim = dim

    def forward(self, x):
        return x.softmax(self.dim)


class LogSoftmax(Softmax):
    def forward(self, x):
        return x.log_softmax(self.dim)


class Identity(Module):
    def forward(self, x):
        return x


class Flatten(Module):
    """Merge the axes ``start_dim..end_dim``; by default all but the batch one: (N, d1, ..., dk) -> (N, d1 ... dk)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim, self.end_dim = check_int(start_dim, "start_dim"), check_int(end_dim, "end_dim")

    def forward(self, x):
        x = x if isinstance(x, Tensor) else Tensor(x)
        return x.flatten(self.start_dim, self.end_dim)


class Dropout(Module):
    """Inverted dropout with drop probability ``p`` in training mode; the identity in eval mode."""

    def __init__(self, p: float = 0.5, generator=None):
        super().__init__()
        self.p = check_probability(p, "p")
        self.generator = init._rng(generator) if generator is not None else None

    def forward(self, x):
        return F.dropout(x, self.p, self.training, self.generator)

    def extra_repr(self):
        return f"p={self.p}"


class Sequential(Module):
    """Modules applied one after another; ``model[i]`` is the i-th, and parameters are named ``'i.weight'``."""

    def __init__(self, *modules: Module):
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential takes Modules, got {type(m).__name__} at position {i}")
            setattr(self, str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        return list(self._modules.values())[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


_ACTIVATIONS = {"relu": ReLU, "tanh": Tanh, "sigmoid": Sigmoid, "leaky_relu": LeakyReLU, "identity": Identity}


class MLP(Sequential):
    """A multilayer perceptron: ``MLP([64, 128, 10])`` is Linear(64,128) → ReLU → Linear(128,10).

    Inputs:
    - sizes: layer widths, input first, output last (at least two)
    - activation: ``'relu'``, ``'tanh'``, ``'sigmoid'``, ``'leaky_relu'`` or ``'identity'`` (between layers only)
    - dropout: probability for a Dropout after each hidden activation (0 for none)
    - dtype, generator: passed to every :class:`Linear`
    """

    def __init__(self, sizes, activation: str = "relu", dropout: float = 0.0, bias: bool = True,
                 dtype=None, generator=None):
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least an input and an output width, got {sizes}")
        check_choice(activation, "activation", sorted(_ACTIVATIONS))
        rng = init._rng(generator) if generator is not None else None
        layers = []
        for i, (d, m) in enumerate(zip(sizes[:-1], sizes[1:], strict=True)):
            layers.append(Linear(d, m, bias=bias, dtype=dtype, generator=rng))
            if i < len(sizes) - 2:
                layers.append(_ACTIVATIONS[activation]())
                if dropout:
                    layers.append(Dropout(dropout, generator=rng))
        super().__init__(*layers)


# --------------------------------------------------------------------------------------- losses
class _Loss(Module):
    def __init__(self, reduction: str = "mean"):
        super().__init__()
        self.reduction = reduction

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


class CrossEntropyLoss(_Loss):
    """Softmax cross-entropy from logits (N, C) and labels (N,); see :func:`functional.cross_entropy`."""

    def forward(self, input, target):
        return F.cross_entropy(input, target, self.reduction)


class NLLLoss(_Loss):
    def forward(self, input, target):
        return F.nll_loss(input, target, self.reduction)


class MSELoss(_Loss):
    def forward(self, input, target):
        return F.mse_loss(input, target, self.reduction)


class L1Loss(_Loss):
    def forward(self, input, target):
        return F.l1_loss(input, target, self.reduction)


class BCEWithLogitsLoss(_Loss):
    def forward(self, input, target):
        return F.binary_cross_entropy_with_logits(input, target, self.reduction)


class MultiMarginLoss(_Loss):
    """Multiclass hinge loss, PyTorch's definition (divides by C; see :func:`functional.multi_margin_loss`)."""

    def __init__(self, p: int = 1, margin: float = 1.0, reduction: str = "mean"):
        super().__init__(reduction)
        self.p, self.margin = p, margin

    def forward(self, input, target):
        return F.multi_margin_loss(input, target, self.p, self.margin, self.reduction)
