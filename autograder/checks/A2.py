"""Trusted checks for A2, backprop by hand: layers' forward and backward passes, two networks, training.

Inputs are drawn at grading time. Each part's points are split into shares, each one behaviour the notebook asks
for and judged on its own, so that one slip costs its share and no more (the notebook states them before the
student starts; autograder/FORMAT.md lists the slips each part's inputs expose):

* linear, ReLU, sigmoid: the forward pass, and the backward pass (linear: dx, dW and db each a share; a db of shape
  (1, M) with the right values earns half of db's); the sigmoid's values at +-1000, without overflow;
* dropout: which units are dropped (the mask of np.random.default_rng(seed).random(x.shape) >= p, on a 2-D and a
  3-D input), the rescaling (the kept units divided by the keep probability the student's own mask shows, so that
  p read as the keep probability with its consistent 1 / p costs the mask alone), evaluation mode, and the backward
  pass (dout times the student's own mask, out / x, so that a wrong mask is not charged twice);
* two_layer and fc_net, as A1's losses: the scores; the data loss and the gradients at reg = 0; the regulariser as
  the difference between the calls with reg > 0 and reg = 0 on the same batch (half its gradient costs that share
  alone); two_layer's extreme scores (rows near +-1000, thousands apart), judged once the data term is right;
  fc_net's initialisation, and its network with dropout, judged with the masks the student's own dropout_forward
  draws. A bias gradient of shape (1, M) is the linear layer's slip: charged there, read as (M,) here;
* batchnorm: the train-mode forward, the running statistics, the eval-mode forward (with given running
  statistics), the train-mode backward, and the eval-mode backward (for the student's own eval-mode forward), each
  call run on its own, so that a backward that raises in eval mode costs that share alone;
* training: the held-out accuracy on the jittered digits, trained with the student's HYPERPARAMS (capped);
* train_net: the replayed learning rates and history (training loss, validation loss and accuracy), and the
  best parameters, those of the lowest validation loss (the earliest of a tie), by the student's own losses.

Features and upstream gradients span several orders of magnitude, so centred differences cannot reach the 1e-9
tolerance used for gradients. Every part with a backward pass also runs a large problem, last: a derived backward
pass takes milliseconds there, one that evaluates the forward at nudged inputs (finite differences or complex step,
exact or not) minutes; out of time there, every share that judges a backward pass is lost and the others keep
theirs. Sizes are drawn different from each other, so that code that only works for square matrices fails, and
inputs stay inside the assignment's domain (scores stay moderate except in the extreme-scores problem).
"""
from __future__ import annotations

import numpy as np

from autograder.checks import BIG_TOL, Part, Share, large_problem, multiscale, too_slow
from deepgrad import layers, losses
from deepgrad.gradcheck import rel_error

NOTEBOOK = "A2.ipynb"
PARTS = []      # in the notebook's order: each part is appended right after its check
GRAD_TOL = 1e-9
# The regulariser is judged as the difference of two of the student's values, which carries the data term's
# rounding (1e-13 of a gradient on features of scale 1e3): every real slip is off by far more than this.
REG_TOL = 1e-7
TIGHT = ("Gradients are compared at relative error 1e-9 on inputs whose scales span six orders of magnitude; "
         "numerical differentiation cannot reach that, an exact backward pass does.")
DB_SHAPE = ("A db of shape (1, M): sum over axis 0 without keepdims. A gradient has the shape of the array it "
            "differentiates, b's (M,); broadcasting hides the extra axis until an update turns b into (1, M).")
FORWARD, BACKWARD = "the forward pass", "the backward pass"


# ---------------------------------------------------------------------------------------------- helpers
def run_steps(*steps):
    """A driver's steps (functions that fill `out`), each run even when an earlier one raised, so that an error
    costs only the values of its own step; the first error is raised at the end, for the feedback."""
    errors = []
    for step in steps:
        try:
            step()
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def _sizes(rng, count, low, high):
    """`count` different sizes in [low, high): code that only works for square matrices fails."""
    return [int(v) for v in rng.choice(np.arange(low, high), count, replace=False)]


def _float(out, key, shape):
    """What came back as `key`, as float64, if it has the given shape and is finite; else None."""
    got = out.get(key)
    if got is None or np.shape(got) != tuple(shape):
        return None
    got = np.asarray(got, dtype=np.float64)
    return got if np.all(np.isfinite(got)) else None


def _matches(out, key, value, tol=1e-9) -> bool:
    """Whether `key` came back as `value` (a slip's value), without a feedback line."""
    got = _float(out, key, np.shape(value))
    return got is not None and rel_error(got, value) <= tol


def _derived(fb, out, verdicts, big, **where):
    """The verdicts of the shares that judge a backward pass (share -> verdict on the small problems) with the
    large problem's (`large_problem`): out of time there, every one of them is lost; otherwise each share in
    `big` that passed is compared on the large problem too (big[share]() -> bool)."""
    judged = large_problem(fb, out, True, lambda: {share: verdict and (share not in big or big[share]()) and verdict
                                                   for share, verdict in verdicts.items()}, **where)
    return judged or dict.fromkeys(verdicts, False)


def _keepdims(out, keys) -> bool:
    """Each bias gradient among `keys` that came back with shape (1, M) is read as one of shape (M,), in `out`:
    True if there was one (the sum over axis 0 kept its axis)."""
    found = False
    for key in keys:
        value = out.get(key)
        if value is not None and np.ndim(value) == 2 and np.shape(value)[0] == 1:
            out[key], found = np.reshape(value, -1), True
    return found


# ---------------------------------------------------------------------------------------------- linear
# N, D, M of the large linear problem: 262 144 entries in x and in W, D = 16 384 of them along the contracted
# axis, so that even a backward pass that nudges a whole column of x (or row of W) at once, 2 D forwards, runs
# out of time
BIG = (16, 16384, 16)
LINEAR_SHARES = (
    Share(FORWARD, 0.5, "out = x @ W + b"),
    Share("dx", 0.5, "dL/dx of shape (N, D), derived (exact on inputs of every scale, fast on a large layer)"),
    Share("dW", 0.5, "dL/dW of shape (D, M), derived"),
    Share("db", 0.5, "dout summed over the batch, of shape (M,); the right values of shape (1, M) earn half"),
)


def linear_inputs(rng):
    """A small multiscale problem, and a large one (run last): an exact backward pass costs two matrix
    products there; one that evaluates the forward at nudged inputs (finite differences or complex step,
    exact or not) needs one forward per entry of x and W, minutes in all, far past the time limit."""
    N, D, M = _sizes(rng, 3, 2, 12)
    n, d, m = BIG
    return {"x": multiscale(rng, (N, D)), "W": rng.standard_normal((D, M)), "b": rng.standard_normal(M),
            "dout": multiscale(rng, (N, M)), "x_big": rng.standard_normal((n, d)),
            "W_big": rng.standard_normal((d, m)) / np.sqrt(d), "b_big": rng.standard_normal(m),
            "dout_big": rng.standard_normal((n, m))}


def drive_linear(ns, inp, out):
    def run(tag):
        result, cache = ns["linear_forward"](inp["x" + tag], inp["W" + tag], inp["b" + tag])
        out["out" + tag] = result
        out["dx" + tag], out["dW" + tag], out["db" + tag] = ns["linear_backward"](inp["dout" + tag], cache)
    run_steps(lambda: run(""), lambda: run("_big"))


def check_linear(inp, out, fb):
    expected, cache = layers.linear_forward(inp["x"], inp["W"], inp["b"])
    grads = dict(zip(("dx", "dW", "db"), layers.linear_backward(inp["dout"], cache), strict=True))
    keepdims = _keepdims(out, ("db", "db_big"))
    verdict = {FORWARD: fb.close("out", expected, what="the forward output x @ W + b")}
    verdict |= {key: fb.gradient(key, value, what=key) for key, value in grads.items()}
    if keepdims:
        fb.note(DB_SHAPE, code="db_shape")
        verdict["db"] = verdict["db"] and 0.5
    if not all(verdict[key] for key in grads):
        fb.note(TIGHT)
    _, cache = layers.linear_forward(inp["x_big"], inp["W_big"], inp["b_big"])
    big = dict(zip(("dx", "dW", "db"), layers.linear_backward(inp["dout_big"], cache), strict=True))
    compare = {key: lambda key=key: fb.gradient(key + "_big", big[key], tol=BIG_TOL, what=f"{key} on a large layer")
               for key in big}
    return verdict | _derived(fb, out, {key: verdict[key] for key in grads}, compare, key="dx_big", reached="out_big",
                              why=too_slow(f"the backward pass on a layer with x of shape {BIG[:2]} and W of shape "
                                           f"{BIG[1:]}"))


