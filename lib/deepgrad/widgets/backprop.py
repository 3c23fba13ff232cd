"""Backprop explorer: an expression's graph, its values and gradients, revealed one node at a time."""
from __future__ import annotations

import html
import inspect

import ipywidgets as W
import numpy as np

from .. import autograd
from ..autograd import Tensor
from ..gradcheck import numerical_gradient, rel_error
from ._common import Explorer, GraphView, fmt, slider

__all__ = ["BackpropController", "backprop_explorer", "EXPRESSIONS"]


def _xyz(x, y, z):
    q = x + y
    q.label = "q"
    return q * z


def _sigmoid_neuron(w0, w1, w2, x1, x2):
    # the neuron slides' example: f = σ(w0 + w1 x1 + w2 x2) with its logistic loss at y = 1, L = −log f
    a1, a2 = w1 * x1, w2 * x2
    b = w0 + a1
    s = b + a2
    f = s.sigmoid()
    log_f = f.log()
    loss = -log_f
    for t, name in ((a1, "a1"), (a2, "a2"), (b, "b"), (s, "s"), (f, "f"), (log_f, "log f"), (loss, "L")):
        t.label = name
    return loss


# name -> (function, default input values, formula for the title)
EXPRESSIONS = {
    "(x+y)*z": (_xyz, {"x": -2.0, "y": 5.0, "z": -4.0}, "f = (x + y) z"),
    "sigmoid_neuron": (_sigmoid_neuron, {"w0": -3.0, "w1": 2.0, "w2": -3.0, "x1": -1.0, "x2": -2.0},
                       "L = −log f,  f = σ(w0 + w1 x1 + w2 x2)  (logistic loss, y = 1)"),
}

# The local gradient each op sends to its i-th input, as a number, for the scalar graphs shown here.
_LOCAL = {
    "add": lambda i, a, out: 1.0,
    "sub": lambda i, a, out: 1.0 if i == 0 else -1.0,
    "mul": lambda i, a, out: a[1 - i],
    "div": lambda i, a, out: 1 / a[1] if i == 0 else -a[0] / a[1] ** 2,
    "neg": lambda i, a, out: -1.0,
    "exp": lambda i, a, out: out,
    "log": lambda i, a, out: 1 / a[0],
    "sigmoid": lambda i, a, out: out * (1 - out),
    "tanh": lambda i, a, out: 1 - out ** 2,
    "relu": lambda i, a, out: float(a[0] > 0),
}
# The rule in words comes from the engine's table of ops (autograd.OPS), so every op has one.
_RULES = {op: (f"{op}: {rule}", _LOCAL.get(op)) for op, (_symbol, rule) in autograd.OPS.items()}


def _signature_defaults(fn) -> dict[str, float]:
    params = inspect.signature(fn).parameters.values()
    return {p.name: (float(p.default) if p.default is not inspect.Parameter.empty else 1.0) for p in params}


