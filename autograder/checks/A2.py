"""Trusted checks for A2, backprop by hand: layers' forward/backward pairs, a two-layer net, training.

Inputs are drawn at grading time. Features and upstream gradients span several orders of magnitude, so
centred differences cannot reach the 1e-9 tolerance used for gradients: a backward pass that numerically
differentiates the forward fails, and the feedback says why.
"""
from __future__ import annotations

import numpy as np

from autograder.checks import BIG_TOL, Part, large_problem, multiscale, ran_out_of_time, too_slow
from deepgrad import layers, losses

NOTEBOOK = "A2.ipynb"
PARTS = []      # in the notebook's order: each part is appended right after its check
TIGHT = ("Gradients are compared at relative error 1e-9 on inputs whose scales span six orders of magnitude; "
         "numerical differentiation cannot reach that, an exact backward pass does.")


# ---------------------------------------------------------------------------------------------- linear
# N, D, M of the large linear problem: 262 144 entries in x and in W, D = 16 384 of them along the contracted
# axis, so that even a backward pass that nudges a whole column of x (or row of W) at once, 2 D forwards, runs
# out of time
BIG = (16, 16384, 16)


def linear_inputs(rng):
    """A small multiscale problem, and a large one (run last): an exact backward pass costs two matrix
    products there; one that evaluates the forward at nudged inputs (finite differences or complex step,
    exact or not) needs one forward per entry of x and W, minutes in all, far past the time limit."""
    N, D, M = (int(v) for v in rng.integers(2, 12, 3))
    n, d, m = BIG
    return {"x": multiscale(rng, (N, D)), "W": rng.standard_normal((D, M)), "b": rng.standard_normal(M),
            "dout": multiscale(rng, (N, M)), "x_big": rng.standard_normal((n, d)),
            "W_big": rng.standard_normal((d, m)) / np.sqrt(d), "b_big": rng.standard_normal(m),
            "dout_big": rng.standard_normal((n, m))}


def drive_linear(ns, inp, out):
    for tag in ("", "_big"):
        result, cache = ns["linear_forward"](inp["x" + tag], inp["W" + tag], inp["b" + tag])
        out["out" + tag] = result
        out["dx" + tag], out["dW" + tag], out["db" + tag] = ns["linear_backward"](inp["dout" + tag], cache)


def check_linear(inp, out, fb):
    expected, cache = layers.linear_forward(inp["x"], inp["W"], inp["b"])
    dx, dW, db = layers.linear_backward(inp["dout"], cache)
    fb.note(TIGHT)
    ok = fb.close("out", expected, what="the forward output x @ W + b")
    ok &= fb.gradient("dx", dx, what="dx")
    ok &= fb.gradient("dW", dW, what="dW")
    ok &= fb.gradient("db", db, what="db")

    def large():
        _, cache = layers.linear_forward(inp["x_big"], inp["W_big"], inp["b_big"])
        big = layers.linear_backward(inp["dout_big"], cache)
        return all([fb.gradient(key, value, tol=BIG_TOL, what=f"{key[:2]} on a large layer")
                    for key, value in zip(("dx_big", "dW_big", "db_big"), big, strict=True)])
    return large_problem(fb, out, ok, large, key="dx_big", reached="db",
                         why=too_slow(f"the backward pass on a layer with x of shape {BIG[:2]} and W of shape "
                                      f"{BIG[1:]}"))


PARTS.append(Part("linear", points=2, inputs=linear_inputs, check=check_linear, driver=drive_linear,
                  needs=("linear_forward", "linear_backward"), description="linear layer: forward and backward"))


# ------------------------------------------------------------------------------------------------ ReLU
def relu_inputs(rng):
    shape = tuple(int(v) for v in rng.integers(2, 10, 2))
    x = multiscale(rng, shape)
    x.flat[:3] = [0.0, -0.0, 1e-300]              # the kink itself: the gradient there must be 0
    return {"x": x, "dout": multiscale(rng, shape), "x_big": rng.standard_normal(BIG_ELEMENTWISE),
            "dout_big": rng.standard_normal(BIG_ELEMENTWISE)}


BIG_ELEMENTWISE = (512, 512)     # the large problem of elementwise layers: 262 144 entries


