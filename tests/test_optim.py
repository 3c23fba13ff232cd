"""Optimisers against updates computed by hand from the published formulas, step by step; LR schedules."""
from __future__ import annotations

import math

import numpy as np
import pytest

from deepgrad import optim
from deepgrad.autograd import Tensor
from deepgrad.optim import lr_scheduler

P0 = [1.5, -0.5]


def loss_grad(p):
    """The test problem: L = sum(p^3 / 3 + p), so dL/dp = p^2 + 1 (never zero, varies with p)."""
    return [v * v + 1 for v in p]


def run(opt_cls, steps=3, **kw):
    p = Tensor(np.array(P0), requires_grad=True)
    opt = opt_cls([p], **kw)
    for _ in range(steps):
        opt.zero_grad()
        (p ** 3 / 3 + p).sum().backward()
        opt.step()
    return p.data


def by_hand(update, steps=3):
    """Apply ``update(p_i, g_i, state_i, t)`` coordinate by coordinate with Python floats."""
    p, states = list(P0), [{} for _ in P0]
    for t in range(1, steps + 1):
        g = loss_grad(p)
        p = [update(pi, gi, st, t) for pi, gi, st in zip(p, g, states, strict=True)]
    return p


@pytest.mark.parametrize("kw", [dict(lr=0.1), dict(lr=0.1, weight_decay=0.2), dict(lr=0.05, momentum=0.9),
                                dict(lr=0.05, momentum=0.9, dampening=0.3), dict(lr=0.05, momentum=0.8, nesterov=True),
                                dict(lr=0.05, momentum=0.5, weight_decay=0.1, nesterov=True)], ids=str)
def test_sgd(kw):
    lr, mu, damp = kw["lr"], kw.get("momentum", 0), kw.get("dampening", 0)
    wd, nesterov = kw.get("weight_decay", 0), kw.get("nesterov", False)

    def update(p, g, s, t):
        g = g + wd * p
        if mu:
            s["b"] = g if t == 1 else mu * s["b"] + (1 - damp) * g
            g = g + mu * s["b"] if nesterov else s["b"]
        return p - lr * g

    np.testing.assert_allclose(run(optim.SGD, **kw), by_hand(update), rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.1, lr_decay=0.5), dict(lr=0.1, weight_decay=0.3, eps=1e-3),
                                dict(lr=0.1, initial_accumulator_value=0.5)], ids=str)
def test_adagrad(kw):
    lr, decay, wd = kw.get("lr", 1e-2), kw.get("lr_decay", 0), kw.get("weight_decay", 0)
    eps, acc0 = kw.get("eps", 1e-10), kw.get("initial_accumulator_value", 0)

    def update(p, g, s, t):
        g = g + wd * p
        s["G"] = s.get("G", acc0) + g * g
        return p - lr / (1 + (t - 1) * decay) * g / (math.sqrt(s["G"]) + eps)

    np.testing.assert_allclose(run(optim.Adagrad, **kw), by_hand(update), rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.05, alpha=0.9), dict(lr=0.01, momentum=0.9, weight_decay=0.1)], ids=str)
def test_rmsprop(kw):
    lr, a, eps = kw.get("lr", 1e-2), kw.get("alpha", 0.99), kw.get("eps", 1e-8)
    mu, wd = kw.get("momentum", 0), kw.get("weight_decay", 0)

    def update(p, g, s, t):
        g = g + wd * p
        s["v"] = a * s.get("v", 0.0) + (1 - a) * g * g
        step = g / (math.sqrt(s["v"]) + eps)
        if mu:
            s["b"] = mu * s.get("b", 0.0) + step
            step = s["b"]
        return p - lr * step

    np.testing.assert_allclose(run(optim.RMSprop, **kw), by_hand(update), rtol=1e-12)


@pytest.mark.parametrize("kw", [dict(), dict(lr=0.1, betas=(0.8, 0.9)), dict(lr=0.1, weight_decay=0.5, eps=1e-3)], ids=str)
def test_adam(kw):
    lr, (b1, b2) = kw.get("lr", 1e-3), kw.get("betas", (0.9, 0.999))
    eps, wd = kw.get("eps", 1e-8), kw.get("weight_decay", 0)

    def update(p, g, s, t):
        g = g + wd * p
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat, v_hat = s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t)
        return p - lr * m_hat / (math.sqrt(v_hat) + eps)

    np.testing.assert_allclose(run(optim.Adam, **kw), by_hand(update), rtol=1e-10)


def test_adamw_decouples_weight_decay():
    lr, b1, b2, eps, wd = 0.1, 0.9, 0.999, 1e-8, 0.2

    def update(p, g, s, t):
        p = p * (1 - lr * wd)
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        return p - lr * (s["m"] / (1 - b1 ** t)) / (math.sqrt(s["v"] / (1 - b2 ** t)) + eps)

    np.testing.assert_allclose(run(optim.AdamW, lr=lr, weight_decay=wd), by_hand(update), rtol=1e-10)


def test_adam_first_step_has_size_lr():
    # Bias correction makes the first step lr·sign(g) whatever the gradient's scale.
    p = Tensor(np.array([3.0, -2.0, 0.5]), requires_grad=True)
    opt = optim.Adam([p], lr=0.01)
    (p * np.array([1e-4, 50.0, -7.0])).sum().backward()
    opt.step()
    np.testing.assert_allclose(p.data, [3.0 - 0.01, -2.0 - 0.01, 0.5 + 0.01], rtol=1e-6)


