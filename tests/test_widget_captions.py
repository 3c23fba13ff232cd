"""Every explorer's caption says what its picture shows.

Each test moves one explorer through its controls headlessly (setting ``.value``, as a person moving them) and,
in every state, reads the numbers back from the picture's artists (the plotted lines, bars, markers, image
pixels and texts) and checks the caption (``widget.info``) against them: each number it quotes, and each verdict
it draws ("vanish", "zig-zag", "right"), recomputed from what is drawn. ``test_every_explorer_is_covered``
keeps the list complete.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import html
import itertools
import re

import numpy as np
import pytest

from deepgrad import widgets
from deepgrad.viz.style import GRADIENT

NUMBER = r"(-?[\d.]+(?:e[+-]?\d+)?|inf)"


def _caption(w) -> str:
    """The caption as a person reads it: tags dropped, entities decoded."""
    w.wait()
    assert w.errors == [], w.errors[-1] if w.errors else ""
    return html.unescape(re.sub(r"<[^>]+>", "", w.info.value))


def _close(said: str, drawn: float, digits: int = 3) -> bool:
    """True when the caption's number ``said`` is ``drawn`` written with ``digits`` significant figures."""
    return float(said) == pytest.approx(float(f"{drawn:.{digits}g}"), rel=1e-9, abs=1e-300) or \
        float(said) == pytest.approx(drawn, rel=10 ** (1 - digits))


def _set(w, **values):
    for name, value in values.items():
        w.controls[name].value = value
    w.wait()


# ------------------------------------------------------------------------------------------ init explorer
def _init_states():
    for depth, act, init in itertools.product((1, 2, 4, 6, 10), ("tanh", "sigmoid", "relu"),
                                              ("normal", "xavier", "kaiming", "constant")):
        scales = (0.01, 0.05, 0.3, 1.0) if init in ("normal", "constant") else (0.05,)
        for scale in scales:
            yield dict(depth=depth, activation=act, init=init, scale=scale)


def test_init_explorer_judges_the_rate_it_draws():
    from deepgrad.widgets.initialization import KEEP

    w = widgets.init_explorer()
    view = w.view
    lo, hi = view.STD_RANGE
    rng = np.random.default_rng(0)
    states = list(_init_states())
    picked = [states[i] for i in sorted(rng.choice(len(states), 30, replace=False))]
    picked.append(dict(depth=4, activation="tanh", init="normal", scale=0.05))   # the case
    for state in picked:
        _set(w, **state)
        text = _caption(w)
        acts, grads = (np.asarray(line.get_ydata(), dtype=float) for line in view.std_lines)
        L = len(acts)
        assert L == state["depth"] == len(grads), (state, text)
        assert f"depth {L}" in view.title.get_text()

        def agrees(said, drawn):
            # the picture clips its log axis to STD_RANGE: a clipped point only says "beyond the range"
            if drawn <= lo * (1 + 1e-9):
                return float(said) <= lo
            if drawn >= hi * (1 - 1e-9):
                return float(said) >= hi
            return _close(said, drawn)

        if L == 1:
            m = re.search(rf"One layer: activation std {NUMBER}, gradient std {NUMBER}\.", text)
            assert m and agrees(m[1], acts[0]) and agrees(m[2], grads[0]), (state, text)
            continue
        m = re.search(rf"Activation std: layer 1 {NUMBER} → layer (\d+) {NUMBER}, ×{NUMBER} per layer: "
                      rf"activations (vanish with depth|explode with depth|keep their scale)\. "
                      rf"Gradient std: layer (\d+) {NUMBER} → layer 1 {NUMBER}, ×{NUMBER} per layer: "
                      rf"gradients (vanish on the way back|explode on the way back|keep their scale)\.", text)
        assert m, (state, text)
        assert int(m[2]) == int(m[6]) == L
        assert agrees(m[1], acts[0]) and agrees(m[3], acts[-1]), (state, text, acts)
        assert agrees(m[7], grads[-1]) and agrees(m[8], grads[0]), (state, text, grads)
        for first, last, factor, verdict in ((m[1], m[3], m[4], m[5]), (m[7], m[8], m[9], m[10])):
            first, last = float(first), float(last)
            rate = (last / first) ** (1 / (L - 1)) if first else 1.0
            assert _close(factor, rate, 2) or float(factor) >= 10 and round(rate) == float(factor), (state, text)
            word = "vanish" if rate < KEEP[0] else "explode" if rate > KEEP[1] else "keep"
            assert verdict.startswith(word), (state, text, rate)
        # the verdict is per layer: the same factor says the same thing at every depth
        if (state["activation"], state["init"], state["scale"]) == ("tanh", "normal", 0.05):
            assert "activations vanish" in text


