"""Trusted checks for A4: optimiser update rules, Xavier/He initialisers, dropout, early stopping.

Update rules are run for several steps on a drawn sequence of gradients and compared, step by step, with
PyTorch's formulas written out below. Random initialisers and dropout are judged by their statistics
(means, standard deviations, kurtosis, mask values), which any correct way of sampling meets.
"""
from __future__ import annotations

import numpy as np

from autograder.checks import Part, passed_share

NOTEBOOK = "A4.ipynb"
PARTS = []      # in the notebook's order: each part is appended right after its check


def _steps_inputs(rng, **hyper):
    shape = tuple(int(v) for v in rng.integers(1, 6, 2))
    T = int(rng.integers(3, 9))
    return {"w0": rng.standard_normal(shape), "grads": rng.standard_normal((T,) + shape) * 10.0 ** rng.uniform(-2, 2),
            **hyper}


def run_updates(update, inp, config):
    """Apply `update` once per gradient in inp["grads"], collecting the weights after each step."""
    w, ws = np.array(inp["w0"]), []
    for g in inp["grads"]:
        w, config = update(w, np.array(g), config)
        ws.append(np.array(w, dtype=np.float64))
    return np.array(ws), config


# -------------------------------------------------------------------------------------------- momentum
def momentum_inputs(rng):
    return _steps_inputs(rng, lr=float(10.0 ** rng.uniform(-3, -1)), momentum=float(rng.uniform(0.5, 0.99)))


def drive_momentum(ns, inp, out):
    ws, config = run_updates(ns["sgd_momentum"], inp, {"lr": inp["lr"], "momentum": inp["momentum"]})
    out["ws"], out["velocity"] = ws, config["velocity"]
    out["default_step"] = ns["sgd_momentum"](np.array(inp["w0"]), np.array(inp["grads"][0]))[0]


def check_momentum(inp, out, fb):
    w, v, ws = inp["w0"].copy(), np.zeros_like(inp["w0"]), []
    for g in inp["grads"]:
        v = inp["momentum"] * v + g
        w = w - inp["lr"] * v
        ws.append(w)
    ok = fb.close("ws", np.array(ws), what="the weights after each step (v = mu v + g, w = w - lr v)")
    ok &= fb.close("velocity", v, what="the stored velocity")
    ok &= fb.close("default_step", inp["w0"] - 1e-2 * inp["grads"][0], what="one step with the defaults (lr 1e-2)")
    return ok


PARTS.append(Part("momentum", points=2, inputs=momentum_inputs, check=check_momentum, driver=drive_momentum,
                  helpers=(run_updates,), needs=("sgd_momentum",),
                  description="SGD with momentum (PyTorch's formulation)"))


# --------------------------------------------------------------------------------------------- RMSProp
def rmsprop_inputs(rng):
    return _steps_inputs(rng, lr=float(10.0 ** rng.uniform(-4, -1)), alpha=float(rng.uniform(0.8, 0.999)),
                         eps=float(10.0 ** rng.uniform(-8, -3)))


def drive_rmsprop(ns, inp, out):
    ws, config = run_updates(ns["rmsprop"], inp, {"lr": inp["lr"], "alpha": inp["alpha"], "eps": inp["eps"]})
    out["ws"], out["square_avg"] = ws, config["square_avg"]
    out["default_step"] = ns["rmsprop"](np.array(inp["w0"]), np.array(inp["grads"][0]))[0]


def check_rmsprop(inp, out, fb):
    w, s, ws = inp["w0"].copy(), np.zeros_like(inp["w0"]), []
    for g in inp["grads"]:
        s = inp["alpha"] * s + (1 - inp["alpha"]) * g * g
        w = w - inp["lr"] * g / (np.sqrt(s) + inp["eps"])
        ws.append(w)
    g0 = inp["grads"][0]
    ok = fb.close("ws", np.array(ws), what="the weights after each step (eps added after the square root)")
    ok &= fb.close("square_avg", s, what="the stored square_avg")
    ok &= fb.close("default_step", inp["w0"] - 1e-2 * g0 / (np.sqrt(0.01 * g0 * g0) + 1e-8),
                   what="one step with the defaults (lr 1e-2, alpha 0.99, eps 1e-8)")
    return ok


