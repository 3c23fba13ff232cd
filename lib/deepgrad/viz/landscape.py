"""Loss landscapes in two dimensions: contours of f(x, y) with the paths optimisers take across them."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import backend
from .style import MARKERS, PALETTE, new_axes, styled

__all__ = ["Surface", "SURFACES", "plot_loss_landscape", "evaluate_grid"]


@dataclass(frozen=True)
class Surface:
    """A test function of two variables for optimisers.

    ``f(x, y)`` uses only ``+ - * **`` so it works on NumPy arrays (for contours) and on 0-d Tensors
    (for autograd). ``start`` is where a race starts; ``minima`` are the points worth marking;
    ``lr`` a learning rate at which plain SGD behaves sensibly on it.
    """

    name: str
    f: object
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minima: tuple[tuple[float, float], ...] = ()
    lr: float = 0.05
    note: str = ""
    extra: dict = field(default_factory=dict)

    def __call__(self, x, y):
        return self.f(x, y)


def _bowl(x, y):
    return 0.5 * x ** 2 + 5.0 * y ** 2  # curvatures 1 and 10: condition number 10


def _rosenbrock(x, y):
    return (1.0 - x) ** 2 + 100.0 * (y - x ** 2) ** 2


def _saddle(x, y):
    return x ** 2 - y ** 2 + 0.5 * y ** 4  # a saddle at 0, minima at (0, ±1)


SURFACES = {
    "ill-conditioned bowl": Surface(
        "ill-conditioned bowl", _bowl, start=(-4.0, 1.5), xlim=(-4.5, 4.5), ylim=(-2.0, 2.0),
        minima=((0.0, 0.0),), lr=0.02,
        note="f = x²/2 + 5y²: ten times steeper across (y) than along (x)."),
    "Rosenbrock": Surface(
        "Rosenbrock", _rosenbrock, start=(-1.5, 2.0), xlim=(-2.0, 2.0), ylim=(-1.0, 3.0),
        minima=((1.0, 1.0),), lr=2e-3,
        note="f = (1 − x)² + 100(y − x²)²: a long curved valley with its minimum at (1, 1)."),
    "saddle": Surface(
        "saddle", _saddle, start=(1.5, 1e-3), xlim=(-2.0, 2.0), ylim=(-1.6, 1.6),
        minima=((0.0, 1.0), (0.0, -1.0)), lr=0.02,
        note="f = x² − y² + y⁴/2: starting almost on the ridge, the gradient across it is nearly 0."),
}


def evaluate_grid(f, xlim, ylim, resolution: int = 200):
    """``f`` on a grid: returns ``(xx, yy, zz)``, each of shape (resolution, resolution).

    ``f`` may take two arrays ``f(xx, yy)`` (broadcast, the fast way) or one point ``f(p)`` with ``p``
    of shape (2,).
    """
    xx, yy = np.meshgrid(np.linspace(*xlim, resolution), np.linspace(*ylim, resolution))
    try:
        zz = np.asarray(backend.to_numpy(f(xx, yy)), dtype=float)
        if zz.shape != xx.shape:
            raise ValueError
    except (TypeError, ValueError):
        zz = np.array([float(np.asarray(f(np.array([a, b])))) for a, b in zip(xx.ravel(), yy.ravel(), strict=True)])
        zz = zz.reshape(xx.shape)
    return xx, yy, zz


@styled
def plot_loss_landscape(f, trajectories=None, ax=None, xlim=None, ylim=None, resolution: int = 200,
                        levels: int = 20, minima=None, title: str | None = None, show_final: bool = True):
    """Contours of a two-parameter loss with optimiser paths on top.

    Inputs:
    - f: ``f(xx, yy)`` on arrays (or ``f(p)`` for one point of shape (2,)), or a :class:`Surface`
      (whose limits, minima and name are then the defaults)
    - trajectories: ``{name: (T, 2) array of points}``, one path per optimiser
    - ax: Axes (None: a new figure)
    - xlim, ylim: the window (default: the Surface's, else the paths' extent plus a margin)
    - levels: number of contour levels; they are placed at quantiles of f over the window, so the
      contours stay informative whatever the range of f (log-like near a minimum)
    - minima: points to mark with a star
    - show_final: put each path's final loss in the legend

    Returns:
    - the Axes
    """
    trajectories = {k: np.asarray(backend.to_numpy(v), dtype=float) for k, v in (trajectories or {}).items()}
    for name, path in trajectories.items():
        if path.ndim != 2 or path.shape[1] != 2:
            raise ValueError(f"trajectories[{name!r}] must have shape (T, 2), got shape {path.shape}")
    if isinstance(f, Surface):
        xlim, ylim = xlim or f.xlim, ylim or f.ylim
        minima = f.minima if minima is None else minima
        title = title if title is not None else f"Optimisers on the {f.name}"
    if xlim is None or ylim is None:
        pts = np.concatenate(list(trajectories.values())) if trajectories else np.array([[-1.0, -1.0], [1.0, 1.0]])
        pts = pts[np.isfinite(pts).all(axis=1)]
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        pad = 0.15 * np.maximum(hi - lo, 1e-3) + 0.1
        xlim = xlim or (lo[0] - pad[0], hi[0] + pad[0])
        ylim = ylim or (lo[1] - pad[1], hi[1] + pad[1])
    xx, yy, zz = evaluate_grid(f, xlim, ylim, resolution)
    _, ax = new_axes(ax, figsize=(8.2, 4.8))
    finite = zz[np.isfinite(zz)]
    qs = np.unique(np.quantile(finite, np.linspace(0, 1, levels + 1) ** 1.5))  # denser near the bottom
    ax.contourf(xx, yy, zz, levels=qs, cmap="Greys_r", alpha=0.3)
    cs = ax.contour(xx, yy, zz, levels=qs, colors="0.45", linewidths=0.6)
    ax.clabel(cs, cs.levels[::4], fontsize=7, fmt="%.3g")  # "360" reads better than "3.6e+02"
    for m in (minima or ()):
        # above the paths' end markers: a path that converges must not hide the minimum it reached
        ax.plot(*m, marker="*", markersize=14, color="black", markeredgecolor="white", zorder=7, linestyle="")
    if minima:
        ax.plot([], [], marker="*", color="black", linestyle="", markersize=10, label="minimum")
    for k, (name, path) in enumerate(trajectories.items()):
        color = PALETTE[k % len(PALETTE)]
        label = name
        if show_final and len(path):
            last = path[np.isfinite(path).all(axis=1)]
            if len(last) < len(path):
                label = f"{name}: diverged"
            elif len(last):
                label = f"{name}: f = {_value(f, last[-1]):.3g}"
        # gids let a live view find each path and its end marker, to move them instead of drawing anew
        ax.plot(path[:, 0], path[:, 1], color=color, linewidth=1.8, marker=MARKERS[k % len(MARKERS)],
                markersize=3.5, markevery=max(1, len(path) // 15), label=label, zorder=4, gid=f"path:{name}")
        if len(path):
            ax.plot(*path[-1], marker=MARKERS[k % len(MARKERS)], markersize=9, color=color,
                    markeredgecolor="black", zorder=6, linestyle="", gid=f"end:{name}")
    if trajectories:
        first = next(iter(trajectories.values()))
        if len(first):
            ax.plot(*first[0], marker="o", markersize=9, markerfacecolor="white", markeredgecolor="black",
                    linestyle="", zorder=6, label="start")
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_xlabel("parameter $w_1$")
    ax.set_ylabel("parameter $w_2$")
    ax.grid(False)
    ax.set_title(title or "Loss landscape")
    if trajectories or minima:
        # outside the axes, so it never hides a path
        ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, borderaxespad=0)
    return ax


def _value(f, p) -> float:
    try:
        return float(np.asarray(f(p[0], p[1])))
    except TypeError:
        return float(np.asarray(f(np.asarray(p))))
