"""deepgrad.viz: the figures draw what their data says (checked through the artists), and render to PNG."""
from __future__ import annotations

import io
import os

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from deepgrad import viz
from deepgrad.viz.style import new_figure


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _texts(ax) -> list[str]:
    return [t.get_text() for t in ax.texts]


def _xyz_graph():
    from deepgrad import Tensor

    x, y, z = (Tensor(v, requires_grad=True, label=n) for v, n in ((-2.0, "x"), (5.0, "y"), (-4.0, "z")))
    f = (x + y) * z
    f.backward(retain_graph_grads=True)
    return f


# ------------------------------------------------------------------------------------------ graph
def test_draw_graph_writes_values_and_gradients_of_xyz():
    _, ax = new_figure()
    viz.draw_graph(_xyz_graph(), ax=ax)
    texts = _texts(ax)
    for label in ("x", "y", "z", "+", "×"):
        assert label in texts
    # forward values −2, 5, −4, 3, −12 and gradients −4 (x, y, q), 3 (z), 1 (f), with typographic minus
    for value in ("−2", "5", "−4", "3", "−12", "1"):
        assert value in texts
    assert texts.count("−4") >= 4  # z's value and the gradients of x, y and q


def test_draw_graph_hides_unrevealed_gradients_and_highlights():
    from deepgrad.autograd import trace

    graph = trace(_xyz_graph())
    _, ax = new_figure()
    root = graph.nodes[-1].id
    viz.draw_graph(graph, ax=ax, revealed={root}, highlight=root)
    texts = _texts(ax)
    assert texts.count("?") == len(graph.nodes) - 1
    rings = [p for p in ax.patches if p.get_linewidth() >= 3]
    assert len(rings) == 1


def test_layout_puts_children_right_of_parents_and_no_two_nodes_together():
    from deepgrad import Tensor
    from deepgrad.autograd import trace

    w = [Tensor(v, requires_grad=True) for v in (2.0, -1.0, -3.0, -2.0, -3.0)]
    f = 1.0 / (1.0 + (-(w[0] * w[1] + w[2] * w[3] + w[4])).exp())
    graph = trace(f)
    pos = viz.layout(graph)
    for a, b in graph.edges:
        assert pos[a][0] < pos[b][0]
    assert len(set(pos.values())) == len(pos)


def test_draw_graph_summarises_arrays_by_shape(rng):
    from deepgrad import Tensor

    X = Tensor(rng.normal(size=(4, 3)), label="X")
    W = Tensor(rng.normal(size=(3, 2)), requires_grad=True, label="W")
    loss = (X @ W).relu().sum()
    loss.backward(retain_graph_grads=True)
    _, ax = new_figure()
    viz.draw_graph(loss, ax=ax)
    texts = _texts(ax)
    assert "4×3" in texts and "3×2" in texts and "4×2" in texts
    norm = np.linalg.norm(W.grad)
    assert f"‖∇‖={norm:.3g}" in texts


def test_draw_graph_from_a_hand_built_graph_and_bad_input():
    g = viz.DrawGraph()
    a = g.add(label="a", value=1.0, grad=2.0)
    g.add("sigmoid", value=0.73, grad=1.0, parents=(a,))
    _, ax = new_figure()
    viz.draw_graph(g, ax=ax)
    assert "σ" in _texts(ax)
    with pytest.raises(TypeError, match="Graph"):
        viz.draw_graph(42)


# ---------------------------------------------------------------------------------- boundaries
def test_decision_grid_matches_the_predictor():
    X = np.array([[-1.0, -1.0], [1.0, 1.0]])
    xx, yy, labels = viz.decision_grid(lambda P: (P[:, 0] > 0).astype(int), X, resolution=21, padding=0.0)
    assert labels.shape == (21, 21)
    np.testing.assert_array_equal(labels, (xx > 0).astype(int))
    # scores are argmaxed
    _, yy2, lab2 = viz.decision_grid(lambda P: np.stack([-P[:, 1], P[:, 1]], axis=1), X, resolution=11,
                                     padding=0.0)
    np.testing.assert_array_equal(lab2, (yy2 > 0).astype(int))


def test_plot_decision_boundary_reports_accuracy_and_one_legend_entry_per_class():
    from deepgrad import data

    X, y = data.make_blobs(90, centers=3, seed=1)
    nearest = lambda P: np.argmin(((P[:, None] - np.array([X[y == k].mean(0) for k in range(3)])) ** 2).sum(-1), 1)
    _, ax = new_figure()
    viz.plot_decision_boundary(nearest, X, y, ax=ax, resolution=50)
    acc = np.mean(nearest(X) == y)
    assert f"{acc:.0%}" in ax.get_title()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["class 0", "class 1", "class 2"]
    assert ax.get_xlabel() and ax.get_ylabel()
    with pytest.raises(ValueError, match="shape"):
        viz.plot_decision_boundary(nearest, X[:, :1], y)


