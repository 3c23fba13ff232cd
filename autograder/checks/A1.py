"""Hidden checks for A1 (linear classifiers): the worked example of autograder/FORMAT.md.

Inputs are drawn at grading time. Each loss part runs the student's function on six problems, each drawn
to judge one share of the part or to expose classic slips (autograder/FORMAT.md lists them):

* A0, ordinary, reg = 0: the data loss and its gradient on their own, so that a slip in the regulariser
  (0.5 * reg, the regulariser divided by N) costs the regulariser's share and nothing else;
* A, the same problem with reg > 0: the regulariser is judged as the difference A - A0 (reg * sum(W**2) in the
  loss, 2 * reg * W in dW), whatever the data term does; the caller's W, X and y must come back unchanged;
* M, missing classes: the labels lack the last class and one other, so C must come from W, not from y;
* S, extreme scores: rows near +1000 and -1000, spreads of thousands and correct classes far below the row's
  maximum (every class present), so a softmax whose exp lacks the row maximum overflows or gives 0/0, a global maximum underflows
  whole rows, and -log(p) of an underflowed p is inf: loss and dW must be finite and right (the SVM, which has
  no exp, meets the same problem);
* B, ill-conditioned: features on scales 1e-4 .. 1e3; gradients are compared at a relative error of 1e-9,
  which an exact gradient meets easily (naive and vectorised references agree to ~1e-12) and centred
  differences cannot (their best is ~1e-7 there, whatever the step);
* L, large (last): W has 204 800 weights, with the assignment's 10 classes. An exact dW costs about one
  evaluation of the loss; any gradient obtained by evaluating the loss at nudged weights (centred or one-sided
  differences, complex step, through the student's own functions or a private copy, one weight at a time or
  batched) costs at least one evaluation per weight, each touching all of W: minutes, far past the part's time
  limit. This is what makes the check hold for every form of numerical differentiation, exact or not.

M, S, B and L have reg = 0: each judges the data term alone. Inputs stay inside the assignment's domain (at
most 10 classes, every class present except in M), so an honest function that is right on the assignment's
data is right here. Shapes are all different (N, D, C) so that code that only works for square matrices fails.
"""
from __future__ import annotations

import numpy as np

from autograder.checks import BIG_TOL, Part, Share, large_problem
from deepgrad import linear
from deepgrad.data import load_jittered_digits, standardize
from deepgrad.gradcheck import rel_error

NOTEBOOK = "A1.ipynb"
PARTS = []      # in the notebook's order: each part is appended right after its check
LOSSES = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
GRAD_TOL = 1e-9
LARGE = (10, 20480, 10)         # N, D, C of problem L: 204 800 weights, the assignment's 10 classes, each once
PROBLEMS = ("A0", "A", "M", "S", "B", "L")      # the order the driver runs them in: L, the slow one, last

# The same five shares in all four loss parts: the same slip costs the same in each.
LOSS_SHARES = (
    Share("the data loss", 0.5, "the loss at `reg = 0` on an ordinary batch"),
    Share("its gradient dW", 0.5, "`dW` at `reg = 0`, derived: exact on features of every scale, fast on a large `W`"),
    Share("the regulariser", 0.5, "`reg * np.sum(W * W)` in the loss and `2 * reg * W` in `dW`"),
    Share("robustness", 0.25, "a batch lacking some classes; the caller's `W`, `X` and `y` left unchanged"),
    Share("extreme scores", 0.25, "scores near ±1000 and thousands apart: loss and `dW` finite and right"),
)
DATA, GRAD, REG, ROBUST, EXTREME = (s.name for s in LOSS_SHARES)


# ------------------------------------------------------------------------------ losses
def _shape(rng):
    """N, D, C all different, C at most 10 as in the assignment's data (and N > C: every class can be present)."""
    while True:
        N, D, C = int(rng.integers(15, 40)), int(rng.integers(6, 16)), int(rng.integers(4, 8))
        if len({N, D, C}) == 3:
            return N, D, C


def _labels(rng, N, C):
    """N labels in [0, C), every class present."""
    y = rng.integers(0, C, N)
    y[rng.permutation(N)[:C]] = np.arange(C)
    return y


def _problem(rng, hard=False, missing=False):
    N, D, C = _shape(rng)
    if hard:   # features on scales 1e-4 .. 1e3, weights inversely scaled: scores stay moderate
        scales = 10.0 ** rng.uniform(-4, 3, D)
        scales[:2] = 1e-4, 1e3
        scales[-1] = 1.0                                      # the bias: scores stay moderate (S is for those)
    else:
        scales = np.ones(D)
    X = rng.standard_normal((N, D)) * scales
    X[:, -1] = 1.0                                            # the bias column
    W = rng.standard_normal((D, C)) / scales[:, None] / np.sqrt(D)
    if missing:   # neither the last class nor one other appears: C is W.shape[1], not y.max() + 1
        present = np.delete(np.arange(C), [C - 1, int(rng.integers(1, C - 1))])
        y = rng.choice(present, N)
        y[rng.permutation(N)[:len(present)]] = present
    else:
        y = _labels(rng, N, C)
    return W, X, y, float(rng.uniform(0.05, 0.5))


def _extreme(rng):
    """Scores near +-1000 per row (a shared offset feature with the same weight in every class) and, in
    about half the rows, a spread of thousands with the correct class at the row's minimum."""
    W, X, y, reg = _problem(rng)
    N = len(y)
    X[:, 0] = rng.choice([-1.0, 1.0], N) * rng.uniform(900, 1100, N)
    W[0] = 1.0
    C = W.shape[1]
    wide = np.zeros(N, dtype=bool)
    wide[rng.permutation(N)[:int(rng.integers(1, N - C + 1))]] = True
    X[wide, 1:-1] *= 1000.0
    y[wide] = np.argmin((X @ W)[wide], axis=1)
    y[np.flatnonzero(~wide)[:C]] = rng.permutation(C)     # every class still present
    return W, X, y, reg


def _large(rng):
    N, D, C = LARGE
    X = rng.standard_normal((N, D))
    X[:, -1] = 1.0
    return rng.standard_normal((D, C)) / np.sqrt(D), X, _labels(rng, N, C), 0.0


