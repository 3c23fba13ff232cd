"""Linear-classifier explorer: one digit image, the ten class templates, and the scores they give it."""
from __future__ import annotations

import ipywidgets as W
import matplotlib
import numpy as np

from .. import data
from ..linear import LinearClassifier
from ..losses import softmax
from ..viz.style import DIVERGING, DIVERGING_WORDS, GRADIENT, PALETTE, new_figure
from ._common import Blit, Explorer, int_slider

__all__ = ["LinearController", "linear_classifier_explorer"]


class LinearController:
    """A softmax classifier trained on the digits; pick an image and read its scores.

    Score of class k for image x (64 pixels): ``s_k = w_k · x + b_k``, the match between the image
    and template k. State: ``index``, ``image`` (8, 8), ``scores`` (10,), ``probs`` (10,), ``predicted``,
    ``label``, ``templates`` (10, 8, 8), ``test_accuracy``.
    """

    def __init__(self, index: int | None = None, seed: int = 0, loss: str = "softmax", num_iters: int = 600):
        X, y = data.load_digits(scale=True)
        Xtr, ytr, _, _, Xte, yte = data.train_val_test_split(X, y, val=0.0, test=0.25, seed=seed)
        self.clf = LinearClassifier(loss=loss, reg=1e-3, seed=seed)
        self.clf.train(Xtr, ytr, learning_rate=0.2, num_iters=num_iters, batch_size=128)
        self.X, self.y = Xte, yte
        self.test_accuracy = float(np.mean(self.clf.predict(Xte) == yte))
        self.templates = self.clf.templates((8, 8))
        if index is None:  # start on an image the classifier gets right
            index = int(np.flatnonzero(self.clf.predict(Xte) == yte)[0])
        self.select(index)

    def select(self, index: int):
        if not 0 <= int(index) < len(self.X):
            raise ValueError(f"index must be in [0, {len(self.X)}) (a test image), got {index}")
        self.index = int(index)
        x = self.X[self.index]
        self.image = x.reshape(8, 8)
        self.label = int(self.y[self.index])
        self.scores = self.clf.scores(x[None])[0]
        self.probs = softmax(self.scores)
        self.predicted = int(self.scores.argmax())
        return self


class _LinearView(Blit):
    """The image, the ten templates as one mosaic and the score bars; the templates and axes are drawn once."""

    def __init__(self, c):
        from matplotlib.patches import Rectangle

        self.c = c
        self.figure, (ax_img, ax_t, ax) = new_figure(figsize=(11.0, 4.2), ncols=3, width_ratios=[1.1, 2.6, 1.6])
        self.image = ax_img.imshow(c.image, cmap="Greys", interpolation="nearest")
        ax_img.axis("off")
        # ten 8×8 templates in a 2×5 mosaic; NaN (drawn white) between them and above each row for its labels
        self.tile = lambda k: (3 + 11 * (k // 5), 9 * (k % 5))  # top-left corner (row, column) of template k
        mosaic = np.full((22, 44), np.nan)
        for k in range(10):
            r, col = self.tile(k)
            mosaic[r:r + 8, col:col + 8] = c.templates[k]
        lim = float(np.abs(c.templates).max())
        cmap = matplotlib.colormaps[DIVERGING].with_extremes(bad="white")
        ax_t.imshow(mosaic, cmap=cmap, vmin=-lim, vmax=lim, interpolation="nearest")
        ax_t.axis("off")
        ax_t.set_title(f"templates $w_k$ ({DIVERGING_WORDS['positive']} raises a score, "
                       f"{DIVERGING_WORDS['negative']} lowers it)", fontsize=10)
        self.template_titles = [ax_t.text(self.tile(k)[1] + 3.5, self.tile(k)[0] - 0.8, "", ha="center",
                                          fontsize=9) for k in range(10)]
        self.frame = ax_t.add_patch(Rectangle((-0.5, -0.5), 8, 8, fill=False, edgecolor=GRADIENT, linewidth=2.5))
        self.bars = ax.barh(range(10), np.zeros(10), color=PALETTE[0])
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_yticks(range(10))
        ax.invert_yaxis()
        # one range for every image, so that the axes (drawn once) fit all of them
        every = c.clf.scores(c.X)
        ax.set_xlim(1.05 * min(every.min(), 0), 1.05 * every.max())
        ax.set_xlabel("score $s_k = w_k \\cdot x + b_k$")
        ax.set_ylabel("class k")
        self.figure.suptitle(f"Scores are template matches; test accuracy {c.test_accuracy:.0%}", fontsize=10)
        self.ax_img, self.ax = ax_img, ax
        self.dynamic = [self.image, ax_img.title, ax.title, self.frame, *self.template_titles, *self.bars]

    def update(self):
        c = self.c
        self.image.set_data(c.image)
        self.ax_img.set_title(f"test image {c.index}\ntrue label {c.label}", fontsize=10)
        for k, (t, bar) in enumerate(zip(self.template_titles, self.bars, strict=True)):
            win = k == c.predicted
            t.set_text(f"{k}: {c.scores[k]:.1f}")
            t.set_fontweight("bold" if win else "normal")
            t.set_color(GRADIENT if win else "black")
            bar.set_width(c.scores[k])
            bar.set_color(GRADIENT if win else PALETTE[0])
        r, col = self.tile(c.predicted)
        self.frame.set_xy((col - 0.5, r - 0.5))
        verdict = "right" if c.predicted == c.label else "wrong"
        self.ax.set_title(f"predicted {c.predicted} ({verdict}), p = {c.probs[c.predicted]:.2f}", fontsize=10)


def linear_classifier_explorer(index: int | None = None) -> Explorer:
    """Slide through test digits; each score is the image's match with one template (plus a bias)."""
    c = LinearController(index)
    idx_w = int_slider("test image", c.index, 0, len(c.X) - 1, track=300)
    wrong_b = W.Button(description="next mistake", tooltip="jump to the next image the classifier gets wrong")
    controls = [W.HBox([idx_w, wrong_b])]
    ex = Explorer(c, _LinearView(c), controls, image_width="940px")

    def update():
        c.select(idx_w.value)
        ex.refresh()  # the picture first (ARCHITECTURE.md)
        ex.info.value = (f"Image {c.index}: true {c.label}, predicted {c.predicted} "
                         f"({'right' if c.label == c.predicted else 'wrong'}); "
                         f"top score {c.scores[c.predicted]:.2f}.")

    def next_mistake(_):
        wrong = np.flatnonzero(c.clf.predict(c.X) != c.y)
        later = wrong[wrong > c.index]
        if len(wrong):
            idx_w.value = int(later[0] if len(later) else wrong[0])

    ex.on_change([idx_w], update)
    wrong_b.on_click(ex.guard(next_mistake))
    ex.controls = dict(index=idx_w, next_mistake=wrong_b)
    ex.request(update)
    return ex
