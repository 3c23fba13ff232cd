"""What every explorer shares: a picture that updates in place, and handlers that never race.

An explorer is a ``VBox`` holding its controls, an ``Image`` (the figure as a PNG drawn by the Agg
renderer, so it also shows in exported HTML) and an ``Output`` where a failing handler prints its
traceback instead of losing it in a log. The logic lives in a plain ``controller`` object that tests
drive without a browser: set a control's ``.value``, call ``wait()``, then read the controller's state.

The figure is built once and its artists are updated (a ``view`` object with ``figure`` and
``update()``): rebuilding a figure and its layout costs more than the redraw itself.

Handlers go through :meth:`Explorer.request`, which coalesces: a change that arrives while a handler runs
is not queued behind it one by one; the latest state of the controls is handled once the running one
returns. An explorer made with ``background=True`` runs its handlers on a worker thread instead, so the
kernel stays free to receive changes; a long handler calls :meth:`Explorer.stream` now and then, which
shows the frame so far and abandons the run (raising :class:`Superseded`) as soon as a newer change waits.
"""
from __future__ import annotations

import functools
import html
import threading
import traceback

import ipywidgets as W
import numpy as np
from matplotlib.image import AxesImage

from ..viz.graph import draw_graph, wire_labels
from ..viz.style import HIGHLIGHT, figure_to_png, new_figure, pixels_to_png, style

__all__ = ["Explorer", "Blit", "GraphView", "Superseded", "controls_of", "moves", "slider", "log_slider", "int_slider",
           "fmt", "label_style"]


def fmt(v: float, digits: int = 3) -> str:
    """A number for a label: fixed digits, no "-0.000"."""
    v = float(v)
    s = f"{v:.{digits}f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


# A slider's track gets at least this much room, whatever the length of its description.
TRACK_PX = 180
_CHAR_PX = 8.5  # a character of JupyterLab's 13 px widget font, with room for wide ones (μ, λ)


def label_style(description: str, track: int = TRACK_PX, readout: int = 70) -> dict:
    """``style`` and ``layout`` for a control whose label must not crush it: the label gets the width of
    its text, and the whole widget that plus ``track`` and ``readout`` pixels."""
    label = int(len(description) * _CHAR_PX) + 12
    return dict(style={"description_width": f"{label}px"}, layout=W.Layout(width=f"{label + track + readout}px"))


def slider(description: str, value: float, lo: float, hi: float, step: float = 0.1, continuous=True, **kw):
    return W.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                         continuous_update=continuous, readout_format=".2f", **label_style(description), **kw)


def log_slider(description: str, value: float, lo_exp: float, hi_exp: float, continuous=True,
               step: float = 0.05, readout_format: str = ".1e", **kw):
    return W.FloatLogSlider(value=value, base=10, min=lo_exp, max=hi_exp, step=step, description=description,
                            continuous_update=continuous, readout_format=readout_format,
                            **label_style(description), **kw)


def int_slider(description: str, value: int, lo: int, hi: int, step: int = 1, continuous=True, track=TRACK_PX,
               **kw):
    return W.IntSlider(value=value, min=lo, max=hi, step=step, description=description,
                       continuous_update=continuous, **label_style(description, track=track), **kw)


class Blit:
    """Base of views whose unchanging part (contours, templates, axes) is drawn once and kept as pixels.

    A subclass sets ``figure``, ``dynamic`` (the artists that change: drawn over the saved background on
    every frame) and ``background_key`` (what the background depends on, e.g. the surface's name; one
    background is kept per key), and implements ``update()``. A new key costs a full draw of the figure,
    unless all that the key changes is in ``keyed`` (a few artists, e.g. the tick labels of a number of
    layers, the legend of the curves chosen): then only they are drawn, over a full draw made once, or
    once per ``base_key`` (what the rest of the background depends on, where it changes now and then).
    """

    figure = None
    dynamic: list = []
    background_key = None
    keyed: list = []
    base_key = None
    KEEP = 16  # backgrounds kept (and as many full draws), the most recently made

    def _background(self) -> bool:
        """Draw and keep the background of the state ``update()`` set, unless it is kept already (True when
        drawn: the canvas then holds it)."""
        fig = self.figure
        canvas = fig.canvas
        bases = self.__dict__.setdefault("_bases", {})
        backgrounds = self.__dict__.setdefault("_backgrounds", {})
        key = self._key
        base = key[0]
        if key in backgrounds:
            backgrounds[key] = backgrounds.pop(key)  # the most recently used is kept longest
            return False
        if base in bases:
            canvas.restore_region(bases[base])
        else:
            changing = (*self.dynamic, *self.keyed)
            for a in changing:
                a.set_animated(True)  # a full draw skips animated artists: the background is drawn without them
            # ... except images, which matplotlib composites whatever their flag: hidden for the full draw, or a
            # translucent one (the decision regions) would be blended over its own first state for ever
            images = [a for a in changing if isinstance(a, AxesImage) and a.get_visible()]
            for a in images:
                a.set_visible(False)
            canvas.draw()
            for a in images:
                a.set_visible(True)
            if self.keyed:
                _keep(bases, base, canvas.copy_from_bbox(fig.bbox), self.KEEP)
        self._draw(self.keyed)
        _keep(backgrounds, key, canvas.copy_from_bbox(fig.bbox), self.KEEP)
        return True

    @property
    def _key(self):
        return (self.base_key if self.keyed else self.background_key), self.background_key

    def png(self) -> bytes:
        if not self._background():
            self.figure.canvas.restore_region(self._backgrounds[self._key])
        self._draw(self.dynamic)
        return pixels_to_png(np.asarray(self.figure.canvas.buffer_rgba()))

    def _draw(self, artists):
        for a in artists:
            if a.get_visible():
                self.figure.draw_artist(a)


