"""A3's engine-on-top parts and A4's new parts: each graded function, right and with the slips students make.

Every buggy version below is a classic one (unbroadcast that forgets keepdims, a parameter collected twice,
zero_grad missing, Adam's correction on the wrong moment, early stopping that returns the last parameters...);
each test checks the verdict it gets from the hidden check, graded in-process by tests/harness.py, and that the
correct version earns the part in full.
"""
from __future__ import annotations

import numpy as np
import pytest

from harness import answers, check_module, grade, grade_parts, solution_notebook


def _edit(a, old, new):
    """The solution's answer cells with one snippet replaced (the snippet must occur exactly once)."""
    sources = answers(a)
    assert sum(s.count(old) for s in sources) == 1, old
    return [s.replace(old, new) for s in sources]


def _score(a, part, sources, seeds=(0, 1, 2)):
    return [grade(a, sources, seed, only=(part,))[part] for seed in seeds]


# ------------------------------------------------------------------------------------------- A3
A3_BUGS = {
    "unbroadcast": {
        # sums only the prepended axes: (N, M) -> (1, M), (N, 1), (1, 1) keep their stretched axis
        "leading axes only": ("        if size == 1 and grad.shape[axis] != 1:\n"
                              "            grad = grad.sum(axis=axis, keepdims=True)\n",
                              "        pass\n"),
        # sums the length-1 axes away: (1, M) gets an (M,) gradient, and later axes shift
        "forgets keepdims": ("grad = grad.sum(axis=axis, keepdims=True)", "grad = grad.sum(axis=axis)"),
    },
    "modules": {
        "a parameter collected twice": ("            if id(value) in seen:\n                return\n", ""),
        "lists not searched": ("            elif isinstance(value, (list, tuple)):\n", "            elif False:\n"),
        "zero_grad does nothing": ("        for p in self.parameters():\n            p.grad = np.zeros_like(p.data)\n",
                                   "        pass\n"),
        "bias drawn like the weight": ("self.bias = Parameter(np.zeros(out_features))",
                                       "self.bias = Parameter(rng.standard_normal(out_features))"),
    },
    "cross_entropy": {
        "no max subtracted (overflows)": ("shifted = scores - scores.data.max(axis=1, keepdims=True)",
                                          "shifted = scores"),
        "sum instead of mean": ("-(log_probs * np.eye(scores.shape[1])[y]).sum(axis=1).mean()",
                                "-(log_probs * np.eye(scores.shape[1])[y]).sum(axis=1).sum()"),
    },
    "sgd_training": {
        "zero_grad missing: gradients accumulate": ("    optimizer.zero_grad()\n    loss = cross_entropy",
                                                    "    loss = cross_entropy"),
        "zero_grad between backward and step": ("    loss.backward()\n    optimizer.step()\n",
                                                "    loss.backward()\n    optimizer.zero_grad()\n    optimizer.step()\n"),
        "step climbs the gradient": ("p.data = p.data - self.lr * p.grad", "p.data = p.data + self.lr * p.grad"),
    },
    "digits": {   # the same slips, judged by what they do to a real training run
        "zero_grad missing: gradients accumulate": ("    optimizer.zero_grad()\n    loss = cross_entropy",
                                                    "    loss = cross_entropy"),
        # The tuned target needs the whole network: without biases, the learning rate tuned for the right engine
        # falls below the bar (0.74 to 0.82 on seeds 0-2); "modules" names the slip.
        "forward leaves the bias out": ("        return x @ self.weight + self.bias\n",
                                        "        return x @ self.weight\n"),
    },
}


def test_a3_unbroadcast_slip_costs_what_depends_on_it_and_nothing_else():
    # The + and * nodes call the student's unbroadcast. A bias (M,) on (N, M) needs no kept axis, so Part 1 and
    # the layers stay right; the softmax's row sums (N, 1) do, so the cross-entropy's gradient goes wrong (its
    # share only: the loss, its mean and its extreme scores stay right) and so does a real training run.
    # train_step is judged with the grader's own loss, so sgd_training stays right.
    old, new = A3_BUGS["unbroadcast"]["forgets keepdims"]
    scores = grade("A3", _edit("A3", old, new), 0)
    assert scores["unbroadcast"] == 0.5
    assert scores["tensor_core"] == scores["modules"] == scores["sgd_training"] == 1.0, scores
    assert scores["cross_entropy"] == 0.75 and scores["digits"] == 0.0, scores


def test_a3_modules_feedback_names_the_duplicate(monkeypatch):
    sources = _edit("A3", *A3_BUGS["modules"]["a parameter collected twice"])
    fb = grade_parts("A3", sources, seed=4, only=("modules",))["modules"].feedback
    assert any("listed once" in line.text for line in fb.lines), fb.lines