def drive_relu(ns, inp, out):
    for tag in ("", "_big"):
        result, cache = ns["relu_forward"](inp["x" + tag])
        out["out" + tag] = result
        out["dx" + tag] = ns["relu_backward"](inp["dout" + tag], cache)


def check_relu(inp, out, fb):
    expected, cache = layers.relu_forward(inp["x"])
    ok = fb.close("out", expected, what="max(0, x)")
    ok &= fb.gradient("dx", layers.relu_backward(inp["dout"], cache), what="dx (0 where x <= 0)")

    def large():
        expected, cache = layers.relu_forward(inp["x_big"])
        return (fb.close("out_big", expected, tol=BIG_TOL, what=f"max(0, x) on an input of shape {BIG_ELEMENTWISE}")
                & fb.gradient("dx_big", layers.relu_backward(inp["dout_big"], cache), tol=BIG_TOL,
                              what=f"dx on an input of shape {BIG_ELEMENTWISE}"))
    return large_problem(fb, out, ok, large, key="dx_big", reached="dx",
                         why=too_slow(f"the backward pass on an input of shape {BIG_ELEMENTWISE}"))


PARTS.append(Part("relu", points=1, inputs=relu_inputs, check=check_relu, driver=drive_relu,
                  needs=("relu_forward", "relu_backward"), description="ReLU: forward and backward"))


# --------------------------------------------------------------------------------------------- sigmoid
def sigmoid_inputs(rng):
    shape = tuple(int(v) for v in rng.integers(2, 10, 2))
    return {"x": rng.uniform(-4, 4, shape), "dout": multiscale(rng, shape),
            "big": np.array([-1000.0, -60.0, 0.0, 60.0, 1000.0]), "x_large": rng.uniform(-4, 4, BIG_ELEMENTWISE),
            "dout_large": rng.standard_normal(BIG_ELEMENTWISE)}


def drive_sigmoid(ns, inp, out):
    result, cache = ns["sigmoid_forward"](inp["x"])
    out["out"] = result
    out["dx"] = ns["sigmoid_backward"](inp["dout"], cache)
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        out["big"] = ns["sigmoid_forward"](inp["big"])[0]
    result, cache = ns["sigmoid_forward"](inp["x_large"])
    out["dx_large"] = ns["sigmoid_backward"](inp["dout_large"], cache)


def check_sigmoid(inp, out, fb):
    expected, cache = layers.sigmoid_forward(inp["x"])
    fb.note("The sigmoid gradient is compared at relative error 1e-11: an exact s * (1 - s) agrees with the "
            "reference to about 1e-15, finite differences do not.")
    ok = fb.close("out", expected, what="sigmoid(x)")
    ok &= fb.gradient("dx", layers.sigmoid_backward(inp["dout"], cache), tol=1e-11, what="dx")
    if out.get("big") is None:
        fb.check(False, "", "sigmoid_forward overflowed (or failed) on inputs of size up to 1000: "
                            "compute it from exp(-|x|)", code="unstable")
        return False
    ok &= fb.close("big", layers.sigmoid_forward(inp["big"])[0], tol=1e-12,
                   what="sigmoid at -1000, -60, 0, 60, 1000 (no overflow)", code="unstable")

    def large():
        _, cache = layers.sigmoid_forward(inp["x_large"])
        return fb.gradient("dx_large", layers.sigmoid_backward(inp["dout_large"], cache), tol=BIG_TOL,
                           what=f"dx on an input of shape {BIG_ELEMENTWISE}")
    return large_problem(fb, out, ok, large, key="dx_large", reached="big",
                         why=too_slow(f"the backward pass on an input of shape {BIG_ELEMENTWISE}"))


PARTS.append(Part("sigmoid", points=1, inputs=sigmoid_inputs, check=check_sigmoid, driver=drive_sigmoid,
                  needs=("sigmoid_forward", "sigmoid_backward"), description="sigmoid: forward, backward, no overflow"))


# --------------------------------------------------------------------------------------------- dropout
def dropout_inputs(rng):
    shape = tuple(int(v) for v in rng.integers(20, 60, 2))
    return {"x": rng.standard_normal(shape), "dout": rng.standard_normal(shape),
            "p": float(rng.uniform(0.1, 0.8)), "seed": int(rng.integers(0, 2**31)),
            "x_big": rng.standard_normal(BIG_ELEMENTWISE), "dout_big": rng.standard_normal(BIG_ELEMENTWISE)}


