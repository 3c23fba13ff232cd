"""Trusted checks for A2, backprop by hand: layers' forward/backward pairs, a two-layer net, training.

Inputs are drawn at grading time. Features and upstream gradients span several orders of magnitude, so
centred differences cannot reach the 1e-9 tolerance used for gradients: a backward pass that numerically
differentiates the forward fails, and the feedback says why.
"""
from __future__ import annotations

import numpy as np

from autograder.checks import Part
from deepgrad import layers, losses

NOTEBOOK = "A2.ipynb"
TIGHT = ("Gradients are compared at relative error 1e-9 on inputs whose scales span six orders of magnitude; "
         "numerical differentiation cannot reach that, an exact backward pass does.")


def _multiscale(rng, shape):
    """Standard normal entries times 10**u, u uniform in [-3, 3]."""
    return rng.standard_normal(shape) * 10.0 ** rng.uniform(-3, 3, shape)


# ---------------------------------------------------------------------------------------------- linear
def linear_inputs(rng):
    N, D, M = (int(v) for v in rng.integers(2, 12, 3))
    return {"x": _multiscale(rng, (N, D)), "W": rng.standard_normal((D, M)), "b": rng.standard_normal(M),
            "dout": _multiscale(rng, (N, M))}


def drive_linear(ns, inp, out):
    result, cache = ns["linear_forward"](inp["x"], inp["W"], inp["b"])
    out["out"] = result
    out["dx"], out["dW"], out["db"] = ns["linear_backward"](inp["dout"], cache)


def check_linear(inp, out, fb):
    expected, cache = layers.linear_forward(inp["x"], inp["W"], inp["b"])
    dx, dW, db = layers.linear_backward(inp["dout"], cache)
    fb.note(TIGHT)
    ok = fb.close("out", expected, what="the forward output x @ W + b")
    ok &= fb.gradient("dx", dx, what="dx")
    ok &= fb.gradient("dW", dW, what="dW")
    ok &= fb.gradient("db", db, what="db")
    return ok


# ------------------------------------------------------------------------------------------------ ReLU
def relu_inputs(rng):
    shape = tuple(int(v) for v in rng.integers(2, 10, 2))
    x = _multiscale(rng, shape)
    x.flat[:3] = [0.0, -0.0, 1e-300]              # the kink itself: the gradient there must be 0
    return {"x": x, "dout": _multiscale(rng, shape)}


def drive_relu(ns, inp, out):
    result, cache = ns["relu_forward"](inp["x"])
    out["out"] = result
    out["dx"] = ns["relu_backward"](inp["dout"], cache)


def check_relu(inp, out, fb):
    expected, cache = layers.relu_forward(inp["x"])
    ok = fb.close("out", expected, what="max(0, x)")
    ok &= fb.gradient("dx", layers.relu_backward(inp["dout"], cache), what="dx (0 where x <= 0)")
    return ok


# --------------------------------------------------------------------------------------------- sigmoid
def sigmoid_inputs(rng):
    shape = tuple(int(v) for v in rng.integers(2, 10, 2))
    return {"x": rng.uniform(-4, 4, shape), "dout": _multiscale(rng, shape),
            "big": np.array([-1000.0, -60.0, 0.0, 60.0, 1000.0])}


def drive_sigmoid(ns, inp, out):
    result, cache = ns["sigmoid_forward"](inp["x"])
    out["out"] = result
    out["dx"] = ns["sigmoid_backward"](inp["dout"], cache)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out["big"] = ns["sigmoid_forward"](inp["big"])[0]


