"""What a classifier has learned, drawn: decision regions on 2-D data and weight templates as images."""
from __future__ import annotations

import math

import numpy as np

from .. import backend
from .style import DIVERGING, MARKERS, class_colors, new_axes, new_figure, styled

__all__ = ["plot_decision_boundary", "decision_grid", "plot_templates"]


def _predict_callable(predict_fn):
    if callable(getattr(predict_fn, "predict", None)):
        return predict_fn.predict
    if callable(predict_fn):
        return predict_fn
    raise TypeError(f"predict_fn must be a callable X (N, 2) -> labels (N,) or scores (N, C), or an object with "
                    f".predict; got {type(predict_fn).__name__}")


def decision_grid(predict_fn, X, resolution: int = 200, padding: float = 0.5):
    """Predicted class over a grid covering the data.

    Inputs:
    - predict_fn: ``f(points (G, 2)) -> labels (G,)`` or scores ``(G, C)`` (argmax taken), or a model with
      ``.predict``
    - X: data of shape (N, 2); the grid spans its range plus ``padding`` on each side
    - resolution: grid points along each axis

    Returns a tuple of:
    - xx, yy: coordinates, each of shape (resolution, resolution)
    - labels: predicted class per grid point, shape (resolution, resolution), ints
    """
    X = backend.to_numpy(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"X must have shape (N, 2) (two features to draw), got shape {X.shape}")
    predict = _predict_callable(predict_fn)
    lo, hi = X.min(axis=0) - padding, X.max(axis=0) + padding
    xx, yy = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.stack([xx.ravel(), yy.ravel()], axis=1).astype(X.dtype if X.dtype.kind == "f" else np.float64)
    out = _to_array(predict(grid))
    if out.ndim == 2:
        out = out.argmax(axis=1)
    if out.shape != (grid.shape[0],):
        raise ValueError(f"predict_fn must return labels of shape ({grid.shape[0]},) or scores of shape "
                         f"({grid.shape[0]}, C) for a grid of shape {grid.shape}; got shape {out.shape}")
    return xx, yy, out.reshape(xx.shape).astype(int)


@styled
def plot_decision_boundary(predict_fn, X, y, ax=None, resolution: int = 200, padding: float = 0.5,
                           class_names=None, title: str | None = "Decision regions", accuracy: bool = True):
    """Decision regions of any classifier on 2-D data, with the data on top.

    Inputs:
    - predict_fn: ``f(points (G, 2)) -> labels (G,)`` or scores ``(G, C)``, or a model with ``.predict``
    - X: shape (N, 2); y: shape (N,) ints in [0, C)
    - ax: Axes to draw on (None: a new figure)
    - class_names: C names for the legend (default "class 0", ...)
    - accuracy: put the training accuracy in the title

    Returns:
    - the Axes
    """
    X, y = backend.to_numpy(X), backend.to_numpy(y).astype(int)
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X of shape {X.shape}, got {y.shape}")
    xx, yy, regions = decision_grid(predict_fn, X, resolution, padding)
    C = int(max(y.max(initial=0), regions.max(initial=0))) + 1
    colors = class_colors(C)
    names = list(class_names) if class_names is not None else [f"class {k}" for k in range(C)]
    _, ax = new_axes(ax, figsize=(5.2, 4.6))
    from matplotlib.colors import ListedColormap

    cmap = ListedColormap(colors)
    ax.contourf(xx, yy, regions, levels=np.arange(C + 1) - 0.5, cmap=cmap, alpha=0.22, antialiased=True)
    ax.contour(xx, yy, regions, levels=np.arange(C) + 0.5, colors="0.25", linewidths=0.8)
    for k in range(C):
        pts = X[y == k]
        if len(pts):
            ax.scatter(pts[:, 0], pts[:, 1], s=22, c=colors[k], marker=MARKERS[k % len(MARKERS)],
                       edgecolors="white", linewidths=0.5, label=names[k], zorder=3)
    ax.set_xlim(xx.min(), xx.max())
    ax.set_ylim(yy.min(), yy.max())
    ax.set_xlabel("feature $x_1$")
    ax.set_ylabel("feature $x_2$")
    ax.grid(False)
    if title is not None:
        if accuracy:
            pred = np.asarray(decision_labels(predict_fn, X))
            title = f"{title} (training accuracy {np.mean(pred == y):.0%})"
        ax.set_title(title)
    ax.legend(loc="upper right", markerscale=1.2)
    return ax


