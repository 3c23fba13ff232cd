"""Trusted checks for A4: optimiser update rules, Xavier/He initialisers, dropout, early stopping.

Every part's points split into shares (the notebook states them), each judged so that one slip costs one share:

* the update rules (momentum, RMSProp, Adam, the notes' Adam) run for several steps, carrying the student's own
  config, and earn "the stored state" (the config after each step, compared with PyTorch's formulas written out
  below) and "the step" (the weights). The step is judged along the whole run, or else step by step from the
  state the student's function itself stored (moving from the state it was called with, advanced by the rule,
  or from the one it returned): a state slip (bias-corrected moments stored, CS231n's velocity, a state never
  stored) then costs only the state's share, and CS231n's velocity, whose weights are PyTorch's, keeps the step.
  Each coordinate's gradients have a scale of their own, down to below eps, with one coordinate pinned at
  sqrt(eps), where eps inside the square root changes the step by far more than the tolerance: that slip fails on
  every draw;
* random initialisers and dropout are judged by their statistics (standard deviations, kurtosis, the fraction
  dropped), which any correct way of sampling meets, at 5 sigma or 8 sigma; dropout's rescaling is judged
  against the student's own keep rate, so p read as the keep probability with its consistent 1/p costs only
  "which units are dropped";
* early stopping's stop epoch is judged against the student's own best epoch (and the best epoch against the
  student's own stop), and the training loop's stopping and kept parameters against its own validation losses;
* the tuned target trains with the student's HYPERPARAMS only, by the grader's own run (its Adam, dropout and loop),
  so that a slip elsewhere is not charged twice; the accuracy is measured on held-out digits of a fresh split.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import partial
from typing import Callable

import numpy as np

from autograder.checks import Feedback, Part, Share, passed_share

NOTEBOOK = "A4.ipynb"
PARTS = []      # in the notebook's order: each part is appended right after its check
OPT_TOL = 1e-9


# ------------------------------------------------------------------------------------------- update rules
STATE, STEP = "the stored state", "the step"


def _steps_inputs(rng, lr, eps=None, **hyper):
    """w0 and T gradients. Each coordinate's gradients have a scale of their own, from 1e2 down to a tenth of eps
    (1e-3 without eps), three of them pinned: sqrt(eps), where eps inside the square root changes the step by
    per cents or more, eps, where eps itself matters, and 1e2. w0 is on the scale of the steps (lr), so that a slip in
    a step is not hidden by the size of the weights."""
    shape = tuple(int(v) for v in rng.integers(2, 6, 2))
    scales = 10.0 ** rng.uniform(np.log10(eps) - 1 if eps else -3.0, 2.0, shape)
    scales.flat[:3] = (np.sqrt(eps), eps, 1e2) if eps else (1e-3, 1.0, 1e2)
    T = int(rng.integers(3, 9))
    return {"w0": lr * rng.standard_normal(shape), "grads": rng.standard_normal((T, *shape)) * scales, "lr": lr,
            **({"eps": eps} if eps else {}), **hyper}


def run_updates(update, w0, grads, config, keys, out, prefix=""):
    """Apply `update` once per gradient, carrying its config; collect under `prefix` the weights and the state
    config[key] (each of keys) after each step. A key the config lacks is not collected: the state's share is
    lost, the weights still come back."""
    w, ws, states = np.array(w0), [], {key: [] for key in keys}
    for g in grads:
        w, config = update(w, np.array(g), config)
        ws.append(np.array(w, dtype=np.float64))
        for key in keys:
            if key in config:       # copies: the next call may change the arrays in place
                states[key].append(np.array(config[key], dtype=np.float64))
    out[prefix + "ws"] = np.array(ws)
    for key in keys:
        out[prefix + "state/" + key] = np.array(states[key])


def run_rule(update, inp, config, keys, out):
    """The drawn run, then one step with the defaults (config None), each with its weights and state."""
    run_updates(update, inp["w0"], inp["grads"], config, keys, out)
    run_updates(update, inp["w0"], inp["grads"][:1], None, keys, out, "default/")


@dataclass(frozen=True)
class Rule:
    """An update rule as the grader replays it: ``advance(state, g, hp)`` is the stored state after gradient g,
    ``move(w, g, state, hp)`` the next weights from the state of this step; ``defaults`` the hyperparameters
    (named as the part's inputs name them) when config is None."""
    keys: tuple
    advance: Callable
    move: Callable
    defaults: dict


def _momentum_advance(state, g, hp):
    return {"velocity": hp["momentum"] * state["velocity"] + g}


def _momentum_move(w, g, state, hp):
    return w - hp["lr"] * state["velocity"]


def _rmsprop_advance(state, g, hp):
    return {"square_avg": hp["alpha"] * state["square_avg"] + (1 - hp["alpha"]) * g * g}


def _rmsprop_move(w, g, state, hp, eps_inside=False):
    s, eps = state["square_avg"], hp["eps"]
    return w - hp["lr"] * g / (np.sqrt(s + eps) if eps_inside else np.sqrt(s) + eps)


def _adam_advance(state, g, hp, folded=False):
    t = state["t"] + 1
    m = hp["beta1"] * state["m"] + (1 - hp["beta1"]) * g
    v = hp["beta2"] * state["v"] + (1 - hp["beta2"]) * g * g
    if folded:          # the notes' recursion: the corrected moments are the state
        m, v = m / (1 - hp["beta1"] ** t), v / (1 - hp["beta2"] ** t)
    return {"m": m, "v": v, "t": t}


def _adam_move(w, g, state, hp, corrected=True, power=None, eps_inside=False):
    t = state["t"] if power is None else power
    m, v = state["m"], state["v"]
    if corrected:
        m, v = m / (1 - hp["beta1"] ** t), v / (1 - hp["beta2"] ** t)
    return w - hp["lr"] * m / (np.sqrt(v + hp["eps"]) if eps_inside else np.sqrt(v) + hp["eps"])


MOMENTUM = Rule(("velocity",), _momentum_advance, _momentum_move, {"lr": 1e-2, "momentum": 0.9})
RMSPROP = Rule(("square_avg",), _rmsprop_advance, _rmsprop_move, {"lr": 1e-2, "alpha": 0.99, "eps": 1e-8})
ADAM = Rule(("m", "v", "t"), _adam_advance, _adam_move, {"lr": 1e-3, "beta1": 0.9, "beta2": 0.999, "eps": 1e-8})
NOTES = Rule(ADAM.keys, partial(_adam_advance, folded=True), partial(_adam_move, corrected=False), ADAM.defaults)


def _start(keys, shape):
    return {key: 0 if key == "t" else np.zeros(shape) for key in keys}


def _replay(rule, w0, grads, hp):
    """The weights and the stored state after each step: (T, ...) arrays."""
    w, state, ws, states = w0, _start(rule.keys, w0.shape), [], []
    for g in grads:
        state = rule.advance(state, g, hp)
        w = rule.move(w, g, state, hp)
        ws.append(w)
        states.append(state)
    return np.array(ws), {key: np.array([s[key] for s in states]) for key in rule.keys}


def _matches(out, key, expected):
    """Whether out[key] is ``expected`` by fb.close's rule at OPT_TOL, writing no line."""
    return Feedback(out).close(key, expected, tol=OPT_TOL)


def _from_own_state(rule, w0, grads, hp, out, prefix):
    """The weights the rule gives step by step from the student's own weights and stored state: moving from the
    state the function was called with, advanced by the rule, and from the state it returned. [] when the weights
    or the state did not come back whole."""
    ws, stored = out.get(prefix + "ws"), {key: out.get(prefix + "state/" + key) for key in rule.keys}
    if np.shape(ws) != np.shape(grads) or any(np.ndim(s) < 1 or len(s) != len(grads) for s in stored.values()):
        return []
    after = [{key: np.asarray(s[i], dtype=np.float64) for key, s in stored.items()} for i in range(len(grads))]
    before = [_start(rule.keys, w0.shape), *after[:-1]]
    weights = [w0, *np.asarray(ws, dtype=np.float64)[:-1]]
    try:
        with np.errstate(all="ignore"):         # a stored t of 0 divides by 1 - beta**0
            return [np.array([rule.move(w, g, rule.advance(s, g, hp), hp)
                              for w, g, s in zip(weights, grads, before, strict=True)]),
                    np.array([rule.move(w, g, s, hp) for w, g, s in zip(weights, grads, after, strict=True)])]
    except ValueError:                          # a stored state of another shape than w
        return []


def _judge_steps(rule, w0, grads, hp, out, fb, prefix, what, slips):
    """The weights of a run: right along the whole run, or else right step by step from the student's own state."""
    ws = _replay(rule, w0, grads, hp)[0]
    if _matches(out, prefix + "ws", ws):
        return fb.close(prefix + "ws", ws, tol=OPT_TOL, what=what)
    if any(_matches(out, prefix + "ws", own) for own in _from_own_state(rule, w0, grads, hp, out, prefix)):
        return fb.check(True, f"{what}: right for the state your function stored (the step is judged from that "
                              f"state, so a slip in the state costs only the state's share).", "")
    return fb.close(prefix + "ws", ws, tol=OPT_TOL, what=what, slips=[
        (code, words, _replay(slip, w0, grads, hp)[0]) for code, words, slip in slips])


def _judge_rule(rule, inp, out, fb, state_slips=None, step_slips=()):
    """The two shares of an update rule. ``state_slips``: {key: [(code, words, the states a slip stores)]};
    ``step_slips``: [(code, words, the rule with the slip)]."""
    hp = {key: inp[key] for key in rule.defaults}
    states = _replay(rule, inp["w0"], inp["grads"], hp)[1]
    ok_state = all([fb.close("state/" + key, states[key], tol=OPT_TOL, what=f'the stored config["{key}"] after each '
                             f'step', slips=(state_slips or {}).get(key)) for key in rule.keys])
    ok_step = _judge_steps(rule, inp["w0"], inp["grads"], hp, out, fb, "", "every step's next_w", step_slips)
    ok_step &= _judge_steps(rule, inp["w0"], inp["grads"][:1], rule.defaults, out, fb, "default/",
                            "one step with the defaults (config=None)", step_slips)
    return {STATE: ok_state, STEP: ok_step}


def _rule_part(name, points, state, step, **kwargs):
    return Part(name, points=points, shares=(Share(STATE, points / 2, state), Share(STEP, points / 2, step)),
                helpers=kwargs.pop("helpers", (run_updates, run_rule)), needs=(kwargs.pop("function", name),), **kwargs)


# -------------------------------------------------------------------------------------------- momentum
def momentum_inputs(rng):
    return _steps_inputs(rng, lr=float(10.0 ** rng.uniform(-3, -1)), momentum=float(rng.uniform(0.5, 0.99)))


def drive_momentum(ns, inp, out):
    run_rule(ns["sgd_momentum"], inp, {"lr": inp["lr"], "momentum": inp["momentum"]}, ("velocity",), out)


def check_momentum(inp, out, fb):
    v = _replay(MOMENTUM, inp["w0"], inp["grads"], {key: inp[key] for key in MOMENTUM.defaults})[1]["velocity"]
    words = ("Your velocity is CS231n's (the notes' form), lr times PyTorch's: v = mu v + lr dw with w - v, or "
             "v = mu v - lr dw with w + v. The weights are the same, but the state this part asks for is PyTorch's "
             "v = mu v + dw, with the step w - lr v.")
    return _judge_rule(MOMENTUM, inp, out, fb, state_slips={"velocity": [
        ("velocity_convention", words, inp["lr"] * v), ("velocity_convention", words, -inp["lr"] * v)]})


PARTS.append(_rule_part("momentum", 2, '`config["velocity"]` after each step: `v = momentum * v + dw` (PyTorch\'s '
                                       'convention)',
                        "`next_w = w - lr * v`, on gradients of every scale, judged from the velocity you store; the "
                        "defaults", function="sgd_momentum", inputs=momentum_inputs, check=check_momentum,
                        driver=drive_momentum, description="SGD with momentum (PyTorch's formulation)"))


# --------------------------------------------------------------------------------------------- RMSProp
def rmsprop_inputs(rng):
    return _steps_inputs(rng, lr=float(10.0 ** rng.uniform(-4, -1)), alpha=float(rng.uniform(0.8, 0.999)),
                         eps=float(10.0 ** rng.uniform(-8, -3)))


def drive_rmsprop(ns, inp, out):
    run_rule(ns["rmsprop"], inp, {"lr": inp["lr"], "alpha": inp["alpha"], "eps": inp["eps"]}, ("square_avg",), out)


EPS_INSIDE = ("Your eps is inside the square root: it is added after it, dw / (sqrt(s) + eps). The two differ "
              "where the gradients are small, near sqrt(eps).")


def check_rmsprop(inp, out, fb):
    return _judge_rule(RMSPROP, inp, out, fb, step_slips=[
        ("eps_inside", EPS_INSIDE, replace(RMSPROP, move=partial(_rmsprop_move, eps_inside=True)))])


PARTS.append(_rule_part("rmsprop", 2, '`config["square_avg"]` after each step: `alpha * s + (1 - alpha) * dw**2`',
                        "`next_w = w - lr * dw / (sqrt(s) + eps)`, eps outside the root, on gradients of every scale "
                        "down to below eps; the defaults", inputs=rmsprop_inputs, check=check_rmsprop,
                        driver=drive_rmsprop, description="RMSProp"))


# ------------------------------------------------------------------------------------------------ Adam
def adam_inputs(rng):
    return _steps_inputs(rng, lr=float(10.0 ** rng.uniform(-4, -1)), beta1=float(rng.uniform(0.5, 0.95)),
                         beta2=float(rng.uniform(0.9, 0.9999)), eps=float(10.0 ** rng.uniform(-8, -4)))


def drive_adam(ns, inp, out):
    config = {"lr": inp["lr"], "betas": (inp["beta1"], inp["beta2"]), "eps": inp["eps"]}
    run_rule(ns["adam"], inp, config, ("m", "v", "t"), out)


def _adam_nan_note(out, fb):
    """Words for a NaN or inf in Adam's weights: at the first step it is t = 0 in the bias correction."""
    ws = out.get("ws")
    if ws is None or np.size(ws) == 0 or np.all(np.isfinite(ws)):
        return
    if not np.all(np.isfinite(np.asarray(ws)[0])):
        fb.note("Your first step gives NaN or inf: t is used before it is incremented, and 1 - beta**t is 0 while t "
                "is 0. Increment t first (it counts the steps from 1), then correct with the new t.", code="t_order")
    else:
        fb.note("NaN or inf in Adam's weights: look for a bias correction 1 - beta**t that is 0, or a division by "
                "sqrt(v_hat) without eps.")


def check_adam(inp, out, fb):
    hp = {key: inp[key] for key in ADAM.defaults}
    notes = _replay(NOTES, inp["w0"], inp["grads"], hp)[1]
    stored = ('Your config["{}"] holds the bias-corrected copy: store the raw moment, and correct a copy for the step '
              'only. Stored corrected moments are corrected again at the next step (the notes\' slip).')
    verdict = _judge_rule(ADAM, inp, out, fb, state_slips={
        key: [("corrected_stored", stored.format(key), notes[key])] for key in ("m", "v")}, step_slips=[
        ("no_bias_correction", "Your step has no bias correction: divide copies of m and v by 1 - beta1**t and "
                               "1 - beta2**t.", replace(ADAM, move=partial(_adam_move, corrected=False))),
        ("eps_inside", EPS_INSIDE.replace("(s)", "(v_hat)"), replace(ADAM, move=partial(_adam_move, eps_inside=True))),
        ("beta_power", "Your bias correction uses beta**2 at every step: the power is the step count t "
                       "(1 - beta1**t, 1 - beta2**t).", replace(ADAM, move=partial(_adam_move, power=2)))])
    _adam_nan_note(out, fb)
    return verdict


PARTS.append(_rule_part("adam", 3, "the raw `m` and `v` and the step count `t` in config after each step",
                        "`next_w` from bias-corrected copies `m_hat`, `v_hat` (`t` counted from 1), eps outside the "
                        "root, on gradients of every scale down to below eps; the defaults", inputs=adam_inputs,
                        check=check_adam, driver=drive_adam,
                        description="Adam with bias-corrected copies of raw moments"))


# ------------------------------------------------------------------------------------------------ init
INIT_SHARES = (Share("Xavier's standard deviation", 0.5, "`xavier_normal`'s: `sqrt(2 / (fan_in + fan_out))`"),
               Share("He's standard deviation", 0.5, "`he_normal`'s: `sqrt(2 / fan_in)`"),
               Share("shape and distribution", 0.5, "`(fan_in, fan_out)` arrays of zero-mean normal samples, large "
                                                   "and small"),
               Share("the generator", 0.5, "both draw from the generator given, and only from it"))
XAVIER, HE, DISTRIBUTION, GENERATOR = (s.name for s in INIT_SHARES)


def init_inputs(rng):
    # fan_in and fan_out at least a factor 2.5 apart, in either order, so that the classic mix-ups
    # (1/fan_in for Xavier, fan_out for He, 2/fan_in for Xavier) differ by far more than the tolerance
    small, large = int(rng.integers(150, 240)), int(rng.integers(600, 900))
    fan_in, fan_out = (small, large) if rng.random() < 0.5 else (large, small)
    return {"fan_in": fan_in, "fan_out": fan_out,
            "seed": int(rng.integers(0, 2**31)), "small_in": int(rng.integers(2, 9)), "small_out": int(rng.integers(2, 9))}


def drive_init(ns, inp, out):
    # A function that raises costs only its own values: the other still runs (the first error is reported).
    errors = []
    for name in ("xavier_normal", "he_normal"):
        fn = ns[name]
        try:
            out[name] = fn(inp["fan_in"], inp["fan_out"], np.random.default_rng(inp["seed"]))
            out[name + "_again"] = fn(inp["fan_in"], inp["fan_out"], np.random.default_rng(inp["seed"]))
            out[name + "_other_seed"] = fn(inp["fan_in"], inp["fan_out"], np.random.default_rng(inp["seed"] + 1))
            out[name + "_small"] = fn(inp["small_in"], inp["small_out"], np.random.default_rng(inp["seed"]))
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def _judge_std(out, fb, name, std, size, rule):
    """The standard deviation of ``name``'s weights, on any array of the right size (the shape is another share).
    Over 90 000 samples or more, 2 % is 8 sigma of the estimate, and each classic mix-up is 8 % off or more."""
    W = out.get(name)
    if W is None or np.size(W) != size:
        return fb.check(False, "", f"{name} returned no array of fan_in * fan_out weights: its standard deviation "
                                   f"could not be judged.")
    got = float(np.std(np.asarray(W, dtype=np.float64)))
    return fb.check(abs(got / std - 1) < 0.02, f"{name}: the standard deviation is {rule}.",
                    f"{name}: the standard deviation of your weights ({got:.4g}) is not {rule} (it is more than 2 % "
                    f"off). The rule gives the variance; the standard deviation is its square root.")


def _judge_samples(out, fb, name, shape, small_shape):
    W = out.get(name)
    if not fb.check(np.shape(W) == shape, "", f"{name} should return an array of shape (fan_in, fan_out), got "
                                              f"{'nothing' if W is None else f'shape {np.shape(W)}'}."):
        return False
    W = np.asarray(W, dtype=np.float64)
    z = (W - W.mean()) / W.std()
    kurtosis = float(np.mean(z ** 4))        # 3 for a normal; its estimate's sigma is below 0.02 here
    ok = fb.check(abs(W.mean()) < 5 * W.std() / np.sqrt(W.size), "", f"{name}: the mean is not about 0.")
    ok &= fb.check(abs(kurtosis - 3) < 0.15, "", f"{name}: the values do not look normal (kurtosis {kurtosis:.2f}, a "
                                                 f"normal has 3): draw them with rng.standard_normal or rng.normal.")
    return ok & fb.check(np.shape(out.get(name + "_small")) == small_shape, f"{name}: normal samples, any shape.",
                         f"{name}: wrong shape for a small (fan_in, fan_out).")


def _judge_generator(out, fb, name):
    W, again, other = (out.get(name + tag) for tag in ("", "_again", "_other_seed"))
    ok = fb.check(W is not None and again is not None and np.array_equal(again, W), "",
                  f"{name}: the same generator state gave different weights: draw only from the generator you are "
                  f"given (not np.random).")
    return ok & fb.check(W is not None and other is not None and not np.array_equal(other, W),
                         f"{name} draws from the generator it is given.",
                         f"{name}: another generator gave the same weights: draw from the generator you are given.")


def check_init(inp, out, fb):
    fi, fo = inp["fan_in"], inp["fan_out"]
    small = (inp["small_in"], inp["small_out"])
    return {XAVIER: _judge_std(out, fb, "xavier_normal", np.sqrt(2.0 / (fi + fo)), fi * fo, "sqrt(2 / (fan_in + fan_out))"),
            HE: _judge_std(out, fb, "he_normal", np.sqrt(2.0 / fi), fi * fo, "sqrt(2 / fan_in)"),
            DISTRIBUTION: all([_judge_samples(out, fb, name, (fi, fo), small) for name in ("xavier_normal", "he_normal")]),
            GENERATOR: all([_judge_generator(out, fb, name) for name in ("xavier_normal", "he_normal")])}


PARTS.append(Part("init", points=2, inputs=init_inputs, check=check_init, driver=drive_init, shares=INIT_SHARES,
                  needs=("xavier_normal", "he_normal"), description="Xavier and He normal initialisation"))


# --------------------------------------------------------------------------------------------- dropout
# The same first three shares as A2's dropout: the same slip costs the same in both assignments.
DROPOUT_SHARES = (Share("which units are dropped", 0.5, "each unit dropped with probability p (p is the drop "
                                                         "probability): the fraction dropped near p"),
                  Share("the rescaling", 0.5, "kept units times `1 / (1 - p)`, in `out` and in the mask"),
                  Share("evaluation mode", 0.5, "`x` unchanged and a mask of ones"),
                  Share("the generator and any shape", 0.5, "the mask drawn from `rng`; p = 0 keeps everything; "
                                                             "an input of any shape (1-D, 3-D)"))
DROPPED, RESCALED, EVAL, ANY = (s.name for s in DROPOUT_SHARES)


def dropout_inputs(rng):
    # p at least 0.1 away from 0.5, so that p and 1 - p (p read as the keep probability) are dozens of sigma apart
    p = float(rng.uniform(0.1, 0.4)) if rng.random() < 0.5 else float(rng.uniform(0.6, 0.8))
    return {"x": rng.standard_normal((int(rng.integers(200, 400)), int(rng.integers(100, 200)))), "p": p,
            "x3": rng.standard_normal(tuple(int(v) for v in rng.integers(3, 9, 3))),
            "x1": rng.standard_normal(int(rng.integers(200, 400))), "seed": int(rng.integers(0, 2**31))}


def drive_dropout(ns, inp, out):
    # One call per behaviour; a call that raises costs only its own values (the first error is reported).
    x, p, seed, errors = inp["x"], inp["p"], inp["seed"], []
    calls = {"": (x, p, True, seed), "again/": (x, p, True, seed), "other/": (x, p, True, seed + 1),
             "eval/": (x, p, False, seed), "p0/": (x, 0.0, True, seed), "3d/": (inp["x3"], p, True, seed),
             "1d/": (inp["x1"], p, True, seed)}
    for tag, (x_, p_, training, seed_) in calls.items():
        try:
            out[tag + "out"], out[tag + "mask"] = ns["dropout"](np.array(x_), p_, training, np.random.default_rng(seed_))
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]


