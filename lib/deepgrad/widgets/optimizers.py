"""Optimiser race: SGD, momentum, Adagrad, RMSProp and Adam on two-parameter loss surfaces."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import optim
from ..autograd import Tensor
from ..viz.landscape import SURFACES, plot_loss_landscape
from ._common import Explorer, log_slider, slider

__all__ = ["RaceController", "optimizer_race", "OPTIMIZERS"]

OPTIMIZERS = ("SGD", "SGD + momentum", "Adagrad", "RMSprop", "Adam")
# Adaptive methods divide by a running gradient size, so their steps are about lr per coordinate:
# they need a larger learning rate than SGD on steep surfaces. Hence two rates.
ADAPTIVE_LR = {"ill-conditioned bowl": 0.1, "Rosenbrock": 0.1, "saddle": 0.05}


def _make(name: str, p: Tensor, lr: float, adaptive_lr: float, momentum: float):
    if name == "SGD":
        return optim.SGD([p], lr=lr)
    if name == "SGD + momentum":
        return optim.SGD([p], lr=lr, momentum=momentum)
    if name == "Adagrad":
        return optim.Adagrad([p], lr=adaptive_lr)
    if name == "RMSprop":
        return optim.RMSprop([p], lr=adaptive_lr)
    if name == "Adam":
        return optim.Adam([p], lr=adaptive_lr)
    raise ValueError(f"optimiser must be one of {OPTIMIZERS}, got {name!r}")


class RaceController:
    """Run each optimiser from the same start on one surface; keep each path of points.

    Parameters:
    - surface: a name in ``deepgrad.viz.SURFACES`` ("ill-conditioned bowl", "Rosenbrock", "saddle")
    - lr: learning rate of SGD and SGD + momentum (default: the surface's)
    - adaptive_lr: learning rate of Adagrad, RMSprop and Adam (default: per surface)
    - momentum: μ of SGD + momentum
    - steps: optimisation steps per optimiser
    - optimizers: which to race

    State after :meth:`run`: ``trajectories`` ``{name: (steps + 1, 2) array}`` (rows of NaN after a
    divergence) and ``final_loss`` ``{name: float}``. Every step is real autograd: the point is a
    2-element Tensor, the loss is the surface evaluated on it, and ``deepgrad.optim`` takes the step.
    """

    def __init__(self, surface: str = "ill-conditioned bowl", lr: float | None = None,
                 adaptive_lr: float | None = None, momentum: float = 0.9, steps: int = 150,
                 optimizers=OPTIMIZERS):
        self.surface_name = surface
        self.lr, self.adaptive_lr, self.momentum, self.steps = lr, adaptive_lr, momentum, steps
        self.optimizers = tuple(optimizers)
        self.trajectories: dict[str, np.ndarray] = {}
        self.final_loss: dict[str, float] = {}

    @property
    def surface(self):
        if self.surface_name not in SURFACES:
            raise ValueError(f"surface must be one of {list(SURFACES)}, got {self.surface_name!r}")
        return SURFACES[self.surface_name]

    def use_defaults(self):
        """Set both learning rates to the surface's defaults."""
        self.lr = self.surface.lr
        self.adaptive_lr = ADAPTIVE_LR.get(self.surface_name, 0.05)

    def run(self):
        s = self.surface
        if self.lr is None or self.adaptive_lr is None:
            lr, alr = self.lr, self.adaptive_lr
            self.use_defaults()
            self.lr, self.adaptive_lr = lr or self.lr, alr or self.adaptive_lr
        self.trajectories, self.final_loss = {}, {}
        for name in self.optimizers:
            p = Tensor(np.array(s.start, dtype=np.float64), requires_grad=True, label="w")
            opt = _make(name, p, self.lr, self.adaptive_lr, self.momentum)
            path = np.full((self.steps + 1, 2), np.nan)
            path[0] = p.data
            with np.errstate(all="ignore"):
                for t in range(1, self.steps + 1):
                    opt.zero_grad()
                    loss = s(p[0], p[1])
                    loss.backward()
                    opt.step()
                    if not np.all(np.isfinite(p.data)) or np.abs(p.data).max() > 1e6:
                        break  # diverged: the rest of the path stays NaN
                    path[t] = p.data
            self.trajectories[name] = path
            last = path[np.isfinite(path).all(axis=1)][-1]
            self.final_loss[name] = float(s(last[0], last[1])) if len(path) and np.isfinite(path[-1]).all() \
                else float("inf")
        return self

    def leaderboard(self) -> list[tuple[str, float]]:
        return sorted(self.final_loss.items(), key=lambda kv: kv[1])


def optimizer_race(surface: str = "ill-conditioned bowl", steps: int = 150) -> Explorer:
    """Race the optimisers on a 2-D surface; change the surface, learning rates and momentum."""
    c = RaceController(surface, steps=steps)
    c.use_defaults()
    surf_w = W.Dropdown(options=list(SURFACES), value=surface, description="surface")
    lr_w = log_slider("SGD learning rate", c.lr, -4, 0)
    alr_w = log_slider("adaptive learning rate (Adagrad, RMSprop, Adam)", c.adaptive_lr, -3, 0.3)
    mom_w = slider("momentum μ", c.momentum, 0.0, 0.99, step=0.01, continuous=False)
    steps_w = W.IntSlider(value=steps, min=10, max=500, step=10, description="steps", continuous_update=False)
    controls = [W.HBox([surf_w, steps_w]), W.HBox([lr_w, mom_w]), alr_w]

    def draw(new):
        fig, ax = new(figsize=(9.0, 5.0))
        plot_loss_landscape(c.surface, c.trajectories, ax=ax, resolution=150,
                            title=f"{c.surface.name}: {c.steps} steps each")
        return fig

    ex = Explorer(c, draw, controls, figsize=(9.0, 5.0), image_width="860px")
    syncing = {"on": False}

    def update():
        if syncing["on"]:
            return
        c.surface_name, c.lr, c.adaptive_lr = surf_w.value, lr_w.value, alr_w.value
        c.momentum, c.steps = mom_w.value, steps_w.value
        c.run()
        board = ", ".join(f"{k} {v:.3g}" if np.isfinite(v) else f"{k} diverged" for k, v in c.leaderboard())
        ex.info.value = f"{c.surface.note}<br>Final loss, best first: {board}."
        ex.refresh()

    def on_surface():
        # a new surface comes with learning rates that suit it
        c.surface_name = surf_w.value
        c.use_defaults()
        syncing["on"] = True
        lr_w.value, alr_w.value = c.lr, c.adaptive_lr
        syncing["on"] = False
        update()

    ex.on_change([lr_w, alr_w, mom_w, steps_w], update)
    ex.on_change([surf_w], on_surface)
    ex.controls = dict(surface=surf_w, lr=lr_w, adaptive_lr=alr_w, momentum=mom_w, steps=steps_w)
    ex.guard(update)()
    return ex