def test_a3_digits_cells_reach_the_bar_on_validation():
    """The notebook's digits cells (the split, train_digits, the graded cell's run), with the solution engine and its
    HYPERPARAMS, as the notebook runs them: the validation accuracy after the budget's epochs reaches the bar."""
    nb = solution_notebook("A3")
    ns = {"np": np}
    for source in answers("A3"):
        exec(source, ns)
    for cell_id in ("a3-code-37", "a3-test-37d"):
        exec(next(c.source for c in nb.cells if c.id == cell_id).split("### BEGIN HIDDEN TESTS")[0], ns)
    module = check_module("A3")
    assert len(ns["val_acc"]) == module.DIGITS_EPOCHS and ns["val_acc"][-1] >= module.DIGITS_BAR, ns["val_acc"]


# ------------------------------------------------------------------------------------------- A4
A4_BUGS = {
    "adam_notes": {
        "standard Adam (no folding)": ("    m = (beta1 * config[\"m\"] + (1 - beta1) * dw) / (1 - beta1 ** t)\n"
                                       "    v = (beta2 * config[\"v\"] + (1 - beta2) * dw * dw) / (1 - beta2 ** t)\n"
                                       "    next_w = w - config[\"lr\"] * m / (np.sqrt(v) + config[\"eps\"])\n",
                                       "    m = beta1 * config[\"m\"] + (1 - beta1) * dw\n"
                                       "    v = beta2 * config[\"v\"] + (1 - beta2) * dw * dw\n"
                                       "    next_w = w - config[\"lr\"] * (m / (1 - beta1 ** t)) / "
                                       "(np.sqrt(v / (1 - beta2 ** t)) + config[\"eps\"])\n"),
        "correction folded into the first moment only": (
            "    v = (beta2 * config[\"v\"] + (1 - beta2) * dw * dw) / (1 - beta2 ** t)\n",
            "    v = beta2 * config[\"v\"] + (1 - beta2) * dw * dw\n"),
        "correction with the other moment's beta": (
            "    m = (beta1 * config[\"m\"] + (1 - beta1) * dw) / (1 - beta1 ** t)\n",
            "    m = (beta1 * config[\"m\"] + (1 - beta1) * dw) / (1 - beta2 ** t)\n"),
    },
    "layer_statistics": {
        "statistics of the pre-activations": ("    for W in weights:\n        hs.append(f(hs[-1] @ W))\n"
                                              "    grads, g = [], dout\n",
                                              "    pre = []\n    for W in weights:\n        pre.append(hs[-1] @ W)\n"
                                              "        hs.append(f(pre[-1]))\n    grads, g = [], dout\n"
                                              "    hs_out = hs\n    hs = [X] + pre\n"),
        "tanh slope from the pre-activation": ("lambda h: 1.0 - h * h", "lambda z: 1.0 - np.tanh(z) ** 2"),
        "gradient recorded after the slope": ("        grads.append(g)                    # dLoss/dh_l\n"
                                              "        g = (g * slope(hs[l])) @ weights[l - 1].T\n",
                                              "        grads.append(g * slope(hs[l]))\n"
                                              "        g = (g * slope(hs[l])) @ weights[l - 1].T\n"),
    },
    "fit_early_stopping": {
        "returns the last parameters": ("    return best_params, history, best_epoch\n",
                                        "    return {n: v.copy() for n, v in params.items()}, history, best_epoch\n"),
        "keeps the live arrays, not copies": ("best_params = {name: value.copy() for name, value in params.items()}",
                                              "best_params = dict(params)"),
        "stops one epoch late": ("elif epoch - best_epoch >= patience:\n            break",
                                 "elif epoch - best_epoch > patience:\n            break"),
        "one config shared by all parameters": ("configs = {name: dict(config) for name in params}",
                                                "configs = {name: config for name in params}"),
    },
}


