"""Lesson 12's experiments: each way of generalising better, measured against the same model without it.

Every function runs one experiment for one ``seed`` (data split, label noise, initial weights and batch order
all follow it) and returns plain numbers, so that the lesson can show the spread over several seeds and
``tests/test_lesson12.py`` can check that each effect has the sign the lesson states. Built only on the public
API of ``data``, ``nn``, ``optim`` and ``train``.

Each experiment that takes time takes ``progress``: a progress bar (tqdm) that it moves forward by one in the course of
the run, a little after every epoch, so that a bar over several seeds (``total`` = the number of runs) moves
steadily rather than once a seed.

The classification experiments use the 8×8 digits with pixels in [0, 1] (no standardising, so that a moved
image is still an image) and an MLP 64 → 256 → 256 → 10 trained by Adam in mini-batches of 50.
"""
from __future__ import annotations

import math

import numpy as np

from . import data, nn, optim
from .autograd import no_grad
from .train import History, fit

__all__ = [
    "digits_split", "flip_labels", "mlp", "train_classifier", "accuracy", "ridge_regression", "noisy_labels",
    "place_on_canvas", "RandomPlacement", "augmentation", "learning_curve", "random_features",
]

HIDDEN = 256


def _check_seed(seed):
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def digits_split(seed: int, n_train: int | None = None):
    """The digits split 60/20/20 by ``seed``; the first ``n_train`` training images (all if None).

    Returns Xtr (n_train, 64), ytr (n_train,), Xval (359, 64), yval (359,): float32 pixels in [0, 1], int labels.
    """
    seed = _check_seed(seed)
    X, y = data.load_digits(scale=True)
    Xtr, ytr, Xval, yval, _, _ = data.train_val_test_split(X.astype(np.float32), y, val=0.2, test=0.2, seed=seed)
    if n_train is not None:
        if not isinstance(n_train, (int, np.integer)) or not 1 <= n_train <= len(ytr):
            raise ValueError(f"n_train must be an int in [1, {len(ytr)}], got {n_train!r}")
        Xtr, ytr = Xtr[:n_train], ytr[:n_train]
    return Xtr, ytr, Xval, yval


def flip_labels(y, fraction: float, seed: int, classes: int = 10):
    """A copy of labels y (N,) in which each label, with probability ``fraction``, is replaced by a wrong one."""
    if not 0 <= fraction <= 1:
        raise ValueError(f"fraction must be in [0, 1], got {fraction!r}")
    r = np.random.default_rng([_check_seed(seed), 1])
    y = np.array(y, copy=True)
    flip = r.random(len(y)) < fraction
    y[flip] = (y[flip] + r.integers(1, classes, int(flip.sum()))) % classes    # never the true label
    return y


def mlp(n_in: int = 64, n_out: int = 10, hidden: int = HIDDEN, dropout: float = 0.0, bottleneck: int | None = None,
        seed: int = 0) -> nn.Module:
    """Two ReLU hidden layers of width ``hidden``; with ``bottleneck=k`` a *linear* layer of k units between them.

    Input (N, n_in) -> scores (N, n_out). ``dropout`` is the drop probability after each hidden ReLU.
    """
    g = np.random.default_rng([_check_seed(seed), 2])
    if bottleneck is None:
        return nn.MLP([n_in, hidden, hidden, n_out], dropout=dropout, generator=g)
    if not isinstance(bottleneck, (int, np.integer)) or bottleneck < 1:
        raise ValueError(f"bottleneck must be a positive int or None, got {bottleneck!r}")
    parts = [nn.Linear(n_in, hidden, generator=g), nn.ReLU()]
    parts += [nn.Dropout(dropout)] if dropout else []
    parts += [nn.Linear(hidden, bottleneck, generator=g),              # no activation: a narrow linear layer
              nn.Linear(bottleneck, hidden, generator=g), nn.ReLU()]
    parts += [nn.Dropout(dropout)] if dropout else []
    return nn.Sequential(*parts, nn.Linear(hidden, n_out, generator=g))


class _Share:
    """One run's share of a progress bar: ``progress.update`` by 1 in total, in ``steps`` equal ticks (one per
    call); ``progress`` None: nothing. Called with anything (it is also ``fit``'s per-epoch callback). The last
    tick lands the bar on a whole number of runs exactly, so that a finished bar is full (tqdm shows one that
    stops short as failed)."""

    def __init__(self, progress, steps: int):
        self.progress, self.steps, self.done, self.start = progress, max(int(steps), 1), 0, 0.0

    def __call__(self, *_):
        if self.progress is None or self.done >= self.steps:
            return
        if self.done == 0:
            self.start = self.progress.n
        self.done += 1
        last = self.done == self.steps
        self.progress.update(self.start + 1 - self.progress.n if last else 1 / self.steps)


