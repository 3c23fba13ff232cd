"""What every explorer shares: a picture that updates in place, and handlers whose errors are shown.

An explorer is a ``VBox`` holding its controls, an ``Image`` (the figure, redrawn as a PNG by the Agg
renderer, so it also shows in exported HTML) and an ``Output`` where a failing handler prints its
traceback instead of losing it in a log. The logic lives in a plain ``controller`` object that tests
drive without a browser: set a control's ``.value``, then read the controller's state.
"""
from __future__ import annotations

import functools
import html
import traceback

import ipywidgets as W

from ..viz.style import figure_to_png, new_figure, style

__all__ = ["Explorer", "slider", "log_slider", "fmt"]


def fmt(v: float, digits: int = 3) -> str:
    """A number for a label: fixed digits, no "-0.000"."""
    v = float(v)
    s = f"{v:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


def slider(description: str, value: float, lo: float, hi: float, step: float = 0.1, continuous=True, **kw):
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                         continuous_update=continuous, readout_format=".2f",
                         style={"description_width": "initial"}, layout=W.Layout(width="320px"), **kw)


def log_slider(description: str, value: float, lo_exp: float, hi_exp: float, continuous=False, **kw):
    return W.FloatLogSlider(value=value, base=10, min=lo_exp, max=hi_exp, step=0.05, description=description,
                            continuous_update=continuous, readout_format=".1e",
                            style={"description_width": "initial"}, layout=W.Layout(width="340px"), **kw)


class Explorer(W.VBox):
    """A VBox with a ``controller``, an updating figure and an error-showing ``output``.

    Subclasses (or callers) pass ``draw(fig_axes_factory) -> Figure``: a function that builds the
    current picture from the controller's state. ``refresh()`` redraws it into the image.
    """

    def __init__(self, controller, draw, controls=(), info=None, figsize=(7.0, 4.2), image_width="760px",
                 **kwargs):
        self.controller = controller
        self.figsize = figsize
        self._draw = draw
        self.errors: list[str] = []  # what the output shows, kept for headless tests
        self.image = W.Image(format="png", layout=W.Layout(width=image_width, max_width="100%"))
        self.image.add_class("dg-figure")
        self.output = W.Output(layout=W.Layout(max_height="180px", overflow="auto"))
        self.info = info if info is not None else W.HTML()
        super().__init__(children=[*controls, self.info, self.image, self.output], **kwargs)
        self.add_class("dg-explorer")

    # ---------------------------------------------------------------------------------------- drawing
    def figure(self):
        """The current picture as a matplotlib Figure (made fresh; not shown anywhere)."""
        with style():  # titles and labels set by the draw function pick up the course style
            return self._draw(lambda **kw: new_figure(**{"figsize": self.figsize, **kw}))

    def figure_png(self) -> bytes:
        return figure_to_png(self.figure())

    def refresh(self):
        self.image.value = self.figure_png()

    # --------------------------------------------------------------------------------------- handlers
    def guard(self, fn):
        """Wrap a handler so that an exception is shown in the output (and kept in ``errors``)."""
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:  # noqa: BLE001 (shown to the student, not swallowed)
                text = traceback.format_exc()
                self.errors.append(text)
                self.output.clear_output(wait=True)
                self.output.append_stderr(text)
                self.info.value = (f"<span style='color:#D55E00'><b>Error:</b> "
                                   f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</span>")
                return None
        return wrapper

    def on_change(self, controls, fn):
        """``fn()`` after any of ``controls`` changes value (guarded)."""
        handler = self.guard(lambda change: fn())
        for c in controls:
            c.observe(handler, names="value")
        return handler