BUGS = {"A3": A3_BUGS, "A4": A4_BUGS}
# The verdicts that are not zero, and why they are deserved.
PARTIAL = {
    # Either slip costs the share of the length-1 axes (1 of 2 points) and nothing else.
    ("A3", "unbroadcast", "leading axes only"): 0.5, ("A3", "unbroadcast", "forgets keepdims"): 0.5,
    # Each modules slip costs its own share: parameters() (1 of 3), zero_grad() (0.5), Linear (1).
    ("A3", "modules", "a parameter collected twice"): 2 / 3, ("A3", "modules", "lists not searched"): 2 / 3,
    ("A3", "modules", "zero_grad does nothing"): 2.5 / 3, ("A3", "modules", "bias drawn like the weight"): 2 / 3,
    # cross_entropy: extreme scores (0.5 of 2) or the mean (0.5 of 2); the sum is right as a sum.
    ("A3", "cross_entropy", "no max subtracted (overflows)"): 0.75, ("A3", "cross_entropy", "sum instead of mean"): 0.75,
    # sgd_training: train_step (1 of 2, judged with the grader's optimiser) or SGD.step() (0.75 of 2).
    ("A3", "sgd_training", "zero_grad missing: gradients accumulate"): 0.5,
    ("A3", "sgd_training", "zero_grad between backward and step"): 0.5,
    ("A3", "sgd_training", "step climbs the gradient"): 1.25 / 2,
    # A4's update rules: a slip in the recursion costs "the stored state" (half); the step is right for the state
    # the function stored.
    ("A4", "adam_notes", "standard Adam (no folding)"): 0.5,
    ("A4", "adam_notes", "correction folded into the first moment only"): 0.5,
    ("A4", "adam_notes", "correction with the other moment's beta"): 0.5,
    # Forward and backward statistics are a share each, a third per activation. Pre-activations: every forward
    # statistic wrong, and the tanh and sigmoid slopes taken at them, while ReLU's slope (z > 0 iff h > 0) holds.
    ("A4", "layer_statistics", "statistics of the pre-activations"): (0 + 1 / 3) / 2,
    # relu and sigmoid stay right: that slip costs the tanh third of the gradients' share only.
    ("A4", "layer_statistics", "tanh slope from the pre-activation"): (1 + 2 / 3) / 2,
    ("A4", "layer_statistics", "gradient recorded after the slope"): 0.5,
    # The training, the stopping, the best parameters: a third each, each judged against the student's own run.
    ("A4", "fit_early_stopping", "returns the last parameters"): 2 / 3,
    ("A4", "fit_early_stopping", "keeps the live arrays, not copies"): 2 / 3,
    ("A4", "fit_early_stopping", "stops one epoch late"): 2 / 3,
    # Plain SGD keeps no state, so sharing its config is harmless here: full marks are deserved.
    ("A4", "fit_early_stopping", "one config shared by all parameters"): 1.0,
}


@pytest.mark.parametrize("a, part", [(a, p) for a, bugs in BUGS.items() for p in sorted(bugs)])
def test_correct_version_earns_the_part(a, part):
    assert _score(a, part, answers(a)) == [1.0, 1.0, 1.0]


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
@pytest.mark.parametrize("a, part, bug", [(a, p, b) for a, bugs in BUGS.items() for p in bugs for b in bugs[p]])
def test_classic_slips_get_the_verdict_they_deserve(a, part, bug):
    old, new = BUGS[a][part][bug]
    # share scores are rounded to 4 decimals: a third of a point is 0.3333
    assert _score(a, part, _edit(a, old, new)) == pytest.approx([PARTIAL.get((a, part, bug), 0.0)] * 3, abs=1e-4)


def test_a4_fit_inputs_make_early_stopping_fire():
    # The long run must end by early stopping, some epochs after its best one, or "returns the last parameters"
    # could pass; the short run must end by its epoch limit (the best epoch comes later).
    module = check_module("A4")
    for seed in range(10):
        inp = module.fit_inputs(np.random.default_rng(seed))
        _, _, val_loss, best_epoch = module.reference_fit(inp, inp["long"])
        assert best_epoch >= inp["short"] and len(val_loss) == best_epoch + inp["patience"] + 1 < inp["long"]
        assert len(module.reference_fit(inp, inp["short"])[2]) == inp["short"]


def test_a4_reference_statistics_match_numerical_gradients():
    """The trusted layer statistics' gradients agree with centred differences of the forward pass."""
    from deepgrad.gradcheck import numerical_gradient, rel_error
    module = check_module("A4")
    rng = np.random.default_rng(3)
    X, dout = rng.standard_normal((6, 4)), rng.standard_normal((6, 4))
    weights = [rng.standard_normal((4, 4)) / 2 for _ in range(3)]
    forms = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "sigmoid": lambda z: 1 / (1 + np.exp(-z))}
    for name, f in forms.items():
        stats = module.reference_statistics(X, weights, name, dout)
        h1 = f(X @ weights[0])
        top = lambda h, f=f: np.sum(f(f(h @ weights[1]) @ weights[2]) * dout)
        grad_h1 = numerical_gradient(top, h1.copy())
        assert abs(stats["grad_std"][0] - grad_h1.std()) < 1e-6 * max(1.0, grad_h1.std()), name
        assert rel_error(stats["act_std"][0], h1.std()) < 1e-12