def loss_inputs(rng):
    inp = {}
    W, X, y, reg = _problem(rng)
    for tag, (W_, X_, y_, reg_) in (("A0", (W, X, y, 0.0)), ("A", (W, X, y, reg)), ("M", _problem(rng, missing=True)),
                                   ("S", _extreme(rng)), ("B", _problem(rng, hard=True)), ("L", _large(rng))):
        reg_ = reg_ if tag == "A" else 0.0      # every other problem judges the data term alone
        inp.update({f"W{tag}": W_, f"X{tag}": X_, f"y{tag}": y_, f"reg{tag}": reg_})
    return inp


def drive_loss(ns, inp, out):
    # The graded function's name arrives as an input, so one driver serves the four loss parts. A problem
    # that raises costs only its own values: the others still run, and the first error is reported.
    fn, errors = ns[inp["function"]], []
    for tag in ("A0", "A", "M", "S", "B", "L"):
        try:
            result = fn(inp["W" + tag], inp["X" + tag], inp["y" + tag], inp["reg" + tag])
            if not isinstance(result, tuple) or len(result) != 2:
                raise ValueError(f"{inp['function']} must return a tuple (loss, dW), got {type(result).__name__}")
            out["loss" + tag], out["dW" + tag] = result
        except Exception as exc:
            errors.append(exc)
        if tag == "A":      # what the caller's arrays hold afterwards
            out["after/W"], out["after/X"], out["after/y"] = inp["WA"], inp["XA"], inp["yA"]
    if errors:
        raise errors[0]


def _calls(out, fb):
    """The call counts that came back, or {} (with a note) when they are not plain counts."""
    calls = {}
    for key, value in out.items():
        if key.startswith("calls/"):
            v = np.asarray(value)
            if v.shape != () or v.dtype.kind not in "iu" or v < 0:
                fb.note("The call counts that came back are not whole numbers, so they are ignored.")
                return {}
            calls[key[len("calls/"):]] = int(v)
    return calls


def _difference(out, key):
    """The student's value with reg minus the one at reg = 0 on the same problem (float64), or None."""
    with_reg, without = out.get(key + "A"), out.get(key + "A0")
    if with_reg is None or without is None or np.shape(with_reg) != np.shape(without):
        return None
    return np.asarray(with_reg, dtype=np.float64) - np.asarray(without, dtype=np.float64)


def _check_regulariser(inp, out, fb):
    """The regulariser's share: what adding reg changes, in the loss and in dW, whatever the data term does."""
    W, reg, N = inp["WA"], inp["regA"], len(inp["yA"])
    R, dR = reg * float(np.sum(W * W)), 2 * reg * W
    loss, grad = _difference(out, "loss"), _difference(out, "dW")
    if loss is None or grad is None:
        return fb.check(False, "", "The regulariser could not be judged: the loss and dW did not come back both "
                                   "with reg = 0 and with reg > 0 on the same batch.")
    out["reg/loss"], out["reg/grad"] = loss, grad
    ok = fb.close("reg/loss", R, tol=GRAD_TOL, what="what reg adds to the loss", slips=[
        ("half_reg", "Your regulariser is 0.5 * reg * sum(W**2); this assignment's is reg * sum(W**2) (whose "
                     "gradient is 2 * reg * W).", 0.5 * R),
        ("no_reg", "Your loss lacks the regulariser reg * sum(W**2).", 0.0 * R),
        ("factor_n", "Your loss divides the regulariser by N: only the data loss is an average.", R / N)])
    ok &= fb.close("reg/grad", dR, tol=GRAD_TOL, what="what reg adds to dW", slips=[
        ("half_reg", "Your dW adds reg * W, the gradient of 0.5 * reg * sum(W**2); the gradient of this "
                     "assignment's reg * sum(W**2) is 2 * reg * W.", 0.5 * dR),
        ("no_reg", "Your dW lacks the regulariser's gradient 2 * reg * W.", 0.0 * dR),
        ("factor_n", "Your dW divides the regulariser's gradient by N: only the data term is an average.", dR / N),
        ("sign", "Your dW subtracts the regulariser's gradient: it is + 2 * reg * W.", -dR)])
    return ok


def _data_slips(reference, inp, svm):
    """What the data loss (reg = 0) would be after each classic slip, for the feedback: [(code, words, value)]."""
    W, X, y = inp["WA0"], inp["XA0"], inp["yA0"]
    data = reference(W, X, y, 0.0)[0]
    slips = [("factor_n", "Your data loss is summed over the N examples, not averaged: divide it by N.",
              len(y) * data)]
    if svm:
        slips.append(("own_margin", "Your loss counts the correct class's own margin (1 per example): skip "
                                    "j == y[i].", data + 1))
    return slips


def _harder(fb, ref, tag, loss, grad, when):
    """A harder batch ``tag``'s verdict: its loss compared if ``loss`` (the data loss was right on the ordinary
    batch), its dW if ``grad``."""
    ok = fb.close("loss" + tag, ref[0], tol=GRAD_TOL, what=f"the loss {when}") if loss else True
    return fb.gradient("dW" + tag, ref[1], tol=GRAD_TOL, what=f"dW {when}") and ok if grad else ok


