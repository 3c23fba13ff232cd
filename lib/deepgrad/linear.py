"""Linear classifiers (lecture 1): scores ``s = x W``, the SVM and softmax losses, trained by SGD.

One weight matrix ``W`` of shape ``(D, C)`` maps an input row ``x`` (D,) to C class scores. Each column
of ``W`` is a *template* for one class (the visual view); each column also defines a hyperplane
``x . w_c = 0`` (the geometric view). A linear classifier can only draw straight boundaries, so XOR and
a bullseye defeat it.

**Bias trick.** Instead of ``x W + b`` we append a constant 1 to every input (:func:`add_bias_column`)
and let the last row of ``W`` be the bias: ``[x, 1] [[W], [b]] = x W + b``. All loss functions here take
that single ``W``. **Regularisation** is ``reg * sum(W**2)`` over *all* of ``W``, bias row included: it
keeps the code to one line, barely changes results, and matches what PyTorch's ``weight_decay`` does
to every parameter it is given.

Each loss comes twice: ``*_naive`` with explicit loops over examples and classes (read it to see the
formula) and ``*_vectorized`` with none (use it: 20-30x faster on CIFAR-sized data, see
bench/bench_linear.py). Both return ``(loss, dW)``.
"""
from __future__ import annotations

import math

import numpy as np

from . import backend
from .checks import check_array, check_choice, check_int, check_labels, check_number
from .losses import softmax_loss, svm_loss

__all__ = [
    "add_bias_column",
    "svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized",
    "LinearClassifier", "LinearSVM", "Softmax",
]


def add_bias_column(X):
    """Append a column of ones, so that the last row of ``W`` acts as the bias (the bias trick).

    Inputs:
    - X: ``(N, D)`` inputs

    Returns:
    - ``(N, D + 1)`` array, same dtype (integer inputs become float64)
    """
    X = check_array(X, "X", ndim=2)
    xp = backend.get_array_module(X)
    dtype = X.dtype if X.dtype.kind == "f" else np.float64
    return xp.concatenate([X.astype(dtype, copy=False), xp.ones((X.shape[0], 1), dtype=dtype)], axis=1)


def _check_problem(W, X, y, reg, scan: bool = True):
    """Validate ``W (D, C)``, ``X (N, D)``, ``y (N,)`` in ``[0, C)`` and ``reg >= 0`` together.

    With ``scan=False`` the NaN/inf scan of X and W is left to :func:`_scores`, which looks at the small
    score matrix instead (any NaN/inf in X or W reaches the scores) and only then scans to name the culprit.
    """
    W = check_array(W, "W", ndim=2, finite=scan)
    X = check_array(X, "X", ndim=2, finite=scan)
    if X.shape[1] != W.shape[0]:
        hint = (" (did you forget add_bias_column(X)? W has a bias row)"
                if W.shape[0] == X.shape[1] + 1 else "")
        raise ValueError(f"X must have one column per row of W: X has shape {X.shape}, W has shape {W.shape}, "
                         f"expected X of shape (N, {W.shape[0]}){hint}")
    y = check_labels(y, "y", X.shape[0], W.shape[1])
    if X.shape[0] == 0:
        raise ValueError(f"X must hold at least one example (row), got shape {X.shape}")
    return W, X, y, check_number(reg, "reg", minimum=0)


def _scores(W, X):
    """``X @ W``, with a named error if X or W holds NaN/inf (found through the scores, cheaply)."""
    scores = X @ W
    xp = backend.get_array_module(scores)
    if not bool(xp.isfinite(scores).all()):
        check_array(X, "X")
        check_array(W, "W")
        raise ValueError(f"scores = X @ W overflowed (max |X| {float(abs(X).max()):.3g}, max |W| "
                         f"{float(abs(W).max()):.3g}): standardise X or lower the learning rate")
    return scores


# ------------------------------------------------------------------------------------- SVM
def svm_loss_naive(W, X, y, reg: float):
    """Multiclass SVM loss and gradient with explicit loops (the teaching version).

    Inputs:
    - W: ``(D, C)`` weights (last row the bias if X carries the bias column)
    - X: ``(N, D)`` inputs
    - y: ``(N,)`` labels in ``[0, C)``
    - reg: L2 strength; the loss adds ``reg * sum(W**2)``

    Returns:
    - loss: float, mean hinge loss over the N examples plus the regulariser
    - dW: ``(D, C)``
    """
    W, X, y, reg = _check_problem(W, X, y, reg)
    xp = backend.get_array_module(W)
    num_train, num_classes = X.shape[0], W.shape[1]
    dW = xp.zeros(W.shape, dtype=np.result_type(W.dtype, X.dtype, np.float32))
    loss = 0.0
    for i in range(num_train):
        scores = X[i] @ W
        if not bool(xp.isfinite(scores).all()):
            _scores(W, X)                        # raises, saying why the scores overflowed
        correct = scores[y[i]]
        for j in range(num_classes):
            if j == y[i]:
                continue
            margin = float(scores[j] - correct + 1)
            if margin > 0:               # only violated margins contribute (subgradient 0 at exactly 0)
                loss += margin
                dW[:, j] += X[i]
                dW[:, y[i]] -= X[i]
    loss /= num_train
    dW /= num_train
    loss += reg * float((W * W).sum())
    dW += 2 * reg * W
    return loss, dW


