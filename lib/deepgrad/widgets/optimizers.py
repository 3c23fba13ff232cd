"""Optimiser race: SGD, momentum, Adagrad, RMSProp and Adam on two-parameter loss surfaces."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import optim
from ..autograd import Tensor
from ..viz.landscape import SURFACES, plot_loss_landscape
from ..viz.style import new_figure
from ._common import Blit, Explorer, int_slider, log_slider, slider

__all__ = ["RaceController", "optimizer_race", "OPTIMIZERS", "ZIGZAG", "reversals"]

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

    @staticmethod
    def defaults(surface: str) -> tuple[float, float]:
        """The learning rates (SGD's, the adaptive methods') that suit a surface."""
        if surface not in SURFACES:
            raise ValueError(f"surface must be one of {list(SURFACES)}, got {surface!r}")
        return SURFACES[surface].lr, ADAPTIVE_LR.get(surface, 0.05)

    def use_defaults(self):
        """Set both learning rates to the surface's defaults."""
        self.lr, self.adaptive_lr = self.defaults(self.surface_name)

    def run(self):
        for _ in self.race():
            pass
        return self

    def race(self, chunk: int = 25):
        """Step every optimiser in turn, ``chunk`` steps at a time; yields the number of steps taken so far
        (0 first, then after each chunk), with ``trajectories`` filled up to there (NaN beyond)."""
        s = self.surface
        if self.lr is None or self.adaptive_lr is None:
            lr, alr = self.lr, self.adaptive_lr
            self.use_defaults()
            self.lr, self.adaptive_lr = lr or self.lr, alr or self.adaptive_lr
        self.trajectories, self.final_loss = {}, {}
        points, opts, running = {}, {}, {}
        for name in self.optimizers:
            p = Tensor(np.array(s.start, dtype=np.float64), requires_grad=True, label="w")
            points[name], opts[name], running[name] = p, _make(name, p, self.lr, self.adaptive_lr, self.momentum), True
            self.trajectories[name] = np.full((self.steps + 1, 2), np.nan)
            self.trajectories[name][0] = p.data
        yield 0
        for t in range(1, self.steps + 1):
            for name in self.optimizers:
                if not running[name]:
                    continue  # diverged: the rest of its path stays NaN
                p, opt = points[name], opts[name]
                with np.errstate(all="ignore"):
                    opt.zero_grad()
                    s(p[0], p[1]).backward()
                    opt.step()
                running[name] = bool(np.all(np.isfinite(p.data)) and np.abs(p.data).max() <= 1e6)
                if running[name]:
                    self.trajectories[name][t] = p.data
            if t % chunk == 0 and t < self.steps:
                yield t
        for name, path in self.trajectories.items():
            last = path[-1]
            self.final_loss[name] = float(s(last[0], last[1])) if np.isfinite(last).all() else float("inf")
        yield self.steps

    def leaderboard(self) -> list[tuple[str, float]]:
        return sorted(self.final_loss.items(), key=lambda kv: kv[1])

    def reversals(self) -> dict[str, int]:
        """How often each path turns back: for each axis, the number of times the step along it changes sign
        (steps shorter than a thousandth of the window's width on that axis left out, so that jitter at the
        minimum does not count); the larger of the two axes. A path that reverses ``ZIGZAG`` times or more
        zig-zags."""
        s = self.surface
        out = {}
        for name, path in self.trajectories.items():
            out[name] = max(reversals(path[:, 0], s.xlim), reversals(path[:, 1], s.ylim))
        return out

    def zigzag_note(self) -> str:
        """The caption's sentence on which paths zig-zag, from :meth:`reversals`."""
        turns = {k: v for k, v in self.reversals().items() if v >= ZIGZAG}
        if not turns:
            return f"No path zig-zags: no step along an axis reverses {ZIGZAG} times."
        listed = ", ".join(f"{k} ({v} times)" for k, v in turns.items())
        return f"Zig-zag (the step along one axis reverses {ZIGZAG} times or more): {listed}."


ZIGZAG = 4  # reversals of the step along one axis from which a path is said to zig-zag


def reversals(coordinate, window) -> int:
    """Sign changes of the steps of one coordinate of a path (NaN rows after a divergence ignored), counting
    only steps longer than a thousandth of ``window`` (lo, hi)."""
    steps = np.diff(np.asarray(coordinate, dtype=float))
    steps = steps[np.isfinite(steps)]
    signs = np.sign(steps[np.abs(steps) > 1e-3 * (window[1] - window[0])])
    return int(np.sum(signs[1:] != signs[:-1]))


