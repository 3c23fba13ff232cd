"""Linear-classifier explorer: one digit image, the ten class templates, and the scores they give it."""
from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import data
from ..linear import LinearClassifier
from ..losses import softmax
from ..viz.style import GRADIENT, PALETTE
from ._common import Explorer

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


def linear_classifier_explorer(index: int | None = None) -> Explorer:
    """Slide through test digits; each score is the image's match with one template (plus a bias)."""
    c = LinearController(index)
    idx_w = W.IntSlider(value=c.index, min=0, max=len(c.X) - 1, description="test image", continuous_update=False,
                        style={"description_width": "initial"}, layout=W.Layout(width="420px"))
    wrong_b = W.Button(description="next mistake", tooltip="jump to the next image the classifier gets wrong")
    controls = [W.HBox([idx_w, wrong_b])]

    def draw(new):
        fig = new(figsize=(11.0, 4.2))[0]
        fig.clear()
        grid = fig.add_gridspec(2, 7, width_ratios=[2.2, 1, 1, 1, 1, 1, 3.2])
        ax_img = fig.add_subplot(grid[:, 0])
        ax_img.imshow(c.image, cmap="Greys", interpolation="nearest")
        ax_img.set_title(f"test image {c.index}\ntrue label {c.label}", fontsize=10)
        ax_img.axis("off")
        lim = float(np.abs(c.templates).max())
        for k in range(10):
            a = fig.add_subplot(grid[k // 5, 1 + k % 5])
            a.imshow(c.templates[k], cmap="BrBG", vmin=-lim, vmax=lim, interpolation="nearest")
            a.set_title(f"{k}: {c.scores[k]:.1f}", fontsize=8,
                        fontweight="bold" if k == c.predicted else "normal",
                        color=GRADIENT if k == c.predicted else "black")
            a.set_xticks([])
            a.set_yticks([])
            a.grid(False)
            for s in a.spines.values():  # a frame around the winning template only
                s.set_visible(k == c.predicted)
                s.set_color(GRADIENT)
                s.set_linewidth(2.5)
        ax = fig.add_subplot(grid[:, 6])
        colors = [GRADIENT if k == c.predicted else PALETTE[0] for k in range(10)]
        ax.barh(range(10), c.scores, color=colors)
        ax.axvline(0, color="0.3", linewidth=0.8)
        ax.set_yticks(range(10))
        ax.invert_yaxis()
        ax.set_xlabel("score $s_k = w_k \\cdot x + b_k$")
        ax.set_ylabel("class k")
        verdict = "right" if c.predicted == c.label else "wrong"
        ax.set_title(f"predicted {c.predicted} ({verdict}), p = {c.probs[c.predicted]:.2f}", fontsize=10)
        fig.suptitle(f"Scores are template matches (templates: teal raises a score, brown lowers it); "
                     f"test accuracy {c.test_accuracy:.0%}", fontsize=10)
        return fig

    ex = Explorer(c, draw, controls, figsize=(11.0, 4.2), image_width="940px")

    def update():
        c.select(idx_w.value)
        ex.info.value = (f"Image {c.index}: true {c.label}, predicted {c.predicted} "
                         f"({'right' if c.label == c.predicted else 'wrong'}); "
                         f"top score {c.scores[c.predicted]:.2f}.")
        ex.refresh()

    def next_mistake(_):
        wrong = np.flatnonzero(c.clf.predict(c.X) != c.y)
        later = wrong[wrong > c.index]
        if len(wrong):
            idx_w.value = int(later[0] if len(later) else wrong[0])

    ex.on_change([idx_w], update)
    wrong_b.on_click(ex.guard(next_mistake))
    ex.controls = dict(index=idx_w, next_mistake=wrong_b)
    ex.guard(update)()
    return ex
