"""Pictures of derivatives: finite-difference error against the step h, and Jacobian matrices."""
from __future__ import annotations

import numpy as np

from .. import backend
from .style import DIVERGING, PALETTE, new_axes, styled

__all__ = ["fd_errors", "plot_fd_error", "plot_jacobian", "FD_LEGEND"]

# Where plot_fd_error puts its legend (beside the axes), also for a live view that shows fewer curves.
FD_LEGEND = dict(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, title="method, precision",
                 title_fontsize=8)


def fd_errors(f=np.sin, df=np.cos, x0: float = 1.0, hs=None, method: str = "centred", dtype=np.float64):
    """Absolute error of a finite-difference derivative for each step size, computed in ``dtype``.

    Every operation (``x0 + h``, ``f``, the difference, the division) happens in ``dtype``, so float32
    shows its rounding error: roughly ``eps * |f| / h``, which grows as h shrinks, while the truncation
    error of the formula (``O(h)`` forward, ``O(h²)`` centred) shrinks with h.

    Inputs:
    - f, df: the function (a NumPy ufunc-like callable) and its exact derivative
    - x0: where to differentiate
    - hs: step sizes, shape (K,) (default: 10^-16 .. 10^0)
    - method: ``"forward"`` or ``"centred"``
    - dtype: ``np.float32`` or ``np.float64``

    Returns a tuple of:
    - hs: shape (K,)
    - errors: shape (K,), ``|numerical - exact|`` (the exact derivative computed in float64)
    """
    if method not in ("forward", "centred", "centered", "central"):
        raise ValueError(f"method must be 'forward' or 'centred', got {method!r}")
    hs = np.logspace(-16, 0, 65) if hs is None else np.asarray(hs, dtype=np.float64)
    if hs.ndim != 1 or not np.all(hs > 0):
        raise ValueError(f"hs must be a 1-D array of positive step sizes, got {hs!r}")
    dt = np.dtype(dtype)
    if dt.kind != "f":
        raise ValueError(f"dtype must be a floating type such as np.float32 or np.float64, got {dt}")
    x = np.asarray(x0, dtype=dt)
    h = hs.astype(dt)
    with np.errstate(all="ignore"):
        if method == "forward":
            num = (f(x + h).astype(dt) - f(x).astype(dt)) / h
        else:
            num = (f(x + h).astype(dt) - f(x - h).astype(dt)) / (dt.type(2) * h)
    exact = float(df(np.float64(x0)))
    return hs, np.abs(num.astype(np.float64) - exact)


