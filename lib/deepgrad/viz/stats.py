"""Per-layer statistics of a deep network: how activations and gradients spread (or die) with depth."""
from __future__ import annotations

import numpy as np

from .. import backend
from .style import FORWARD, GRADIENT, new_figure, styled

__all__ = ["layer_stats", "plot_layer_stats"]


def _arr(a) -> np.ndarray:
    if hasattr(a, "backward") and hasattr(a, "data"):
        a = a.data
    return np.asarray(backend.to_numpy(a), dtype=np.float64)


def layer_stats(arrays) -> list[dict[str, float]]:
    """Mean, standard deviation and fraction of exact zeros of each array in a list (one per layer)."""
    out = []
    for a in arrays:
        a = _arr(a)
        out.append({"mean": float(a.mean()), "std": float(a.std()), "zeros": float(np.mean(a == 0))})
    return out


@styled
def plot_layer_stats(activations, grads=None, axes=None, layer_names=None, bins: int = 40,
                     title: str | None = "Activations and gradients, layer by layer"):
    """Histograms of each layer's activations (top row) and gradients (bottom row), plus a std summary.

    Each row shares one x range, so shrinking (vanishing) or spreading (exploding) is visible.

    Inputs:
    - activations: list of L arrays, e.g. the outputs of each hidden layer, shape (N, H) each
    - grads: optional list of L arrays of the same shapes (dL/d activation), or None
    - axes: a 2-D array of Axes of shape (rows, L + 1) (None: a new figure); the last column shows the
      standard deviation per layer on a log scale, where vanishing (falling) and exploding (rising)
      signals are straight to read
    - layer_names: L names (default "layer 1", ...)

    Returns:
    - the 2-D array of Axes
    """
    acts = [_arr(a) for a in activations]
    gs = None if grads is None else [_arr(g) for g in grads]
    L = len(acts)
    if L == 0:
        raise ValueError("activations must hold at least one array (one per layer), got an empty list")
    if gs is not None and len(gs) != L:
        raise ValueError(f"grads must hold one array per layer ({L}), got {len(gs)}")
    names = list(layer_names) if layer_names is not None else [f"layer {i + 1}" for i in range(L)]
    rows = 1 if gs is None else 2
    if axes is None:
        _, axes = new_figure(figsize=(1.7 * L + 3.2, 2.3 * rows + 0.5), nrows=rows, ncols=L + 1, pyplot=True,
                             squeeze=False)
    axes = np.asarray(axes).reshape(rows, L + 1)
    series = [("activation", acts, FORWARD)] + ([("gradient", gs, GRADIENT)] if gs is not None else [])
    from matplotlib.ticker import NullFormatter

    for r, (what, arrays, color) in enumerate(series):
        # one range for the whole row, so a distribution that shrinks layer by layer is seen to shrink
        lim = max(float(np.abs(a).max()) if a.size else 0.0 for a in arrays) or 1.0
        for i, a in enumerate(arrays):
            ax = axes[r, i]
            flat = a.ravel()
            ax.hist(flat, bins=bins, range=(-lim, lim), color=color, alpha=0.85)
            ax.set_yticks([])
            ax.tick_params(axis="x", labelsize=7)
            ax.set_title(f"{names[i]}\nstd {flat.std():.2g}", fontsize=8, fontweight="normal")
            if i == 0:
                ax.set_ylabel(f"{what}s\n(count)", fontsize=9)
        s = axes[r, L]
        stds = [float(a.std()) for a in arrays]
        s.semilogy(range(1, L + 1), np.maximum(stds, 1e-30), "o-", color=color, label=f"{what} std")
        s.set_xlabel("layer")
        s.set_title(f"{what} std by layer", fontsize=8)
        s.tick_params(labelsize=7)
        s.set_xticks(range(1, L + 1))
        s.yaxis.set_minor_formatter(NullFormatter())
    if title:
        axes[0, 0].figure.suptitle(title, fontsize=11, fontweight="bold")
    return axes
