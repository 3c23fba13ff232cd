"""The classic slips of every graded part, planted in the RELEASED notebooks: the visible tests fail for them,
and the self-checks name them where the notebook's text promises they will.

The released notebook (assignments/<A>/<A>.ipynb) is run once as Run All would run it, in fast mode, with its
answer cells filled in with the reference answers of solutions/<A>/ (one executed namespace per notebook).
Then each slip, the slipped answer cells the grading tests already grade (tests/test_shares_a*.py,
tests/test_a1_practice.py, tests/test_a1_features.py, tests/test_a2_deeper.py, tests/test_grading_verdicts.py:
nothing is written a second time here), is planted: its answer cells run again, then the part's self-check cells and its visible test cell,
as a student would rerun them. A visible test that a classic slip passes teaches the wrong lesson.

Some slips are the grader's alone, and the notebook says so (the hidden problems it draws: extreme scores, a
batch lacking classes, replays and large problems): ``GRADER_ONLY`` lists them with the reason, and the test
asserts that they do pass the visible tests, so that the list stays true.
"""
from __future__ import annotations

import contextlib
import io
import os

import nbformat
import pytest

import harness
import test_a1_features
import test_a1_practice
import test_a2_deeper
import test_grading_verdicts
import test_shares_a1
import test_shares_a2
import test_shares_a3
import test_shares_a4

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSIGNMENTS = ("A1", "A2", "A3", "A4")


def _cases() -> list[tuple[str, str, str, tuple]]:
    """(assignment, part, why, answer-cell sources) of every slip the grading tests grade, each version once.
    A version that earns every share of its part is no slip of that part (np.choose, a recursive search...)."""
    found = []
    for part, source, shares, _, why in test_shares_a1.CASES:
        sources = harness.replace_function(harness.answers("A1"), test_shares_a1.PARTS[part].needs[0], source)
        found.append(("A1", part, why, sources, shares == test_shares_a1.FULL))
    for part, bugs in test_a1_practice.BUGS.items():
        found += [("A1", part, why, sources, False) for why, (sources, _) in bugs.items()]
    found += [("A1", "features", why, sources, False) for why, (sources, _) in test_a1_features.BUGS.items()]
    for c in test_shares_a2.CASES:
        found.append(("A2", c.part, c.why, c.sources, c.shares == test_shares_a2.shares(c.part)))
    for part, bugs in (("batchnorm", test_a2_deeper.BATCHNORM_BUGS), ("fc_net", test_a2_deeper.FC_NET_BUGS),
                       ("train_net", test_a2_deeper.TRAIN_NET_BUGS)):
        found += [("A2", part, why, sources, False) for why, (sources, _) in bugs.items()]
    for why, part, sources, shares, _ in test_shares_a3.CASES + test_shares_a3.DIGITS:
        found.append(("A3", part, why, sources, shares == test_shares_a3.full(part)))
    for part, sources, shares, _, why in test_shares_a4.CASES:
        found.append(("A4", part, why, sources, shares == test_shares_a4.full(part)))
    for a, part, cell, source, points, why in test_grading_verdicts.CASES:
        numerical = any(word in why for word in ("differences", "private", "complex step"))
        if not numerical and why != "reference":
            found.append((a, part, why, test_grading_verdicts.cells_with(a, cell, source),
                          points == next(p.points for p in harness.check_module(a).PARTS if p.name == part)))
    seen, cases = set(), []
    for a, part, why, sources, right in found:
        key = (a, part, tuple(sources))
        if not right and key not in seen and tuple(sources) != tuple(harness.answers(a)):
            seen.add(key)
            cases.append((a, part, why, tuple(sources)))
    return cases


CASES = _cases()


@pytest.fixture(scope="module")
def executed():
    """Each released notebook run once in fast mode, its answer cells holding the reference answers."""
    runs = {}
    for a in ASSIGNMENTS:
        nb = nbformat.read(os.path.join(ROOT, "assignments", a, f"{a}.ipynb"), as_version=4)
        answers = iter(harness.answers(a))
        ns = {"__name__": "__main__"}
        with harness.notebook_quietly(os.path.join(ROOT, "assignments", a)), \
                contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            for cell in nb.cells:
                if cell.cell_type == "code":
                    source = next(answers) if harness.meta(cell).get("solution") else cell.source
                    exec(compile(source, cell.id, "exec"), ns)
        runs[a] = nb, ns
    return runs


def visible_run(nb, ns, part: str, sources) -> tuple[str, BaseException | None]:
    """Rerun the answer cells from ``sources``, then ``part``'s self-check cells and its visible test cell (the
    code cells after the part's answer cell, other parts' test cells left out): what they printed, and what the
    visible test or a self-check raised (None if nothing)."""
    import matplotlib.pyplot as plt
    ns = dict(ns)
    cells = nb.cells
    test = next(i for i, c in enumerate(cells) if harness.meta(c).get("grade_id") == part)
    answer = max(i for i in range(test) if harness.meta(cells[i]).get("solution") and cells[i].cell_type == "code")
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(io.StringIO()):
        try:
            for source in sources:
                exec(source, ns)
            for cell in cells[answer + 1:test + 1]:
                if cell.cell_type == "code" and (not harness.meta(cell).get("grade") or cell is cells[test]):
                    exec(compile(cell.source, cell.id, "exec"), ns)
        except Exception as exc:    # a visible test fails by its assert or by the error it hits
            plt.close("all")
            return printed.getvalue(), exc
    plt.close("all")
    return printed.getvalue(), None


