"""A3's shares: every graded function, right and with each classic slip, graded over 50 seeds; each version must
earn exactly its shares on every seed, and the feedback must name the slip (in words or by its mistake code).

The slips are the solution with one textual edit (asserted to apply once) or a function written whole. A slip
costs its own share and no other: each share is judged relative to the student's own code elsewhere where it
stands on it (autograder/checks/A3.py). Numerical VJPs in disguise keep earning nothing for the shares they fake.

Run time: the large problems (262 144 entries, run last by the parts with VJPs) are what a grade costs. They are
there to time out numerical VJPs, which a right or slipped derived VJP never does, so the 50-seed cases run them
at a reduced size (``SMALL_BIG``) and the numerical cases run the real size, on 2 seeds, with a time limit of
2.5 s instead of 10. The digits part trains a network (0.7 s a grade): 5 seeds.
"""
from __future__ import annotations

import contextlib
import dataclasses
import re

import numpy as np
import pytest

from harness import answers, check_module, grade_part, replace_function, solution_notebook, stub
from test_grading_verdicts import A3_ADD, A3_ELEMENTWISE, A3_MATMUL, A3_MUL, A3_SUM, NUMERICAL_BACKWARD, _pair
from test_grading_verdicts import NUMERICAL as DISGUISES

A3 = check_module("A3")
PARTS = {part.name: part for part in A3.PARTS}
SOURCES = answers("A3")
SEEDS = range(50)
SMALL_BIG = {"BIG": (16, 24), "BIG_MATMUL": (4, 40, 5)}


def full(part: str) -> dict:
    return {share.name: float(share.points) for share in PARTS[part].shares}


def earns(part: str, *lost: str) -> dict:
    """The part's shares, each earned in full except those ``lost``."""
    assert set(lost) <= set(full(part)), lost
    return {name: 0.0 if name in lost else points for name, points in full(part).items()}


def slip(*edits) -> list[str]:
    """The solution's answer cells with textual edits (old, new), each found exactly once."""
    sources = SOURCES
    for old, new in edits:
        assert sum(s.count(old) for s in sources) == 1, old
        sources = [s.replace(old, new) for s in sources]
    return sources


def written(name: str, source: str) -> list[str]:
    """The solution with the top-level function ``name`` written whole."""
    assert any(f"def {name}(" in s for s in SOURCES), name
    return replace_function(SOURCES, name, source)


# --------------------------------------------------------------------------------------- the versions
ADD_SELF = "self.grad += unbroadcast(out.grad, self.shape)"
ADD_OTHER = "other.grad += unbroadcast(out.grad, other.shape)"
MUL_SELF = "self.grad += unbroadcast(out.grad * other.data, self.shape)"
MUL_OTHER = "other.grad += unbroadcast(out.grad * self.data, other.shape)"
TOPO_RECURSIVE = '''def topological_order(root):
    order, seen = [], set()
    def visit(node):
        if id(node) not in seen:
            seen.add(id(node))
            for parent in node._parents:
                visit(parent)
            order.append(node)
    visit(root)
    return order
'''
TOPO_NO_SEEN = '''def topological_order(root):
    order = []
    def visit(node):
        for parent in node._parents:
            visit(parent)
        order.append(node)
    visit(root)
    return order
'''
TOPO_PREORDER = TOPO_RECURSIVE.replace("            for parent in node._parents:\n                visit(parent)\n"
                                       "            order.append(node)\n",
                                       "            order.append(node)\n            for parent in node._parents:\n"
                                       "                visit(parent)\n")
# three frames per level of the graph (visit, explore, the generator): past Python's 1000 at 400 levels
TOPO_DEEP_RECURSION = '''def topological_order(root):
    order, seen = [], set()
    def visit(node):
        if id(node) not in seen:
            seen.add(id(node))
            explore(node)
            order.append(node)
    def explore(node):
        list(visit(parent) for parent in node._parents)
    visit(root)
    return order
'''
SIGMOID_FORWARD = ("    z = np.exp(-np.abs(self.data))\n    out = Tensor(np.where(self.data >= 0, 1.0 / (1.0 + z), "
                   "z / (1.0 + z)), (self,), \"sigmoid\")")
CE_LOG_P = "log_probs = shifted - shifted.exp().sum(axis=1, keepdims=True).log()"
TRAIN_ZERO = "    optimizer.zero_grad()\n    loss = cross_entropy"

