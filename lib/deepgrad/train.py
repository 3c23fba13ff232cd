"""The training loop: mini-batch epochs, history, early stopping, a progress bar (lecture: training end to end).

    >>> from deepgrad import data, nn, optim
    >>> X, y = data.make_blobs(200, centers=3, seed=0)
    >>> X_train, y_train, X_val, y_val, _, _ = data.train_val_test_split(X, y)
    >>> model = nn.MLP([2, 16, 3], generator=0)
    >>> history = fit(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=0.05),
    ...               (X_train, y_train), val_data=(X_val, y_val), epochs=20, batch_size=32, patience=5,
    ...               progress=False)
    >>> history.epochs, history.stop_reason, history.val_acc[-1] > 0.9
    (20, 'completed', True)

Each step: forward pass, loss, ``zero_grad``, ``backward``, optimiser ``step``. When the loss turns NaN or
infinite, training stops *before* that step's update (so the parameters stay finite), a
:class:`TrainingWarning` says at which epoch and step and suggests a smaller learning rate, and
``history.stop_reason`` records it (pass ``on_nonfinite="raise"`` for a ``FloatingPointError`` instead).
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field

from . import backend
from .autograd import Tensor, no_grad
from .checks import check_choice, check_generator, check_int
from .data import minibatches

__all__ = ["History", "TrainingWarning", "accuracy", "evaluate", "fit", "Trainer"]


class TrainingWarning(UserWarning):
    """Training stopped early for a reason the user should know (a NaN or infinite loss)."""


@dataclass
class History:
    """What happened during :func:`fit`. Per-epoch lists have one entry per finished epoch.

    - ``loss``: mean training loss of each epoch (over its mini-batches, weighted by batch size)
    - ``train_acc``: running training accuracy of each epoch (None entries for non-classification)
    - ``val_loss``, ``val_acc``: on the validation data at the end of each epoch (empty without it)
    - ``step_loss``: the loss of every step; ``lr``: the first group's learning rate of each epoch
    - ``best_epoch``: the epoch (0-based) with the lowest monitored loss (validation loss if given)
    - ``stop_reason``: ``'completed'``, ``'early_stopping'`` or ``'nonfinite_loss'``
    """

    loss: list = field(default_factory=list)
    train_acc: list = field(default_factory=list)
    val_loss: list = field(default_factory=list)
    val_acc: list = field(default_factory=list)
    step_loss: list = field(default_factory=list)
    lr: list = field(default_factory=list)
    best_epoch: int | None = None
    stop_reason: str = "completed"

    @property
    def epochs(self) -> int:
        return len(self.loss)


def accuracy(logits, y) -> float:
    """Fraction of rows whose largest score is at the true label.

    Inputs: logits of shape (N, C) (a Tensor or an array), y of shape (N,) integer labels.
    """
    scores = logits.data if isinstance(logits, Tensor) else logits
    xp = backend.get_array_module(scores)
    y = xp.asarray(y.data if isinstance(y, Tensor) else y)
    if scores.ndim != 2 or y.shape != (scores.shape[0],):
        raise ValueError(f"accuracy needs logits (N, C) and labels (N,), got shapes {scores.shape} and {y.shape}")
    return float((scores.argmax(axis=1) == y).mean())


def _is_classification(out, y) -> bool:
    y = y.data if isinstance(y, Tensor) else y
    return out.ndim == 2 and getattr(y, "ndim", 0) == 1 and y.dtype.kind in "iu"


def _batches(data, batch_size, shuffle, rng):
    """Mini-batches from an (X, y) pair (:func:`data.minibatches`) or from any iterable of (xb, yb) such as
    a DataLoader."""
    if isinstance(data, tuple):
        return minibatches(*data, batch_size=batch_size, shuffle=shuffle, seed=rng)
    return data


def _check_data(data, name):
    if isinstance(data, tuple) and len(data) != 2:
        raise ValueError(f"{name} must be a pair (X, y) or an iterable of batches, got a tuple of {len(data)}")
    if isinstance(data, tuple) and data[0].shape[0] != data[1].shape[0]:
        raise ValueError(f"{name}: X and y must have the same number of examples, got shapes "
                         f"{data[0].shape} and {data[1].shape}")


def _param_info(model):
    p = next(iter(model.parameters()), None)
    if p is None:
        return None, None
    return backend.get_array_module(p.data), p.dtype


def _prepare(xb, xp, dtype):
    """The batch on the model's device, floats in the model's dtype (float64 data would slow float32 nets)."""
    if isinstance(xb, Tensor):
        return xb
    if xp is not None:
        xb = xp.asarray(xb)
        if dtype is not None and xb.dtype.kind == "f" and xb.dtype != dtype:
            xb = xb.astype(dtype)
    return Tensor(xb)


def _labels_like(yb, xp):
    if isinstance(yb, Tensor) or xp is None:
        return yb
    return xp.asarray(yb)


class _NonFiniteLoss(Exception):
    def __init__(self, step: int, value: float):
        super().__init__(step, value)
        self.step, self.value = step, value


def _epoch(model, loss_fn, batches, train_step=None):
    """One pass over ``batches``: the mean loss (weighted by batch size) and the accuracy (None unless
    every batch is classification). ``train_step(step, loss, value)``, when given, runs after each forward
    pass (training: the backward pass and the update)."""
    xp, dtype = _param_info(model)
    total, correct, n, classification = 0.0, 0.0, 0, True
    for step, (xb, yb) in enumerate(batches):
        out = model(_prepare(xb, xp, dtype))
        yb = _labels_like(yb, xp)
        loss = loss_fn(out, yb)
        value = float(loss.item())
        if train_step is not None:
            train_step(step, loss, value)
        b = out.shape[0]
        total += value * b
        classification = classification and _is_classification(out, yb)
        if classification:
            correct += accuracy(out, yb) * b
        n += b
    return total / max(n, 1), (correct / n if classification and n else None)


def evaluate(model, loss_fn, data, batch_size: int = 1024):
    """Mean loss and accuracy (None when not classification) of ``model`` on ``data`` = (X, y), in eval
    mode and without recording a graph; the model's previous mode is restored."""
    _check_data(data, "data")
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            return _epoch(model, loss_fn, _batches(data, batch_size, False, None))
    finally:
        model.train(was_training)


