"""Functional layers: forward/backward pairs on plain arrays (lecture: the modular API of backprop).

Every layer is two functions. The forward pass computes the output and keeps, in a ``cache``, exactly
what the backward pass will need; the backward pass receives the upstream gradient ``dout`` (same shape
as ``out``) and returns the gradient with respect to each input:

    out, cache = relu_forward(x)         # forward:  x -> out
    dx = relu_backward(dout, cache)      # backward: dL/dout -> dL/dx

A network is these pairs chained forward, then their backwards called in reverse order. For the
Jacobian lesson, ``*_jacobian`` functions build the full matrix ``∂out/∂in`` for a single example in
numerator layout (one row per output), so that ``dout @ J`` can be compared with the backward pass:
the backward pass is exactly that vector-Jacobian product (VJP), computed without building ``J``.

Arrays may be NumPy or CuPy; results follow the inputs. The caller's dtype is kept (float32 in,
float32 out).
"""
from __future__ import annotations

from numbers import Real

from . import backend

__all__ = [
    "linear_forward", "linear_backward",
    "relu_forward", "relu_backward",
    "leaky_relu_forward", "leaky_relu_backward",
    "sigmoid_forward", "sigmoid_backward",
    "tanh_forward", "tanh_backward",
    "dropout_forward", "dropout_backward",
    "batchnorm_forward", "batchnorm_backward",
    "linear_relu_forward", "linear_relu_backward",
    "linear_jacobian", "relu_jacobian", "leaky_relu_jacobian", "sigmoid_jacobian", "tanh_jacobian",
]


# ----------------------------------------------------------------------------------------- validation
def _array(x, name: str):
    """``x`` as an array of its own module (lists become NumPy arrays), refusing NaN."""
    xp = backend.get_array_module(x)
    x = xp.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {x.dtype}")
    if x.dtype.kind == "f" and bool(xp.isnan(x).any()):
        raise ValueError(f"{name} contains NaN (shape {x.shape}); check the previous layer or the learning rate")
    return x


def _check_dout(dout, shape, layer: str):
    xp = backend.get_array_module(dout)
    dout = xp.asarray(dout)
    if dout.shape != tuple(shape):
        raise ValueError(f"dout must have the shape of {layer}'s output {tuple(shape)}, got {dout.shape}")
    return dout


def _check_vector(x, name: str):
    x = _array(x, name)
    if x.ndim != 1:
        raise ValueError(f"{name} must be a single example of shape (D,), got shape {x.shape}")
    return x


# --------------------------------------------------------------------------------------------- linear
def linear_forward(x, W, b):
    """Fully connected (affine) layer: ``out = x W + b``.

    Inputs of shape (N, d_1, ..., d_k) are flattened to (N, D) with D = d_1 * ... * d_k, so images
    can be fed in directly.

    Inputs:
    - x: array of shape (N, D) or (N, d_1, ..., d_k)
    - W: weights, shape (D, M)
    - b: biases, shape (M,)

    Returns a tuple of:
    - out: shape (N, M)
    - cache: (x, W, b), for the backward pass
    """
    x, W, b = _array(x, "x"), _array(W, "W"), _array(b, "b")
    if x.ndim < 2:
        raise ValueError(f"x must be a batch of shape (N, D) or (N, d1, ..., dk), got shape {x.shape}; "
                         "use x[None] for a single example")
    if W.ndim != 2:
        raise ValueError(f"W must have shape (D, M), got shape {W.shape}")
    x2 = x.reshape(x.shape[0], -1)
    if x2.shape[1] != W.shape[0]:
        raise ValueError(f"x and W inner dimensions do not match: x has D = {x2.shape[1]} features "
                         f"(shape {x.shape}) but W has shape {W.shape}, expected ({x2.shape[1]}, M)")
    if b.shape != (W.shape[1],):
        raise ValueError(f"b must have shape (M,) = ({W.shape[1]},) to match W {W.shape}, got shape {b.shape}")
    out = x2 @ W + b
    return out, (x, W, b)


def linear_backward(dout, cache):
    """Backward pass of :func:`linear_forward`.

    Inputs:
    - dout: upstream gradient, shape (N, M)
    - cache: (x, W, b) from the forward pass

    Returns a tuple of:
    - dx: shape of x, (N, D) or (N, d_1, ..., d_k)
    - dW: shape (D, M)
    - db: shape (M,)
    """
    x, W, b = cache
    dout = _check_dout(dout, (x.shape[0], W.shape[1]), "linear")
    x2 = x.reshape(x.shape[0], -1)
    dx = (dout @ W.T).reshape(x.shape)
    dW = x2.T @ dout
    db = dout.sum(axis=0)  # b is broadcast over the batch, so its gradient sums over it
    return dx, dW, db