def svm_loss_vectorized(W, X, y, reg: float):
    """Multiclass SVM loss and gradient without Python loops. Same inputs and outputs as
    :func:`svm_loss_naive`: ``W (D, C)``, ``X (N, D)``, ``y (N,)``, ``reg`` -> ``(loss, dW (D, C))``.
    """
    W, X, y, reg = _check_problem(W, X, y, reg, scan=False)
    loss, dscores = svm_loss(_scores(W, X), y)
    return loss + reg * float((W * W).sum()), X.T @ dscores + 2 * reg * W


# --------------------------------------------------------------------------------- softmax
def softmax_loss_naive(W, X, y, reg: float):
    """Softmax (cross-entropy) loss and gradient with explicit loops (the teaching version).

    Inputs:
    - W: ``(D, C)`` weights
    - X: ``(N, D)`` inputs
    - y: ``(N,)`` labels in ``[0, C)``
    - reg: L2 strength; the loss adds ``reg * sum(W**2)``

    Returns:
    - loss: float, mean of ``-log p_{y_i}`` plus the regulariser
    - dW: ``(D, C)``
    """
    W, X, y, reg = _check_problem(W, X, y, reg)
    xp = backend.get_array_module(W)
    num_train, num_classes = X.shape[0], W.shape[1]
    dW = xp.zeros(W.shape, dtype=np.result_type(W.dtype, X.dtype, np.float32))
    loss = 0.0
    for i in range(num_train):
        scores = X[i] @ W
        if not bool(xp.isfinite(scores).all()):
            _scores(W, X)                        # raises, saying why the scores overflowed
        top = max(float(s) for s in scores)        # shift for stability: cancels in the ratio
        exps = [math.exp(float(s) - top) for s in scores]
        total = sum(exps)
        loss += -(float(scores[y[i]]) - top - math.log(total))
        for j in range(num_classes):
            p = exps[j] / total
            dW[:, j] += (p - int(j == y[i])) * X[i]   # dL_i/ds_j = p_j - 1[j = y_i]
    loss /= num_train
    dW /= num_train
    loss += reg * float((W * W).sum())
    dW += 2 * reg * W
    return loss, dW


def softmax_loss_vectorized(W, X, y, reg: float):
    """Softmax loss and gradient without Python loops. Same inputs and outputs as
    :func:`softmax_loss_naive`: ``W (D, C)``, ``X (N, D)``, ``y (N,)``, ``reg`` -> ``(loss, dW (D, C))``.
    """
    W, X, y, reg = _check_problem(W, X, y, reg, scan=False)
    loss, dscores = softmax_loss(_scores(W, X), y)
    return loss + reg * float((W * W).sum()), X.T @ dscores + 2 * reg * W


# ------------------------------------------------------------------------------ the classifier
_LOSSES = {"svm": svm_loss_vectorized, "softmax": softmax_loss_vectorized}


