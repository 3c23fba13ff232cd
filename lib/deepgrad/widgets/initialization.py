"""Initialisation explorer: how the choice of initial weights shapes the signals in a deep network."""
from __future__ import annotations

import ipywidgets as W
import numpy as np
from matplotlib.ticker import LogFormatter, NullFormatter

from .. import init as dinit
from .. import layers
from ..viz.stats import layer_stats
from ..viz.style import FORWARD, GRADIENT, new_figure
from ._common import Blit, Explorer, int_slider, log_slider

__all__ = ["InitController", "init_explorer"]

_ACT = {
    "tanh": (layers.tanh_forward, layers.tanh_backward),
    "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward),
    "relu": (layers.relu_forward, layers.relu_backward),
}
INITS = ("normal", "xavier", "kaiming", "constant")


class InitController:
    """Forward a batch through ``depth`` fully connected layers and back-propagate a random gradient.

    Parameters:
    - depth, width: number of hidden layers and units per layer
    - activation: "tanh", "sigmoid" or "relu"
    - init: "normal" (N(0, scale²)), "xavier" (Glorot normal), "kaiming" (He normal for ReLU),
      "constant" (every weight = scale)
    - scale: the std of "normal" or the value of "constant"
    - n: batch size; seed: for the data, the weights and the upstream gradient

    State after :meth:`run`: ``activations`` and ``grads`` (lists of ``(n, width)`` arrays, layer 1 first;
    ``grads[l]`` is dL/d(activation l)), ``stats`` (mean/std/zeros of each), ``weights``.
    """

    def __init__(self, depth: int = 6, width: int = 100, activation: str = "tanh", init: str = "xavier",
                 scale: float = 0.01, n: int = 256, seed: int = 0):
        self.depth, self.width, self.activation, self.init = depth, width, activation, init
        self.scale, self.n, self.seed = scale, n, seed
        self.activations: list[np.ndarray] = []
        self.grads: list[np.ndarray] = []
        self.weights: list[np.ndarray] = []

    def _weight(self, rng) -> np.ndarray:
        Wt = np.empty((self.width, self.width))
        if self.init == "normal":
            return dinit.normal_(Wt, 0.0, self.scale, generator=rng)
        if self.init == "xavier":
            return dinit.xavier_normal_(Wt, gain=dinit.calculate_gain(self.activation), generator=rng)
        if self.init == "kaiming":
            return dinit.kaiming_normal_(Wt, nonlinearity="relu", generator=rng)
        if self.init == "constant":
            return dinit.constant_(Wt, self.scale)
        raise ValueError(f"init must be one of {INITS}, got {self.init!r}")

    def run(self):
        if self.activation not in _ACT:
            raise ValueError(f"activation must be one of {sorted(_ACT)}, got {self.activation!r}")
        if int(self.depth) < 1 or int(self.width) < 1:
            raise ValueError(f"depth and width must be >= 1, got depth={self.depth}, width={self.width}")
        rng = np.random.default_rng(self.seed)
        forward, backward = _ACT[self.activation]
        h = rng.normal(size=(self.n, self.width))
        self.weights, self.activations, caches = [], [], []
        b = np.zeros(self.width)
        for _ in range(int(self.depth)):
            Wl = self._weight(rng)
            z, lin_cache = layers.linear_forward(h, Wl, b)
            h, act_cache = forward(z)
            self.weights.append(Wl)
            self.activations.append(h)
            caches.append((lin_cache, act_cache))
        dh = rng.normal(size=h.shape)  # a random upstream gradient at the top, as from a loss
        grads = [dh]
        for lin_cache, act_cache in reversed(caches[1:]):
            dh, _, _ = layers.linear_backward(backward(dh, act_cache), lin_cache)
            grads.append(dh)
        self.grads = grads[::-1]
        return self

    @property
    def stats(self):
        return {"activations": layer_stats(self.activations), "gradients": layer_stats(self.grads)}

    def identical_units(self, layer: int = -1) -> bool:
        """True when every unit of a layer computes the same thing on every example (no symmetry broken)."""
        h = self.activations[layer]
        return bool(np.allclose(h, h[:, :1], rtol=1e-12, atol=1e-12))

    @staticmethod
    def per_layer(first: float, last: float, depth: int) -> float:
        """The factor by which a std changes from one layer to the next, on average (geometric) over ``depth``
        layers: ``(last / first) ** (1 / (depth - 1))``; 0 when ``last`` is 0 (1 when both are)."""
        if depth < 2:
            raise ValueError(f"depth must be >= 2 to have a factor per layer, got {depth}")
        if first == 0:
            return 1.0 if last == 0 else float("inf")
        return float((last / first) ** (1.0 / (depth - 1)))

    def verdicts(self) -> dict[str, tuple[float, str]]:
        """``{"activations": (factor per layer, word), "gradients": (...)}``; the word is "vanish" below
        ``KEEP[0]``, "explode" above ``KEEP[1]``, "keep" between. The gradients' factor is taken on the way back
        (from layer L to layer 1). Judged per layer, so that a depth does not change the verdict on one rate."""
        a = [s["std"] for s in self.stats["activations"]]
        g = [s["std"] for s in self.stats["gradients"]]
        out = {}
        for name, first, last in (("activations", a[0], a[-1]), ("gradients", g[-1], g[0])):
            r = self.per_layer(first, last, len(a))
            out[name] = (r, "vanish" if r < KEEP[0] else "explode" if r > KEEP[1] else "keep")
        return out

    def summary(self) -> str:
        a = self.stats["activations"]
        g = self.stats["gradients"]
        L = len(a)
        if L == 1:
            text = (f"One layer: activation std {a[0]['std']:.3g}, gradient std {g[0]['std']:.3g}. "
                    f"Add layers to see how they change with depth.")
        else:
            v = self.verdicts()
            ra, wa = v["activations"]
            rg, wg = v["gradients"]
            said = {"vanish": "<b>vanish</b> with depth", "explode": "<b>explode</b> with depth",
                    "keep": "keep their scale"}
            back = {"vanish": "<b>vanish</b> on the way back", "explode": "<b>explode</b> on the way back",
                    "keep": "keep their scale"}
            text = (f"Activation std: layer 1 {a[0]['std']:.3g} → layer {L} {a[-1]['std']:.3g}, "
                    f"×{_times(ra)} per layer: activations {said[wa]}. "
                    f"Gradient std: layer {L} {g[-1]['std']:.3g} → layer 1 {g[0]['std']:.3g}, "
                    f"×{_times(rg)} per layer: gradients {back[wg]}.")
        notes = []
        if self.activation == "sigmoid" or self.activation == "tanh":
            sat = np.mean([np.mean(np.abs(h - (0.5 if self.activation == "sigmoid" else 0)) >
                                   (0.49 if self.activation == "sigmoid" else 0.98)) for h in self.activations])
            if sat > 0.3:
                notes.append(f"{sat:.0%} of units are <b>saturated</b> (flat slope)")
        if self.activation == "relu":
            dead = np.mean([np.mean(np.all(h == 0, axis=0)) for h in self.activations])
            if dead > 0.1:
                notes.append(f"{dead:.0%} of ReLU units are <b>dead</b> (never active)")
        if self.identical_units():
            notes.append("all units of a layer are <b>identical</b>: the constant init never breaks the symmetry")
        return text + "".join(f" {n[0].upper()}{n[1:]}." for n in notes)