class GraphView(Blit):
    """A computation graph (``viz.graph.draw_graph``) whose numbers change while its shape stays.

    Wires, nodes and legend are drawn once and kept as pixels; a frame redraws only the numbers on the wires,
    the title and the ring around the highlighted node (a copy of its outline, drawn over it): a fifth of the
    text a full draw renders. ``state()`` returns ``(graph, revealed, highlight, title)``, as ``draw_graph``
    takes them (``highlight`` a set of node ids); a graph of another shape (another gate) is drawn afresh.
    """

    def __init__(self, state, figsize, max_px: int = 1100):
        self.state = state
        self.figure, self.ax = new_figure(figsize)
        # a wide graph at the style's dpi would be a 1500-pixel PNG shown at about 1000: fewer pixels to encode
        self.figure.set_dpi(min(self.figure.dpi, max_px / figsize[0]))
        self.shape = None

    def update(self):
        graph, revealed, highlight, title = self.state()
        shape = [(n.op, n.label, tuple(n.parents)) for n in graph.nodes]
        if shape != self.shape:
            self._draw_afresh(graph, title)
            self.shape = shape
        for n in graph.nodes:
            value, grad = wire_labels(n, revealed is None or n.id in revealed)
            for text, label in ((self.texts.get(f"value:{n.id}"), value), (self.texts.get(f"grad:{n.id}"), grad)):
                if text is not None:
                    text.set_text(label)
        self.ax.title.set_text(title)
        for i, ring in self.rings.items():
            ring.set_visible(i in highlight)

    def _draw_afresh(self, graph, title):
        ax = self.ax
        for a in [*ax.patches, *ax.texts, *ax.lines]:
            a.remove()
        draw_graph(graph, ax=ax, title=title)
        self.texts = {t.get_gid(): t for t in ax.texts if t.get_gid()}
        self.rings = {int(a.get_gid().split(":")[1]): self._ring(a)
                      for a in [*ax.patches, *ax.texts] if (a.get_gid() or "").startswith("node:")}
        self.dynamic = [*(t for k, t in self.texts.items() if not k.startswith("node:")), ax.title,
                        *self.rings.values()]
        self.__dict__.pop("_backgrounds", None)  # the pixels kept show the old shape

    def _ring(self, node):
        from matplotlib.patches import Circle

        if isinstance(node, Circle):
            return self.ax.add_patch(Circle(node.center, node.radius, fill=False, edgecolor=HIGHLIGHT, linewidth=3.0,
                                            visible=False))
        box = node.get_bbox_patch()  # an input: its label in a box, drawn again with the box ringed
        return self.ax.text(*node.get_position(), node.get_text(), ha=node.get_horizontalalignment(),
                            va=node.get_verticalalignment(), fontproperties=node.get_fontproperties(),
                            visible=False, bbox=dict(boxstyle=box.get_boxstyle(), facecolor=box.get_facecolor(),
                                                     edgecolor=HIGHLIGHT, linewidth=3.0))


def _keep(saved: dict, key, pixels, keep: int):
    """``saved[key] = pixels``, dropping the oldest entries beyond ``keep`` (each is the whole picture)."""
    saved[key] = pixels
    while len(saved) > keep:
        del saved[next(iter(saved))]


class _Rebuilt:
    """A ``draw(new) -> Figure`` function as a view: a new figure for every update (the slow way, for explorers
    written before views; ``new(**subplots)`` makes ``(fig, axes)``)."""

    def __init__(self, draw, figsize):
        self._draw, self.figsize, self.figure = draw, figsize, None

    def update(self):
        self.figure = self._draw(lambda **kw: new_figure(**{"figsize": self.figsize, **kw}))