def train_classifier(model, train_data, val_data=None, epochs: int = 60, seed: int = 0, lr: float = 1e-3,
                     batch_size: int = 50, params=None, callback=None, weight_decay: float = 0.0) -> History:
    """:func:`deepgrad.train.fit` with cross-entropy and Adam on ``params`` (default: all of the model's);
    ``weight_decay`` is Adam's (L2 folded into the gradient); ``callback(history)`` after every epoch."""
    opt = optim.Adam(model.parameters() if params is None else params, lr=lr, weight_decay=weight_decay)
    return fit(model, nn.CrossEntropyLoss(), opt, train_data, val_data, epochs=epochs, batch_size=batch_size,
               seed=seed, progress=False, callback=callback)


def accuracy(model, X, y) -> float:
    """Fraction of the images X (N, D) that ``model`` (in eval mode) labels y (N,)."""
    model.eval()
    with no_grad():
        return float((model(X).data.argmax(axis=1) == y).mean())


def ridge_regression(seed: int, weight_decays, n_train: int = 60, n_features: int = 50, noise: float = 1.0,
                     n_test: int = 2000):
    """Linear regression with almost as many features as examples, trained to convergence with weight decay.

    Data: x ~ N(0, I) in ``n_features`` dimensions, y = x·w* + ε with ‖w*‖ = 1 and ε ~ N(0, noise²).
    For the loss mean((Xw − y)²) and SGD's ``weight_decay=wd`` (which adds wd·w to the gradient), the end
    point solves (XᵀX + (N·wd/2)·I) w = Xᵀy; wd = 0 is ordinary least squares.

    Returns a dict of arrays, one entry per weight decay: ``train_mse``, ``test_mse``, ``weight_norm`` (‖w‖),
    and ``X``, ``y``: the training set (N, D), (N,) for checking the end point against real training.
    """
    r = np.random.default_rng([_check_seed(seed), 3])
    w_true = r.standard_normal(n_features)
    w_true /= np.linalg.norm(w_true)
    X, Xt = r.standard_normal((n_train, n_features)), r.standard_normal((n_test, n_features))
    y, yt = X @ w_true + noise * r.standard_normal(n_train), Xt @ w_true + noise * r.standard_normal(n_test)
    out = {"train_mse": [], "test_mse": [], "weight_norm": []}
    for wd in weight_decays:
        if wd < 0:
            raise ValueError(f"weight_decays must be >= 0, got {wd!r}")
        w = np.linalg.solve(X.T @ X + n_train * wd / 2 * np.eye(n_features), X.T @ y)
        out["train_mse"].append(np.mean((X @ w - y) ** 2))
        out["test_mse"].append(np.mean((Xt @ w - yt) ** 2))
        out["weight_norm"].append(np.linalg.norm(w))
    return {**{k: np.array(v) for k, v in out.items()}, "X": X, "y": y}


def noisy_labels(seed: int, epochs: int, dropout: float = 0.0, bottleneck: int | None = None,
                 n_train: int = 200, label_noise: float = 0.3, weight_decay: float = 0.0, progress=None) -> History:
    """The MLP on ``n_train`` digits of which a fraction ``label_noise`` carry a wrong label (Adam's
    ``weight_decay`` on all parameters).

    Validation labels are clean. Returns the History (per epoch: ``loss``, ``train_acc`` against the noisy
    labels, ``val_loss``, ``val_acc``).
    """
    Xtr, ytr, Xval, yval = digits_split(seed, n_train)
    model = mlp(dropout=dropout, bottleneck=bottleneck, seed=seed)
    return train_classifier(model, (Xtr, flip_labels(ytr, label_noise, seed)), (Xval, yval), epochs, seed,
                            callback=_Share(progress, epochs), weight_decay=weight_decay)


def place_on_canvas(images, rng, canvas: int = 10):
    """Each 8×8 image (N, 8, 8) put at a random position on a blank canvas × canvas image -> (N, canvas²)."""
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (8, 8):
        raise ValueError(f"images must have shape (N, 8, 8), got {images.shape}")
    out = np.zeros((len(images), canvas, canvas), dtype=images.dtype)
    corners = rng.integers(0, canvas - 8 + 1, size=(len(images), 2))
    for k, (i, j) in enumerate(corners):
        out[k, i:i + 8, j:j + 8] = images[k]
    return out.reshape(len(images), canvas * canvas)