# A std that changes by less than this per layer, either way, keeps its scale: over ten layers at most a factor
# of 0.8⁹ ≈ 0.13 or 1.25⁹ ≈ 7.5.
KEEP = (0.8, 1.25)


def _times(r: float) -> str:
    """A factor per layer for the caption: two significant figures (0.49, 2.1), whole numbers from 10."""
    return f"{r:.2g}" if r < 10 else f"{r:.0f}"


class _LayerStatsView(Blit):
    """Every layer's histogram stacked in one panel (layer 1 on top), activations and gradients side by side,
    and both standard deviations by layer on a log scale: three panels whatever the depth (a panel per layer
    and row cost seconds to lay out). Axes and ticks are drawn once; only the curves move. The
    histograms' x axis is in units of the panel's largest |value| (written in its corner), so that its
    ticks never change; one range for the whole panel shows a distribution that shrinks layer by layer.
    A depth not seen before draws only the axes that name the layers over the rest, which is drawn once."""

    STD_RANGE = (1e-10, 1e2)  # the std panel's fixed range; smaller values are drawn at its floor

    def __init__(self, c, max_depth: int, bins: int = 40):
        self.c, self.bins = c, bins
        self.figure, axes = new_figure(figsize=(10.5, 4.6), ncols=3, width_ratios=[1, 1, 0.9])
        self.ax_std = axes[2]
        self.rows = []
        for ax, what, color in ((axes[0], "activation", FORWARD), (axes[1], "gradient", GRADIENT)):
            lines = [ax.plot([], [], drawstyle="steps-mid", color=color, linewidth=1.4)[0] for _ in range(max_depth)]
            scale = ax.text(0.99, 0.99, "", transform=ax.transAxes, ha="right", va="top", fontsize=8, color="0.2")
            ax.set_xlim(-1, 1)
            ax.set_xlabel(f"{what} ÷ largest |{what}|")
            ax.set_title(f"{what}s: histogram per layer", fontsize=10)
            ax.grid(False)
            # layer names as texts rather than tick labels (a third of the cost); numbers padded to two
            # figures, so that the first layout leaves room for "layer 10"
            ax.set_yticks([])
            names = [ax.text(-0.02, 0, "layer " + str(k + 1).rjust(2, "\u2007"), transform=ax.get_yaxis_transform(),
                             ha="right", va="center", fontsize=8) for k in range(max_depth)]
            self.rows.append((ax, lines, scale, names))
        self.std_lines = [self.ax_std.semilogy([], [], "o-", color=FORWARD, label="activation std")[0],
                          self.ax_std.semilogy([], [], "s--", color=GRADIENT, label="gradient std")[0]]
        self.ax_std.set_ylim(*self.STD_RANGE)
        # plain "1e-05" labels: the default 10⁻⁵ goes through mathtext, which costs more than the whole plot
        self.ax_std.yaxis.set_major_formatter(LogFormatter())
        self.ax_std.yaxis.set_minor_formatter(NullFormatter())
        self.ax_std.set_xlabel("layer")
        self.ax_std.set_title("std by layer (log scale)", fontsize=10)
        legend = self.ax_std.legend(loc="lower left", fontsize=8)
        self.title = self.figure.suptitle("", fontsize=11, fontweight="bold")
        self.dynamic = [self.title, *self.std_lines] + [a for _, lines, scale, _ in self.rows for a in (*lines, scale)]
        # what the depth changes: the layers' names and ticks (the legend after them: the std panel's grid
        # lines belong to its x axis, and must not cross the legend)
        self.keyed = [*self.rows[0][3], *self.rows[1][3], self.ax_std.xaxis, legend]

    @property
    def background_key(self):
        return len(self.c.activations)

    def update(self):
        c = self.c
        L = len(c.activations)
        edges = np.linspace(-1, 1, self.bins + 1)
        centres = (edges[:-1] + edges[1:]) / 2
        for (ax, lines, scale, names), arrays in zip(self.rows, (c.activations, c.grads), strict=True):
            lim = max(float(np.abs(a).max()) for a in arrays) or 1.0
            scale.set_text(f"largest = {lim:.3g}")
            for i, line in enumerate(lines):
                line.set_visible(i < L)
                if i < L:
                    counts, _ = np.histogram(arrays[i] / lim, bins=edges)
                    line.set_data(centres, (L - 1 - i) + 0.9 * counts / max(counts.max(), 1))  # layer 1 on top
            ax.set_ylim(-0.1, L + 0.35)  # room above layer 1 for the corner note
            for i, name in enumerate(names):
                name.set_visible(i < L)
                name.set_y(L - 1 - i + 0.3)
        layers_ = np.arange(1, L + 1)
        for line, arrays in zip(self.std_lines, (c.activations, c.grads), strict=True):
            line.set_data(layers_, np.clip([float(a.std()) for a in arrays], *self.STD_RANGE))
        self.ax_std.set_xticks(layers_)
        self.ax_std.set_xlim(0.5, L + 0.5)
        scale = f" (scale {c.scale:.3g})" if c.init in ("normal", "constant") else ""
        self.title.set_text(f"{c.activation}, {c.init} init{scale}: depth {L}, width {c.width}")