PARTS.append(Part("linear", points=2, inputs=linear_inputs, check=check_linear, driver=drive_linear,
                  helpers=(run_steps,), needs=("linear_forward", "linear_backward"), shares=LINEAR_SHARES,
                  description="linear layer: forward and backward"))


# ------------------------------------------------------------------------------------------------ ReLU
BIG_ELEMENTWISE = (512, 512)     # the large problem of elementwise layers: 262 144 entries


def relu_inputs(rng):
    shape = tuple(_sizes(rng, 2, 2, 10))
    x = multiscale(rng, shape)
    x.flat[:3] = [0.0, -0.0, 1e-300]              # the kink itself: the gradient there must be 0
    return {"x": x, "dout": multiscale(rng, shape), "x_big": rng.standard_normal(BIG_ELEMENTWISE),
            "dout_big": rng.standard_normal(BIG_ELEMENTWISE)}


def drive_relu(ns, inp, out):
    def run(tag):
        result, cache = ns["relu_forward"](inp["x" + tag])
        out["out" + tag] = result
        out["dx" + tag] = ns["relu_backward"](inp["dout" + tag], cache)
    run_steps(lambda: run(""), lambda: run("_big"))


def check_relu(inp, out, fb):
    x, dout = inp["x"], inp["dout"]
    expected, cache = layers.relu_forward(x)
    verdict = {FORWARD: fb.close("out", expected, what="max(0, x)")}
    backward = fb.gradient("dx", layers.relu_backward(dout, cache), what="dx (0 where x <= 0)")
    if not backward and _matches(out, "dx", dout * (x >= 0), tol=1e-12):
        fb.note("Your dx lets the gradient through where x is exactly 0 (x >= 0): the ReLU gradient at exactly 0 "
                "is taken as 0, as in PyTorch (x > 0).", code="relu_kink")
    _, cache = layers.relu_forward(inp["x_big"])
    big = layers.relu_backward(inp["dout_big"], cache)
    return verdict | _derived(fb, out, {BACKWARD: backward}, {BACKWARD: lambda: fb.gradient(
        "dx_big", big, tol=BIG_TOL, what=f"dx on an input of shape {BIG_ELEMENTWISE}")}, key="dx_big",
        reached="out_big", why=too_slow(f"the backward pass on an input of shape {BIG_ELEMENTWISE}"))


PARTS.append(Part("relu", points=1, inputs=relu_inputs, check=check_relu, driver=drive_relu, helpers=(run_steps,),
                  needs=("relu_forward", "relu_backward"), description="ReLU: forward and backward",
                  shares=(Share(FORWARD, 0.5, "max(0, x)"),
                          Share(BACKWARD, 0.5, "dout where x > 0, 0 elsewhere (x = 0 included), derived"))))


# --------------------------------------------------------------------------------------------- sigmoid
EXTREME_INPUTS = "extreme inputs"


def sigmoid_inputs(rng):
    shape = tuple(_sizes(rng, 2, 2, 10))
    return {"x": rng.uniform(-4, 4, shape), "dout": multiscale(rng, shape),
            "big": np.array([-1000.0, -60.0, 0.0, 60.0, 1000.0]), "x_large": rng.uniform(-4, 4, BIG_ELEMENTWISE),
            "dout_large": rng.standard_normal(BIG_ELEMENTWISE)}


def drive_sigmoid(ns, inp, out):
    forward, backward = ns["sigmoid_forward"], ns["sigmoid_backward"]

    def run(tag):
        result, cache = forward(inp["x" + tag])
        out["out" + tag] = result
        out["dx" + tag] = backward(inp["dout" + tag], cache)

    def extreme():
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            out["big"] = forward(inp["big"])[0]
    run_steps(lambda: run(""), extreme, lambda: run("_large"))


def check_sigmoid(inp, out, fb):
    expected, cache = layers.sigmoid_forward(inp["x"])
    verdict = {FORWARD: fb.close("out", expected, what="sigmoid(x)")}
    backward = fb.gradient("dx", layers.sigmoid_backward(inp["dout"], cache), tol=1e-11, what="dx")
    if not backward:
        fb.note("The sigmoid gradient is compared at relative error 1e-11: an exact s * (1 - s) agrees with the "
                "reference to about 1e-15, finite differences do not.")
    if out.get("big") is None and out.status == "error":    # (out of time, close() says only that nothing came)
        verdict[EXTREME_INPUTS] = fb.check(False, "", "sigmoid_forward overflowed (or failed) on inputs of size up "
                                                      "to 1000: compute it from exp(-|x|), and mind that np.where "
                                                      "evaluates both of its branches.", code="unstable")
    else:
        verdict[EXTREME_INPUTS] = fb.close("big", layers.sigmoid_forward(inp["big"])[0], tol=1e-12,
                                           what="sigmoid at -1000, -60, 0, 60, 1000 (no overflow)", code="unstable")
    _, cache = layers.sigmoid_forward(inp["x_large"])
    big = layers.sigmoid_backward(inp["dout_large"], cache)
    return verdict | _derived(fb, out, {BACKWARD: backward}, {BACKWARD: lambda: fb.gradient(
        "dx_large", big, tol=BIG_TOL, what=f"dx on an input of shape {BIG_ELEMENTWISE}")}, key="dx_large",
        reached="out_large", why=too_slow(f"the backward pass on an input of shape {BIG_ELEMENTWISE}"))


PARTS.append(Part("sigmoid", points=1, inputs=sigmoid_inputs, check=check_sigmoid, driver=drive_sigmoid,
                  helpers=(run_steps,), needs=("sigmoid_forward", "sigmoid_backward"),
                  description="sigmoid: forward, backward, no overflow",
                  shares=(Share(FORWARD, 0.25, "1 / (1 + exp(-x)) on ordinary inputs"),
                          Share(BACKWARD, 0.5, "dout * s * (1 - s), derived"),
                          Share(EXTREME_INPUTS, 0.25, "the values at -1000, -60, 0, 60 and 1000, with no overflow"))))


# --------------------------------------------------------------------------------------------- dropout
# The same share names and points as A4's dropout (its fourth share there is A4's own): the same slip costs the same.
MASK, RESCALING = "which units are dropped", "the rescaling"
EVAL_MODE = "evaluation mode"
DROPOUT_SHARES = (
    Share(MASK, 0.5, "the mask np.random.default_rng(seed).random(x.shape) >= p (p the drop probability), on "
                     "inputs of any shape"),
    Share(RESCALING, 0.5, "the kept units divided by the keep probability 1 - p (judged by your own mask's)"),
    Share(EVAL_MODE, 0.5, "out is x and dx is dout"),
    Share(BACKWARD, 0.5, "dout times your own training-mode mask, derived"),
)


def dropout_inputs(rng):
    shape = tuple(_sizes(rng, 2, 20, 60))
    p = float(rng.uniform(0.1, 0.6))
    p += 0.2 if p >= 0.4 else 0.0      # at least 0.1 from 0.5: a mask shows whether it keeps 1 - p or p of the units
    return {"x": rng.standard_normal(shape), "dout": rng.standard_normal(shape), "p": p,
            "x3": rng.standard_normal(tuple(_sizes(rng, 3, 3, 12))), "seed": int(rng.integers(0, 2**31)),
            "x_big": rng.standard_normal(BIG_ELEMENTWISE), "dout_big": rng.standard_normal(BIG_ELEMENTWISE)}


def drive_dropout(ns, inp, out):
    forward, backward = ns["dropout_forward"], ns["dropout_backward"]

    def train(tag):
        result, cache = forward(inp["x" + tag], inp["p"], "train", seed=inp["seed"])
        out["out" + tag] = result
        out["dx" + tag] = backward(inp["dout" + tag], cache)

    def evaluate():
        result, cache = forward(inp["x"], inp["p"], "eval", seed=inp["seed"])
        out["eval_out"] = result
        out["eval_dx"] = backward(inp["dout"], cache)

    def any_shape():        # a 3-D input, for the mask alone
        out["out3"] = forward(inp["x3"], inp["p"], "train", seed=inp["seed"])[0]
    run_steps(lambda: train(""), evaluate, any_shape, lambda: train("_big"))


