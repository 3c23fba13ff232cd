"""Diagnosis codes for the class report: real classic wrong implementations, graded, get the right code."""
from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder import checks, grading, mistakes, notebook

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = json.loads((ROOT / "solutions" / "A1" / "A1.ipynb").read_text())
SVM_V, SM_V, SM_N = "ans_svm_vectorized", "ans_softmax_vectorized", "ans_softmax_naive"
LOSS_V = "loss = -log_probs[rows, y].mean() + reg * np.sum(W * W)"
DW_V = "dW = X.T @ G / N + 2 * reg * W"

# (part, answer cell, old, new, the codes the mistake must get)
CASES = [
    ("svm_vectorized", SVM_V, DW_V, "dW = -(X.T @ G / N + 2 * reg * W)", {"sign"}),
    ("svm_vectorized", SVM_V, DW_V, "dW = X.T @ G / N", {"no_reg"}),
    ("svm_vectorized", SVM_V, DW_V, "dW = (X.T @ G / N + 2 * reg * W).T", {"transposed"}),
    ("svm_naive", "ans_svm_naive", "            if j == y[i]:\n                continue\n", "", {"own_margin"}),
    ("softmax_vectorized", SM_V, LOSS_V, LOSS_V.replace(".mean()", ".sum()"), {"factor_n"}),
    ("softmax_vectorized", SM_V, LOSS_V, LOSS_V.replace("+ reg", "+ 0.5 * reg"), {"half_reg"}),
    ("softmax_vectorized", SM_V, DW_V, "dW = X.T @ G + 2 * reg * W", {"factor_n"}),
    ("softmax_naive", SM_N, "shifted = scores - np.max(scores)", "shifted = scores", {"unstable"}),
    ("softmax_vectorized", SM_V, DW_V, DW_V + "\n    while True:\n        pass", {"timeout"}),
    ("softmax_vectorized", SM_V, DW_V, DW_V + "\n    raise ValueError('oops')", {"error"}),
    ("softmax_vectorized", SM_V, "def softmax_loss_vectorized", "def softmax_loss_vectorised", {"missing"}),
    ("softmax_vectorized", SM_V, DW_V, DW_V, set()),          # the reference: no mistake
]


def _grade(case):
    part_name, grade_id, old, new, _ = case
    nb = json.loads(json.dumps(SOLUTION))
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in "".join(cell["source"]), old
    cell["source"] = "".join(cell["source"]).replace(old, new)
    module = checks.load("A1")
    index = [p.name for p in module.PARTS].index(part_name)
    return grading.grade_part(module.PARTS[index], notebook.answer_cells(nb), "mistakes", 20261201, [])


@pytest.fixture(scope="module")
def graded():
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(_grade, CASES))


@pytest.mark.parametrize("i", range(len(CASES)), ids=[f"{c[0]}-{'+'.join(sorted(c[4])) or 'none'}"
                                                      for c in CASES])
def test_each_classic_mistake_gets_its_code(graded, i):
    result = graded[i]
    found = mistakes.codes(result.status, [line.text for line in result.lines if line.ok is not True])
    expected = CASES[i][4]
    detail = (result.status, result.score, [line.text for line in result.lines][:8])
    if expected:
        assert expected <= set(found), detail
        assert result.score < result.points, detail
    else:
        assert found == [] and result.score == result.points, detail


def test_a_stub_is_not_also_an_error():
    assert mistakes.codes("error", ["Error: NotImplementedError: ",
                                    "This is still the stub: replace `raise NotImplementedError()` with your code."]) \
        == ["stub"]
    assert mistakes.codes("ok", []) == [] and mistakes.label("sign") == "wrong sign"