PARTS.append(Part("rmsprop", points=2, inputs=rmsprop_inputs, check=check_rmsprop, driver=drive_rmsprop,
                  helpers=(run_updates,), needs=("rmsprop",), description="RMSProp"))


# ------------------------------------------------------------------------------------------------ Adam
def adam_inputs(rng):
    return _steps_inputs(rng, lr=float(10.0 ** rng.uniform(-4, -1)), beta1=float(rng.uniform(0.5, 0.95)),
                         beta2=float(rng.uniform(0.9, 0.9999)), eps=float(10.0 ** rng.uniform(-8, -4)))


def drive_adam(ns, inp, out):
    config = {"lr": inp["lr"], "betas": (inp["beta1"], inp["beta2"]), "eps": inp["eps"]}
    ws, config = run_updates(ns["adam"], inp, config)
    out["ws"], out["m"], out["v"], out["t"] = ws, config["m"], config["v"], config["t"]
    out["default_step"] = ns["adam"](np.array(inp["w0"]), np.array(inp["grads"][0]))[0]


def check_adam(inp, out, fb):
    b1, b2, lr, eps = inp["beta1"], inp["beta2"], inp["lr"], inp["eps"]
    w, m, v, ws = inp["w0"].copy(), np.zeros_like(inp["w0"]), np.zeros_like(inp["w0"]), []
    for t, g in enumerate(inp["grads"], start=1):
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        w = w - lr * (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        ws.append(w)
    g0 = inp["grads"][0]
    ok = fb.close("ws", np.array(ws), what="the weights after each step")
    ok &= fb.close("m", m, what='the stored first moment config["m"] (raw, not bias-corrected)')
    ok &= fb.close("v", v, what='the stored second moment config["v"] (raw, not bias-corrected)')
    ok &= fb.equal("t", len(inp["grads"]), what='the step count config["t"]')
    ok &= fb.close("default_step", inp["w0"] - 1e-3 * g0 / (np.abs(g0) + 1e-8), tol=1e-7,
                   what="one step with the defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8)")
    return ok


PARTS.append(Part("adam", points=3, inputs=adam_inputs, check=check_adam, driver=drive_adam,
                  helpers=(run_updates,), needs=("adam",),
                  description="Adam with bias-corrected copies of raw moments"))


# ------------------------------------------------------------------------------------------------ init
def init_inputs(rng):
    # fan_in and fan_out at least a factor 2.5 apart, in either order, so that the classic mix-ups
    # (1/fan_in for Xavier, fan_out for He, 2/fan_in for Xavier) differ by far more than the tolerance
    small, large = int(rng.integers(150, 240)), int(rng.integers(600, 900))
    fan_in, fan_out = (small, large) if rng.random() < 0.5 else (large, small)
    return {"fan_in": fan_in, "fan_out": fan_out,
            "seed": int(rng.integers(0, 2**31)), "small_in": int(rng.integers(2, 9)), "small_out": int(rng.integers(2, 9))}


def drive_init(ns, inp, out):
    for name in ("xavier_normal", "he_normal"):
        fn = ns[name]
        out[name] = fn(inp["fan_in"], inp["fan_out"], np.random.default_rng(inp["seed"]))
        out[name + "_again"] = fn(inp["fan_in"], inp["fan_out"], np.random.default_rng(inp["seed"]))
        out[name + "_other_seed"] = fn(inp["fan_in"], inp["fan_out"], np.random.default_rng(inp["seed"] + 1))
        out[name + "_small"] = fn(inp["small_in"], inp["small_out"], np.random.default_rng(inp["seed"]))


def _judge_init(out, fb, name, std, shape, small_shape):
    W = out.get(name)
    if not fb.check(W is not None and np.shape(W) == shape, f"{name} returns shape (fan_in, fan_out) = {shape}",
                    f"{name} should return an array of shape (fan_in, fan_out) = {shape}"):
        return False
    W = np.asarray(W, dtype=np.float64)
    n = W.size                                   # >= 40 000 samples: the estimates below are tight
    z = (W - W.mean()) / W.std()
    kurtosis = float(np.mean(z ** 4))
    ok = fb.check(abs(W.mean()) < 5 * std / np.sqrt(n), "mean about 0", f"{name}: the mean is {W.mean():.3g}, not about 0")
    ok &= fb.check(abs(W.std() / std - 1) < 0.02, f"{name}: standard deviation {W.std():.4g} (expected {std:.4g})",
                   f"{name}: standard deviation {W.std():.4g}, expected {std:.4g}")
    ok &= fb.check(abs(kurtosis - 3) < 0.15, f"{name}: the values look Gaussian",
                   f"{name}: the values do not look Gaussian (kurtosis {kurtosis:.2f}, a normal has 3)")
    ok &= fb.check(out.get(name + "_again") is not None and np.array_equal(out.get(name + "_again"), W),
                   f"{name}: the same generator state gives the same weights",
                   f"{name}: draw only from the generator you are given (the same seed gave different weights)")
    other = out.get(name + "_other_seed")
    ok &= fb.check(other is not None and not np.array_equal(other, W), f"{name}: another seed gives other weights",
                   f"{name}: another generator gave the same weights: draw from the generator you are given")
    small = out.get(name + "_small")
    ok &= fb.check(small is not None and np.shape(small) == small_shape, f"{name}: small shapes work too",
                   f"{name}: wrong shape for fan_in, fan_out = {small_shape}")
    return ok


def check_init(inp, out, fb):
    fi, fo = inp["fan_in"], inp["fan_out"]
    ok = _judge_init(out, fb, "xavier_normal", np.sqrt(2.0 / (fi + fo)), (fi, fo), (inp["small_in"], inp["small_out"]))
    ok &= _judge_init(out, fb, "he_normal", np.sqrt(2.0 / fi), (fi, fo), (inp["small_in"], inp["small_out"]))
    return ok


PARTS.append(Part("init", points=2, inputs=init_inputs, check=check_init, driver=drive_init,
                  needs=("xavier_normal", "he_normal"), description="Xavier and He normal initialisation"))


# --------------------------------------------------------------------------------------------- dropout
def dropout_inputs(rng):
    return {"x": rng.standard_normal((int(rng.integers(200, 400)), int(rng.integers(100, 200)))),
            "p": float(rng.uniform(0.1, 0.8)), "seed": int(rng.integers(0, 2**31))}


def drive_dropout(ns, inp, out):
    fn = ns["dropout"]
    out["out"], out["mask"] = fn(inp["x"], inp["p"], True, np.random.default_rng(inp["seed"]))
    out["mask_other_seed"] = fn(inp["x"], inp["p"], True, np.random.default_rng(inp["seed"] + 1))[1]
    out["eval_out"], out["eval_mask"] = fn(inp["x"], inp["p"], False, np.random.default_rng(inp["seed"]))
    out["p0_out"] = fn(inp["x"], 0.0, True, np.random.default_rng(inp["seed"]))[0]


def check_dropout(inp, out, fb):
    x, p = inp["x"], inp["p"]
    mask, result = out.get("mask"), out.get("out")
    if not fb.check(mask is not None and result is not None and np.shape(mask) == x.shape == np.shape(result),
                    "training mode returns out and mask shaped like x",
                    "training mode should return (out, mask), both shaped like x"):
        return False
    mask = np.asarray(mask, dtype=np.float64)
    dropped = float(np.mean(mask == 0))
    sigma = np.sqrt(p * (1 - p) / x.size)
    ok = fb.check(bool(np.all((mask == 0) | np.isclose(mask, 1 / (1 - p), rtol=1e-12))),
                  "mask entries are 0 or 1/(1-p)", "mask entries must be 0 (dropped) or 1/(1-p) (kept and rescaled)")
    ok &= fb.check(abs(dropped - p) < 5 * sigma, f"fraction dropped {dropped:.3f} for p = {p:.3f}",
                   f"fraction dropped {dropped:.3f}, expected about p = {p:.3f} (p is the DROP probability)")
    ok &= fb.close("out", x * mask, tol=1e-12, what="out == x * mask")
    other = out.get("mask_other_seed")
    ok &= fb.check(other is not None and not np.array_equal(other, mask), "the mask comes from rng",
                   "another generator gave the same mask: draw it from rng")
    ok &= fb.close("eval_out", x, tol=0.0, what="evaluation mode returns x unchanged")
    ok &= fb.close("eval_mask", np.ones_like(x), tol=0.0, what="evaluation mode's mask is all ones")
    ok &= fb.close("p0_out", x, tol=1e-15, what="p = 0 keeps everything")
    return ok


PARTS.append(Part("dropout", points=1, inputs=dropout_inputs, check=check_dropout, driver=drive_dropout,
                  needs=("dropout",), description="inverted dropout with a train/eval switch"))


# -------------------------------------------------------------------------------------- early stopping
def reference_early_stopping(losses, patience, min_delta):
    best, best_epoch = np.inf, -1
    for epoch, loss in enumerate(losses):
        if loss < best - min_delta:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return epoch, best_epoch
    return len(losses) - 1, best_epoch


def early_stopping_inputs(rng):
    K, T = 12, int(rng.integers(15, 40))
    trend = np.linspace(1.0, 0.2, T) + np.linspace(0, 1, T) ** 3 * rng.uniform(0, 1.5, (K, 1))
    losses = np.round(trend + rng.normal(0, 0.05, (K, T)), 2)      # rounding makes ties happen
    losses[0] = np.linspace(1.0, 0.1, T)                           # never stops
    losses[1] = 0.5                                                # flat: stops at epoch = patience
    min_delta = rng.choice([0.0, 0.0, 0.01, 0.05], K)
    min_delta[1] = 0.0              # a tie is not an improvement: `loss <= best` never stops on the flat curve
    return {"losses": losses, "patience": rng.integers(1, 7, K), "min_delta": min_delta, "single": np.array([0.3])}


def drive_early_stopping(ns, inp, out):
    fn, results = ns["early_stopping"], []
    for losses, patience, min_delta in zip(inp["losses"], inp["patience"], inp["min_delta"], strict=True):
        results.append(fn([float(v) for v in losses], patience=int(patience), min_delta=float(min_delta)))
    out["results"] = np.array(results, dtype=np.int64)
    out["single"] = np.array(fn([float(inp["single"][0])], patience=3), dtype=np.int64)


def check_early_stopping(inp, out, fb):
    expected = [reference_early_stopping(list(l), int(p), float(d))
                for l, p, d in zip(inp["losses"], inp["patience"], inp["min_delta"], strict=True)]
    ok = fb.equal("results", np.array(expected, dtype=np.int64),
                  what="(stop_epoch, best_epoch) on 12 validation curves, with ties, plateaus and min_delta")
    ok &= fb.equal("single", np.array([0, 0]), what="a single epoch: (0, 0)")
    return ok


PARTS.append(Part("early_stopping", points=2, inputs=early_stopping_inputs, check=check_early_stopping,
                  driver=drive_early_stopping, needs=("early_stopping",), description="early stopping rule"))


# ------------------------------------------------------------------------------- Adam, the notes' form
def drive_adam_notes(ns, inp, out):
    drive_adam({"adam": ns["adam_notes"]}, inp, out)      # the same calls as for adam, on the notes' version


def check_adam_notes(inp, out, fb):
    b1, b2, lr, eps = inp["beta1"], inp["beta2"], inp["lr"], inp["eps"]
    w, m, v, ws = inp["w0"].copy(), np.zeros_like(inp["w0"]), np.zeros_like(inp["w0"]), []
    for t, g in enumerate(inp["grads"], start=1):       # the deep-nets notes' recursion, written out
        m = (b1 * m + (1 - b1) * g) / (1 - b1 ** t)
        v = (b2 * v + (1 - b2) * g * g) / (1 - b2 ** t)
        w = w - lr * m / (np.sqrt(v) + eps)
        ws.append(w)
    g0 = inp["grads"][0]
    expected = (("ws", np.array(ws), 1e-9, "the weights after each step of the notes' recursion"),
                ("m", m, 1e-9, 'the stored first moment config["m"] (divided by 1 - beta1^t at every step)'),
                ("v", v, 1e-9, 'the stored second moment config["v"] (divided by 1 - beta2^t at every step)'),
                ("default_step", inp["w0"] - 1e-3 * g0 / (np.abs(g0) + 1e-8), 1e-7,   # one step: no compounding yet
                 "one step with the defaults (lr 1e-3, betas (0.9, 0.999), eps 1e-8)"))
    ok = all([fb.close(key, value, tol=tol, what=words) for key, value, tol, words in expected])
    ok &= fb.equal("t", len(inp["grads"]), what='the step count config["t"]')
    if not ok:
        fb.note("Both moments are divided by their own 1 - beta^t, and the divided values are what is stored "
                "and fed into the next step.")
    return ok


PARTS.append(Part("adam_notes", points=2, inputs=adam_inputs, check=check_adam_notes, driver=drive_adam_notes,
                  helpers=(run_updates, drive_adam), needs=("adam_notes",),
                  description="Adam as the deep-nets notes write it (the correction folded into the recursions)"))


# ------------------------------------------------------------------------------ activation statistics
ACTIVATIONS = ("tanh", "relu", "sigmoid")


def statistics_inputs(rng):
    L, N = int(rng.integers(4, 9)), int(rng.integers(40, 90))
    widths = [int(v) for v in rng.integers(20, 60, L + 1)]
    inp = {"depth": L, "X": rng.standard_normal((N, widths[0])), "dout": rng.standard_normal((N, widths[-1]))}
    scale = float(rng.uniform(0.8, 1.6))                 # some layers shrink the signal, some grow it
    for l in range(L):
        inp[f"W{l}"] = rng.standard_normal((widths[l], widths[l + 1])) * scale / np.sqrt(widths[l])
    return inp


def drive_statistics(ns, inp, out):
    weights = [np.array(inp[f"W{l}"]) for l in range(int(inp["depth"]))]
    for name in ("tanh", "relu", "sigmoid"):
        try:
            stats = ns["layer_statistics"](np.array(inp["X"]), weights, name, np.array(inp["dout"]))
            for key in ("act_mean", "act_std", "grad_std"):
                out[f"{name}/{key}"] = stats[key]
        except Exception:      # one failing activation costs only its own share
            pass


def reference_statistics(X, weights, activation, dout):
    """Per-layer statistics by deepgrad.layers' forward and backward passes (no biases)."""
    from deepgrad import layers
    forward, backward = {"tanh": (layers.tanh_forward, layers.tanh_backward),
                         "relu": (layers.relu_forward, layers.relu_backward),
                         "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward)}[activation]
    hs, caches = [X], []
    for W in weights:
        h, cache = forward(hs[-1] @ W)
        hs.append(h)
        caches.append(cache)
    grads, g = [], dout
    for W, cache in zip(weights[::-1], caches[::-1], strict=True):
        grads.append(g)
        g = backward(g, cache) @ W.T
    return {"act_mean": np.array([h.mean() for h in hs[1:]]), "act_std": np.array([h.std() for h in hs[1:]]),
            "grad_std": np.array([d.std() for d in grads[::-1]])}


def check_statistics(inp, out, fb):
    weights = [inp[f"W{l}"] for l in range(int(inp["depth"]))]
    results = []
    for name in ACTIVATIONS:
        expected = reference_statistics(inp["X"], weights, name, inp["dout"])
        ok = fb.close(f"{name}/act_mean", expected["act_mean"], what=f"{name}: the mean of each layer's activations")
        ok &= fb.close(f"{name}/act_std", expected["act_std"], what=f"{name}: the std of each layer's activations")
        ok &= fb.close(f"{name}/grad_std", expected["grad_std"],
                       what=f"{name}: the std of dLoss/dh_l, the gradient at each layer's output")
        results.append(ok)
    if not all(results):
        fb.note("Statistics are of the activations h_l = f(h_(l-1) W), after the nonlinearity; the gradients are "
                "with respect to those h_l, before going back through f.")
    return passed_share(results)


PARTS.append(Part("layer_statistics", points=2, inputs=statistics_inputs, check=check_statistics,
                  driver=drive_statistics, needs=("layer_statistics",),
                  description="activation and gradient statistics, layer by layer"))


# ------------------------------------------------------------------------ training with early stopping
def softmax_regression_loss(params, X, y):
    """Mean softmax cross-entropy of X @ W + b and its gradients (trusted; shipped to the sandbox)."""
    scores = X @ params["W"] + params["b"]
    scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    N = len(y)
    loss = -np.mean(np.log(probs[np.arange(N), y]))
    dscores = probs.copy()
    dscores[np.arange(N), y] -= 1
    dscores /= N
    return float(loss), {"W": X.T @ dscores, "b": dscores.sum(axis=0)}


def sgd_in_place(w, dw, config):
    """Plain SGD that updates w in place, as PyTorch's optimisers do (trusted; shipped to the sandbox)."""
    w -= config["lr"] * dw
    return w, config


def fit_inputs(rng):
    D, C = int(rng.integers(15, 25)), int(rng.integers(3, 5))
    centres = rng.standard_normal((C, D)) * 0.6
    def draw(n):
        y = rng.integers(0, C, n)
        return centres[y] + rng.standard_normal((n, D)), y
    X, y = draw(int(rng.integers(25, 40)))            # few noisy examples: the validation loss turns up
    X_val, y_val = draw(60)
    return {"X": X, "y": y, "X_val": X_val, "y_val": y_val, "W": 0.01 * rng.standard_normal((D, C)),
            "b": np.zeros(C), "lr": float(rng.uniform(0.05, 0.15)), "batch_size": int(rng.integers(4, 9)),
            "patience": int(rng.integers(2, 5)), "seed": int(rng.integers(0, 2**31)), "long": 300, "short": 3}


def drive_fit(ns, inp, out):
    data = tuple(np.array(inp[k]) for k in ("X", "y", "X_val", "y_val"))
    for run in ("long", "short"):          # long: early stopping fires; short: the epoch limit comes first
        params = {"W": np.array(inp["W"]), "b": np.array(inp["b"])}
        best, history, best_epoch = ns["fit_early_stopping"](
            params, softmax_regression_loss, sgd_in_place, {"lr": inp["lr"]}, data, int(inp[run]),
            int(inp["batch_size"]), int(inp["patience"]), np.random.default_rng(int(inp["seed"])))
        out[f"{run}/W"], out[f"{run}/b"], out[f"{run}/best_epoch"] = best["W"], best["b"], best_epoch
        out[f"{run}/train_loss"], out[f"{run}/val_loss"] = history["train_loss"], history["val_loss"]


def reference_fit(inp, epochs):
    """Trusted training run: the same batches, losses and stopping rule (early_stopping's, min_delta 0)."""
    X, y, X_val, y_val = inp["X"], inp["y"], inp["X_val"], inp["y_val"]
    params = {"W": inp["W"].copy(), "b": inp["b"].copy()}
    rng = np.random.default_rng(inp["seed"])
    train_loss, val_loss, best, best_loss, best_epoch = [], [], None, np.inf, -1
    for epoch in range(epochs):
        order, losses = rng.permutation(len(y)), []
        for start in range(0, len(y), inp["batch_size"]):
            batch = order[start:start + inp["batch_size"]]
            loss, grads = softmax_regression_loss(params, X[batch], y[batch])
            for name in params:
                params[name], _ = sgd_in_place(params[name], grads[name], {"lr": inp["lr"]})
            losses.append(loss)
        train_loss.append(float(np.mean(losses)))
        val_loss.append(softmax_regression_loss(params, X_val, y_val)[0])
        if val_loss[-1] < best_loss:
            best, best_loss, best_epoch = {name: value.copy() for name, value in params.items()}, val_loss[-1], epoch
        elif epoch - best_epoch >= inp["patience"]:
            break
    return best, train_loss, val_loss, best_epoch


def check_fit(inp, out, fb):
    results = []
    for run, words in (("long", "a run that early stopping ends"), ("short", "a run of at most 3 epochs")):
        best, train_loss, val_loss, best_epoch = reference_fit(inp, int(inp[run]))
        ok = fb.close(f"{run}/val_loss", val_loss, what=f"{words}: the validation loss of each epoch run "
                                                       f"({len(val_loss)} epochs)")
        ok &= fb.close(f"{run}/train_loss", train_loss, what=f"{words}: the mean training loss of each epoch")
        ok &= fb.equal(f"{run}/best_epoch", best_epoch, what=f"{words}: the best epoch")
        params_ok = fb.close(f"{run}/W", best["W"], what=f"{words}: the returned W (the best epoch's)")
        params_ok &= fb.close(f"{run}/b", best["b"], what=f"{words}: the returned b (the best epoch's)")
        if not params_ok and run == "long":
            fb.note("Return copies of the parameters as they were after the best epoch: not the last epoch's, and "
                    "not the arrays themselves, which the (in-place) update keeps changing.")
        results.append(ok and params_ok)
    return all(results)       # a loop that keeps the wrong parameters misses the point of the part


PARTS.append(Part("fit_early_stopping", points=3, inputs=fit_inputs, check=check_fit, driver=drive_fit,
                  helpers=(softmax_regression_loss, sgd_in_place), needs=("fit_early_stopping",),
                  description="a training loop with early stopping that keeps the best parameters"))

# Written answers, graded by hand in formgrader.
MANUAL_PARTS = {"written_initialisation": 3}
