"""One look for every DeepGrad figure: the Okabe–Ito palette, readable fonts, labelled axes.

The Okabe–Ito colours stay distinguishable under the common forms of colour blindness; every figure
also says with text (legends, annotations, marker shapes) what its colours mean, so nothing depends
on colour alone. Forward values are drawn in bluish green and gradients in vermillion throughout, as
the lecture's circuit diagrams write values above a wire and gradients below it.
"""
from __future__ import annotations

import functools
import struct
import threading
import zlib
from contextlib import contextmanager

import matplotlib
import numpy as np
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import get_hinting_flag
from matplotlib.font_manager import FontProperties

__all__ = ["OKABE_ITO", "PALETTE", "FORWARD", "GRADIENT", "HIGHLIGHT", "MARKERS", "DIVERGING", "DIVERGING_WORDS",
           "RC", "style", "styled", "new_axes", "new_figure", "figure_to_png", "pixels_to_png", "CellLabels", "class_colors", "summarize"]

OKABE_ITO = {
    "black": "#000000", "orange": "#E69F00", "sky blue": "#56B4E9", "bluish green": "#009E73",
    "yellow": "#F0E442", "blue": "#0072B2", "vermillion": "#D55E00", "reddish purple": "#CC79A7",
}
# The order colours are handed out in: the strongest contrasts first, yellow last (weak on white).
PALETTE = ["#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#000000", "#F0E442"]
FORWARD = OKABE_ITO["bluish green"]
GRADIENT = OKABE_ITO["vermillion"]
HIGHLIGHT = OKABE_ITO["orange"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]  # shape as well as colour tells classes apart
# Signed numbers (weights, templates, Jacobians) in one diverging map, everywhere: purple above zero, orange below,
# white at zero (colour-blind safe). The lessons, the explorers and their captions say it in these words.
DIVERGING = "PuOr"
DIVERGING_WORDS = {"positive": "purple", "negative": "orange"}

RC = {
    "axes.prop_cycle": matplotlib.cycler(color=PALETTE),
    "axes.titlesize": 11, "axes.labelsize": 10, "axes.titleweight": "bold",
    "axes.spines.top": False, "axes.spines.right": False,
    "axes.grid": True, "grid.alpha": 0.25, "grid.linewidth": 0.6,
    "xtick.labelsize": 9, "ytick.labelsize": 9, "legend.fontsize": 9, "legend.framealpha": 0.85,
    "figure.dpi": 100, "savefig.dpi": 110, "savefig.bbox": "tight",
    "image.cmap": "viridis",
}


# rcParams are global: an explorer drawing on its worker thread must not interleave its rc_context with
# another thread's, or one of them would restore the other's settings.
_RC_LOCK = threading.RLock()


@contextmanager
def style():
    """``with style(): ...`` draws with DeepGrad's settings and restores the caller's afterwards."""
    with _RC_LOCK, matplotlib.rc_context(RC):
        yield


