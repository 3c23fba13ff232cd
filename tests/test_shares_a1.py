"""A1's loss parts, graded share by share: the right versions and the slips real students make, each over 50 seeds,
get exactly the shares they deserve, and the words that name the slip.

The four loss parts have the same five shares (autograder/checks/A1.py, LOSS_SHARES), so a slip costs the same in
the SVM and the softmax, with loops or without. Numerical gradients in disguise are caught by time on the large
problem, whatever the seed: tests/test_grading_verdicts.py grades them through the sandbox.
"""
from __future__ import annotations

import numpy as np
import pytest

import harness
from test_grading_verdicts import INPLACE, LABELS_C, UNSTABLE
from autograder.checks import A1

pytestmark = pytest.mark.filterwarnings("ignore::RuntimeWarning")    # the unstable softmaxes overflow, as meant

SEEDS = range(50)
PARTS = {p.name: p for p in A1.PARTS}
FULL = {s.name: s.points for s in A1.LOSS_SHARES}
ANSWERS = dict(zip(("svm_naive", "svm_vectorized", "softmax_naive", "softmax_vectorized"), harness.answers("A1")[:4], strict=True))


def lose(*shares) -> dict:
    return {**FULL, **{name: 0.0 for name in shares}}


def edited(part: str, *edits) -> str:
    """The reference answer of ``part`` with textual edits (old, new), each asserted to apply."""
    src = ANSWERS[part]
    for old, new in edits:
        assert old in src, f"{part}: {old!r} is not in the reference answer"
        src = src.replace(old, new)
    return src


SVM_N, SVM_V, SM_N, SM_V = "svm_naive", "svm_vectorized", "softmax_naive", "softmax_vectorized"
HALF_REG_LOOPS = (("loss += reg * np.sum(W * W)", "loss += 0.5 * reg * np.sum(W * W)"), ("dW += 2 * reg * W", "dW += reg * W"))
HALF_REG_V = (("+ reg * np.sum(W * W)", "+ 0.5 * reg * np.sum(W * W)"), ("+ 2 * reg * W", "+ reg * W"))
C_FROM_LABELS_LOOPS = (("N, C = X.shape[0], W.shape[1]", "N, C = X.shape[0], int(y.max()) + 1"),)
UNIQUE_LOOPS = (("N, C = X.shape[0], W.shape[1]", "N, C = X.shape[0], len(np.unique(y))"),)
DATA, GRAD, REG, ROBUST, EXTREME = A1.DATA, A1.GRAD, A1.REG, A1.ROBUST, A1.EXTREME

# np.choose picks S[i, y[i]]; NumPy's choose takes at most 64 choices, more than the assignment's 10 classes
CHOOSE_SVM = '''
def svm_loss_vectorized(W, X, y, reg):
    N = X.shape[0]
    S = X @ W
    correct = np.choose(y, S.T)
    margins = np.maximum(0, S - correct[:, None] + 1)
    margins[np.arange(N), y] = 0
    loss = np.sum(margins) / N + reg * np.sum(W * W)
    G = (margins > 0) * 1.0
    G[np.arange(N), y] = -np.sum(G, axis=1)
    return loss, X.T @ G / N + 2 * reg * W
'''

