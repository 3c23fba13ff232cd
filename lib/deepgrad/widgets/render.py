"""Render every figure of ``deepgrad.viz`` and every widget's first view to PNG files.

    python -m deepgrad.widgets.render figures        # what `make figures` runs

Each figure is computed from the library itself (real training runs, real gradients), so the PNGs
double as a visual check of the whole stack. ``main(outdir)`` returns the paths it wrote. It lives with
the widgets, the top layer, because some figures draw a widget's preset (the slides' neuron, a race):
``viz`` itself never imports ``widgets``.
"""
from __future__ import annotations

import os
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed; also what exported notebooks and tests use

import numpy as np

__all__ = ["main", "FIGURES", "WIDGETS"]


def _save(fig, path: str) -> str:
    from ..viz.style import style

    with style():
        fig.savefig(path)
    return path


# --------------------------------------------------------------------------------------- figures
def fig_graph_xyz():
    from .. import Tensor
    from ..viz.graph import draw_graph

    x, y, z = Tensor(-2.0, requires_grad=True, label="x"), Tensor(5.0, requires_grad=True, label="y"), \
        Tensor(-4.0, requires_grad=True, label="z")
    q = x + y
    q.label = "q"
    f = q * z
    f.label = "f"
    f.backward(retain_graph_grads=True)
    return draw_graph(f, title="f = (x + y) z at x = −2, y = 5, z = −4").figure


def fig_graph_sigmoid():
    from .backprop import BackpropController
    from ..viz.graph import draw_graph

    # the backprop explorer's preset: one definition of the slides' neuron, drawn as the lesson shows it
    c = BackpropController("sigmoid_neuron")
    f = np.exp(-c.output)  # L = -log f
    dw = ", ".join(f"{c.grads[k]:.2f}" for k in ("w0", "w1", "w2")).replace("-", "−")
    return draw_graph(c.graph, title="The neuron slides' sigmoid neuron with its logistic loss (y = 1): "
                                     f"f = {f:.3f}, ∂L/∂w ≈ ({dw})").figure


def fig_graph_mlp():
    from .. import Tensor
    from ..viz.graph import draw_graph

    rng = np.random.default_rng(0)
    X = Tensor(rng.normal(size=(4, 3)), label="X")
    W1 = Tensor(0.5 * rng.normal(size=(3, 5)), requires_grad=True, label="W1")
    b1 = Tensor(np.zeros(5), requires_grad=True, label="b1")
    W2 = Tensor(0.5 * rng.normal(size=(5, 2)), requires_grad=True, label="W2")
    b2 = Tensor(np.zeros(2), requires_grad=True, label="b2")
    h = (X @ W1 + b1).relu()
    h.label = "h"
    loss = ((h @ W2 + b2) ** 2).mean()
    loss.label = "L"
    loss.backward(retain_graph_grads=True)
    return draw_graph(loss, title="A two-layer network: arrays shown by shape, gradients by norm").figure


def fig_decision_boundary():
    from .. import data
    from ..linear import LinearClassifier
    from ..viz.boundaries import plot_decision_boundary
    from ..viz.style import new_figure

    fig, (a, b) = new_figure(figsize=(10.5, 4.4), ncols=2)
    for ax, (name, (X, y)) in zip((a, b), (("blobs", data.make_blobs(300, seed=0)),
                                           ("XOR", data.make_xor(200, seed=0))), strict=True):
        clf = LinearClassifier(loss="softmax", reg=1e-4, seed=0)
        clf.train(X, y, learning_rate=0.5, num_iters=300, batch_size=100)
        plot_decision_boundary(clf, X, y, ax=ax, title=f"Linear classifier on {name}")
    return fig


def _digits_run(iters_per_epoch=20, epochs=25):
    from .. import data
    from ..linear import LinearClassifier

    X, y = data.load_digits(scale=True)
    Xtr, ytr, Xval, yval, _, _ = data.train_val_test_split(X, y, val=0.2, test=0.1, seed=0)
    clf = LinearClassifier(loss="softmax", reg=1e-3, seed=0)
    hist = {"train_loss": [], "val_loss": [], "train_acc": [], "val_acc": []}
    for _ in range(epochs):
        clf.train(Xtr, ytr, learning_rate=0.2, num_iters=iters_per_epoch, batch_size=64)
        hist["train_loss"].append(clf.loss(Xtr, ytr)[0])
        hist["val_loss"].append(clf.loss(Xval, yval)[0])
        hist["train_acc"].append(float(np.mean(clf.predict(Xtr) == ytr)))
        hist["val_acc"].append(float(np.mean(clf.predict(Xval) == yval)))
    return clf, hist


