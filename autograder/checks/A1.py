"""Hidden checks for A1 (linear classifiers): the worked example of autograder/FORMAT.md.

Inputs are drawn at grading time. Loss gradients are compared with the reference at a relative error of
1e-9 on problems whose features span seven orders of magnitude: an exact gradient meets that easily
(naive and vectorised references agree to ~1e-12), centred differences cannot (their best is ~1e-7 there,
whatever the step), so a gradient obtained by differentiating the loss numerically earns nothing.
"""
from __future__ import annotations

import numpy as np

from autograder.checks import Part
from deepgrad import linear

NOTEBOOK = "A1.ipynb"
LOSSES = ("svm_loss_naive", "svm_loss_vectorized", "softmax_loss_naive", "softmax_loss_vectorized")
GRAD_TOL = 1e-9


# ------------------------------------------------------------------------------ losses
def _problem(rng, hard):
    N, D, C = int(rng.integers(15, 40)), int(rng.integers(6, 16)), int(rng.integers(3, 7))
    if hard:   # features on scales 1e-4 .. 1e3, weights inversely scaled: scores stay moderate
        scales = 10.0 ** rng.uniform(-4, 3, D)
        scales[:2] = 1e-4, 1e3
    else:
        scales = np.ones(D)
    X = rng.standard_normal((N, D)) * scales
    X[:, -1] = 1.0                                            # the bias column
    W = rng.standard_normal((D, C)) / scales[:, None] / np.sqrt(D)
    y = rng.integers(0, C, N)
    y[rng.permutation(N)[:C]] = np.arange(C)                  # every class present
    return W, X, y, float(rng.uniform(0.05, 0.5))


def loss_inputs(rng):
    """Problem A is ordinary (loss and gradient checked); problem B is ill-conditioned (gradient checked)."""
    inp = {}
    for tag, hard in (("A", False), ("B", True)):
        W, X, y, reg = _problem(rng, hard)
        inp.update({f"W{tag}": W, f"X{tag}": X, f"y{tag}": y, f"reg{tag}": reg})
    return inp


def drive_loss(ns, inp, out):
    # The graded function's name arrives as an input, so one driver serves the four loss parts.
    fn = ns[inp["function"]]
    for tag in ("A", "B"):
        result = fn(inp["W" + tag], inp["X" + tag], inp["y" + tag], inp["reg" + tag])
        if not isinstance(result, tuple) or len(result) != 2:
            raise ValueError(f"{inp['function']} must return a tuple (loss, dW), got {type(result).__name__}")
        out["loss" + tag], out["dW" + tag] = result


def _check_loss(reference, name):
    def check(inp, out, fb):
        calls = {k[len("calls/"):]: int(v) for k, v in out.items() if k.startswith("calls/")}
        repeated = {k: n for k, n in calls.items() if k in LOSSES and n > (2 if k == name else 4)}
        lossA, dWA = reference(inp["WA"], inp["XA"], inp["yA"], inp["regA"])
        _, dWB = reference(inp["WB"], inp["XB"], inp["yB"], inp["regB"])
        ok_loss = fb.close("lossA", lossA, tol=GRAD_TOL, what="the loss")
        if repeated:
            fb.check(False, "", f"Computing dW ran {', '.join(f'{k} {n} times' for k, n in repeated.items())}: "
                                f"a gradient obtained by evaluating the loss at nudged weights is a numerical "
                                f"gradient, which earns nothing here. Derive dW.")
            return 0.5 * ok_loss
        ok_grad = fb.gradient("dWA", dWA, tol=GRAD_TOL, what="dW", N=len(inp["yA"]), reg=inp["regA"], W=inp["WA"])
        if ok_grad:
            ok_grad = fb.gradient("dWB", dWB, tol=GRAD_TOL, what="dW on features of very different scales",
                                  N=len(inp["yB"]), reg=inp["regB"], W=inp["WB"])
            if not ok_grad and "dWB" in out and np.shape(out["dWB"]) == dWB.shape:
                fb.note("dW is right on an ordinary problem but not exact on one whose features span seven "
                        "orders of magnitude. An exact formula is right there too; centred differences are "
                        "not (their error grows with the loss divided by the step), so this looks like a "
                        "numerical gradient, which earns nothing.")
        return 0.5 * ok_loss + 0.5 * ok_grad
    return check


def _loss_part(name, points, reference, description):
    return Part(name=name.replace("_loss", ""), points=points, driver=drive_loss, needs=(name,),
                inputs=lambda rng: {**loss_inputs(rng), "function": name}, check=_check_loss(reference, name),
                count_calls=True, description=description)


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
    return 0.75 * ok_w + 0.25 * ok_h


# ------------------------------------------------------------------------------ predict
def predict_inputs(rng):
    N, D, C = int(rng.integers(20, 60)), int(rng.integers(3, 10)), int(rng.integers(2, 8))
    return {"W": rng.standard_normal((D, C)), "X": rng.standard_normal((N, D))}


def check_predict(inp, out, fb):
    return fb.equal("labels", np.argmax(inp["X"] @ inp["W"], axis=1), what="the predicted labels")