def drive_dropout(ns, inp, out):
    forward, backward = ns["dropout_forward"], ns["dropout_backward"]
    result, cache = forward(inp["x"], inp["p"], "train", seed=inp["seed"])
    out["out"] = result
    out["dx"] = backward(inp["dout"], cache)
    result, cache = forward(inp["x"], inp["p"], "eval", seed=inp["seed"])
    out["eval_out"] = result
    out["eval_dx"] = backward(inp["dout"], cache)
    result, cache = forward(inp["x_big"], inp["p"], "train", seed=inp["seed"])
    out["dx_big"] = backward(inp["dout_big"], cache)


def check_dropout(inp, out, fb):
    x, p, seed = inp["x"], inp["p"], inp["seed"]
    expected, cache = layers.dropout_forward(x, p, "train", seed=seed)
    ok = fb.close("out", expected, tol=1e-12,
                  what="the training-mode output (mask drawn as np.random.default_rng(seed).random(x.shape) >= p, "
                       "kept units divided by 1 - p)")
    ok &= fb.gradient("dx", layers.dropout_backward(inp["dout"], cache), tol=1e-12, what="dx in training mode")
    ok &= fb.close("eval_out", x, tol=0.0, what="the evaluation-mode output (must be x itself)")
    ok &= fb.close("eval_dx", inp["dout"], tol=0.0, what="dx in evaluation mode (must be dout itself)")

    def large():         # the mask is exact: compared as tightly as on the small input
        _, cache = layers.dropout_forward(inp["x_big"], p, "train", seed=seed)
        return fb.gradient("dx_big", layers.dropout_backward(inp["dout_big"], cache), tol=1e-12,
                           what=f"dx in training mode on an input of shape {BIG_ELEMENTWISE}")
    return large_problem(fb, out, ok, large, key="dx_big", reached="eval_dx",
                         why=too_slow(f"the backward pass on an input of shape {BIG_ELEMENTWISE}"))


PARTS.append(Part("dropout", points=2, inputs=dropout_inputs, check=check_dropout, driver=drive_dropout,
                  needs=("dropout_forward", "dropout_backward"), description="inverted dropout: train and eval modes"))


# ------------------------------------------------------------------------------------------- two-layer
def two_layer_inputs(rng):
    N, D, H, C = (int(v) for v in (rng.integers(5, 20), rng.integers(3, 10), rng.integers(5, 15), rng.integers(3, 7)))
    return {"X": multiscale(rng, (N, D)), "y": rng.integers(0, C, N),
            "W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H),
            "W2": rng.standard_normal((H, C)), "b2": rng.standard_normal(C),
            "reg": float(rng.uniform(0.01, 0.5)), **big_net_inputs(rng, BIG_TWO_LAYER)}


BIG_TWO_LAYER = (64, 512, 256, 10)     # N, D, H, C of the large network, run last: 134 000 parameters


def big_net_inputs(rng, sizes):
    """X_big, y_big and W1_big, b1_big, ... of a network with layer widths sizes[1:] (N = sizes[0])."""
    N, widths = sizes[0], sizes[1:]
    inp = {"X_big": rng.standard_normal((N, widths[0])), "y_big": rng.integers(0, widths[-1], N)}
    for l, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True), start=1):
        inp[f"W{l}_big"] = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        inp[f"b{l}_big"] = 0.1 * rng.standard_normal(fan_out)
    return inp


def drive_two_layer(ns, inp, out):
    params = {k: inp[k] for k in ("W1", "b1", "W2", "b2")}
    out["scores"] = ns["two_layer_loss"](dict(params), inp["X"])
    loss, grads = ns["two_layer_loss"](dict(params), inp["X"], inp["y"], reg=inp["reg"])
    out["loss"] = loss
    for k in params:
        out["grads/" + k] = grads[k]
    loss, grads = ns["two_layer_loss"]({k: inp[k + "_big"] for k in params}, inp["X_big"], inp["y_big"],
                                       reg=inp["reg"])
    out["big/loss"] = loss
    for k in params:
        out["big/grads/" + k] = grads[k]


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
    words = "a network with D, H, C = {}, {}, {} and a batch of {}".format(*BIG_TWO_LAYER[1:], BIG_TWO_LAYER[0])

    def large():
        loss, grads = reference_two_layer({k: inp[k + "_big"] for k in params}, inp["X_big"], inp["y_big"],
                                          inp["reg"])
        return all([fb.close("big/loss", loss, tol=BIG_TOL, what=f"the loss of {words}"),
                    *[fb.gradient("big/grads/" + k, grads[k], tol=BIG_TOL, what=f"grads[{k!r}] of {words}")
                      for k in ("W1", "b1", "W2", "b2")]])
    return large_problem(fb, out, ok, large, key="big/grads/b2", reached="grads/b2",
                         why=too_slow("the backward pass on " + words))