def test_plot_templates_reshapes_weights_without_the_bias_row(rng):
    W = rng.normal(size=(65, 10))
    axes = viz.plot_templates(W, image_shape=(8, 8), class_names=list("abcdefghij"))
    images = [a.images[0].get_array() for a in axes[:10]]
    np.testing.assert_allclose(images[3], W[:64, 3].reshape(8, 8))
    assert axes[0].get_title() == "a"
    with pytest.raises(ValueError, match="image_shape"):
        viz.plot_templates(W, image_shape=(7, 7))


# -------------------------------------------------------------------------------------- curves
def test_history_to_dict_accepts_the_usual_shapes():
    d = viz.history_to_dict([{"train_loss": 1.0, "val_loss": 2.0}, {"train_loss": 0.5, "val_loss": 1.5}])
    np.testing.assert_array_equal(d["val_loss"], [2.0, 1.5])
    assert list(viz.history_to_dict([3.0, 2.0])) == ["loss"]

    class Fit:
        history = {"loss": [1, 2], "note": "text is skipped"}

    assert list(viz.history_to_dict(Fit())) == ["loss"]
    with pytest.raises(TypeError):
        viz.history_to_dict(3)


def test_plot_history_makes_a_loss_and_an_accuracy_panel_and_marks_the_best_epoch():
    hist = {"train_loss": [3, 2, 1, 0.5], "val_loss": [3, 2.5, 2.0, 2.2], "train_acc": [.2, .5, .8, .9],
            "val_acc": [.2, .4, .6, .55]}
    axes = viz.plot_history(hist)
    assert [a.get_ylabel() for a in axes] == ["loss", "accuracy"]
    np.testing.assert_array_equal(axes[0].lines[1].get_ydata(), hist["val_loss"])
    assert any("epoch 3" in t for t in _texts(axes[0]))  # the lowest validation loss
    assert {t.get_text() for t in axes[1].get_legend().get_texts()} == {"train_acc", "val_acc"}


# ----------------------------------------------------------------------------------- landscape
def test_evaluate_grid_takes_both_calling_conventions():
    f2 = lambda x, y: x ** 2 + 3 * y
    _, _, z1 = viz.evaluate_grid(f2, (-1, 1), (0, 2), resolution=7)
    _, _, z2 = viz.evaluate_grid(lambda p: float(p[0] ** 2 + 3 * p[1]) if np.ndim(p) == 1 else None,
                                 (-1, 1), (0, 2), resolution=7)
    np.testing.assert_allclose(z1, z2)


def test_plot_loss_landscape_draws_each_path_and_reports_divergence():
    surf = viz.SURFACES["ill-conditioned bowl"]
    good = np.array([[-4.0, 1.5], [-2.0, 0.5], [0.0, 0.0]])
    bad = np.array([[-4.0, 1.5], [np.inf, np.nan]])
    _, ax = new_figure()
    viz.plot_loss_landscape(surf, {"good": good, "bad": bad}, ax=ax, resolution=40)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "good: f = 0" in labels and "bad: diverged" in labels and "minimum" in labels
    np.testing.assert_array_equal(next(l for l in ax.lines if l.get_label() == "good: f = 0").get_xydata(), good)
    with pytest.raises(ValueError, match=r"\(T, 2\)"):
        viz.plot_loss_landscape(surf, {"x": np.zeros(3)})


def test_surfaces_have_their_minima_where_they_say():
    for s in viz.SURFACES.values():
        for m in s.minima:
            # the gradient vanishes there (centred differences) and it is lower than its neighbours
            h = 1e-6
            gx = (s(m[0] + h, m[1]) - s(m[0] - h, m[1])) / (2 * h)
            gy = (s(m[0], m[1] + h) - s(m[0], m[1] - h)) / (2 * h)
            assert abs(gx) < 1e-6 and abs(gy) < 1e-6
            assert all(s(m[0] + dx, m[1] + dy) > s(*m) for dx, dy in ((0.01, 0), (0, 0.01), (-0.01, 0), (0, -0.01)))