MAX_DEPTH = 10


def init_explorer(depth: int = 6, width: int = 100, activation: str = "tanh", init: str = "normal",
                  scale: float = 0.05) -> Explorer:
    """Depth, width, activation and initialiser → per-layer activation and gradient histograms.

    Try sigmoid or tanh with a small N(0, 0.01²) init (everything vanishes), a large one (saturation),
    Xavier for tanh, Kaiming (He) for ReLU, and a constant init (every unit identical).
    """
    if not 1 <= int(depth) <= MAX_DEPTH:
        raise ValueError(f"depth must be in [1, {MAX_DEPTH}], got {depth!r}")
    # 128 examples of up to 400 units: statistics of 50 000 numbers per layer, in a few milliseconds
    c = InitController(depth, width, activation, init, scale, n=128)
    depth_w = int_slider("depth", depth, 1, MAX_DEPTH)
    width_w = int_slider("width", width, 4, 400, step=4)
    act_w = W.Dropdown(options=sorted(_ACT), value=activation, description="activation")
    init_w = W.Dropdown(options=INITS, value=init, description="initialiser")
    scale_w = log_slider("scale", scale, -3, 0.5, readout_format=".3f")
    controls = [W.HBox([depth_w, width_w]), W.HBox([act_w, init_w, scale_w])]
    ex = Explorer(c, _LayerStatsView(c, MAX_DEPTH), controls, image_width="900px")

    def update():
        c.depth, c.width, c.activation = depth_w.value, width_w.value, act_w.value
        c.init, c.scale = init_w.value, scale_w.value
        scale_w.disabled = c.init not in ("normal", "constant")
        c.run()
        ex.refresh()  # the picture first (ARCHITECTURE.md)
        ex.info.value = c.summary()

    ex.on_change([depth_w, width_w, act_w, init_w, scale_w], update)
    ex.controls = dict(depth=depth_w, width=width_w, activation=act_w, init=init_w, scale=scale_w)
    ex.request(update)
    return ex