def _check_loss(reference, name):
    svm = name.startswith("svm")

    def check(inp, out, fb):
        calls = _calls(out, fb)
        repeated = {k: n for k, n in calls.items()
                    if k in LOSSES and n > len(PROBLEMS) * (1 if k == name else 2)}
        ref = {t: reference(inp["W" + t], inp["X" + t], inp["y" + t], inp["reg" + t]) for t in PROBLEMS}

        # the data term, at reg = 0
        ok_data = fb.close("lossA0", ref["A0"][0], tol=GRAD_TOL, what="the data loss (reg = 0)",
                           slips=_data_slips(reference, inp, svm))
        ok_grad = fb.gradient("dWA0", ref["A0"][1], tol=GRAD_TOL, what="dW at reg = 0", N=len(inp["yA0"]))
        dW = out.get("dWA0")
        # derived, not numerical: not merely close, the loss not run again and again, exact on any scale, fast
        # on a large W
        derived = True
        if not ok_grad and dW is not None and np.shape(dW) == ref["A0"][1].shape and np.all(np.isfinite(dW)) \
                and rel_error(np.asarray(dW, dtype=np.float64), ref["A0"][1]) < 1e-4:
            fb.note("dW is close to the reference but not exact: an exact formula in float64 agrees to about 1e-12. "
                    "Errors like this come from a numerical gradient (finite differences, which earn nothing "
                    "here) or from float32 arithmetic.", code="numerical")
            derived = False
        if repeated:
            derived = fb.check(False, "", f"Computing dW ran {', '.join(f'{k} {n} times' for k, n in repeated.items())}: "
                                          f"a gradient obtained by evaluating the loss at nudged weights is a numerical "
                                          f"gradient, which earns nothing here. Derive dW.", code="numerical")
        elif ok_grad:
            derived = fb.gradient("dWB", ref["B"][1], tol=GRAD_TOL, what="dW on features of very different scales",
                                  N=len(inp["yB"]))
            dWB = out.get("dWB")
            if not derived and dWB is not None and np.shape(dWB) == ref["B"][1].shape and np.all(np.isfinite(dWB)):
                fb.note("dW is right on an ordinary problem but not exact on one whose features span seven "
                        "orders of magnitude. An exact formula is right there too; centred differences are "
                        "not (their error grows with the loss divided by the step), so this looks like a "
                        "numerical gradient, which earns nothing.", code="numerical")
            if derived:     # problem L, the large one, is looked at only for a dW exact on all the others
                large = f"dW for a W with {LARGE[1] * LARGE[2]:,} weights"
                derived = large_problem(
                    fb, out, derived, lambda: fb.gradient("dWL", ref["L"][1], tol=BIG_TOL, what=large,
                                                          N=len(inp["yL"])),
                    key="dWL", reached="dWB",
                    why=f"{large} did not come back within the time limit. An exact dW takes milliseconds there; "
                        f"evaluating the loss once per weight (finite differences, complex step) takes minutes, and "
                        f"such a numerical gradient earns nothing. Derive dW.")
        ok_grad = ok_grad and derived
        if not derived:     # every share that judges a gradient needs a derived one
            return {DATA: ok_data, GRAD: False, REG: False, ROBUST: False, EXTREME: False}

        ok_reg = _check_regulariser(inp, out, fb)

        # robustness and extreme scores judge the data term again on harder batches: the loss where the data loss
        # was right on the ordinary batch, dW where dW was, so that a slip there is not charged twice
        if not (ok_data or ok_grad):
            fb.note("A batch lacking some classes and extreme scores are judged once the data loss or dW is right "
                    "on an ordinary batch.")
            ok_robust = ok_extreme = False
        else:
            ok_robust = _harder(fb, ref["M"], "M", ok_data, ok_grad, "when the labels lack some classes")
            if not ok_robust:
                fb.note("Your function is right when every class appears among the labels but not when some are "
                        "missing: take the number of classes C from W.shape[1], not from y (a batch need not "
                        "contain every class).", code="classes_from_labels")
            ok_extreme = _harder(fb, ref["S"], "S", ok_data, ok_grad, "on extreme scores (rows near +1000 and -1000, "
                                                                      "correct classes thousands below the row maximum)")
            if not ok_extreme and not svm:
                fb.note("Subtract each row's own maximum before exp (a global maximum underflows whole rows), and "
                        "take log p as shifted score minus log-sum-exp rather than log(p), which is -inf once p "
                        "underflows to 0.", code="unstable")
        after = [out.get(f"after/{k}") for k in ("W", "X", "y")]
        if any(a is None for a in after):       # the call did not return (an error, the time limit): said above
            ok_robust = False
        else:
            untouched = all(np.shape(a) == inp[k + "A"].shape and np.array_equal(a, inp[k + "A"])
                            for a, k in zip(after, ("W", "X", "y"), strict=True))
            ok_robust &= fb.check(untouched, "The caller's W, X and y are unchanged.",
                                  f"{name} changed the caller's W, X or y in place: work on copies "
                                  f"(dW = 2 * reg * W, not dW = W; dW *= ...).", code="in_place")
        return {DATA: ok_data, GRAD: ok_grad, REG: ok_reg, ROBUST: ok_robust, EXTREME: ok_extreme}
    return check


def _loss_part(name, points, reference, description):
    return Part(name=name.replace("_loss", ""), points=points, driver=drive_loss, needs=(name,),
                inputs=lambda rng: {**loss_inputs(rng), "function": name}, shares=LOSS_SHARES,
                check=_check_loss(reference, name), count_calls=True, timeout=20, description=description)


# The naive parts are judged against the vectorised references too: the same values (tests/test_linear.py holds
# them equal), without the reference's own Python loops in the grader.
PARTS.append(_loss_part("svm_loss_naive", 2, linear.svm_loss_vectorized,
                        "Multiclass SVM loss and gradient, with loops"))
PARTS.append(_loss_part("svm_loss_vectorized", 2, linear.svm_loss_vectorized,
                        "Multiclass SVM loss and gradient, vectorised"))
PARTS.append(_loss_part("softmax_loss_naive", 2, linear.softmax_loss_vectorized,
                        "Softmax loss and gradient, with loops"))
PARTS.append(_loss_part("softmax_loss_vectorized", 2, linear.softmax_loss_vectorized,
                        "Softmax loss and gradient, vectorised"))


# ------------------------------------------------------------------------------ SGD
def sgd_inputs(rng):
    N, D, C = int(rng.integers(40, 80)), int(rng.integers(3, 8)), int(rng.integers(2, 5))
    X = np.hstack([rng.standard_normal((N, D - 1)), np.ones((N, 1))])
    y = rng.integers(0, C, N)
    y[:C] = np.arange(C)
    return {"X": X, "y": y, "learning_rate": float(rng.uniform(0.05, 0.5)), "reg": float(rng.uniform(1e-4, 1e-2)),
            "num_iters": int(rng.integers(5, 25)), "batch_size": int(rng.integers(4, 20)),
            "seed": int(rng.integers(0, 2**31))}