@pytest.mark.parametrize("make", [lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9), lambda ps: optim.Adagrad(ps),
                                  lambda ps: optim.RMSprop(ps, momentum=0.5), lambda ps: optim.Adam(ps)])
def test_float32_point_and_in_place(make):
    """The widgets' optimiser race: a single 2-D point, float32, updated in place."""
    point = Tensor(np.array([-1.0, 2.0], dtype=np.float32), requires_grad=True)
    data_before = point.data
    opt = make([point])
    for _ in range(5):
        opt.zero_grad()
        (point * point).sum().backward()
        opt.step()
    assert point.data is data_before and point.dtype == np.float32
    assert float((point.data ** 2).sum()) < 5.0


def test_zero_grad_and_missing_grads():
    a, b = Tensor([1.0], requires_grad=True), Tensor([2.0], requires_grad=True)
    opt = optim.SGD([a, b], lr=1.0)
    (a * 3).sum().backward()
    opt.step()  # b has no grad: left alone
    assert a.data[0] == -2.0 and b.data[0] == 2.0
    opt.zero_grad()
    assert a.grad is None
    (a * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(a.grad, [0.0])


def test_param_groups_and_errors():
    a, b = Tensor([1.0], requires_grad=True), Tensor([1.0], requires_grad=True)
    opt = optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.5}], lr=0.1)
    (a + b).sum().backward()
    opt.step()
    assert a.data[0] == pytest.approx(0.9) and b.data[0] == pytest.approx(0.5)
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="lr"):
        optim.SGD([a], lr=-1)
    with pytest.raises(TypeError, match="iterable"):
        optim.SGD(a, lr=0.1)
    with pytest.raises(ValueError, match="require grad"):
        optim.SGD([Tensor([1.0])], lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([a], lr=0.1, nesterov=True)


def test_state_dict_roundtrip_continues_identically():
    def make():
        p = Tensor(np.array(P0), requires_grad=True)
        return p, optim.Adam([p], lr=0.1)

    def step(p, opt):
        opt.zero_grad()
        (p ** 3 / 3 + p).sum().backward()
        opt.step()

    p1, o1 = make()
    step(p1, o1)
    p2, o2 = make()
    p2.data[...] = p1.data
    o2.load_state_dict(o1.state_dict())
    step(p1, o1)
    step(p2, o2)
    np.testing.assert_array_equal(p1.data, p2.data)


def _opt(lr=1.0):
    return optim.SGD([Tensor([0.0], requires_grad=True)], lr=lr)


def lrs(sched, n):
    out = []
    for _ in range(n):
        out.append(sched.get_last_lr()[0])
        sched.step()
    return out


def test_step_lr():
    assert lrs(lr_scheduler.StepLR(_opt(0.8), step_size=2, gamma=0.5), 6) == pytest.approx([0.8, 0.8, 0.4, 0.4, 0.2, 0.2])


def test_lambda_and_inverse_sqrt_agree_with_the_notes_decay():
    expected = [0.3 / math.sqrt(t + 1) for t in range(5)]
    assert lrs(lr_scheduler.LambdaLR(_opt(0.3), lambda t: 1 / math.sqrt(t + 1)), 5) == pytest.approx(expected)
    assert lrs(lr_scheduler.InverseSqrtLR(_opt(0.3)), 5) == pytest.approx(expected)


def test_exponential_lr_and_scheduler_drives_the_update():
    p = Tensor([0.0], requires_grad=True)
    opt = optim.SGD([p], lr=1.0)
    sched = lr_scheduler.ExponentialLR(opt, gamma=0.5)
    for _ in range(3):
        opt.zero_grad()
        p.sum().backward()  # gradient 1
        opt.step()
        sched.step()
    assert p.data[0] == pytest.approx(-(1 + 0.5 + 0.25))
    assert opt.param_groups[0]["initial_lr"] == 1.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sgd_step_on_a_large_parameter_is_exactly_p_minus_lr_g(dtype):
    """Large parameters are updated block by block (less memory traffic): the result must not change."""
    rng = np.random.default_rng(0)
    p0 = rng.standard_normal((300, 301)).astype(dtype)   # more elements than one block
    g = rng.standard_normal((300, 301)).astype(dtype)
    p = Tensor(p0.copy(), requires_grad=True)
    p.grad = g.copy()
    optim.SGD([p], lr=0.1).step()
    np.testing.assert_array_equal(p.data, p0 - dtype(0.1) * g)
    assert p.data.dtype == dtype


@pytest.mark.parametrize("make", [optim.SGD, optim.RMSprop, optim.Adam, optim.Adagrad], ids=lambda c: c.__name__)
def test_a_0d_parameter_steps_as_each_entry_of_a_vector_does(make):
    """PyTorch's dynamic_net trains 0-d parameters with SGD(momentum=0.9): each must keep its state between
    steps exactly as one entry of a vector does (a 0-d gradient can be a NumPy scalar, which *= rebinds)."""
    kw = dict(lr=0.01, momentum=0.9) if make in (optim.SGD, optim.RMSprop) else dict(lr=0.01)
    scalars = [Tensor(np.array(v), requires_grad=True) for v in P0]
    vector = Tensor(np.array(P0), requires_grad=True)
    opt_s, opt_v = make(scalars, **kw), make([vector], **kw)
    for _ in range(5):
        for opt, loss in ((opt_s, sum(s ** 3 / 3 + s for s in scalars)), (opt_v, (vector ** 3 / 3 + vector).sum())):
            opt.zero_grad()
            loss.backward()
            opt.step()
    np.testing.assert_allclose([float(s.data) for s in scalars], vector.data, rtol=1e-12)