def _shaped(out, key, shape):
    value = out.get(key)
    return np.asarray(value, dtype=np.float64) if value is not None and np.shape(value) == shape else None


def _judge_any_shape(inp, out, fb, tag):
    """Out and mask shaped like a 1-D or 3-D x, out == x * mask, the mask 0 or one kept value: judged against
    nothing else, so that a slip in p or in the rescaling costs nothing here."""
    x = inp["x" + tag[0]]
    result, mask = _shaped(out, tag + "/out", x.shape), _shaped(out, tag + "/mask", x.shape)
    ok = result is not None and mask is not None and np.all(np.isfinite(mask))
    if ok:
        kept = mask[mask != 0]
        ok = (kept.size == 0 or np.allclose(kept, kept[0], rtol=1e-12, atol=0)) and np.allclose(
            result, x * mask, rtol=1e-12, atol=0)
    return fb.check(ok, "", f"Your dropout does not work on a {tag[0]}-D x (it should return out and mask shaped "
                            f"like x, out == x * mask): it must work on input of any shape. Draw the mask with "
                            f"rng.random(x.shape), and do not unpack N, D = x.shape.", code="any_shape")


def check_dropout(inp, out, fb):
    x, p = inp["x"], inp["p"]
    result, mask, keep_prob = _shaped(out, "out", x.shape), _shaped(out, "mask", x.shape), False
    verdict = {EVAL: fb.close("eval/out", x, tol=0.0, what="evaluation mode's out (x itself)", slips=[
        ("eval_scaled", "Your evaluation mode scales x: with inverted dropout the rescaling happens in training, and "
                        "evaluation mode does nothing.", x * (1 - p))])
               & fb.close("eval/mask", np.ones_like(x), tol=0.0, what="evaluation mode's mask (all ones)")}
    if fb.check(result is not None and mask is not None, "", "Training mode should return (out, mask), both shaped "
                                                             "like x."):
        dropped, sigma = float(np.mean(mask == 0)), np.sqrt(p * (1 - p) / x.size)
        keep_prob = abs(dropped - (1 - p)) < 5 * sigma          # about 1 - p dropped: p read as the keep probability
        verdict[DROPPED] = fb.check(abs(dropped - p) < 5 * sigma, "The fraction of units dropped is about p.",
                                    "About 1 - p of the units are dropped: p is the probability of DROPPING a unit "
                                    "(PyTorch's nn.Dropout(p)), so keep each with probability 1 - p." if keep_prob else
                                    "The fraction of units dropped is not about p: drop each unit with probability p.",
                                    code="keep_prob" if keep_prob else None)
        # the rescaling, against the student's own keep rate: 1 / p where p was read as the keep probability
        want = np.where(mask == 0, 0.0, 1 / (p if keep_prob else 1 - p))
        kept = (mask != 0).astype(float)
        verdict[RESCALED] = all([
            fb.close("mask", want, tol=1e-12, what="the mask (0 for a dropped unit, 1 / keep probability for a kept "
                                                   "one)", slips=[("no_rescale", "Your mask is 0 or 1: a kept unit is "
                                                                   "divided by the keep probability 1 - p.", kept)]),
            fb.close("out", x * want, tol=1e-12, what="out (x times the mask)", slips=[
                ("no_rescale", "Your kept units are not rescaled: divide them by 1 - p (inverted dropout), so that "
                               "the expected output is x.", x * kept)])])
        same = np.array_equal(out.get("again/mask"), mask)
        other = _shaped(out, "other/mask", x.shape)
        generator = fb.check(same and other is not None and not np.array_equal(other, mask),
                             "The mask comes from rng.", "The mask must come from rng, and only from it: the same "
                                                         "generator state must give the same mask, and another "
                                                         "state another mask.")
    else:
        verdict[DROPPED] = verdict[RESCALED] = generator = False
    if keep_prob:       # read as a keep probability, p = 0 keeps nothing: the slip has cost its share already
        fb.note("The case p = 0 is not judged: your dropout reads p as the keep probability, so it keeps nothing "
                "there; that slip costs the share of which units are dropped, and only that one.")
        p0 = True
    else:
        p0 = fb.close("p0/out", x, tol=1e-15, what="out at p = 0 (every unit kept, x unchanged)")
        if out.get("p0/out") is not None and not np.all(np.isfinite(out["p0/out"])):
            fb.note("At p = 0 nothing is dropped and the kept units are divided by 1 - p = 1. A NaN there comes from "
                    "a division by p (0/0 when every unit is dropped), or from 1 / (1 - p) computed as something "
                    "else.")
    verdict[ANY] = generator and p0 and all([_judge_any_shape(inp, out, fb, tag) for tag in ("3d", "1d")])
    return verdict


