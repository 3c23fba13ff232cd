"""The exercises of lessons 01-04, filled in from a test: each lesson's own check cell gives the verdict.

Every exercise is run three ways (tests/exercises.py runs the lesson up to the answer cell, then the given
code, then the check cell): as the student finds it (the stub: one "not written yet" line), with the lesson's own
solution (its check says right), and with the slips students make (its check says not yet and, where the gradient
checker can tell, names the slip). The slips live here, not in the notebooks.
"""
from __future__ import annotations

import nbformat
import pytest

import exercises

LESSONS = {
    "01_linear_classifiers": ["bias-trick-scores", "score-gradient", "ring-feature"],
    "02_losses": ["svm-gradient"],
    "03_gradient_descent": ["regression-gradient"],
    "04_computing_gradients": ["logistic-unit-gradient"],
}
ALL = [(lesson, ex) for lesson, ids in LESSONS.items() for ex in ids]

# The answers students write, wrong in the classic ways, and what the lesson's check must say about each.
WRONG = {
    ("01_linear_classifiers", "bias-trick-scores"): [
        ("the bias left out", "def scores_with_bias_trick(X, W):\n    return X @ W[:-1]\n",
         ["scores without the bias"]),
        ("the ones column first", "def scores_with_bias_trick(X, W):\n"
                                  "    return np.hstack([np.ones((X.shape[0], 1)), X]) @ W\n",
         ["column of ones comes first"]),
        ("the product transposed", "def scores_with_bias_trick(X, W):\n"
                                   "    return W.T @ np.hstack([X, np.ones((X.shape[0], 1))]).T\n",
         ["should have shape (N, C)"]),
    ],
    ("01_linear_classifiers", "score-gradient"): [
        ("transposed", "def score_gradient(x, W, c):\n    g = np.zeros(W.shape[::-1])\n"
                       "    g[c] = np.append(x, 1.0)\n    return g\n", ["Transposed, it matches"]),
        ("the bias entry forgotten", "def score_gradient(x, W, c):\n    g = np.zeros((len(x), W.shape[1]))\n"
                                     "    g[:, c] = x\n    return g\n", ["has shape (4, 3) but W has shape (5, 3)"]),
        ("the input in every column", "def score_gradient(x, W, c):\n"
                                      "    return np.tile(np.append(x, 1.0)[:, None], (1, W.shape[1]))\n",
         ["✗ Not OK"]),
        ("the derivative with respect to x", "def score_gradient(x, W, c):\n    return W[:-1, c]\n",
         ["has shape (4,) but W has shape (5, 3)"]),
    ],
    ("01_linear_classifiers", "ring-feature"): [
        ("XOR's product feature", "def with_ring_feature(X):\n    return np.c_[X, X[:, 0] * X[:, 1]]\n",
         ["the classes still overlap"]),
        ("a linear feature", "def with_ring_feature(X):\n    return np.c_[X, X.sum(axis=1)]\n",
         ["the classes still overlap"]),
        ("the coordinates dropped", "def with_ring_feature(X):\n    return (X ** 2).sum(axis=1, keepdims=True)\n",
         ["should return shape (N, 3)"]),
    ],
    ("02_losses", "svm-gradient"): [
        ("the 1/N forgotten", """def svm_gradient(scores, y):
    n = scores.shape[0]
    margins = scores - scores[np.arange(n), y][:, None] + 1
    margins[np.arange(n), y] = 0
    d = (margins > 0).astype(float)
    d[np.arange(n), y] = -d.sum(axis=1)
    return d
""", ["N = 5 times"]),
        ("the sign flipped", """def svm_gradient(scores, y):
    n = scores.shape[0]
    margins = scores - scores[np.arange(n), y][:, None] + 1
    margins[np.arange(n), y] = 0
    d = (margins > 0).astype(float)
    d[np.arange(n), y] = -d.sum(axis=1)
    return -d / n
""", ["opposite sign"]),
        ("-1 for the correct class, not minus the count", """def svm_gradient(scores, y):
    n = scores.shape[0]
    margins = scores - scores[np.arange(n), y][:, None] + 1
    margins[np.arange(n), y] = 0
    d = (margins > 0).astype(float)
    d[np.arange(n), y] = -1.0 * (d.sum(axis=1) > 0)
    return d / n
""", ["✗ Not OK"]),
        ("the correct class's branch forgotten", """def svm_gradient(scores, y):
    n = scores.shape[0]
    margins = scores - scores[np.arange(n), y][:, None] + 1
    margins[np.arange(n), y] = 0
    return (margins > 0).astype(float) / n
""", ["✗ Not OK"]),
    ],
    ("03_gradient_descent", "regression-gradient"): [
        ("the residual the wrong way round", """def regression_gradients(w, b, X, y):
    r = y - X @ w - b
    return 2 / len(y) * X.T @ r, 2 / len(y) * r.sum()
""", ["opposite sign"]),
        ("a sum instead of a mean", """def regression_gradients(w, b, X, y):
    r = X @ w + b - y
    return 2 * X.T @ r, 2 * r.sum()
""", ["N = 200 times"]),
        ("the factor 2 forgotten", """def regression_gradients(w, b, X, y):
    r = X @ w + b - y
    return X.T @ r / len(y), r.sum() / len(y)
""", ["is half"]),
        ("the bias's gradient not summed", """def regression_gradients(w, b, X, y):
    r = X @ w + b - y
    return 2 / len(y) * X.T @ r, 2 / len(y) * r
""", ["has shape (200,) but b has shape ()"]),
    ],
    ("04_computing_gradients", "logistic-unit-gradient"): [
        ("the sign flipped", "def logistic_unit_gradient(w, X, y):\n    s = sigmoid(X @ w)\n"
                             "    return X.T @ (y - s)\n", ["opposite sign"]),
        ("sigma' kept after it cancelled", "def logistic_unit_gradient(w, X, y):\n    s = sigmoid(X @ w)\n"
                                           "    return X.T @ ((s - y) * s * (1 - s))\n", ["✗ Not OK"]),
        ("a mean instead of the sum", "def logistic_unit_gradient(w, X, y):\n    s = sigmoid(X @ w)\n"
                                      "    return X.T @ (s - y) / len(y)\n", ["1/N = 1/20"]),
    ],
}