def softmax_helper(W, X, y, reg):
    """The loss handed to the student's train_linear (runs in the sandbox, so that SGD is graded alone)."""
    N = X.shape[0]
    S = X @ W
    S = S - S.max(axis=1, keepdims=True)
    logp = S - np.log(np.exp(S).sum(axis=1, keepdims=True))
    G = np.exp(logp)
    G[np.arange(N), y] -= 1.0
    return -logp[np.arange(N), y].mean() + reg * np.sum(W * W), X.T @ G / N + 2 * reg * W


def drive_sgd(ns, inp, out):
    W, history = ns["train_linear"](inp["X"], inp["y"], softmax_helper, learning_rate=inp["learning_rate"],
                                    reg=inp["reg"], num_iters=inp["num_iters"], batch_size=inp["batch_size"],
                                    seed=inp["seed"])
    out["W"] = W
    out["history"] = np.asarray(history, dtype=float)


def _replay(inp):
    rng = np.random.default_rng(inp["seed"])
    X, y = inp["X"], inp["y"]
    W = 0.001 * rng.standard_normal((X.shape[1], int(y.max()) + 1))
    history = []
    for _ in range(inp["num_iters"]):
        idx = rng.choice(X.shape[0], inp["batch_size"], replace=True)
        loss, dW = linear.softmax_loss_vectorized(W, X[idx], y[idx], inp["reg"])
        W = W - inp["learning_rate"] * dW
        history.append(loss)
    return W, np.array(history)


def check_sgd(inp, out, fb):
    W, history = _replay(inp)
    ok_w = fb.close("W", W, tol=1e-8, what="the trained W")
    ok_h = fb.close("history", history, tol=1e-8, what="the loss history")
    if not ok_w and "W" in out:
        fb.note("The grader replays the recipe exactly (default_rng(seed), the 0.001 * standard_normal "
                "initialisation, rng.choice(N, batch_size, replace=True), W - learning_rate * dW): any change "
                "of order or of random draws changes W.")
    return {"the trained W": ok_w, "the loss history": ok_h}


PARTS.append(Part("sgd", 2, inputs=sgd_inputs, check=check_sgd, driver=drive_sgd, helpers=(softmax_helper,),
                  needs=("train_linear",), description="Mini-batch SGD, replayed step by step",
                  shares=(Share("the trained W", 1.5, "W after every step, replayed draw by draw"),
                          Share("the loss history", 0.5, "the loss of every step"))))


# ------------------------------------------------------------------------------ predict
def predict_inputs(rng):
    N, D, C = int(rng.integers(20, 60)), int(rng.integers(3, 10)), int(rng.integers(2, 8))
    return {"W": rng.standard_normal((D, C)), "X": rng.standard_normal((N, D))}


def check_predict(inp, out, fb):
    return fb.equal("labels", np.argmax(inp["X"] @ inp["W"], axis=1), what="predict's output")


PARTS.append(Part("predict", 1, call="predict", args=("W", "X"), returns="labels", inputs=predict_inputs,
                  check=check_predict, description="Predicted labels",
                  shares=(Share("the labels", 1, "the class of the highest score for every example"),)))


# ------------------------------------------------------------------------------ digits
# Part 7 trains on the digits moved by up to a pixel (deepgrad.data.load_jittered_digits), not the plain digits: on
# those a linear classifier passes 90 % at almost any sensible setting, so nothing there needs tuning. On the moved
# digits the notebook's starting HYPERPARAMS (about 94 % on the plain digits) reach about 57 % within the budget,
# and a small search on the validation split finds settings reaching about 63 %; the bar sits between the two. Half
# the digits (all copies of each, about 7200 images) are held out, so that one split's accuracy varies by only about
# a point. tests/test_shares_a1.py pins all of this over many splits.
DIGITS_SET = dict(copies=8, shift=1, noise=0.0)     # load_jittered_digits' arguments
DIGITS_BAR = 0.60
BAR_WORDS = f"{DIGITS_BAR * 100:.0f} %"
DIGITS_BUDGET = 100_000      # num_iters * batch_size: a poor learning rate cannot be made up by training longer


