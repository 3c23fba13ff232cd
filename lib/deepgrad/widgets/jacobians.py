"""Jacobian explorer: pick a layer, a batch size and the widths, and see the Jacobian's sparsity.

Lesson 07's point in one picture: the Jacobian of a layer over a batch is mostly zeros (block diagonal
for the input, one block per example for the weights, a diagonal for elementwise layers), so backprop
multiplies by it without building it. The controller computes the flattened Jacobian from the
``layers`` module's one-example Jacobians and counts what building it would cost against the VJP.
"""
from __future__ import annotations

import ipywidgets as W
import numpy as np
from matplotlib.collections import LineCollection

from .. import layers
from ..viz.style import DIVERGING, CellLabels, new_figure
from ._common import Blit, Explorer

__all__ = ["JacobianController", "jacobian_explorer", "LAYERS"]

# One-example Jacobians of the elementwise layers, each (D,) -> (D, D) diagonal.
ELEMENTWISE = {"relu": layers.relu_jacobian, "sigmoid": layers.sigmoid_jacobian, "tanh": layers.tanh_jacobian}
LAYERS = ("linear", *ELEMENTWISE)
WRT = ("input", "weights")


class JacobianController:
    """One layer applied to a batch X of shape (batch, n_in); its Jacobian with everything flattened row-major.

    ``layer="linear"``: Y = X W + b with W of shape (n_in, n_out), so Y has shape (batch, n_out).
    ``wrt="input"`` gives J of shape (batch·n_out, batch·n_in), block diagonal with one Wᵀ per example;
    ``wrt="weights"`` gives J of shape (batch·n_out, n_in·n_out), one block per example stacked.
    An elementwise layer (relu, sigmoid, tanh) has no weights and n_out = n_in: J is diagonal,
    shape (batch·n_in, batch·n_in).

    After :meth:`run`: ``X``, ``W``, ``J``, ``shape``, ``nonzeros``, ``density`` (non-zeros / entries),
    ``dense_cost`` (multiply-adds of ȳ @ J with J built) and ``vjp_cost`` (multiply-adds of the VJP that
    ``*_backward`` computes, which never touches a zero).
    """

    def __init__(self, layer: str = "linear", wrt: str = "input", batch: int = 2, n_in: int = 4, n_out: int = 3,
                 seed: int = 0):
        self.layer, self.wrt, self.batch, self.n_in, self.n_out, self.seed = layer, wrt, batch, n_in, n_out, seed
        self.run()

    def run(self):
        if self.layer not in LAYERS:
            raise ValueError(f"layer must be one of {list(LAYERS)}, got {self.layer!r}")
        if self.wrt not in WRT:
            raise ValueError(f"wrt must be one of {list(WRT)}, got {self.wrt!r}")
        if self.layer != "linear" and self.wrt == "weights":
            raise ValueError(f"wrt='weights' needs a layer with weights; {self.layer!r} has none (use wrt='input')")
        for name in ("batch", "n_in", "n_out"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)!r}")
        N, D = int(self.batch), int(self.n_in)
        M = int(self.n_out) if self.layer == "linear" else D
        rng = np.random.default_rng(self.seed)
        # One decimal so that the numbers written in the cells stay readable.
        self.X = rng.standard_normal((N, D)).round(1)
        self.W = rng.standard_normal((D, M)).round(1) if self.layer == "linear" else None
        if self.layer == "linear" and self.wrt == "input":
            self.J = np.kron(np.eye(N), self.W.T)          # row n of Y sees only row n of X
            self.vjp_cost = N * M * D                       # dY @ W.T
        elif self.layer == "linear":
            b = np.zeros(M)
            self.J = np.vstack([layers.linear_jacobian(x, self.W, b, wrt="W") for x in self.X])
            self.vjp_cost = N * D * M                       # X.T @ dY
        else:
            self.J = ELEMENTWISE[self.layer](self.X.reshape(-1))
            self.vjp_cost = N * D                           # dY * local slope, entry by entry
        self.shape = self.J.shape
        self.nonzeros = int(np.count_nonzero(self.J))
        self.density = self.nonzeros / self.J.size
        self.dense_cost = self.J.size
        return self

    def forward(self, X=None, W=None):
        """The layer's output for X (batch, n_in) and, for linear, W (n_in, n_out); for finite differences."""
        X = self.X if X is None else X
        if self.layer == "linear":
            return layers.linear_forward(X, self.W if W is None else W, np.zeros(self.W.shape[1]))[0]
        return {"relu": layers.relu_forward, "sigmoid": layers.sigmoid_forward,
                "tanh": layers.tanh_forward}[self.layer](X)[0]

    def saving(self) -> str:
        """What the VJP saves against building J, in words ("3× fewer"; the costs are whole multiples)."""
        ratio = self.dense_cost / self.vjp_cost
        return f"{ratio:.0f}× fewer" if ratio > 1 else "as many: J has nothing to skip"

    def title(self) -> str:
        what = {"input": "∂Y/∂X", "weights": "∂Y/∂W"}[self.wrt]
        return f"{self.layer}, {what}: shape {self.shape[0]}×{self.shape[1]}, {self.nonzeros} non-zeros"