def fit(model, loss_fn, optimizer, train_data, val_data=None, epochs: int = 10, batch_size: int = 32,
        shuffle: bool = True, seed: int | None = 0, scheduler=None, patience: int | None = None,
        min_delta: float = 0.0, restore_best: bool = True, progress: bool = True,
        on_nonfinite: str = "warn", callback=None) -> History:
    """Train ``model`` by mini-batch gradient descent and return its :class:`History`.

    Inputs:
    - model: an ``nn.Module`` mapping a batch (B, ...) to outputs (B, C) (or any shape ``loss_fn`` takes)
    - loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor``, e.g. ``nn.CrossEntropyLoss()``
    - optimizer: e.g. ``optim.SGD(model.parameters(), lr=0.1)``
    - train_data, val_data: pairs ``(X, y)`` of arrays (X of shape (N, ...), y of shape (N,)), or for
      train_data any iterable of batches such as a ``data.DataLoader``
    - epochs, batch_size, shuffle, seed: passes over the data, examples per step, order (an int seed or
      a ``numpy.random.Generator``)
    - scheduler: an ``optim.lr_scheduler`` object, stepped after every epoch
    - patience: stop when the monitored loss (validation loss, else training loss) has not improved by
      more than ``min_delta`` for this many epochs; ``restore_best`` then reloads the best parameters
      (also at the end of a run that used all its epochs). None: no early stopping
    - progress: show a tqdm progress bar (notebook-aware)
    - on_nonfinite: ``'warn'`` (stop with a TrainingWarning) or ``'raise'`` (FloatingPointError)
    - callback: ``callback(history)`` after every epoch (a widget draws the curves so far; an exception
      it raises ends training and propagates)
    """
    from tqdm.auto import tqdm  # only the training loop needs it

    epochs = check_int(epochs, "epochs", minimum=0)
    batch_size = check_int(batch_size, "batch_size", minimum=1)
    if patience is not None:
        patience = check_int(patience, "patience", minimum=1)
    check_choice(on_nonfinite, "on_nonfinite", ("warn", "raise"))
    _check_data(train_data, "train_data")
    if val_data is not None:
        _check_data(val_data, "val_data")

    def train_step(step, loss, value):
        if not math.isfinite(value):
            raise _NonFiniteLoss(step, value)  # before the update, so the parameters stay finite
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        history.step_loss.append(value)

    history = History()
    rng = check_generator(seed, "seed")
    best_loss, best_state, waited = math.inf, None, 0
    bar = tqdm(range(epochs), disable=not progress, desc="training", unit="epoch")
    for epoch in bar:
        model.train()
        try:
            loss, acc = _epoch(model, loss_fn, _batches(train_data, batch_size, shuffle, rng), train_step)
        except _NonFiniteLoss as stop:
            message = (f"the training loss became {stop.value} at epoch {epoch}, step {stop.step}; training "
                       "stopped before that update (try a smaller learning rate, or check the data for NaN)")
            if on_nonfinite == "raise":
                bar.close()
                raise FloatingPointError(message) from None
            warnings.warn(message, TrainingWarning, stacklevel=2)
            history.stop_reason = "nonfinite_loss"
            break
        history.loss.append(loss)
        history.train_acc.append(acc)
        history.lr.append(optimizer.param_groups[0]["lr"])
        postfix = {"loss": f"{loss:.4f}"}
        monitored = loss
        if val_data is not None:
            monitored, vacc = evaluate(model, loss_fn, val_data, max(batch_size, 1024))
            history.val_loss.append(monitored)
            history.val_acc.append(vacc)
            postfix["val_loss"] = f"{monitored:.4f}"
            if vacc is not None:
                postfix["val_acc"] = f"{vacc:.3f}"
        if scheduler is not None:
            scheduler.step()
        bar.set_postfix(postfix)
        if callback is not None:
            callback(history)
        if monitored < best_loss - min_delta:
            best_loss, history.best_epoch, waited = monitored, epoch, 0
            if patience is not None and restore_best:
                best_state = model.state_dict()
        else:
            waited += 1
            if patience is not None and waited >= patience:
                history.stop_reason = "early_stopping"
                break
    bar.close()
    if best_state is not None:
        model.load_state_dict(best_state)
    return history


class Trainer:
    """:func:`fit` with its settings kept, for repeated runs: ``Trainer(model, loss_fn, opt).fit(train, val)``."""

    def __init__(self, model, loss_fn, optimizer, **options):
        self.model, self.loss_fn, self.optimizer, self.options = model, loss_fn, optimizer, options
        self.history = None

    def fit(self, train_data, val_data=None, **options) -> History:
        self.history = fit(self.model, self.loss_fn, self.optimizer, train_data, val_data,
                           **{**self.options, **options})
        return self.history

    def evaluate(self, data, batch_size: int = 1024):
        return evaluate(self.model, self.loss_fn, data, batch_size)
