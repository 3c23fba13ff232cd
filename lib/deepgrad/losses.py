"""Scores to probabilities, and the losses of lectures 1-2, each with its gradient (the "by hand" world).

Every loss takes arrays and returns ``(loss, dscores)``: the loss as a Python float and its gradient
with respect to the first argument, the same shape and dtype. Classification losses average over
the N rows of the batch, so ``dscores`` carries a factor ``1/N``.

    >>> import numpy as np
    >>> scores = np.array([[3.2, 5.1, -1.7]])     # the lecture's cat image: cat, car, frog
    >>> round(svm_loss(scores, np.array([0]))[0], 6)  # max(0, 5.1-3.2+1) + max(0, -1.7-3.2+1)
    2.9

Arrays may be NumPy or CuPy; results follow the inputs. ``check_scores`` and ``check_scores_labels``
validate a classification batch (with :mod:`deepgrad.checks`) so that ``linear`` gives the same errors.
"""
from __future__ import annotations

from . import backend
from .checks import check_array, check_labels, check_number, deprecated

__all__ = [
    "sigmoid", "softmax", "log_softmax", "svm_loss", "softmax_loss", "mse_loss", "logistic_loss",
    "l2_penalty", "l1_penalty",
    "check_scores", "check_scores_labels",
]


# ---------------------------------------------------------------------------------------- validation
def check_scores(scores, name: str = "scores"):
    """Class scores: a finite 2-D array ``(N, C)`` with at least one class."""
    scores = check_array(scores, name, ndim=2)
    if scores.shape[1] < 1:
        raise ValueError(f"{name} must have at least one class column, got shape {scores.shape}")
    return scores


def check_scores_labels(scores, y, scores_name: str = "scores", y_name: str = "y"):
    """Validate a classification batch: scores ``(N, C)`` finite, y ``(N,)`` integers in ``[0, C)``."""
    scores = check_scores(scores, scores_name)
    backend.check_same_device(scores, y, op=f"{scores_name} and {y_name}")  # never upload host labels silently
    y = check_labels(y, y_name, scores.shape[0], scores.shape[1])
    if scores.shape[0] == 0:
        raise ValueError(f"{scores_name} must hold at least one example (row), got shape {scores.shape}")
    return scores, y


def _float(a):
    """Integer arrays become float64 (gradients are real); float arrays keep their dtype."""
    return a if a.dtype.kind == "f" else a.astype("float64")


# ------------------------------------------------------------------------------------ probabilities
def sigmoid(scores):
    """Probabilities ``1 / (1 + exp(-s))``, elementwise: the logistic function of a binary score.

    Written as ``1 / (1 + e)`` for s >= 0 and ``e / (1 + e)`` for s < 0 with ``e = exp(-|s|)``: the two
    are the same function, but ``exp`` never overflows and far below 0 the result keeps its full relative
    accuracy (``sigmoid(-40)`` is 4.25e-18, not 0), so ``log(sigmoid(s))`` stays finite. The layers and
    the Tensor engine use this one formula, so they agree to the last digit.

    >>> float(sigmoid(-40.0))
    4.248354255291589e-18

    Inputs:
    - scores: array of any shape (NaN passes through as NaN)

    Returns:
    - probs: same shape, values in [0, 1]
    """
    scores = _float(check_array(scores, "scores", finite=False))
    xp = backend.get_array_module(scores)
    e = xp.exp(-xp.abs(scores))
    # the numerator is 1 for s >= 0 and e below: max(e, [s >= 0]) picks it without where(), 5x faster
    return xp.maximum(e, scores >= 0) / (1 + e)