def _keep(x, p, seed):
    return np.random.default_rng(seed).random(x.shape) >= p


def check_dropout(inp, out, fb):
    x, dout, p, seed = inp["x"], inp["dout"], inp["p"], inp["seed"]
    keep, got = _keep(x, p, seed), _float(out, "out", x.shape)
    kept = None if got is None else got != 0          # x has no zeros: the units the student's mask kept
    right = kept is not None and np.array_equal(kept, keep)
    keep_prob = kept is not None and np.array_equal(kept, ~keep)
    ok_mask = fb.check(right, "The units dropped in training mode are the right ones.",
                       "The units dropped in training mode are not those of the mask "
                       "np.random.default_rng(seed).random(x.shape) >= p.")
    if keep_prob:
        fb.note("Your mask keeps each unit with probability p: p is the probability of DROPPING a unit (PyTorch's "
                "convention), so a unit is kept where random >= p, with probability 1 - p.", code="keep_prob")
    if ok_mask and out.get("out3") is None and out.status == "timeout":
        ok_mask = fb.check(False, "", "The output for a 3-D input did not come back within the time limit.")
    elif ok_mask:
        x3 = inp["x3"]
        got3 = _float(out, "out3", x3.shape)
        ok_mask = fb.check(got3 is not None and np.array_equal(got3 != 0, _keep(x3, p, seed)), "",
                           f"On an input of shape {x3.shape} the units dropped are not those of the mask: dropout "
                           f"works on input of any shape (draw the mask with x.shape).", code="any_shape")

    # the rescaling, by the keep probability the student's own mask shows
    if kept is None or not kept.any():
        ok_scale = fb.check(False, "", "The rescaling could not be judged: no training-mode output that keeps some "
                                       "units came back.")
    else:
        rate = 1 - p if right else p if keep_prob else min((1 - p, p), key=lambda q: abs(q - kept.mean()))
        out["scale"] = got[kept] / x[kept]
        ones = np.ones(int(kept.sum()))
        ok_scale = fb.close("scale", ones / rate, tol=1e-12, what="the scale of the kept units (out / x) for the "
                            "keep probability your mask shows", slips=[
            ("no_rescale", "Your kept units are not rescaled: divide them by the keep probability 1 - p, so that "
                           "each unit's expected value is unchanged (inverted dropout).", ones),
            ("keep_prob", "Your kept units are divided by p: divide them by the probability of keeping a unit, "
                          "1 - p.", ones / p)])

    ok_eval = fb.close("eval_out", x, tol=0.0, what="the evaluation-mode output (x itself)",
                       slips=[("eval_scaled", "Your evaluation mode scales x: with inverted dropout the rescaling "
                                              "happens in training, and evaluation mode does nothing.", x * (1 - p))])
    ok_eval &= fb.close("eval_dx", dout, tol=0.0, what="dx in evaluation mode (dout itself)")

    # the backward pass, on the student's own mask (out / x)
    if kept is None or kept.all() or not kept.any():
        backward = fb.check(False, "", "The backward pass is judged with your own training-mode mask (out / x), "
                                       "and no output that drops some units and keeps others came back.")
    else:
        backward = fb.gradient("dx", dout * (got / x), tol=1e-12, what="dx in training mode (dout times your own "
                                                                        "mask)")

    def large():
        got_big = _float(out, "out_big", inp["x_big"].shape)
        return fb.check(got_big is not None, "", "No training-mode output came back for the large input.") and \
            fb.gradient("dx_big", inp["dout_big"] * (got_big / inp["x_big"]), tol=1e-12,
                        what=f"dx in training mode on an input of shape {BIG_ELEMENTWISE}")
    return {MASK: ok_mask, RESCALING: ok_scale, EVAL_MODE: ok_eval} | _derived(
        fb, out, {BACKWARD: backward}, {BACKWARD: large}, key="dx_big", reached="out_big",
        why=too_slow(f"the backward pass on an input of shape {BIG_ELEMENTWISE}"))


PARTS.append(Part("dropout", points=2, inputs=dropout_inputs, check=check_dropout, driver=drive_dropout,
                  helpers=(run_steps,), needs=("dropout_forward", "dropout_backward"), shares=DROPOUT_SHARES,
                  description="inverted dropout: train and eval modes"))


# ------------------------------------------------------------------------------------- the networks' shared parts
def _net(rng, widths, N):
    """A batch X, y of N examples and the parameters W1, b1, ... of a network with layer widths `widths`. The
    features are on scales 1e-3 .. 1e3 and W1's rows inversely scaled, so that the scores stay moderate. Drawn
    again until every hidden layer's ReLUs are active on a quarter to three quarters of its entries: a layer that
    is dead on the whole batch would hide the slips behind it (dropout at test time, a ReLU gradient left out)."""
    while True:
        scales = 10.0 ** rng.uniform(-3, 3, widths[0])
        inp = {"X": rng.standard_normal((N, widths[0])) * scales, "y": _labels(rng, N, widths[-1])}
        h, alive = inp["X"], True
        for l, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True), start=1):
            inp[f"W{l}"] = rng.standard_normal((fan_in, fan_out)) / np.sqrt(fan_in) / (scales[:, None] if l == 1 else 1)
            inp[f"b{l}"] = rng.standard_normal(fan_out)
            h = np.maximum(h @ inp[f"W{l}"] + inp[f"b{l}"], 0)
            alive &= l == len(widths) - 1 or 0.25 <= np.mean(h > 0) <= 0.75
        if alive:
            return inp


def _labels(rng, N, C):
    """N labels in [0, C), every class present (N >= C): a batch that lacks a class is A1's robustness problem,
    not one these parts judge."""
    y = rng.integers(0, C, N)
    y[rng.permutation(N)[:C]] = np.arange(C)
    return y


def _tagged(inp, tag):
    return {key + tag: value for key, value in inp.items()}


def _params(inp, L, tag=""):
    return {f"{k}{l}": inp[f"{k}{l}{tag}"] for l in range(1, L + 1) for k in "Wb"}


def _bias_shapes(fb, out):
    """Bias gradients of shape (1, M), read as (M,) in every problem: the linear layer's slip, charged there."""
    if _keepdims(out, [key for key in out if "/grads/b" in key]):
        fb.note(DB_SHAPE + " It costs half of the linear layer's db share (Part 1), not again here.",
                code="db_shape")


def _data_term(fb, tag, reference, N, words):
    """(the data loss right, every gradient right) for problem `tag`, against reference = (loss, grads)."""
    loss, grads = reference
    ok_loss = fb.close(f"{tag}/loss", loss, what=f"the data loss ({words})", slips=[
        ("factor_n", "Your data loss is summed over the N examples, not averaged: divide it by N.", N * loss)])
    ok_grads = all([fb.gradient(f"{tag}/grads/{k}", g, what=f"grads[{k!r}] ({words})", N=N) for k, g in grads.items()])
    return ok_loss, ok_grads


def _difference(out, key):
    """The student's value with reg > 0 minus the one at reg = 0 on the same batch (float64), or None."""
    with_reg, without = out.get("A/" + key), out.get("A0/" + key)
    if with_reg is None or without is None or np.shape(with_reg) != np.shape(without):
        return None
    return np.asarray(with_reg, dtype=np.float64) - np.asarray(without, dtype=np.float64)


