"""The Jacobian explorer (lesson 07): its Jacobians against finite differences, its counts, its controls."""
from __future__ import annotations

import time

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from deepgrad import layers, widgets
from deepgrad.gradcheck import numerical_jacobian
from deepgrad.widgets.jacobians import JacobianController

PNG = b"\x89PNG\r\n\x1a\n"


def _ok(w):
    w.wait()  # the explorer draws on a worker thread
    assert w.errors == [], w.errors[-1] if w.errors else ""
    assert w.output.outputs == ()
    assert bytes(w.image.value).startswith(PNG)


@pytest.mark.parametrize("layer, wrt", [("linear", "input"), ("linear", "weights"), ("relu", "input"),
                                        ("sigmoid", "input"), ("tanh", "input")])
def test_jacobian_matches_centred_differences(layer, wrt):
    # a seed whose inputs avoid ReLU's kink at 0, where centred differences give ½ and the library 0
    c = next(c for s in range(100) if np.all((c := JacobianController(layer, wrt, 3, 4, 2, seed=s)).X != 0))
    if wrt == "weights":
        numeric = numerical_jacobian(lambda W_: c.forward(W=W_), c.W.copy())
    else:
        numeric = numerical_jacobian(lambda X_: c.forward(X=X_), c.X.copy())
    assert numeric.shape == c.J.shape
    np.testing.assert_allclose(c.J, numeric, atol=1e-7)


def test_vjp_with_the_jacobian_is_what_backward_computes():
    c = JacobianController("linear", "input", batch=3, n_in=4, n_out=2, seed=2)
    dY = np.random.default_rng(0).standard_normal((3, 2))
    _, cache = layers.linear_forward(c.X, c.W, np.zeros(2))
    dX, dW, _ = layers.linear_backward(dY, cache)
    np.testing.assert_allclose(dY.reshape(-1) @ c.J, dX.reshape(-1), atol=1e-12)
    c.wrt = "weights"
    c.run()
    np.testing.assert_allclose(dY.reshape(-1) @ c.J, dW.reshape(-1), atol=1e-12)


def test_sparsity_and_costs_follow_the_structure():
    c = JacobianController("linear", "input", batch=4, n_in=5, n_out=3)
    assert c.shape == (12, 20)
    assert c.nonzeros == np.count_nonzero(c.W) * 4  # one Wᵀ per example on the diagonal
    assert c.density <= 1 / 4  # a quarter of the blocks at most
    assert (c.dense_cost, c.vjp_cost) == (12 * 20, 4 * 3 * 5)
    c.wrt = "weights"
    c.run()
    assert c.shape == (12, 15)
    assert c.nonzeros == np.count_nonzero(c.X) * 3  # each output row sees its own column of W: D entries of x
    c.layer, c.wrt = "sigmoid", "input"
    c.run()
    assert c.shape == (20, 20) and c.nonzeros == 20 and c.vjp_cost == 20  # a diagonal: n entries of n²
    assert np.count_nonzero(c.J - np.diag(np.diag(c.J))) == 0


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="layer must be one of"):
        JacobianController("conv")
    with pytest.raises(ValueError, match="wrt='weights' needs a layer with weights; 'relu'"):
        JacobianController("relu", "weights")
    with pytest.raises(ValueError, match="batch must be a positive integer, got 0"):
        JacobianController(batch=0)


def test_controls_update_the_view_and_grey_out_what_does_not_apply():
    w = widgets.jacobian_explorer()
    _ok(w)
    before = bytes(w.image.value)
    w.controls["batch"].value = 4
    _ok(w)
    assert w.controller.shape == (4 * 3, 4 * 4) and bytes(w.image.value) != before
    assert f"{w.controller.nonzeros:,} of them are non-zero" in w.info.value
    w.controls["wrt"].value = "weights"
    w.controls["layer"].value = "relu"  # has no weights: the explorer falls back to the input
    _ok(w)
    assert w.controller.wrt == "input" and w.controls["wrt"].value == "input"
    assert w.controls["wrt"].disabled and w.controls["n_out"].disabled
    assert w.controller.shape == (4 * 4, 4 * 4)
    w.controls["layer"].value = "linear"
    _ok(w)
    assert not w.controls["wrt"].disabled


