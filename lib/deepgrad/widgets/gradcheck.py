"""Gradient-check explorer: finite-difference error against h, forward vs centred, float32 vs float64."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from ..viz.gradients import FD_LEGEND, fd_errors, plot_fd_error
from ..viz.style import new_figure
from ._common import Blit, Explorer, slider

__all__ = ["GradCheckController", "gradient_check_explorer", "FUNCTIONS"]

# name -> (f, exact derivative)
FUNCTIONS = {
    "sin": (np.sin, np.cos),
    "exp": (np.exp, np.exp),
    "tanh": (np.tanh, lambda x: 1 - np.tanh(x) ** 2),
    "x³": (lambda x: x ** 3, lambda x: 3 * x ** 2),
}
METHODS, DTYPES = ("forward", "centred"), ("float32", "float64")


class GradCheckController:
    """Errors of finite differences for one function at one point.

    State after :meth:`run`: ``errors`` ``{(method, dtype name): (hs, errors)}`` and ``best``
    ``{(method, dtype name): (best h, smallest error)}``.
    """

    def __init__(self, function: str = "sin", x0: float = 1.0, methods=METHODS, dtypes=DTYPES):
        self.function, self.x0 = function, x0
        self.methods, self.dtypes = tuple(methods), tuple(dtypes)
        self.hs = np.logspace(-16, 0, 65)

    def run(self):
        if self.function not in FUNCTIONS:
            raise ValueError(f"function must be one of {list(FUNCTIONS)}, got {self.function!r}")
        f, df = FUNCTIONS[self.function]
        self.errors, self.best = {}, {}
        for m in self.methods:
            for d in self.dtypes:
                hs, err = fd_errors(f, df, self.x0, self.hs, m, np.dtype(d))
                self.errors[(m, d)] = (hs, err)
                k = int(np.nanargmin(err))
                self.best[(m, d)] = (float(hs[k]), float(err[k]))
        return self


class _ErrorView(Blit):
    """The error curves of :func:`plot_fd_error` for every method and precision, drawn once on a fixed range.
    Choosing methods and precisions shows or hides curves and picks the legend (drawn over the background
    once per choice); moving x or changing f moves the curves, their best points and notes."""

    Y_RANGE = (1e-18, 1e3)
    FLOOR = 1e-17  # as plot_fd_error draws an exact 0 on its log axis

    def __init__(self, c):
        self.c = c
        self.figure, ax = new_figure(figsize=(8.2, 4.6))
        self.ax = ax
        f, df = FUNCTIONS[c.function]
        plot_fd_error(f, df, c.x0, c.hs, methods=METHODS, dtypes=DTYPES, ax=ax)
        ax.set_ylim(*self.Y_RANGE)
        found = {a.get_gid(): a for a in ax.get_children() if a.get_gid()}
        self.artists = {(m, d): [found.get(f"{kind}:{m},{d}") for kind in ("error", "best", "note")]
                        for m in METHODS for d in DTYPES}
        self.dynamic = [ax.title] + [a for trio in self.artists.values() for a in trio if a is not None]
        self.background_key, self.keyed = None, []

    def update(self):
        c, ax = self.c, self.ax
        if self.background_key != (c.methods, c.dtypes):
            self.background_key = (c.methods, c.dtypes)
            self.keyed = [ax.legend(handles=[self.artists[key][0] for key in c.errors], **FD_LEGEND)]
        for key, (line, best, note) in self.artists.items():
            for a in (line, best, note):
                if a is not None:
                    a.set_visible(key in c.errors)
            if key not in c.errors:
                continue
            hs, err = c.errors[key]
            line.set_data(hs, np.maximum(err, self.FLOOR))
            h, e = c.best[key]
            if best is not None:
                best.set_data([h], [max(e, self.FLOOR)])
            if note is not None:
                note.xy = (h, max(e, self.FLOOR))
                note.set_text(f"best h ≈ {h:.0e}")
        ax.set_title(f"Finite-difference error of d/dx {c.function}(x) at x = {c.x0:g}")


def gradient_check_explorer(function: str = "sin", x0: float = 1.0) -> Explorer:
    """Move x and switch methods and precisions; see where each difference quotient is most accurate."""
    c = GradCheckController(function, x0)
    fn_w = W.ToggleButtons(options=list(FUNCTIONS), value=function, description="f(x)")
    x_w = slider("x", x0, -3.0, 3.0, step=0.1)
    meth_w = W.SelectMultiple(options=METHODS, value=METHODS, description="method", rows=2)
    dt_w = W.SelectMultiple(options=DTYPES, value=DTYPES, description="precision", rows=2)
    controls = [fn_w, x_w, W.HBox([meth_w, dt_w])]

    ex = Explorer(c, _ErrorView(c), controls, image_width="800px")

    def update():
        c.function, c.x0 = fn_w.value, x_w.value
        c.methods, c.dtypes = tuple(meth_w.value) or ("centred",), tuple(dt_w.value) or ("float64",)
        c.run()
        rows = "".join(f"<tr><td>{m}</td><td>{d}</td><td>{h:.0e}</td><td>{e:.1e}</td></tr>"
                       for (m, d), (h, e) in c.best.items())
        ex.refresh()  # the picture first (ARCHITECTURE.md)
        ex.info.value = ("<table cellpadding='3'><tr><th>method</th><th>precision</th><th>best h</th>"
                         f"<th>smallest error</th></tr>{rows}</table>")

    ex.on_change([fn_w, x_w, meth_w, dt_w], update)
    ex.controls = dict(function=fn_w, x=x_w, methods=meth_w, dtypes=dt_w)
    ex.request(update)
    return ex
