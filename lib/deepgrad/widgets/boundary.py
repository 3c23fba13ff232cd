"""Decision-boundary explorer: train a linear model or an MLP on 2-D data and watch the regions form."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import autograd, data, nn, optim
from ..autograd import Tensor
from ..functional import cross_entropy
from ..viz.boundaries import plot_decision_boundary
from ._common import Explorer, log_slider

__all__ = ["BoundaryController", "decision_boundary_explorer", "DATASETS"]

DATASETS = {
    "blobs": lambda seed: data.make_blobs(300, centers=3, seed=seed),
    "XOR": lambda seed: data.make_xor(300, seed=seed),
    "bullseye": lambda seed: data.make_bullseye(300, seed=seed),
    "spiral": lambda seed: data.make_spiral(300, classes=3, seed=seed),
}


class BoundaryController:
    """A data set, a model and its training state.

    Parameters:
    - dataset: "blobs", "XOR", "bullseye" or "spiral"
    - model: "linear" (one Linear layer: straight boundaries) or "MLP"
    - hidden: hidden layer sizes of the MLP, e.g. (16, 16)
    - activation: "relu", "tanh" or "sigmoid"
    - lr: Adam learning rate; seed: data and weights

    State: ``X``, ``y``, ``net``, ``history`` ({"train_loss": [...], "train_acc": [...]}, one entry per
    step), ``steps`` taken. :meth:`train` continues from where it stopped; :meth:`reset` starts again.
    """

    def __init__(self, dataset: str = "spiral", model: str = "MLP", hidden=(16, 16), activation: str = "relu",
                 lr: float = 0.02, seed: int = 0):
        self.dataset, self.model, self.hidden, self.activation = dataset, model, tuple(hidden), activation
        self.lr, self.seed = lr, seed
        self.reset()

    def reset(self):
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset must be one of {list(DATASETS)}, got {self.dataset!r}")
        if self.model not in ("linear", "MLP"):
            raise ValueError(f"model must be 'linear' or 'MLP', got {self.model!r}")
        X, y = DATASETS[self.dataset](self.seed)
        self.X, self.y = X, y
        self.num_classes = int(y.max()) + 1
        sizes = [2, self.num_classes] if self.model == "linear" else [2, *self.hidden, self.num_classes]
        self.net = nn.MLP(sizes, activation=self.activation, dtype=np.float64, generator=self.seed)
        self.opt = optim.Adam(self.net.parameters(), lr=self.lr)
        self.history = {"train_loss": [], "train_acc": []}
        self.steps = 0
        return self

    def predict(self, P) -> np.ndarray:
        with autograd.no_grad():
            return self.net(Tensor(np.asarray(P, dtype=np.float64))).data.argmax(axis=1)

    def accuracy(self) -> float:
        return float(np.mean(self.predict(self.X) == self.y))

    def loss(self) -> float:
        """The cross-entropy of the model as it is now (without a step)."""
        with autograd.no_grad():
            return float(cross_entropy(self.net(Tensor(self.X)), self.y).data)

    def train(self, steps: int = 100):
        """Full-batch Adam steps on the cross-entropy loss."""
        for group in self.opt.param_groups:
            group["lr"] = self.lr
        Xt = Tensor(self.X)
        for _ in range(int(steps)):
            self.opt.zero_grad()
            scores = self.net(Xt)
            loss = cross_entropy(scores, self.y)
            loss.backward()
            self.opt.step()
            self.history["train_loss"].append(float(loss.data))
            self.history["train_acc"].append(float(np.mean(scores.data.argmax(axis=1) == self.y)))
            self.steps += 1
        return self


def decision_boundary_explorer(dataset: str = "spiral", model: str = "MLP", hidden=(16, 16),
                               activation: str = "relu", steps: int = 300, chunk: int = 100) -> Explorer:
    """Pick a data set and a model, press train: the regions and the loss curve update as it learns.

    ``steps`` Adam steps per press, drawn every ``chunk`` steps.
    """
    c = BoundaryController(dataset, model, hidden, activation)
    data_w = W.Dropdown(options=list(DATASETS), value=dataset, description="data")
    model_w = W.ToggleButtons(options=["linear", "MLP"], value=model, description="model")
    hidden_w = W.Text(value=", ".join(map(str, hidden)), description="hidden sizes",
                      style={"description_width": "initial"}, layout=W.Layout(width="200px"))
    act_w = W.Dropdown(options=["relu", "tanh", "sigmoid"], value=activation, description="activation")
    lr_w = log_slider("learning rate (Adam)", c.lr, -3, 0)
    steps_w = W.IntSlider(value=steps, min=50, max=2000, step=50, description="steps per press",
                          style={"description_width": "initial"}, continuous_update=False)
    train_b = W.Button(description="train", button_style="success", icon="play")
    reset_b = W.Button(description="new weights", icon="refresh")
    controls = [W.HBox([data_w, model_w]), W.HBox([hidden_w, act_w]), W.HBox([lr_w, steps_w]),
                W.HBox([train_b, reset_b])]

    def draw(new):
        fig, (a, b) = new(ncols=2, figsize=(10.5, 4.3), width_ratios=[1.2, 1])
        arch = "linear" if c.model == "linear" else f"MLP {list(c.hidden)}, {c.activation}"
        plot_decision_boundary(c.predict, c.X, c.y, ax=a, resolution=120, title=f"{arch}")
        # guessing uniformly scores ln C: a reference line for both the untrained and the trained net
        chance = np.log(c.num_classes)
        b.axhline(chance, color="0.45", linestyle=":", linewidth=1.2, label=f"uniform guess: ln {c.num_classes}")
        b.set_xlabel("step")
        if c.history["train_loss"]:
            b.plot(np.arange(1, c.steps + 1), c.history["train_loss"], color="#0072B2", linewidth=2,
                   label="training loss")
            b.set_yscale("log")
            lo, hi = min(c.history["train_loss"]), max(chance, max(c.history["train_loss"]))
            b.set_ylim(0.6 * lo, 1.6 * hi)  # room above the chance line and below the curve
            b.set_ylabel("cross-entropy loss (log scale)")
            b.set_title(f"Loss after {c.steps} steps: {c.history['train_loss'][-1]:.3f}")
            b.legend(loc="best")
        else:
            loss0 = c.loss()
            b.plot([0], [loss0], "o", color="#0072B2", markersize=7, label=f"untrained: {loss0:.3f}")
            b.set_xlim(-0.05 * steps_w.value, steps_w.value)
            b.set_ylim(0, 1.5 * max(loss0, chance))
            b.text(0.5, 0.3, "press “train” to see the loss fall", ha="center", va="center",
                   transform=b.transAxes, fontsize=11, color="0.35")
            b.set_title("Loss before training")
            b.set_ylabel("cross-entropy loss")
            b.legend(loc="upper right")
        return fig

    ex = Explorer(c, draw, controls, figsize=(10.5, 4.3), image_width="900px")

    def rebuild():
        try:
            hidden_sizes = tuple(int(s) for s in hidden_w.value.replace(" ", "").split(",") if s)
        except ValueError:
            raise ValueError(f"hidden sizes must be whole numbers separated by commas, like 16, 16; "
                             f"got {hidden_w.value!r}") from None
        if not hidden_sizes or min(hidden_sizes) < 1:
            raise ValueError(f"hidden sizes need at least one positive width, got {hidden_w.value!r}")
        c.dataset, c.model, c.hidden, c.activation, c.lr = (data_w.value, model_w.value, hidden_sizes,
                                                            act_w.value, lr_w.value)
        hidden_w.disabled = act_w.disabled = c.model == "linear"
        c.reset()
        ex.info.value = f"{len(c.X)} points, {c.num_classes} classes; untrained accuracy {c.accuracy():.0%}."
        ex.refresh()

    def train(_=None):
        c.lr = lr_w.value
        train_b.disabled = True
        try:
            done = 0
            while done < steps_w.value:
                n = min(chunk, steps_w.value - done)
                c.train(n)
                done += n
                ex.info.value = f"step {c.steps}: loss {c.history['train_loss'][-1]:.4f}, accuracy {c.accuracy():.0%}"
                ex.refresh()
        finally:
            train_b.disabled = False

    ex.on_change([data_w, model_w, act_w, hidden_w], rebuild)
    train_b.on_click(ex.guard(train))
    reset_b.on_click(ex.guard(lambda _: rebuild()))
    ex.controls = dict(dataset=data_w, model=model_w, hidden=hidden_w, activation=act_w, lr=lr_w,
                       steps=steps_w, train=train_b, reset=reset_b)
    ex.guard(rebuild)()
    return ex
