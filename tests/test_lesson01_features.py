"""Lesson 01's histogram of oriented gradients (section "Features instead of pixels"), run from the notebook itself.

The lesson's cell that defines ``image_gradients`` and ``hog_features`` is executed in-process (tests/exercises.py's
helpers: fast mode, no figures), after the lesson's first cell (the imports); the functions are then checked against
hand-computed cases and against a pixel-by-pixel loop written here.
"""
from __future__ import annotations

import contextlib
import functools
import io
import math

import numpy as np
import pytest

import exercises

LESSON = "01_linear_classifiers"


@functools.lru_cache(maxsize=None)
def _lesson_namespace() -> dict:
    cells = exercises.notebook(LESSON).cells
    code = [c for c in cells if c.cell_type == "code"]
    hog_cell = [c for c in code if c.get("id") == "l01-hog"]
    assert len(hog_cell) == 1, "lesson 01 must have one code cell with id 'l01-hog'"
    ns = {"__name__": "__main__"}
    with exercises._quiet_lesson(), contextlib.redirect_stdout(io.StringIO()):
        for cell in (code[0], hog_cell[0]):          # the imports, then the HOG definitions
            exercises._run(cell.source, ns, f"{LESSON}[{cell.id}]")
    return ns


@pytest.fixture(scope="module")
def hog():
    return _lesson_namespace()["hog_features"]


def _hog_by_loops(image, cell, bins):
    """One pixel at a time: central differences with the border repeated, the direction rounded to the nearest bin."""
    h, w = image.shape
    at = lambda r, c: image[min(max(r, 0), h - 1), min(max(c, 0), w - 1)]
    out = np.zeros((h // cell, w // cell, bins))
    for r in range(h):
        for c in range(w):
            gx, gy = (at(r, c + 1) - at(r, c - 1)) / 2, (at(r + 1, c) - at(r - 1, c)) / 2
            k = round(math.atan2(gy, gx) / (2 * math.pi / bins)) % bins
            out[r // cell, c // cell, k] += math.hypot(gx, gy)
    return out.ravel()


def test_a_dot_votes_once_in_each_axis_direction(hog):
    # ink at the centre of a 3x3 image, one cell: the four neighbours' gradients point at it, each of length 1/2
    dot = np.zeros((1, 3, 3))
    dot[0, 1, 1] = 1.0
    # bins: right, down-right, down, down-left, left, up-left, up, up-right (y grows downwards)
    np.testing.assert_allclose(hog(dot, cell=3), [[0.5, 0, 0.5, 0, 0.5, 0, 0.5, 0]], atol=1e-12)


def test_a_horizontal_edge_votes_down_and_x_is_columns(hog):
    # paper in the top row, ink below: the gradient points down (bin 2), never right; the bottom row is flat
    edge = np.array([[[0, 0, 0], [1, 1, 1], [1, 1, 1]]], dtype=float)
    expected = np.zeros((1, 8))
    expected[0, 2] = 6 * 0.5                         # rows 0 and 1, three columns each, gradient 1/2
    np.testing.assert_allclose(hog(edge, cell=3), expected, atol=1e-12)


def test_a_corner_votes_diagonally_with_its_length(hog):
    ink = np.zeros((1, 3, 3))
    ink[0, 2, 2] = 1.0                               # ink in the bottom-right corner
    expected = np.zeros((1, 8))
    expected[0, 0] = 0.5                             # (2, 1): the ink is to the right
    expected[0, 2] = 0.5                             # (1, 2): the ink is below
    expected[0, 1] = math.hypot(0.5, 0.5)            # (2, 2): right and down at once (the border repeated)
    np.testing.assert_allclose(hog(ink, cell=3), expected, atol=1e-12)


def test_cells_come_row_by_row_each_with_its_bins_together(hog):
    right_only = np.array([[[0, 0, 0, 1], [0, 0, 0, 1]]], dtype=float)   # an edge in the right-hand cell only
    out = hog(right_only, cell=2)
    assert out.shape == (1, 16)
    np.testing.assert_allclose(out[0, :8], 0, atol=1e-12)
    np.testing.assert_allclose(out[0, 8:], [2.0, 0, 0, 0, 0, 0, 0, 0], atol=1e-12)


@pytest.mark.parametrize(("size", "cell", "bins"), [(6, 2, 8), (6, 3, 8), (12, 4, 9), (4, 1, 6)])
def test_matches_a_pixel_by_pixel_loop(hog, size, cell, bins):
    images = np.random.default_rng(size * cell + bins).random((3, size, size))
    out = hog(images, cell=cell, bins=bins)
    assert out.shape == (3, (size // cell) ** 2 * bins)
    for image, row in zip(images, out, strict=True):
        np.testing.assert_allclose(row, _hog_by_loops(image, cell, bins), rtol=1e-12, atol=1e-12)


def test_whole_image_histogram_ignores_a_move_that_keeps_the_ink_off_the_border(hog):
    image = np.zeros((1, 12, 12))
    image[0, 3:9, 4:7] = np.random.default_rng(0).random((6, 3))
    moved = np.roll(image, (2, -1), axis=(1, 2))
    np.testing.assert_allclose(hog(moved, cell=12), hog(image, cell=12), atol=1e-12)
    assert not np.allclose(hog(moved, cell=2), hog(image, cell=2))        # small cells only tolerate moves
