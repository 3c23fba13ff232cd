"""Lessons 05-08: each exercise filled in with the notebook's own solution and with the slips students make.

The lesson's own check cell gives the verdict (tests/exercises.py runs the lesson up to the answer cell, then the
given answer, then the check cell). The wrong answers below are the classic ones; each must be caught, and the
check must say what is wrong in words the student can act on.
"""
from __future__ import annotations

import pytest

import exercises

L05, L06, L07, L08 = "05_neural_networks", "06_backprop", "07_jacobians", "08_autodiff"
EXERCISES = [(L05, "hidden-layer-gradient"), (L06, "staged-backward"), (L07, "tanh-vjp"),
             (L07, "softmax-jacobian"), (L08, "engine-backward"), (L08, "softplus-node")]


def _slip(lesson: str, exercise: str, old: str, new: str) -> str:
    """The notebook's own solution with one line changed (the change must apply exactly once)."""
    source = exercises.solution(lesson, exercise)
    assert source.count(old) == 1, f"{old!r} must occur once in the solution of {exercise}"
    return source.replace(old, new)


def test_the_lessons_have_the_exercises_the_tests_know():
    for lesson in (L05, L06, L07, L08):
        assert exercises.exercise_ids(lesson) == [e for lo, e in EXERCISES if lo == lesson]


@pytest.mark.parametrize("lesson, exercise", EXERCISES)
def test_the_stub_says_it_is_not_written_yet(lesson, exercise):
    exercises.assert_stub_says_not_written(lesson, exercise)


@pytest.mark.parametrize("lesson, exercise", EXERCISES)
def test_the_solution_passes(lesson, exercise):
    out = exercises.check(lesson, exercise, exercises.solution(lesson, exercise))
    assert "✓ Right" in out, out
    assert "not yet" not in out.lower() and "✗" not in out, out


# ----------------------------------------------------------------------------------------- lesson 05
@pytest.mark.parametrize("old, new, says", [
    # forgot the 1/N of the average: the checker names the factor N on the data part
    ("ds = (p - y) / N ", "ds = (p - y) ", ["W1 (shape (4, 3)): max relative error", "In the data part of the gradient (without the regulariser): your gradient is N = 5 times", "b1 (shape (3,))", "Your gradient is N = 5 times"]),
    # forgot the penalty's gradient
    ("dW1 = X.T @ dZ + 2 * lam * W1", "dW1 = X.T @ dZ", ["regularisation gradient is added", "seems to be missing"]),
    # the product written the other way round: (K, D) instead of (D, K)
    ("dW1 = X.T @ dZ + 2 * lam * W1", "dW1 = (X.T @ dZ + 2 * lam * W1).T", ["has shape (3, 4) but W1 has shape (4, 3)"]),
    # skipped the sigmoid's slope
    ("dZ = dA * A * (1 - A)", "dZ = dA", ["entries disagree"]),
])
def test_05_hidden_layer_slips(old, new, says):
    out = exercises.check(L05, "hidden-layer-gradient", _slip(L05, "hidden-layer-gradient", old, new))
    assert "✗ Not yet" in out and "✓ Right" not in out, out
    for words in says:
        assert words in out, f"{words!r} not in:\n{out}"


# ----------------------------------------------------------------------------------------- lesson 06
@pytest.mark.parametrize("old, new, first, says", [
    # overwrote x's gradient at its third use instead of adding: the stages are right, x is not
    ("dx += 1 * dnum ", "dx = 1 * dnum ", "dx", ["x is used by 3 stages (num, sigx, xpy)", "(+=)"]),
    # the derivative of 1/den without its minus sign
    ("dden = (-1 / den ** 2) * dinvden", "dden = (1 / den ** 2) * dinvden", "dden",
     ["look at the line that computes dden", "It has the opposite sign of the right value."]),
    # the derivative of xpy**2 without its 2
    ("dxpy = 2 * xpy * dxpysqr", "dxpy = xpy * dxpysqr", "dxpy", ["look at the line that computes dxpy", "It is half the right value."]),
    # the sigmoid's local gradient taken as sigma instead of sigma (1 - sigma)
    ("dy += sigy * (1 - sigy) * dsigy", "dy += sigy * dsigy", "dy", ["y is used by 2 stages (sigy, xpy)"]),
])
def test_06_staged_backward_slips(old, new, first, says):
    out = exercises.check(L06, "staged-backward", _slip(L06, "staged-backward", old, new))
    assert f"✗ Not yet: the first gradient that is off, walking back from f, is {first}." in out, out
    for words in says:
        assert words in out, f"{words!r} not in:\n{out}"