# --------------------------------------------------------------------------------------- optimiser race
def test_optimizer_race_caption_says_which_paths_zig_zag_and_where_they_end():
    from deepgrad.viz.landscape import SURFACES
    from deepgrad.widgets.optimizers import ZIGZAG, reversals

    w = widgets.optimizer_race(steps=150)
    c = w.controller
    states = [{}, dict(momentum=0.0), dict(lr=0.15), dict(momentum=0.5, lr=0.05), dict(steps=60),
              dict(surface="Rosenbrock"), dict(adaptive_lr=0.01), dict(surface="saddle"), dict(lr=0.5)]
    seen = set()
    for state in states:
        _set(w, **state)
        text = _caption(w)
        surface = SURFACES[c.surface_name]
        assert "zig" not in surface.note.lower() and "SGD" not in surface.note   # said only from the paths below
        paths = {name: np.column_stack([line.get_xdata(), line.get_ydata()]).astype(float)
                 for name, (line, _end) in w.view.artists[c.surface_name].items()}
        m = re.search(r"Final loss after (\d+) steps, best first: (.*?)\. (?:Zig|No path)", text)
        assert m, text
        assert f"{m[1]} steps each" in w.view.axes[c.surface_name].get_title()
        board = dict(re.findall(r"(SGD \+ momentum|SGD|Adagrad|RMSprop|Adam) (diverged|\S+?)(?:,|$)", m[2]))
        assert set(board) == set(paths), text
        for name, path in paths.items():
            assert len(path) == int(m[1]) + 1
            if board[name] == "diverged":
                assert not np.isfinite(path[-1]).all(), (name, text)
            else:
                end = path[-1]
                assert _close(board[name], float(surface(end[0], end[1]))), (name, text)
        turns = {name: max(reversals(p[:, 0], surface.xlim), reversals(p[:, 1], surface.ylim))
                 for name, p in paths.items()}
        zigzag = {name for name, t in turns.items() if t >= ZIGZAG}
        said = dict(re.findall(r"(SGD \+ momentum|SGD|Adagrad|RMSprop|Adam) \((\d+) times\)", text))
        assert set(said) == zigzag, (state, text, turns)
        assert all(int(n) == turns[k] for k, n in said.items())
        assert ("No path zig-zags" in text) == (not zigzag)
        if not state:   # the defaults on the bowl: momentum zig-zags, plain SGD does not
            assert "SGD + momentum" in zigzag and "SGD" not in zigzag
        seen |= zigzag
    assert "SGD" in seen  # a larger learning rate makes plain SGD zig-zag too


# ------------------------------------------------------------------------------------- regularisation
def test_regularization_caption_reads_the_curves():
    w = widgets.regularization_explorer(epochs=30)
    view = w.view
    for state in ({}, dict(early_stopping=True, epochs=80), dict(dropout=0.5, early_stopping=False, epochs=20)):
        _set(w, **state)
        text = _caption(w)
        drawn = {k: np.asarray(line.get_ydata(), dtype=float) for k, line in view.lines.items()}
        last = len(drawn["val_loss"])
        m = re.search(rf"At epoch (\d+), the last: training accuracy (\d+)%, validation accuracy (\d+)%; "
                      rf"validation loss minus training loss {NUMBER}\. Lowest validation loss {NUMBER}, "
                      rf"at epoch (\d+)\.", text)
        assert m, text
        assert int(m[1]) == last
        assert int(m[2]) == round(100 * drawn["train_acc"][-1]) and int(m[3]) == round(100 * drawn["val_acc"][-1])
        assert float(m[4]) == pytest.approx(drawn["val_loss"][-1] - drawn["train_loss"][-1], abs=6e-4)
        assert float(m[5]) == pytest.approx(drawn["val_loss"].min(), abs=6e-4)
        best = int(m[6])
        assert best == int(np.argmin(drawn["val_loss"])) + 1 == view.best.get_xdata()[0]
        stopped = re.search(r"Early stopping ended training at epoch (\d+) and restored the weights of epoch (\d+) "
                            r"\(validation accuracy (\d+)% there\)", text)
        if stopped:
            assert int(stopped[1]) == last < w.controller.epochs and int(stopped[2]) == best
            assert int(stopped[3]) == round(100 * drawn["val_acc"][best - 1])
        else:
            assert last == w.controller.epochs