# (id, part, sources, shares expected on every seed, what the feedback must contain: words and mistake codes)
CASES = [
    # tensor_core
    ("core-reference", "tensor_core", SOURCES, earns("tensor_core"), ()),
    ("core-summed-over-everything", "tensor_core",
     slip((ADD_OTHER, "other.grad += out.grad.sum() * np.ones(other.shape)")),
     earns("tensor_core", "broadcasting"), ("summed_all",)),
    ("core-mul-does-not-swap", "tensor_core",
     slip((MUL_SELF + "\n            " + MUL_OTHER,
           "self.grad += unbroadcast(out.grad * self.data, self.shape)\n"
           "            other.grad += unbroadcast(out.grad * other.data, other.shape)")),
     earns("tensor_core", "x * y"), ("x.grad after the * node's VJP is wrong",)),
    ("core-mul-y-not-unbroadcast", "tensor_core", slip((MUL_OTHER, "other.grad += out.grad * self.data")),
     earns("tensor_core", "broadcasting"), ("y.grad after the * node's VJP",)),
    # backward
    ("backward-reference", "backward", SOURCES, earns("backward"), ()),
    ("backward-recursive-search", "backward", written("topological_order", TOPO_RECURSIVE), earns("backward"), ()),
    ("backward-not-reversed", "backward", slip(("for node in reversed(topological_order(self)):",
                                                "for node in topological_order(self):")),
     earns("backward", "backward()"), ("reverse_order",)),
    *[(f"backward-assigned-{where}", "backward", slip((line, line.replace("+=", "=", 1))),
       earns("backward", "branches"), ("assigned_grad", "grad += ..."))
      for where, line in (("add-self", ADD_SELF), ("add-other", ADD_OTHER), ("mul-self", MUL_SELF),
                          ("mul-other", MUL_OTHER))],
    ("backward-nodes-listed-twice", "backward", written("topological_order", TOPO_NO_SEEN),
     earns("backward", "topological order"), ("lists a node twice",)),
    ("backward-node-before-parents", "backward", written("topological_order", TOPO_PREORDER),
     earns("backward", "topological order"), ("comes before one of its parents",)),
    ("backward-recursion-too-deep", "backward", written("topological_order", TOPO_DEEP_RECURSION),
     earns("backward", "a deep chain"), ("recursion",)),
    ("backward-upstream-ignored", "backward",
     slip(("self.grad = np.ones_like(self.data) if grad is None else np.array(grad, dtype=np.float64)",
           "self.grad = np.ones_like(self.data)")), earns("backward", "backward()"), ("after backward() on a random",)),
    # elementwise
    ("elementwise-reference", "elementwise", SOURCES, earns("elementwise"), ()),
    ("elementwise-tanh-from-input", "elementwise", slip(("self.grad += (1.0 - out.data ** 2) * out.grad",
                                                         "self.grad += (1.0 - self.data ** 2) * out.grad")),
     earns("elementwise", "tanh"), ("wrong_point", "from the input")),
    ("elementwise-log-at-output", "elementwise", slip(("self.grad += out.grad / self.data",
                                                       "self.grad += out.grad / out.data")),
     earns("elementwise", "log"), ("wrong_point", "at the input")),
    ("elementwise-pow-k-x-k", "elementwise", slip(("self.grad += k * self.data ** (k - 1) * out.grad",
                                                   "self.grad += k * self.data ** k * out.grad")),
     earns("elementwise", "x ** k"), ("power_rule",)),
    ("elementwise-sigmoid-overflows", "elementwise",
     slip((SIGMOID_FORWARD, "    out = Tensor(1.0 / (1.0 + np.exp(-self.data)), (self,), \"sigmoid\")")),
     earns("elementwise", "sigmoid at +-1000"), ("unstable", "overflows")),
    ("elementwise-sigmoid-nan", "elementwise",
     slip((SIGMOID_FORWARD, "    out = Tensor(np.exp(self.data) / (1.0 + np.exp(self.data)), (self,), \"sigmoid\")")),
     earns("elementwise", "sigmoid at +-1000"), ("unstable",)),
    ("elementwise-relu-kink", "elementwise", slip(("self.grad += (self.data > 0) * out.grad",
                                                   "self.grad += (self.data >= 0) * out.grad")),
     earns("elementwise", "relu"), ("relu_kink",)),
    ("elementwise-exp-from-input", "elementwise", slip(("self.grad += out.data * out.grad",
                                                        "self.grad += self.data * out.grad")),
     earns("elementwise", "exp"), ("VJP of x.exp() is wrong",)),
    # matmul_sum
    ("matmul-reference", "matmul_sum", SOURCES, earns("matmul_sum"), ()),
    ("matmul-dA-no-transpose", "matmul_sum", slip(("self.grad += out.grad @ other.data.T",
                                                   "self.grad += out.grad @ other.data")),
     earns("matmul_sum", "A @ W"), ("transposed",)),
    ("matmul-dW-no-transpose", "matmul_sum", slip(("other.grad += self.data.T @ out.grad",
                                                   "other.grad += self.data @ out.grad")),
     earns("matmul_sum", "A @ W"), ("transposed",)),
    ("sum-ignores-axis", "matmul_sum", slip(("        if axis is not None and not keepdims:\n"
                                             "            g = np.expand_dims(g, axis)\n", "")),
     earns("matmul_sum", "sum over an axis"), ("keepdims",)),
    ("sum-ignores-keepdims", "matmul_sum", slip(("if axis is not None and not keepdims:", "if axis is not None:")),
     earns("matmul_sum", "sum over an axis"), ("keepdims",)),
    # forward_mode
    ("forward-reference", "forward_mode", SOURCES, earns("forward_mode"), ()),
    ("forward-product-rule-forgotten", "forward_mode", slip((
        "self.tangent * other.value + self.value * other.tangent", "self.tangent * other.tangent")),
     earns("forward_mode", "the product rule"), ("product_rule",)),
    ("forward-matmul-half-product-rule", "forward_mode", slip((
        "self.tangent @ other.value + self.value @ other.tangent", "self.tangent @ other.value")),
     earns("forward_mode", "the product rule"), ("product_rule",)),
    ("forward-pow-k-x-k", "forward_mode", slip(("k * self.value ** (k - 1) * self.tangent",
                                                "k * self.value ** k * self.tangent")),
     earns("forward_mode", "x ** k, exp and log"), ("power_rule",)),
    ("forward-log-at-output", "forward_mode", slip(("self.tangent / self.value", "self.tangent / np.log(self.value)")),
     earns("forward_mode", "x ** k, exp and log"), ("wrong_point",)),
    ("forward-tanh-from-input", "forward_mode", slip(("(1.0 - t ** 2) * self.tangent",
                                                      "(1.0 - self.value ** 2) * self.tangent")),
     earns("forward_mode", "relu, sigmoid and tanh"), ("wrong_point",)),
    ("forward-relu-kink", "forward_mode", slip(("(self.value > 0) * self.tangent", "(self.value >= 0) * self.tangent")),
     earns("forward_mode", "relu, sigmoid and tanh"), ("relu_kink",)),
    ("forward-sum-ignores-axis", "forward_mode", slip(("self.tangent.sum(axis=axis, keepdims=keepdims)",
                                                       "self.tangent.sum()")),
     earns("forward_mode", "+ and sum"), ("tangent of sum",)),
    ("forward-jvp-swapped", "forward_mode", slip(("return out.value, out.tangent", "return out.tangent, out.value")),
     earns("forward_mode", "jvp"), ("jvp's value",)),
    # unbroadcast
    ("unbroadcast-reference", "unbroadcast", SOURCES, earns("unbroadcast"), ()),
    ("unbroadcast-leading-axes-only", "unbroadcast", slip((
        "        if size == 1 and grad.shape[axis] != 1:\n            grad = grad.sum(axis=axis, keepdims=True)\n",
        "        pass\n")), earns("unbroadcast", "length-1 axes"), ("keepdims",)),
    ("unbroadcast-forgets-keepdims", "unbroadcast", slip(("grad = grad.sum(axis=axis, keepdims=True)",
                                                          "grad = grad.sum(axis=axis)")),
     earns("unbroadcast", "length-1 axes"), ("keepdims",)),
    ("unbroadcast-length-1-axes-only", "unbroadcast", slip(("    while grad.ndim > len(shape):          # axes that "
                                                            "broadcasting prepended\n        grad = grad.sum(axis=0)\n",
                                                            "")),
     earns("unbroadcast", "axes added on the left"), ("Not judged",)),
    # modules
    ("modules-reference", "modules", SOURCES, earns("modules"), ()),
    ("modules-parameter-twice", "modules", slip(("            if id(value) in seen:\n                return\n", "")),
     earns("modules", "parameters()"), ("listed_twice",)),
    ("modules-lists-not-searched", "modules", slip(("            elif isinstance(value, (list, tuple)):\n",
                                                    "            elif False:\n")),
     earns("modules", "parameters()"), ("inside lists and tuples",)),
    ("modules-zero-grad-does-nothing", "modules", slip((
        "        for p in self.parameters():\n            p.grad = np.zeros_like(p.data)\n", "        pass\n")),
     earns("modules", "zero_grad()"), ("zero_grad()",)),
    ("modules-bias-drawn", "modules", slip(("self.bias = Parameter(np.zeros(out_features))",
                                            "self.bias = Parameter(rng.standard_normal(out_features))")),
     earns("modules", "Linear"), ("initial bias",)),
    ("modules-xavier-not-he", "modules", slip(("np.sqrt(2.0 / in_features)", "np.sqrt(1.0 / in_features)")),
     earns("modules", "Linear"), ("initial weight",)),
    ("modules-forward-without-bias", "modules", slip(("        return x @ self.weight + self.bias\n",
                                                      "        return x @ self.weight\n")),
     earns("modules", "Linear"), ("Linear's output",)),
    ("modules-forward-detached", "modules", slip(("        return x @ self.weight + self.bias\n",
                                                  "        return x @ self.weight.data + self.bias.data\n")),
     earns("modules", "Linear"), ("gradients after a backward pass through Linear",)),
    ("modules-sequential-reversed", "modules", slip(("        for layer in self.layers:\n",
                                                     "        for layer in reversed(self.layers):\n")),
     earns("modules", "Sequential"), ("Sequential(a, b, c)(x)",)),
    # cross_entropy
    ("ce-reference", "cross_entropy", SOURCES, earns("cross_entropy"), ()),
    ("ce-no-row-maximum", "cross_entropy", slip(("shifted = scores - scores.data.max(axis=1, keepdims=True)",
                                                 "shifted = scores")),
     earns("cross_entropy", "extreme scores"), ("unstable", "NaN", "row's own maximum")),
    ("ce-global-maximum", "cross_entropy", slip(("scores.data.max(axis=1, keepdims=True)", "scores.data.max()")),
     earns("cross_entropy", "extreme scores"), ("unstable",)),
    ("ce-log-of-p", "cross_entropy", slip((CE_LOG_P, "probs = shifted.exp() * shifted.exp().sum(axis=1, keepdims=True)"
                                                     " ** -1.0\n    log_probs = probs.log()")),
     earns("cross_entropy", "extreme scores"), ("unstable",)),
    ("ce-sum-not-mean", "cross_entropy", slip(("-(log_probs * np.eye(scores.shape[1])[y]).sum(axis=1).mean()",
                                               "-(log_probs * np.eye(scores.shape[1])[y]).sum(axis=1).sum()")),
     earns("cross_entropy", "the mean"), ("factor_n",)),
    # sgd_training
    ("sgd-reference", "sgd_training", SOURCES, earns("sgd_training"), ()),
    ("sgd-step-climbs", "sgd_training", slip(("p.data = p.data - self.lr * p.grad", "p.data = p.data + self.lr * p.grad")),
     earns("sgd_training", "SGD.step()"), ("sign",)),
    ("sgd-zero-grad-does-nothing", "sgd_training", slip((
        "        for p in self.params:\n            p.grad = np.zeros_like(p.data)\n", "        pass\n")),
     earns("sgd_training", "SGD.zero_grad()"), ("zero_grad()",)),
    ("train-step-without-zero-grad", "sgd_training", slip((TRAIN_ZERO, "    loss = cross_entropy")),
     earns("sgd_training", "train_step"), ("step_order",)),
    ("train-step-zero-grad-before-step", "sgd_training", slip((
        "    loss.backward()\n    optimizer.step()\n", "    loss.backward()\n    optimizer.zero_grad()\n    optimizer.step()\n")),
     earns("sgd_training", "train_step"), ("step_order",)),
]