def softmax(scores, axis: int = -1):
    """Probabilities ``exp(s_k) / sum_j exp(s_j)`` along ``axis`` (the classes, last by default).

    Subtracting each row's maximum first changes nothing mathematically (it cancels in the ratio) and
    keeps ``exp`` from overflowing, so scores of any size are safe.

    Inputs:
    - scores: array of any shape, e.g. ``(N, C)`` or ``(C,)``

    Returns:
    - probs: same shape, non-negative, summing to 1 along ``axis``
    """
    scores = _float(check_array(scores, "scores"))
    xp = backend.get_array_module(scores)
    e = xp.exp(scores - scores.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(scores, axis: int = -1):
    """``log(softmax(scores))`` computed as ``s - logsumexp(s)``, finite even where softmax underflows to 0.

    Inputs:
    - scores: array of any shape, classes along ``axis``

    Returns:
    - log_probs: same shape, all <= 0
    """
    scores = _float(check_array(scores, "scores"))
    xp = backend.get_array_module(scores)
    shifted = scores - scores.max(axis=axis, keepdims=True)
    return shifted - xp.log(xp.exp(shifted).sum(axis=axis, keepdims=True))


# ------------------------------------------------------------------------------ classification losses
def svm_loss(scores, y, margin: float = 1.0):
    """Multiclass SVM (hinge) loss, Weston-Watkins form, averaged over the batch.

    ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)``, ``L = mean_i L_i``. A wrong class costs
    nothing once the correct class beats it by ``margin``. At a margin of exactly 0 the hinge has a kink;
    we use the subgradient 0 there (a margin counts only when it is > 0).

    Inputs:
    - scores: ``(N, C)`` class scores
    - y: ``(N,)`` integer labels in ``[0, C)``
    - margin: the required gap, 1.0 by default

    Returns:
    - loss: float
    - dscores: ``(N, C)`` gradient of the loss with respect to ``scores``
    """
    scores, y = check_scores_labels(scores, y)
    scores = _float(scores)
    xp = backend.get_array_module(scores)
    n = scores.shape[0]
    rows = xp.arange(n)
    margins = scores - scores[rows, y][:, None] + margin
    margins[rows, y] = 0                       # the correct class is not compared with itself
    active = (margins > 0).astype(scores.dtype)
    loss = float((margins * active).sum()) / n
    dscores = active
    dscores[rows, y] = -active.sum(axis=1)     # s_y appears, with a minus, in every active margin
    return loss, dscores / n


def softmax_loss(scores, y):
    """Softmax cross-entropy loss, ``-log p_{y_i}``, averaged over the batch.

    Computed as ``logsumexp(s) - s_y`` with the row maximum subtracted, so it is finite and correct for
    scores of any magnitude (e.g. +-1000, where ``exp`` alone would overflow). The gradient is the
    lecture's ``p - onehot(y)``, divided by N.

    Inputs:
    - scores: ``(N, C)`` class scores (logits)
    - y: ``(N,)`` integer labels in ``[0, C)``

    Returns:
    - loss: float
    - dscores: ``(N, C)``
    """
    scores, y = check_scores_labels(scores, y)
    scores = _float(scores)
    xp = backend.get_array_module(scores)
    n = scores.shape[0]
    rows = xp.arange(n)
    log_probs = log_softmax(scores)
    loss = -float(log_probs[rows, y].sum()) / n
    dscores = xp.exp(log_probs)
    dscores[rows, y] -= 1
    return loss, dscores / n


def __getattr__(name):
    # losses.cross_entropy was softmax_loss under PyTorch's name, which functional.cross_entropy (a Tensor
    # loss) also has: one name, two kinds of result. Kept for one release for notebooks that use it.
    if name == "cross_entropy":
        deprecated("deepgrad.losses.cross_entropy", "deepgrad.losses.softmax_loss")
        return softmax_loss
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------- regression and binary losses
def mse_loss(pred, target):
    """Mean squared error over **all elements**, as PyTorch's ``mse_loss(reduction='mean')``.

    ``L = mean((pred - target)**2)``; with ``pred`` of shape ``(N, K)`` that divides by ``N*K``, not N.

    Inputs:
    - pred: predictions, any shape
    - target: same shape as ``pred`` (no broadcasting, to catch ``(N,)`` versus ``(N, 1)`` mix-ups)

    Returns:
    - loss: float
    - dpred: same shape as ``pred``, ``2 (pred - target) / pred.size``
    """
    pred = _float(check_array(pred, "pred"))
    target = check_array(target, "target")
    if pred.shape != target.shape:
        raise ValueError(f"target must have the shape of pred {pred.shape}, got {target.shape} "
                         "(reshape one of them; (N,) and (N, 1) differ)")
    if pred.size == 0:
        raise ValueError(f"pred must hold at least one element, got shape {pred.shape}")
    diff = pred - target.astype(pred.dtype)
    return float((diff * diff).sum()) / pred.size, 2 * diff / pred.size


def logistic_loss(scores, y):
    """Binary logistic (log) loss on logits, averaged over the batch.

    With ``p = sigmoid(s)``, ``L_i = -y log p - (1 - y) log(1 - p) = softplus(s) - y s``, computed with
    ``logaddexp(0, s)`` so large ``|s|`` neither overflow nor lose digits. Gradient ``(p - y) / N``.

    Inputs:
    - scores: ``(N,)`` logits (one score per example)
    - y: ``(N,)`` labels in {0, 1} (int, bool or float)

    Returns:
    - loss: float
    - dscores: ``(N,)``
    """
    scores = _float(check_array(scores, "scores", ndim=1))
    xp = backend.get_array_module(scores)
    y = check_array(y, "y", ndim=1)
    if y.shape != scores.shape:
        raise ValueError(f"y must have one label per score: expected shape {scores.shape}, got {y.shape}")
    if scores.size == 0:
        raise ValueError("scores must hold at least one example, got shape (0,)")
    if not bool(((y == 0) | (y == 1)).all()):
        raise ValueError(f"y must hold binary labels 0 or 1, found values {backend.to_numpy(xp.unique(y))[:5]}")
    y = y.astype(scores.dtype)
    n = scores.shape[0]
    loss = float((xp.logaddexp(0, scores) - y * scores).sum()) / n
    return loss, (sigmoid(scores) - y) / n


# ---------------------------------------------------------------------------------- regularisation
def l2_penalty(W, reg: float):
    """L2 regularisation ``reg * sum(W**2)`` and its gradient ``2 * reg * W``.

    Convention: no factor 1/2 (some courses use ``0.5 * reg * sum(W**2)`` so that the gradient is
    ``reg * W``; ours keeps the 2 in the gradient).

    Returns:
    - penalty: float
    - dW: same shape as ``W``
    """
    W = _float(check_array(W, "W"))
    reg = check_number(reg, "reg", minimum=0)
    return reg * float((W * W).sum()), 2 * reg * W


def l1_penalty(W, reg: float):
    """L1 regularisation ``reg * sum(|W|)`` and its (sub)gradient ``reg * sign(W)`` (0 at W = 0).

    Returns:
    - penalty: float
    - dW: same shape as ``W``
    """
    W = _float(check_array(W, "W"))
    reg = check_number(reg, "reg", minimum=0)
    xp = backend.get_array_module(W)
    return reg * float(xp.abs(W).sum()), reg * xp.sign(W)