# --------------------------------------------------------------------------------- derivatives
def test_fd_errors_show_the_truncation_rounding_trade_off():
    hs = np.logspace(-12, -1, 23)
    _, fwd64 = viz.fd_errors(hs=hs, method="forward", dtype=np.float64)
    _, cen64 = viz.fd_errors(hs=hs, method="centred", dtype=np.float64)
    _, cen32 = viz.fd_errors(hs=hs, method="centred", dtype=np.float32)
    # large h: slope 1 for forward, 2 for centred (truncation)
    big = hs >= 1e-3
    assert np.polyfit(np.log10(hs[big]), np.log10(fwd64[big]), 1)[0] == pytest.approx(1, abs=0.1)
    assert np.polyfit(np.log10(hs[big]), np.log10(cen64[big]), 1)[0] == pytest.approx(2, abs=0.1)
    # centred beats forward at its best; float64 beats float32; both rise again for tiny h (rounding)
    assert cen64.min() < fwd64.min() < cen32.min()
    assert fwd64[0] > 100 * fwd64.min() and cen32[0] > 100 * cen32.min()
    assert hs[np.argmin(cen32)] > hs[np.argmin(cen64)]
    with pytest.raises(ValueError, match="method"):
        viz.fd_errors(method="sideways")


def test_plot_fd_error_draws_four_curves_on_log_axes():
    ax = viz.plot_fd_error(hs=np.logspace(-10, 0, 11))
    curves = [l for l in ax.lines if l.get_label() and not l.get_label().startswith("_")]
    assert {l.get_label() for l in curves} == {"forward, float32", "forward, float64", "centred, float32",
                                              "centred, float64"}
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"


def test_plot_jacobian_shows_the_matrix_in_numerator_layout(rng):
    from deepgrad import layers

    x, Wt, b = rng.normal(size=3), rng.normal(size=(3, 2)), np.zeros(2)
    J = layers.linear_jacobian(x, Wt, b, wrt="x")
    ax = viz.plot_jacobian(J)
    np.testing.assert_allclose(ax.images[0].get_array(), Wt.T)  # rows are outputs
    assert "2×3" in ax.get_title()
    assert len(ax.texts) == 6


# ------------------------------------------------------------------------------------- stats
def test_layer_stats_and_plot(rng):
    acts = [rng.normal(scale=s, size=(50, 8)) for s in (1.0, 0.1)]
    grads = [np.maximum(a, 0) for a in acts]
    st = viz.layer_stats(grads)
    assert st[0]["zeros"] == pytest.approx(np.mean(acts[0] <= 0))
    axes = viz.plot_layer_stats(acts, grads)
    assert axes.shape == (2, 3)
    np.testing.assert_allclose(axes[0, 2].lines[0].get_ydata(), [a.std() for a in acts])
    with pytest.raises(ValueError, match="one array per layer"):
        viz.plot_layer_stats(acts, grads[:1])


# ------------------------------------------------------------------------------------ render
def _is_nonblank_png(path: str) -> bool:
    with open(path, "rb") as fh:
        data = fh.read()
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        return False
    img = plt.imread(io.BytesIO(data), format="png")
    return img.ndim == 3 and float(img[..., :3].std()) > 0.01  # more than one flat colour


def test_render_writes_a_nonblank_png_for_every_figure_and_widget(tmp_path):
    from deepgrad import widgets
    from deepgrad.widgets import render

    paths = render.main(str(tmp_path))
    expected = {f"{n}.png" for n in render.FIGURES} | {f"widget_{n}.png" for n in widgets.__all__}
    assert {os.path.basename(p) for p in paths} == expected
    for p in paths:
        assert _is_nonblank_png(p), p


def test_signed_pictures_share_one_diverging_colour_map():
    """Templates, weights and Jacobians: one diverging map in the library, the explorers and the lessons, so that
    purple means "above zero" everywhere (lesson 01, the linear explorer and lesson 07 say so)."""
    import glob
    import json
    import re

    import matplotlib

    from deepgrad.viz.style import DIVERGING, DIVERGING_WORDS

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    diverging = {"PuOr", "BrBG", "RdBu", "coolwarm", "bwr", "seismic", "PiYG", "PRGn", "RdGy", "RdYlBu", "RdYlGn",
                 "Spectral"}
    texts = {p: open(p).read() for p in glob.glob(os.path.join(root, "lib", "deepgrad", "**", "*.py"), recursive=True)}
    for p in glob.glob(os.path.join(root, "course", "*.ipynb")):
        texts[p] = "\n".join("".join(c["source"]) for c in json.load(open(p))["cells"] if c["cell_type"] == "code")
    used = {(os.path.basename(p), m) for p, text in texts.items()
            for m in re.findall(r"""(?:cmap=|colormaps\[)["']([A-Za-z]+?)(?:_r)?["']""", text) if m in diverging}
    assert used and {m for _, m in used} == {DIVERGING}, sorted(used)
    low, high = (matplotlib.colormaps[DIVERGING](v) for v in (0.0, 1.0))
    assert high[2] > high[1] and low[0] > low[2], "purple above zero, orange below"
    assert DIVERGING_WORDS == {"positive": "purple", "negative": "orange"}