class _JacobianView(Blit):
    """The Jacobian as one image on a figure made once: each update replaces the image's pixels, the lines
    between examples and the title (a new figure per update spent most of its time laying itself out).
    The axes, their ticks and the lines between examples depend only on J's shape and are kept as pixels
    per shape (``background_key``): another layer of the same shape redraws the matrix and the title only.
    Small Jacobians get their values written in the cells, so colour is never the only cue; a big one's
    would be too small to read."""

    MAX_CELLS = 100  # the most entries written out

    def __init__(self, c: JacobianController):
        self.c = c
        self.figure, ax = new_figure(figsize=(8.0, 4.6))
        # fixed margins, room for the labels whatever the shape: a layout fitted to the first matrix would
        # leave a wide one's tick labels outside the figure (and laying out each frame costs more than drawing)
        self.figure.set_layout_engine(None)
        self.figure.subplots_adjust(left=0.1, right=0.98, bottom=0.11, top=0.88)
        self.ax = ax
        # the matrix as a mesh of cells, made again for each shape: an image resampled to the axes' pixels
        # cost 15 ms a frame, the mesh under 1
        self.mesh = None
        ax.set_aspect("equal")  # square cells
        self.cells = ax.add_artist(CellLabels(fontsize=7))
        # a dot in each zero cell, all in one artist (a text per cell would cost as much as the rest of the frame)
        self.zeros = ax.plot([], [], ".", color="black", markersize=1.5)[0]
        self.bounds = ax.add_collection(LineCollection([], colors="k", linewidths=0.8))
        ax.set_facecolor("white")  # zero cells are left out of the mesh: they show the background
        ax.set_ylabel("entry of Y (row-major)")
        ax.grid(False)
        self.texts = [self.zeros, self.cells, ax.title]

    @property
    def dynamic(self):
        return [self.mesh, *self.texts]

    def update(self):
        c, ax = self.c, self.ax
        J = c.J
        R, C = J.shape
        self.background_key = (R, C, c.wrt, c.batch)  # what the axes, ticks and lines between examples show
        lim = float(np.abs(J).max()) or 1.0
        values = np.ma.masked_equal(J, 0)  # zeros are left out: they show the white background
        if self.mesh is None or self.mesh.get_array().shape != J.shape:
            if self.mesh is not None:
                self.mesh.remove()
            self.mesh = ax.pcolormesh(np.arange(C + 1) - 0.5, np.arange(R + 1) - 0.5, values, cmap=DIVERGING)
        self.mesh.set_array(values)
        self.mesh.set_clim(-lim, lim)
        ax.set_xlim(-0.5, C - 0.5)
        ax.set_ylim(R - 0.5, -0.5)
        small = J.size <= self.MAX_CELLS
        written = np.argwhere(J != 0) if small else np.zeros((0, 2), int)
        v = J[written[:, 0], written[:, 1]]
        self.cells.set_labels(written[:, ::-1], [f"{x:.2g}" for x in v],  # two digits fit a cell
                              np.where(np.abs(v) > 0.6 * lim, "white", "black"))
        self.zeros.set_data(*(np.argwhere(J == 0)[:, ::-1].T if small else ([], [])))
        # where one example ends and the next begins: rows always, columns for the input's blocks
        rows, cols = R // c.batch, C // c.batch
        segments = [[(-0.5, k * rows - 0.5), (C - 0.5, k * rows - 0.5)] for k in range(1, c.batch)]
        if c.wrt == "input":
            segments += [[(k * cols - 0.5, -0.5), (k * cols - 0.5, R - 0.5)] for k in range(1, c.batch)]
        self.bounds.set_segments(segments)
        ax.set_xlabel({"input": "entry of X (row-major)", "weights": "entry of W (row-major)"}[c.wrt])
        # y given: the title is not moved clear of ticks on top (there are none), a measuring pass per frame
        ax.set_title(f"{c.title()}\nȳ @ J with J built: {c.dense_cost:,} multiply-adds; the VJP: {c.vjp_cost:,} "
                     f"({c.saving()})", fontsize=10, y=1.0)
        # the box of square cells for this shape: a full draw would fit it, a frame over kept pixels must ask
        ax.apply_aspect()


