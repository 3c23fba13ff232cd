"""Functions on Tensors: activations, a fused linear layer and losses (PyTorch's ``torch.nn.functional``).

    >>> import numpy as np
    >>> import deepgrad.functional as F
    >>> from deepgrad import Tensor
    >>> scores = Tensor(np.array([[2.0, 0.5, -1.0]]), requires_grad=True)
    >>> loss = F.cross_entropy(scores, np.array([0]))
    >>> loss.backward()
    >>> round(loss.item(), 4), scores.grad.round(4).tolist()      # softmax(scores) - onehot(y)
    (0.2413, [[-0.2144, 0.1753, 0.0391]])

Names, arguments and defaults follow PyTorch: :func:`linear` takes its weight ``(out_features, in_features)``
= (M, D) and computes ``x @ W.T + b`` (the by-hand layers of :mod:`deepgrad.layers` keep CS231n's ``x @ W``
with W (D, M)); targets may be plain arrays or Tensors.

The fused ops (:func:`linear`, :func:`cross_entropy`, :func:`binary_cross_entropy_with_logits`) give
the same numbers as their compositions, with one node in the graph and one gradient formula instead
of several — faster, and numerically stable (log-softmax is never exponentiated and logged again).
"""
from __future__ import annotations

import numpy as np

from . import backend, init, losses
from .autograd import Tensor, from_op
from .checks import check_choice, check_labels, check_probability, check_shape

__all__ = [
    "linear", "relu", "leaky_relu", "sigmoid", "tanh", "softmax", "log_softmax", "dropout",
    "cross_entropy", "nll_loss", "mse_loss", "l1_loss", "multi_margin_loss", "binary_cross_entropy_with_logits",
]

_REDUCTIONS = ("mean", "sum", "none")


def _tensor(x, name: str) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if hasattr(x, "shape") or isinstance(x, (list, tuple, float, int)):
        return Tensor(x)
    raise TypeError(f"{name} must be a Tensor or an array, got {type(x).__name__}")