def _regulariser(fb, out, params, reg, N):
    """The regulariser's share, as in A1: what adding reg changes on the same batch, in the loss (reg times every
    W's sum of squares) and in every gradient (2 * reg * W for a W, nothing for a b), whatever the data term does."""
    R = reg * sum(float(np.sum(v * v)) for k, v in params.items() if k[0] == "W")
    diffs = {key: _difference(out, key) for key in ["loss", *[f"grads/{k}" for k in params]]}
    if any(d is None for d in diffs.values()):
        return fb.check(False, "", "The regulariser could not be judged: the loss and the gradients did not come "
                                   "back both with reg = 0 and with reg > 0 on the same batch.")
    out.update({"reg/" + key: value for key, value in diffs.items()})
    ok = fb.close("reg/loss", R, tol=REG_TOL, what="what reg adds to the loss", slips=[
        ("half_reg", "Your regulariser is 0.5 * reg * sum(W**2); this assignment's is reg * sum(W**2) (whose "
                     "gradient is 2 * reg * W).", 0.5 * R),
        ("no_reg", "Your loss lacks the regulariser reg * sum(W**2).", 0.0),
        ("factor_n", "Your loss divides the regulariser by N: only the data loss is an average.", R / N)])
    for k, v in params.items():
        if k[0] == "W":
            expected, slips = 2 * reg * v, [
                ("half_reg", f"Your grads[{k!r}] adds reg * {k}, the gradient of 0.5 * reg * sum({k}**2); the "
                             f"gradient of this assignment's reg * sum({k}**2) is 2 * reg * {k}.", reg * v),
                ("no_reg", f"Your grads[{k!r}] lacks the regulariser's gradient 2 * reg * {k}: every weight matrix "
                           f"is regularised.", 0 * v),
                ("factor_n", f"Your grads[{k!r}] divides the regulariser's gradient by N: only the data term is an "
                             f"average.", 2 * reg * v / N),
                ("sign", f"Your grads[{k!r}] subtracts the regulariser's gradient: it is + 2 * reg * {k}.", -2 * reg * v)]
        else:
            expected, slips = 0 * v, [("reg_bias", f"Your grads[{k!r}] changes with reg: the biases are not "
                                                   f"regularised.", 2 * reg * v)]
        ok &= fb.close(f"reg/grads/{k}", expected, tol=REG_TOL, what=f"what reg adds to grads[{k!r}]", slips=slips)
    return ok


def _compare_big(fb, reference, words):
    """The gradients of the large network (its loss is the data loss's, judged on the small problem)."""
    return all([fb.gradient("big/grads/" + k, g, tol=BIG_TOL, what=f"grads[{k!r}] of {words}")
                for k, g in reference[1].items()])


# ------------------------------------------------------------------------------------------- two-layer
BIG_TWO_LAYER = (64, 512, 256, 10)     # N, D, H, C of the large network, run last: 134 000 parameters
SCORES, DATA, GRADS, REG, EXTREME = "the scores", "the data loss", "the gradients", "the regulariser", "extreme scores"
TWO_LAYER_SHARES = (
    Share(SCORES, 0.5, "the scores, with y=None"),
    Share(DATA, 0.5, "the softmax loss at reg = 0"),
    Share(GRADS, 1.25, "the four gradients at reg = 0, derived (exact on features of every scale, fast on a large "
                       "network)"),
    Share(REG, 0.5, "reg times the sums of squares of W1 and W2 in the loss, 2 * reg * W in dW1 and dW2, nothing in "
                    "db1 and db2"),
    Share(EXTREME, 0.25, "scores near +-1000 and thousands apart: loss and gradients finite and right"),
)


def _extreme_two_layer(rng, N, D, H, C):
    """Scores near +1000 in some rows and -1000 in others and, in some rows, thousands apart with the correct class
    at the row's minimum (more than 745 below the maximum: exp underflows there): hidden units 0 and 1 carry
    feature 0 (+-1000) to every class alike, the others see the remaining features, multiplied by 1000 in the
    first half of the rows (those far enough apart are the wide ones). Drawn again until some row is that far
    apart. Every class is a label of the other rows (N >= 2 C)."""
    while True:
        X = rng.standard_normal((N, D))
        X[:, 0] = np.where(np.arange(N) % 2 == 0, 1.0, -1.0) * rng.uniform(900, 1100, N)
        wide = np.arange(N) < N // 2
        X[wide, 1:] *= 1000.0
        W1, b1 = rng.standard_normal((D, H)) / np.sqrt(D), rng.standard_normal(H)
        W1[0], W1[:, :2], b1[:2] = 0.0, 0.0, 0.0
        W1[0, :2] = 1.0, -1.0                                 # h0 - h1 = feature 0
        W2 = rng.standard_normal((H, C)) / np.sqrt(H)
        W2[0], W2[1] = 1.0, -1.0
        params = {"W1": W1, "b1": b1, "W2": W2, "b2": rng.standard_normal(C)}
        scores = reference_two_layer(params, X)
        wide &= np.ptp(scores, axis=1) > 1500
        if wide.any():
            y = np.resize(rng.permutation(C), N)
            y[wide] = np.argmin(scores[wide], axis=1)
            return {"X": X, "y": y, **params}


def two_layer_inputs(rng):
    D, H, C = _sizes(rng, 3, 3, 16)
    N = int(rng.integers(16, 30))                       # more rows than classes: every class can be present
    n, d, h, c = BIG_TWO_LAYER
    return {**_net(rng, (D, H, C), N), "reg": float(rng.uniform(0.01, 0.5)),
            **_tagged(_extreme_two_layer(rng, 2 * N, D, H, C), "_S"), **_tagged(_net(rng, (d, h, c), n), "_big")}


def drive_two_layer(ns, inp, out):
    net, names = ns["two_layer_loss"], ("W1", "b1", "W2", "b2")

    def params(tag):     # fresh copies for every call: an edit in place changes no later problem
        return {k: np.array(inp[k + tag]) for k in names}

    def scores():
        out["scores"] = net(params(""), np.array(inp["X"]))

    def problem(name, tag, reg):
        def step():
            loss, grads = net(params(tag), np.array(inp["X" + tag]), inp["y" + tag], reg=reg)
            out[name + "/loss"] = loss
            for k in names:
                out[f"{name}/grads/{k}"] = grads[k]
        return step
    run_steps(scores, problem("A0", "", 0.0), problem("A", "", inp["reg"]), problem("S", "_S", 0.0),
              problem("big", "_big", 0.0))


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
    params, X, y, N = _params(inp, 2), inp["X"], inp["y"], len(inp["y"])
    _bias_shapes(fb, out)
    verdict = {SCORES: fb.close("scores", reference_two_layer(params, X), what="the scores (y=None)")}
    verdict[DATA], verdict[GRADS] = _data_term(fb, "A0", reference_two_layer(params, X, y), N, "reg = 0")
    if not verdict[GRADS]:
        fb.note(TIGHT)
    verdict[REG] = _regulariser(fb, out, params, inp["reg"], N)
    if verdict[DATA] and verdict[GRADS]:
        verdict[EXTREME] = all(_data_term(fb, "S", reference_two_layer(_params(inp, 2, "_S"), inp["X_S"], inp["y_S"]),
                                          len(inp["y_S"]), "on scores near +-1000 and thousands apart"))
        if not verdict[EXTREME]:
            fb.note("Subtract each row's own maximum before exp (a global maximum underflows whole rows), and take "
                    "log p as shifted score minus log-sum-exp rather than log(p), which is -inf once p underflows "
                    "to 0.", code="unstable")
    else:
        verdict[EXTREME] = fb.check(False, "", "Extreme scores are judged once the data loss and the gradients are "
                                               "right on an ordinary batch.")
    words = "a network with D, H, C = {}, {}, {} and a batch of {}".format(*BIG_TWO_LAYER[1:], BIG_TWO_LAYER[0])
    big = reference_two_layer(_params(inp, 2, "_big"), inp["X_big"], inp["y_big"])
    return verdict | _derived(fb, out, {GRADS: verdict[GRADS], REG: verdict[REG], EXTREME: verdict[EXTREME]},
                              {GRADS: lambda: _compare_big(fb, big, words)}, key="big/loss", reached="S/loss",
                              why=too_slow("the backward pass on " + words))


PARTS.append(Part("two_layer", points=3, inputs=two_layer_inputs, check=check_two_layer, driver=drive_two_layer,
                  helpers=(run_steps,), needs=("two_layer_loss",), shares=TWO_LAYER_SHARES,
                  description="two-layer network: scores, loss and gradients"))