class BackpropController:
    """The state of the backprop explorer, with no widgets: tests drive it directly.

    Parameters:
    - expr: ``"(x+y)*z"``, ``"sigmoid_neuron"`` or a callable ``f(x, y, ...)`` of scalar Tensors returning
      a scalar Tensor (its parameter names become the inputs; their defaults the starting values)
    - values: starting values by input name (override the defaults)

    State: ``values`` and ``grads`` (by input name), ``output`` and its label ``out_name`` ("f" unless the
    expression labels it), ``graph`` (a traced Graph, with every node's gradient), ``order`` (node ids
    in the order backward visits them), ``revealed`` (ids whose gradients are shown), ``log`` (the rules
    used so far), ``predictions`` (checked guesses).
    """

    def __init__(self, expr="(x+y)*z", values: dict | None = None):
        if callable(expr):
            self.fn, defaults, self.formula = expr, _signature_defaults(expr), getattr(expr, "__name__", "f")
            self.name = self.formula
        elif expr in EXPRESSIONS:
            self.fn, defaults, self.formula = EXPRESSIONS[expr]
            self.name = expr
        else:
            raise ValueError(f"expr must be one of {list(EXPRESSIONS)} or a callable f(x, y, ...) of Tensors, "
                             f"got {expr!r}")
        self.values = dict(defaults)
        unknown = set(values or ()) - set(self.values)
        if unknown:
            raise ValueError(f"values has unknown inputs {sorted(unknown)}; the inputs are {list(self.values)}")
        self.values.update({k: float(v) for k, v in (values or {}).items()})
        self.revealed: set[int] = set()
        self.log: list[str] = []
        self.predictions: list[dict] = []
        self.evaluate()

    @property
    def inputs(self) -> list[str]:
        return list(self.values)

    # ------------------------------------------------------------------------------------- compute
    def _call(self, tensors: dict):
        out = self.fn(**tensors)
        if not isinstance(out, Tensor) or out.numel() != 1:
            raise TypeError(f"the expression must return a scalar Tensor, got {type(out).__name__} "
                            f"{getattr(out, 'shape', '')}")
        return out

    def evaluate(self):
        """Forward and backward at the current values; keeps which nodes are revealed."""
        tensors = {k: Tensor(v, requires_grad=True, label=k) for k, v in self.values.items()}
        out = self._call(tensors)
        if not out.label:
            out.label = "f"
        out.backward(retain_graph_grads=True)
        self.output = float(out.data)
        self.out_name = out.label  # "f", or "L" when the expression ends in a loss
        self.grads = {k: (0.0 if t.grad is None else float(t.grad)) for k, t in tensors.items()}
        self.graph = autograd.trace(out)
        # only nodes that carry a gradient take part in backprop (constants do not)
        self.order = [i for i in self.graph.reverse_order() if self.graph.nodes[i].requires_grad]
        self.revealed &= set(self.order)
        return self

    def set_value(self, name: str, value: float):
        if name not in self.values:
            raise ValueError(f"name must be one of the inputs {self.inputs}, got {name!r}")
        self.values[name] = float(value)
        return self.evaluate()

    def node_of(self, name: str):
        """The graph node of an input (by its label)."""
        for n in self.graph.nodes:
            if n.label == name and not n.op:
                return n
        raise KeyError(name)

    # --------------------------------------------------------------------------- stepping backward
    @property
    def next_node(self):
        """The node whose gradient backward computes next, or None when all are revealed."""
        for i in self.order:
            if i not in self.revealed:
                return self.graph.nodes[i]
        return None

    @property
    def done(self) -> bool:
        return self.next_node is None

    def reset(self):
        self.revealed = set()
        self.log = []

    def reveal_all(self):
        self.revealed = set(self.order)

    def step_backward(self) -> str | None:
        """Reveal the next node's gradient (reverse topological order); returns the rule used."""
        node = self.next_node
        if node is None:
            return None
        self.revealed.add(node.id)
        text = self.rule(node.id)
        self.log.append(text)
        return text

    def rule(self, node_id: int) -> str:
        """How backward gets this node's gradient: from each consumer's local rule, summed at branches."""
        g = self.graph
        node = g.nodes[node_id]
        if node_id == g.nodes[-1].id:
            return f"start: ∂{node.label}/∂{node.label} = 1 (the output with respect to itself)"
        parts, numbers = [], []
        for c in g.nodes:
            for i, p in enumerate(c.parents):
                if p != node_id:
                    continue
                generic = f"{c.op}: ∂{{o}}/∂{{p}} = ∂{{o}}/∂{{c}} · (local gradient)"
                template, local = _RULES.get(c.op, (generic, None))
                args = [float(np.asarray(g.nodes[q].value).reshape(-1)[0]) for q in c.parents]
                other = g.nodes[c.parents[1 - i]].label if len(c.parents) == 2 else ""
                divrule = (f"1/{other}" if i == 0 else f"(−{other}/{node.label}²)")  # d(a/b)/da, d(a/b)/db
                parts.append(template.format(o=self.out_name, p=node.label, c=c.label, other=other,
                                             divrule=divrule))
                upstream = float(np.asarray(c.grad).reshape(-1)[0])
                if local is not None:
                    lv = local(i, args, float(np.asarray(c.value).reshape(-1)[0]))
                    numbers.append(f"{fmt(upstream)} · {fmt(lv)}")
                else:
                    numbers.append(f"from {fmt(upstream)}")
        total = fmt(float(np.asarray(node.grad).reshape(-1)[0]))
        if len(parts) > 1:
            return (f"{node.label} feeds {len(parts)} nodes, so the gradients add at the branch: "
                    + "; ".join(parts) + f" → {' + '.join(numbers)} = {total}")
        return f"{parts[0]} = {numbers[0]} = {total}"

    # ------------------------------------------------------------------------------------- predict
    def check_prediction(self, guess: float, tol: float = 1e-2) -> dict:
        """Compare a guess with the next node's gradient, then reveal that node.

        Returns ``{"node", "guess", "answer", "correct", "rule"}`` (correct within ``tol``, absolute or
        relative); also appended to ``predictions``.
        """
        node = self.next_node
        if node is None:
            raise RuntimeError("every gradient is already revealed: reset() to start again")
        answer = float(np.asarray(node.grad).reshape(-1)[0])
        correct = abs(float(guess) - answer) <= tol * max(1.0, abs(answer))
        result = {"node": node.label, "guess": float(guess), "answer": answer, "correct": bool(correct),
                  "rule": self.step_backward()}
        self.predictions.append(result)
        return result

    # ------------------------------------------------------------------------------ numerical check
    def finite_difference_check(self, h: float = 1e-5) -> dict[str, dict[str, float]]:
        """For each input: the centred-difference derivative, backprop's, and their relative error."""
        rows = {}
        for name in self.values:
            def f(v, name=name):
                args = {k: Tensor(float(v) if k == name else val) for k, val in self.values.items()}
                with autograd.no_grad():
                    return float(self._call(args).data)

            x = np.array(self.values[name])
            numeric = float(numerical_gradient(f, x, h=h))
            rows[name] = {"numerical": numeric, "backprop": self.grads[name],
                          "rel_error": rel_error(numeric, self.grads[name])}
        return rows