# (part, source, expected shares, words or codes the feedback must contain, why)
CASES = [
    *[(part, ANSWERS[part], FULL, (), "reference") for part in ANSWERS],
    (SVM_N, edited(SVM_N, *HALF_REG_LOOPS), lose(REG), ("half_reg", "0.5 * reg * sum(W**2)"), "0.5 * reg, consistently"),
    (SVM_V, edited(SVM_V, *HALF_REG_V), lose(REG), ("half_reg",), "0.5 * reg, consistently"),
    (SM_N, edited(SM_N, *HALF_REG_LOOPS), lose(REG), ("half_reg",), "0.5 * reg, consistently"),
    (SM_V, edited(SM_V, *HALF_REG_V), lose(REG), ("half_reg",), "0.5 * reg, consistently"),
    (SM_V, edited(SM_V, HALF_REG_V[0]), lose(REG), ("half_reg",), "0.5 * reg in the loss only"),
    (SVM_V, edited(SVM_V, ("+ reg * np.sum(W * W)", ""), ("+ 2 * reg * W", "")), lose(REG), ("no_reg",),
     "no regulariser at all"),
    (SVM_V, edited(SVM_V, ("loss = margins.sum() / N + reg * np.sum(W * W)",
                           "loss = (margins.sum() + reg * np.sum(W * W)) / N")), lose(REG),
     ("divides the regulariser by N",), "the regulariser divided by N too"),
    (SM_V, edited(SM_V, ("+ 2 * reg * W", "- 2 * reg * W")), lose(REG), ("subtracts the regulariser's gradient",),
     "the regulariser's gradient with the wrong sign"),
    (SVM_V, CHOOSE_SVM, FULL, (), "np.choose (right for the assignment's 10 classes)"),
    (SVM_N, edited(SVM_N, *C_FROM_LABELS_LOOPS), lose(ROBUST), ("classes_from_labels", "W.shape[1]"),
     "C from the labels (y.max() + 1)"),
    (SM_N, edited(SM_N, *C_FROM_LABELS_LOOPS), lose(ROBUST), ("classes_from_labels",), "C from the labels"),
    (SVM_N, edited(SVM_N, *UNIQUE_LOOPS), lose(ROBUST), ("classes_from_labels",), "C as the number of distinct labels"),
    (SM_V, LABELS_C, lose(ROBUST), ("classes_from_labels",), "one-hot labels of width y.max() + 1"),
    (SM_V, INPLACE, lose(ROBUST), ("in_place",), "dW built in the caller's W"),
    (SVM_N, edited(SVM_N, ("            if j == y[i]:\n                continue\n", "")), lose(DATA),
     ("own_margin",), "the correct class's margin counted: loss +1, dW unchanged"),
    (SVM_N, edited(SVM_N, ("    loss /= N\n", "")), lose(DATA), ("factor_n", "summed over the N examples"),
     "missing /N in the loss"),
    (SM_V, edited(SM_V, ("-log_probs[rows, y].mean()", "-log_probs[rows, y].sum()")), lose(DATA), ("factor_n",),
     "missing /N in the loss"),
    (SM_N, edited(SM_N, ("    dW /= N\n", "")), lose(GRAD), ("factor_n",), "missing /N in dW"),
    (SM_N, edited(SM_N, ("    loss /= N\n    dW /= N\n", "")), lose(DATA, GRAD, ROBUST, EXTREME), ("factor_n",),
     "missing /N in both: robustness and extreme scores cannot be judged"),
    (SVM_V, edited(SVM_V, ("dW = X.T @ G / N", "dW = -X.T @ G / N")), lose(GRAD), ("sign",), "dW's data term flipped"),
    (SM_V, UNSTABLE, lose(EXTREME), ("unstable", "row's own maximum"), "exp without the row maximum, -log(p)"),
    (SM_V, edited(SM_V, ("S - S.max(axis=1, keepdims=True)", "S - S.max()")), lose(EXTREME), ("unstable",),
     "a global instead of a row maximum"),
    (SM_N, edited(SM_N, ("shifted = scores - np.max(scores)", "shifted = scores")), lose(EXTREME), ("unstable",),
     "exp without the row maximum (loops)"),
    (SM_N, edited(SM_N, ("        loss += log_total - shifted[y[i]]\n",
                         "        loss += -np.log(np.exp(shifted[y[i]]) / np.sum(np.exp(shifted)))\n")),
     lose(EXTREME), ("unstable",), "-log(p) that underflows to inf"),
]


def _said(graded) -> str:
    return " ".join(f"{line.text} [{line.code}]" for line in graded.feedback.lines)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[4]}" for c in CASES])
def test_each_slip_costs_its_share_on_every_seed(case):
    part, source, expected, words, _ = case
    sources = harness.replace_function(harness.answers("A1"), PARTS[part].needs[0], source)
    for seed in SEEDS:
        graded = harness.grade_part(PARTS[part], sources, seed)
        assert graded.shares == pytest.approx(expected), (seed, graded.shares, _said(graded)[:1500])
        for word in words:
            assert word in _said(graded), (seed, word, _said(graded)[:1500])


def test_the_four_loss_parts_split_alike():
    """The same slip costs the same in each loss part: the same shares, the same points."""
    splits = {tuple((s.name, s.points) for s in PARTS[name].shares) for name in ANSWERS}
    assert len(splits) == 1 and sum(points for _, points in splits.pop()) == 2


def test_the_large_problem_stays_in_the_assignments_domain():
    """At most 10 classes, every one present: an honest function right on the assignment's data is right there."""
    for seed in range(5):
        inp = A1.loss_inputs(np.random.default_rng(seed))
        for tag in ("A0", "A", "S", "B", "L"):
            C = inp["W" + tag].shape[1]
            assert C <= 10 and set(np.unique(inp["y" + tag])) == set(range(C)), (seed, tag)
        assert inp["WL"].size >= 200_000          # still far too many weights for a numerical gradient


# ------------------------------------------------------------------------------ digits: a target that needs tuning
# Part 7 trains on the moved digits (A1.DIGITS_SET) within a budget of examples. "Needs tuning" means: the answer
# cell's starting values, which pass on the plain digits, fail the bar on every split tried, while the values a
# small search on the notebook's validation split finds pass on (nearly) every split the grader may draw. The
# sweeps train with the checks' reference recipe (A1.sgd_helper, what the reference train_linear computes), not
# through the sandbox.
def _answer_cell_settings():
    namespace = {}
    exec(next(s for s in harness.answers("A1") if "HYPERPARAMS =" in s), namespace)
    return namespace["STARTING"], namespace["HYPERPARAMS"]