CASES = [pytest.param(lesson, ex, source, words, id=f"{lesson[:2]}-{ex}-{name.replace(' ', '_')}")
         for (lesson, ex), wrongs in WRONG.items() for name, source, words in wrongs]


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_each_lesson_has_its_exercises(lesson):
    assert exercises.exercise_ids(lesson) == LESSONS[lesson]


@pytest.mark.parametrize("lesson,ex", ALL, ids=[f"{lesson[:2]}-{ex}" for lesson, ex in ALL])
def test_the_stub_says_not_written_yet(lesson, ex):
    assert '"""' in exercises.stub(lesson, ex), "the answer cell is a stub with a docstring"
    exercises.assert_stub_says_not_written(lesson, ex)


@pytest.mark.parametrize("lesson,ex", ALL, ids=[f"{lesson[:2]}-{ex}" for lesson, ex in ALL])
def test_the_solution_passes_its_check(lesson, ex):
    out = exercises.check(lesson, ex, exercises.solution(lesson, ex))
    assert "Right" in out and "Not yet" not in out, out
    if "Gradient check" in out:
        assert "✓ OK" in out and "✗" not in out, out


@pytest.mark.parametrize("lesson,ex,source,words", CASES)
def test_a_classic_slip_is_caught_and_named(lesson, ex, source, words):
    out = exercises.check(lesson, ex, source)
    assert "Not yet" in out and "Right" not in out, out
    for w in words:
        assert w in out, f"the check should say {w!r}; it printed:\n{out}"


def test_gradient_descent_runs_on_the_students_gradients():
    """Lesson 03's check descends with the student's gradients: the solution finds the offset of 1.5."""
    out = exercises.check("03_gradient_descent", "regression-gradient",
                          exercises.solution("03_gradient_descent", "regression-gradient"))
    line = next(ln for ln in out.splitlines() if ln.startswith("w = "))
    b_found = float(line.split("b = ")[1].split()[0].rstrip(","))
    assert abs(b_found - 1.5) < 0.1, line


@pytest.mark.parametrize("lesson", list(LESSONS))
def test_hints_follow_checks_and_solutions_come_last(lesson):
    """The convention: a hint after each check cell, the solutions in the last section, out of sight."""
    cells = exercises.notebook(lesson).cells
    tags = [c.metadata.get("tags", []) for c in cells]
    for ex in LESSONS[lesson]:
        answer = tags.index([f"exercise:{ex}"])
        assert tags[answer + 1] == [f"check:{ex}"], f"{ex}: the check cell must follow the answer cell"
        hint = cells[answer + 2]
        assert hint.cell_type == "markdown" and hint.source.startswith(
            "<details><summary>Hint (open it when you are stuck)</summary>"), f"{ex}: no hint after the check"
        assert exercises.solution(lesson, ex).strip() not in hint.source
    headings = [i for i, c in enumerate(cells) if c.cell_type == "markdown" and "## Solutions to the exercises" in c.source]
    assert headings == [len(cells) - 1], "the solutions are the lesson's last cell"
    last = cells[-1].source
    assert last.rstrip().splitlines()[-1].startswith("[Course index](README.md)"), "the navigation links stay last"
    remember = [i for i, c in enumerate(cells) if "## What to remember" in c.source]
    assert remember and remember[-1] < headings[0], "What to remember comes before the solutions"
    nbformat.validate(exercises.notebook(lesson))