def jacobian_explorer(layer: str = "linear", wrt: str = "input", batch: int = 2, n_in: int = 4,
                      n_out: int = 3) -> Explorer:
    """Choose a layer, what to differentiate by, the batch size and widths; watch the Jacobian's zeros grow."""
    c = JacobianController(layer, wrt, batch, n_in, n_out)
    wide = {"description_width": "initial"}
    layer_w = W.ToggleButtons(options=list(LAYERS), value=layer, description="layer")
    wrt_w = W.ToggleButtons(options=list(WRT), value=wrt, description="differentiate by")
    batch_w = W.IntSlider(value=batch, min=1, max=6, description="batch N", style=wide)
    in_w = W.IntSlider(value=n_in, min=1, max=8, description="inputs D", style=wide)
    out_w = W.IntSlider(value=n_out, min=1, max=8, description="outputs M", style=wide)
    controls = [layer_w, wrt_w, W.HBox([batch_w, in_w, out_w])]

    view = _JacobianView(c)
    # on a worker thread: after each picture it draws the shapes one step away (below) while nobody waits
    ex = Explorer(c, view, controls, image_width="760px", background=True)
    names = ("layer", "wrt", "batch", "n_in", "n_out")
    moved = {"name": "batch", "step": 1}  # the control changed last and its direction: its next step goes first

    def update():
        # Elementwise layers have no weights and as many outputs as inputs: grey out what does not apply.
        elementwise = layer_w.value != "linear"
        if elementwise and wrt_w.value == "weights":
            wrt_w.value = "input"  # re-enters update() with a valid state; the latest call draws
            return
        before = [getattr(c, n) for n in names]
        c.layer, c.wrt, c.batch, c.n_in, c.n_out = (layer_w.value, wrt_w.value, batch_w.value, in_w.value,
                                                    out_w.value)
        for name, old in zip(names[2:], before[2:], strict=True):
            if getattr(c, name) != old:
                moved.update(name=name, step=1 if getattr(c, name) > old else -1)
        c.run()
        ex.refresh(key=tuple(getattr(c, n) for n in names))  # the picture first (ARCHITECTURE.md)
        wrt_w.disabled = out_w.disabled = elementwise
        ex.info.value = (f"J has {c.J.size:,} entries and {c.nonzeros:,} of them are non-zero "
                         f"(<b>{c.density:.1%}</b>). Building it and multiplying costs {c.dense_cost:,} "
                         f"multiply-adds; the VJP costs {c.vjp_cost:,}.")
        ex.request(ahead, idle=True)

    def ahead():
        # A new shape costs a full draw (its axes and ticks: about 35 ms of CPU, three times that on a busy
        # laptop), any state a frame (about 12 ms). So, while nobody waits, the pictures of every state one step
        # away are drawn and kept: the step the student just took, once more, first.
        shown = {n: getattr(c, n) for n in names}
        steps = sorted(((n, d) for n in names[2:] for d in (1, -1)),
                       key=lambda nd: (nd[0] != moved["name"], nd[1] != moved["step"]))
        states = [{**shown, n: shown[n] + d} for n, d in steps
                  if ex.controls[n].min <= shown[n] + d <= ex.controls[n].max and not ex.controls[n].disabled]
        if shown["layer"] == "linear":
            states += [{**shown, "wrt": "weights" if shown["wrt"] == "input" else "input"},
                       {**shown, "layer": "relu", "wrt": "input"}]
        else:
            states.append({**shown, "layer": "linear"})

        def point(key):
            view.c = c if key is None else JacobianController(*key)
        ex.draw_ahead([tuple(state[n] for n in names) for state in states], point)

    ex.on_change([layer_w, wrt_w, batch_w, in_w, out_w], update)
    ex.controls = dict(layer=layer_w, wrt=wrt_w, batch=batch_w, n_in=in_w, n_out=out_w)
    ex.guard(update)()
    return ex