# ---------------------------------------------------------------------------------------- activations
def relu_forward(x):
    """Rectified linear unit, elementwise: ``out = max(0, x)``.

    Inputs:
    - x: array of any shape

    Returns a tuple of:
    - out: same shape as x
    - cache: x
    """
    x = _array(x, "x")
    xp = backend.get_array_module(x)
    return xp.maximum(x, 0), x


def relu_backward(dout, cache):
    """Backward pass of :func:`relu_forward`: the gradient flows only where x > 0.

    At x = 0 ReLU has no derivative; like PyTorch we use the subgradient 0 there.

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: x

    Returns:
    - dx: same shape as x
    """
    x = cache
    dout = _check_dout(dout, x.shape, "relu")
    return dout * (x > 0)


def leaky_relu_forward(x, negative_slope: float = 0.01):
    """Leaky ReLU, elementwise: ``out = x`` where x > 0, else ``negative_slope * x``.

    Inputs:
    - x: array of any shape
    - negative_slope: slope for x <= 0 (PyTorch's default 0.01)

    Returns a tuple of:
    - out: same shape as x
    - cache: (x, negative_slope)
    """
    if not isinstance(negative_slope, Real) or isinstance(negative_slope, bool):
        raise TypeError(f"negative_slope must be a real number, got {negative_slope!r}")
    negative_slope = float(negative_slope)  # a Python float keeps x's dtype (NumPy 2 promotion rules)
    x = _array(x, "x")
    xp = backend.get_array_module(x)
    out = xp.where(x > 0, x, x * negative_slope)
    return out, (x, negative_slope)


def leaky_relu_backward(dout, cache):
    """Backward pass of :func:`leaky_relu_forward`.

    At x = 0 we use the slope ``negative_slope``, as PyTorch does.

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: (x, negative_slope)

    Returns:
    - dx: same shape as x
    """
    x, negative_slope = cache
    dout = _check_dout(dout, x.shape, "leaky_relu")
    xp = backend.get_array_module(dout)
    return xp.where(x > 0, dout, dout * negative_slope)


def sigmoid_forward(x):
    """Logistic sigmoid, elementwise: ``out = 1 / (1 + exp(-x))``.

    Inputs:
    - x: array of any shape

    Returns a tuple of:
    - out: same shape as x, values in (0, 1)
    - cache: out (the derivative is out * (1 - out), so the output is all we keep)
    """
    x = _array(x, "x")
    xp = backend.get_array_module(x)
    # exp(-|x|) never overflows; the two branches are the same function written two ways
    z = xp.exp(-xp.abs(x))
    out = xp.where(x >= 0, 1 / (1 + z), z / (1 + z))
    return out, out


def sigmoid_backward(dout, cache):
    """Backward pass of :func:`sigmoid_forward`: ``dx = dout * s * (1 - s)``.

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: the sigmoid output s

    Returns:
    - dx: same shape as x
    """
    s = cache
    dout = _check_dout(dout, s.shape, "sigmoid")
    return dout * s * (1 - s)


def tanh_forward(x):
    """Hyperbolic tangent, elementwise.

    Inputs:
    - x: array of any shape

    Returns a tuple of:
    - out: same shape as x, values in (-1, 1)
    - cache: out (the derivative is 1 - out**2)
    """
    x = _array(x, "x")
    xp = backend.get_array_module(x)
    out = xp.tanh(x)
    return out, out


def tanh_backward(dout, cache):
    """Backward pass of :func:`tanh_forward`: ``dx = dout * (1 - t**2)``.

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: the tanh output t

    Returns:
    - dx: same shape as x
    """
    t = cache
    dout = _check_dout(dout, t.shape, "tanh")
    return dout * (1 - t * t)