class _RaceView(Blit):
    """One axes per surface, its contours drawn once (the background); the paths are drawn over it."""

    def __init__(self, c):
        self.c = c
        self.figure, _ = new_figure(figsize=(9.0, 5.0))
        self.figure.clear()
        self.axes, self.artists = {}, {}
        for name, surface in SURFACES.items():
            ax = self.figure.add_subplot(1, 1, 1, label=name)
            start = {k: np.array([surface.start]) for k in c.optimizers}
            plot_loss_landscape(surface, start, ax=ax, resolution=150, show_final=False)
            paths = {k: (_gid(ax, f"path:{k}"), _gid(ax, f"end:{k}")) for k in c.optimizers}
            self.axes[name], self.artists[name] = ax, paths

    @property
    def background_key(self):
        return self.c.surface_name

    @property
    def dynamic(self):
        ax = self.axes[self.c.surface_name]
        return [ax.title] + [a for pair in self.artists[self.c.surface_name].values() for a in pair]

    def update(self):
        c = self.c
        for name, ax in self.axes.items():
            ax.set_visible(name == c.surface_name)
        for name, (line, end) in self.artists[c.surface_name].items():
            path = c.trajectories.get(name, np.empty((0, 2)))
            line.set_data(path[:, 0], path[:, 1])
            line.set_markevery(max(1, c.steps // 15))
            done = path[np.isfinite(path).all(axis=1)]
            end.set_data(done[-1:, 0], done[-1:, 1])
        self.axes[c.surface_name].set_title(f"{c.surface.name}: {c.steps} steps each")


def _gid(ax, gid):
    return next(a for a in ax.lines if a.get_gid() == gid)


def optimizer_race(surface: str = "ill-conditioned bowl", steps: int = 150) -> Explorer:
    """Race the optimisers on a 2-D surface; change the surface, learning rates and momentum.

    The race runs in the background, drawn every 25 steps: a new setting restarts it at once.
    """
    c = RaceController(surface, steps=steps)
    c.use_defaults()
    surf_w = W.Dropdown(options=list(SURFACES), value=surface, description="surface")
    lr_w = log_slider("SGD learning rate", c.lr, -4, 0)
    alr_w = log_slider("Adagrad, RMSprop, Adam learning rate", c.adaptive_lr, -3, 0.3)
    mom_w = slider("momentum μ", c.momentum, 0.0, 0.99, step=0.01)
    steps_w = int_slider("steps", steps, 10, 500, step=10)
    controls = [W.HBox([surf_w, steps_w]), W.HBox([lr_w, mom_w]), alr_w]
    ex = Explorer(c, _RaceView(c), controls, image_width="860px", background=True)
    for name in SURFACES:  # draw each surface's contours now, so that switching surfaces is instant
        c.surface_name = name
        ex.figure_png()
    c.surface_name = surface

    def update():
        c.surface_name, c.lr, c.adaptive_lr = surf_w.value, lr_w.value, alr_w.value
        c.momentum, c.steps = mom_w.value, steps_w.value
        for t in c.race():
            if t < c.steps:
                ex.info.value = f"{c.surface.note}<br>Racing: step {t} of {c.steps}…"
                ex.stream()
        board = ", ".join(f"{k} {v:.3g}" if np.isfinite(v) else f"{k} diverged" for k, v in c.leaderboard())
        ex.info.value = f"{c.surface.note}<br>Final loss after {c.steps} steps, best first: {board}. {c.zigzag_note()}"
        ex.refresh()

    def on_surface(change):
        # a new surface comes with learning rates that suit it: set here, at once, so that a learning rate
        # moved just after the surface is not overwritten later; the race itself runs once, after
        lr_w.value, alr_w.value = c.defaults(change["new"])

    surf_w.observe(on_surface, names="value")  # observed first: its sliders are set before the race starts
    ex.on_change([surf_w, lr_w, alr_w, mom_w, steps_w], update)
    ex.controls = dict(surface=surf_w, lr=lr_w, adaptive_lr=alr_w, momentum=mom_w, steps=steps_w)
    ex.request(update)
    return ex