# ------------------------------------------------------------------------------------ decision boundary
def test_decision_boundary_caption_reads_the_picture():
    w = widgets.decision_boundary_explorer(dataset="XOR", steps=100, chunk=50)
    view = w.view
    for dataset in ("XOR", "spiral"):
        _set(w, dataset=dataset)
        text = _caption(w)
        points = sum(len(p.get_xdata()) for p in view.points)
        m = re.search(r"(\d+) points, (\d+) classes; untrained accuracy (\d+)%\.", text)
        assert m and int(m[1]) == points and int(m[2]) == len(view.points), text
        assert f"(training accuracy {m[3]}%)" in view.ax.get_title()
        for _ in range(2):
            w.controls["train"].click()
            text = _caption(w)
            losses = np.asarray(view.curve.get_ydata(), dtype=float)
            m = re.search(rf"step (\d+): loss {NUMBER}, accuracy (\d+)%", text)
            assert m and int(m[1]) == len(losses) == w.controller.steps, text
            assert float(m[2]) == pytest.approx(losses[-1], abs=6e-5)
            assert f"Loss after {m[1]} steps: {losses[-1]:.3f}" == view.ax_loss.get_title()
            assert f"(training accuracy {m[3]}%)" in view.ax.get_title()


# ---------------------------------------------------------------------------------------- gradient check
def test_gradient_check_table_matches_the_marked_best_points():
    w = widgets.gradient_check_explorer()
    view = w.view
    states = [{}, dict(function="exp", x=2.0), dict(methods=("centred",)), dict(dtypes=("float32",)),
              dict(function="x³", x=0.0, methods=("forward", "centred"), dtypes=("float32", "float64"))]
    for state in states:
        _set(w, **state)
        rows = re.findall(rf"<tr><td>(\w+)</td><td>(\w+)</td><td>{NUMBER}</td><td>{NUMBER}</td></tr>", w.info.value)
        shown = {key for key, (line, _, _) in view.artists.items() if line.get_visible()}
        assert {(m, d) for m, d, _, _ in rows} == shown, (state, rows)
        for m, d, h, e in rows:
            _, best, note = view.artists[(m, d)]
            assert float(h) == pytest.approx(best.get_xdata()[0], rel=0.5)      # written as 1e-05
            assert float(e) == pytest.approx(max(best.get_ydata()[0], 0), rel=0.06) or \
                best.get_ydata()[0] == view.FLOOR and float(e) <= view.FLOOR
            assert note.get_text() == f"best h ≈ {float(h):.0e}"


# ----------------------------------------------------------------------------------- linear classifier
def test_linear_classifier_caption_reads_the_bars():
    w = widgets.linear_classifier_explorer()
    view = w.view
    for state in ({}, dict(index=5), dict(index=40), "mistake", dict(index=200), "mistake"):
        if state == "mistake":
            w.controls["next_mistake"].click()
        else:
            _set(w, **state)
        text = _caption(w)
        widths = np.array([bar.get_width() for bar in view.bars])
        m = re.search(rf"Image (\d+): true (\d), predicted (\d) \((right|wrong)\); top score {NUMBER}\.", text)
        assert m, text
        assert view.ax_img.get_title() == f"test image {m[1]}\ntrue label {m[2]}"
        assert int(m[3]) == int(np.argmax(widths)) and float(m[5]) == pytest.approx(widths.max(), abs=6e-3)
        assert (m[4] == "right") == (m[2] == m[3])
        assert view.ax.get_title().startswith(f"predicted {m[3]} ({m[4]})")