def digits_split(X, y, copies, rng):
    """Half of the digits for validation, all ``copies`` of each (consecutive rows of X, y).

    X: (N, D), y: (N,), N a multiple of ``copies``. Returns X_train (N_train, D + 1), y_train (N_train,), X_val
    (N_val, D + 1), y_val (N_val,): standardised with the training half's statistics, the bias column appended.
    """
    n = len(y) // copies
    val = np.isin(np.arange(len(y)) // copies, rng.permutation(n)[:n // 2])
    X_train, X_val, _, _ = standardize(X[~val], X[val])
    return (np.hstack([X_train, np.ones((len(X_train), 1))]), y[~val],
            np.hstack([X_val, np.ones((len(X_val), 1))]), y[val])


def digits_inputs(rng):
    X, y = load_jittered_digits(**DIGITS_SET, seed=rng)
    X_train, y_train, X_val, y_val = digits_split(X, y, DIGITS_SET["copies"], rng)
    return {"X_train": X_train, "y_train": y_train, "budget": DIGITS_BUDGET,
            "X_val": X_val, "y_val": y_val}     # X_val, y_val: held out


def drive_digits(ns, inp, out):
    hp = dict(ns["HYPERPARAMS"])
    # the four settings and nothing else: anything more (a seed that suits one split) would go to train_linear
    other = sorted(set(hp) - {"learning_rate", "reg", "num_iters", "batch_size"})
    if other:
        raise ValueError(f"HYPERPARAMS has keys other than learning_rate, reg, num_iters and batch_size: {other}")
    for key in ("learning_rate", "reg", "num_iters", "batch_size"):
        out[f"hp/{key}"] = float(hp[key])
    if int(hp["num_iters"]) * int(hp["batch_size"]) > inp["budget"]:
        raise ValueError(f"num_iters * batch_size is above the budget of {inp['budget']:,}")
    W, _ = ns["train_linear"](inp["X_train"], inp["y_train"], ns["softmax_loss_vectorized"], **hp)
    out["W"] = W


def digits_accuracy(W, X_val, y_val):
    """The fraction of rows of X_val (M, D) that W (D, 10) labels as y_val (M,)."""
    return float(np.mean(np.argmax(X_val @ W, axis=1) == y_val))


def check_digits(inp, out, fb):
    W = out.get("W")
    shape = (inp["X_train"].shape[1], 10)
    if not fb.check(W is not None and np.shape(W) == shape, f"W has shape {shape}.",
                    f"No trained W of shape {shape} came back."):
        return False
    scores = inp["X_val"] @ np.asarray(W, dtype=float)
    if not fb.check(np.all(np.isfinite(scores)), "", "The trained W gives NaN or inf scores (diverged: lower "
                                                     "the learning rate).", code="diverged"):
        return False
    acc = digits_accuracy(np.asarray(W, dtype=float), inp["X_val"], inp["y_val"])
    return fb.check(acc >= DIGITS_BAR, f"Validation accuracy {acc:.1%} ({BAR_WORDS} needed).",
                    f"Validation accuracy {acc:.1%}, below the {BAR_WORDS} needed. Check the loss and SGD parts "
                    f"first, then tune HYPERPARAMS on your validation split.")


PARTS.append(Part("digits", 2, inputs=digits_inputs, check=check_digits, driver=drive_digits,
                  needs=("train_linear", "softmax_loss_vectorized", "HYPERPARAMS"), timeout=30,
                  held_out=("X_val", "y_val"),
                  description=f"A softmax classifier on the moved digits: {BAR_WORDS} validation accuracy",
                  shares=(Share("validation accuracy", 2, f"at least {BAR_WORDS} on held-out moved digits, "
                                                          f"trained with your HYPERPARAMS"),)))


# ------------------------------------------------------------------------------ sanity checks
def sgd_helper(X, y, learning_rate, reg, num_iters, batch_size, seed):
    """The recipe of train_linear on softmax_helper (runs in the sandbox, so that each part is graded alone)."""
    rng = np.random.default_rng(seed)
    W = 0.001 * rng.standard_normal((X.shape[1], int(y.max()) + 1))
    for _ in range(num_iters):
        idx = rng.choice(X.shape[0], batch_size, replace=True)
        W = W - learning_rate * softmax_helper(W, X[idx], y[idx], reg)[1]
    return W


def tiny_helper(X, y):
    """The train_fn handed to sanity_checks: full-batch steps, no regularisation, enough to memorise."""
    return sgd_helper(X, y, 1.0, 0.0, 200, len(y), 0)


def sanity_inputs(rng):
    N, D, C = int(rng.integers(60, 120)), int(rng.integers(25, 40)), int(rng.integers(3, 7))
    X = np.hstack([rng.standard_normal((N, D - 1)), np.ones((N, 1))])
    y = rng.integers(0, C, N)
    y[-C:] = np.arange(C)                                     # every class present, not all in the tiny subset
    return {"X": X, "y": y, "num_tiny": int(rng.integers(8, 20)), "seed": int(rng.integers(0, 2**31))}


def drive_sanity(ns, inp, out):
    result = ns["sanity_checks"](inp["X"], inp["y"], softmax_helper, tiny_helper, num_tiny=inp["num_tiny"],
                                 seed=inp["seed"])
    for key in ("initial_loss", "chance_loss", "tiny_accuracy"):
        out[key] = result[key]


def check_sanity(inp, out, fb):
    X, y, n = inp["X"], inp["y"], inp["num_tiny"]
    C = int(y.max()) + 1
    W0 = 0.001 * np.random.default_rng(inp["seed"]).standard_normal((X.shape[1], C))
    ok_initial = fb.close("initial_loss", linear.softmax_loss_vectorized(W0, X, y, 0.0)[0],
                          what="the initial loss (W drawn from default_rng(seed), no regularisation)")
    ok_chance = fb.close("chance_loss", np.log(C), what=f"the chance loss for C = {C} classes")
    W = tiny_helper(X[:n], y[:n])
    ok_tiny = fb.close("tiny_accuracy", np.mean(np.argmax(X[:n] @ W, axis=1) == y[:n]), tol=1e-12,
                       what=f"the accuracy on the {n} examples of the tiny subset")
    return {"the initial loss": ok_initial, "the chance loss": ok_chance, "the tiny subset": ok_tiny}


PARTS.append(Part("sanity", 2, inputs=sanity_inputs, check=check_sanity, driver=drive_sanity,
                  helpers=(softmax_helper, sgd_helper, tiny_helper), needs=("sanity_checks",),
                  description="Sanity checks: the initial loss against chance, over-fitting a tiny subset",
                  shares=(Share("the initial loss", 0.5, "the loss of the initial W, without regularisation"),
                          Share("the chance loss", 0.5, "log C"),
                          Share("the tiny subset", 1, "the training accuracy after over-fitting a few examples"))))


# ------------------------------------------------------------------------------ grid search
def grid_inputs(rng):
    """A small noisy problem and a 3 x 4 grid, drawn again until the best pair on the validation set is unique
    and differs from the best on the training set (so that choosing on the wrong set shows)."""
    for _ in range(100):
        N, D, C = int(rng.integers(40, 80)), int(rng.integers(8, 16)), int(rng.integers(3, 5))
        w_true = rng.standard_normal((D, C))
        X, X_val = (np.hstack([rng.standard_normal((n, D - 1)), np.ones((n, 1))]) for n in (N, 300))
        inp = {"X": X, "y": np.argmax(X @ w_true + 2.0 * rng.standard_normal((N, C)), axis=1),
               "X_val": X_val, "y_val": np.argmax(X_val @ w_true, axis=1),
               "learning_rates": np.sort(10.0 ** rng.uniform(-3, 0.5, 3)), "regs": np.sort(10.0 ** rng.uniform(-4, 0, 4)),
               "num_iters": int(rng.integers(20, 40)), "batch_size": int(rng.integers(10, 20)),
               "seed": int(rng.integers(0, 2**31))}
        train, val = _grid(inp)
        if np.sum(val == val.max()) == 1 and np.argmax(train) != np.argmax(val):
            return {**inp, "expected_train": train, "expected_val": val}    # held out: for the check only
    raise RuntimeError("no suitable grid problem in 100 draws")


def _grid(inp):
    train, val = np.zeros((3, 4)), np.zeros((3, 4))
    for (i, j), _ in np.ndenumerate(train):
        W = sgd_helper(inp["X"], inp["y"], inp["learning_rates"][i], inp["regs"][j], inp["num_iters"],
                       inp["batch_size"], inp["seed"])
        train[i, j] = np.mean(np.argmax(inp["X"] @ W, axis=1) == inp["y"])
        val[i, j] = np.mean(np.argmax(inp["X_val"] @ W, axis=1) == inp["y_val"])
    return train, val


def drive_grid(ns, inp, out):
    def train_fn(learning_rate, reg):
        return sgd_helper(inp["X"], inp["y"], learning_rate, reg, inp["num_iters"], inp["batch_size"], inp["seed"])
    train, val, best = ns["grid_search"](train_fn, inp["X"], inp["y"], inp["X_val"], inp["y_val"],
                                         [float(v) for v in inp["learning_rates"]], [float(v) for v in inp["regs"]])
    out["train_acc"], out["val_acc"], out["best"] = train, val, np.asarray(best, dtype=float)


def check_grid(inp, out, fb):
    train, val = inp["expected_train"], inp["expected_val"]
    i, j = np.unravel_index(np.argmax(val), val.shape)
    ok_train = fb.close("train_acc", train, tol=1e-12, what="train_acc (3 learning rates x 4 regularisations)")
    ok_val = fb.close("val_acc", val, tol=1e-12, what="val_acc (3 learning rates x 4 regularisations)")
    ok_best = fb.close("best", [inp["learning_rates"][i], inp["regs"][j]], tol=1e-12,
                       what="the chosen (learning_rate, reg)")
    if not ok_best and out.get("best") is not None and np.shape(out["best"]) == (2,):
        ti, tj = np.unravel_index(np.argmax(train), train.shape)
        if np.allclose(out["best"], [inp["learning_rates"][ti], inp["regs"][tj]]):
            fb.note("You chose the pair with the best training accuracy; choose on the validation set.")
    return {"train_acc": ok_train, "val_acc": ok_val, "the chosen pair": ok_best}


PARTS.append(Part("grid_search", 3, inputs=grid_inputs, check=check_grid, driver=drive_grid,
                  helpers=(softmax_helper, sgd_helper), needs=("grid_search",), timeout=20,
                  held_out=("expected_train", "expected_val"),
                  description="Hyperparameter search on the validation set",
                  shares=(Share("train_acc", 0.6, "the training accuracy of every pair"),
                          Share("val_acc", 1.2, "the validation accuracy of every pair"),
                          Share("the chosen pair", 1.2, "the pair best on the validation set"))))


# ------------------------------------------------------------------------------ features against pixels
# Part 10 asks for the pieces of Dalal and Triggs' descriptor that lesson 01's plain HOG leaves out: unsigned
# orientations, soft (linear) votes between the two nearest bin centres, and a normalisation per cell. Each share is
# judged on a call that isolates it, or relative to what the student's own function did elsewhere, so that one slip
# costs its share and no more:
# * the votes (cell = 1: one histogram per pixel) on gradients pointing into the lower half-plane (angles in
#   (0, 180) degrees), where signed and unsigned angles agree: "soft votes";
# * the same gradients reversed: the votes must not change ("unsigned angles"; judged against the student's own votes
#   where those are wrong);
# * some pixels of the first field flattened to no gradient at all: they vote nothing, the others as before
#   ("flat pixels": np.arctan(gy / gx) gives NaN at 0 / 0);
# * the first field with cell > 1: the student's own per-pixel votes summed over each cell ("cell sums");
# * normalize_cells on histograms of the grader's, with an empty cell and cells whose length is near eps;
# * hog_features on images: the reference, or the student's own pieces on the grader's gradients ("hog_features").
FEATURE_SHARES = (
    Share("unsigned angles", 0.5, "a gradient and its opposite vote alike (the angle modulo 180°)"),
    Share("soft votes", 0.75, "each gradient's length split between the two nearest centres (k + 0.5) · 180 / bins, "
                              "across the wrap from 180° to 0°"),
    Share("flat pixels", 0.25, "a pixel without a gradient votes nothing (no NaN)"),
    Share("cell sums", 0.5, "the votes summed over each cell × cell block, shape (N, H // cell, W // cell, bins)"),
    Share("normalisation", 0.5, "each cell's histogram divided by sqrt(‖v‖² + eps²)"),
    Share("hog_features", 0.5, "the gradients as stated, the pieces composed, flattened cell by cell"),
)
UNSIGNED, SOFT, FLAT, CELLS, NORMALISED, COMPOSED = (s.name for s in FEATURE_SHARES)


def image_gradients(images):
    """Central differences (gx, gy), each (N, H, W), of images (N, H, W), the border repeated; y grows downwards."""
    padded = np.pad(images, ((0, 0), (1, 1), (1, 1)), mode="edge")
    return (padded[:, 1:-1, 2:] - padded[:, 1:-1, :-2]) / 2, (padded[:, 2:, 1:-1] - padded[:, :-2, 1:-1]) / 2


def pixel_votes(gx, gy, bins, *, offset=0.5, soft=True, wrap=True, period=180.0, power=1):
    """Each pixel's votes (N, H, W, bins) for gradients gx, gy (N, H, W): the reference (the defaults) and, through
    the keywords, the classic slips the feedback names (centres k * 180 / bins, hard votes, the votes past the last
    centre dropped, signed angles over 360 degrees, the squared length)."""
    width = period / bins
    t = np.degrees(np.arctan2(gy, gx)) % period / width - offset
    low = np.floor(t) if soft else np.round(t)
    frac = t - low if soft else np.zeros_like(t)
    low = low.astype(int) % bins
    votes = np.hypot(gx, gy) ** power
    k = np.arange(bins)
    high = (low + 1) % bins if wrap else low + 1          # without the wrap, the last bin's upper share is lost
    return (((1 - frac) * votes)[..., None] * (low[..., None] == k)
            + (frac * votes)[..., None] * (high[..., None] == k))


def cell_sums(votes, cell):
    """Votes (N, H, W, bins) summed over cell x cell blocks: (N, H // cell, W // cell, bins)."""
    n, h, w, bins = votes.shape
    return votes.reshape(n, h // cell, cell, w // cell, cell, bins).sum(axis=(2, 4))


def normalized_cells(hist, eps=1e-3):
    """Each cell's histogram (the last axis of hist) divided by sqrt(|v|^2 + eps^2)."""
    return hist / np.sqrt(np.sum(hist * hist, axis=-1, keepdims=True) + eps * eps)


def hog(images, cell=2, bins=9):
    """The reference hog_features: (N, (H // cell) * (W // cell) * bins), cells row by row, each cell's bins together."""
    gx, gy = image_gradients(images)
    return normalized_cells(cell_sums(pixel_votes(gx, gy, bins), cell)).reshape(len(images), -1)


def features_inputs(rng):
    cell, bins = int(rng.integers(2, 4)), int(rng.integers(5, 13))
    n, h, w = int(rng.integers(2, 4)), cell * int(rng.integers(2, 4)), cell * int(rng.integers(4, 6))
    # gradients pointing into the lower half-plane, lengths on three scales; a column of gx = 0 (straight down)
    angle, length = rng.uniform(0, np.pi, (n, h, w)), 10.0 ** rng.uniform(-1, 1, (n, h, w))
    gx, gy = length * np.cos(angle), length * np.sin(angle)
    gx[:, :, 0] = 0.0
    flat = rng.random((n, h, w)) < 0.3
    # histograms of the grader's: cells whose length is near eps, an empty one
    hist = rng.random((n, h // cell, w // cell, bins)) * 10.0 ** rng.uniform(-4, 1, (n, h // cell, w // cell, 1))
    hist[0, 0, 0] = 0.0
    images = rng.random((n, h, w))      # no flat pixel: a slip there is charged to "flat pixels" alone
    gxi, gyi = image_gradients(images)
    digits = rng.random((n, 8, 8))
    gxd, gyd = image_gradients(digits)
    return {"cell": cell, "bins": bins, "gx": gx, "gy": gy, "flat": flat, "hist": hist,
            "eps": float(10.0 ** rng.uniform(-2, -1)), "images": images, "gx_images": gxi, "gy_images": gyi,
            "digits": digits, "gx_digits": gxd, "gy_digits": gyd}


def drive_features(ns, inp, out):
    # Every call on its own: one that raises costs its own values only, and the first error is reported.
    hist_fn, norm_fn, hog_fn = ns["orientation_histograms"], ns["normalize_cells"], ns["hog_features"]
    gx, gy, cell, bins, flat = inp["gx"], inp["gy"], inp["cell"], inp["bins"], inp["flat"]
    calls = {"votes": lambda: hist_fn(gx, gy, 1, bins),
             "reversed": lambda: hist_fn(-gx, -gy, 1, bins),
             "flat": lambda: hist_fn(np.where(flat, 0.0, gx), np.where(flat, 0.0, gy), 1, bins),
             "cells": lambda: hist_fn(gx, gy, cell, bins),
             "normalised": lambda: norm_fn(inp["hist"], inp["eps"]),
             "normalised_default": lambda: norm_fn(inp["hist"]),
             "hog": lambda: hog_fn(inp["images"], cell=cell, bins=bins),
             "hog_default": lambda: hog_fn(inp["digits"]),
             "pieces": lambda: norm_fn(hist_fn(inp["gx_images"], inp["gy_images"], cell, bins)),
             "pieces_default": lambda: norm_fn(hist_fn(inp["gx_digits"], inp["gy_digits"], 2, 9))}
    errors = []
    for key, call in calls.items():
        try:
            out[key] = call()
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def _usable(value, shape) -> bool:
    """A value that came back with the expected shape, finite and not all zero: one that can stand for the
    student's own work when a later share is judged relative to it."""
    return (value is not None and np.shape(value) == shape and np.all(np.isfinite(value))
            and bool(np.any(np.asarray(value) != 0)))


def _same(value, expected) -> bool:
    return _usable(value, np.shape(expected)) and rel_error(np.asarray(value, dtype=np.float64), expected) <= GRAD_TOL


def _vote_slips(gx, gy, bins):
    return [
        ("hard_votes", "Each pixel gave its whole length to the nearest centre: split it between the two nearest "
                       "centres, each share in proportion to how close the angle is to that centre.",
         pixel_votes(gx, gy, bins, soft=False)),
        ("bin_centres", "Your centres sit at k · 180 / bins: they are at (k + 0.5) · 180 / bins, in the middle of "
                        "each bin (10°, 30°, ..., 170° for 9 bins).", pixel_votes(gx, gy, bins, offset=0.0)),
        ("no_wrap", "The votes of angles beyond the last centre or before the first lose their share across the "
                    "wrap: the bins go round a circle, so the last bin and bin 0 are neighbours (170° and 10° for "
                    "9 bins).",
         pixel_votes(gx, gy, bins, wrap=False)),
        ("signed_angles", "Your bins cover 360°: orientations are unsigned here, angles modulo 180°, and the "
                          "bins cover 180°.", pixel_votes(gx, gy, bins, period=360.0)),
        ("squared_length", "Each vote is the squared length gx² + gy²: vote with the length itself, "
                           "sqrt(gx² + gy²).", pixel_votes(gx, gy, bins, power=2)),
        ("swapped_gradients", "Your angles are measured from the y axis (gx and gy swapped): the angle of (gx, gy) "
                              "is np.arctan2(gy, gx).", pixel_votes(gy, gx, bins)),
    ]


def check_features(inp, out, fb):
    gx, gy, cell, bins, flat = inp["gx"], inp["gy"], inp["cell"], inp["bins"], inp["flat"]
    votes = pixel_votes(gx, gy, bins)

    # soft votes: one histogram per pixel (cell = 1), angles between 0 and 180 degrees (signed = unsigned there)
    ok_soft = fb.close("votes", votes, what=f"orientation_histograms(gx, gy, cell=1, bins={bins}) for gradients "
                                            f"pointing downwards (angles between 0° and 180°)",
                       slips=_vote_slips(gx, gy, bins))
    own = out.get("votes")
    own = np.asarray(own, dtype=np.float64) if _usable(own, votes.shape) else None

    # unsigned: the same gradients reversed vote alike (judged against the student's own votes where those are wrong)
    turned = "Reversed gradients (-gx, -gy) must vote as (gx, gy) do: an edge and its opposite have one " \
             "orientation, the angle modulo 180°."
    if ok_soft or own is None:
        ok_unsigned = fb.close("reversed", votes, what="the vote array of the same gradients reversed, (-gx, -gy),")
        if not ok_unsigned and ok_soft and out.get("reversed") is not None:
            fb.note(turned, code="signed_angles")
    else:
        ok_unsigned = fb.check(_same(out.get("reversed"), own),
                               "Reversed gradients (-gx, -gy) give the same votes as your own for (gx, gy) (those "
                               "are judged above).", turned, code="signed_angles")

    # flat pixels: no gradient, no vote; every other pixel as before
    base = votes if own is None else own
    ok_flat = fb.close("flat", np.where(flat[..., None], 0.0, base),
                       what="the vote array when some pixels have no gradient (gx = gy = 0)"
                            + ("" if own is None else ", its other pixels judged against your own votes,"))
    if not ok_flat and out.get("flat") is not None and not np.all(np.isfinite(out["flat"])):
        fb.note("A pixel without a gradient gave NaN: np.arctan(gy / gx) is 0 / 0 there. np.arctan2(gy, gx) is "
                "defined everywhere (0 for a zero gradient, whose length 0 then votes nothing).", code="arctan")

    # cell sums: the student's own per-pixel votes summed over each cell
    n, h, w, _ = base.shape
    ok_cells = fb.close("cells", cell_sums(base, cell), what=f"the array of {cell} × {cell} cells' histograms"
                        + ("" if own is None or ok_soft else " (judged as the sums of your own per-pixel votes)"),
                        slips=[("cell_reshape", "Your cells add up pixels of different cells: a reshape to "
                                "(N, H // cell, W // cell, cell, cell, bins) does not group a cell's pixels. "
                                "Reshape to (N, H // cell, cell, W // cell, cell, bins) and sum axes 2 and 4.",
                                base.reshape(n, h // cell, w // cell, cell, cell, -1).sum(axis=(3, 4)))])

    # normalisation, on histograms of the grader's: an empty cell, cells whose length is near eps
    hist, eps = inp["hist"], inp["eps"]
    ok_norm = True
    for key, e, what in (("normalised", eps, f"normalize_cells(hist, eps={eps:.3g})"),
                         ("normalised_default", 1e-3, "normalize_cells(hist) with the default eps = 1e-3")):
        length = np.sqrt(np.sum(hist * hist, axis=-1, keepdims=True))
        whole = np.sqrt(np.sum(hist * hist, axis=(1, 2, 3), keepdims=True))
        ok_norm &= fb.close(key, normalized_cells(hist, e), what=what, slips=[
            ("eps_outside", "You divide by ‖v‖ + eps: divide by sqrt(‖v‖² + eps²) (eps² inside the square root).",
             hist / (length + e)),
            ("norm_scope", "You divide by the length of all of an image's cells together: each cell is divided "
                           "by its own length.", hist / np.sqrt(whole ** 2 + e * e)),
            ("norm_scope", "You divide by the length of the whole array: each cell is divided by its own length.",
             hist / np.sqrt(np.sum(hist * hist) + e * e))])

    # hog_features: the reference, or the student's own pieces composed on the stated gradients
    ok_hog = True
    for key, images, c, b in (("hog", inp["images"], cell, bins), ("hog_default", inp["digits"], 2, 9)):
        got, expected = out.get(key), hog(images, c, b)
        pieces = out.get("pieces" if key == "hog" else "pieces_default")
        call = f"hog_features(images, cell={c}, bins={b})" if key == "hog" else "hog_features(images) (cell=2, bins=9)"
        if _same(got, expected):
            ok_hog &= fb.check(True, f"{call} is right.", "")
            continue
        if pieces is not None and np.size(pieces) == np.size(expected) and _same(
                got, np.reshape(pieces, expected.shape)):
            ok_hog &= fb.check(True, f"{call} is your own normalize_cells(orientation_histograms(...)) of the "
                                     f"stated gradients, flattened cell by cell: right (the pieces are judged above).", "")
            continue
        fb.close(key, expected, what=call, slips=_hog_slips(images, c, b))
        ok_hog = False
    return {UNSIGNED: ok_unsigned, SOFT: ok_soft, FLAT: ok_flat, CELLS: ok_cells, NORMALISED: ok_norm,
            COMPOSED: ok_hog}


def _hog_slips(images, cell, bins):
    gx, gy = image_gradients(images)
    n, h, w = images.shape
    histograms = normalized_cells(cell_sums(pixel_votes(gx, gy, bins), cell))
    zero = np.pad(images, ((0, 0), (1, 1), (1, 1)))
    gy_np, gx_np = np.gradient(images, axis=(1, 2))

    def composed(gx_, gy_):
        return normalized_cells(cell_sums(pixel_votes(gx_, gy_, bins), cell)).reshape(n, -1)
    return [("swapped_gradients", "Your gx and gy are swapped: gx is the difference along a row (right minus left, "
                                  "over 2), gy along a column (below minus above).", composed(gy, gx)),
            ("gradients", "y grows downwards here: gy is the pixel below minus the pixel above, over 2.",
             composed(gx, -gy)),
            ("gradients", "Your gradients pad the image with zeros: repeat the border pixels (np.pad(..., "
                          "mode='edge')), so that the frame of the picture is no edge.",
             composed((zero[:, 1:-1, 2:] - zero[:, 1:-1, :-2]) / 2, (zero[:, 2:, 1:-1] - zero[:, :-2, 1:-1]) / 2)),
            ("gradients", "Your gradients differ at the border (np.gradient's one-sided differences): pad with the "
                          "border pixels repeated and take (right - left) / 2 everywhere.", composed(gx_np, gy_np)),
            ("flatten_order", "Your features are flattened in another order: cells row by row, each cell's bins "
                              "together, as reshape(N, -1) of the (N, H // cell, W // cell, bins) histograms gives.",
             np.moveaxis(histograms, 3, 1).reshape(n, -1))]


PARTS.append(Part("features", 3, inputs=features_inputs, check=check_features, driver=drive_features,
                  needs=("orientation_histograms", "normalize_cells", "hog_features"),
                  description="Features against pixels: unsigned, soft-binned, normalised histograms of gradients",
                  shares=FEATURE_SHARES))


# Written answers, graded by hand in formgrader (autograder/records/manual.py).
MANUAL_PARTS = {"written_sanity": 2, "written_grid": 2}