def fig_history():
    from ..viz.curves import plot_history

    _, hist = _digits_run()
    return plot_history(hist, title="Softmax classifier on digits")[0].figure


def fig_templates():
    from ..viz.boundaries import plot_templates

    clf, _ = _digits_run()
    return plot_templates(clf, class_names=[str(d) for d in range(10)], image_shape=(8, 8),
                          title="Digit templates learned by a softmax classifier")[0].figure


def fig_landscape():
    from ..viz.landscape import SURFACES, plot_loss_landscape

    paths = _race_paths("Rosenbrock")
    return plot_loss_landscape(SURFACES["Rosenbrock"], paths).figure


def _race_paths(surface):
    from .optimizers import RaceController

    race = RaceController(surface=surface)
    race.run()
    return race.trajectories


def fig_layer_stats():
    from .initialization import InitController
    from ..viz.stats import plot_layer_stats

    c = InitController(depth=6, width=100, activation="tanh", init="normal", scale=0.05)
    c.run()
    return plot_layer_stats(c.activations, c.grads,
                            title="tanh network, weights N(0, 0.05²): signals vanish with depth")[0, 0].figure


def fig_fd_error():
    from ..viz.gradients import plot_fd_error

    return plot_fd_error().figure


def fig_jacobian():
    from .. import layers
    from ..viz.gradients import plot_jacobian
    from ..viz.style import new_figure

    rng = np.random.default_rng(0)
    x = rng.normal(size=6)
    fig, (a, b) = new_figure(figsize=(10.5, 4.2), ncols=2)
    plot_jacobian(layers.relu_jacobian(x), ax=a, title="ReLU: diagonal")
    x2, W, bias = rng.normal(size=3), rng.normal(size=(3, 2)), np.zeros(2)
    plot_jacobian(layers.linear_jacobian(x2, W, bias, wrt="W"), ax=b, title="∂y/∂W of y = xW + b: sparse",
                  xlabel="weight $W_{ik}$ (row-major)", ylabel="output $y_j$",
                  colorbar_label=r"$\partial y_j / \partial W_{ik}$")
    return fig


FIGURES = {
    "graph_xyz": fig_graph_xyz, "graph_sigmoid_neuron": fig_graph_sigmoid, "graph_mlp": fig_graph_mlp,
    "decision_boundary": fig_decision_boundary, "history": fig_history, "templates": fig_templates,
    "loss_landscape": fig_landscape, "layer_stats": fig_layer_stats, "fd_error": fig_fd_error,
    "jacobian": fig_jacobian,
}
# Widgets: name -> builder; each widget exposes `.figure_png()` for its current picture.
WIDGETS = {}


def main(outdir: str = "figures", only=None) -> list[str]:
    """Write ``<name>.png`` for every figure and ``widget_<name>.png`` for every widget into ``outdir``.

    Inputs:
    - outdir: folder (created if missing)
    - only: optional iterable of names to render (figure names or ``widget_<name>``)

    Returns:
    - the paths written
    """
    import matplotlib.pyplot as plt

    from .. import widgets  # the package this module is in, for its list of explorers

    os.makedirs(outdir, exist_ok=True)
    written = []
    for name, make in FIGURES.items():
        if only is not None and name not in only:
            continue
        fig = make()
        written.append(_save(fig, os.path.join(outdir, f"{name}.png")))
        plt.close("all")
    for name in widgets.__all__:
        if only is not None and f"widget_{name}" not in only:
            continue
        w = getattr(widgets, name)().wait()
        path = os.path.join(outdir, f"widget_{name}.png")
        with open(path, "wb") as fh:
            fh.write(w.figure_png())
        written.append(path)
    return written


if __name__ == "__main__":
    args = sys.argv[1:]
    paths = main(args[0] if args else "figures", only=set(args[1:]) or None)
    print("\n".join(paths))