def decision_labels(predict_fn, X) -> np.ndarray:
    """Predicted labels ``(N,)`` for inputs ``X (N, 2)`` (argmax of scores when scores come back)."""
    out = _to_array(_predict_callable(predict_fn)(X))
    return out.argmax(axis=1) if out.ndim == 2 else out


def _to_array(out) -> np.ndarray:
    """A result as a NumPy array, whether it is an array or a Tensor (whose array is ``.data``)."""
    if hasattr(out, "backward") and hasattr(out, "data"):
        out = out.data
    return np.asarray(backend.to_numpy(out))


@styled
def plot_templates(W, class_names=None, image_shape=None, ax=None, bias: bool | None = None,
                   title: str | None = "Class templates (weights as images)"):
    """A linear classifier's weights drawn as one image per class (the "visual view" of lecture 1).

    Inputs:
    - W: weights ``(D, C)`` or ``(D + 1, C)`` (bias row last, dropped) with ``image_shape`` given; or
      templates already shaped ``(C, H, W)`` (grey) or ``(C, H, W, 3)`` (colour); or a trained
      ``LinearClassifier`` (its ``W``)
    - class_names: C names for the panel titles
    - image_shape: e.g. (8, 8) for the digits, (32, 32, 3) for CIFAR-10
    - ax: sequence of C Axes, or None for a new figure
    - bias: whether W has a bias row; by default it does when ``D + 1 == prod(image_shape) + 1``

    Grey templates use the diverging colour map of every signed picture (``style.DIVERGING``) centred on zero:
    purple pixels raise the class score, orange ones lower it. Colour templates are rescaled to [0, 1] per class (as CS231n shows them).

    Returns:
    - the list of Axes
    """
    if hasattr(W, "W") and not isinstance(W, np.ndarray):
        W = W.W
    W = np.asarray(_to_array(W), dtype=np.float64)
    if W.ndim == 2:
        if image_shape is None:
            side = math.isqrt(W.shape[0])
            side = side if side * side == W.shape[0] else math.isqrt(W.shape[0] - 1)
            if side * side not in (W.shape[0], W.shape[0] - 1):
                raise ValueError(f"W of shape {W.shape} needs image_shape (e.g. (8, 8) or (32, 32, 3))")
            image_shape = (side, side)
        size = math.prod(image_shape)
        if bias is None:
            bias = W.shape[0] == size + 1
        D = W.shape[0] - int(bias)
        if D != size:
            raise ValueError(f"W has {W.shape[0]} rows ({'with' if bias else 'without'} a bias row) but "
                             f"image_shape {tuple(image_shape)} holds {size} pixels")
        T = W[:D].T.reshape(W.shape[1], *image_shape)
    elif W.ndim in (3, 4):
        T = W
    else:
        raise ValueError(f"W must be weights (D, C) or templates (C, H, W[, 3]), got shape {W.shape}")
    C = T.shape[0]
    names = list(class_names) if class_names is not None else [str(k) for k in range(C)]
    if len(names) != C:
        raise ValueError(f"class_names must hold {C} names (one per template), got {len(names)}")
    if ax is None:
        cols = min(C, 10)
        rows = math.ceil(C / cols)
        fig, axes = new_figure(figsize=(1.25 * cols + 0.9, 1.45 * rows + 0.45), nrows=rows, ncols=cols,
                               pyplot=True)
        axes = list(np.atleast_1d(axes).ravel())
    else:
        axes = list(np.atleast_1d(ax).ravel())
        fig = axes[0].figure
    if len(axes) < C:
        raise ValueError(f"ax must hold at least {C} Axes (one per class), got {len(axes)}")
    colour = T.ndim == 4
    lim = float(np.abs(T).max()) or 1.0
    im = None
    for k, a in enumerate(axes):
        a.axis("off")
        if k >= C:
            continue
        if colour:
            t = T[k]
            t = (t - t.min()) / ((t.max() - t.min()) or 1.0)
            a.imshow(t, interpolation="nearest")
        else:
            im = a.imshow(T[k], cmap=DIVERGING, vmin=-lim, vmax=lim, interpolation="nearest")
        a.set_title(names[k], fontsize=9, fontweight="normal")
    if im is not None:
        cb = fig.colorbar(im, ax=axes, shrink=0.8, pad=0.02)
        cb.set_label("weight (+ raises score)", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=11, fontweight="bold")
    return axes