# -------------------------------------------------------------------------------------------- training
# The digits moved by up to two pixels and noised (deepgrad.data.load_jittered_digits): at train_two_layer's
# defaults a two-layer net reaches about 0.60 on held-out digits there, while a small search on a validation
# split finds settings that reach about 0.70 (tests/test_shares_a2.py measures both over many seeds), so the bar
# is met only by tuning. The caps keep a run within a few seconds, so a learning rate too small for the task
# cannot be made up for by a longer or wider run. The network trains on two copies of each digit, as in the
# notebook; a held-out digit is judged in six copies, which narrows the spread that the luck of 400 digits adds
# to the accuracy (its standard deviation over splits from about 0.018 to 0.011).
JITTER = {"shift": 2, "noise": 0.2}
TRAIN_DIGITS, TRAIN_COPIES, HELD_COPIES = 1400, 2, 6       # the rest of the 1797 digits are held out
TARGET = 0.65
LIMITS = {"epochs": 20, "hidden_size": 256}     # at most
MIN_BATCH = 16


def training_inputs(rng):
    """A fresh split of a freshly jittered digits set: the copies of a digit stay on one side."""
    from deepgrad.data import load_jittered_digits

    digits = rng.permutation(1797)
    X, y = load_jittered_digits(HELD_COPIES, **JITTER, seed=int(rng.integers(0, 2**31)))
    rows = lambda which, copies: (which[:, None] * HELD_COPIES + np.arange(copies)).ravel()  # noqa: E731
    train, held = rows(digits[:TRAIN_DIGITS], TRAIN_COPIES), rows(digits[TRAIN_DIGITS:], HELD_COPIES)
    mean, std = X[train].mean(axis=0), X[train].std(axis=0) + 1e-8
    X = (X - mean) / std
    return {"X": X[train], "y": y[train], "X_val": X[held], "y_val": y[held], "seed": int(rng.integers(0, 1000)),
            "max_epochs": LIMITS["epochs"], "max_hidden_size": LIMITS["hidden_size"], "min_batch_size": MIN_BATCH}


def _limits(inp):
    """(key, lowest, highest) of each capped entry of HYPERPARAMS."""
    return (("epochs", 1, inp["max_epochs"]), ("hidden_size", 1, inp["max_hidden_size"]),
            ("batch_size", inp["min_batch_size"], len(inp["y"])))


def drive_training(ns, inp, out):
    hp = dict(ns["HYPERPARAMS"])
    for key in ("hidden_size", "lr", "reg", "epochs", "batch_size"):
        out["hp/" + key] = float(hp[key])
    if any(not low <= hp[key] <= high for key, low, high in _limits(inp)):
        return                                          # judged by the check, before a long run
    params, history = ns["train_two_layer"](inp["X"], inp["y"], seed=inp["seed"], **hp)
    for k in ("W1", "b1", "W2", "b2"):
        out["params/" + k] = params[k]
    out["history"] = history


def check_training(inp, out, fb):
    hp = {k: _float(out, "hp/" + k, ()) for k in ("hidden_size", "lr", "reg", "epochs", "batch_size")}
    if not fb.check(all(v is not None for v in hp.values()), "",
                    "HYPERPARAMS must hold numbers under the keys hidden_size, lr, reg, epochs and batch_size"):
        return False
    for key, low, high in _limits(inp):
        if not fb.check(low <= hp[key] <= high, "", f"HYPERPARAMS['{key}'] is {hp[key]:g}: the grader allows "
                                                     f"{low} to {high}, so that a run takes seconds"):
            return False
    H = int(hp["hidden_size"])
    shapes = {"W1": (64, H), "b1": (H,), "W2": (H, 10), "b2": (10,)}
    params = {k: out.get("params/" + k) for k in shapes}
    if not fb.check(all(params[k] is not None and np.shape(params[k]) == s for k, s in shapes.items()),
                    "the returned parameters have the expected shapes",
                    f"params must hold W1 (64, H), b1 (H,), W2 (H, 10), b2 (10,) with H = HYPERPARAMS['hidden_size'] "
                    f"= {H}"):
        return False
    params = {k: np.asarray(v, dtype=np.float64) for k, v in params.items()}
    if not fb.check(all(np.all(np.isfinite(v)) for v in params.values()), "the parameters are finite",
                    "some parameters are inf or nan: the training diverged (lower the learning rate)",
                    code="diverged"):
        return False
    accuracy = float(np.mean(np.argmax(reference_two_layer(params, inp["X_val"]), axis=1) == inp["y_val"]))
    history, epochs = out.get("history"), int(hp["epochs"])
    fb.check(history is not None and np.size(history) == epochs, f"history holds one loss per epoch ({epochs})",
             f"history should hold {epochs} numbers, the mean training loss of each epoch (not graded)")
    return fb.check(accuracy >= TARGET, f"validation accuracy {accuracy:.3f} (threshold {TARGET:.2f})",
                    f"validation accuracy {accuracy:.3f} is below the threshold {TARGET:.2f}: check Part 5 first, "
                    f"then compare HYPERPARAMS on your validation split")


PARTS.append(Part("training", points=2, inputs=training_inputs, check=check_training, driver=drive_training,
                  helpers=(_limits,), needs=("train_two_layer", "HYPERPARAMS"), timeout=60,
                  held_out=("X_val", "y_val"), description="training on the jittered digits: validation accuracy",
                  shares=(Share("validation accuracy", 2, f"at least {TARGET * 100:.0f} % on held-out jittered digits, "
                                                          f"trained with your HYPERPARAMS"),)))


# ------------------------------------------------------------------------------------ batch normalisation
BIG_BATCHNORM = (16384, 16)      # the large training batch, run last: N forwards (a row of x at a time) run out of time too
TRAIN_FWD, RUNNING = "the train-mode forward", "the running statistics"
EVAL_FWD = "the eval-mode forward"
TRAIN_BACK, EVAL_BACK = "the train-mode backward", "the eval-mode backward"
BATCHNORM_SHARES = (
    Share(TRAIN_FWD, 0.5, "out with the batch's mean and biased variance"),
    Share(RUNNING, 0.5, "running_mean and running_var after each of three training batches"),
    Share(EVAL_FWD, 0.5, "out with the given running statistics"),
    Share(TRAIN_BACK, 1, "dx (along all three paths), dgamma and dbeta in train mode, derived"),
    Share(EVAL_BACK, 0.5, "dx, dgamma and dbeta in eval mode, for your own eval-mode forward"),
)


def batchnorm_inputs(rng):
    """Three training batches, an eval batch with given running statistics, upstream gradients.

    The columns span six orders of magnitude, so a dx by centred differences misses the tolerance."""
    N, D = int(rng.integers(6, 20)), int(rng.integers(3, 8))
    scale, shift = 10.0 ** rng.uniform(-3, 3, D), rng.uniform(-5, 5, D)
    inp = {f"x{k}": (rng.standard_normal((N, D)) + shift) * scale for k in range(3)}
    inp.update(gamma=rng.uniform(0.5, 2.0, D), beta=rng.standard_normal(D), momentum=float(rng.uniform(0.05, 0.5)),
               dout=multiscale(rng, (N, D)), x_eval=(rng.standard_normal((int(rng.integers(2, 6)), D)) + shift) * scale,
               running_mean=shift * scale, running_var=scale ** 2 * rng.uniform(0.5, 2.0, D))
    inp["dout_eval"] = multiscale(rng, inp["x_eval"].shape)
    n, d = BIG_BATCHNORM
    inp.update(x_big=rng.standard_normal((n, d)) * 3 + 1, gamma_big=rng.uniform(0.5, 2.0, d),
               beta_big=rng.standard_normal(d), dout_big=rng.standard_normal((n, d)))
    return inp


def drive_batchnorm(ns, inp, out):
    # Each call on its own: a forward that raises in one mode, or a backward that raises in eval mode, costs
    # only the values of that call.
    forward, backward = ns["batchnorm_forward"], ns["batchnorm_backward"]
    bn_param = {"mode": "train", "momentum": inp["momentum"]}

    def train(k):
        out[f"out{k}"] = forward(inp[f"x{k}"], inp["gamma"], inp["beta"], bn_param)[0]
        for name in ("running_mean", "running_var"):
            if name in bn_param:      # a copy: a later batch may update it in place
                out[f"{name}{k}"] = np.array(bn_param[name], dtype=float)

    def backprop(tag, x, gamma, beta, param, dout):
        result, cache = forward(x, gamma, beta, param)
        out[tag + "out"] = result
        out[tag + "dx"], out[tag + "dgamma"], out[tag + "dbeta"] = backward(dout, cache)

    train_param = {"mode": "train", "momentum": inp["momentum"]}
    eval_param = {"mode": "eval", "running_mean": np.array(inp["running_mean"]),
                  "running_var": np.array(inp["running_var"])}
    run_steps(lambda: train(0), lambda: train(1), lambda: train(2),
              lambda: backprop("back_", inp["x2"], inp["gamma"], inp["beta"], dict(train_param), inp["dout"]),
              lambda: backprop("eval_", inp["x_eval"], inp["gamma"], inp["beta"], eval_param, inp["dout_eval"]),
              lambda: backprop("big_", inp["x_big"], inp["gamma_big"], inp["beta_big"], dict(train_param),
                               inp["dout_big"]))


