"""deepgrad.layers: every backward pass against centred differences in float64, Jacobians against VJPs."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepgrad import layers as L

SETTINGS = settings(max_examples=25, deadline=None)
dims = st.integers(1, 6)
seeds = st.integers(0, 2**32 - 1)


# Our own centred differences, independent of deepgrad.gradcheck, so a bug there cannot hide one here.
def num_grad(f, x, h=1e-6):
    """d f / d x for a scalar function f of the array x (x is perturbed in place and restored)."""
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


def assert_grad_close(analytic, numerical):
    """Centred differences in float64 are good to ~1e-9 absolute; a wrong gradient is off by O(1).

    CS231n's relative error alone is too strict for entries near 0 (cancellation in the difference
    quotient), so tiny entries are compared absolutely and the rest relatively.
    """
    assert analytic.shape == numerical.shape
    np.testing.assert_allclose(analytic, numerical, rtol=1e-6, atol=1e-8)


def away_from_zero(x, margin=0.1):
    """Push every entry at least `margin` away from the kink at 0."""
    return np.where(x >= 0, x + margin, x - margin)


def num_jacobian(f, x, h=1e-6):
    """Numerator-layout Jacobian of a vector function f of the vector x."""
    cols = []
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        cols.append((f(x + e) - f(x - e)) / (2 * h))
    return np.stack(cols, axis=1)


# ---------------------------------------------------------------------------------------------- linear
@SETTINGS
@given(n=dims, d=dims, m=dims, seed=seeds)
def test_linear_backward_matches_numerical(n, d, m, seed):
    rng = np.random.default_rng(seed)
    x, W, b = rng.normal(size=(n, d)), rng.normal(size=(d, m)), rng.normal(size=m)
    dout = rng.normal(size=(n, m))
    out, cache = L.linear_forward(x, W, b)
    np.testing.assert_allclose(out, x @ W + b)
    dx, dW, db = L.linear_backward(dout, cache)
    loss = lambda: np.sum(L.linear_forward(x, W, b)[0] * dout)
    for analytic, var in ((dx, x), (dW, W), (db, b)):
        assert analytic.shape == var.shape
        assert_grad_close(analytic, num_grad(loss, var))


def test_linear_flattens_image_batches(rng):
    x = rng.normal(size=(3, 2, 4, 2))
    W, b = rng.normal(size=(16, 5)), rng.normal(size=5)
    out, cache = L.linear_forward(x, W, b)
    np.testing.assert_allclose(out, x.reshape(3, 16) @ W + b)
    dout = rng.normal(size=(3, 5))
    dx, dW, db = L.linear_backward(dout, cache)
    assert dx.shape == x.shape
    loss = lambda: np.sum(L.linear_forward(x, W, b)[0] * dout)
    assert_grad_close(dx, num_grad(loss, x))
    assert_grad_close(dW, num_grad(loss, W))


@pytest.mark.parametrize(
    "shapes, message",
    [
        (((4, 3), (2, 5), (5,)), "inner dimensions"),
        (((4, 3), (3, 5), (4,)), "b must have shape"),
        (((4, 3), (3, 5), (1, 5)), "b must have shape"),
        (((3,), (3, 5), (5,)), "x must be a batch"),
        (((4, 3), (15,), (5,)), "W must have shape"),
    ],
)
def test_linear_shape_errors_name_the_argument(shapes, message):
    x, W, b = (np.ones(s) for s in shapes)
    with pytest.raises(ValueError, match=message):
        L.linear_forward(x, W, b)


def test_linear_error_shows_the_shapes():
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(2, 5\)"):
        L.linear_forward(np.ones((4, 3)), np.ones((2, 5)), np.ones(5))


def test_nan_input_is_refused():
    x = np.ones((2, 3))
    x[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"x \(shape \(2, 3\)\) contains 1 NaN value"):
        L.linear_forward(x, np.ones((3, 2)), np.ones(2))
    with pytest.raises(ValueError, match=r"x \(shape \(2, 3\)\) contains 1 NaN value"):
        L.relu_forward(x)


def test_wrong_dout_shape_is_refused(rng):
    _, cache = L.linear_forward(rng.normal(size=(4, 3)), rng.normal(size=(3, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"dout must have the shape.*\(4, 2\).*\(2, 4\)"):
        L.linear_backward(np.ones((2, 4)), cache)
    for name in ("relu", "leaky_relu", "sigmoid", "tanh"):
        _, cache = getattr(L, f"{name}_forward")(rng.normal(size=(4, 3)))
        with pytest.raises(ValueError, match="dout must have the shape"):
            getattr(L, f"{name}_backward")(np.ones((4, 4)), cache)


# ----------------------------------------------------------------------------------------- activations
ACTIVATIONS = ["relu", "leaky_relu", "sigmoid", "tanh"]
REFERENCE = {
    "relu": lambda x: np.maximum(x, 0),
    "leaky_relu": lambda x: np.where(x > 0, x, 0.01 * x),
    "sigmoid": lambda x: 1 / (1 + np.exp(-x)),
    "tanh": np.tanh,
}


@SETTINGS
@given(name=st.sampled_from(ACTIVATIONS), n=dims, d=dims, seed=seeds)
def test_activation_backward_matches_numerical(name, n, d, seed):
    rng = np.random.default_rng(seed)
    x = away_from_zero(rng.normal(size=(n, d)))  # ReLUs are checked off their kink here
    dout = rng.normal(size=(n, d))
    forward, backward = getattr(L, f"{name}_forward"), getattr(L, f"{name}_backward")
    out, cache = forward(x)
    np.testing.assert_allclose(out, REFERENCE[name](x), rtol=1e-12, atol=1e-15)
    dx = backward(dout, cache)
    numerical = num_grad(lambda: np.sum(forward(x)[0] * dout), x)
    assert_grad_close(dx, numerical)


@pytest.mark.parametrize("slope", [0.0, 0.2, 1.5])
def test_leaky_relu_slope(rng, slope):
    x = away_from_zero(rng.normal(size=(5, 4)))
    dout = rng.normal(size=x.shape)
    out, cache = L.leaky_relu_forward(x, negative_slope=slope)
    np.testing.assert_allclose(out, np.where(x > 0, x, slope * x))
    dx = L.leaky_relu_backward(dout, cache)
    numerical = num_grad(lambda: np.sum(L.leaky_relu_forward(x, slope)[0] * dout), x)
    assert_grad_close(dx, numerical)


def test_relu_kink_uses_pytorchs_subgradient():
    """At exactly 0 ReLU has no derivative: any value in [0, 1] is a subgradient; like PyTorch we use 0.

    A centred difference straddles the kink and reports the average slope 1/2, which is why gradient
    checks keep inputs away from 0.
    """
    x = np.array([[-1.0, 0.0, 2.0]])
    _, cache = L.relu_forward(x)
    np.testing.assert_array_equal(L.relu_backward(np.ones_like(x), cache), [[0.0, 0.0, 1.0]])
    numerical = num_grad(lambda: np.sum(L.relu_forward(x)[0]), x)
    np.testing.assert_allclose(numerical, [[0.0, 0.5, 1.0]])
    _, cache = L.leaky_relu_forward(x, negative_slope=0.1)
    np.testing.assert_allclose(L.leaky_relu_backward(np.ones_like(x), cache), [[0.1, 0.1, 1.0]])


def test_sigmoid_is_stable_for_large_inputs():
    x = np.array([-1000.0, -40.0, 0.0, 40.0, 1000.0])
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        s, cache = L.sigmoid_forward(x)
        ds = L.sigmoid_backward(np.ones_like(x), cache)
    assert s[0] == 0.0 and s[-1] == 1.0 and s[2] == 0.5
    assert np.all(np.isfinite(ds)) and ds[2] == 0.25


@pytest.mark.parametrize("name", ACTIVATIONS + ["linear", "dropout", "linear_relu"])
def test_float32_in_float32_out(rng, name):
    x = rng.normal(size=(4, 3)).astype(np.float32)
    if name in ("linear", "linear_relu"):
        W, b = rng.normal(size=(3, 2)).astype(np.float32), np.zeros(2, np.float32)
        out, cache = getattr(L, f"{name}_forward")(x, W, b)
        grads = getattr(L, f"{name}_backward")(np.ones_like(out), cache)
    else:
        kwargs = {"p": 0.5, "seed": 0} if name == "dropout" else {}
        out, cache = getattr(L, f"{name}_forward")(x, **kwargs)
        grads = (getattr(L, f"{name}_backward")(np.ones_like(out), cache),)
    assert out.dtype == np.float32
    assert all(g.dtype == np.float32 for g in grads)


def test_linear_relu_sandwich(rng):
    x = rng.normal(size=(4, 5))
    W, b = rng.normal(size=(5, 3)), rng.normal(size=3)
    out, cache = L.linear_relu_forward(x, W, b)
    np.testing.assert_allclose(out, np.maximum(x @ W + b, 0))
    assert np.all(np.abs(x @ W + b) > 1e-4)  # off the kink for this seed, so the check is valid
    dout = rng.normal(size=out.shape)
    dx, dW, db = L.linear_relu_backward(dout, cache)
    loss = lambda: np.sum(L.linear_relu_forward(x, W, b)[0] * dout)
    for analytic, var in ((dx, x), (dW, W), (db, b)):
        assert_grad_close(analytic, num_grad(loss, var))


# --------------------------------------------------------------------------------------------- dropout
def test_dropout_train_keeps_the_expectation(rng):
    x = rng.normal(size=(500, 400)) + 3.0
    p = 0.3
    out, (mask, mode) = L.dropout_forward(x, p, mode="train", seed=0)
    dropped = out == 0
    assert abs(dropped.mean() - p) < 0.01
    np.testing.assert_allclose(out[~dropped], x[~dropped] / (1 - p))
    assert abs(out.mean() - x.mean()) < 0.02  # inverted dropout: E[out] = x
    assert mode == "train" and set(np.unique(mask)) == {0.0, 1 / (1 - p)}


def test_dropout_eval_is_identity(rng):
    x = rng.normal(size=(6, 7))
    out, cache = L.dropout_forward(x, 0.9, mode="eval")
    np.testing.assert_array_equal(out, x)
    dout = rng.normal(size=x.shape)
    np.testing.assert_array_equal(L.dropout_backward(dout, cache), dout)


def test_dropout_p_zero_keeps_everything(rng):
    x = rng.normal(size=(6, 7))
    np.testing.assert_array_equal(L.dropout_forward(x, 0.0, seed=3)[0], x)


def test_dropout_seed_reproducible(rng):
    x = rng.normal(size=(20, 30))
    a, _ = L.dropout_forward(x, 0.5, seed=7)
    b, _ = L.dropout_forward(x, 0.5, seed=7)
    c, _ = L.dropout_forward(x, 0.5, seed=8)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_dropout_backward_uses_the_mask(rng):
    x = rng.normal(size=(5, 6))
    dout = rng.normal(size=x.shape)
    p = 0.4
    out, cache = L.dropout_forward(x, p, seed=11)
    dx = L.dropout_backward(dout, cache)
    kept = out != 0
    np.testing.assert_allclose(dx, np.where(kept, dout / (1 - p), 0.0))
    # with the seed fixed the mask is fixed, so dropout is a function of x and can be checked numerically
    numerical = num_grad(lambda: np.sum(L.dropout_forward(x, p, seed=11)[0] * dout), x)
    assert_grad_close(dx, numerical)


@pytest.mark.parametrize("p, error", [(-0.1, ValueError), (1.0, ValueError), (1.5, ValueError),
                                      ("0.5", TypeError), (True, TypeError)])
def test_dropout_rejects_bad_p(p, error):
    with pytest.raises(error, match="p \\(the drop probability\\) must be a finite number in \\[0, 1\\)"):
        L.dropout_forward(np.ones(3), p)


def test_dropout_rejects_bad_mode():
    with pytest.raises(ValueError, match=r"mode must be one of \('train', 'eval'\), got 'test'"):
        L.dropout_forward(np.ones(3), 0.5, mode="test")


# ------------------------------------------------------------------------------------------- Jacobians
@SETTINGS
@given(d=dims, m=dims, seed=seeds)
def test_linear_jacobians_give_the_backward_pass(d, m, seed):
    rng = np.random.default_rng(seed)
    x, W, b = rng.normal(size=d), rng.normal(size=(d, m)), rng.normal(size=m)
    dout = rng.normal(size=m)
    dx, dW, db = L.linear_backward(dout[None], L.linear_forward(x[None], W, b)[1])

    Jx, JW, Jb = (L.linear_jacobian(x, W, b, wrt=w) for w in "xWb")
    assert Jx.shape == (m, d) and JW.shape == (m, d * m) and Jb.shape == (m, m)
    np.testing.assert_array_equal(Jx, W.T)
    np.testing.assert_array_equal(Jb, np.eye(m))
    # VJP: the backward pass is dout @ J, without ever building J
    np.testing.assert_allclose(dout @ Jx, dx[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dout @ JW, dW.reshape(-1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dout @ Jb, db, rtol=1e-12, atol=1e-12)
    # J_W against finite differences, with W flattened row-major as documented
    f = lambda w: x @ w.reshape(d, m) + b
    np.testing.assert_allclose(JW, num_jacobian(f, W.reshape(-1)), atol=1e-8)
    # each output depends only on its own column of W: D non-zeros per row at most
    assert np.all(np.count_nonzero(JW, axis=1) <= d)


@SETTINGS
@given(name=st.sampled_from(ACTIVATIONS), d=dims, seed=seeds)
def test_activation_jacobians_are_diagonal_and_give_the_vjp(name, d, seed):
    rng = np.random.default_rng(seed)
    x = away_from_zero(rng.normal(size=d))
    dout = rng.normal(size=d)
    J = getattr(L, f"{name}_jacobian")(x)
    assert J.shape == (d, d)
    np.testing.assert_array_equal(J, np.diag(np.diag(J)))  # sparse: only the diagonal is non-zero
    np.testing.assert_allclose(J, num_jacobian(lambda v: REFERENCE[name](v), x), atol=1e-8)
    out, cache = getattr(L, f"{name}_forward")(x[None])
    dx = getattr(L, f"{name}_backward")(dout[None], cache)
    np.testing.assert_allclose(dout @ J, dx[0], rtol=1e-12, atol=1e-15)


def test_relu_jacobian_values():
    J = L.relu_jacobian(np.array([-2.0, 0.0, 3.0]))
    np.testing.assert_array_equal(J, np.diag([0.0, 0.0, 1.0]))


def test_jacobian_errors():
    with pytest.raises(ValueError, match="single example of shape \\(D,\\)"):
        L.relu_jacobian(np.ones((2, 3)))
    with pytest.raises(ValueError, match="wrt must be"):
        L.linear_jacobian(np.ones(3), np.ones((3, 2)), np.ones(2), wrt="y")
    with pytest.raises(ValueError, match="inner dimensions"):
        L.linear_jacobian(np.ones(4), np.ones((3, 2)), np.ones(2))


# ----------------------------------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_layers_on_cupy_match_numpy(rng):
    import cupy as cp

    x, W, b = rng.normal(size=(8, 5)), rng.normal(size=(5, 3)), rng.normal(size=3)
    dout = rng.normal(size=(8, 3))
    out, cache = L.linear_relu_forward(x, W, b)
    grads = L.linear_relu_backward(dout, cache)
    gout, gcache = L.linear_relu_forward(cp.asarray(x), cp.asarray(W), cp.asarray(b))
    ggrads = L.linear_relu_backward(cp.asarray(dout), gcache)
    assert isinstance(gout, cp.ndarray)
    np.testing.assert_allclose(cp.asnumpy(gout), out, rtol=1e-12)
    for g, c in zip(ggrads, grads, strict=True):
        assert isinstance(g, cp.ndarray)
        np.testing.assert_allclose(cp.asnumpy(g), c, rtol=1e-10, atol=1e-12)
    for name in ACTIVATIONS:
        o, c = getattr(L, f"{name}_forward")(cp.asarray(x))
        assert isinstance(getattr(L, f"{name}_backward")(cp.ones_like(o), c), cp.ndarray)
    o, c = L.dropout_forward(cp.asarray(x), 0.5, seed=1)
    assert isinstance(o, cp.ndarray) and isinstance(L.dropout_backward(cp.ones_like(o), c), cp.ndarray)
    assert isinstance(L.linear_jacobian(cp.asarray(x[0]), cp.asarray(W), cp.asarray(b), wrt="W"), cp.ndarray)
    assert isinstance(L.sigmoid_jacobian(cp.asarray(x[0])), cp.ndarray)