# ------------------------------------------------------------------------------------------- widget
def _fd_table(rows, out: str = "f") -> str:
    num = "style='text-align:right;padding:2px 12px;font-family:monospace'"   # digits line up under each other
    body = "".join(
        f"<tr><td>∂{html.escape(out)}/∂{html.escape(k)}</td><td {num}>{r['numerical']:.6f}</td>"
        f"<td {num}>{r['backprop']:.6f}</td><td {num}>{r['rel_error']:.1e}</td>"
        f"<td>{'✔ agree' if r['rel_error'] < 1e-6 else '✘ differ'}</td></tr>"
        for k, r in rows.items())
    head = "style='text-align:right;padding:2px 12px'"
    return (f"<table style='border-collapse:collapse'><tr><th style='text-align:left'>derivative</th>"
            f"<th {head}>numerical (centred, h=1e-5)</th><th {head}>backprop</th><th {head}>relative error</th>"
            "<th></th></tr>" + body + "</table>")


def backprop_explorer(expr="(x+y)*z", values: dict | None = None, lo: float = -5.0, hi: float = 5.0) -> Explorer:
    """The graph of an expression with sliders for its inputs and every gradient on display.

    Inputs:
    - expr: ``"(x+y)*z"`` (default, at x = −2, y = 5, z = −4), ``"sigmoid_neuron"`` (the neuron slides'
      L = −log σ(w0 + w1 x1 + w2 x2) at w = (−3, 2, −3), x = (−1, −2), y = 1: f = 0.7311 and
      ∂L/∂w ≈ (−0.27, 0.27, 0.54)) or a callable ``f(x, y, z)`` of scalar Tensors
    - values: starting values by input name
    - lo, hi: slider range

    Modes: "show all" (every gradient), "step backward" (reveal one node per click, with the local rule),
    "predict, then reveal" (type the next gradient, check it, then see it). Each input's gradient is
    also written beside its slider (HTML with CSS class ``dg-grad-<name>``), and a table compares every
    gradient with a centred finite difference. The explorer's root has the CSS class ``dg-backprop-explorer``.
    """
    c = BackpropController(expr, values)
    sliders = {k: slider(k, v, min(lo, v), max(hi, v), step=0.1) for k, v in c.values.items()}
    grad_labels = {}
    for k in c.values:
        lab = W.HTML(layout=W.Layout(min_width="150px"))
        lab.add_class(f"dg-grad-{k}")
        lab.add_class("dg-grad")
        grad_labels[k] = lab
    out_label = W.HTML()
    out_label.add_class("dg-output")
    mode = W.ToggleButtons(options=["show all", "step backward", "predict, then reveal"], value="show all",
                           description="mode")
    step_b = W.Button(description="step backward", icon="step-backward", tooltip="reveal the next gradient")
    reset_b = W.Button(description="reset", icon="undo")
    guess = W.FloatText(value=0.0, description=f"your ∂{c.out_name}/∂?", style={"description_width": "initial"},
                        layout=W.Layout(width="220px"))
    check_b = W.Button(description="check, then reveal", button_style="info")
    steps = W.HTML()
    fd = W.HTML()
    fd.add_class("dg-fd-check")
    rows = [W.HBox([sliders[k], grad_labels[k]]) for k in c.values]
    step_box = W.HBox([step_b, reset_b])
    predict_box = W.HBox([guess, check_b])
    controls = [W.VBox([*rows, out_label]), mode, step_box, predict_box]

    def state():
        stepping = mode.value != "show all"
        nxt = c.next_node
        return (c.graph, c.revealed if stepping else None, {nxt.id} if (stepping and nxt is not None) else set(),
                f"{c.formula}   ({c.out_name} = {fmt(c.output)})")

    nodes = len(c.graph.nodes)  # the graph keeps its shape when the inputs move
    view = GraphView(state, figsize=(min(2.0 + 1.1 * nodes, 15.0), 2.2 + 0.55 * min(nodes, 8)))
    ex = Explorer(c, view, controls, image_width="100%")
    ex.add_class("dg-backprop-explorer")  # so that a browser test can tell it from the other explorers
    ex.children = [*ex.children[:-1], steps, fd, ex.output]

    def show_labels():
        # the picture first: each label below is a message of its own, and the picture would wait behind them
        ex.refresh()
        stepping, o = mode.value != "show all", c.out_name
        for k, lab in grad_labels.items():
            node = c.node_of(k)
            shown = not stepping or node.id in c.revealed
            lab.value = f"∂{html.escape(o)}/∂{html.escape(k)} = {fmt(c.grads[k]) if shown else '?'}"
        out_label.value = f"{html.escape(o)} = {fmt(c.output)}"
        step_box.layout.display = "" if mode.value == "step backward" else "none"
        predict_box.layout.display = "" if mode.value == "predict, then reveal" else "none"
        nxt = c.next_node
        guess.description = f"your ∂{o}/∂{nxt.label}" if nxt is not None else "all revealed"
        check_b.disabled = step_b.disabled = nxt is None
        log = "".join(f"<li>{html.escape(t)}</li>" for t in c.log)
        preds = "".join(
            f"<li>∂{html.escape(o)}/∂{html.escape(p['node'])}: you said {fmt(p['guess'])}, "
            f"backprop says {fmt(p['answer'])} "
            f"{'✔' if p['correct'] else '✘'}</li>" for p in c.predictions)
        steps.value = ((f"<b>Backward, step by step</b><ol>{log}</ol>" if log and stepping else "")
                       + (f"<b>Your predictions</b><ul>{preds}</ul>" if preds and stepping else ""))
        # while stepping or predicting, the table would give the answers away: only revealed inputs get a row
        fd.value = _fd_table({k: r for k, r in c.finite_difference_check().items()
                              if not stepping or c.node_of(k).id in c.revealed}, c.out_name)

    def on_sliders():
        # every slider's value, not the one that changed: a burst of moves ends at the sliders' final state
        for k, s in sliders.items():
            c.values[k] = float(s.value)
        c.evaluate()
        show_labels()

    ex.on_change(list(sliders.values()), on_sliders)

    def on_mode():
        c.reset()
        if mode.value == "show all":
            c.reveal_all()
        show_labels()

    def on_step(_):
        c.step_backward()
        show_labels()

    def on_reset(_):
        c.reset()
        show_labels()

    def on_check(_):
        r = c.check_prediction(guess.value)
        ex.info.value = (f"{'✔ Right' if r['correct'] else '✘ Not quite'}: "
                         f"∂{html.escape(c.out_name)}/∂{html.escape(r['node'])} = "
                         f"{fmt(r['answer'])}. {html.escape(r['rule'])}")
        show_labels()

    ex.on_change([mode], on_mode)
    step_b.on_click(ex.guard(on_step))
    reset_b.on_click(ex.guard(on_reset))
    check_b.on_click(ex.guard(on_check))
    ex.controls = dict(sliders=sliders, mode=mode, step=step_b, reset=reset_b, guess=guess, check=check_b)
    ex.labels = grad_labels
    ex.steps, ex.fd = steps, fd
    ex.request(on_mode)
    return ex