class LinearClassifier:
    """A linear classifier ``scores = [X, 1] W`` trained by mini-batch SGD.

    Parameters:
    - loss: ``"svm"`` (multiclass hinge) or ``"softmax"`` (cross-entropy)
    - reg: L2 strength (``reg * sum(W**2)``)
    - seed: seed for the initial weights and the mini-batch sampling
    - bias: use the bias trick (an extra last row of ``W``); inputs are given *without* the ones column
    - num_classes: C; by default ``max(y) + 1`` of the first training labels

    Attributes:
    - W: ``(D + 1, C)`` weights (``(D, C)`` with ``bias=False``), None before training
    """

    def __init__(self, loss: str = "softmax", reg: float = 1e-5, seed: int | None = None, bias: bool = True,
                 num_classes: int | None = None):
        self.loss_name = check_choice(loss, "loss", sorted(_LOSSES))
        self.reg = check_number(reg, "reg", minimum=0)
        self.bias = bool(bias)
        self.num_classes = num_classes
        self.rng = np.random.default_rng(seed)
        self.W = None

    def __repr__(self) -> str:
        shape = None if self.W is None else tuple(self.W.shape)
        return f"{type(self).__name__}(loss={self.loss_name!r}, reg={self.reg}, W shape={shape})"

    def _inputs(self, X):
        X = check_array(X, "X", ndim=2)
        return add_bias_column(X) if self.bias else X

    def loss(self, X_batch, y_batch):
        """Loss and gradient ``(loss, dW)`` on a batch; ``X_batch (N, D)`` without the bias column."""
        return _LOSSES[self.loss_name](self.W, self._inputs(X_batch), y_batch, self.reg)

    def train(self, X, y, learning_rate: float = 1e-3, num_iters: int = 100, batch_size: int = 200,
              verbose: bool = False) -> list[float]:
        """Mini-batch SGD: each step samples ``batch_size`` rows and moves ``W -= learning_rate * dW``.

        Inputs:
        - X: ``(N, D)`` training inputs (without the bias column); float32 stays float32
        - y: ``(N,)`` labels in ``[0, C)``
        - learning_rate, num_iters, batch_size: the SGD settings
        - verbose: print the loss every 100 iterations

        Returns:
        - loss_history: the loss at every iteration (list of floats)
        """
        Xb = self._inputs(X)
        y = check_labels(y, "y", Xb.shape[0])
        batch_size = check_int(batch_size, "batch_size", minimum=1)
        num_iters = check_int(num_iters, "num_iters", minimum=0)
        learning_rate = check_number(learning_rate, "learning_rate", minimum=0)
        xp = backend.get_array_module(Xb)
        num_train, dim = Xb.shape
        if self.W is None:
            num_classes = self.num_classes or int(y.max()) + 1
            # small random weights: every class starts with a near-zero template
            self.W = xp.asarray(0.001 * self.rng.standard_normal((dim, num_classes)), dtype=Xb.dtype)
        elif self.W.shape[0] != dim:
            raise ValueError(f"X has {dim} features (with bias) but W was trained with shape {self.W.shape}")
        loss_fn = _LOSSES[self.loss_name]
        history = []
        for it in range(num_iters):
            idx = xp.asarray(self.rng.choice(num_train, batch_size, replace=batch_size > num_train))
            loss, dW = loss_fn(self.W, Xb[idx], y[idx], self.reg)
            self.W -= (learning_rate * dW).astype(self.W.dtype, copy=False)
            history.append(loss)
            if verbose and (it % 100 == 0 or it == num_iters - 1):
                print(f"iteration {it} / {num_iters}: loss {loss:.4f}")
        return history

    def _trained(self):
        if self.W is None:
            raise RuntimeError(f"{type(self).__name__} has no weights yet: call train(X, y, ...) first")
        return self.W

    def scores(self, X):
        """Class scores ``(N, C)`` for inputs ``X (N, D)``."""
        W = self._trained()
        Xb = self._inputs(X)
        if Xb.shape[1] != W.shape[0]:
            raise ValueError(f"X must have {W.shape[0] - self.bias} columns (features), got shape {X.shape}")
        return Xb @ W

    def predict(self, X):
        """Predicted labels ``(N,)``: the class with the highest score."""
        return self.scores(X).argmax(axis=1)

    def templates(self, image_shape):
        """The weights as one image per class: ``(C, *image_shape)``, bias row dropped.

        E.g. ``image_shape=(8, 8)`` for sklearn's digits (-> ``(10, 8, 8)``) or ``(32, 32, 3)`` for CIFAR.
        """
        W = self._trained()
        W = W[:-1] if self.bias else W
        shape = tuple(int(s) for s in image_shape)
        if math.prod(shape) != W.shape[0]:
            raise ValueError(f"image_shape {shape} has {math.prod(shape)} pixels but the classifier has "
                             f"{W.shape[0]} input features")
        return W.T.reshape((W.shape[1], *shape))


class LinearSVM(LinearClassifier):
    """A :class:`LinearClassifier` with the multiclass SVM loss (CS231n's name)."""

    def __init__(self, reg: float = 1e-5, seed: int | None = None, bias: bool = True, num_classes: int | None = None):
        super().__init__("svm", reg, seed, bias, num_classes)


class Softmax(LinearClassifier):
    """A :class:`LinearClassifier` with the softmax cross-entropy loss (CS231n's name)."""

    def __init__(self, reg: float = 1e-5, seed: int | None = None, bias: bool = True, num_classes: int | None = None):
        super().__init__("softmax", reg, seed, bias, num_classes)
