"""Computation graphs drawn as the lecture's circuit diagrams, with matplotlib only (no Graphviz).

Nodes are laid out left to right by topological depth: inputs on the left, the output on the right.
On the wire leaving each node, its forward value is written above (bluish green) and the gradient of
the output with respect to it below (vermillion), as in the CS231n backprop notes. Operations are drawn
as circles with their symbol (+, ×, max, σ, ...), inputs as labelled boxes. Arrays too large to write
out are summarised: the value by its shape, the gradient by its norm.

    >>> from deepgrad import Tensor
    >>> x, y, z = (Tensor(v, requires_grad=True, label=n) for v, n in ((-2., "x"), (5., "y"), (-4., "z")))
    >>> f = (x + y) * z; f.backward()
    >>> ax = draw_graph(f)
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .. import backend
from ..autograd import OPS
from .style import FORWARD, GRADIENT, HIGHLIGHT, new_axes, styled, summarize

__all__ = ["DrawNode", "DrawGraph", "as_graph", "layout", "draw_graph", "wire_labels", "OP_SYMBOLS"]

OP_SYMBOLS = {op: symbol for op, (symbol, _rule) in OPS.items()}  # the engine's op names (autograd.OPS)


@dataclass
class DrawNode:
    """One node of a graph to draw: the same fields as ``autograd``'s ``GraphNode``."""

    id: int
    op: str = ""
    label: str = ""
    value: object = None
    grad: object = None
    parents: tuple[int, ...] = ()


@dataclass
class DrawGraph:
    """A graph to draw, built by hand (for diagrams that are not traced from Tensors).

    ``nodes`` must be in topological order (parents before children), the output last.
    """

    nodes: list[DrawNode] = field(default_factory=list)

    @property
    def edges(self) -> list[tuple[int, int]]:
        return [(p, n.id) for n in self.nodes for p in n.parents]

    def reverse_order(self) -> list[int]:
        return [n.id for n in reversed(self.nodes)]

    def add(self, op: str = "", label: str = "", value=None, grad=None, parents=()) -> int:
        """Append a node and return its id (its position)."""
        self.nodes.append(DrawNode(len(self.nodes), op, label, value, grad, tuple(parents)))
        return len(self.nodes) - 1


def as_graph(obj):
    """A graph with ``.nodes``: ``obj`` itself, or the graph traced back from a Tensor."""
    if hasattr(obj, "nodes"):
        return obj
    if hasattr(obj, "backward"):
        from .. import autograd

        return autograd.trace(obj)
    raise TypeError(f"draw_graph needs a Graph (from deepgrad.autograd.trace), a DrawGraph or a Tensor; "
                    f"got {type(obj).__name__}")


def layout(graph, sweeps: int = 4) -> dict[int, tuple[float, float]]:
    """Positions ``{id: (column, row)}``: column = topological depth, rows ordered to limit crossings.

    Operations sit one column right of their deepest parent; inputs sit one column left of their
    first consumer, so a constant used late in the graph is drawn next to where it is used. Within a
    column, nodes are sorted by the mean row of their neighbours (the barycentre heuristic), a few
    sweeps left to right and back.
    """
    nodes = list(graph.nodes)
    ids = [n.id for n in nodes]
    parents = {n.id: tuple(dict.fromkeys(n.parents)) for n in nodes}
    children: dict[int, list[int]] = {i: [] for i in ids}
    for i in ids:
        for p in parents[i]:
            children[p].append(i)
    depth: dict[int, int] = {}
    for i in ids:  # topological order: parents already placed
        depth[i] = 1 + max((depth[p] for p in parents[i]), default=-1)
    for i in ids:
        if not parents[i] and children[i]:
            depth[i] = min(depth[c] for c in children[i]) - 1
    shift = min(depth.values(), default=0)
    depth = {i: d - shift for i, d in depth.items()}
    columns: dict[int, list[int]] = {}
    for i in ids:
        columns.setdefault(depth[i], []).append(i)
    row = {i: float(k) for col in columns.values() for k, i in enumerate(col)}

    def place(col_ids, key):
        col_ids.sort(key=key)
        n = len(col_ids)
        for k, i in enumerate(col_ids):
            row[i] = k - (n - 1) / 2

    for col in columns.values():
        place(col, key=lambda i: row[i])
    for _ in range(sweeps):
        for d in sorted(columns):
            place(columns[d], key=lambda i: (np.mean([row[p] for p in parents[i]]) if parents[i]
                                             else np.mean([row[c] for c in children[i]]) if children[i] else row[i]))
        for d in sorted(columns, reverse=True):
            place(columns[d], key=lambda i: (np.mean([row[c] for c in children[i]]) if children[i] else row[i]))
    return {i: (float(depth[i]), row[i]) for i in ids}


def _minus(s: str) -> str:
    return s.replace("-", "−")  # a typographic minus sign reads better than a hyphen


def _text_value(v) -> str:
    return _minus(summarize(_np(v)))


def _text_grad(g) -> str:
    g = _np(g)
    if g is None:
        return "?"
    if g.size == 1:
        return _minus(summarize(g))
    return f"‖∇‖={np.linalg.norm(g):.3g}"


def wire_labels(node, shown: bool = True) -> tuple[str, str | None]:
    """The two labels on the wire leaving ``node``: its value, and its gradient ("?" unless ``shown``; None
    for a constant, which carries no gradient)."""
    if not getattr(node, "requires_grad", True):
        return _text_value(node.value), None
    return _text_value(node.value), (_text_grad(node.grad) if shown else "?")


def _np(a):
    if a is None:
        return None
    if hasattr(a, "backward") and hasattr(a, "data"):
        a = a.data
    return np.asarray(backend.to_numpy(a))


