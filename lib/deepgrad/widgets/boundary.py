"""Decision-boundary explorer: train a linear model or an MLP on 2-D data and watch the regions form."""
from __future__ import annotations

import ipywidgets as W
import numpy as np
from matplotlib.colors import to_rgba
from matplotlib.ticker import MaxNLocator

from .. import autograd, data, nn, optim
from ..autograd import Tensor
from ..functional import cross_entropy
from ..viz.boundaries import decision_grid
from ..viz.style import MARKERS, class_colors, new_figure
from ._common import Blit, Explorer, int_slider, log_slider

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


class _BoundaryView(Blit):
    """Decision regions as an image (its pixels replaced at each frame) with the data on top, and the loss
    curve; the data panel's ticks and legend are drawn once per data set, over a background drawn once per
    range of the loss panel."""

    def __init__(self, c, steps_w, resolution: int = 100):
        self.c, self.steps_w, self.resolution = c, steps_w, resolution
        self.figure, (self.ax, self.ax_loss) = new_figure(figsize=(10.5, 4.3), ncols=2, width_ratios=[1.2, 1])
        # the regions' colours computed here, a class's colour at a quarter strength (RGBA bytes): through a
        # colour map and an artist's alpha the same image cost three times as much a frame
        self.regions = self.ax.imshow(np.zeros((2, 2, 4), np.uint8), origin="lower", interpolation="nearest",
                                      aspect="auto", zorder=1)
        self.ax.set_xlabel("feature $x_1$")
        self.ax.set_ylabel("feature $x_2$")
        self.ax.grid(False)
        for axis in (self.ax.xaxis, self.ax.yaxis):  # five ticks are enough to read the features' range
            axis.set_major_locator(MaxNLocator(5))
        self.points, self.data_id = [], None
        self.shown = {}  # data set -> its points and legend, made once: making them cost a third of a switch
        b = self.ax_loss
        self.chance = b.axhline(np.nan, color="0.45", linestyle=":", linewidth=1.2, label="uniform guess: ln C")
        self.curve = b.plot([], [], color="#0072B2", linewidth=2, label="training loss")[0]
        self.untrained = b.plot([], [], "o", color="#0072B2", markersize=7, label="untrained")[0]
        self.hint = b.text(0.5, 0.3, "press “train” to see the loss fall", ha="center", va="center",
                           transform=b.transAxes, fontsize=11, color="0.35")
        b.set_xlabel("step")
        b.set_ylabel("cross-entropy loss")
        b.legend(loc="upper right")

    def _draw_points(self):
        c = self.c
        for p in self.points:
            p.set_visible(False)
        key = (c.dataset, c.seed)
        if key not in self.shown:
            colors = class_colors(c.num_classes)
            # markers of a line, not a scatter: the same picture, drawn 15 times faster (one marker stamped)
            points = [self.ax.plot(*c.X[c.y == k].T, linestyle="none", marker=MARKERS[k % len(MARKERS)],
                                   markersize=np.sqrt(22), color=colors[k], markeredgecolor="white",
                                   markeredgewidth=0.5, label=f"class {k}", zorder=3)[0]
                      for k in range(c.num_classes)]
            legend = self.ax.legend(handles=points, loc="upper right", markerscale=1.2)
            lut = np.array([to_rgba(col) for col in colors]) * [255, 255, 255, 0.25 * 255]
            self.shown[key] = points, legend, lut.round().astype(np.uint8)
        self.points, legend, self.lut = self.shown[key]
        for p in self.points:
            p.set_visible(True)
        self.ax.legend_ = legend
        self.data_id = key

    @property
    def background_key(self):
        return self.data_id

    @property
    def base_key(self):  # the loss panel's ticks, in the full draw
        return self.ax_loss.get_xlim(), self.ax_loss.get_ylim()

    @property
    def keyed(self):
        return [self.ax.xaxis, self.ax.yaxis, self.ax.get_legend()]

    @property
    def dynamic(self):
        return [self.regions, *self.points, self.ax.title, self.ax_loss.title, self.curve, self.untrained, self.hint,
                self.chance]

    def update(self):
        c = self.c
        if self.data_id != (c.dataset, c.seed):
            self._draw_points()
        xx, yy, labels = decision_grid(c.predict, c.X, self.resolution)
        self.regions.set_data(self.lut[labels])
        self.regions.set_extent((xx.min(), xx.max(), yy.min(), yy.max()))
        # the grid's range, not autoscaling: that would grow with every data set shown before (its data limits
        # keep what it saw), and the ticks kept as pixels per data set would disagree with the points drawn
        self.ax.set_xlim(xx.min(), xx.max())
        self.ax.set_ylim(yy.min(), yy.max())
        arch = "linear" if c.model == "linear" else f"MLP {list(c.hidden)}, {c.activation}"
        self.ax.set_title(f"{arch} (training accuracy {c.accuracy():.0%})")
        chance, hist = np.log(c.num_classes), c.history["train_loss"]
        self.chance.set_ydata([chance, chance])
        trained = bool(hist)
        self.curve.set_data(np.arange(1, len(hist) + 1), hist)
        self.hint.set_visible(not trained)
        loss0 = hist[0] if trained else c.loss()
        self.untrained.set_data([0], [loss0])
        top = max([chance, loss0, *hist[:1]])
        self.ax_loss.set_xlim(-0.02 * max(c.steps, self.steps_w.value), max(c.steps, self.steps_w.value))
        # in steps of 0.5, at least 0.05 above the highest loss: a range per number of classes, mostly, so the
        # background is seldom drawn again
        self.ax_loss.set_ylim(0, 0.5 * np.ceil(2 * top + 0.1))
        self.ax_loss.set_title(f"Loss after {c.steps} steps: {hist[-1]:.3f}" if trained else
                               f"Loss before training: {loss0:.3f}")