def controls_of(explorer) -> dict:
    """The explorer's value controls by name, nested groups flattened (``sliders.x``); buttons and free text
    left out (they have no range to move through)."""
    def flat(controls, prefix=""):
        for name, ctl in controls.items():
            if isinstance(ctl, dict):
                yield from flat(ctl, f"{prefix}{name}.")
            elif hasattr(ctl, "value") and not isinstance(ctl, (W.Text, W.FloatText, W.Button)):
                yield prefix + name, ctl
    return dict(flat(explorer.controls))


def moves(ctl, rng, n: int = 6, span: float = 0.1) -> list:
    """``n`` values a person could give a control in a quick gesture: a drag of a slider through neighbouring
    values (over ``span`` of its range, towards the side with more room), clicks through a dropdown's or
    toggle's options."""
    if isinstance(ctl, W.SelectMultiple):
        opts = list(ctl.options)
        return [tuple(o for o in opts if rng.random() < 0.6) or (opts[0],) for _ in range(n)]
    if hasattr(ctl, "options"):
        return [ctl.options[int(rng.integers(len(ctl.options)))] for _ in range(n)]
    if isinstance(ctl.value, bool):
        return [bool(rng.integers(2)) for _ in range(n)]
    log = isinstance(ctl, W.FloatLogSlider)
    lo, hi = ctl.min, ctl.max
    here = np.log10(ctl.value) / np.log10(ctl.base) if log else ctl.value
    side = 1 if hi - here >= here - lo else -1
    target = np.clip(here + side * (hi - lo) * rng.uniform(span / 2, span), lo, hi)
    path = np.linspace(here, target, n + 1)[1:]
    if log:
        return [float(ctl.base ** v) for v in path]
    if isinstance(ctl, W.IntSlider):
        return [int(lo + round((v - lo) / ctl.step) * ctl.step) for v in path]
    return [float(v) for v in path]


class Superseded(Exception):
    """Raised inside a background handler when a newer change is waiting: the run is abandoned."""


