"""Similar submissions: renaming and reformatting do not hide a copy; independent work and the shared stub
are not flagged; the page shows the pairs side by side and no grade changes."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from autograder.tools import similarity
from autograder.cli import main

ROOT = Path(__file__).resolve().parent.parent

ORIGINAL = '''
def svm_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    scores = X @ W
    correct = scores[np.arange(N), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(N), y] = 0
    loss = margins.sum() / N + reg * np.sum(W * W)
    G = (margins > 0).astype(float)
    G[np.arange(N), y] = -G.sum(axis=1)
    dW = X.T @ G / N + 2 * reg * W
    return loss, dW
'''
# the same code, renamed, recommented and reformatted
DISGUISED = '''
def svm_loss_vectorized(W, X, y, reg):
    # my own work!
    n_examples = X.shape[0]
    s = X@W
    true_s = s[np.arange(n_examples), y][:, None]   # correct scores
    m = np.maximum(0, s-true_s+1); m[np.arange(n_examples), y] = 0
    total = m.sum()/n_examples + reg*np.sum(W*W)

    mask = (m > 0).astype(float)
    mask[np.arange(n_examples), y] = -mask.sum(axis=1)
    grad = X.T@mask/n_examples + 2*reg*W
    return total, grad
'''
INDEPENDENT = '''
def svm_loss_vectorized(W, X, y, reg):
    loss, dW = 0.0, np.zeros_like(W)
    for i in range(X.shape[0]):
        s = X[i].dot(W)
        for j in range(W.shape[1]):
            if j != y[i]:
                m = s[j] - s[y[i]] + 1
                if m > 0:
                    loss += m
                    dW[:, j] += X[i]
                    dW[:, y[i]] -= X[i]
    loss = loss / X.shape[0] + reg * (W ** 2).sum()
    return loss, dW / X.shape[0] + 2 * reg * W
'''
THIRD = '''
def svm_loss_vectorized(W, X, y, reg):
    import numpy
    num = len(y)
    out = numpy.dot(X, W)
    picked = numpy.choose(y, out.T)
    hinge = numpy.clip(out - picked.reshape(-1, 1) + 1.0, 0, None)
    hinge[range(num), y] = 0.0
    value = hinge.mean(axis=0).sum() + reg * float((W * W).sum())
    ones = (hinge > 0) * 1.0
    ones[range(num), y] = -ones.sum(1)
    return value, numpy.matmul(X.T, ones) / num + W * reg * 2
'''


def test_normalising_removes_names_layout_and_comments():
    assert similarity.normalise(ORIGINAL) == similarity.normalise(DISGUISED.replace("; m[", "\n    m["))
    assert similarity.normalise("x = 1  # note\ny = 'a'") == ["v", "=", "0", "v", "=", "s"]
    assert similarity.normalise("def f(:\n  (") != []        # unfinished code: the tokens before it
# The same code again, each time with one disguise the tokens alone miss (each drops it below 0.6 there):
SWAPPED = '''
def svm_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    scores = X @ W
    correct = scores[np.arange(N), y][:, None]
    margins = np.maximum(0, scores - correct + 1)
    margins[np.arange(N), y] = 0
    loss = np.sum(W * W) * reg + margins.sum() / N
    G = (margins > 0).astype(float)
    G[np.arange(N), y] = -G.sum(axis=1)
    dW = W * reg * 2 + X.T @ G / N
    return loss, dW
'''                                                     # commutative operands swapped
FROM_IMPORT = ("from numpy import arange, maximum as relu_max, sum\n" + ORIGINAL.replace("np.maximum", "relu_max")
               .replace("np.", ""))                        # names imported from NumPy: arange(N) for np.arange(N)
PASSES = "\n".join(line + ("\n    pass" if line.startswith("    ") else "")    # a pass after every statement
                   for line in ORIGINAL.splitlines())
EVERYTHING = ("from numpy import arange\n" + "\n".join(line + "; pass" if line.startswith("    ") else line
                                                      for line in SWAPPED.replace("np.arange", "arange").splitlines()))


def test_normalising_undoes_swapped_operands_from_imports_and_passes():
    norm = similarity.normalise
    assert norm("y = a + b * c") == norm("y = c * b + a") == norm("y = (b * c) + a")
    assert norm("y = a + b + c * d") == norm("y = d * c + (b + a)")
    assert norm("y = a.T - b") != norm("y = b - a.T") and norm("y = a.T @ b") != norm("y = b @ a.T")  # these are not
    assert norm("z = np.exp(x) / np.linalg.norm(x)") == norm("from numpy import exp\nfrom numpy.linalg import "
                                                              "norm as n2\nz = exp(x) / n2(x)")
    assert norm("def f(x):\n    y = x\n    return y") == norm("def f(x):\n    'doc'\n    pass\n    y = x; pass\n"
                                                              "    ...\n    return y\n    pass")
    assert norm("def f(x):\n    pass") == ["def", "v", "(", "v", ")", ":", "pass"]        # a body of its own
    # a statement that does not parse is read as it is; the code around it is still undisguised
    assert norm("from numpy import exp\ny = exp(x)\nz = (\nw = d * c + a") == [
        "v", "=", "v", ".", "v", "(", "v", ")", "v", "=", "(", "v", "=", "v", "+", "v", "*", "v"]


@pytest.mark.parametrize("disguised", [SWAPPED, FROM_IMPORT, PASSES, EVERYTHING],
                         ids=["swapped_operands", "from_numpy_import", "pass_after_every_statement", "all_three"])
def test_disguised_copies_are_still_flagged(disguised):
    answers = {"ann": ORIGINAL, "ben": disguised, "cat": INDEPENDENT, "dan": THIRD}
    pairs = similarity.similar_pairs(answers, threshold=similarity.THRESHOLD)
    assert [(a, b) for _, a, b in pairs] == [("ann", "ben")]      # and the two honest solutions are not
    assert pairs[0][0] >= similarity.THRESHOLD


def test_copies_are_flagged_and_independent_work_is_not():
    answers = {"ann": ORIGINAL, "ben": DISGUISED, "cat": INDEPENDENT, "dan": THIRD}
    pairs = similarity.similar_pairs(answers, threshold=0.6)
    assert [(a, b) for _, a, b in pairs] == [("ann", "ben")]
    assert pairs[0][0] >= 0.8


def test_the_shared_stub_is_not_evidence():
    stub = ORIGINAL
    pairs = similarity.similar_pairs({"ann": ORIGINAL, "ben": DISGUISED}, template=stub, threshold=0.6)
    assert pairs == []                       # what they share is what everyone was given
    with pytest.raises(ValueError, match="threshold must be in"):
        similarity.similar_pairs({}, threshold=0)


def test_similar_command_writes_the_pairs_side_by_side(tmp_path, capsys):
    sol = json.loads((ROOT / "solutions" / "A1" / "A1.ipynb").read_text())
    subs = tmp_path / "subs"
    for who, src in (("ann", ORIGINAL), ("ben", DISGUISED), ("cat", INDEPENDENT), ("dan", THIRD)):
        nb = json.loads(json.dumps(sol))
        cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") ==
                    "ans_svm_vectorized")
        cell["source"] = src
        for c in nb["cells"]:               # the other answers: each student's own stub, untouched
            if c["metadata"].get("nbgrader", {}).get("solution") and c is not cell:
                c["source"] = "raise NotImplementedError()"
        (subs / who).mkdir(parents=True)
        (subs / who / "A1.ipynb").write_text(json.dumps(nb))
    page = tmp_path / "similar.html"
    assert main(["similar", "A1", str(subs), "--output", str(page)]) == 0
    assert "1 pair at or above 0.6" in capsys.readouterr().out
    text = page.read_text()
    assert "ann and ben" in text and text.count("<pre>") == 2 and "no grade is changed" in text
    assert not (tmp_path / "out").exists()   # nothing graded, nothing written but the page