@pytest.mark.parametrize("shape", [(1, 1, 4), (5, 7, 4), (64, 33, 4), (2, 300, 4)])
def test_pixels_to_png_is_read_back_exactly_by_pillow(shape):
    from PIL import Image

    from deepgrad.viz.style import pixels_to_png

    rgba = np.random.default_rng(sum(shape)).integers(0, 256, size=shape, dtype=np.uint8)
    rgba[:, : shape[1] // 2] = 255  # a flat run as well as noise: the "sub" filter's zeros and its wrap-around
    back = Image.open(io.BytesIO(pixels_to_png(rgba)))
    assert back.mode == "RGBA" and back.size == (shape[1], shape[0])
    assert np.array_equal(np.asarray(back), rgba)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(pixels_to_png(rgba[:, ::-1])))), rgba[:, ::-1])


def test_pixels_to_png_refuses_what_is_not_a_picture():
    from deepgrad.viz.style import pixels_to_png

    for bad in (np.zeros((4, 4, 4)), np.zeros((4, 4), np.uint8), np.zeros((4, 4, 3), np.uint8)):
        with pytest.raises(ValueError, match="rgba must be a"):
            pixels_to_png(bad)


def test_figure_to_png_shows_the_figure_at_its_own_dpi():
    from PIL import Image

    fig, ax = new_figure((3.0, 2.0))
    ax.plot([0, 1], [0, 1])
    png = viz.figure_to_png(fig)
    assert Image.open(io.BytesIO(png)).size == (round(3.0 * fig.dpi), round(2.0 * fig.dpi))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(png))), np.asarray(fig.canvas.buffer_rgba()))


def _ink(fig, color):
    """Bounding box (rows, columns) and count of the pixels of one colour (RGB, 0-255) on the canvas."""
    fig.canvas.draw()
    rgb = np.asarray(fig.canvas.buffer_rgba())[..., :3].astype(int)
    hit = np.argwhere(np.abs(rgb - color).sum(axis=2) < 60)
    return hit.min(axis=0), hit.max(axis=0), len(hit)


@pytest.mark.parametrize("label", ["0.25", "-1.3", "7"])
def test_cell_labels_are_centred_on_their_cells_like_centred_text(label):
    # each string is rasterised once and stamped: the same glyphs as a Text centred there, within a pixel
    from deepgrad.viz.style import CellLabels

    where = []
    for stamped in (True, False):
        fig, ax = new_figure((3.0, 2.0))
        ax.set_axis_off()
        ax.set(xlim=(-0.5, 2.5), ylim=(1.5, -0.5))
        if stamped:
            cells = ax.add_artist(CellLabels(fontsize=9))
            cells.set_labels([(2, 1)], [label], ["#D55E00"])
        else:
            ax.text(2, 1, label, ha="center", va="center", fontsize=9, color="#D55E00")
        lo, hi, count = _ink(fig, (0xD5, 0x5E, 0x00))
        where.append(((lo + hi) / 2, hi - lo, count))
        centre = ax.transData.transform((2, 1))
        height = fig.canvas.get_width_height()[1]
        middle = np.array([height - centre[1], centre[0]]) - 0.5  # (row, column) of the cell's centre, as indices
    (c1, size1, n1), (c2, size2, n2) = where
    assert np.allclose(size1, size2, atol=1) and abs(n1 - n2) <= 0.2 * n2  # the same glyphs
    assert np.abs(c1 - middle).max() <= 1.0  # centred on the cell (to the pixel its corner is rounded to)
    assert np.abs(c1 - c2).max() <= 2.0  # where matplotlib centres its text (its box includes the descent)


def test_cell_labels_need_one_text_and_colour_per_point_and_fall_back_to_text_in_svg():
    from deepgrad.viz.style import CellLabels

    fig, ax = new_figure((3.0, 2.0))
    cells = ax.add_artist(CellLabels())
    with pytest.raises(ValueError, match="xy, texts and colors must have one entry per label, got 2, 1 and 2"):
        cells.set_labels([(0, 0), (1, 1)], ["1"], ["k", "k"])
    cells.set_labels([(0.2, 0.3), (0.7, 0.6)], ["0.5", "-2"], ["black", "white"])
    out = io.StringIO()
    fig.savefig(out, format="svg")
    svg = out.getvalue()
    assert svg.count("<!-- 0.5 -->") == 1 and svg.count("<!-- -2 -->") == 1
