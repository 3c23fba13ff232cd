"""Gate explorer: how add, multiply, max and sigmoid gates pass a gradient back to their inputs."""
from __future__ import annotations

import ipywidgets as W

from .. import autograd
from ..autograd import Tensor
from ._common import Explorer, GraphView, fmt, slider

__all__ = ["GateController", "gate_explorer", "GATES"]

GATES = {
    "add": lambda x, y: x + y,
    "mul": lambda x, y: x * y,
    "max": lambda x, y: _max(x, y),
    "sigmoid": lambda x, y: x.sigmoid(),
}


def _max(x, y):
    # A two-input max gate as one graph node (the engine's .max() reduces over one tensor's entries).
    a, b = x.data, y.data
    take_x = float(a) >= float(b)
    return autograd.from_op(a if take_x else b, (x, y), "max",
                            lambda g: (g if take_x else g * 0, g * 0 if take_x else g))


class GateController:
    """One gate, its inputs x and y, and the upstream gradient g = dL/d(out).

    After :meth:`run`: ``out``, ``dx``, ``dy`` (dy is None for the one-input sigmoid), ``graph`` (for
    drawing) and ``explanation`` (the local rule in words, with the numbers).
    """

    def __init__(self, gate: str = "mul", x: float = 3.0, y: float = -4.0, upstream: float = 2.0):
        self.gate, self.x, self.y, self.upstream = gate, x, y, upstream
        self.run()

    def run(self):
        if self.gate not in GATES:
            raise ValueError(f"gate must be one of {list(GATES)}, got {self.gate!r}")
        x = Tensor(float(self.x), requires_grad=True, label="x")
        y = Tensor(float(self.y), requires_grad=True, label="y")
        out = GATES[self.gate](x, y)
        out.label = "out"
        out.backward(gradient=float(self.upstream), retain_graph_grads=True)
        self.out = float(out.data)
        self.dx = float(x.grad)
        self.dy = None if self.gate == "sigmoid" else float(y.grad)
        self.graph = autograd.trace(out)
        self.explanation = self._explain()
        return self

    def _explain(self) -> str:
        g, x, y = float(self.upstream), float(self.x), float(self.y)
        G = fmt(g, 2)
        if self.gate == "add":
            return (f"<b>add distributes</b>: the local gradient is 1 for both inputs, so each gets the upstream "
                    f"gradient unchanged: ∂L/∂x = ∂L/∂y = g = {G}.")
        if self.gate == "mul":
            return (f"<b>mul switches</b>: each input gets the upstream gradient times the <i>other</i> input: "
                    f"∂L/∂x = g·y = {G}·{fmt(y, 2)} = {fmt(self.dx, 2)}, "
                    f"∂L/∂y = g·x = {G}·{fmt(x, 2)} = {fmt(self.dy, 2)}.")
        if self.gate == "max":
            winner, loser = ("x", "y") if x >= y else ("y", "x")
            return (f"<b>max routes</b>: only the larger input ({winner}) affected the output, so it gets the whole "
                    f"gradient g = {G}; {loser} gets 0.")
        s = 1.0 / (1.0 + 2.718281828459045 ** -x)
        return (f"<b>sigmoid scales</b>: ∂L/∂x = g·σ(x)(1 − σ(x)) = {G}·{fmt(s, 3)}·{fmt(1 - s, 3)} = "
                f"{fmt(self.dx, 3)}; the local slope is at most 0.25 and near 0 when |x| is large.")


def gate_explorer(gate: str = "mul", x: float = 3.0, y: float = -4.0, upstream: float = 2.0) -> Explorer:
    """Pick a gate, move its inputs and the upstream gradient, and watch what each input receives."""
    c = GateController(gate, x, y, upstream)
    gate_w = W.ToggleButtons(options=list(GATES), value=gate, description="gate")
    x_w, y_w = slider("x", x, -5, 5), slider("y", y, -5, 5)
    g_w = slider("upstream ∂L/∂out", upstream, -3, 3)
    labels = {k: W.HTML() for k in ("out", "x", "y")}
    for k, lab in labels.items():
        lab.add_class(f"dg-grad-{k}" if k != "out" else "dg-value-out")
    controls = [gate_w, W.HBox([x_w, labels["x"]]), W.HBox([y_w, labels["y"]]), W.HBox([g_w, labels["out"]])]

    view = GraphView(lambda: (c.graph, None, set(), f"{c.gate} gate: values above, gradients below"), (6.0, 2.9))
    ex = Explorer(c, view, controls, image_width="620px")

    def update():
        c.gate, c.x, c.y, c.upstream = gate_w.value, x_w.value, y_w.value, g_w.value
        c.run()
        ex.refresh()  # the picture before the labels, each a message the picture would wait behind
        y_w.disabled = c.gate == "sigmoid"
        labels["x"].value = f"∂L/∂x = <b>{fmt(c.dx)}</b>"
        labels["y"].value = "—" if c.dy is None else f"∂L/∂y = <b>{fmt(c.dy)}</b>"
        labels["out"].value = f"out = {fmt(c.out)}"
        ex.info.value = c.explanation

    ex.on_change([gate_w, x_w, y_w, g_w], update)
    ex.controls = dict(gate=gate_w, x=x_w, y=y_w, upstream=g_w)
    ex.labels = labels
    ex.request(update)
    return ex

