"""Regularisation explorer: dropout, weight decay and early stopping on a small training set."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import data, nn, optim
from ..train import fit
from ..viz.curves import plot_history
from ._common import Explorer, slider

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
        self.history: dict[str, list[float]] = {}

    def run(self):
        if not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        net = nn.MLP([64, self.hidden, self.hidden, 10], activation="relu", dropout=self.dropout,
                     dtype=np.float64, generator=self.seed)
        opt = optim.Adam(net.parameters(), lr=self.lr, weight_decay=self.weight_decay)
        h = fit(net, nn.CrossEntropyLoss(), opt, (self.Xtr, self.ytr), (self.Xval, self.yval),
                epochs=self.epochs, batch_size=75, seed=self.seed, progress=False,
                patience=self.patience if self.early_stopping else None)
        self.model = net
        self.history = {"train_loss": list(h.loss), "val_loss": list(h.val_loss),
                        "train_acc": list(h.train_acc), "val_acc": list(h.val_acc)}
        self.best_epoch = int(np.argmin(h.val_loss)) + 1
        self.stopped_early = h.stop_reason == "early_stopping"
        self.gap = self.history["val_loss"][-1] - self.history["train_loss"][-1]
        return self

    def summary(self) -> str:
        hist = self.history
        b = self.best_epoch - 1
        stop = (f"Early stopping ended training at epoch {len(hist['val_loss'])} and restored the weights of "
                f"epoch {self.best_epoch}. " if self.stopped_early else "")
        return (f"{stop}Final training accuracy {hist['train_acc'][-1]:.0%}, validation accuracy "
                f"{hist['val_acc'][-1]:.0%} (best validation loss {hist['val_loss'][b]:.3f} at epoch {self.best_epoch}); "
                f"gap between validation and training loss at the end: {self.gap:.3f}.")


def regularization_explorer(dropout: float = 0.0, weight_decay: float = 0.0, early_stopping: bool = False,
                            epochs: int = 60) -> Explorer:
    """Train a 2-hidden-layer MLP on 150 digits and compare train and validation curves.

    With no regulariser the training loss goes to ~0 while the validation loss turns up (overfitting);
    dropout and weight decay narrow the gap, early stopping stops near the validation minimum.
    """
    c = RegularizationController(dropout, weight_decay, early_stopping, epochs=epochs)
    drop_w = slider("dropout p", dropout, 0.0, 0.8, step=0.05, continuous=False)
    wd_w = W.FloatLogSlider(value=max(weight_decay, 1e-5), base=10, min=-5, max=-0.5, step=0.25,
                            description="weight decay λ", continuous_update=False, readout_format=".0e",
                            style={"description_width": "initial"})
    wd_on = W.Checkbox(value=weight_decay > 0, description="use weight decay")
    es_w = W.Checkbox(value=early_stopping, description="early stopping (patience 10)")
    epochs_w = W.IntSlider(value=epochs, min=10, max=300, step=10, description="epochs", continuous_update=False)
    controls = [W.HBox([drop_w, epochs_w]), W.HBox([wd_on, wd_w]), es_w]

    def draw(new):
        fig, axes = new(ncols=2, figsize=(10.5, 3.8))
        plot_history(c.history, ax=list(axes))
        return fig

    ex = Explorer(c, draw, controls, figsize=(10.5, 3.8), image_width="900px")

    def update():
        c.dropout, c.early_stopping, c.epochs = drop_w.value, es_w.value, epochs_w.value
        c.weight_decay = wd_w.value if wd_on.value else 0.0
        wd_w.disabled = not wd_on.value
        c.run()
        ex.info.value = c.summary()
        ex.refresh()

    ex.on_change([drop_w, wd_w, wd_on, es_w, epochs_w], update)
    ex.controls = dict(dropout=drop_w, weight_decay=wd_w, use_weight_decay=wd_on, early_stopping=es_w,
                       epochs=epochs_w)
    ex.guard(update)()
    return ex