def test_a_burst_of_control_changes_ends_on_the_final_controls():
    w = widgets.jacobian_explorer()
    rng = np.random.default_rng(3)
    reactions = []
    for _ in range(30):
        name = str(rng.choice(["layer", "wrt", "batch", "n_in", "n_out"]))
        ctrl = w.controls[name]
        value = str(rng.choice(ctrl.options)) if name in ("layer", "wrt") else int(rng.integers(ctrl.min, ctrl.max + 1))
        start = time.perf_counter()
        ctrl.value = value
        reactions.append(time.perf_counter() - start)
    _ok(w)
    final = {k: w.controls[k].value for k in ("layer", "wrt", "batch", "n_in", "n_out")}
    c = w.controller
    assert (c.layer, c.wrt, c.batch, c.n_in) == (final["layer"], final["wrt"], final["batch"], final["n_in"])
    np.testing.assert_array_equal(c.J, JacobianController(**final).J)
    assert f"{c.nonzeros:,} of them are non-zero" in w.info.value
    assert bytes(w.image.value) == w.figure_png()  # the picture shown is the one of the final controls
    # The computing part of a reaction is far inside the 100 ms budget; the rest is matplotlib drawing the PNG,
    # whose time depends on the machine's load (printed, for the report).
    start = time.perf_counter()
    for _ in range(10):
        c.run()
    assert (time.perf_counter() - start) / 10 < 0.1
    print(f"\njacobian_explorer reactions (measured under load): median {np.median(reactions) * 1e3:.0f} ms, "
          f"slowest {max(reactions) * 1e3:.0f} ms")


def test_a_shape_seen_before_is_drawn_as_a_fresh_explorer_draws_it():
    # the axes of each shape are kept as pixels; coming back to a shape after another (whose square cells gave
    # the axes another box) must still put the matrix inside the kept axes
    ex = widgets.jacobian_explorer()
    for key, value in [("layer", "relu"), ("n_in", 3), ("layer", "linear"), ("wrt", "weights"), ("layer", "tanh"),
                       ("batch", 3), ("layer", "sigmoid"), ("batch", 2)]:
        ex.controls[key].value = value
        ex.wait()
        now = {k: ex.controls[k].value for k in ("layer", "wrt", "batch", "n_in", "n_out")}
        fresh = widgets.jacobian_explorer(**now).wait()
        assert bytes(ex.image.value) == bytes(fresh.image.value), f"after {key} = {value!r}: {now}"


def test_the_shapes_one_step_away_are_drawn_ahead_and_shown_right():
    # after each picture the worker draws the axes of every shape one step away while nobody waits: the student's
    # next step (a slider moved on, another layer, the other wrt) shows its picture without a full draw, and the
    # picture is the one a fresh explorer shows for the same controls
    ex = widgets.jacobian_explorer().wait()
    canvas, full_draws, before_picture = ex.view.figure.canvas, [], []
    draw = canvas.draw
    canvas.draw = lambda *a, **k: (full_draws.append(1), draw(*a, **k))
    ex.image.observe(lambda change: before_picture.append(len(full_draws)), names="value")
    ahead = 0
    for key, value in [("batch", 3), ("batch", 4), ("n_in", 3), ("n_out", 4), ("wrt", "weights"), ("wrt", "input"),
                       ("layer", "tanh"), ("n_in", 4), ("layer", "linear"), ("batch", 3)]:
        full_draws.clear()
        before_picture.clear()
        ex.controls[key].value = value
        _ok(ex)
        assert before_picture == [0], f"{key} = {value!r}: a full draw before the picture"
        ahead += len(full_draws)
        now = {k: ex.controls[k].value for k in ("layer", "wrt", "batch", "n_in", "n_out")}
        fresh = widgets.jacobian_explorer(**now).wait()
        assert bytes(ex.image.value) == bytes(fresh.image.value), f"after {key} = {value!r}: {now}"
    assert ahead >= 20  # the shapes around each one were drawn (some kept from an earlier step)