# digits: a training run per grade, so a few seeds
DIGITS = [("digits-reference", "digits", SOURCES, earns("digits"), ()),
          ("digits-without-zero-grad", "digits", slip((TRAIN_ZERO, "    loss = cross_entropy")),
           earns("digits", "test accuracy"), (f"at least {A3.DIGITS_BAR} is expected",))]


# --------------------------------------------------------------------------- numerical VJPs in disguise
ND = DISGUISES["complex step"]          # the verdict tests' complex-step helper


def numerical(*edits) -> list[str]:
    return [ND + s if i == 0 else s for i, s in enumerate(slip(*edits))]


NUMERICAL = [
    ("numerical-core", "tensor_core", numerical((A3_ADD, _pair("{} + {}", " " * 12)), (A3_MUL, _pair("{} * {}", " " * 12))),
     earns("tensor_core", "x + y", "x * y", "broadcasting"), ("numerical",)),
    ("numerical-elementwise", "elementwise", numerical(*A3_ELEMENTWISE),
     {**dict.fromkeys(full("elementwise"), 0.0), "sigmoid at +-1000": 0.25}, ("numerical",)),
    ("numerical-matmul-sum", "matmul_sum", numerical((A3_MATMUL, _pair("{} @ {}", " " * 8)), A3_SUM),
     dict.fromkeys(full("matmul_sum"), 0.0), ("numerical",)),
    ("numerical-backward", "backward", written("backward", NUMERICAL_BACKWARD + ND), earns("backward", "backward()"), ("numerical",)),
]