class Explorer(W.VBox):
    """A VBox with a ``controller``, a figure updated in place and an error-showing ``output``.

    Inputs:
    - controller: the plain object holding the explorer's state
    - view: an object with ``figure`` (a matplotlib Figure built once) and ``update()`` (sets its artists
      from the controller's state)
    - controls: the widgets shown above the figure
    - background: run handlers on a worker thread (for explorers that train, or draw ahead)
    """

    AHEAD = 16  # pictures drawn ahead and kept (PNGs of some 50 kB), the most recently wanted

    def __init__(self, controller, view, controls=(), info=None, image_width="760px", background=False,
                 **kwargs):
        self.controller = controller
        self.view = view
        self.background = background
        self.errors: list[str] = []  # every traceback shown, kept for headless tests
        self.frames = 0  # figures published so far (benchmarks and tests count them)
        self.image = W.Image(format="png", layout=W.Layout(width=image_width, max_width="100%"))
        self.image.add_class("dg-figure")
        self.output = W.Output(layout=W.Layout(max_height="180px", overflow="auto"))
        self.info = info if info is not None else W.HTML()
        if not hasattr(view, "update") and callable(view):
            view = _Rebuilt(view, kwargs.pop("figsize", (7.0, 4.2)))
            self.view = view
        if view.figure is not None and image_width.endswith("px"):
            # no more pixels than the page shows: fewer to draw and encode in every frame, none lost to the
            # browser's scaling (the figure's text keeps its size on the page: points scale with the dpi)
            shown = float(image_width[:-2])
            view.figure.set_dpi(min(view.figure.dpi, shown / view.figure.get_figwidth()))
        super().__init__(children=[*controls, self.info, self.image, self.output], **kwargs)
        self.add_class("dg-explorer")
        self._lock = threading.Condition()
        self._pending: list = []  # handlers waiting to run, each at most once, in order of request
        self._idle: list = []  # the same, for work that runs only when none of those waits
        self._busy = False
        self._failed = False  # the last run raised: its traceback is on screen until a run succeeds
        self._worker = None
        self._ahead: dict = {}  # pictures drawn ahead (draw_ahead), by the key of their state

    # ---------------------------------------------------------------------------------------- drawing
    @property
    def figure(self):
        """The matplotlib Figure shown (updated in place; not shown anywhere else)."""
        return self.view.figure

    def figure_png(self) -> bytes:
        with style():
            self.view.update()
            png = self.view.png() if isinstance(self.view, Blit) else figure_to_png(self.view.figure)
        # The first picture placed every axes; keep those places: laying a figure out again costs more
        # than drawing it, and a view's labels keep their size from one state to the next.
        self.view.figure.set_layout_engine(None)
        return png

    def refresh(self, key=None):
        """Redraw the figure from the controller's state into the image. ``key``: all that the picture depends
        on (hashable); a picture :meth:`draw_ahead` kept under it is shown without drawing anything."""
        png = self._ahead.get(key) if key is not None else None
        self.image.value = png if png is not None else self.figure_png()
        self.frames += 1

    def draw_ahead(self, keys, point):
        """From a handler requested with ``idle=True`` on a background explorer: the picture of each state in
        ``keys`` (those a student is likely to pick next) drawn and kept, so that ``refresh(key)`` later shows it
        at once. ``point(key)`` points the view at a probe in that state (never at the controller shown),
        ``point(None)`` back at the controller. Gives up as soon as a change waits; the view's artists are left
        showing the controller (a picture shown from the kept ones leaves them as they were until then)."""
        try:
            for key in keys:
                if self.superseded:
                    return
                if key in self._ahead:
                    self._ahead[key] = self._ahead.pop(key)  # the most recently wanted is kept longest
                    continue
                point(key)
                _keep(self._ahead, key, self.figure_png(), self.AHEAD)
        finally:
            point(None)
            with style():
                self.view.update()

    @property
    def superseded(self) -> bool:
        """True when a newer change waits: a background handler should give up (raise :class:`Superseded`)."""
        return bool(self._pending)

    def stream(self):
        """From a background handler: show the frame so far, or raise :class:`Superseded` if a newer change
        waits (checked first, so that no frame of an abandoned run is drawn)."""
        if self.superseded:
            raise Superseded
        self.refresh()

    # --------------------------------------------------------------------------------------- handlers
    def _show_error(self, exc: Exception):
        text = traceback.format_exc()
        self.errors.append(text)
        self._failed = True
        # set as a trait, not through clear_output(): that needs the kernel's current cell, which a worker
        # thread (or a test) does not have
        self.output.outputs = ({"output_type": "stream", "name": "stderr", "text": text},)
        self.info.value = (f"<span style='color:#D55E00'><b>Error:</b> "
                           f"{html.escape(type(exc).__name__)}: {html.escape(str(exc))}</span>")

    def _call(self, fn, args):
        try:
            fn(*args)
        except Superseded:
            return
        except Exception as exc:
            self._show_error(exc)
            return
        if self._failed:  # recovered: the old traceback no longer describes what is shown
            self._failed = False
            self.output.outputs = ()

    def guard(self, fn):
        """Wrap a handler so that it runs through :meth:`request` (its errors shown in the output)."""
        @functools.wraps(fn)
        def wrapper(*args):
            self.request(fn, *args)
        return wrapper

    def request(self, fn, *args, idle: bool = False):
        """Run ``fn(*args)`` now, or after the handler running now; repeated requests made meanwhile
        run once, with the state the controls have then. ``idle=True``: work for when nothing else waits (drawing
        ahead): it runs after every other request and never counts as a newer change (:attr:`superseded`)."""
        with self._lock:
            key = (fn, args)
            queue = self._idle if idle else self._pending
            if key in queue:
                queue.remove(key)  # keep one, at its latest place in the order
            queue.append(key)
            if self.background:
                if self._worker is None:
                    self._worker = threading.Thread(target=self._work, name="deepgrad-explorer", daemon=True)
                    self._worker.start()
                self._lock.notify_all()
                return
            if self._busy:
                return  # the running loop below picks it up
            self._busy = True
        self._drain()

    def _drain(self):
        try:
            while True:
                with self._lock:
                    if not (self._pending or self._idle):
                        return
                    fn, args = (self._pending or self._idle).pop(0)
                self._call(fn, args)
        finally:  # also after a KeyboardInterrupt: the next change must find the explorer free
            with self._lock:
                self._busy = False
                self._lock.notify_all()

    def _work(self):
        while True:
            with self._lock:
                while not (self._pending or self._idle):
                    self._lock.wait()
                self._busy = True
            self._drain()

    def wait(self, timeout: float = 60.0) -> "Explorer":
        """Block until every requested handler has run (immediate for an explorer without background)."""
        with self._lock:
            if not self._lock.wait_for(lambda: not (self._busy or self._pending or self._idle), timeout):
                raise TimeoutError(f"the explorer was still busy after timeout={timeout} s")
        return self

    def on_change(self, controls, fn):
        """``fn()`` after any of ``controls`` changes value (through :meth:`request`)."""
        def handler(change):
            self.request(fn)
        for c in controls:
            c.observe(handler, names="value")
        return handler