PARTS.append(Part("two_layer", points=3, inputs=two_layer_inputs, check=check_two_layer, driver=drive_two_layer,
                  needs=("two_layer_loss",), description="two-layer network: scores, loss and gradients"))


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


PARTS.append(Part("training", points=2, inputs=training_inputs, check=check_training, driver=drive_training,
                  needs=("train_two_layer",), timeout=60, held_out=("X_val", "y_val"),
                  description="training on the digits: validation accuracy"))


# ------------------------------------------------------------------------------------ batch normalisation
def batchnorm_inputs(rng):
    """Three training batches, an eval batch with given running statistics, upstream gradients.

    The columns span six orders of magnitude, so a dx by centred differences misses the tolerance."""
    N, D = int(rng.integers(6, 20)), int(rng.integers(3, 8))
    scale, shift = 10.0 ** rng.uniform(-3, 3, D), rng.uniform(-5, 5, D)
    inp = {f"x{k}": (rng.standard_normal((N, D)) + shift) * scale for k in range(3)}
    inp.update(gamma=rng.uniform(0.5, 2.0, D), beta=rng.standard_normal(D), momentum=float(rng.uniform(0.05, 0.5)),
               dout=multiscale(rng, (N, D)), x_eval=(rng.standard_normal((int(rng.integers(1, 6)), D)) + shift) * scale,
               running_mean=shift * scale, running_var=scale ** 2 * rng.uniform(0.5, 2.0, D))
    inp["dout_eval"] = multiscale(rng, inp["x_eval"].shape)
    n, d = BIG_BATCHNORM
    inp.update(x_big=rng.standard_normal((n, d)) * 3 + 1, gamma_big=rng.uniform(0.5, 2.0, d),
               beta_big=rng.standard_normal(d), dout_big=rng.standard_normal((n, d)))
    return inp


BIG_BATCHNORM = (16384, 16)      # the large training batch, run last: N forwards (a row of x at a time) run out of time too


def drive_batchnorm(ns, inp, out):
    forward, backward = ns["batchnorm_forward"], ns["batchnorm_backward"]
    bn_param = {"mode": "train", "momentum": inp["momentum"]}
    for k in range(3):
        result, cache = forward(inp[f"x{k}"], inp["gamma"], inp["beta"], bn_param)
        out[f"out{k}"] = result
        out[f"running_mean{k}"], out[f"running_var{k}"] = bn_param["running_mean"], bn_param["running_var"]
    out["dx"], out["dgamma"], out["dbeta"] = backward(inp["dout"], cache)
    # eval mode on its own running statistics, so that a slip in the running update costs only that part
    eval_param = {"mode": "eval", "running_mean": inp["running_mean"], "running_var": inp["running_var"]}
    result, cache = forward(inp["x_eval"], inp["gamma"], inp["beta"], eval_param)
    out["eval_out"] = result
    out["eval_dx"], out["eval_dgamma"], out["eval_dbeta"] = backward(inp["dout_eval"], cache)
    result, cache = forward(inp["x_big"], inp["gamma_big"], inp["beta_big"], {"mode": "train"})
    out["out_big"] = result
    out["dx_big"], out["dgamma_big"], out["dbeta_big"] = backward(inp["dout_big"], cache)