# ------------------------------------------------------------------------------------------- Jacobians
def test_jacobian_caption_counts_what_the_image_shows():
    w = widgets.jacobian_explorer()
    view = w.view
    states = [{}, dict(batch=4), dict(wrt="weights"), dict(n_out=1), dict(wrt="input", batch=1),
              dict(layer="relu", batch=1, n_in=1), dict(layer="tanh", batch=3, n_in=5), dict(layer="linear", n_out=6)]
    for state in states:
        _set(w, **state)
        text = _caption(w)
        cells = view.mesh.get_array()  # the matrix drawn, its zero cells masked (left out of the picture)
        pixels = np.ma.filled(cells.astype(float), np.nan)
        m = re.search(r"J has ([\d,]+) entries and ([\d,]+) of them are non-zero \(([\d.]+)%\)\. Building it and "
                      r"multiplying costs ([\d,]+) multiply-adds; the VJP costs ([\d,]+)\.", text)
        assert m, text
        entries, nonzero, dense, vjp = (int(m[i].replace(",", "")) for i in (1, 2, 4, 5))
        assert entries == pixels.size == dense and nonzero == int(np.isfinite(pixels).sum())
        assert float(m[3]) == pytest.approx(100 * nonzero / entries, abs=0.051)
        title = view.ax.get_title()
        assert f"shape {pixels.shape[0]}×{pixels.shape[1]}, {nonzero} non-zeros" in title
        assert (f"({dense // vjp}× fewer)" if dense > vjp else "(as many: J has nothing to skip)") in title


# ------------------------------------------------------------------------------------ graph explorers
def _gradient_texts(w) -> set[str]:
    """The gradients the graph picture writes below its wires, as numbers."""
    return {t.get_text().replace("−", "-") for ax in w.figure.axes for t in ax.texts
            if matplotlib.colors.same_color(t.get_color(), GRADIENT)}


def _drawn(value: float, drawn: set[str]) -> bool:
    """True when the picture writes ``value`` (with its three significant figures)."""
    return any(float(t) == pytest.approx(value, rel=5e-3, abs=5e-3) for t in drawn if re.fullmatch(NUMBER, t))


GATE_SAYS = {
    "add": rf"∂L/∂x = ∂L/∂y = g = {NUMBER}\.",
    "mul": rf"∂L/∂x = g·y = \S+ = {NUMBER}, ∂L/∂y = g·x = \S+ = {NUMBER}\.",
    "max": rf"only the larger input \((x|y)\) affected the output, so it gets the whole gradient g = {NUMBER}; "
           rf"(x|y) gets 0\.",
    "sigmoid": rf"∂L/∂x = g·σ\(x\)\(1 − σ\(x\)\) = \S+ = {NUMBER};",
}


def test_gate_explanations_quote_the_gradients_drawn():
    w = widgets.gate_explorer()
    for gate, x, y, g in itertools.product(GATE_SAYS, (-2.5, 3.0), (-4.0, 1.5), (2.0, -0.5)):
        _set(w, gate=gate, x=x, y=y, upstream=g)
        text, drawn = _caption(w), _gradient_texts(w)
        m = re.search(GATE_SAYS[gate], text)
        assert m, (gate, text)
        if gate == "add":
            assert _drawn(float(m[1]), drawn) and float(m[1]) == pytest.approx(g, abs=6e-3)
        elif gate == "mul":
            assert _drawn(float(m[1]), drawn) and _drawn(float(m[2]), drawn)
            assert (float(m[1]), float(m[2])) == pytest.approx((g * y, g * x), abs=6e-3)
        elif gate == "max":
            assert m[1] == ("x" if x >= y else "y") and m[3] != m[1]
            assert _drawn(float(m[2]), drawn) and _drawn(0.0, drawn)
        else:
            assert _drawn(float(m[1]), drawn)


def test_backprop_table_and_labels_quote_the_gradients_drawn():
    w = widgets.backprop_explorer()
    for x, y, z in ((-2.0, 5.0, -4.0), (1.5, -0.5, 2.0), (0.0, 0.0, 3.0)):
        for name, v in zip("xyz", (x, y, z), strict=True):
            w.controls["sliders"][name].value = v
        w.wait()
        drawn = _gradient_texts(w)
        rows = {k: (float(a), float(b)) for k, a, b in
                re.findall(rf"∂f/∂(\w)</td><td[^>]*>{NUMBER}</td><td[^>]*>{NUMBER}</td>", w.fd.value)}
        expect = {"x": z, "y": z, "z": x + y}
        assert set(rows) == set(expect)
        for k, want in expect.items():
            label = float(re.search(rf"= {NUMBER}$", w.labels[k].value)[1])
            assert _drawn(label, drawn) and rows[k][1] == pytest.approx(label, abs=6e-4)
            assert rows[k] == pytest.approx((want, want), abs=1e-5)


def test_every_explorer_is_covered():
    tested = {"init_explorer", "optimizer_race", "regularization_explorer", "decision_boundary_explorer",
              "gradient_check_explorer", "linear_classifier_explorer", "jacobian_explorer", "gate_explorer",
              "backprop_explorer"}
    assert set(widgets.__all__) == tested