# ------------------------------------------------------------------------------------------ the tests
def _run(part, sources, seeds, expected, said):
    """Grade ``sources`` on each seed: exactly the ``expected`` shares, every entry of ``said`` (words, or a mistake
    code) in the feedback, and no empty line."""
    for seed in seeds:
        graded = grade_part(part, sources, seed)
        lines = graded.feedback.lines
        detail = (seed, graded.shares, graded.feedback.out.status, [line.text for line in lines][:12])
        assert graded.shares == pytest.approx(expected, abs=1e-9), detail
        text = " ".join(line.text for line in lines)
        codes = {line.code for line in lines}
        for words in said:
            assert words in codes or words in text, (words, detail)
        assert all(line.text.strip() for line in lines), detail        # no empty line


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_each_version_earns_exactly_its_shares_on_every_seed(case, monkeypatch):
    for name, value in SMALL_BIG.items():
        monkeypatch.setattr(A3, name, value)
    _, part, sources, expected, said = case
    _run(PARTS[part], sources, SEEDS, expected, said)


@pytest.mark.parametrize("case", DIGITS, ids=[c[0] for c in DIGITS])
def test_digits_on_a_few_seeds(case):
    _, part, sources, expected, said = case
    _run(PARTS[part], sources, range(5), expected, said)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