@styled
def plot_fd_error(f=np.sin, df=np.cos, x0: float = 1.0, hs=None, methods=("forward", "centred"),
                  dtypes=(np.float32, np.float64), ax=None, title: str | None = None, annotate: bool = True,
                  function_name: str = "sin"):
    """Error of finite differences against the step size h, log–log: the truncation/rounding trade-off.

    One curve per (method, dtype): colour says the method, line style the precision. For large h the
    error falls with h (truncation: slope 1 for forward, 2 for centred differences); for small h it
    rises again as rounding error ``~eps/h`` takes over. Each curve's best h is marked.

    Inputs:
    - f, df, x0: function, exact derivative, point (default sin at x = 1)
    - hs: step sizes (default 10^-16 .. 1)
    - methods: any of "forward", "centred"; dtypes: any of np.float32, np.float64
    - ax: Axes (None: a new figure)
    - annotate: label the two regimes on the plot
    - function_name: for the title

    Returns:
    - the Axes
    """
    _, ax = new_axes(ax, figsize=(7.6, 4.6))
    floor = 1e-17
    method_color = {"forward": PALETTE[0], "centred": PALETTE[3]}
    dtype_style = {"float64": "-", "float32": "--"}
    for method in methods:
        m = "centred" if method in ("centered", "central") else method
        for dtype in dtypes:
            name = np.dtype(dtype).name
            h, err = fd_errors(f, df, x0, hs, m, dtype)
            shown = np.maximum(err, floor)  # an exact 0 would vanish from a log axis
            # gids let a live view find each curve, its best point and its note, to move them
            ax.loglog(h, shown, dtype_style.get(name, "-."), color=method_color.get(m), linewidth=1.8,
                      label=f"{m}, {name}", gid=f"error:{m},{name}")
            ok = np.isfinite(err)
            if ok.any():
                best = int(np.argmin(np.where(ok, err, np.inf)))
                ax.plot(h[best], shown[best], "o", color=method_color.get(m), markeredgecolor="black",
                        markersize=6, zorder=5, gid=f"best:{m},{name}")
                if annotate:
                    # a white box keeps the label readable where another curve crosses it
                    ax.annotate(f"best h ≈ {h[best]:.0e}", (h[best], shown[best]), xytext=(0, -13),
                                textcoords="offset points", ha="center", fontsize=7, zorder=6,
                                color=method_color.get(m),
                                bbox=dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.85),
                                gid=f"note:{m},{name}")
    if annotate:  # the empty bottom corners: small h on the left, large h on the right
        ax.text(0.02, 0.03, "← small h: rounding error\n    dominates (≈ eps·|f| / h)", transform=ax.transAxes,
                ha="left", va="bottom", fontsize=8, color="0.2")
        ax.text(0.98, 0.03, "large h: truncation error →\ndominates: slope 1 (forward),\nslope 2 (centred)",
                transform=ax.transAxes, ha="right", va="bottom", fontsize=8, color="0.2")
    ax.set_xlabel("step size h")
    ax.set_ylabel("|numerical − exact derivative|")
    lows = [line.get_ydata().min() for line in ax.get_lines() if len(line.get_ydata())]
    ax.set_ylim(max(floor, min(lows) / 1e3) if lows else floor, None)
    ax.set_title(title or f"Finite-difference error of d/dx {function_name}(x) at x = {x0:g}")
    ax.legend(**FD_LEGEND)
    return ax


@styled
def plot_jacobian(J, ax=None, title: str | None = "Jacobian (numerator layout)", annotate: bool | None = None,
                  xlabel: str = "input $x_j$", ylabel: str = "output $y_i$", fmt: str = "{:.2g}", colorbar: bool = True,
                  colorbar_label: str = r"$\partial y_i / \partial x_j$"):
    """A Jacobian as a heatmap: row i is output i, column j is input j (numerator layout).

    Zeros stay white (a diverging map centred on 0), so the structure shows at a glance: ReLU's
    diagonal, the block structure of ∂y/∂W.

    Inputs:
    - J: shape (M, D)
    - annotate: write the value in each cell (default: when J has at most 12×12 entries)
    - xlabel, ylabel, colorbar_label: name the columns, rows and entries (e.g. ∂y_i/∂W_ik for a weight
      Jacobian)

    Returns:
    - the Axes
    """
    J = np.asarray(backend.to_numpy(J.data if hasattr(J, "backward") else J), dtype=float)
    if J.ndim == 1:
        J = J[None]
    if J.ndim != 2:
        raise ValueError(f"J must be a matrix of shape (M, D), got shape {J.shape}")
    M, D = J.shape
    _, ax = new_axes(ax, figsize=(min(1.0 + 0.55 * D, 10), min(0.9 + 0.5 * M, 8)))
    lim = float(np.abs(J).max()) or 1.0
    im = ax.imshow(J, cmap=DIVERGING, vmin=-lim, vmax=lim, interpolation="nearest", aspect="auto")
    if annotate is None:
        annotate = M <= 12 and D <= 12
    if annotate:
        for i in range(M):
            for j in range(D):
                v = J[i, j]
                ax.text(j, i, "0" if v == 0 else fmt.format(v), ha="center", va="center", fontsize=8,
                        color="white" if abs(v) > 0.6 * lim else "black")
    ax.set_xticks(range(D) if D <= 20 else ax.get_xticks()[1:-1])
    ax.set_yticks(range(M) if M <= 20 else ax.get_yticks()[1:-1])
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.grid(False)
    if colorbar:
        ax.figure.colorbar(im, ax=ax, shrink=0.85, label=colorbar_label)
    if title:
        ax.set_title(f"{title} ({M}×{D})")
    return ax
