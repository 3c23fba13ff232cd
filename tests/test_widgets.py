"""deepgrad.widgets: build every explorer headlessly, move its controls, check the controller's state.

Explorers that train run in the background: ``w.wait()`` after moving a control, before reading state.
The burst tests at the end cover every explorer in ``deepgrad.widgets.__all__`` (the one list).
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import threading

import numpy as np
import pytest

from deepgrad import widgets
from deepgrad.widgets._common import controls_of, moves

PNG = b"\x89PNG\r\n\x1a\n"


def _ok(w):
    w.wait()
    assert w.errors == [], w.errors[-1] if w.errors else ""
    assert bytes(w.image.value).startswith(PNG)


# -------------------------------------------------------------------------------------- backprop
def test_backprop_explorer_shows_the_notes_gradients_and_labels():
    w = widgets.backprop_explorer()
    _ok(w)
    c = w.controller
    assert c.values == {"x": -2.0, "y": 5.0, "z": -4.0}
    assert c.output == -12.0
    assert c.grads == {"x": -4.0, "y": -4.0, "z": 3.0}
    assert w.labels["x"].value == "∂f/∂x = -4.000" and w.labels["z"].value == "∂f/∂z = 3.000"
    assert "dg-grad-x" in w.labels["x"]._dom_classes


def test_moving_a_slider_updates_gradients_and_labels():
    w = widgets.backprop_explorer()
    before = bytes(w.image.value)
    w.controls["sliders"]["x"].value = 1.0  # df/dz = x + y = 6
    _ok(w)
    assert w.controller.grads["z"] == pytest.approx(6.0)
    assert w.labels["z"].value == "∂f/∂z = 6.000"
    assert bytes(w.image.value) != before


def test_stepping_backward_reveals_nodes_in_reverse_topological_order():
    w = widgets.backprop_explorer()
    c = w.controller
    w.controls["mode"].value = "step backward"
    assert c.revealed == set() and w.labels["x"].value == "∂f/∂x = ?"
    seen = []
    while not c.done:
        w.controls["step"].click()
        seen.append(c.log[-1])
    _ok(w)
    order = [i for i in c.graph.reverse_order() if c.graph.nodes[i].requires_grad]
    assert c.revealed == set(order)
    # each node's parents-in-the-graph are revealed only after the node itself
    position = {i: k for k, i in enumerate(order)}
    for a, b in c.graph.edges:
        if c.graph.nodes[a].requires_grad:
            assert position[b] < position[a]
    assert seen[0].startswith("start") and "mul: ∂f/∂z = ∂f/∂f · q" in seen[1]
    assert w.labels["x"].value == "∂f/∂x = -4.000"


def test_predict_then_reveal_checks_the_guess():
    w = widgets.backprop_explorer()
    c = w.controller
    w.controls["mode"].value = "predict, then reveal"
    w.controls["guess"].value = 1.0  # df/df
    w.controls["check"].click()
    w.controls["guess"].value = 42.0  # wrong for the next one
    w.controls["check"].click()
    _ok(w)
    assert [p["correct"] for p in c.predictions] == [True, False]
    assert c.predictions[1]["answer"] in (3.0, -4.0)
    assert len(c.revealed) == 2


def test_stepping_and_predicting_hide_the_finite_difference_answers():
    w = widgets.backprop_explorer()
    for mode in ("step backward", "predict, then reveal"):
        w.controls["mode"].value = mode
        assert "∂f/∂x" not in w.fd.value and "-4.000000" not in w.fd.value  # nothing revealed yet
    w.controls["mode"].value = "step backward"
    while not w.controller.done:
        w.controls["step"].click()
    assert "∂f/∂x" in w.fd.value and "-4.000000" in w.fd.value  # all revealed: the full check
    w.controls["mode"].value = "show all"
    assert w.fd.value.count("✔ agree") == 3


def test_sigmoid_neuron_matches_the_slides_and_finite_differences():
    # neuron slides: f = σ(w0 + w1 x1 + w2 x2), w = (−3, 2, −3), (x1, x2, y) = (−1, −2, 1), L = −log f
    w = widgets.backprop_explorer("sigmoid_neuron")
    _ok(w)
    c = w.controller
    assert c.values == {"w0": -3.0, "w1": 2.0, "w2": -3.0, "x1": -1.0, "x2": -2.0}
    f = next(n for n in c.graph.nodes if n.label == "f")
    assert f.op == "sigmoid" and float(f.value) == pytest.approx(0.7311, abs=1e-4)
    assert c.out_name == "L" and c.output == pytest.approx(-np.log(float(f.value)))
    # the slides' gradients (−0.27, 0.27, 0.54): ∂L/∂s = f − y, times 1, x1, x2
    assert [round(c.grads[k], 2) for k in ("w0", "w1", "w2")] == [-0.27, 0.27, 0.54]
    dz = float(f.value) - 1.0
    assert c.grads["w1"] == pytest.approx(-dz) and c.grads["x2"] == pytest.approx(-3.0 * dz)
    assert w.labels["w2"].value == "∂L/∂w2 = 0.538"
    for row in c.finite_difference_check().values():
        assert row["rel_error"] < 1e-7
    # one step with η = 0.001 moves f to 0.7314 (the slides print 0.7323)
    for k in ("w0", "w1", "w2"):
        c.set_value(k, c.values[k] - 1e-3 * c.grads[k])
    f = next(n for n in c.graph.nodes if n.label == "f")
    assert float(f.value) == pytest.approx(0.7314, abs=1e-4)


def test_stepping_through_the_sigmoid_neuron_names_the_loss():
    w = widgets.backprop_explorer("sigmoid_neuron")
    c = w.controller
    w.controls["mode"].value = "step backward"
    while not c.done:
        w.controls["step"].click()
    _ok(w)
    assert c.log[0] == "start: ∂L/∂L = 1 (the output with respect to itself)"
    assert any(t.startswith("sigmoid: ∂L/∂s = ∂L/∂f · σ(1 − σ)") for t in c.log)
    assert any(t.startswith("add: ∂L/∂w0 = ∂L/∂b · 1") and t.endswith("= -0.269") for t in c.log)


def test_a_graph_redrawn_in_place_shows_what_a_fresh_one_draws():
    # The graph view keeps the wires and nodes as pixels and rewrites only the numbers and the ring: after
    # numbers of every length and a ring that moved, nothing of an earlier frame may show through.
    def stepped(values, steps):
        w = widgets.backprop_explorer("sigmoid_neuron", values=values)
        w.controls["mode"].value = "step backward"
        for _ in range(steps):
            w.controls["step"].click()
        return _ok(w) or w

    w = stepped(None, 2)
    for key, v in (("w0", 4.9), ("x2", -0.1), ("w1", -4.4)):
        w.controls["sliders"][key].value = v
    w.controls["step"].click()  # the ring moves on and one more gradient shows
    _ok(w)
    fresh = stepped({"w0": 4.9, "x2": -0.1, "w1": -4.4}, 3)
    assert w.controller.revealed == fresh.controller.revealed
    assert bytes(w.image.value) == bytes(fresh.image.value)
    before = bytes(w.image.value)
    w.controls["mode"].value = "show all"  # no ring, every gradient
    _ok(w)
    assert bytes(w.image.value) != before


def test_backprop_explorer_takes_a_user_function():
    def f(a=1.5, b=-0.5):
        return (a * b).tanh() + a ** 2

    c = widgets.backprop_explorer(f).controller
    a, b = 1.5, -0.5
    assert c.grads["a"] == pytest.approx(b * (1 - np.tanh(a * b) ** 2) + 2 * a)
    assert c.grads["b"] == pytest.approx(a * (1 - np.tanh(a * b) ** 2))
    with pytest.raises(ValueError, match="expr"):
        widgets.backprop_explorer("nonsense")


# ------------------------------------------------------------------------------------------ gates
@pytest.mark.parametrize("gate, dx, dy", [("add", 2.0, 2.0), ("mul", -8.0, 6.0), ("max", 2.0, 0.0)])
def test_gate_patterns(gate, dx, dy):
    w = widgets.gate_explorer()  # x = 3, y = -4, upstream 2
    w.controls["gate"].value = gate
    _ok(w)
    assert (w.controller.dx, w.controller.dy) == (pytest.approx(dx), pytest.approx(dy))
    assert {"add": "distributes", "mul": "switches", "max": "routes"}[gate] in w.info.value


def test_sigmoid_gate_and_max_switching_sides():
    w = widgets.gate_explorer("sigmoid", x=0.0, upstream=1.0)
    assert w.controller.dx == pytest.approx(0.25)
    w.controls["gate"].value = "max"
    w.controls["y"].value = 4.0  # now y is larger and takes the gradient
    assert (w.controller.dx, w.controller.dy) == (0.0, 1.0)


# ----------------------------------------------------------------------------------------- others
def test_optimizer_race_learning_rate_changes_trajectories():
    w = widgets.optimizer_race(steps=40)
    _ok(w)
    c = w.controller
    assert set(c.trajectories) == {"SGD", "SGD + momentum", "Adagrad", "RMSprop", "Adam"}
    before = {k: v.copy() for k, v in c.trajectories.items()}
    w.controls["lr"].value = c.lr * 3
    w.wait()
    for name in ("SGD", "SGD + momentum"):
        assert not np.allclose(before[name], c.trajectories[name], equal_nan=True)
    np.testing.assert_allclose(before["Adam"], c.trajectories["Adam"])  # its own rate did not change
    # plain gradient descent on the bowl: each step is w - lr * grad
    p0, p1 = c.trajectories["SGD"][:2]
    np.testing.assert_allclose(p1, p0 - c.lr * np.array([p0[0], 10 * p0[1]]))
    w.controls["surface"].value = "Rosenbrock"
    _ok(w)
    assert c.lr == pytest.approx(2e-3)


def test_optimizer_race_reports_divergence():
    c = widgets.optimizer_race(steps=30).wait().controller
    c.lr = 0.5  # above 2 / 10 for the steep direction of the bowl
    c.run()
    assert c.final_loss["SGD"] == float("inf") or c.final_loss["SGD"] > 1e3


def test_init_explorer_vanishing_sigmoid_and_constant_symmetry():
    w = widgets.init_explorer(depth=6, width=64, activation="sigmoid", init="normal", scale=0.01)
    _ok(w)
    st = w.controller.stats
    assert st["gradients"][0]["std"] < 1e-3 * st["gradients"][-1]["std"]  # gradients vanish on the way back
    assert "vanish" in w.info.value
    w.controls["init"].value = "constant"
    assert w.controller.identical_units()
    assert "identical" in w.info.value
    w.controls["activation"].value = "tanh"
    w.controls["init"].value = "xavier"
    assert not w.controller.identical_units()
    a = w.controller.stats["activations"]
    assert a[-1]["std"] > 0.3 * a[0]["std"]  # Xavier keeps the scale


def test_decision_boundary_explorer_trains():
    w = widgets.decision_boundary_explorer(dataset="XOR", steps=200, chunk=100)
    c = w.controller
    assert c.steps == 0
    w.controls["train"].click()
    _ok(w)
    assert c.steps == 200 and c.history["train_loss"][-1] < c.history["train_loss"][0]
    assert c.accuracy() > 0.9  # a hidden layer solves XOR
    w.controls["model"].value = "linear"
    w.controls["train"].click()
    w.wait()
    assert c.steps == 200 and c.accuracy() < 0.8  # a line cannot
    w.controls["hidden"].value = "16, x"
    w.wait()
    assert w.errors and "hidden sizes" in w.info.value


def test_decision_boundary_explorer_draws_the_other_data_sets_ahead_and_shows_them_right():
    # once settled, a switch to another data set, model or activation shows a picture drawn ahead, while nobody
    # waited (no drawing at all before it appears), and that picture is what a full draw of the same state shows:
    # no pixel of another data set, of the regions' first state (a translucent image) or of another range of axes
    w = widgets.decision_boundary_explorer().wait()
    canvas, draws, before_picture = w.view.figure.canvas, [], []
    draw, png = canvas.draw, w.view.png
    canvas.draw = lambda *a, **k: (draws.append("full"), draw(*a, **k))
    w.view.png = lambda: (draws.append("frame"), png())[1]
    w.image.observe(lambda change: before_picture.append(list(draws)), names="value")
    for key, value in [("dataset", "blobs"), ("dataset", "XOR"), ("model", "linear"), ("model", "MLP"),
                       ("activation", "tanh"), ("dataset", "bullseye")]:
        draws.clear()
        before_picture.clear()
        w.controls[key].value = value
        _ok(w)
        assert before_picture == [[]], (key, value, before_picture)
        shown, kept = bytes(w.image.value), {k: w.view.__dict__.pop(k) for k in ("_backgrounds", "_bases")}
        assert shown == bytes(w.figure_png()), (key, value)  # nothing kept: this picture is drawn in full
        w.view.__dict__.update(kept)
    assert w.controller.dataset == "bullseye" and w.controller.steps == 0
    w.controls["train"].click()  # a trained picture is drawn, never taken from the pictures drawn ahead
    _ok(w)
    assert w.controller.steps == 300 and bytes(w.image.value) == bytes(w.figure_png())


def test_regularization_explorer_early_stopping_and_dropout():
    w = widgets.regularization_explorer(epochs=40)
    _ok(w)
    c = w.controller
    assert c.history["train_acc"][-1] > c.history["val_acc"][-1]  # overfits 150 images
    w.controls["early_stopping"].value = True
    w.controls["epochs"].value = 80  # arrives while the first run trains: that run is abandoned
    w.wait()
    assert c.epochs == 80 and c.stopped_early and len(c.history["val_loss"]) < 80
    assert len(c.history["val_loss"]) == c.best_epoch + 10  # patience 10
    w.controls["dropout"].value = 0.5
    _ok(w)
    assert "dropout" not in w.errors


def test_gradient_check_explorer_best_steps():
    w = widgets.gradient_check_explorer()
    _ok(w)
    best = w.controller.best
    assert best[("centred", "float64")][1] < best[("forward", "float64")][1] < best[("forward", "float32")][1]
    assert 1e-7 < best[("centred", "float64")][0] < 1e-3
    w.controls["methods"].value = ("centred",)
    assert set(m for m, _ in w.controller.best) == {"centred"}


def test_linear_classifier_explorer_scores_are_template_matches():
    w = widgets.linear_classifier_explorer()
    _ok(w)
    c = w.controller
    assert c.predicted == c.label
    W_ = c.clf.W
    x = c.X[c.index]
    np.testing.assert_allclose(c.scores, x @ W_[:-1] + W_[-1])
    w.controls["next_mistake"].click()
    assert c.predicted != c.label


def test_errors_in_handlers_are_shown_then_cleared_when_the_explorer_recovers():
    w = widgets.gate_explorer()
    w.guard(lambda: 1 / 0)()
    assert "ZeroDivisionError" in w.errors[-1] and "ZeroDivisionError" in w.info.value
    assert any("ZeroDivisionError" in o.get("text", "") for o in w.output.outputs)
    w.controls["x"].value = 1.0  # a handler that succeeds: the traceback no longer describes the picture
    assert w.output.outputs == () and "Error" not in w.info.value
    assert len(w.errors) == 1  # kept for tests and bug reports


# ------------------------------------------------------------------------------------------ bursts
def _burst(w, rng, per_control: int = 3):
    """Every control's quick gesture, interleaved, fired from two threads at once without waiting for any
    redraw: more than a kernel delivers while a handler runs."""
    changes = [(ctl, v) for ctl in controls_of(w).values() for v in moves(ctl, rng, per_control)]
    order = rng.permutation(len(changes))
    halves = [order[0::2], order[1::2]]
    errors = []

    def fire(idx):
        try:
            for i in idx:
                ctl, v = changes[i]
                ctl.value = v
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=fire, args=(h,)) for h in halves]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    return {k: c.value for k, c in controls_of(w).items()}


@pytest.mark.parametrize("name", widgets.__all__)
def test_a_burst_of_changes_ends_on_the_view_of_the_final_controls(name):
    rng = np.random.default_rng(sum(map(ord, name)))
    w = getattr(widgets, name)().wait()
    final = _burst(w, rng)
    w.wait()
    assert w.errors == [], w.errors[-1] if w.errors else ""
    assert w.output.outputs == ()
    assert {k: c.value for k, c in controls_of(w).items()} == final
    # The same explorer built afresh and given the final values one by one must show the same picture:
    # nothing shown may come from a state that the burst passed through.
    fresh = getattr(widgets, name)().wait()
    for key, ctl in controls_of(fresh).items():
        ctl.value = final[key]
    fresh.wait()
    assert fresh.errors == []
    assert bytes(w.image.value) == bytes(fresh.image.value), f"{name}: the figure does not show the final controls"
    assert w.info.value == fresh.info.value


def test_a_change_supersedes_a_background_run_instead_of_queuing_behind_it():
    w = widgets.regularization_explorer(epochs=300).wait()
    c = w.controller
    w.controls["epochs"].value = 290  # a 290-epoch run starts in the background ...
    while len(c.history["val_loss"]) < 2:
        threading.Event().wait(0.01)
    w.controls["epochs"].value = 20  # ... and is abandoned for this one
    w.wait()
    assert len(c.history["val_loss"]) == 20 and w.errors == []


def test_the_regularization_explorer_shows_the_next_epochs_axes_drawn_ahead():
    # a run ends, then the empty axes of one slider step either way are drawn while nobody waits: the next
    # move shows them with no drawing before the picture, pixel for pixel what a full draw of them shows
    w = widgets.regularization_explorer(epochs=20).wait()
    canvas, draws, first = w.view.figure.canvas, [], []
    draw = canvas.draw
    canvas.draw = lambda *a, **k: (draws.append("full"), draw(*a, **k))
    w.image.observe(lambda change: first.append((list(draws), change["new"])) if not first else None, names="value")
    w.controls["epochs"].value = 30
    w.wait()
    assert first and first[0][0] == [], first[0][0]
    c, shown = w.controller, first[0][1]
    run = {k: list(v) for k, v in c.history.items()}
    for v in c.history.values():
        v.clear()
    kept = {k: w.view.__dict__.pop(k) for k in ("_backgrounds", "_bases")}
    assert bytes(shown) == bytes(w.figure_png())  # nothing kept: the empty 30-epoch axes drawn in full
    w.view.__dict__.update(kept)
    c.history.update(run)
    assert len(run["val_loss"]) == 30 and w.errors == []


def test_an_explorer_written_with_a_draw_function_still_draws_and_updates():
    # explorers written before views pass draw(new) -> Figure; each update then makes a new figure
    import ipywidgets as W

    from deepgrad.widgets._common import Explorer

    state = {"k": 1.0}
    k_w = W.FloatSlider(value=1.0, min=0.5, max=3.0)

    def draw(new):
        fig, ax = new()
        ax.plot([0, 1], [0, state["k"]])
        return fig

    ex = Explorer(state, draw, [k_w], figsize=(4.0, 3.0))
    ex.on_change([k_w], lambda: (state.update(k=k_w.value), ex.refresh()))
    ex.refresh()
    before = bytes(ex.image.value)
    k_w.value = 2.5
    assert ex.errors == [] and bytes(ex.image.value).startswith(PNG) and bytes(ex.image.value) != before
    assert ex.figure.axes[0].lines[0].get_ydata()[1] == 2.5