def check_batchnorm(inp, out, fb):
    gamma, beta = inp["gamma"], inp["beta"]
    bn_param = {"mode": "train", "momentum": inp["momentum"]}
    ok_train = ok_running = True
    for k in range(3):
        expected, cache = layers.batchnorm_forward(inp[f"x{k}"], gamma, beta, bn_param)
        ok_train &= fb.close(f"out{k}", expected, what=f"the train-mode output of batch {k + 1}")
        ok_running &= fb.close(f"running_mean{k}", bn_param["running_mean"],
                               what=f"running_mean after batch {k + 1}")
        ok_running &= fb.close(f"running_var{k}", bn_param["running_var"], what=f"running_var after batch {k + 1}")
    if not ok_running:
        fb.note("The running statistics start at zeros (mean) and ones (variance) and after each training batch "
                "move a fraction `momentum` of the way to the batch's statistics.")
    dx, dgamma, dbeta = layers.batchnorm_backward(inp["dout"], cache)
    fb.note(TIGHT)
    ok_dx = fb.gradient("dx", dx, what="the train-mode dx")
    if not ok_dx and "dx" in out and np.shape(out["dx"]) == dx.shape:
        frozen = layers.batchnorm_backward(inp["dout"], (cache[0], cache[1], cache[2], "eval"))[0]
        if np.allclose(np.asarray(out["dx"], dtype=float), frozen, rtol=1e-6, atol=0):
            fb.note("Your dx is what it would be if the batch mean and variance were constants. In train mode "
                    "they are computed from x, so x reaches the output along three paths; add all three.")
    ok_params = fb.gradient("dgamma", dgamma, what="the train-mode dgamma")
    ok_params &= fb.gradient("dbeta", dbeta, what="the train-mode dbeta")
    eval_param = {"mode": "eval", "running_mean": inp["running_mean"], "running_var": inp["running_var"]}
    expected, cache = layers.batchnorm_forward(inp["x_eval"], gamma, beta, eval_param)
    ok_eval = fb.close("eval_out", expected, what="the eval-mode output (normalised with the running statistics)")
    for key, value in zip(("eval_dx", "eval_dgamma", "eval_dbeta"), layers.batchnorm_backward(inp["dout_eval"], cache), strict=True):
        ok_eval &= fb.gradient(key, value, what=f"the eval-mode {key[5:]}")
    words = f"on a training batch of shape {BIG_BATCHNORM}"

    def large():         # the train-mode shares (output, dx, dgamma and dbeta), each with its large-batch verdict
        expected, cache = layers.batchnorm_forward(inp["x_big"], inp["gamma_big"], inp["beta_big"], {"mode": "train"})
        train = fb.close("out_big", expected, tol=BIG_TOL, what=f"the train-mode output {words}")
        dx, dgamma, dbeta = layers.batchnorm_backward(inp["dout_big"], cache)
        return (ok_train & train, ok_dx & fb.gradient("dx_big", dx, tol=BIG_TOL, what=f"the train-mode dx {words}"),
                ok_params & fb.gradient("dgamma_big", dgamma, tol=BIG_TOL, what=f"the train-mode dgamma {words}")
                & fb.gradient("dbeta_big", dbeta, tol=BIG_TOL, what=f"the train-mode dbeta {words}"))
    # Out of time on the large batch, the backward passes earn nothing and the forward passes keep theirs.
    where = {"key": "dx_big", "reached": "eval_dbeta"}
    ok_eval &= not ran_out_of_time(out, **where)
    judged = large_problem(fb, out, ok_dx or ok_params, large, **where,
                           why=too_slow(f"the backward pass on a training batch of shape {BIG_BATCHNORM}"))
    ok_train, ok_dx, ok_params = judged or (ok_train, False, False)   # False: out of time, or no backward pass passed
    return (2 * ok_train + 2 * ok_running + 2 * ok_eval + 3 * ok_dx + ok_params) / 10


PARTS.append(Part("batchnorm", points=3, inputs=batchnorm_inputs, check=check_batchnorm, driver=drive_batchnorm,
                  needs=("batchnorm_forward", "batchnorm_backward"),
                  description="batch normalisation: train and eval modes, running statistics, backward"))


# ------------------------------------------------------------------------------------ fully connected net
def fc_net_inputs(rng):
    D, C = int(rng.integers(3, 9)), int(rng.integers(3, 7))
    hidden = [int(h) for h in rng.integers(3, 10, int(rng.integers(2, 5)))]   # at least three linear layers
    sizes = [D, *hidden, C]
    inp = {"D": D, "C": C, "hidden": np.array(hidden), "L": len(sizes) - 1, "seed": int(rng.integers(0, 2**31)),
           "X": multiscale(rng, (int(rng.integers(5, 15)), D)), "reg": float(rng.uniform(0.01, 0.3)),
           "dropout": float(rng.uniform(0.2, 0.6)), "drop_seed": int(rng.integers(0, 2**20))}
    inp["y"] = rng.integers(0, C, len(inp["X"]))
    for l, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), start=1):
        inp[f"W{l}"] = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in)
        inp[f"b{l}"] = rng.standard_normal(fan_out)
    inp.update(big_net_inputs(rng, BIG_FC_NET))
    return inp