def decision_boundary_explorer(dataset: str = "spiral", model: str = "MLP", hidden=(16, 16),
                               activation: str = "relu", steps: int = 300, chunk: int = 25) -> Explorer:
    """Pick a data set and a model, press train: the regions and the loss curve update as it learns.

    ``steps`` Adam steps per press, run in the background and drawn every ``chunk`` steps; changing the
    data or the model stops the training in flight.
    """
    c = BoundaryController(dataset, model, hidden, activation)
    data_w = W.Dropdown(options=list(DATASETS), value=dataset, description="data")
    model_w = W.ToggleButtons(options=["linear", "MLP"], value=model, description="model")
    # continuous_update=False: rebuild on Enter, not at "16," half-way through typing "16, 16"
    hidden_w = W.Text(value=", ".join(map(str, hidden)), description="hidden sizes", continuous_update=False,
                      style={"description_width": "initial"}, layout=W.Layout(width="200px"))
    act_w = W.Dropdown(options=["relu", "tanh", "sigmoid"], value=activation, description="activation")
    lr_w = log_slider("learning rate (Adam)", c.lr, -3, 0)
    steps_w = int_slider("steps per press", steps, 50, 2000, step=50)
    train_b = W.Button(description="train", button_style="success", icon="play")
    reset_b = W.Button(description="new weights", icon="refresh")
    controls = [W.HBox([data_w, model_w]), W.HBox([hidden_w, act_w]), W.HBox([lr_w, steps_w]),
                W.HBox([train_b, reset_b])]

    view = _BoundaryView(c, steps_w)
    ex = Explorer(c, view, controls, image_width="900px", background=True)

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
        c.reset()
        ex.refresh(key=untrained(c.dataset, c.model, c.hidden, c.activation))  # the picture first (ARCHITECTURE.md)
        hidden_w.disabled = act_w.disabled = c.model == "linear"
        ex.info.value = f"{len(c.X)} points, {c.num_classes} classes; untrained accuracy {c.accuracy():.0%}."
        ex.request(ahead, idle=True)

    def untrained(dataset, model, hidden, activation):
        # all that an untrained picture depends on (the learning rate shows only once it trains)
        return dataset, model, hidden, activation, c.seed, steps_w.value

    def ahead():
        # The untrained pictures a student may pick next (another data set, the other model, another activation)
        # drawn now, while nobody waits: picking one then shows it at once (a frame costs some 20 ms of CPU, three
        # times that on a busy laptop; the first of a data set a full draw, 100 ms). Given up as soon as a change
        # waits.
        now = (c.dataset, c.model, c.hidden, c.activation)
        keys = [untrained(name, *now[1:]) for name in DATASETS if name != c.dataset]
        keys.append(untrained(c.dataset, "linear" if c.model == "MLP" else "MLP", *now[2:]))
        if c.model == "MLP":
            keys += [untrained(*now[:3], a) for a in act_w.options if a != c.activation]

        def point(key):
            view.c = c if key is None else BoundaryController(*key[:4], lr=c.lr, seed=c.seed)
        ex.draw_ahead(keys, point)

    def train(_=None):
        c.lr = lr_w.value
        target = c.steps + steps_w.value
        while c.steps < target:
            done = steps_w.value - (target - c.steps)
            ex.info.value = f"<progress value='{done}' max='{steps_w.value}'></progress> training: step {c.steps}…"
            ex.stream()
            c.train(min(chunk, target - c.steps))
        ex.info.value = f"step {c.steps}: loss {c.history['train_loss'][-1]:.4f}, accuracy {c.accuracy():.0%}"
        ex.refresh()

    ex.on_change([data_w, model_w, act_w, hidden_w], rebuild)
    train_b.on_click(ex.guard(train))
    reset_b.on_click(ex.guard(lambda _: rebuild()))
    ex.controls = dict(dataset=data_w, model=model_w, hidden=hidden_w, activation=act_w, lr=lr_w,
                       steps=steps_w, train=train_b, reset=reset_b)
    ex.request(rebuild)
    return ex