def check_sigmoid(inp, out, fb):
    expected, cache = layers.sigmoid_forward(inp["x"])
    fb.note("The sigmoid gradient is compared at relative error 1e-11: an exact s * (1 - s) agrees with the "
            "reference to about 1e-15, finite differences do not.")
    ok = fb.close("out", expected, what="sigmoid(x)")
    ok &= fb.gradient("dx", layers.sigmoid_backward(inp["dout"], cache), tol=1e-11, what="dx")
    if out.get("big") is None:
        fb.check(False, "", "sigmoid_forward overflowed (or failed) on inputs of size up to 1000: "
                            "compute it from exp(-|x|)")
        return False
    ok &= fb.close("big", layers.sigmoid_forward(inp["big"])[0], tol=1e-12,
                   what="sigmoid at -1000, -60, 0, 60, 1000 (no overflow)")
    return ok


# --------------------------------------------------------------------------------------------- dropout
def dropout_inputs(rng):
    shape = tuple(int(v) for v in rng.integers(20, 60, 2))
    return {"x": rng.standard_normal(shape), "dout": rng.standard_normal(shape),
            "p": float(rng.uniform(0.1, 0.8)), "seed": int(rng.integers(0, 2**31))}


def drive_dropout(ns, inp, out):
    forward, backward = ns["dropout_forward"], ns["dropout_backward"]
    result, cache = forward(inp["x"], inp["p"], "train", seed=inp["seed"])
    out["out"] = result
    out["dx"] = backward(inp["dout"], cache)
    result, cache = forward(inp["x"], inp["p"], "eval", seed=inp["seed"])
    out["eval_out"] = result
    out["eval_dx"] = backward(inp["dout"], cache)


def check_dropout(inp, out, fb):
    x, p, seed = inp["x"], inp["p"], inp["seed"]
    expected, cache = layers.dropout_forward(x, p, "train", seed=seed)
    ok = fb.close("out", expected, tol=1e-12,
                  what="the training-mode output (mask drawn as np.random.default_rng(seed).random(x.shape) >= p, "
                       "kept units divided by 1 - p)")
    ok &= fb.gradient("dx", layers.dropout_backward(inp["dout"], cache), tol=1e-12, what="dx in training mode")
    ok &= fb.close("eval_out", x, tol=0.0, what="the evaluation-mode output (must be x itself)")
    ok &= fb.close("eval_dx", inp["dout"], tol=0.0, what="dx in evaluation mode (must be dout itself)")
    return ok


# ------------------------------------------------------------------------------------------- two-layer
def two_layer_inputs(rng):
    N, D, H, C = (int(v) for v in (rng.integers(5, 20), rng.integers(3, 10), rng.integers(5, 15), rng.integers(3, 7)))
    return {"X": _multiscale(rng, (N, D)), "y": rng.integers(0, C, N),
            "W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H),
            "W2": rng.standard_normal((H, C)), "b2": rng.standard_normal(C),
            "reg": float(rng.uniform(0.01, 0.5))}


def drive_two_layer(ns, inp, out):
    params = {k: inp[k] for k in ("W1", "b1", "W2", "b2")}
    out["scores"] = ns["two_layer_loss"](dict(params), inp["X"])
    loss, grads = ns["two_layer_loss"](dict(params), inp["X"], inp["y"], reg=inp["reg"])
    out["loss"] = loss
    for k in params:
        out["grads/" + k] = grads[k]


def reference_two_layer(params, X, y=None, reg=0.0):
    """The same network from the library's layers (trusted)."""
    h, cache1 = layers.linear_relu_forward(X, params["W1"], params["b1"])
    scores, cache2 = layers.linear_forward(h, params["W2"], params["b2"])
    if y is None:
        return scores
    loss, dscores = losses.softmax_loss(scores, y)
    dh, dW2, db2 = layers.linear_backward(dscores, cache2)
    _, dW1, db1 = layers.linear_relu_backward(dh, cache1)
    loss += reg * (np.sum(params["W1"] ** 2) + np.sum(params["W2"] ** 2))
    return loss, {"W1": dW1 + 2 * reg * params["W1"], "b1": db1, "W2": dW2 + 2 * reg * params["W2"], "b2": db2}