PARTS.append(Part("dropout", points=2, inputs=dropout_inputs, check=check_dropout, driver=drive_dropout,
                  needs=("dropout",), shares=DROPOUT_SHARES, description="inverted dropout with a train/eval switch"))


# -------------------------------------------------------------------------------------- early stopping
STOP_EPOCH, BEST_EPOCH = "the stop epoch", "the best epoch"


def reference_early_stopping(losses, patience, min_delta, tie_improves=False):
    """(stop_epoch, best_epoch); ``tie_improves``: the slip that counts an equal loss as an improvement."""
    best, best_epoch = np.inf, -1
    for epoch, loss in enumerate(losses):
        if loss < best - min_delta or tie_improves and loss <= best - min_delta:
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
    losses[2] = 1.0 - 0.004 * np.minimum(np.arange(T), 5)          # steps below min_delta, then flat
    min_delta = rng.choice([0.0, 0.0, 0.01, 0.05], K)
    min_delta[1] = 0.0              # a tie is not an improvement: `loss <= best` never stops on the flat curve
    min_delta[2] = 0.01             # improves at epoch 3 only (0.012 below epoch 0), where `loss < best` says 5
    return {"losses": losses, "patience": rng.integers(1, 7, K), "min_delta": min_delta, "single": np.array([0.3])}


