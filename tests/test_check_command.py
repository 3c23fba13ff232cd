"""`deepgrad check A1 my.ipynb`: one notebook graded through the instructor's pipeline (sandbox, checks,
feedback), printed as text; and the grader's gradient feedback, which reuses the library's diagnosis,
on gradients with exact and near-zero entries."""
from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from autograder import checks
from autograder.checks import Feedback, Outputs
from autograder.cli import main
from deepgrad import linear

ROOT = Path(__file__).resolve().parent.parent


def _a1_with(tmp_path, old: str, new: str) -> Path:
    """The reference A1 notebook with one slip planted in softmax_loss_vectorized."""
    nb = json.loads((ROOT / "solutions" / "A1" / "A1.ipynb").read_text())
    cell = next(c for c in nb["cells"] if "def softmax_loss_vectorized(" in "".join(c["source"]))
    source = "".join(cell["source"])
    assert source.count(old) == 1
    cell["source"] = source.replace(old, new)
    path = tmp_path / "my A1.ipynb"
    path.write_text(json.dumps(nb))
    return path


def test_check_grades_one_notebook_through_the_pipeline_and_names_the_slip(tmp_path, capsys):
    path = _a1_with(tmp_path, "dW = X.T @ G / N + 2 * reg * W", "dW = X.T @ G + 2 * reg * W")
    assert main(["check", "A1", str(path), "--seed", "5"]) == 1          # not full marks
    printed = capsys.readouterr().out
    full = sum(p.points for p in checks.load("A1").PARTS)
    # softmax_vectorized loses the share of dW alone: the regulariser's gradient is right, and the harder batches
    # are judged on the loss, which is right. digits trains with this loss too: at the learning rate tuned for the
    # right gradient, one N = 100 times too large overshoots (a student tunes HYPERPARAMS with their own loss)
    assert printed.startswith(f"A1: {full - 2.5:g} / {full:g} for {path}"), printed
    assert re.search(r"^svm_naive\s+2 / 2 ", printed, re.M) and re.search(r"^digits\s+0 / 2 ", printed, re.M)
    part = printed.split("\nsoftmax_vectorized", 1)[1].split("\n\n", 1)[0]
    assert part.lstrip().startswith("1.5 / 2"), part
    assert "Shares: the data loss 0.5 / 0.5 · its gradient dW 0 / 0.5 · the regulariser 0.5 / 0.5" in part
    assert "✓ The data loss (reg = 0) is right" in part and "✗ dW at reg = 0 is wrong" in part
    # the library's diagnosis, through the sandboxed run and the grader's feedback
    assert re.search(r"• Your gradient is N = \d+ times the reference", " ".join(part.split())), part
    assert "sandbox" in printed


def test_check_names_bad_arguments(tmp_path, capsys):
    with pytest.raises(SystemExit):
        main(["check", "A1", str(tmp_path / "absent.ipynb")])
    assert "NOTEBOOK must be a notebook file" in capsys.readouterr().err
    (tmp_path / "A9.ipynb").write_text("{}")
    with pytest.raises(SystemExit):
        main(["check", "A9", str(tmp_path / "A9.ipynb")])
    assert "ASSIGNMENT must be one of A1" in capsys.readouterr().err


# ------------------------------------------------------------------------------ the grader's diagnosis
def _problem_with_zeros(seed=0, n=12, reg=0.1):
    """A square SVM problem whose gradient has exact zeros (a feature that is 0 everywhere, a class that
    never violates the margin) and near-zero entries (a feature of size 1e-11), with its reference."""
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 4))
    X[:, 0], X[:, 1], X[:, -1] = 0.0, X[:, 1] * 1e-11, 1.0
    y = rng.integers(0, 3, n)
    W = 0.3 * rng.standard_normal((4, 4))
    W[-1, 3] = -20.0
    _, dW = linear.svm_loss_vectorized(W, X, y, reg)
    data = dW - 2 * reg * W
    assert np.any(data == 0.0) and np.any((data != 0) & (np.abs(data) < 1e-9))
    return W, X, y, reg, dW, data


@pytest.mark.parametrize("slip, words", [
    (lambda data, r, n: n * data + r, "your gradient is N = 12 times the reference"),
    (lambda data, r, n: data / n + r, "1/N = 1/12"),
    (lambda data, r, n: -(data + r), "opposite sign"),
    (lambda data, r, n: (data + r).T, "transpose"),
    (lambda data, r, n: data, "regulariser's term (2*reg*W for reg*sum(W**2)) seems to be missing"),
    (lambda data, r, n: data + r / 2, "2*reg*W, not reg*W"),
], ids=["sum_not_mean", "divide_twice", "sign", "transposed", "missing_reg", "half_reg"])
def test_grader_feedback_names_the_slip_with_zero_entries(slip, words):
    W, X, y, reg, dW, data = _problem_with_zeros()
    fb = Feedback(Outputs({"dW": slip(data, 2 * reg * W, len(y))}))
    assert not fb.gradient("dW", dW, what="dW", N=len(y), reg=reg, W=W)
    notes = [line.text for line in fb.lines if line.ok is None]
    assert len(notes) == 1 and words in notes[0], [line.text for line in fb.lines]


def test_check_says_once_which_function_is_still_the_stub(capsys):
    """The released A3, nothing written yet: each part says once which function is still the stub, not one line
    per value the stub could not produce."""
    assert main(["check", "A3", str(ROOT / "assignments" / "A3" / "A3.ipynb"), "--seed", "1"]) == 1
    printed = capsys.readouterr().out
    assert "No value for" not in printed, printed
    part = printed.split("\nelementwise", 1)[1].split("\n\n", 1)[0]
    lines = [line.strip() for line in part.splitlines()[2:]]
    assert lines == ["Your code raised an error.", "✗ Error: NotImplementedError: `__pow__` is not written yet",
                     "• This is still the stub: replace `raise NotImplementedError()` with your code.",
                     "✗ Nothing more of this part can be judged until `__pow__` is written."], part