@pytest.mark.parametrize("case", NUMERICAL, ids=[c[0] for c in NUMERICAL])
def test_numerical_vjps_earn_nothing_for_what_they_fake(case):
    _, part, sources, expected, said = case
    _run(dataclasses.replace(PARTS[part], timeout=2.5), sources, range(2), expected, said)


@pytest.mark.parametrize("case", ["backward-not-reversed", "backward-node-before-parents",
                                  "unbroadcast-forgets-keepdims", "elementwise-log-at-output"])
def test_a_slip_costs_nothing_in_the_parts_built_on_it_that_judge_something_else(case):
    """The later parts judge their own code with the grader's sweep, optimiser, model and loss, or relative to
    the student's own engine: a slip in backward() or topological_order costs Part 2 only; one in unbroadcast or in
    log's VJP costs the cross-entropy's gradient (which runs through them) and nothing else there."""
    sources = next(c[2] for c in CASES if c[0] == case)
    through_ce = case in ("unbroadcast-forgets-keepdims", "elementwise-log-at-output")
    for seed in range(3):
        for part in ("tensor_core", "modules", "cross_entropy", "sgd_training"):
            lost = ("its gradient",) if part == "cross_entropy" and through_ce else ()
            assert grade_part(PARTS[part], sources, seed).shares == earns(part, *lost), (case, part, seed)


def test_the_right_engine_passes_the_real_large_problems_in_the_shortened_time():
    """The numerical cases' 2.5 s is enough for the solution at the real sizes: only faking times out."""
    for name in ("tensor_core", "backward", "elementwise", "matmul_sum"):
        graded = grade_part(dataclasses.replace(PARTS[name], timeout=2.5), SOURCES, 0)
        assert graded.shares == earns(name), (name, graded.feedback.out.status)


def test_every_graded_part_states_its_shares():
    assert all(len(part.shares) > 1 for part in A3.PARTS if part.name != "digits")
    for part in A3.PARTS:
        for share in part.shares:
            assert share.what and re.fullmatch(r"\d+(\.(25|5|75))?", f"{share.points:g}"), (part.name, share)


# ------------------------------------------------------------------------------------- the tuned digits target
# "Needs tuning", measured as the grader measures it (a fresh jittered set and split per seed, the solution's engine,
# the held-out digits): the answer cell's starting values fail on every seed, the values a small search on the
# notebook's validation split finds pass on nearly every one. The search never sees a held-out digit.
TUNING_CELL = next(s for s in SOURCES if "HYPERPARAMS" in s)
ENGINE = {}
for _source in SOURCES:
    exec(_source, ENGINE)