def drive_early_stopping(ns, inp, out):
    fn, results = ns["early_stopping"], []
    for losses, patience, min_delta in zip(inp["losses"], inp["patience"], inp["min_delta"], strict=True):
        results.append(fn([float(v) for v in losses], patience=int(patience), min_delta=float(min_delta)))
    out["results"] = np.array(results, dtype=np.int64)
    out["single"] = np.array(fn([float(inp["single"][0])], patience=3), dtype=np.int64)


def _last_improving(losses, stop, min_delta, tie_improves=False):
    """The best epoch by the rule among epochs 0..stop (the student's own stop), or None for an impossible stop."""
    if not 0 <= stop < len(losses):
        return None
    return reference_early_stopping(losses[:stop + 1], np.inf, min_delta, tie_improves)[1]


def check_early_stopping(inp, out, fb):
    """The stop epoch is right if it is the rule's, or if it is patience epochs after the student's own best epoch
    (or the last epoch): a slip in what counts as an improvement costs the best epoch's share only. The best
    epoch is judged among the epochs up to the student's own stop: stopping late costs the stop's share only."""
    curves = [(list(l), int(p), float(d)) for l, p, d in zip(inp["losses"], inp["patience"], inp["min_delta"],
                                                             strict=True)]
    got, single = out.get("results"), out.get("single")
    if not fb.check(np.shape(got) == (len(curves), 2) and np.shape(single) == (2,), "",
                    "early_stopping should return a pair (stop_epoch, best_epoch) for every curve."):
        return False
    stops, bests, late = [], [], []
    for (losses, patience, min_delta), (stop, best) in zip(curves, np.asarray(got).tolist(), strict=True):
        own = min(best + patience, len(losses) - 1) if 0 <= best < len(losses) else None
        stops.append(stop in (reference_early_stopping(losses, patience, min_delta)[0], own))
        late.append(None if own is None else stop - own)
        bests.append(best == _last_improving(losses, stop, min_delta))
    ok_stop = fb.check(all(stops) and single[0] == 0, "The stop epoch is right on every curve.",
                       f"The stop epoch is wrong on {stops.count(False) + (single[0] != 0)} of {len(curves) + 1} "
                       f"curves: training stops at the first epoch that comes patience epochs after the best one "
                       f"(epoch - best_epoch >= patience), or at the last epoch.")
    off = {d for d, ok in zip(late, stops, strict=True) if not ok}
    if off in ({1}, {-1}):
        fb.note(f"Your rule stops one epoch {'late: stop when epoch - best_epoch >= patience' if off == {1} else 'early'}"
                f".", code="stop_off_by_one")
    ok_best = fb.check(all(bests) and single[1] == 0, "The best epoch is right on every curve.",
                       f"The best epoch is wrong on {bests.count(False) + (single[1] != 0)} of {len(curves) + 1} "
                       f"curves: an epoch improves when its loss is below the best so far by more than min_delta.")
    if not all(bests):
        for code, words, variant in (("tie_improves", "Your rule counts a tie as an improvement (loss <= best - "
                                                      "min_delta): an improvement is strictly below.", True),
                                     ("no_min_delta", "Your rule ignores min_delta.", False)):
            if all(best == _last_improving(losses, stop, 0.0 if code == "no_min_delta" else min_delta, variant)
                   for (losses, _, min_delta), (stop, best) in zip(curves, np.asarray(got).tolist(), strict=True)):
                fb.note(words, code=code)
                break
    return {STOP_EPOCH: ok_stop, BEST_EPOCH: ok_best}