BIG_FC_NET = (64, 256, 256, 128, 10)    # N and the layer widths of the large network, run last: 100 000 parameters


def _big_params(inp):
    return {key[:-4]: value for key, value in inp.items() if key[0] in "Wb" and key.endswith("_big")}


def drive_fc_net(ns, inp, out):
    init, net = ns["init_fc_net"], ns["fc_net_loss"]
    for key, value in init(inp["D"], [int(h) for h in inp["hidden"]], inp["C"], seed=inp["seed"]).items():
        out["init/" + key] = value
    out["he/W1"] = init(400, [300], 10, seed=inp["seed"])["W1"]
    params = {f"{k}{l}": inp[f"{k}{l}"] for l in range(1, inp["L"] + 1) for k in "Wb"}
    out["linear_scores"] = net({"W1": inp["W1"][:, :inp["C"]], "b1": inp["b1"][:inp["C"]]}, inp["X"])
    out["scores"] = net(dict(params), inp["X"], dropout=inp["dropout"], seed=inp["drop_seed"])
    for tag, p in (("plain", 0.0), ("dropout", inp["dropout"])):
        loss, grads = net(dict(params), inp["X"], inp["y"], reg=inp["reg"], dropout=p, seed=inp["drop_seed"])
        out[f"{tag}/loss"] = loss
        for key, value in grads.items():
            out[f"{tag}/grads/{key}"] = value
    big = {key[:-4]: value for key, value in inp.items() if key[0] in "Wb" and key.endswith("_big")}
    loss, grads = net(big, inp["X_big"], inp["y_big"], reg=inp["reg"])
    out["big/loss"] = loss
    for key, value in grads.items():
        out["big/grads/" + key] = value


def reference_fc_net(params, X, y=None, reg=0.0, dropout=0.0, seed=None):
    """{linear -> ReLU -> dropout} x (L-1) -> linear -> softmax, from the library's layers (trusted)."""
    L = len(params) // 2
    h, caches = X, []
    for l in range(1, L):
        h, cache = layers.linear_relu_forward(h, params[f"W{l}"], params[f"b{l}"])
        drop = None
        if y is not None and dropout > 0:
            h, drop = layers.dropout_forward(h, dropout, "train", seed=None if seed is None else seed + l)
        caches.append((cache, drop))
    scores, last = layers.linear_forward(h, params[f"W{L}"], params[f"b{L}"])
    if y is None:
        return scores
    loss, dscores = losses.softmax_loss(scores, y)
    grads = {}
    dh, grads[f"W{L}"], grads[f"b{L}"] = layers.linear_backward(dscores, last)
    for l in range(L - 1, 0, -1):
        cache, drop = caches[l - 1]
        dh = layers.dropout_backward(dh, drop) if drop is not None else dh
        dh, grads[f"W{l}"], grads[f"b{l}"] = layers.linear_relu_backward(dh, cache)
    for l in range(1, L + 1):
        loss += reg * np.sum(params[f"W{l}"] ** 2)
        grads[f"W{l}"] = grads[f"W{l}"] + 2 * reg * params[f"W{l}"]
    return loss, grads


