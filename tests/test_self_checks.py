"""What a student sees before grading: A1's visible tests and A3's self-check, given the classic slips.

The released notebook's own cells are executed in order (set-up, the answer cells with one slip planted in
the reference answer, then the visible test or self-check cell), as Run All does in the lab. A visible test
that a classic slip passes teaches the wrong lesson, so each slip must fail there, and the message must
name the slip where the gradient checker can tell.
"""
from __future__ import annotations

import contextlib
import io
import json
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MARKERS = re.compile(r"^[ \t]*### (BEGIN|END) SOLUTION[ \t]*\n", re.M)


def _cells(folder: str, a: str) -> list[dict]:
    with open(os.path.join(ROOT, folder, a, f"{a}.ipynb")) as fh:
        return [c for c in json.load(fh)["cells"] if c["cell_type"] == "code"]


def _run(a: str, until: str, slip: tuple[str, str] | None = None, function: str = "") -> str:
    """Execute released notebook ``a`` up to and including the cell whose grade_id is ``until``: the
    set-up cell, the reference answers (with ``slip = (old, new)`` applied once to the definition of
    ``function``), and the target cell. Returns what the cells printed."""
    answers = [MARKERS.sub("", "".join(c["source"])) for c in _cells("solutions", a)
               if c["metadata"].get("nbgrader", {}).get("solution")]
    if slip:
        i = next(i for i, s in enumerate(answers) if f"def {function}(" in s)
        start = answers[i].index(f"def {function}(")
        end = answers[i].find("\ndef ", start + 1) % (len(answers[i]) + 1)    # the next def, or the end
        body = answers[i][start:end]
        assert body.count(slip[0]) == 1, f"the slip's text {slip[0]!r} must occur once in {function}"
        answers[i] = answers[i][:start] + body.replace(slip[0], slip[1]) + answers[i][end:]
    ns: dict = {"__name__": "__main__"}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for cell in _cells("assignments", a):
            meta = cell["metadata"].get("nbgrader", {})
            if meta.get("solution"):
                source = answers.pop(0)
            elif meta.get("grade_id") == until or "import numpy as np" in "".join(cell["source"]):
                source = "".join(cell["source"])            # the target cell, and the set-up cell
            else:
                continue                                   # other self-checks and tests: not needed
            exec(compile(source, f"<{a} {meta.get('grade_id')}>", "exec"), ns)
            if meta.get("grade_id") == until:
                return out.getvalue()
    raise LookupError(until)