PARTS.append(Part("early_stopping", points=2, inputs=early_stopping_inputs, check=check_early_stopping,
                  driver=drive_early_stopping, needs=("early_stopping",), description="early stopping rule",
                  shares=(Share(STOP_EPOCH, 1, "patience epochs after the best one, or the last epoch, on twelve "
                                               "curves and a single epoch"),
                          Share(BEST_EPOCH, 1, "the last epoch below the best so far by more than `min_delta` (a tie "
                                               "is not an improvement)"))))


# ------------------------------------------------------------------------------- Adam, the notes' form
def drive_adam_notes(ns, inp, out):
    drive_adam({"adam": ns["adam_notes"]}, inp, out)      # the same calls as for adam, on the notes' version


def check_adam_notes(inp, out, fb):
    raw = _replay(ADAM, inp["w0"], inp["grads"], {key: inp[key] for key in ADAM.defaults})[1]
    words = ('Your config["{}"] holds the raw moment of standard Adam: the notes\' version stores the divided moment '
             '(beta m + (1 - beta) g) / (1 - beta**t), which the next step divides again.')
    verdict = _judge_rule(NOTES, inp, out, fb, state_slips={
        key: [("raw_stored", words.format(key), raw[key])] for key in ("m", "v")}, step_slips=[
        ("eps_inside", EPS_INSIDE.replace("(s)", "(v)"), replace(NOTES, move=partial(_adam_move, corrected=False,
                                                                                 eps_inside=True)))])
    if not verdict[STATE]:
        fb.note("Both moments are divided by their own 1 - beta^t, and the divided values are what is stored "
                "and fed into the next step.")
    _adam_nan_note(out, fb)
    return verdict