def check_fc_net(inp, out, fb):
    sizes = [inp["D"], *[int(h) for h in inp["hidden"]], inp["C"]]
    L = len(sizes) - 1
    shapes = {f"W{l}": (sizes[l - 1], sizes[l]) for l in range(1, L + 1)} | {f"b{l}": (sizes[l],) for l in range(1, L + 1)}
    init = {k: out.get("init/" + k) for k in shapes}
    ok_init = fb.check(all(v is not None and np.shape(v) == shapes[k] for k, v in init.items())
                       and not any(k for k in out if k.startswith("init/") and k[5:] not in shapes),
                       f"init_fc_net makes {', '.join(shapes)} with the right shapes",
                       f"init_fc_net({sizes[0]}, {sizes[1:-1]}, {sizes[-1]}) should make exactly "
                       + ", ".join(f"{k} {s}" for k, s in shapes.items()))
    ok_init = ok_init and fb.check(all(not np.any(init[f"b{l}"]) for l in range(1, L + 1)), "the biases start at 0",
                                   "the biases should start at 0")
    he = out.get("he/W1")
    std = float(np.std(he)) if he is not None and np.shape(he) == (400, 300) else float("nan")
    ok_init = ok_init and fb.check(abs(std / np.sqrt(2 / 400) - 1) < 0.05,
                                   f"W1 of a 400-input network has standard deviation {std:.4f} (He: sqrt(2/400))",
                                   f"W1 of a 400-input network should have standard deviation sqrt(2/400) = "
                                   f"{np.sqrt(2 / 400):.4f} (He), got {std:.4f}")
    params = {f"{k}{l}": inp[f"{k}{l}"] for l in range(1, L + 1) for k in "Wb"}
    fb.note(TIGHT)
    linear = {"W1": inp["W1"][:, :inp["C"]], "b1": inp["b1"][:inp["C"]]}
    ok_scores = fb.close("linear_scores", reference_fc_net(linear, inp["X"]),
                         what="the scores of a network with no hidden layer (hidden_sizes=[])")
    ok_scores &= fb.close("scores", reference_fc_net(params, inp["X"]),
                          what=f"the test-time scores (y=None) of a network with {L} linear layers and dropout "
                               f"{inp['dropout']:.2f} (dropout does nothing at test time)")
    parts = {}
    for tag, p in (("plain", 0.0), ("dropout", inp["dropout"])):
        loss, grads = reference_fc_net(params, inp["X"], inp["y"], inp["reg"], p, inp["drop_seed"])
        words = "without dropout" if not p else f"with dropout {p:.2f} (the mask after hidden layer l uses seed + l)"
        ok = fb.close(f"{tag}/loss", loss, what=f"the regularised loss {words}")
        for key in params:
            reg_args = {"reg": inp["reg"], "W": params[key]} if key[0] == "W" else {}
            ok &= fb.gradient(f"{tag}/grads/{key}", grads[key], what=f"grads[{key!r}] {words}",
                              N=len(inp["y"]), **reg_args)
        parts[tag] = ok
    words = f"a network with layer widths {list(BIG_FC_NET[1:])} and a batch of {BIG_FC_NET[0]}"

    def large():
        big = _big_params(inp)
        loss, grads = reference_fc_net(big, inp["X_big"], inp["y_big"], inp["reg"])
        return all([fb.close("big/loss", loss, tol=BIG_TOL, what=f"the regularised loss of {words}"),
                    *[fb.gradient("big/grads/" + key, grads[key], tol=BIG_TOL, what=f"grads[{key!r}] of {words}")
                      for key in big]])
    # out of time on the large network, the backward passes earn nothing and the forward passes keep theirs
    where = {"key": "big/grads/W1", "reached": "dropout/loss"}
    parts["dropout"] &= not ran_out_of_time(out, **where)
    parts["plain"] = large_problem(fb, out, parts["plain"], large, **where,
                                   why=too_slow("the backward pass on " + words))
    return (2 * ok_init + 2 * ok_scores + 3 * parts["plain"] + 3 * parts["dropout"]) / 10


PARTS.append(Part("fc_net", points=3, inputs=fc_net_inputs, check=check_fc_net, driver=drive_fc_net,
                  needs=("init_fc_net", "fc_net_loss"),
                  description="a fully connected network of any depth, with dropout"))