# -------------------------------------------------------------------------------------------- dropout
def dropout_forward(x, p: float = 0.5, mode: str = "train", seed=None):
    """Inverted dropout.

    In ``"train"`` mode each unit is dropped (set to 0) independently with probability ``p`` and the
    kept units are scaled by 1 / (1 - p), so the expected output equals the input and nothing needs
    rescaling at test time. In ``"eval"`` mode the layer is the identity.

    ``p`` is the probability of DROPPING a unit, as in PyTorch's ``nn.Dropout(p)``. (The deep-nets notes
    use p for the probability of keeping a unit and rescale at test time instead; the two agree in
    expectation.)

    Inputs:
    - x: array of any shape
    - p: drop probability, in [0, 1)
    - mode: ``"train"`` or ``"eval"``
    - seed: int or ``numpy.random.Generator`` for a reproducible mask (NumPy arrays); None draws a fresh
      one. The same seed gives the same mask for the same shape and backend.

    Returns a tuple of:
    - out: same shape as x
    - cache: (mask, mode); mask has the shape of x and holds 0 or 1 / (1 - p) (None in eval mode)
    """
    if not isinstance(p, Real) or isinstance(p, bool) or not 0 <= p < 1:
        raise ValueError(f"p (the drop probability) must be a number in [0, 1), got {p!r}")
    if mode not in ("train", "eval"):
        raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
    x = _array(x, "x")
    if mode == "eval":
        return x, (None, mode)
    xp = backend.get_array_module(x)
    rng = seed if hasattr(seed, "random") else xp.random.default_rng(seed)
    keep = xp.asarray(rng.random(x.shape)) >= p
    dtype = x.dtype if x.dtype.kind == "f" else xp.float64
    mask = keep.astype(dtype) / (1 - float(p))
    return x * mask, (mask, mode)


def dropout_backward(dout, cache):
    """Backward pass of :func:`dropout_forward`: the gradient flows through the kept units only.

    Inputs:
    - dout: upstream gradient, same shape as x
    - cache: (mask, mode)

    Returns:
    - dx: same shape as x
    """
    mask, mode = cache
    if mode == "eval":
        return dout
    dout = _check_dout(dout, mask.shape, "dropout")
    return dout * mask


# --------------------------------------------------------------------------------- batch normalisation
def batchnorm_forward(x, gamma, beta, bn_param):
    """Batch normalisation over the batch axis (Ioffe and Szegedy; PyTorch's ``nn.BatchNorm1d``).

    In ``"train"`` mode each feature is normalised with the mean and (biased) variance of this batch,
    ``xhat = (x - mean) / sqrt(var + eps)``, then scaled and shifted, ``out = gamma * xhat + beta``; the
    running statistics move towards the batch's, ``running = (1 - momentum) * running + momentum * batch``
    (PyTorch's meaning of momentum). In ``"eval"`` mode the running statistics replace the batch's, so
    an example's output does not depend on the rest of its batch. (PyTorch keeps the unbiased variance in
    ``running_var``; here it is the same biased variance that normalises the batch.)

    Inputs:
    - x: (N, D)
    - gamma, beta: (D,) scale and shift
    - bn_param: dict with "mode" ("train" or "eval") and optionally "eps" (1e-5), "momentum" (0.1),
      "running_mean" (D,) and "running_var" (D,) (zeros and ones when absent); the running statistics
      are stored back into it

    Returns a tuple of:
    - out: (N, D)
    - cache: what batchnorm_backward needs
    """
    x, gamma, beta = _array(x, "x"), _array(gamma, "gamma"), _array(beta, "beta")
    if x.ndim != 2 or gamma.shape != (x.shape[1],) or beta.shape != (x.shape[1],):
        raise ValueError(f"batchnorm_forward needs x (N, D) and gamma, beta (D,), got x {x.shape}, "
                         f"gamma {gamma.shape}, beta {beta.shape}")
    mode = bn_param.get("mode")
    if mode not in ("train", "eval"):
        raise ValueError(f"bn_param['mode'] must be 'train' or 'eval', got {mode!r}")
    xp = backend.get_array_module(x)
    eps, momentum = float(bn_param.get("eps", 1e-5)), float(bn_param.get("momentum", 0.1))
    running_mean = bn_param.get("running_mean", xp.zeros(x.shape[1], dtype=x.dtype))
    running_var = bn_param.get("running_var", xp.ones(x.shape[1], dtype=x.dtype))
    if mode == "train":
        mean, var = x.mean(axis=0), x.var(axis=0)
        bn_param["running_mean"] = (1 - momentum) * running_mean + momentum * mean
        bn_param["running_var"] = (1 - momentum) * running_var + momentum * var
    else:
        mean, var = running_mean, running_var
    inv_std = 1.0 / xp.sqrt(var + eps)
    xhat = (x - mean) * inv_std
    return gamma * xhat + beta, (xhat, gamma, inv_std, mode)


def batchnorm_backward(dout, cache):
    """Backward pass of :func:`batchnorm_forward`.

    In train mode the batch's mean and variance depend on every x in it, so each dx collects three paths:
    through its own xhat, through the mean and through the variance. In eval mode they are constants.

    Inputs:
    - dout: (N, D) upstream gradient
    - cache: from batchnorm_forward

    Returns a tuple of:
    - dx: (N, D)
    - dgamma, dbeta: (D,)
    """
    xhat, gamma, inv_std, mode = cache
    dout = _check_dout(dout, xhat.shape, "batchnorm")
    dgamma, dbeta = (dout * xhat).sum(axis=0), dout.sum(axis=0)
    dxhat = dout * gamma
    if mode == "eval":
        return dxhat * inv_std, dgamma, dbeta
    # the compact form: dxhat minus its batch mean and minus its projection on xhat, rescaled
    dx = inv_std * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    return dx, dgamma, dbeta


