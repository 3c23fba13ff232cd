"""Regularisation explorer: dropout, weight decay and early stopping on a small training set."""
from __future__ import annotations

import time
from types import SimpleNamespace

import ipywidgets as W
import numpy as np

from .. import data, nn, optim
from ..train import fit
from ..viz.style import PALETTE, new_figure
from ._common import Blit, Explorer, Superseded, int_slider, log_slider, slider

__all__ = ["RegularizationController", "regularization_explorer"]


class RegularizationController:
    """An MLP trained on few digits (so it overfits), with the regularisers as settings.

    Parameters:
    - dropout: drop probability after each hidden layer (0 = off)
    - weight_decay: L2 strength λ passed to the optimiser (0 = off)
    - early_stopping: stop when the validation loss has not improved for ``patience`` epochs and
      restore the best weights
    - n_train: training examples (small on purpose); epochs; hidden width; lr (Adam); seed

    State after :meth:`run`: ``history`` (``{"train_loss", "val_loss", "train_acc", "val_acc"}`` per
    epoch), ``best_epoch`` (1-based), ``stopped_early``, ``gap`` (val − train loss at the end).
    """

    def __init__(self, dropout: float = 0.0, weight_decay: float = 0.0, early_stopping: bool = False,
                 patience: int = 10, n_train: int = 150, epochs: int = 60, hidden: int = 64, lr: float = 5e-3,
                 seed: int = 0):
        self.dropout, self.weight_decay, self.early_stopping, self.patience = dropout, weight_decay, early_stopping, patience
        self.n_train, self.epochs, self.hidden, self.lr, self.seed = n_train, epochs, hidden, lr, seed
        X, y = data.load_digits(scale=True)
        Xtr, ytr, Xval, yval, _, _ = data.train_val_test_split(X, y, val=0.2, test=0.2, seed=seed)
        self.Xtr, self.ytr = Xtr[:n_train], ytr[:n_train]
        self.Xval, self.yval = Xval, yval
        self.history: dict[str, list[float]] = {k: [] for k in ("train_loss", "val_loss", "train_acc", "val_acc")}

    def run(self, callback=None):
        """Train from scratch; ``callback(self)`` after every epoch sees ``history`` so far."""
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        net = nn.MLP([64, self.hidden, self.hidden, 10], activation="relu", dropout=self.dropout,
                     dtype=np.float64, generator=self.seed)
        opt = optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)

        def each_epoch(h):
            self.history = {"train_loss": list(h.loss), "val_loss": list(h.val_loss),
                            "train_acc": list(h.train_acc), "val_acc": list(h.val_acc)}
            if callback is not None:
                callback(self)

        h = fit(net, nn.CrossEntropyLoss(), opt, (self.Xtr, self.ytr), (self.Xval, self.yval),
                epochs=self.epochs, batch_size=75, seed=self.seed, progress=False,
                patience=self.patience if self.early_stopping else None, callback=each_epoch)
        self.model = net
        each_epoch(h)
        self.best_epoch = int(np.argmin(h.val_loss)) + 1
        self.stopped_early = h.stop_reason == "early_stopping"
        self.gap = self.history["val_loss"][-1] - self.history["train_loss"][-1]
        return self

    def summary(self) -> str:
        hist = self.history
        b, last = self.best_epoch - 1, len(hist["val_loss"])
        stop = (f"Early stopping ended training at epoch {last} and restored the weights of epoch {self.best_epoch} "
                f"(validation accuracy {hist['val_acc'][b]:.0%} there). " if self.stopped_early else "")
        return (f"{stop}At epoch {last}, the last: training accuracy {hist['train_acc'][-1]:.0%}, validation "
                f"accuracy {hist['val_acc'][-1]:.0%}; validation loss minus training loss {self.gap:.3f}. "
                f"Lowest validation loss {hist['val_loss'][b]:.3f}, at epoch {self.best_epoch}.")