# ---------------------------------------------------------------------------------- the training loop
def softmax_regression(params, X, y=None):
    """The network handed to the student's train_net: scores X @ W + b, softmax cross-entropy (sandbox-safe)."""
    scores = X @ params["W"] + params["b"]
    if y is None:
        return scores
    N = X.shape[0]
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    dscores = np.exp(log_probs)
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return -log_probs[np.arange(N), y].mean(), {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


def replay_train_net(inp):
    """The recipe of the notebook, on softmax_regression: (best epoch, best params, history)."""
    params = {"W": inp["W"].copy(), "b": inp["b"].copy()}
    rng, lr, N = np.random.default_rng(inp["seed"]), inp["lr"], len(inp["y"])
    best, best_acc, best_epoch, history = None, -1.0, -1, {"loss": [], "val_acc": [], "lr": []}
    for epoch in range(inp["epochs"]):
        order, batch_losses = rng.permutation(N), []
        for start in range(0, N, inp["batch_size"]):
            batch = order[start:start + inp["batch_size"]]
            loss, grads = softmax_regression(params, inp["X"][batch], inp["y"][batch])
            params = {k: params[k] - lr * grads[k] for k in params}
            batch_losses.append(loss)
        acc = float(np.mean(np.argmax(softmax_regression(params, inp["X_val"]), axis=1) == inp["y_val"]))
        history["loss"].append(float(np.mean(batch_losses)))
        history["val_acc"].append(acc)
        history["lr"].append(lr)
        if acc > best_acc:
            best, best_acc, best_epoch = params, acc, epoch
        lr *= inp["lr_decay"]
    return best_epoch, best, history


def train_net_inputs(rng):
    """A small noisy problem that over-fits: drawn again until the best epoch is not the last one."""
    for _ in range(200):
        N, D, C = int(rng.integers(30, 60)), int(rng.integers(30, 60)), 3
        w_true = rng.standard_normal((D, C))
        X, X_val = rng.standard_normal((N, D)), rng.standard_normal((150, D))
        inp = {"X": X, "y": np.argmax(X @ w_true + 3.0 * rng.standard_normal((N, C)), axis=1),
               "X_val": X_val, "y_val": np.argmax(X_val @ w_true, axis=1),
               "W": 0.01 * rng.standard_normal((D, C)), "b": np.zeros(C), "lr": float(rng.uniform(0.2, 0.5)),
               "lr_decay": float(rng.uniform(0.8, 0.95)), "epochs": int(rng.integers(8, 14)),
               "batch_size": int(rng.integers(5, 12)), "seed": int(rng.integers(0, 2**31))}
        if replay_train_net(inp)[0] < inp["epochs"] - 2:
            return inp
    raise RuntimeError("no over-fitting problem found in 200 draws")


def drive_train_net(ns, inp, out):
    params = {"W": inp["W"].copy(), "b": inp["b"].copy()}
    best, history = ns["train_net"](params, softmax_regression, inp["X"], inp["y"], inp["X_val"], inp["y_val"],
                                    lr=inp["lr"], lr_decay=inp["lr_decay"], epochs=inp["epochs"],
                                    batch_size=inp["batch_size"], seed=inp["seed"])
    for key in ("loss", "val_acc", "lr"):
        out["history/" + key] = np.asarray(history[key], dtype=float)
    out["best/W"], out["best/b"] = best["W"], best["b"]


def check_train_net(inp, out, fb):
    best_epoch, best, history = replay_train_net(inp)
    fb.note(f"The grader replays your recipe on a small problem where the validation accuracy peaks at epoch "
            f"{best_epoch + 1} of {inp['epochs']}.")
    ok_lr = fb.close("history/lr", history["lr"], what="the learning rate of each epoch (decayed once per epoch)")
    ok_h = fb.close("history/loss", history["loss"], what="the mean mini-batch loss of each epoch")
    ok_h &= fb.close("history/val_acc", history["val_acc"], what="the validation accuracy after each epoch")
    ok_best = fb.close("best/W", best["W"], what=f"the returned W (that of epoch {best_epoch + 1})")
    ok_best &= fb.close("best/b", best["b"], what=f"the returned b (that of epoch {best_epoch + 1})")
    if not ok_best and ok_h:
        fb.note("Your run itself is right but the parameters you return are not those of the best epoch: if they "
                "are the last epoch's, the dictionary (or its arrays) you kept was updated afterwards; copy the "
                "arrays when you keep them.")
    return (2 * ok_lr + 3 * ok_h + 5 * ok_best) / 10


PARTS.append(Part("train_net", points=3, inputs=train_net_inputs, check=check_train_net, driver=drive_train_net,
                  helpers=(softmax_regression,), needs=("train_net",), timeout=30,
                  description="the training loop: mini-batches, learning-rate decay, keeping the best parameters"))

# Written answers, graded by hand in formgrader (autograder/records/manual.py).
MANUAL_PARTS = {"written_batchnorm": 2, "written_dropout": 2}