def _own_eval_backward(inp, out):
    """The eval-mode backward for the student's own eval-mode forward, where that forward is affine in x column by
    column (out = gamma * (x - m) * s + beta with s > 0, as with any constant statistics m and 1 / s**2):
    dx = dout * gamma * s, dgamma = sum(dout * xhat), dbeta = sum(dout). None where the forward did not come back
    or is not such a normalisation."""
    x, gamma, beta, dout = inp["x_eval"], inp["gamma"], inp["beta"], inp["dout_eval"]
    got = _float(out, "eval_out", x.shape)
    if got is None:
        return None
    xhat = (got - beta) / gamma
    xc, hc = x - x.mean(axis=0), xhat - xhat.mean(axis=0)
    s = (xc * hc).sum(axis=0) / (xc * xc).sum(axis=0)
    if np.any(s <= 0) or rel_error(hc, xc * s) > 1e-9:     # a normalisation scales every column up or down
        return None
    return dout * gamma * s, (dout * xhat).sum(axis=0), dout.sum(axis=0)


def _paths_left_out(dout, cache) -> list:
    """The train-mode dx of a backward pass that leaves out some of the three paths from x to the output
    (through the batch mean, through the variance, or both: the eval-mode formula), as ``fb.close`` slips."""
    xhat, gamma, inv_std, _ = cache
    dxhat = dout * gamma
    why = ("In train mode the batch mean and variance are computed from x, so x reaches the output along three "
           "paths (directly, through the mean, through the variance) and dx adds all three.")
    return [("bn_constant_stats", f"Your dx is what it would be if the batch mean and variance were constants. {why}",
             dxhat * inv_std),
            ("bn_missing_path", f"Your dx leaves out the path through the batch variance. {why}",
             inv_std * (dxhat - dxhat.mean(axis=0))),
            ("bn_missing_path", f"Your dx leaves out the path through the batch mean. {why}",
             inv_std * (dxhat - xhat * (dxhat * xhat).mean(axis=0)))]


def check_batchnorm(inp, out, fb):
    gamma, beta, names = inp["gamma"], inp["beta"], ("dx", "dgamma", "dbeta")
    bn_param = {"mode": "train", "momentum": inp["momentum"]}
    ok_train = ok_running = True
    for k in range(3):
        expected, _ = layers.batchnorm_forward(inp[f"x{k}"], gamma, beta, bn_param)
        ok_train &= fb.close(f"out{k}", expected, what=f"the train-mode output of batch {k + 1}")
        ok_running &= fb.close(f"running_mean{k}", bn_param["running_mean"], what=f"running_mean after batch {k + 1}")
        ok_running &= fb.close(f"running_var{k}", bn_param["running_var"], what=f"running_var after batch {k + 1}")
    if not ok_running and out.status != "timeout":
        fb.note("The running statistics start at zeros (mean) and ones (variance), are stored back into bn_param, "
                "and after each training batch move a fraction `momentum` of the way to the batch's statistics.",
                code="bn_running")

    _, cache = layers.batchnorm_forward(inp["x2"], gamma, beta, {"mode": "train"})
    grads = dict(zip(names, layers.batchnorm_backward(inp["dout"], cache), strict=True))
    slips = _paths_left_out(inp["dout"], cache)
    if any(_matches(out, "back_dx", value, 1e-6) for _, _, value in slips):    # named: no guess of the checker's
        ok_back = fb.close("back_dx", grads["dx"], what="the train-mode dx", slips=slips)
    else:
        ok_back = fb.gradient("back_dx", grads["dx"], what="the train-mode dx")
    for key in names[1:]:
        ok_back &= fb.gradient("back_" + key, grads[key], what=f"the train-mode {key}")
    if not ok_back:
        fb.note(TIGHT)

    eval_param = {"mode": "eval", "running_mean": inp["running_mean"], "running_var": inp["running_var"]}
    expected, cache = layers.batchnorm_forward(inp["x_eval"], gamma, beta, eval_param)
    ok_eval = fb.close("eval_out", expected, what="the eval-mode output (normalised with the running statistics)")
    if not ok_eval and _matches(out, "eval_out", layers.batchnorm_forward(inp["x_eval"], gamma, beta,
                                                                          {"mode": "train"})[0]):
        fb.note("Your eval mode normalises with the batch's own statistics: use the running ones, so that a test "
                "example's output does not depend on the rest of its batch.", code="bn_eval_batch")
    own = None if ok_eval else _own_eval_backward(inp, out)
    if own is not None:
        fb.note("The eval-mode backward is judged for your own eval-mode forward (the statistics it used taken as "
                "constants): a slip in that forward costs its own share only.")
    own = own or layers.batchnorm_backward(inp["dout_eval"], cache)
    ok_eval_back = all([fb.gradient("eval_" + key, value, what=f"the eval-mode {key}")
                        for key, value in zip(names, own, strict=True)])

    words = f"on a training batch of shape {BIG_BATCHNORM}"
    _, cache = layers.batchnorm_forward(inp["x_big"], inp["gamma_big"], inp["beta_big"], {"mode": "train"})
    big = layers.batchnorm_backward(inp["dout_big"], cache)
    return {TRAIN_FWD: ok_train, RUNNING: ok_running, EVAL_FWD: ok_eval} | _derived(
        fb, out, {TRAIN_BACK: ok_back, EVAL_BACK: ok_eval_back},
        {TRAIN_BACK: lambda: all([fb.gradient("big_" + key, value, tol=BIG_TOL, what=f"the train-mode {key} {words}")
                                  for key, value in zip(names, big, strict=True)])},
        key="big_dx", reached="big_out", why=too_slow(f"the backward pass {words}"))


PARTS.append(Part("batchnorm", points=3, inputs=batchnorm_inputs, check=check_batchnorm, driver=drive_batchnorm,
                  helpers=(run_steps,), needs=("batchnorm_forward", "batchnorm_backward"), shares=BATCHNORM_SHARES,
                  description="batch normalisation: train and eval modes, running statistics, backward"))


# ------------------------------------------------------------------------------------ fully connected net
BIG_FC_NET = (64, 256, 256, 128, 10)    # N and the layer widths of the large network, run last: 100 000 parameters
INIT, DROPOUT = "the initialisation", "dropout in training"
FC_NET_SHARES = (
    Share(INIT, 0.5, "every W and b of the right shape, W's standard deviation sqrt(2 / fan_in), b's zero"),
    Share(SCORES, 0.5, "the test-time scores (y=None) of networks of any depth, dropout off"),
    Share(DATA, 0.25, "the loss at reg = 0, without dropout"),
    Share(GRADS, 0.75, "every gradient at reg = 0 without dropout, derived"),
    Share(REG, 0.5, "reg times every W's sum of squares in the loss, 2 * reg * W in each W's gradient"),
    Share(DROPOUT, 0.5, "the loss and gradients with dropout, the mask after hidden layer l drawn with seed + l"),
)


def fc_net_inputs(rng):
    D, C = _sizes(rng, 2, 3, 16)
    N = int(rng.integers(16, 30))     # more rows than classes, and the masks drop some units and keep others
    hidden = [int(h) for h in rng.integers(3, 10, int(rng.integers(2, 5)))]   # at least three linear layers
    inp = _net(rng, (D, *hidden, C), N)
    inp.update(D=D, C=C, hidden=np.array(hidden), L=len(hidden) + 1, seed=int(rng.integers(0, 2**31)),
               reg=float(rng.uniform(0.01, 0.3)), dropout=float(rng.uniform(0.2, 0.6)),
               drop_seed=int(rng.integers(0, 2**20)), W_lin=rng.standard_normal((D, C)) / np.sqrt(D),
               b_lin=rng.standard_normal(C), L_big=len(BIG_FC_NET) - 2)
    inp.update(_tagged(_net(rng, BIG_FC_NET[1:], BIG_FC_NET[0]), "_big"))
    return inp