STARTING, TUNED = _answer_cell_settings()
DIGITS = PARTS["digits"]


def _accuracy(hp, inp):
    W = A1.sgd_helper(inp["X_train"], inp["y_train"], seed=0, **hp)
    return A1.digits_accuracy(W, inp["X_val"], inp["y_val"])


def _sweep(hp, seeds):
    return np.array([_accuracy(hp, A1.digits_inputs(np.random.default_rng(seed))) for seed in seeds])


def test_the_starting_values_are_sensible_they_pass_on_the_plain_digits():
    from deepgrad.data import load_digits
    X, y = load_digits()
    accuracies = [_accuracy(STARTING, dict(zip(("X_train", "y_train", "X_val", "y_val"),
                                               A1.digits_split(X, y, 1, np.random.default_rng(seed)), strict=True)))
                  for seed in range(5)]
    assert min(accuracies) >= 0.9, accuracies     # the old target on the plain digits
    # they spend the whole budget: what they lack is a better setting, not more training
    assert STARTING["num_iters"] * STARTING["batch_size"] == A1.DIGITS_BUDGET
    assert TUNED["num_iters"] * TUNED["batch_size"] <= A1.DIGITS_BUDGET


def test_the_starting_values_fail_on_every_split():
    accuracies = _sweep(STARTING, range(20))
    assert np.all(accuracies < A1.DIGITS_BAR), (accuracies.mean(), accuracies.max())    # measured: mean 0.573, max 0.591


def test_the_tuned_values_pass_on_nearly_every_split():
    accuracies = _sweep(TUNED, range(50))
    assert np.sum(accuracies >= A1.DIGITS_BAR) >= 49, (accuracies.mean(), accuracies.min())  # measured: 50/50, min 0.61


def test_the_tuned_values_are_what_a_small_search_on_the_validation_split_finds():
    """A 4 x 3 grid on the notebook's own split (the same recipe, seed 0): its best pair is the reference's."""
    from deepgrad.data import load_jittered_digits
    X, y = load_jittered_digits(**A1.DIGITS_SET, seed=0)
    inp = dict(zip(("X_train", "y_train", "X_val", "y_val"),
                   A1.digits_split(X, y, A1.DIGITS_SET["copies"], np.random.default_rng(0)), strict=True))
    rates, regs = [0.01, 0.1, 0.3, 1.0], [0.0, 1e-3, 1e-2]
    grid = np.array([[_accuracy({**TUNED, "learning_rate": lr, "reg": reg}, inp) for reg in regs] for lr in rates])
    i, j = np.unravel_index(np.argmax(grid), grid.shape)
    assert (rates[i], regs[j]) == (TUNED["learning_rate"], TUNED["reg"]), grid
    assert grid.max() - grid.min() > 0.05, grid          # the settings matter here


def test_each_half_holds_whole_digits():
    """All copies of a digit on one side of the split: a moved copy of a training digit is no test of anything."""
    copies, n = 8, 50
    y = np.repeat(np.arange(n), copies)                  # the labels name the digit
    X = np.random.default_rng(0).standard_normal((n * copies, 4))
    X_train, y_train, X_val, y_val = A1.digits_split(X, y, copies, np.random.default_rng(1))
    assert not set(y_train) & set(y_val) and len(set(y_val)) == n // 2
    assert np.all(np.bincount(y_train, minlength=n)[list(set(y_train))] == copies)
    assert X_train.shape == (len(y_train), 5) and np.all(X_val[:, -1] == 1.0)    # the bias column
    assert set(DIGITS.held_out) == {"X_val", "y_val"}


@pytest.mark.parametrize("answer, words", [
    ("HYPERPARAMS = dict(STARTING)", "below the 60 % needed"),
    ("HYPERPARAMS = dict(learning_rate=0.3, reg=0.0, num_iters=2000, batch_size=100)", "above the budget of 100,000"),
    ("HYPERPARAMS = dict(learning_rate=0.3, reg=0.0, num_iters=1000, batch_size=100, seed=3)", "keys other than"),
])
def test_the_grader_says_what_falls_short(answer, words):
    sources = [s + "\n" + answer if "HYPERPARAMS =" in s else s for s in harness.answers("A1")]
    graded = harness.grade_part(DIGITS, sources, seed=0)
    assert graded.fraction == 0 and words in _said(graded) + str(graded.feedback.out.error), _said(graded)


def test_the_reference_passes_through_the_grader():
    graded = harness.grade_part(DIGITS, harness.answers("A1"), seed=0)
    assert graded.fraction == 1, _said(graded)