# ------------------------------------------------------------------------------ digits
_DIGITS = None


def digits_inputs(rng):
    global _DIGITS
    if _DIGITS is None:
        from deepgrad.data import load_digits
        _DIGITS = load_digits()
    X, y = _DIGITS
    order = rng.permutation(len(y))
    split = int(0.8 * len(y))
    tr, va = order[:split], order[split:]
    mean, std = X[tr].mean(axis=0), X[tr].std(axis=0)
    std[std < 1e-8] = 1.0
    Xs = np.hstack([(X - mean) / std, np.ones((len(y), 1))])
    return {"X_train": Xs[tr], "y_train": y[tr], "X_val": Xs[va], "y_val": y[va]}


def drive_digits(ns, inp, out):
    hp = dict(ns["HYPERPARAMS"])
    for key in ("learning_rate", "reg", "num_iters", "batch_size"):
        out[f"hp/{key}"] = float(hp[key])
    if int(hp["num_iters"]) * int(hp["batch_size"]) > 500_000:
        raise ValueError("num_iters * batch_size is above 500 000")
    W, _ = ns["train_linear"](inp["X_train"], inp["y_train"], ns["softmax_loss_vectorized"], **hp)
    out["W"] = W


def check_digits(inp, out, fb):
    W = out.get("W")
    shape = (inp["X_train"].shape[1], 10)
    if not fb.check(W is not None and np.shape(W) == shape, f"W has shape {shape}.",
                    f"No trained W of shape {shape} came back."):
        return False
    scores = inp["X_val"] @ np.asarray(W, dtype=float)
    if not fb.check(np.all(np.isfinite(scores)), "", "The trained W gives NaN or inf scores (diverged: lower "
                                                     "the learning rate)."):
        return False
    acc = float(np.mean(np.argmax(scores, axis=1) == inp["y_val"]))
    return fb.check(acc >= 0.9, f"Validation accuracy {acc:.1%} (90 % needed).",
                    f"Validation accuracy {acc:.1%}, below the 90 % needed. Check the loss and SGD parts first, "
                    f"then tune HYPERPARAMS.")


PARTS = [
    _loss_part("svm_loss_naive", 2, linear.svm_loss_naive, "Multiclass SVM loss and gradient, with loops"),
    _loss_part("svm_loss_vectorized", 2, linear.svm_loss_vectorized, "Multiclass SVM loss and gradient, vectorised"),
    _loss_part("softmax_loss_naive", 2, linear.softmax_loss_naive, "Softmax loss and gradient, with loops"),
    _loss_part("softmax_loss_vectorized", 2, linear.softmax_loss_vectorized,
               "Softmax loss and gradient, vectorised"),
    Part("sgd", 2, inputs=sgd_inputs, check=check_sgd, driver=drive_sgd, helpers=(softmax_helper,),
         needs=("train_linear",), description="Mini-batch SGD, replayed step by step"),
    Part("predict", 1, call="predict", args=("W", "X"), returns="labels", inputs=predict_inputs,
         check=check_predict, description="Predicted labels"),
    Part("digits", 2, inputs=digits_inputs, check=check_digits, driver=drive_digits,
         needs=("train_linear", "softmax_loss_vectorized", "HYPERPARAMS"), timeout=30,
         description="A softmax classifier on the digits: 90 % validation accuracy"),
]


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
    return (ok_initial + ok_chance + ok_tiny) / 3


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
            return inp
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
    train, val = _grid(inp)
    i, j = np.unravel_index(np.argmax(val), val.shape)
    ok_train = fb.close("train_acc", train, tol=1e-12, what="train_acc (3 learning rates x 4 regularisations)")
    ok_val = fb.close("val_acc", val, tol=1e-12, what="val_acc (3 learning rates x 4 regularisations)")
    ok_best = fb.close("best", [inp["learning_rates"][i], inp["regs"][j]], tol=1e-12,
                       what="the chosen (learning_rate, reg)")
    if not ok_best and out.get("best") is not None and np.shape(out["best"]) == (2,):
        ti, tj = np.unravel_index(np.argmax(train), train.shape)
        if np.allclose(out["best"], [inp["learning_rates"][ti], inp["regs"][tj]]):
            fb.note("You chose the pair with the best training accuracy; choose on the validation set.")
    return (ok_train + 2 * ok_val + 2 * ok_best) / 5


PARTS += [
    Part("sanity", 2, inputs=sanity_inputs, check=check_sanity, driver=drive_sanity,
         helpers=(softmax_helper, sgd_helper, tiny_helper), needs=("sanity_checks",),
         description="Sanity checks: the initial loss against chance, over-fitting a tiny subset"),
    Part("grid_search", 3, inputs=grid_inputs, check=check_grid, driver=drive_grid,
         helpers=(softmax_helper, sgd_helper), needs=("grid_search",), timeout=20,
         description="Hyperparameter search on the validation set"),
]

# Written answers, graded by hand in formgrader (autograder/manual.py).
MANUAL_PARTS = {"written_sanity": 2, "written_grid": 2}
