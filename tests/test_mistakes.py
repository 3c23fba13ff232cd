"""Diagnosis codes for the class report: real classic wrong implementations, graded, get the right code."""
from __future__ import annotations

import ast
import json
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from autograder import checks, grading, mistakes, notebook
from autograder.results import STATUSES, Line

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
    found = mistakes.codes(result.status, result.lines)
    expected = CASES[i][4]
    detail = (result.status, result.score, [line.text for line in result.lines][:8])
    if expected:
        assert expected <= set(found), detail
        assert result.score < result.points, detail
    else:
        assert found == [] and result.score == result.points, detail


def test_a_stub_is_not_also_an_error():
    assert mistakes.codes("error", [Line(False, "Error: NotImplementedError: "),
                                    Line(None, "This is still the stub: replace `raise NotImplementedError()` with "
                                               "your code.", "stub")]) == ["stub"]
    assert mistakes.codes("ok", []) == [] and mistakes.label("sign") == "wrong sign"
    assert mistakes.label("timeout") == STATUSES["timeout"].label          # a status's label is the status's own


def test_rewording_a_line_cannot_change_its_codes(graded):
    """The codes travel with the lines, not in their words: a record read back (dicts) counts the same, and
    rewording every sentence, or saying "opposite sign" where no sign is wrong, changes nothing."""
    for result in graded:
        found = mistakes.codes(result.status, result.lines)
        reworded = [Line(line.ok, f"Reworded: {line.text[::-1]}", line.code) for line in result.lines]
        as_records = [{"ok": line.ok, "text": "opposite sign, NaN or inf, in place", "code": line.code}
                      for line in result.lines]
        assert mistakes.codes(result.status, reworded) == mistakes.codes(result.status, as_records) == found
    assert mistakes.codes("ok", [{"ok": None, "text": "Your gradient has the opposite sign"}]) == []  # no code


def _codes_in_source() -> dict[str, str]:
    """Every code a line can carry, as written in the grader and in the gradient checker's diagnoses that the
    grader quotes: code -> where. A keyword ``code="..."``, a Line's third argument, a slip's
    ``(code, words, value)``, a Finding's first argument."""
    found = {}

    def add(node, where):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found[node.value] = f"{where}:{node.lineno}"

    def sentence(node):
        return isinstance(node, ast.JoinedStr) or isinstance(node, ast.Constant) and " " in str(node.value)

    for path in (ROOT / "autograder").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", getattr(node.func, "attr", ""))
                for kw in node.keywords:
                    if kw.arg == "code":
                        add(kw.value, path.name)
                if name == "Line" and len(node.args) == 3:
                    add(node.args[2], path.name)
                if name == "Finding" and node.args:
                    add(node.args[0], path.name)
            if isinstance(node, ast.Tuple) and len(node.elts) == 3 and sentence(node.elts[1]):
                add(node.elts[0], path.name)                                # a slip
    gradcheck = ast.parse((ROOT / "lib" / "deepgrad" / "gradcheck.py").read_text())
    for function in ast.walk(gradcheck):
        if isinstance(function, ast.FunctionDef) and function.name in ("_diagnose", "_ratio"):
            for node in ast.walk(function):
                if isinstance(node, ast.Call) and getattr(node.func, "id", "") == "Finding":
                    add(node.args[0], "gradcheck.py")
    return found


def test_every_code_a_line_can_carry_has_a_label():
    found = _codes_in_source()
    assert {"sign", "factor_n", "no_reg", "stub", "in_place", "unstable", "disagree"} <= set(found), found
    assert {c: w for c, w in found.items() if c not in mistakes.MISTAKES} == {}
    assert all(mistakes.label(status) for status in STATUSES if status != "ok")