# ----------------------------------------------------------------------------------- sandwich layers
def linear_relu_forward(x, W, b):
    """A linear layer followed by a ReLU (CS231n's ``affine_relu``).

    Inputs:
    - x: shape (N, D) or (N, d_1, ..., d_k)
    - W: shape (D, M)
    - b: shape (M,)

    Returns a tuple of:
    - out: shape (N, M)
    - cache: (linear cache, relu cache)
    """
    a, linear_cache = linear_forward(x, W, b)
    out, relu_cache = relu_forward(a)
    return out, (linear_cache, relu_cache)


def linear_relu_backward(dout, cache):
    """Backward pass of :func:`linear_relu_forward`: the two backwards in reverse order.

    Inputs:
    - dout: shape (N, M)
    - cache: (linear cache, relu cache)

    Returns a tuple of:
    - dx: shape of x
    - dW: shape (D, M)
    - db: shape (M,)
    """
    linear_cache, relu_cache = cache
    return linear_backward(relu_backward(dout, relu_cache), linear_cache)


# ------------------------------------------------------------------------------ explicit Jacobians
def linear_jacobian(x, W, b, wrt: str = "x"):
    """The Jacobian of ``y = x W + b`` for ONE example, in numerator layout (row j = output y_j).

    With y_j = sum_i x_i W_ij + b_j:

    - ``wrt="x"``: J[j, i] = W[i, j], i.e. ``J = W.T``, shape (M, D). Dense.
    - ``wrt="W"``: shape (M, D*M), with W flattened row-major (``W.reshape(-1)``, so W[i, k] is column
      i*M + k). J[j, i*M + k] = x_i if k == j else 0: each output depends only on its own column of W,
      so all but D entries of each row are zero.
    - ``wrt="b"``: the identity, shape (M, M).

    ``dout @ J`` (dout of shape (M,)) gives the backward pass's dx, ``dW.reshape(-1)`` or db.

    Inputs:
    - x: shape (D,)
    - W: shape (D, M)
    - b: shape (M,)
    - wrt: ``"x"``, ``"W"`` or ``"b"``

    Returns:
    - J: shape (M, D), (M, D*M) or (M, M)
    """
    if wrt not in ("x", "W", "b"):
        raise ValueError(f"wrt must be 'x', 'W' or 'b', got {wrt!r}")
    x = _check_vector(x, "x")
    linear_forward(x[None], W, b)  # same shape checks as the layer itself
    W = backend.get_array_module(W).asarray(W)
    xp = backend.get_array_module(x, W)
    D, M = W.shape
    if wrt == "x":
        return W.T.copy()
    eye = xp.eye(M, dtype=xp.result_type(x, W))
    if wrt == "b":
        return eye
    return (eye[:, None, :] * x[None, :, None]).reshape(M, D * M)


def _diagonal(local_grad):
    return backend.get_array_module(local_grad).diag(local_grad)


def relu_jacobian(x):
    """The Jacobian of ReLU for one example x of shape (D,): diagonal (D, D), 1 where x > 0 else 0.

    Each output depends only on its own input, so every off-diagonal entry is zero.
    """
    x = _check_vector(x, "x")
    return _diagonal((x > 0).astype(x.dtype if x.dtype.kind == "f" else "float64"))


def leaky_relu_jacobian(x, negative_slope: float = 0.01):
    """The Jacobian of leaky ReLU for one example x of shape (D,): diagonal (D, D)."""
    x = _check_vector(x, "x")
    xp = backend.get_array_module(x)
    return _diagonal(xp.where(x > 0, 1.0, negative_slope).astype(x.dtype if x.dtype.kind == "f" else "float64"))


def sigmoid_jacobian(x):
    """The Jacobian of the sigmoid for one example x of shape (D,): diagonal (D, D), s(x)(1 - s(x))."""
    s, _ = sigmoid_forward(_check_vector(x, "x"))
    return _diagonal(s * (1 - s))


def tanh_jacobian(x):
    """The Jacobian of tanh for one example x of shape (D,): diagonal (D, D), 1 - tanh(x)**2."""
    t, _ = tanh_forward(_check_vector(x, "x"))
    return _diagonal(1 - t * t)