def _reduce(losses: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return losses.mean()
    if reduction == "sum":
        return losses.sum()
    return losses


def _scale(n: int, reduction: str) -> float:
    """The factor a summed loss is multiplied by: 1/n for ``'mean'`` (NaN for an empty batch, whose mean
    is undefined: PyTorch's answer), else 1."""
    if reduction != "mean":
        return 1.0
    return 1.0 / n if n else float("nan")


def _labels(target, logits, name="target"):
    """Integer class labels of shape (N,) in [0, C), checked against scores of shape (N, C)."""
    y = target.data if isinstance(target, Tensor) else target
    backend.check_same_device(logits.data, y, op=name)  # never upload host labels silently
    xp = backend.get_array_module(logits.data)
    y = xp.asarray(y)
    if logits.ndim != 2:
        raise ValueError(f"input must be scores of shape (N, C), got shape {logits.shape}")
    return check_labels(y, name, logits.shape[0], logits.shape[1])


# --------------------------------------------------------------------------------------- layers
def linear(input, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """Fully connected layer ``x @ W.T + b`` as one op (PyTorch's ``F.linear``).

    Inputs:
    - input: shape (N, D) (or (..., D)); a Tensor or a plain array
    - weight: shape (M, D) = (out_features, in_features), PyTorch's layout
    - bias: shape (M,) or None

    Returns:
    - out: shape (N, M)
    """
    x = _tensor(input, "input")
    a, W = x.data, weight.data
    if W.ndim != 2 or a.shape[-1] != W.shape[1]:
        raise ValueError(f"input's last dimension must match weight of shape (M, D) = (out, in): input {a.shape}, "
                         f"weight {W.shape}")
    out = a @ W.T
    parents = (x, weight)
    if bias is not None:
        check_shape(bias, "bias", (W.shape[0],))
        out += bias.data
        parents = (x, weight, bias)
    M, D = W.shape

    def vjp(g):
        g2 = g.reshape(-1, M)
        dx = g @ W if x.requires_grad else None  # the data's gradient is usually not wanted: skip it
        dW = g2.T @ a.reshape(-1, D) if weight.requires_grad else None
        return (dx, dW) if bias is None else (dx, dW, g2.sum(axis=0))

    def jvp(da, dW, db=None):
        t = da @ W.T + a @ dW.T
        return t if db is None else t + db

    return from_op(out, parents, "linear", vjp, jvp)


# ---------------------------------------------------------------------------------- activations
def relu(input: Tensor) -> Tensor:
    return input.relu()


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    return input.leaky_relu(negative_slope)


def sigmoid(input: Tensor) -> Tensor:
    return input.sigmoid()


def tanh(input: Tensor) -> Tensor:
    return input.tanh()


def softmax(input: Tensor, dim: int = -1) -> Tensor:
    return input.softmax(dim)


def log_softmax(input: Tensor, dim: int = -1) -> Tensor:
    return input.log_softmax(dim)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, generator=None) -> Tensor:
    """Inverted dropout: in training, zero each entry with probability ``p`` and scale the rest by
    ``1/(1-p)`` so the expected activation is unchanged; at evaluation (``training=False``) the identity.

    ``generator``: an int seed or ``numpy.random.Generator``; default, the one seeded by
    ``deepgrad.init.manual_seed``. The mask is drawn where the data is: for data on the GPU the host
    generator only gives a seed (one number) to the device's generator, so no mask crosses the bus.
    """
    p = check_probability(p, "p")
    if not training or p == 0:
        return input
    if p == 1:
        return input * 0.0
    rng = init._rng(generator)
    xp = backend.get_array_module(input.data)
    if xp is not np:
        rng = xp.random.default_rng(int(rng.integers(2**63)))
    keep = rng.random(input.shape) >= p
    return input * (keep / (1 - p)).astype(input.dtype, copy=False)


# --------------------------------------------------------------------------------------- losses
def cross_entropy(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy from raw scores (logits), fused with a stable log-softmax.

    ``L_i = -log softmax(x_i)[y_i] = logsumexp(x_i) - x_i[y_i]``; its gradient is ``softmax(x_i) - onehot(y_i)``.

    Inputs:
    - input: logits, shape (N, C)
    - target: class labels, shape (N,), ints in [0, C)
    - reduction: ``'mean'`` (over N, the default), ``'sum'`` or ``'none'`` (shape (N,))

    Returns:
    - loss: a 0-d Tensor (or shape (N,) for ``'none'``)
    """
    check_choice(reduction, "reduction", _REDUCTIONS)
    x = _tensor(input, "input")
    y = _labels(target, x)
    a = x.data
    xp = backend.get_array_module(a)
    N = a.shape[0]
    rows = xp.arange(N)
    shifted = a - a.max(axis=1, keepdims=True)
    e = xp.exp(shifted)
    s = e.sum(axis=1)
    per_example = xp.log(s) - shifted[rows, y]
    p = e / s[:, None]
    scale = _scale(N, reduction)
    out = per_example.sum() * scale if reduction != "none" else per_example

    def vjp(g):
        d = p.copy()
        d[rows, y] -= 1
        return (d * (g * scale if reduction != "none" else g[:, None]),)

    def jvp(da):
        t = (p * da).sum(axis=1) - da[rows, y]
        return t if reduction == "none" else t.sum() * scale

    return from_op(out.astype(a.dtype, copy=False), (x,), "cross_entropy", vjp, jvp)


def nll_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (N, C) at the labels (N,): ``-input[i, y_i]``."""
    check_choice(reduction, "reduction", _REDUCTIONS)
    x = _tensor(input, "input")
    y = _labels(target, x)
    xp = backend.get_array_module(x.data)
    return _reduce(-x[xp.arange(x.shape[0]), y], reduction)


def mse_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean squared error ``mean((input - target)^2)`` over all entries (PyTorch's definition)."""
    check_choice(reduction, "reduction", _REDUCTIONS)
    x = _tensor(input, "input")
    backend.check_same_device(x.data, target.data if isinstance(target, Tensor) else target, op="target")
    t = target if isinstance(target, Tensor) else backend.get_array_module(x.data).asarray(target)
    if tuple(t.shape) != tuple(x.shape):
        raise ValueError(f"target must have input's shape {x.shape}, got {tuple(t.shape)}")
    d = x - t
    return _reduce(d * d, reduction)


def l1_loss(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Mean absolute error ``mean(|input - target|)``."""
    check_choice(reduction, "reduction", _REDUCTIONS)
    x = _tensor(input, "input")
    backend.check_same_device(x.data, target.data if isinstance(target, Tensor) else target, op="target")
    t = target if isinstance(target, Tensor) else backend.get_array_module(x.data).asarray(target)
    if tuple(t.shape) != tuple(x.shape):
        raise ValueError(f"target must have input's shape {x.shape}, got {tuple(t.shape)}")
    return _reduce((x - t).abs(), reduction)


def multi_margin_loss(input: Tensor, target, p: int = 1, margin: float = 1.0, reduction: str = "mean") -> Tensor:
    """Multiclass hinge (SVM) loss, exactly as PyTorch defines it:

    ``L_i = sum_{j != y_i} max(0, margin - x_i[y_i] + x_i[j])^p / C``

    The lecture notes' SVM loss is the same sum *without* the division by the number of classes C:
    multiply this by C to get it (``deepgrad.losses.svm_loss`` follows the notes).

    Inputs:
    - input: scores, shape (N, C)
    - target: labels, shape (N,)
    - p: 1 or 2 (squared hinge)
    - margin: the margin Δ
    """
    check_choice(reduction, "reduction", _REDUCTIONS)
    if p not in (1, 2):
        raise ValueError(f"p must be 1 or 2, got {p!r}")
    x = _tensor(input, "input")
    y = _labels(target, x)
    xp = backend.get_array_module(x.data)
    N, C = x.shape
    correct = x[xp.arange(N), y].reshape(N, 1)
    others = xp.ones((N, C), dtype=x.dtype)
    others[xp.arange(N), y] = 0  # the correct class is not a margin violation against itself
    hinge = (x - correct + margin).relu() * others
    if p == 2:
        hinge = hinge * hinge
    return _reduce(hinge.sum(axis=1) * (1.0 / C), reduction)


def binary_cross_entropy_with_logits(input: Tensor, target, reduction: str = "mean") -> Tensor:
    """Logistic loss on raw scores: ``-[y log σ(x) + (1 - y) log(1 - σ(x))]``, with targets y in [0, 1].

    Computed as ``max(x, 0) - x y + log(1 + exp(-|x|))``, which never overflows; the gradient is ``σ(x) - y``.

    Inputs:
    - input: logits, any shape
    - target: same shape, floats in [0, 1]
    """
    check_choice(reduction, "reduction", _REDUCTIONS)
    x = _tensor(input, "input")
    a = x.data
    xp = backend.get_array_module(a)
    backend.check_same_device(a, target.data if isinstance(target, Tensor) else target, op="target")
    y = xp.asarray(target.data if isinstance(target, Tensor) else target, dtype=a.dtype)
    if y.shape != a.shape:
        raise ValueError(f"target must have input's shape {a.shape}, got {y.shape}")
    per_entry = xp.maximum(a, 0) - a * y + xp.log1p(xp.exp(-xp.abs(a)))
    sig = losses.sigmoid(a)
    scale = _scale(a.size, reduction)
    out = per_entry if reduction == "none" else per_entry.sum() * scale
    # A target Tensor is an input of the graph: PyTorch sends it d/dy = -x when it requires grad.
    parents = (x, target) if isinstance(target, Tensor) else (x,)

    def vjp(g):
        g = g * scale
        dx = (sig - y) * g  # d/dx = σ(x) - y
        return (dx,) if len(parents) == 1 else (dx, -a * g if target.requires_grad else None)

    def jvp(da, dy=None):
        t = (sig - y) * da if dy is None else (sig - y) * da - a * dy
        return t if reduction == "none" else t.sum() * scale

    return from_op(xp.asarray(out, dtype=a.dtype), parents, "bce_with_logits", vjp, jvp)