PARTS.append(_rule_part("adam_notes", 2, "`m` and `v` divided by their `1 - beta**t` at every step, and `t`, in "
                                         "config",
                        "`next_w = w - lr * m / (sqrt(v) + eps)` from the stored `m` and `v`; the defaults",
                        inputs=adam_inputs, check=check_adam_notes, driver=drive_adam_notes,
                        helpers=(run_updates, run_rule, drive_adam),
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


STATISTICS_SHARES = (Share("the activations' statistics", 1, "the mean and std of each `h_l`, after the "
                                                                 "nonlinearity: a third per activation"),
                     Share("the gradients' statistics", 1, "the std of `dLoss/dh_l` at each layer's output: a "
                                                           "third per activation"))


def check_statistics(inp, out, fb):
    """Forward and backward statistics are shares of their own, each a third per activation: a slip in one
    activation's slope costs a third of the gradients' share."""
    weights = [inp[f"W{l}"] for l in range(int(inp["depth"]))]
    forward, backward = [], []
    for name in ACTIVATIONS:
        expected = reference_statistics(inp["X"], weights, name, inp["dout"])
        forward.append(all([fb.close(f"{name}/act_{stat}", expected[f"act_{stat}"],
                                     what=f"{name}: the {stat} of each layer's activations") for stat in ("mean", "std")]))
        backward.append(fb.close(f"{name}/grad_std", expected["grad_std"],
                                 what=f"{name}: the std of dLoss/dh_l, the gradient at each layer's output"))
    if not all(forward):
        fb.note("Statistics are of the activations h_l = f(h_(l-1) W), after the nonlinearity.")
    if not all(backward):
        fb.note("The gradients are with respect to the outputs h_l, recorded before going back through f; each "
                "slope is written in terms of the layer's output h (for tanh, 1 - h**2).")
    return dict(zip((s.name for s in STATISTICS_SHARES), (passed_share(forward), passed_share(backward)), strict=True))


PARTS.append(Part("layer_statistics", points=2, inputs=statistics_inputs, check=check_statistics,
                  driver=drive_statistics, needs=("layer_statistics",), shares=STATISTICS_SHARES,
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


def _fit_problem(rng):
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


def fit_inputs(rng):
    """A problem on which the long run ends by early stopping, after the short run's last epoch: so that keeping
    the last parameters, or running on, shows (about one draw in 30 is drawn again)."""
    for _ in range(50):
        inp = _fit_problem(rng)
        _, _, val_loss, best_epoch = reference_fit(inp, inp["long"])
        if best_epoch >= inp["short"] and len(val_loss) < inp["long"]:
            return inp
    raise RuntimeError("no problem on which early stopping fires in 50 draws")


def drive_fit(ns, inp, out):
    data = tuple(np.array(inp[k]) for k in ("X", "y", "X_val", "y_val"))
    for run in ("long", "short"):          # long: early stopping fires; short: the epoch limit comes first
        params = {"W": np.array(inp["W"]), "b": np.array(inp["b"])}
        best, history, best_epoch = ns["fit_early_stopping"](
            params, softmax_regression_loss, sgd_in_place, {"lr": inp["lr"]}, data, int(inp[run]),
            int(inp["batch_size"]), int(inp["patience"]), np.random.default_rng(int(inp["seed"])))
        out[f"{run}/W"], out[f"{run}/b"], out[f"{run}/best_epoch"] = best["W"], best["b"], best_epoch
        out[f"{run}/shared"] = any(isinstance(best[k], np.ndarray) and np.shares_memory(best[k], params[k])
                                   for k in ("W", "b"))
        out[f"{run}/train_loss"], out[f"{run}/val_loss"] = history["train_loss"], history["val_loss"]


def reference_fit(inp, epochs, stop=True):
    """Trusted training run: the same batches, losses and stopping rule (early_stopping's, min_delta 0); with
    stop=False, all the epochs (the losses of a run that ran that long)."""
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
        elif stop and epoch - best_epoch >= inp["patience"]:
            break
    return best, train_loss, val_loss, best_epoch


FIT_SHARES = (Share("the training", 1, "the mean training loss and the validation loss of every epoch run, "
                                      "replayed batch by batch"),
              Share("the stopping", 1, "the best epoch, and stopping patience epochs after it (or at the epoch "
                                       "limit), by your own validation losses"),
              Share("the best parameters", 1, "copies of the parameters after the best epoch: their validation "
                                              "loss is the one your history records there"))
TRAINING, STOPPING, BEST = (s.name for s in FIT_SHARES)


def _history(out, run, epochs):
    """The run's (train_loss, val_loss) as float arrays, or None unless both came back, 1 to `epochs` long."""
    train, val = out.get(f"{run}/train_loss"), out.get(f"{run}/val_loss")
    if np.ndim(train) != 1 or np.shape(train) != np.shape(val) or not 1 <= len(val) <= epochs:
        return None
    return np.asarray(train, dtype=np.float64), np.asarray(val, dtype=np.float64)


def _judge_run(inp, out, fb, run, words):
    """The three shares on one run, each against what the student's own run did: the losses of the epochs it ran,
    its stopping by its own validation losses, its parameters by the validation loss it recorded."""
    epochs, patience = int(inp[run]), int(inp["patience"])
    history = _history(out, run, epochs)
    if not fb.check(history is not None, "", f"{words}: the history should hold two lists of losses, "
                                             f"train_loss and val_loss, one entry per epoch run."):
        return {TRAINING: False, STOPPING: False, BEST: False}
    _, val = history
    _, ref_train, ref_val, _ = reference_fit(inp, len(val), stop=False)
    training = all([fb.close(f"{run}/val_loss", ref_val, what=f"{words}: the validation loss of each epoch"),
                    fb.close(f"{run}/train_loss", ref_train, what=f"{words}: the mean training loss of each epoch")])
    stop, best = reference_early_stopping(val, patience, 0.0)
    ran = stop + 1 if stop - best >= patience else epochs          # the rule fired at `stop`, or never did
    stopping = fb.check(len(val) == ran, f"{words}: it stops where the rule says, by your validation losses.",
                        f"{words}: it ran {len(val)} epochs; by your own validation losses it should have run {ran} "
                        f"(stop patience epochs after the best one, when epoch - best_epoch >= patience).")
    stopping &= fb.equal(f"{run}/best_epoch", best, what=f"{words}: the best epoch (by your validation losses)")
    own_best = out.get(f"{run}/best_epoch")
    W, b = out.get(f"{run}/W"), out.get(f"{run}/b")
    if not fb.check(own_best is not None and np.shape(own_best) == () and np.isfinite(own_best)
                    and 0 <= int(own_best) < len(val)
                    and np.shape(W) == inp["W"].shape and np.shape(b) == inp["b"].shape, "",
                    f"{words}: the parameters kept could not be judged: a best epoch among the epochs run and W and b "
                    f"of their initial shapes are needed."):
        return {TRAINING: training, STOPPING: stopping, BEST: False}
    out[f"{run}/best_val"] = softmax_regression_loss({"W": np.asarray(W, dtype=np.float64),
                                                      "b": np.asarray(b, dtype=np.float64)}, inp["X_val"], inp["y_val"])[0]
    kept = fb.close(f"{run}/best_val", val[int(own_best)], what=f"{words}: the validation loss of the returned W and "
                                                               f"b, against your history's at your best epoch")
    return {TRAINING: training, STOPPING: stopping, BEST: kept}


def check_fit(inp, out, fb):
    runs = [_judge_run(inp, out, fb, run, words)
            for run, words in (("long", "a run that early stopping ends"), ("short", "a run of at most 3 epochs"))]
    if not all(r[BEST] for r in runs) and any(out.get(f"{run}/shared") for run in ("long", "short")):
        fb.note("The parameters you return share their arrays with the params that training went on updating (in "
                "place): what you kept changed afterwards. Copy the arrays when you keep them.",
                code="best_by_reference")
    elif not all(r[BEST] for r in runs):
        fb.note("Return copies of the parameters as they were after the best epoch, not the last epoch's.")
    return {share: all(r[share] for r in runs) for share in (TRAINING, STOPPING, BEST)}


PARTS.append(Part("fit_early_stopping", points=3, inputs=fit_inputs, check=check_fit, driver=drive_fit,
                  helpers=(softmax_regression_loss, sgd_in_place), needs=("fit_early_stopping",), shares=FIT_SHARES,
                  description="a training loop with early stopping that keeps the best parameters"))


# ---------------------------------------------------------------------- a target that needs tuning
# The jittered digits (deepgrad.data.load_jittered_digits): each digit twice, moved by up to a pixel each way, with
# pixel noise. Within the capped budget of TUNING_EPOCHS epochs, Part 11's settings (Adam at lr 1e-3, no dropout,
# no penalty, patience 5), which reach about 0.97 on the plain digits, stay near 0.75 on every split measured, and
# settings a small search on the validation split finds reach about 0.86 (tests/test_shares_a4.py pins both). Judged
# on six copies of each held-out digit, 30 splits gave 0.757 +- 0.012 (at most 0.779) and 0.860 +- 0.014 (at least
# 0.824): the bar sits at 3.5 sd or more from both (at 0.82, one right, tuned run in 100 fell short).
TUNING_DATA = {"copies": 2, "shift": 1, "noise": 0.1}
TUNING_EPOCHS, TUNING_BATCH, TUNING_BAR = 15, 64, 0.81
TUNING_TEST_COPIES = 6  # the held-out digits are judged on six fresh jittered copies each: a steadier verdict
TUNING_SIZES = {"test": 600, "val": 300}        # digits; the other 897 train (the notebook trains on 897 too)
TUNING_DOMAIN = {"lr": (1e-5, 1.0), "p_drop": (0.0, 0.9), "reg": (0.0, 1.0), "patience": (1, TUNING_EPOCHS)}


def tuning_inputs(rng):
    """A fresh jittered set and a fresh split by digit (both copies of a digit on one side) for every student: the
    run trains on the training digits and stops early by the validation digits' loss; its test predictions are
    judged against labels that stay with the grader (held out). Standardised by the training rows."""
    from deepgrad.data import load_jittered_digits, standardize
    seed = int(rng.integers(0, 2**62))
    X, y = load_jittered_digits(**TUNING_DATA, seed=seed)
    X_more, y_more = load_jittered_digits(**{**TUNING_DATA, "copies": TUNING_TEST_COPIES}, seed=seed + 1)
    copies, digits = TUNING_DATA["copies"], rng.permutation(len(y) // TUNING_DATA["copies"])

    def rows(d, k=copies):  # every copy of the digits d
        return (k * d[:, None] + np.arange(k)).ravel()

    n_test, n_val = TUNING_SIZES["test"], TUNING_SIZES["val"]
    test, val, train = (rows(digits[:n_test], TUNING_TEST_COPIES), rows(digits[n_test:n_test + n_val]),
                        rows(digits[n_test + n_val:]))
    X_train, X_val, X_test = standardize(X[train], X[val], X_more[test])[:3]
    return {"X_train": X_train, "y_train": y[train], "X_val": X_val, "y_val": y[val], "X_test": X_test,
            "y_test": y_more[test], "seed": int(rng.integers(0, 2**31)), "epochs": TUNING_EPOCHS,
            "batch_size": TUNING_BATCH, "low": np.array([lo for lo, _ in TUNING_DOMAIN.values()], dtype=float),
            "high": np.array([hi for _, hi in TUNING_DOMAIN.values()], dtype=float)}


def tuning_loss(params, X, y, hp, rng, training):
    """The loss of the network of the tuned part, list ``params`` = [W1, b1, W2, b2, W3, b3] (W of shape
    (D_in, D_out)), on X (N, 64) with labels y (N,). In training: inverted dropout after each hidden ReLU (masks
    drawn from rng) and the penalty hp["reg"] * sum(W**2); returns (loss, grads), grads a list like params. In
    evaluation: (the plain cross-entropy, None). Trusted; shipped to the sandbox."""
    h, keep = X, []
    for i in (0, 2):
        h = np.maximum(h @ params[i] + params[i + 1], 0.0)
        mask = (rng.random(h.shape) >= hp["p_drop"]) / (1 - hp["p_drop"]) if training else np.ones_like(h)
        keep.append((h, mask))
        h = h * mask
    scores = h @ params[4] + params[5]
    scores = scores - scores.max(axis=1, keepdims=True)
    probs = np.exp(scores)
    probs /= probs.sum(axis=1, keepdims=True)
    loss = -np.mean(np.log(probs[np.arange(len(y)), y]))
    if not training:
        return loss, None
    loss += hp["reg"] * sum(np.sum(params[i] ** 2) for i in (0, 2, 4))
    d = probs
    d[np.arange(len(y)), y] -= 1
    d /= len(y)
    grads, inputs = [None] * 6, [X, keep[0][0] * keep[0][1], keep[1][0] * keep[1][1]]
    for i in (4, 2, 0):
        grads[i], grads[i + 1] = inputs[i // 2].T @ d + 2 * hp["reg"] * params[i], d.sum(axis=0)
        if i:
            h, mask = keep[i // 2 - 1]
            d = (d @ params[i].T) * mask * (h > 0)
    return loss, grads


def tuning_run(hp, X_train, y_train, X_val, y_val, seed, epochs, batch_size):
    """The grader's own training run (trusted; shipped to the sandbox), so that a slip in another part costs
    nothing here: Linear(64, 64)-ReLU-dropout-Linear(64, 64)-ReLU-dropout-Linear(64, 10) (tuning_loss), He
    initialisation, PyTorch's Adam, and early stopping on the validation loss (plain cross-entropy, evaluation
    mode) that keeps the best epoch's parameters, which it returns."""
    rng = np.random.default_rng(seed)
    sizes, params = (X_train.shape[1], 64, 64, 10), []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:], strict=True):
        params += [rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in), np.zeros(fan_out)]
    m, v = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params]
    best, best_loss, best_epoch, t = None, np.inf, -1, 0
    for epoch in range(epochs):
        order = rng.permutation(len(y_train))
        for start in range(0, len(y_train), batch_size):
            batch = order[start:start + batch_size]
            grads, t = tuning_loss(params, X_train[batch], y_train[batch], hp, rng, True)[1], t + 1
            for i, g in enumerate(grads):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                params[i] = params[i] - hp["lr"] * (m[i] / (1 - 0.9 ** t)) / (np.sqrt(v[i] / (1 - 0.999 ** t)) + 1e-8)
        val_loss = tuning_loss(params, X_val, y_val, hp, rng, False)[0]
        if val_loss < best_loss:
            best, best_loss, best_epoch = [p.copy() for p in params], val_loss, epoch
        elif epoch - best_epoch >= hp["patience"]:
            break
    return best


def tuning_predict(params, X):
    h = X
    for i in (0, 2):
        h = np.maximum(h @ params[i] + params[i + 1], 0.0)
    return (h @ params[4] + params[5]).argmax(axis=1)


def drive_tuning(ns, inp, out):
    hyper = ns["HYPERPARAMS"]
    hp = {"lr": float(hyper["lr"]), "p_drop": float(hyper["p_drop"]), "reg": float(hyper["reg"]),
          "patience": int(hyper["patience"])}
    for key, value in hp.items():
        out["hp/" + key] = value
    # out of the domain (inp["low"], inp["high"], in the order of hp) nothing is trained: the check says so
    if all(lo <= value <= hi for value, lo, hi in zip(hp.values(), inp["low"], inp["high"], strict=True)):
        best = tuning_run(hp, np.array(inp["X_train"]), np.array(inp["y_train"]), np.array(inp["X_val"]),
                          np.array(inp["y_val"]), int(inp["seed"]), int(inp["epochs"]), int(inp["batch_size"]))
        out["predictions"] = tuning_predict(best, np.array(inp["X_test"]))


def check_tuning(inp, out, fb):
    names = list(TUNING_DOMAIN)
    chosen = {key: out.get("hp/" + key) for key in names}
    if not fb.check(all(value is not None and np.shape(value) == () for value in chosen.values()), "",
                    f"HYPERPARAMS should be a dict with the numbers {', '.join(names)} (see the error above)."):
        return False
    said = ", ".join(f"{key} = {float(value):g}" for key, value in chosen.items())
    outside = [f"{key} in [{lo:g}, {hi:g}]" for (key, (lo, hi)) in TUNING_DOMAIN.items()
               if not lo <= float(chosen[key]) <= hi]
    if not fb.check(not outside, "", f"Your HYPERPARAMS ({said}) are outside the range the part allows: "
                                     f"{'; '.join(outside)}. Nothing was trained."):
        return False
    predictions, y_test = out.get("predictions"), inp["y_test"]
    if not fb.check(np.shape(predictions) == y_test.shape, "", f"With {said} no predictions came back (see the error "
                                                                 f"above)."):
        return False
    accuracy = float(np.mean(np.asarray(predictions) == y_test))
    return fb.check(accuracy >= TUNING_BAR,
                    f"With {said}: accuracy {accuracy:.3f} on the grader's held-out digits (at least {TUNING_BAR}).",
                    f"With {said}: accuracy {accuracy:.3f} on the grader's held-out digits; at least {TUNING_BAR} is "
                    f"needed. Compare settings by their validation accuracy in the notebook, within the same budget "
                    f"of {TUNING_EPOCHS} epochs.")


PARTS.append(Part("tuning", points=2, inputs=tuning_inputs, check=check_tuning, driver=drive_tuning,
                  helpers=(tuning_loss, tuning_run, tuning_predict), needs=("HYPERPARAMS",), held_out=("y_test",),
                  timeout=30,
                  description=f"hyperparameters that reach {TUNING_BAR:.0%} on fresh jittered digits within "
                              f"{TUNING_EPOCHS} epochs",
                  shares=(Share("held-out accuracy", 2, f"at least {TUNING_BAR} on the grader's own held-out jittered "
                                                        f"digits, trained by the grader's run with your HYPERPARAMS"),)))

# Written answers, graded by hand in formgrader.
MANUAL_PARTS = {"written_initialisation": 3}