def _hyperparams(source: str) -> dict:
    ns: dict = {}
    with contextlib.suppress(NotImplementedError):      # the stub raises after setting the starting values
        exec(source, ns)
    return ns["HYPERPARAMS"]


def _accuracy(hp, X_train, y_train, X_eval, y_eval, seed, epochs=A3.DIGITS_EPOCHS) -> float:
    """The grader's run (drive_digits) with the solution's engine, in this process."""
    out: dict = {}
    A3.drive_digits({**ENGINE, "HYPERPARAMS": hp}, {"X_train": X_train, "y_train": y_train, "X_test": X_eval,
                                                    "epochs": epochs, "seed": seed}, out)
    return float(np.mean(out["predictions"] == y_eval))


def _held_out(hp, seeds) -> np.ndarray:
    accuracies = []
    for seed in seeds:
        inp = PARTS["digits"].inputs(np.random.default_rng(seed))
        accuracies.append(_accuracy(hp, inp["X_train"], inp["y_train"], inp["X_test"], inp["y_test"], inp["seed"]))
    return np.array(accuracies)


def _notebook_split(X, y, copies):
    """Part 8's split of the notebook: digits in the order of rng 0, the first 1197 (the grader's training size)
    for training, the other 600 for validation; standardised by the training images."""
    from deepgrad.data import standardize
    digits = np.random.default_rng(0).permutation(len(y) // copies)
    rows = [(copies * d[:, None] + np.arange(copies)).ravel() for d in (digits[:1197], digits[1197:])]
    X_train, X_val = standardize(X[rows[0]], X[rows[1]])[:2]
    return X_train, y[rows[0]], X_val, y[rows[1]]


def test_the_notebook_tunes_on_the_graders_kind_of_data():
    source = "\n".join(c.source for c in solution_notebook("A3").cells)
    data = ", ".join(f"{k}={v}" for k, v in A3.DIGITS_DATA.items())
    assert f"load_jittered_digits({data}, seed=0)" in source
    assert f"DIGITS_EPOCHS, DIGITS_BAR = {A3.DIGITS_EPOCHS}, {A3.DIGITS_BAR}" in source
    assert "digit_rows(digits[:1197])" in source and 1797 - A3.DIGITS_TEST == 1197


@pytest.mark.slow
def test_the_starting_values_are_sensible_and_fail_the_jittered_target():
    """The answer cell's starting values (what the stub grades) are the plain digits' settings: there they pass the
    old target, 0.95, in 20 epochs; on the jittered digits, in the budget of 5, they fail on all of 20 grading
    seeds (measured on 30 seeds: 0.818 +- 0.010, at most 0.835; bar 0.86)."""
    from deepgrad.data import load_digits
    start = _hyperparams(stub(TUNING_CELL))
    assert start == {"lr": 0.1, "hidden": 256}
    X, y = load_digits(scale=True)
    assert _accuracy(start, *_notebook_split(X, y, copies=1), seed=0, epochs=20) >= 0.95
    accuracies = _held_out(start, range(20))
    assert np.all(accuracies < A3.DIGITS_BAR), accuracies


def _search():
    """A small grid (10 runs) on the notebook's split, chosen by validation accuracy alone."""
    from deepgrad.data import load_jittered_digits
    X, y = load_jittered_digits(**A3.DIGITS_DATA, seed=0)
    split = _notebook_split(X, y, A3.DIGITS_DATA["copies"])
    scores = {(lr, hidden): _accuracy({"lr": lr, "hidden": hidden}, *split, seed=0)
              for lr in (0.03, 0.1, 0.3, 0.6, 1.0) for hidden in (64, 256)}
    lr, hidden = max(scores, key=scores.get)
    return {"lr": lr, "hidden": hidden}, scores


@pytest.mark.slow
def test_a_small_search_on_validation_finds_values_that_pass():
    """The search's choice passes on every one of 50 grading seeds (measured for lr 0.6, hidden 256: 50 of 50,
    0.893 +- 0.007 on 30 seeds, at least 0.879), and so do the reference solution's values."""
    chosen, scores = _search()
    reference = _hyperparams(TUNING_CELL)
    for hp in [chosen] + ([reference] if reference != chosen else []):
        accuracies = _held_out(hp, range(50))
        assert np.all(accuracies >= A3.DIGITS_BAR), (hp, accuracies, scores)