def drive_fc_net(ns, inp, out):
    init, net, L = ns["init_fc_net"], ns["fc_net_loss"], inp["L"]

    def params(tag, L):       # fresh copies for every call: an edit in place changes no later problem
        return {f"{k}{l}": np.array(inp[f"{k}{l}{tag}"]) for l in range(1, L + 1) for k in "Wb"}

    def initialise():
        for key, value in init(inp["D"], [int(h) for h in inp["hidden"]], inp["C"], seed=inp["seed"]).items():
            out["init/" + key] = value
        out["he/W1"] = init(400, [300], 10, seed=inp["seed"])["W1"]

    def masks():              # the student's own dropout layer's masks, which the network with dropout is judged with
        for l, width in enumerate(inp["hidden"], start=1):
            out[f"mask/{l}"] = ns["dropout_forward"](np.ones((len(inp["X"]), int(width))), inp["dropout"], "train",
                                                     seed=inp["drop_seed"] + l)[0]

    def scores():
        out["linear_scores"] = net({"W1": np.array(inp["W_lin"]), "b1": np.array(inp["b_lin"])}, np.array(inp["X"]))
        out["scores"] = net(params("", L), np.array(inp["X"]), dropout=inp["dropout"], seed=inp["drop_seed"])

    def problem(name, tag, L, reg=0.0, dropout=0.0):
        def step():
            loss, grads = net(params(tag, L), np.array(inp["X" + tag]), inp["y" + tag], reg=reg, dropout=dropout,
                              seed=inp["drop_seed"])
            out[name + "/loss"] = loss
            for key in params(tag, L):
                out[f"{name}/grads/{key}"] = grads[key]
        return step
    run_steps(initialise, masks if "dropout_forward" in ns else lambda: None, scores, problem("A0", "", L),
              problem("A", "", L, reg=inp["reg"]), problem("D", "", L, dropout=inp["dropout"]),
              problem("big", "_big", inp["L_big"]))


def reference_fc_net(params, X, y=None, reg=0.0, masks=()):
    """{linear -> ReLU -> dropout} x (L-1) -> linear -> softmax, from the library's layers (trusted); masks[l - 1]
    is the dropout mask after hidden layer l (none: no dropout)."""
    L = len(params) // 2
    h, caches = X, []
    for l in range(1, L):
        h, cache = layers.linear_relu_forward(h, params[f"W{l}"], params[f"b{l}"])
        mask = masks[l - 1] if masks else None
        h = h if mask is None else h * mask
        caches.append((cache, mask))
    scores, last = layers.linear_forward(h, params[f"W{L}"], params[f"b{L}"])
    if y is None:
        return scores
    loss, dscores = losses.softmax_loss(scores, y)
    grads = {}
    dh, grads[f"W{L}"], grads[f"b{L}"] = layers.linear_backward(dscores, last)
    for l in range(L - 1, 0, -1):
        cache, mask = caches[l - 1]
        dh, grads[f"W{l}"], grads[f"b{l}"] = layers.linear_relu_backward(dh if mask is None else dh * mask, cache)
    for l in range(1, L + 1):
        loss += reg * np.sum(params[f"W{l}"] ** 2)
        grads[f"W{l}"] = grads[f"W{l}"] + 2 * reg * params[f"W{l}"]
    return loss, grads


def _masks(out, inp):
    """The dropout mask after each hidden layer, and whether they are the student's own: those the student's own
    dropout_forward draws where together they drop some units and keep others (so that a slip there, judged in
    Part 4, is not charged again here), the reference's otherwise."""
    N, p, seed = len(inp["X"]), inp["dropout"], inp["drop_seed"]
    reference = [layers.dropout_forward(np.ones((N, int(h))), p, "train", seed=seed + l)[0]
                 for l, h in enumerate(inp["hidden"], start=1)]
    own = [_float(out, f"mask/{l}", m.shape) for l, m in enumerate(reference, start=1)]
    if any(m is None or np.any(m < 0) for m in own) or all(np.all(m == 0) or np.all(m != 0) for m in own):
        return reference, False
    return own, not all(np.array_equal(m, r) for m, r in zip(own, reference, strict=True))


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

    params, X, y, N = _params(inp, L), inp["X"], inp["y"], len(inp["y"])
    masks, own = _masks(out, inp)
    ok_scores = fb.close("linear_scores", reference_fc_net({"W1": inp["W_lin"], "b1": inp["b_lin"]}, X),
                         what="the scores of a network with no hidden layer (hidden_sizes=[])")
    ok_scores &= fb.close("scores", reference_fc_net(params, X),
                          what=f"the test-time scores (y=None) of a network with {L} linear layers, called with "
                               f"dropout > 0 (dropout does nothing at test time)",
                          slips=[("test_dropout", "Your network drops units at test time (y=None): dropout is for "
                                                  "training only.", reference_fc_net(params, X, masks=masks))])
    _bias_shapes(fb, out)
    verdict = {INIT: ok_init, SCORES: ok_scores}
    verdict[DATA], verdict[GRADS] = _data_term(fb, "A0", reference_fc_net(params, X, y), N, "reg = 0, no dropout")
    if not verdict[GRADS]:
        fb.note(TIGHT)
    verdict[REG] = _regulariser(fb, out, params, inp["reg"], N)
    if verdict[DATA] and verdict[GRADS]:
        if own:
            fb.note("The network with dropout is judged with the masks your own dropout_forward draws: a slip there "
                    "costs a share of Part 4, not again here.")
        verdict[DROPOUT] = all(_data_term(fb, "D", reference_fc_net(params, X, y, masks=masks), N,
                                          "reg = 0, with dropout; the mask after hidden layer l uses seed + l"))
    else:
        verdict[DROPOUT] = fb.check(False, "", "The network with dropout is judged once the data loss and the "
                                               "gradients without dropout are right.")
    words = f"a network with layer widths {list(BIG_FC_NET[1:])} and a batch of {BIG_FC_NET[0]}"
    big = reference_fc_net(_params(inp, inp["L_big"], "_big"), inp["X_big"], inp["y_big"])
    return verdict | _derived(fb, out, {GRADS: verdict[GRADS], REG: verdict[REG], DROPOUT: verdict[DROPOUT]},
                              {GRADS: lambda: _compare_big(fb, big, words)}, key="big/loss", reached="D/loss",
                              why=too_slow("the backward pass on " + words))