@styled
def draw_graph(graph_or_tensor, ax=None, show_grads: bool = True, highlight=None, revealed=None,
               title: str | None = None, show_values: bool = True, fontsize: float = 9.5):
    """Draw a computation graph as a circuit diagram.

    Inputs:
    - graph_or_tensor: a ``Graph`` from ``deepgrad.autograd.trace``, a :class:`DrawGraph`, or a Tensor
      (its graph is traced back to the inputs)
    - ax: Axes (None: a new figure sized to the graph)
    - show_grads: write gradients below the wires (run ``backward()`` first, else they show as "?")
    - highlight: a node id (or several) to ring in orange, e.g. the node being back-propagated through
    - revealed: ids whose gradients are shown; the others show "?" (for stepping backward); None: all
    - show_values: write forward values above the wires

    Returns:
    - the Axes
    """
    graph = as_graph(graph_or_tensor)
    nodes = list(graph.nodes)
    if not nodes:
        raise ValueError("the graph has no nodes to draw")
    pos = layout(graph)
    highlight = set() if highlight is None else ({highlight} if isinstance(highlight, (int, np.integer))
                                                 else set(highlight))
    ncol = int(max(p[0] for p in pos.values())) + 1
    nrow = max(sum(1 for p in pos.values() if p[0] == c) for c in range(ncol))
    DX, DY, R = 2.1, 1.2, 0.32
    xy = {i: (c * DX, -r * DY) for i, (c, r) in pos.items()}
    _, ax = new_axes(ax, figsize=(max(4.0, 1.9 * (ncol + 0.6)), max(2.4, 1.05 * nrow + 1.0)))
    ax.set_aspect("equal")
    ax.axis("off")
    consumers = {n.id: [c for c in nodes if n.id in c.parents] for n in nodes}  # each consumer once
    root = nodes[-1].id

    def half_width(n):
        return R if n.op else 0.12 + 0.075 * max(1, len(n.label or "?")) * fontsize / 9.5

    # Wires first, so nodes sit on top. Each wire leaves its node horizontally (a stub that carries the
    # value and gradient labels, shared when the value fans out) and then bends towards its consumer.
    STUB = 0.8
    arrow = dict(arrowstyle="-|>", color="0.3", linewidth=1.1, shrinkA=0, shrinkB=0, mutation_scale=11)
    for n in nodes:
        x0, y0 = xy[n.id]
        start = x0 + half_width(n)
        ends = [(xy[c.id][0] - half_width(c), xy[c.id][1]) for c in consumers[n.id]]
        if n.id == root:
            ends = [(start + STUB + 0.3, y0)]  # the output's own wire, carrying dL/dL = 1 in from the right
        if ends:
            ax.plot([start, start + STUB], [y0, y0], color="0.3", linewidth=1.1, solid_capstyle="butt")
        for x1, y1 in ends:
            ax.annotate("", xy=(x1, y1), xytext=(start + STUB, y0), arrowprops=arrow)

    for n in nodes:
        x, y = xy[n.id]
        ring = dict(edgecolor=HIGHLIGHT, linewidth=3.0) if n.id in highlight else dict(edgecolor="0.2", linewidth=1.2)
        if n.op:
            from matplotlib.patches import Circle

            ax.add_patch(Circle((x, y), R, facecolor="white", zorder=3, gid=f"node:{n.id}", **ring))
            sym = OP_SYMBOLS.get(n.op, n.op)
            ax.text(x, y, sym, ha="center", va="center", zorder=4, fontweight="bold",
                    fontsize=fontsize * (1.35 if len(sym) == 1 else 0.95 if len(sym) <= 3 else 0.72))
            if n.label:
                ax.text(x, y + R + 0.1, n.label, ha="center", va="bottom", fontsize=fontsize * 0.85,
                        style="italic", color="0.25", zorder=4)
        else:
            ax.text(x, y, n.label or f"#{n.id}", ha="center", va="center", zorder=4, fontsize=fontsize,
                    gid=f"node:{n.id}", bbox=dict(boxstyle="round,pad=0.3", facecolor="#f3f3f3", **ring))
        # value above and gradient below the start of the wire leaving the node (the gids let a widget find
        # and rewrite them without drawing the graph again)
        tx = x + half_width(n) + 0.06
        value, grad = wire_labels(n, revealed is None or n.id in revealed)
        if show_values:
            ax.text(tx, y + 0.08, value, ha="left", va="bottom", color=FORWARD, fontsize=fontsize,
                    fontweight="bold", zorder=5, gid=f"value:{n.id}")
        if show_grads and grad is not None:
            ax.text(tx, y - 0.08, grad, ha="left", va="top", color=GRADIENT, fontsize=fontsize,
                    fontweight="bold", zorder=5, gid=f"grad:{n.id}")
    xs = [p[0] for p in xy.values()]
    ys = [p[1] for p in xy.values()]
    ax.set_xlim(min(xs) - 0.8, max(xs) + 1.6)
    ax.set_ylim(min(ys) - 0.75, max(ys) + 0.8)
    legend = "values above the wires" + (", gradients ∂out/∂· below" if show_grads else "")
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=FORWARD, linewidth=3, label="forward value (above wire)")]
    if show_grads:
        handles.append(Line2D([], [], color=GRADIENT, linewidth=3, label="gradient (below wire)"))
    ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, -0.02), ncol=2, fontsize=8, frameon=False)
    # y given: nothing sits above the axes (they are off), so the title need not be measured clear of it
    ax.set_title(title if title is not None else "Computation graph: " + legend, fontsize=10, y=1.0)
    return ax