class _CurvesView(Blit):
    """Loss and accuracy by epoch, training solid and validation dashed; lines moved as training streams.
    The axes' ticks depend on the number of epochs and the loss's range (in steps of 0.5, so it seldom
    changes): drawn once per pair, over a background drawn once."""

    def __init__(self, c):
        self.c = c
        self.figure, (self.ax_loss, self.ax_acc) = new_figure(figsize=(10.5, 3.8), ncols=2)
        self.lines, legends = {}, []
        # where the curves seldom go: a loss falls from the upper left, an accuracy rises from the lower left
        for ax, metric, corner in ((self.ax_loss, "loss", "upper right"), (self.ax_acc, "acc", "lower right")):
            for split, style_ in (("train", dict(color=PALETTE[0], linestyle="-")),
                                  ("val", dict(color=PALETTE[1], linestyle="--"))):
                key = f"{split}_{metric}"
                self.lines[key] = ax.plot([], [], linewidth=2, label=key, **style_)[0]
            ax.set_xlabel("epoch")
            legends.append(ax.legend(loc=corner, framealpha=0.9))
        self.ax_loss.set_ylabel("cross-entropy loss")
        self.ax_acc.set_ylabel("accuracy")
        self.ax_acc.set_ylim(0, 1.02)
        self.best = self.ax_loss.axvline(np.nan, color="0.35", linestyle=":", linewidth=1)
        # the legends last, over the curves (and over the grid lines, which belong to the keyed axes)
        self.dynamic = [*self.lines.values(), self.best, self.ax_loss.title, self.ax_acc.title, *legends]
        self.keyed = [self.ax_loss.xaxis, self.ax_loss.yaxis, self.ax_acc.xaxis]

    @property
    def background_key(self):
        return self.ax_loss.get_xlim(), self.ax_loss.get_ylim()

    def update(self):
        c, hist = self.c, self.c.history
        for key, line in self.lines.items():
            line.set_data(np.arange(1, len(hist[key]) + 1), hist[key])
        done = len(hist["val_loss"])
        for ax in (self.ax_loss, self.ax_acc):
            ax.set_xlim(0, c.epochs + 1)
        losses = hist["train_loss"] + hist["val_loss"]
        # in steps of 0.5 (the ticks seldom change), at least 5 % above the highest loss
        self.ax_loss.set_ylim(0, 0.5 * np.ceil(2.1 * max(losses)) if losses else 2.5)
        if done:
            best = int(np.argmin(hist["val_loss"])) + 1
            self.best.set_xdata([best, best])
            self.ax_loss.set_title(f"Loss: lowest val_loss {min(hist['val_loss']):.3f} at epoch {best}")
            self.ax_acc.set_title(f"Accuracy after {done} epochs: train {hist['train_acc'][-1]:.0%}, "
                                  f"val {hist['val_acc'][-1]:.0%}")
        else:
            self.best.set_xdata([np.nan, np.nan])
            self.ax_loss.set_title("Loss: training…")
            self.ax_acc.set_title("Accuracy")


def regularization_explorer(dropout: float = 0.0, weight_decay: float = 0.0, early_stopping: bool = False,
                            epochs: int = 60) -> Explorer:
    """Train a 2-hidden-layer MLP on 150 digits and compare train and validation curves.

    With no regulariser the training loss goes to ~0 while the validation loss turns up (overfitting);
    dropout and weight decay narrow the gap, early stopping stops near the validation minimum. Training
    runs in the background and the curves grow as it goes; a new setting restarts it at once.
    """
    c = RegularizationController(dropout, weight_decay, early_stopping, epochs=epochs)
    drop_w = slider("dropout p", dropout, 0.0, 0.8, step=0.05)
    wd_w = log_slider("weight decay λ", max(weight_decay, 1e-5), -5, -0.5, step=0.25, readout_format=".0e")
    wd_on = W.Checkbox(value=weight_decay > 0, description="use weight decay")
    es_w = W.Checkbox(value=early_stopping, description="early stopping (patience 10)")
    epochs_w = int_slider("epochs", epochs, 10, 300, step=10)
    controls = [W.HBox([drop_w, epochs_w]), W.HBox([wd_on, wd_w]), es_w]
    view = _CurvesView(c)
    ex = Explorer(c, view, controls, image_width="900px", background=True)

    def update():
        c.dropout, c.early_stopping, c.epochs = drop_w.value, es_w.value, epochs_w.value
        c.weight_decay = wd_w.value if wd_on.value else 0.0
        wd_w.disabled = not wd_on.value
        for v in c.history.values():
            v.clear()
        shown = {"at": 0.0}

        def each_epoch(c):
            done = len(c.history["val_loss"])
            ex.info.value = (f"<progress value='{done}' max='{c.epochs}'></progress> "
                             f"training: epoch {done} of {c.epochs}…")
            # a frame at most every 0.15 s: drawing each of 60 epochs would take longer than training them
            if time.perf_counter() - shown["at"] > 0.15:
                ex.stream()
                shown["at"] = time.perf_counter()
            elif ex.superseded:
                raise Superseded

        if ex.superseded:
            raise Superseded
        ex.refresh(key=c.epochs)  # the empty axes at once, before the first epoch (drawn ahead: below)
        shown["at"] = time.perf_counter()
        c.run(callback=each_epoch)
        ex.info.value = c.summary()
        ex.refresh()
        ex.request(ahead, idle=True)

    def ahead():
        # Before its first epoch the picture depends only on the number of epochs (the x axis): those one step
        # of the slider away are drawn now, while nobody waits, so that moving it shows new axes at once rather
        # than after a full draw of both panels (about 60 ms of CPU).
        step = epochs_w.step
        keys = [e for e in (c.epochs + step, c.epochs - step, c.epochs) if epochs_w.min <= e <= epochs_w.max]

        def point(epochs):
            view.c = c if epochs is None else SimpleNamespace(epochs=epochs, history={k: [] for k in c.history})
        ex.draw_ahead(keys, point)

    ex.on_change([drop_w, wd_w, wd_on, es_w, epochs_w], update)
    ex.controls = dict(dropout=drop_w, weight_decay=wd_w, use_weight_decay=wd_on, early_stopping=es_w,
                       epochs=epochs_w)
    ex.request(update)
    return ex