PARTS.append(Part("fc_net", points=3, inputs=fc_net_inputs, check=check_fc_net, driver=drive_fc_net,
                  helpers=(run_steps,), needs=("init_fc_net", "fc_net_loss"), shares=FC_NET_SHARES,
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


def rounded_regression(params, X, y=None):
    """softmax_regression scoring with every parameter rounded to one decimal (a quantised network; the gradient
    passes the rounding unchanged, straight through): epochs that leave every rounded value where it was score
    the validation set identically, so their validation losses tie exactly while their parameters differ."""
    rounded = {k: np.round(v, 1) for k, v in params.items()}
    return softmax_regression(rounded, X) if y is None else softmax_regression(rounded, X, y)


NETWORKS = {"A": softmax_regression, "T": rounded_regression}      # the problem's tag -> the network it trains


def cross_entropy(scores, y):
    """The mean softmax cross-entropy of scores (N, C) against labels y (N,)."""
    shifted = scores - scores.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-log_probs[np.arange(len(y)), y].mean())


def replay_train_net(inp, tag):
    """The recipe of the notebook on problem `tag`: (history, the parameters after each epoch)."""
    net, get = NETWORKS[tag], lambda key: inp[key + "_" + tag]
    params = {"W": get("W").copy(), "b": get("b").copy()}
    rng, lr, N = np.random.default_rng(get("seed")), get("lr"), len(get("y"))
    history, epochs = {"loss": [], "val_loss": [], "val_acc": [], "lr": []}, []
    for _ in range(get("epochs")):
        order, batch_losses = rng.permutation(N), []
        for start in range(0, N, get("batch_size")):
            batch = order[start:start + get("batch_size")]
            loss, grads = net(params, get("X")[batch], get("y")[batch])
            params = {k: params[k] - lr * grads[k] for k in params}
            batch_losses.append(loss)
        scores = net(params, get("X_val"))
        history["loss"].append(float(np.mean(batch_losses)))
        history["val_loss"].append(cross_entropy(scores, get("y_val")))
        history["val_acc"].append(float(np.mean(np.argmax(scores, axis=1) == get("y_val"))))
        history["lr"].append(lr)
        epochs.append(params)
        lr *= get("lr_decay")
    return history, epochs


def _best(losses) -> int:
    """The epoch whose parameters are kept: the lowest validation loss, the earliest of a tie."""
    return int(np.argmin(losses))       # argmin returns the first of equal values


def _train_net_problem(rng, tag, D, noise, lr):
    N, C = int(rng.integers(30, 60)), 3
    w_true = rng.standard_normal((D, C))
    X, X_val = rng.standard_normal((N, D)), rng.standard_normal((150, D))
    return _tagged({"X": X, "y": np.argmax(X @ w_true + noise * rng.standard_normal((N, C)), axis=1),
                    "X_val": X_val, "y_val": np.argmax(X_val @ w_true, axis=1),
                    "W": 0.01 * rng.standard_normal((D, C)), "b": np.zeros(C), "lr": float(rng.uniform(*lr)),
                    "lr_decay": float(rng.uniform(0.8, 0.95)), "epochs": int(rng.integers(8, 14)),
                    "batch_size": int(rng.integers(5, 12)), "seed": int(rng.integers(0, 2**31))}, "_" + tag)


def _overfits(inp) -> bool:
    """Whether the lowest validation loss falls neither on the first epoch nor on the last two, and is neither
    where the validation accuracy is highest nor where the training loss is lowest (keeping either shows)."""
    history, _ = replay_train_net(inp, "A")
    best = _best(history["val_loss"])
    return (0 < best < len(history["loss"]) - 2 and best != int(np.argmax(history["val_acc"]))
            and best != int(np.argmin(history["loss"])))


def _ties(inp) -> bool:
    """Whether the lowest validation loss is shared by epochs with different parameters, and every other loss is
    clearly above it (a tie by rounding, not by a difference in the last digits of a student's formula)."""
    history, epochs = replay_train_net(inp, "T")
    losses = np.array(history["val_loss"])
    tied, rest = np.flatnonzero(losses == losses.min()), losses[losses != losses.min()]
    return (len(tied) > 1 and len(rest) > 0 and rest.min() - losses.min() > 1e-6
            and not np.array_equal(epochs[tied[0]]["W"], epochs[tied[-1]]["W"]))


def train_net_inputs(rng):
    """Two problems, each drawn again until it shows what it is for. A: a small noisy problem that over-fits
    (`_overfits`). T: a network that scores with rounded weights, whose lowest validation loss is tied (`_ties`)."""
    draws = {"A": lambda: _train_net_problem(rng, "A", int(rng.integers(30, 60)), 3.0, (0.2, 0.5)),
             "T": lambda: _train_net_problem(rng, "T", int(rng.integers(4, 9)), 1.0, (0.05, 0.15))}
    inp = {}
    for tag, shows in (("A", _overfits), ("T", _ties)):
        problem = next((p for p in (draws[tag]() for _ in range(1000)) if shows(p)), None)
        if problem is None:
            raise RuntimeError(f"no problem {tag} found in 1000 draws")
        inp.update(problem)
    return inp


def drive_train_net(ns, inp, out):
    nets = {"A": softmax_regression, "T": rounded_regression}

    def run(tag):
        def step():
            get = lambda key: inp[key + "_" + tag]  # noqa: E731
            params = {"W": get("W").copy(), "b": get("b").copy()}
            best, history = ns["train_net"](params, nets[tag], get("X"), get("y"), get("X_val"), get("y_val"),
                                            lr=get("lr"), lr_decay=get("lr_decay"), epochs=get("epochs"),
                                            batch_size=get("batch_size"), seed=get("seed"))
            for key in ("loss", "val_loss", "val_acc", "lr"):
                out[f"{tag}/history/{key}"] = np.asarray(history[key], dtype=float)
            out[f"{tag}/best/W"], out[f"{tag}/best/b"] = best["W"], best["b"]
            # whether what came back shares its arrays with the caller's params, which the run updated
            out[f"{tag}/best/shared"] = any(np.shares_memory(np.asarray(best[k]), params[k]) for k in params)
        return step
    run_steps(run("A"), run("T"))


def check_train_net(inp, out, fb):
    verdict = {"the learning rates": True, "the history": True, "the best parameters": True}
    for tag, words in (("A", "a small problem that over-fits"),
                       ("T", "a network that scores with rounded weights, where epochs tie")):
        history, epochs = replay_train_net(inp, tag)
        n = len(epochs)
        verdict["the learning rates"] &= fb.close(f"{tag}/history/lr", history["lr"],
                                                  what=f"the learning rate of each epoch ({words})")
        ok = fb.close(f"{tag}/history/loss", history["loss"], what=f"the mean mini-batch loss of each epoch ({words})")
        ok &= fb.close(f"{tag}/history/val_loss", history["val_loss"],
                       what=f"the validation loss after each epoch ({words})")
        ok &= fb.close(f"{tag}/history/val_acc", history["val_acc"],
                       what=f"the validation accuracy after each epoch ({words})")
        verdict["the history"] &= ok
        # the best epoch by the student's own validation losses, where they came back: a slip in computing
        # them costs the history's share, not this one too
        own = _float(out, f"{tag}/history/val_loss", (n,))
        best = _best(own if own is not None else history["val_loss"])
        whose = "your validation losses are" if own is not None else "the validation loss is"
        fb.note(f"On {words}, {whose} lowest at epoch {best + 1} of {n}.")
        ok_best = fb.close(f"{tag}/best/W", epochs[best]["W"], what=f"the returned W (that of epoch {best + 1})")
        ok_best &= fb.close(f"{tag}/best/b", epochs[best]["b"], what=f"the returned b (that of epoch {best + 1})")
        verdict["the best parameters"] &= ok_best
        if ok_best:
            continue
        returned = next((e for e, params in enumerate(epochs)
                         if all(_matches(out, f"{tag}/best/" + k, v, 1e-8) for k, v in params.items())), None)
        losses = own if own is not None else history["val_loss"]
        if out.get(f"{tag}/best/shared"):
            fb.note("The parameters you return share their arrays with the params that training went on updating: "
                    "what you kept changed afterwards. Copy the arrays when you keep them.", code="best_by_reference")
        elif returned is not None and returned > best and losses[returned] == losses[best]:
            fb.note(f"The parameters you return are those of epoch {returned + 1}, whose validation loss only ties "
                    f"that of epoch {best + 1}: a tie keeps the earlier epoch; only a strictly lower validation "
                    f"loss replaces the best.")
        elif returned is not None and returned == int(np.argmax(history["val_acc"])):
            fb.note(f"The parameters you return are those of epoch {returned + 1}, the highest validation "
                    f"accuracy: keep them whenever the validation loss is strictly lower than the best so far.")
        elif returned is not None:
            fb.note(f"The parameters you return are those of epoch {returned + 1}: keep them whenever the "
                    f"validation loss is strictly lower than the best so far.")
    return verdict


PARTS.append(Part("train_net", points=3, inputs=train_net_inputs, check=check_train_net, driver=drive_train_net,
                  helpers=(run_steps, softmax_regression, rounded_regression), needs=("train_net",), timeout=30,
                  description="the training loop: mini-batches, learning-rate decay, keeping the best parameters",
                  shares=(Share("the learning rates", 0.6, "the learning rate of each epoch, decayed once per epoch"),
                          Share("the history", 0.9, "the mean mini-batch loss, the validation loss and the "
                                                    "validation accuracy of each epoch, replayed"),
                          Share("the best parameters", 1.5, "those of the epoch with the lowest validation loss (the "
                                                            "earliest of a tie), unchanged by later updates"))))


# Written answers, graded by hand in formgrader (autograder/records/manual.py).
MANUAL_PARTS = {"written_batchnorm": 2, "written_dropout": 2}