class RandomPlacement:
    """Augmentation as a data set: every time an example is fetched its digit lands somewhere new.

    Use with ``data.DataLoader``; ``images`` (N, 8, 8), ``y`` (N,). A batch is placed at once (an index array).
    """

    fetches_batches = True

    def __init__(self, images, y, seed: int = 0, canvas: int = 10):
        self.images, self.y, self.canvas = images, y, canvas
        self.rng = np.random.default_rng([_check_seed(seed), 4])

    def __len__(self):
        return len(self.y)

    def __getitem__(self, index):
        return place_on_canvas(self.images[index], self.rng, self.canvas), self.y[index]


def augmentation(seed: int, epochs: int, n_train: int = 200, progress=None):
    """Digits placed at random on a 10×10 canvas: train on one placement each, or on a fresh one every batch.

    Returns the final validation accuracies ``(without, with_augmentation)``.
    """
    Xtr, ytr, Xval, yval = digits_split(seed, n_train)
    r = np.random.default_rng([_check_seed(seed), 5])
    images = Xtr.reshape(-1, 8, 8)
    val = (place_on_canvas(Xval.reshape(-1, 8, 8), r), yval)
    fixed = (place_on_canvas(images, r), ytr)
    moving = data.DataLoader(RandomPlacement(images, ytr, seed), batch_size=50, shuffle=True, generator=seed)
    accs, tick = [], _Share(progress, 2 * epochs)
    for train_data in (fixed, moving):
        model = mlp(n_in=100, seed=seed)
        train_classifier(model, train_data, epochs=epochs, seed=seed, callback=tick)
        accs.append(accuracy(model, *val))
    return tuple(accs)


def learning_curve(seed: int, sizes, steps: int = 200, progress=None):
    """Validation accuracy of the MLP trained on the first n training images, for each n in ``sizes``.

    Every run takes about the same number of gradient steps (``steps``, batches of 50), so only the amount
    of data differs. Returns an array (len(sizes),).
    """
    epochs = [math.ceil(steps / math.ceil(n / 50)) for n in sizes]
    accs, tick = [], _Share(progress, sum(epochs))
    for n, e in zip(sizes, epochs, strict=True):
        Xtr, ytr, Xval, yval = digits_split(seed, n)
        model = mlp(seed=seed)
        train_classifier(model, (Xtr, ytr), epochs=e, seed=seed, callback=tick)
        accs.append(accuracy(model, Xval, yval))
    return np.array(accs)


def random_features(seed: int, widths, n_train: int = 100, progress=None):
    """Over-parameterisation: p random ReLU features of the digits, output layer fitted by least squares.

    The hidden layer relu(x W + b) (W of shape (64, p), fixed and random) gives N × p features; the output
    weights are the minimum-norm least-squares fit to the one-hot labels (with p > N there are many exact fits,
    and this one has the smallest norm). Returns ``(val_mse, val_acc, rank, dead)``, arrays (len(widths),): the
    squared error summed over the 10 outputs, averaged over the validation images; the accuracy; the rank of the
    N × p training feature matrix (the fit interpolates once it reaches N); the features that are 0 on every
    training image (dead ReLUs, which add a column of zeros and nothing to the rank).
    """
    Xtr, ytr, Xval, yval = digits_split(seed, n_train)
    r = np.random.default_rng([_check_seed(seed), 8])
    widest = max(widths)
    W, b = r.normal(0, 1 / 8, (64, widest)), r.normal(0, 1, widest)
    mse, acc, rank, dead, tick = [], [], [], [], _Share(progress, len(widths))
    for p in widths:
        features, val_features = (np.maximum(X @ W[:, :p] + b[:p], 0) for X in (Xtr, Xval))
        rank.append(np.linalg.matrix_rank(features))
        dead.append(int(np.sum(features.max(axis=0) == 0)))
        out = np.linalg.pinv(features) @ np.eye(10)[ytr]            # (p, 10): the minimum-norm fit
        scores = val_features @ out
        mse.append(np.mean(np.sum((scores - np.eye(10)[yval]) ** 2, axis=1)))
        acc.append(np.mean(scores.argmax(axis=1) == yval))
        tick()
    return np.array(mse), np.array(acc), np.array(rank), np.array(dead)