# Slips only the grader's own inputs show, as the shares tables say: (assignment, part, why) -> the reason.
GRADER_ONLY = {
    ("A4", "fit_early_stopping", "batches in order, not shuffled"):
        "the grader replays the shuffled batches; the visible problem's loss does not depend on their order",
}

# Where the notebook promises words (the self-checks say what is wrong, and a failed gradient check says why:
# a flipped sign, a factor N, a forgotten or halved regulariser, a transpose; batch norm's missing paths), the
# slip's words in what the self-check printed or the visible test said.
NAMED = {
    ("A1", "svm_vectorized", "dW's data term flipped"): "opposite sign",
    ("A1", "svm_vectorized", "regulariser missing from dW"): "seems to be missing",
    ("A1", "softmax_naive", "missing /N in dW"): "N = 8 times",
    ("A1", "softmax_vectorized", "the regulariser's gradient with the wrong sign"): "wrong sign",
    ("A1", "softmax_vectorized", "0.5 * reg in the loss only"): "reg * np.sum(W * W)",
    ("A1", "softmax_vectorized", "dW built in the caller's W"): "unchanged",
    ("A1", "svm_naive", "C from the labels (y.max() + 1)"): "W.shape[1]",
    ("A1", "softmax_vectorized", "a global instead of a row maximum"): "row's own maximum",
    ("A1", "features", "unsigned as the absolute angle"): "one orientation",
    ("A1", "features", "hard votes to the nearest centre"): "1/4 and 3/4 of its length",
    ("A1", "features", "soft votes without the wrap-around"): "the bins wrap round",
    ("A1", "features", "cells by a reshape without the transpose"): "which axes does your reshape split",
    ("A1", "features", "eps outside the square root"): "sqrt(eps**2 + eps**2)",
    ("A2", "linear", "dW off by 2"): "twice the numerical one",
    ("A2", "two_layer", "half the regulariser's gradient"): "half as big",
    ("A2", "two_layer", "missing /N in the gradients"): "N = 8 times",
    ("A2", "fc_net", "missing /N in the gradients"): "N = 8 times",
    ("A2", "batchnorm", "dx with the batch statistics as constants"): "mean and variance treated as constants",
    ("A2", "batchnorm", "dx without the path through the variance"): "the path through the variance left out",
    ("A3", "elementwise", "elementwise-tanh-from-input"): "Look again at the rule of: tanh.",
    ("A3", "elementwise", "elementwise-exp-from-input"): "Look again at the rule of: exp.",
    ("A3", "backward", "backward-assigned-add-other"): "never assign",
    ("A4", "rmsprop", "eps inside the square root"): "after the square root",
}


def _id(case) -> str:
    a, part, why, _ = case
    return f"{a}-{part}-{why[:50]}"


def test_the_reference_answers_pass_every_visible_test(executed):
    for a in ASSIGNMENTS:
        nb, ns = executed[a]
        for part in harness.check_module(a).PARTS:
            printed, failed = visible_run(nb, ns, part.name, harness.answers(a))
            assert failed is None, (a, part.name, repr(failed), printed[-2000:])


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_each_classic_slip_fails_a_visible_test(executed, case):
    a, part, why, sources = case
    printed, failed = visible_run(*executed[a], part, sources)
    if (a, part, why) in GRADER_ONLY:
        assert failed is None, f"{why} fails a visible test now: take it off GRADER_ONLY ({failed!r})"
        return
    assert failed is not None, f"{a} {part}: the visible test passes with the slip {why!r}\n{printed[-2000:]}"
    words = NAMED.get((a, part, why))
    assert words is None or words in printed + str(failed), (words, str(failed), printed[-2000:])


def test_the_lists_name_real_cases():
    names = {(a, part, why) for a, part, why, _ in CASES}
    assert set(GRADER_ONLY) <= names and set(NAMED) <= names, (set(GRADER_ONLY) | set(NAMED)) - names
    assert {(a, part) for a, part, _, _ in CASES} >= {(a, p.name) for a in ASSIGNMENTS
                                                     for p in harness.check_module(a).PARTS}, "a part without slips"


def test_the_grader_names_batch_norms_missing_paths_without_a_contradiction():
    """`deepgrad check`'s feedback for a dx with a path left out says which, and not also that no slip explains it."""
    batchnorm = next(p for p in harness.check_module("A2").PARTS if p.name == "batchnorm")
    for why, words in [("dx with the batch statistics as constants", "were constants"),
                       ("dx without the path through the variance", "through the batch variance")]:
        sources = next(c[3] for c in CASES if c[:3] == ("A2", "batchnorm", why))
        said = " ".join(line.text for line in harness.grade_part(batchnorm, list(sources), seed=3).feedback.lines)
        assert words in said and "No single slip" not in said, said