def check_two_layer(inp, out, fb):
    params = {k: inp[k] for k in ("W1", "b1", "W2", "b2")}
    fb.note(TIGHT)
    ok = fb.close("scores", reference_two_layer(params, inp["X"]), what="the scores (y=None)")
    loss, grads = reference_two_layer(params, inp["X"], inp["y"], inp["reg"])
    ok &= fb.close("loss", loss, what="the regularised loss")
    N = len(inp["y"])
    for k in ("W1", "b1", "W2", "b2"):
        reg_args = {"reg": inp["reg"], "W": params[k]} if k.startswith("W") else {}
        ok &= fb.gradient("grads/" + k, grads[k], what=f"grads[{k!r}]", N=N, **reg_args)
    return ok


# -------------------------------------------------------------------------------------------- training
def training_inputs(rng):
    from deepgrad.data import load_digits

    X, y = load_digits()
    order = rng.permutation(len(y))
    X, y = X[order], y[order]
    mean, std = X[:1400].mean(axis=0), X[:1400].std(axis=0) + 1e-8
    X = (X - mean) / std
    return {"X": X[:1400], "y": y[:1400], "X_val": X[1400:], "y_val": y[1400:], "seed": int(rng.integers(0, 1000))}


def drive_training(ns, inp, out):
    params, history = ns["train_two_layer"](inp["X"], inp["y"], seed=inp["seed"])
    for k in ("W1", "b1", "W2", "b2"):
        out["params/" + k] = params[k]
    out["history"] = history


def check_training(inp, out, fb):
    shapes = {"W1": (64, 64), "b1": (64,), "W2": (64, 10), "b2": (10,)}
    params = {k: out.get("params/" + k) for k in shapes}
    if not fb.check(all(params[k] is not None and np.shape(params[k]) == s for k, s in shapes.items()),
                    "the returned parameters have the expected shapes",
                    "params must hold W1 (64, 64), b1 (64,), W2 (64, 10), b2 (10,) for the digits with the "
                    "default hidden_size=64"):
        return False
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    if not fb.check(all(np.all(np.isfinite(v)) for v in params.values()), "the parameters are finite",
                    "some parameters are inf or nan: the training diverged"):
        return False
    accuracy = float(np.mean(np.argmax(reference_two_layer(params, inp["X_val"]), axis=1) == inp["y_val"]))
    history = out.get("history")
    fb.check(history is not None and np.size(history) == 20, "history holds one loss per epoch (20)",
             "history should hold 20 numbers, the mean training loss of each epoch (not graded)")
    return fb.check(accuracy >= 0.9, f"validation accuracy {accuracy:.3f} (threshold 0.90)",
                    f"validation accuracy {accuracy:.3f} is below the threshold 0.90")


PARTS = [
    Part("linear", points=2, inputs=linear_inputs, check=check_linear, driver=drive_linear,
         needs=("linear_forward", "linear_backward"), description="linear layer: forward and backward"),
    Part("relu", points=1, inputs=relu_inputs, check=check_relu, driver=drive_relu,
         needs=("relu_forward", "relu_backward"), description="ReLU: forward and backward"),
    Part("sigmoid", points=1, inputs=sigmoid_inputs, check=check_sigmoid, driver=drive_sigmoid,
         needs=("sigmoid_forward", "sigmoid_backward"), description="sigmoid: forward, backward, no overflow"),
    Part("dropout", points=2, inputs=dropout_inputs, check=check_dropout, driver=drive_dropout,
         needs=("dropout_forward", "dropout_backward"), description="inverted dropout: train and eval modes"),
    Part("two_layer", points=3, inputs=two_layer_inputs, check=check_two_layer, driver=drive_two_layer,
         needs=("two_layer_loss",), description="two-layer network: scores, loss and gradients"),
    Part("training", points=2, inputs=training_inputs, check=check_training, driver=drive_training,
         needs=("train_two_layer",), timeout=60, held_out=("X_val", "y_val"),
         description="training on the digits: validation accuracy"),
]