def styled(fn):
    """Decorator: run a plotting function inside :func:`style` (titles and ticks read rc at draw calls)."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        with style():
            return fn(*args, **kwargs)
    return wrapper


def new_figure(figsize=(6.0, 4.0), nrows: int = 1, ncols: int = 1, pyplot: bool = False, **kw):
    """A new figure and its axes, like ``plt.subplots`` (``squeeze=True``), in DeepGrad's style.

    ``pyplot=True`` makes it through pyplot, so a notebook shows it inline at the end of the cell (what a
    plotting function called without ``ax`` does). ``pyplot=False`` makes a free-standing figure drawn
    by the Agg renderer, never shown and freed with its last reference: what widgets and PNG files use.
    """
    with style():
        if pyplot:
            import matplotlib.pyplot as plt

            return plt.subplots(nrows, ncols, figsize=figsize, layout="constrained", **kw)
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure

        fig = Figure(figsize=figsize, layout="constrained")
        FigureCanvasAgg(fig)
        return fig, fig.subplots(nrows, ncols, **kw)


def new_axes(ax=None, figsize=(6.0, 4.0)):
    """``(fig, ax)`` to draw on: ``ax`` itself, or new pyplot axes (shown inline in a notebook)."""
    if ax is not None:
        return ax.figure, ax
    return new_figure(figsize, pyplot=True)


def figure_to_png(fig) -> bytes:
    """The figure as PNG bytes at its own dpi (Agg renderer): what widgets put in an ``ipywidgets.Image``."""
    with style():
        fig.canvas.draw()
    return pixels_to_png(np.asarray(fig.canvas.buffer_rgba()))


def _png_chunk(tag: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def pixels_to_png(rgba) -> bytes:
    """An (H, W, 4) uint8 RGBA picture (what the Agg canvas holds) as PNG bytes.

    Written here rather than by Pillow, which tries five filters on every row and so took half of an explorer's
    frame. One filter ("sub": each byte minus the same byte of the pixel on its left, which turns flat backgrounds
    and an opaque alpha channel into zeros) computed on whole rows, and zlib at level 3: 4-5 ms for a 1100 x 480
    figure, against 19 ms for Pillow at its fastest level (and 15 ms for the same filter with alpha dropped,
    whose strided copy costs more than the 12 % of bytes it saves).
    """
    rgba = np.asarray(rgba)
    if rgba.dtype != np.uint8 or rgba.ndim != 3 or rgba.shape[2] != 4:
        raise ValueError(f"rgba must be a (H, W, 4) uint8 array, got {rgba.dtype} {rgba.shape}")
    h, w = rgba.shape[:2]
    flat = np.ascontiguousarray(rgba).reshape(h, 4 * w)
    rows = np.empty((h, 4 * w + 1), np.uint8)  # each row: its filter type, then its filtered bytes
    rows[:, 0] = 1  # "sub"
    rows[:, 1:5] = flat[:, :4]
    np.subtract(flat[:, 4:], flat[:, :-4], out=rows[:, 5:])  # wraps modulo 256, as PNG's filter does
    header = struct.pack(">IIBBBBB", w, h, 8, 6, 0, 0, 0)  # 8 bits, RGBA, no interlace
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", zlib.compress(rows, 3))
            + _png_chunk(b"IEND", b""))


class CellLabels(Artist):
    """Many short labels, each centred on a point in data coordinates (the numbers in a matrix's cells).

    ``set_labels(xy, texts, colors)``: xy (K, 2), texts K strings, colors K colours. A ``Text`` artist lays out
    and rasterises its string on every draw (0.3 ms each: a hundred cells cost more than the rest of a frame);
    here each string is rasterised once per size and then stamped into the Agg canvas, 25 times faster. With
    another renderer (PDF, SVG) the labels are drawn as ordinary text.
    """

    def __init__(self, fontsize: float = 7, **kwargs):
        super().__init__(**kwargs)
        self.font = FontProperties(size=fontsize)
        self.xy, self.texts, self.colors = np.zeros((0, 2)), [], []
        self._bitmaps = {}  # (text, dpi) -> its glyphs as an (h, w) uint8 coverage image

    def set_labels(self, xy, texts, colors):
        self.xy = np.asarray(xy, dtype=float).reshape(-1, 2)
        self.texts, self.colors = list(texts), list(colors)
        if not len(self.xy) == len(self.texts) == len(self.colors):
            raise ValueError(f"xy, texts and colors must have one entry per label, got {len(self.xy)}, "
                             f"{len(self.texts)} and {len(self.colors)}")
        self.stale = True

    def draw(self, renderer):
        if not self.get_visible() or not self.texts:
            return
        points = self.get_transform().transform(self.xy)
        gc = renderer.new_gc()
        # RendererAgg's C++ canvas stamps coverage images; any other renderer writes text
        agg = getattr(renderer, "_renderer", None) if hasattr(renderer, "_prepare_font") else None
        for (x, y), text, color in zip(points, self.texts, self.colors, strict=True):
            gc.set_foreground(color)
            if agg is None:
                renderer.draw_text(gc, x, y, text, self.font, 0)
                continue
            glyphs = self._bitmaps.get((text, renderer.dpi))
            if glyphs is None:
                font = renderer._prepare_font(self.font)
                font.set_text(text, 0, flags=get_hinting_flag())
                font.draw_glyphs_to_bitmap(antialiased=True)
                glyphs = self._bitmaps[text, renderer.dpi] = np.array(font.get_image())
            h, w = glyphs.shape
            # draw_text_image takes the bottom-left corner, counted from the canvas's top
            agg.draw_text_image(glyphs, round(x - w / 2), round(renderer.height - y + h / 2), 0, gc)
        gc.restore()
        self.stale = False


def class_colors(num_classes: int) -> list[str]:
    """One palette colour per class (cycling after eight)."""
    return [PALETTE[k % len(PALETTE)] for k in range(num_classes)]


def summarize(a, fmt: str = "{:.3g}") -> str:
    """A short text for an array: the number itself for one element, else its shape (``3×4``)."""
    if a is None:
        return "?"
    arr = np.asarray(a)
    if arr.size == 1:
        v = float(arr.reshape(()))
        return fmt.format(0.0 if v == 0 else v)  # no "-0"
    return "×".join(str(s) for s in arr.shape)
