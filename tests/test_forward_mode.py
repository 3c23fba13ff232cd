"""Forward mode (JVP), reverse mode (VJP) and numerical Jacobians agree; grad() is JAX-like."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from deepgrad.autograd import Tensor, grad, jvp, value_and_grad, vjp


def numerical_jacobian(f, x, h=1e-6):
    """J[i, j] = ∂f_i/∂x_j by centred differences (numerator layout, both flattened)."""
    x = np.array(x, dtype=np.float64)
    out = np.asarray(f(x), dtype=np.float64)
    J = np.zeros((out.size, x.size))
    for j in range(x.size):
        xp, xm = x.copy().ravel(), x.copy().ravel()
        xp[j] += h
        xm[j] -= h
        J[:, j] = (np.ravel(f(xp.reshape(x.shape))) - np.ravel(f(xm.reshape(x.shape)))) / (2 * h)
    return J


W = np.random.default_rng(0).normal(size=(4, 3))
FUNCS = {
    "mlp": lambda x: ((x @ W).tanh() * 2).sigmoid(),
    "softmax": lambda x: (x @ W).softmax(-1),
    "log_softmax_max": lambda x: (x @ W).log_softmax().max(axis=0),
    "broadcast_mix": lambda x: x * x.sum(axis=1, keepdims=True) / (x.abs() + 1) - x.mean(axis=0),
    "index_reshape": lambda x: x[np.array([0, 1, 1])].reshape(-1).exp() ** 2,
    "relu_clip": lambda x: (x - 0.1).relu() + x.clip(-0.5, 0.5) * x.leaky_relu(0.2),
    "div_pow_sqrt": lambda x: 1 / (x * x + 1).sqrt() + (x.T @ x).sum(axis=0) ** 3,
}


@pytest.mark.parametrize("name", sorted(FUNCS))
def test_jvp_vjp_and_numerical_jacobian_agree(name):
    f = FUNCS[name]
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 4))
    J = numerical_jacobian(lambda a: f(Tensor(a)).data, x)
    out0 = f(Tensor(x)).data
    for _ in range(3):
        v = rng.normal(size=x.shape)
        u = rng.normal(size=out0.shape)
        out, Jv = jvp(f, (x,), (v,))
        out2, uJ = vjp(f, (x,), (u,))
        np.testing.assert_allclose(out, out0)
        np.testing.assert_allclose(out2, out0)
        np.testing.assert_allclose(Jv.ravel(), J @ v.ravel(), atol=1e-6, rtol=1e-5)
        np.testing.assert_allclose(uJ[0].ravel(), u.ravel() @ J, atol=1e-6, rtol=1e-5)
        assert float(u.ravel() @ Jv.ravel()) == pytest.approx(float(uJ[0].ravel() @ v.ravel()), rel=1e-10, abs=1e-10)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 10_000))
def test_dot_product_identity_two_inputs(n, d, seed):
    """⟨u, J v⟩ = ⟨Jᵀ u, v⟩ for a function of two inputs with broadcasting."""
    rng = np.random.default_rng(seed)
    x, b = rng.normal(size=(n, d)), rng.normal(size=(d,))
    vx, vb = rng.normal(size=(n, d)), rng.normal(size=(d,))
    f = lambda x, b: (x * b + b).tanh() * x.sigmoid()
    out, t = jvp(f, (x, b), (vx, vb))
    u = rng.normal(size=out.shape)
    _, (gx, gb) = vjp(f, (x, b), (u,))
    assert float((u * t).sum()) == pytest.approx(float((gx * vx).sum() + (gb * vb).sum()), rel=1e-9, abs=1e-9)


def test_jvp_scalar_seed_example():
    # f = (x + y) z: the directional derivative along x is z, i.e. -4 (the lecture's worked numbers).
    out, t = jvp(lambda x, y, z: (x + y) * z, (-2.0, 5.0, -4.0), (1.0, 0.0, 0.0))
    assert out == -12.0 and t == -4.0
    _, t = jvp(lambda x, y, z: (x + y) * z, (-2.0, 5.0, -4.0), (0.0, 0.0, 1.0))
    assert t == 3.0


def test_vjp_function_form_and_single_primal():
    x = np.array([1.0, 2.0, 3.0])
    out, f_vjp = vjp(lambda t: t * t, x)
    np.testing.assert_allclose(out, x ** 2)
    np.testing.assert_allclose(f_vjp(np.ones(3)), 2 * x)
    np.testing.assert_allclose(f_vjp(np.array([1.0, 0.0, 0.0])), [2.0, 0, 0])  # no accumulation between calls


def test_jvp_output_tuple_and_constant_output():
    outs, ts = jvp(lambda x: (x * 2, x.sum()), (np.ones(3),), (np.arange(3.0),))
    np.testing.assert_allclose(ts[0], 2 * np.arange(3.0))
    assert ts[1] == 3.0
    _, t = jvp(lambda x: Tensor(np.ones(2)) * 3, (np.ones(2),), (np.ones(2),))
    np.testing.assert_allclose(t, 0.0)


def test_jvp_shape_errors():
    with pytest.raises(ValueError, match="tangents"):
        jvp(lambda x: x, (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match="one tangent per primal"):
        jvp(lambda x, y: x, (np.ones(3), np.ones(3)), (np.ones(3),))


def test_grad_and_value_and_grad():
    f = lambda x, y: (x * x * y).sum()
    x, y = np.array([1.0, 2.0]), np.array([3.0, 4.0])
    np.testing.assert_allclose(grad(f)(x, y), 2 * x * y)
    gx, gy = grad(f, argnums=(0, 1))(x, y)
    np.testing.assert_allclose(gy, x * x)
    v, g = value_and_grad(f, 1)(x, y)
    assert v == 19.0
    np.testing.assert_allclose(g, x * x)
    with pytest.raises(ValueError, match="scalar"):
        grad(lambda x: x * 2)(x)
    # second argument not differentiated is passed unchanged (here a plain number)
    assert grad(lambda x, k: (x ** k).sum())(np.array([2.0]), 3) == pytest.approx(12.0)