# ----------------------------------------------------------------------------------------- lesson 07
@pytest.mark.parametrize("new, says", [
    ("dout * (np.tanh(a) ** 2 - 1)", ["opposite sign"]),               # 1 - tanh^2 written the other way round
    ("dout * (1 - np.tanh(a))", ["entries disagree"]),                  # the square forgotten
    ("(1 - np.tanh(a) ** 2)", ["entries disagree"]),                    # the local slope alone, no upstream gradient
])
def test_07_tanh_vjp_slips(new, says):
    out = exercises.check(L07, "tanh-vjp", _slip(L07, "tanh-vjp", "dout * (1 - np.tanh(a) ** 2)", new))
    assert "✗ Not yet" in out, out
    for words in says:
        assert words in out, f"{words!r} not in:\n{out}"


@pytest.mark.parametrize("new, says", [
    ("-np.outer(p, p)", "only the -p_i p_j part is there: the diagonal misses a term"),       # forgot the delta_ij term
    ("np.diag(p * (1 - p))", "only the diagonal is there, as for an elementwise function"),   # softmax taken as elementwise
    ("np.outer(p, p) - np.diag(p)", "it has the wrong sign everywhere"),
    ("np.diag(p) - np.outer(p, p).sum(axis=0)", "entries are off"),                           # a row where a matrix was meant
    ("(np.diag(p) - np.outer(p, p))[:, :2]", "your Jacobian has shape (3, 2)"),
])
def test_07_softmax_jacobian_slips(new, says):
    out = exercises.check(L07, "softmax-jacobian",
                          _slip(L07, "softmax-jacobian", "np.diag(p) - np.outer(p, p)", new))
    assert "✗ Not yet" in out, out
    assert says in out, f"{says!r} not in:\n{out}"


# ----------------------------------------------------------------------------------------- lesson 08
@pytest.mark.parametrize("old, new, says", [
    # overwrote at a branch: a (used twice) keeps only the last message
    ("grads[id(parent)] = grads.get(id(parent), 0) + pg", "grads[id(parent)] = pg",
     "a receives two messages, one per use: they must be added (+=), not overwritten"),
    # walked the topological order forwards
    ("for node in reversed(order):", "for node in order:", "Walk the topological order in reverse"),
    # no seed at all
    ("grads = {id(loss): np.ones_like(loss.data)}", "grads = {}", "seed the walk with d loss/d loss = 1"),
    # a seed of 0 instead of 1
    ("grads = {id(loss): np.ones_like(loss.data)}", "grads = {id(loss): np.zeros_like(loss.data)}",
     "with the seed 1 (d loss/d loss); it received"),
    # the leaves never receive their gradient
    ("node.grad = g if node.grad is None else np.asarray(node.grad) + g", "pass",
     "leaf a has no .grad"),
])
def test_08_engine_backward_slips(old, new, says):
    out = exercises.check(L08, "engine-backward", _slip(L08, "engine-backward", old, new))
    assert out.startswith("✗ Not yet: "), out
    assert says in out, f"{says!r} not in:\n{out}"


def test_08_engine_backward_refuses_the_engine_itself():
    """Calling the engine's own backward is not writing one."""
    out = exercises.check(L08, "engine-backward", "def my_backward(loss):\n    loss.backward()\n")
    assert out.startswith("✗ Not yet: "), out
    assert "calls the engine's own .backward()" in out, out


@pytest.mark.parametrize("old, new, says", [
    ("s = 1 / (1 + np.exp(-a))", "s = np.exp(a)", "the VJP and the JVP are off"),           # e^t, the numerator only
    ("vjp=lambda g: (g * s,)", "vjp=lambda g: (s,)", "the VJP is off"),                     # forgot the upstream gradient
    ("jvp=lambda da: s * da", "jvp=lambda da: s", "the JVP is off"),                         # forgot the tangent
])
def test_08_softplus_slips(old, new, says):
    out = exercises.check(L08, "softplus-node", _slip(L08, "softplus-node", old, new))
    assert "✗ Not yet" in out and says in out, out