@pytest.fixture(autouse=True)
def _quiet_plots(monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")


# ------------------------------------------------------------------------------ A1's visible tests
def test_a1_visible_tests_pass_on_the_reference():
    for part in ("svm_naive", "svm_vectorized", "softmax_naive", "softmax_vectorized", "features"):
        _run("A1", part)


# (graded cell, the slip as a text substitution in the reference answer, what the failure must say)
A1_SLIPS = [
    ("svm_naive", ("    dW /= N\n", ""), "N = 8 times the numerical one"),
    ("svm_naive", ("    loss /= N\n", ""), "1.75 expected"),
    ("svm_naive", ("    dW += 2 * reg * W\n", ""), "regulariser's term (2*reg*W for reg*sum(W**2)) seems to be missing"),
    ("svm_naive", ("    dW += 2 * reg * W\n", "    dW += reg * W\n"), "2*reg*W, not reg*W"),
    ("svm_naive", ("    loss += reg * np.sum(W * W)\n", ""), "1.75 expected"),
    ("svm_naive", ("                dW[:, j] += X[i]\n                dW[:, y[i]] -= X[i]\n",
                   "                dW[:, j] -= X[i]\n                dW[:, y[i]] += X[i]\n"), "opposite sign"),
    ("svm_naive", ("                dW[:, y[i]] -= X[i]\n", ""), "entries disagree"),
    ("svm_naive", ("            if j == y[i]:\n                continue\n", ""), "1.75 expected"),
    ("svm_vectorized", ("dW = X.T @ G / N + 2 * reg * W", "dW = X.T @ G + 2 * reg * W"), "N = 8 times"),
    ("svm_vectorized", ("    margins[rows, y] = 0.0\n", ""), "1.75 expected"),
    ("svm_vectorized", ("dW = X.T @ G / N + 2 * reg * W", "dW = (G.T @ X).T / N + reg * W"), "2*reg*W, not reg*W"),
    ("softmax_naive", ("    dW /= N\n", ""), "N = 8 times"),
    ("softmax_naive", ("    loss /= N\n", ""), "loss log(4)"),
    ("softmax_naive", ("    dW += 2 * reg * W\n", ""), "seems to be missing"),
    ("softmax_naive", ("dW[:, j] += (p - (j == y[i])) * X[i]", "dW[:, j] += ((j == y[i]) - p) * X[i]"), "opposite sign"),
    ("softmax_vectorized", ("dW = X.T @ G / N + 2 * reg * W", "dW = X.T @ G + 2 * reg * W"), "N = 8 times"),
    ("softmax_vectorized", ("dW = X.T @ G / N + 2 * reg * W", "dW = X.T @ G / N"), "seems to be missing"),
    ("softmax_vectorized", ("loss = -log_probs[rows, y].mean()", "loss = -log_probs[rows, y].sum()"), "loss log(4)"),
]


@pytest.mark.parametrize("part, slip, words", A1_SLIPS, ids=[f"{p}:{s[0].strip()[:30]}->{s[1].strip()[:30]}"
                                                           for p, s, _ in A1_SLIPS])
def test_a1_visible_tests_fail_for_the_classic_slips(part, slip, words):
    function = {"svm_naive": "svm_loss_naive", "svm_vectorized": "svm_loss_vectorized",
                "softmax_naive": "softmax_loss_naive", "softmax_vectorized": "softmax_loss_vectorized"}[part]
    with pytest.raises(AssertionError) as failed:
        _run("A1", part, slip, function)
    assert words in str(failed.value), str(failed.value)


# ------------------------------------------------------------------------------ A3's self-check
RULES = ("x ** 3", "exp", "log", "relu", "sigmoid", "tanh")


def _verdicts(printed: str) -> dict[str, bool]:
    """{rule: passed} from the self-check's 'Gradient check for the VJP of <rule> ...' lines."""
    found = re.findall(r"^Gradient check for the VJP of (.+?) \(shape .*?(✓ OK|✗ Not OK yet\.)$", printed, re.M)
    return {rule: mark == "✓ OK" for rule, mark in found}


def test_a3_self_check_passes_every_rule_of_the_reference():
    printed = _run("A3", "a3_locked_15")
    assert _verdicts(printed) == dict.fromkeys(RULES, True), printed
    assert "Every rule agrees with centred differences." in printed


@pytest.mark.parametrize("rule, slip, words", [
    ("tanh", ("self.grad += (1.0 - out.data ** 2) * out.grad", "self.grad += (out.data ** 2 - 1.0) * out.grad"),
     "opposite sign"),
    ("exp", ("self.grad += out.data * out.grad", "self.grad += self.data * out.grad"), "disagree"),
    ("sigmoid", ("self.grad += out.data * (1.0 - out.data) * out.grad", "self.grad += out.data * out.grad"),
     "disagree"),
    ("x ** 3", ("self.grad += k * self.data ** (k - 1) * out.grad", "self.grad += self.data ** (k - 1) * out.grad"),
     "0.3333 times the numerical one"),
    ("log", ("self.grad += out.grad / self.data", "self.grad += out.grad * self.data"), "disagree"),
])
def test_a3_self_check_names_the_one_wrong_rule(rule, slip, words):
    printed = _run("A3", "a3_locked_15", slip, {"x ** 3": "__pow__"}.get(rule, rule))
    assert _verdicts(printed) == {r: r != rule for r in RULES}, printed
    line = next(l for l in printed.splitlines() if l.startswith(f"Gradient check for the VJP of {rule} "))
    assert words in line, line
    assert printed.rstrip().endswith(f"Look again at the rule of: {rule}."), printed
