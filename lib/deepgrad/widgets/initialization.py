"""Initialisation explorer: how the choice of initial weights shapes the signals in a deep network."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import init as dinit
from .. import layers
from ..viz.stats import layer_stats, plot_layer_stats
from ._common import Explorer, fmt

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

    def summary(self) -> str:
        a = self.stats["activations"]
        g = self.stats["gradients"]
        notes = []
        if a[-1]["std"] < 0.1 * a[0]["std"] or a[-1]["std"] < 1e-3:
            notes.append("activations <b>vanish</b> with depth")
        if g[0]["std"] < 0.1 * g[-1]["std"]:
            notes.append("gradients <b>vanish</b> on the way back")
        if g[0]["std"] > 10 * g[-1]["std"]:
            notes.append("gradients <b>explode</b> on the way back")
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
        return (f"activation std: layer 1 {fmt(a[0]['std'], 4)} → layer {len(a)} {a[-1]['std']:.3g}; "
                f"gradient std: layer {len(g)} {g[-1]['std']:.3g} → layer 1 {g[0]['std']:.3g}. "
                + ("; ".join(notes) + "." if notes else "Signals keep their scale."))


def init_explorer(depth: int = 6, width: int = 100, activation: str = "tanh", init: str = "normal",
                  scale: float = 0.05) -> Explorer:
    """Depth, width, activation and initialiser → per-layer activation and gradient histograms.

    Try sigmoid or tanh with a small N(0, 0.01²) init (everything vanishes), a large one (saturation),
    Xavier for tanh, Kaiming (He) for ReLU, and a constant init (every unit identical).
    """
    c = InitController(depth, width, activation, init, scale)
    depth_w = W.IntSlider(value=depth, min=1, max=10, description="depth", continuous_update=False)
    width_w = W.IntSlider(value=width, min=4, max=400, step=4, description="width", continuous_update=False)
    act_w = W.Dropdown(options=sorted(_ACT), value=activation, description="activation")
    init_w = W.Dropdown(options=INITS, value=init, description="initialiser")
    scale_w = W.FloatLogSlider(value=scale, base=10, min=-3, max=0.5, step=0.05, description="scale",
                               continuous_update=False, readout_format=".3f")
    controls = [W.HBox([depth_w, width_w]), W.HBox([act_w, init_w, scale_w])]

    def draw(new):
        fig, axes = new(nrows=2, ncols=c.depth + 1, figsize=(1.6 * c.depth + 3.2, 5.0), squeeze=False)
        plot_layer_stats(c.activations, c.grads, axes=axes,
                         title=f"{c.activation}, {c.init} init" + (f" (scale {c.scale:g})" if c.init in
                                                                   ("normal", "constant") else ""))
        return fig

    ex = Explorer(c, draw, controls, figsize=(9, 5), image_width="900px")

    def update():
        c.depth, c.width, c.activation = depth_w.value, width_w.value, act_w.value
        c.init, c.scale = init_w.value, scale_w.value
        scale_w.disabled = c.init not in ("normal", "constant")
        c.run()
        ex.info.value = c.summary()
        ex.refresh()

    ex.on_change([depth_w, width_w, act_w, init_w, scale_w], update)
    ex.controls = dict(depth=depth_w, width=width_w, activation=act_w, init=init_w, scale=scale_w)
    ex.guard(update)()
    return ex
