"""deepgrad.init: PyTorch's formulas, seeding, in-place filling, and clear errors.

Expected values are written from the formulas in Glorot & Bengio (2010), He et al. (2015) and
torch.nn.init's documentation, not from init.py. DeepGrad stores weights (fan_in, fan_out) = (D, M).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepgrad import init

D, M = 800, 400  # 320,000 draws: sample std within ~0.3% of the true one


class Param:
    """Anything with a `.data` array, like a Tensor or nn.Parameter."""

    def __init__(self, data):
        self.data = data


def assert_std(w, expected, rel=0.01):
    assert abs(w.mean()) < 5 * expected / math.sqrt(w.size)
    assert w.std() == pytest.approx(expected, rel=rel)


# ----------------------------------------------------------------------------------------------- gains
@pytest.mark.parametrize(
    "nonlinearity, param, expected",
    [
        ("linear", None, 1.0),
        ("identity", None, 1.0),
        ("sigmoid", None, 1.0),
        ("tanh", None, 5 / 3),
        ("relu", None, math.sqrt(2)),
        ("leaky_relu", None, math.sqrt(2 / (1 + 0.01**2))),  # PyTorch's default slope 0.01
        ("leaky_relu", 0, math.sqrt(2)),  # slope 0 is a plain ReLU
        ("leaky_relu", 0.2, math.sqrt(2 / 1.04)),
        ("selu", None, 0.75),
    ],
)
def test_gain_table(nonlinearity, param, expected):
    assert init.calculate_gain(nonlinearity, param) == pytest.approx(expected, rel=1e-15)


def test_gain_errors():
    with pytest.raises(ValueError, match="nonlinearity must be one of .*'softplus'"):
        init.calculate_gain("softplus")
    with pytest.raises(TypeError, match="param \\(the negative slope\\) must be a finite number, got '0.1'"):
        init.calculate_gain("leaky_relu", "0.1")
    with pytest.raises(TypeError, match="negative slope.*got True \\(a bool\\)"):
        init.calculate_gain("leaky_relu", True)


# ------------------------------------------------------------------------------------------------ fans
def test_fans():
    assert init.calculate_fan_in_and_fan_out((5, 3)) == (5, 3)
    assert init.calculate_fan_in_and_fan_out((4, 6, 3, 3)) == (36, 54)  # times the receptive field


def re_shape(shape):
    return str(tuple(shape)).replace("(", r"\(").replace(")", r"\)")


@pytest.mark.parametrize("shape", [(7,), ()])
def test_fans_need_two_dimensions(shape):
    with pytest.raises(ValueError, match=rf"at least 2 dimensions, got shape {re_shape(shape)}"):
        init.calculate_fan_in_and_fan_out(shape)
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.xavier_uniform_(np.zeros(shape))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.kaiming_normal_(np.zeros(shape))


# ------------------------------------------------------------------------------------------ statistics
def test_xavier_uniform_bound_and_std():
    w = init.xavier_uniform_(np.empty((D, M)), generator=0)
    bound = math.sqrt(6 / (D + M))
    assert np.abs(w).max() <= bound
    assert np.abs(w).max() > 0.99 * bound  # fills the whole interval
    assert_std(w, bound / math.sqrt(3))  # the std of U(-a, a) is a / sqrt(3)
    w = init.xavier_uniform_(np.empty((D, M)), gain=init.calculate_gain("tanh"), generator=0)
    assert np.abs(w).max() <= 5 / 3 * bound and np.abs(w).max() > 0.99 * 5 / 3 * bound


def test_xavier_normal_std():
    w = init.xavier_normal_(np.empty((D, M)), gain=2.0, generator=1)
    assert_std(w, 2.0 * math.sqrt(2 / (D + M)))


@pytest.mark.parametrize(
    "kwargs, expected_std",
    [
        ({"nonlinearity": "relu"}, math.sqrt(2 / D)),  # He: Var(w) = 2 / fan_in
        ({}, math.sqrt(2 / D)),  # PyTorch's default: leaky_relu with a = 0
        ({"a": 0.2, "nonlinearity": "leaky_relu"}, math.sqrt(2 / (1.04 * D))),
        ({"nonlinearity": "relu", "mode": "fan_out"}, math.sqrt(2 / M)),
        ({"nonlinearity": "tanh", "mode": "fan_out"}, 5 / 3 / math.sqrt(M)),
        ({"nonlinearity": "linear"}, 1 / math.sqrt(D)),
    ],
)
def test_kaiming_normal_std(kwargs, expected_std):
    w = init.kaiming_normal_(np.empty((D, M)), generator=2, **kwargs)
    assert_std(w, expected_std)


def test_kaiming_uniform_bound():
    w = init.kaiming_uniform_(np.empty((D, M)), nonlinearity="relu", generator=3)
    bound = math.sqrt(6 / D)  # gain * sqrt(3 / fan_in) with gain sqrt(2)
    assert np.abs(w).max() <= bound and np.abs(w).max() > 0.99 * bound
    assert_std(w, math.sqrt(2 / D))


def test_he_keeps_relu_activations_from_shrinking():
    """The point of He init: through many ReLU layers the mean square activation stays put."""
    rng = np.random.default_rng(0)
    h = rng.normal(size=(500, 256))
    start = np.mean(h**2)
    for _ in range(20):
        W = init.kaiming_normal_(np.empty((256, 256)), nonlinearity="relu", generator=rng)
        h = np.maximum(h @ W, 0)
    assert 0.2 < np.mean(h**2) / start < 5  # with std 0.01 instead it would shrink to ~1e-38


@settings(max_examples=20, deadline=None)
@given(d=st.integers(2, 40), m=st.integers(2, 40), k=st.integers(1, 3), seed=st.integers(0, 1000))
def test_uniform_bounds_hold_for_any_shape(d, m, k, seed):
    shape = (d, m) if k == 1 else (d, m, k, k)
    fan_in, fan_out = d * k * k, m * k * k
    w = init.xavier_uniform_(np.empty(shape), generator=seed)
    assert np.abs(w).max() <= math.sqrt(6 / (fan_in + fan_out))
    w = init.kaiming_uniform_(np.empty(shape), mode="fan_out", nonlinearity="relu", generator=seed)
    assert np.abs(w).max() <= math.sqrt(6 / fan_out)


def test_uniform_and_normal():
    w = init.uniform_(np.empty((300, 300)), -2.0, 3.0, generator=0)
    assert w.min() >= -2.0 and w.max() < 3.0 and w.mean() == pytest.approx(0.5, abs=0.02)
    w = init.normal_(np.empty((300, 300)), mean=4.0, std=0.5, generator=0)
    assert w.mean() == pytest.approx(4.0, abs=0.01) and w.std() == pytest.approx(0.5, rel=0.01)


def test_constants():
    np.testing.assert_array_equal(init.constant_(np.empty((2, 3)), 0.25), np.full((2, 3), 0.25))
    np.testing.assert_array_equal(init.zeros_(np.ones(4)), np.zeros(4))
    np.testing.assert_array_equal(init.ones_(np.zeros((2, 2))), np.ones((2, 2)))


# ----------------------------------------------------------------------------------------- seeding
@pytest.mark.parametrize("fn", [init.xavier_uniform_, init.xavier_normal_, init.kaiming_uniform_,
                                init.kaiming_normal_])
def test_seeded_reproducibility(fn):
    a = fn(np.empty((20, 10)), generator=42)
    b = fn(np.empty((20, 10)), generator=42)
    c = fn(np.empty((20, 10)), generator=43)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    assert len(np.unique(a)) == a.size  # random, so no two units start the same (symmetry breaking)
    g1, g2 = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(fn(np.empty((5, 5)), generator=g1), fn(np.empty((5, 5)), generator=g2))


def test_manual_seed_drives_the_default_generator():
    init.manual_seed(123)
    a = init.kaiming_normal_(np.empty((6, 4)))
    a_next = init.kaiming_normal_(np.empty((6, 4)))
    init.manual_seed(123)
    np.testing.assert_array_equal(init.kaiming_normal_(np.empty((6, 4))), a)
    assert not np.array_equal(a, a_next)  # the stream moves on between calls


def test_bad_generator():
    with pytest.raises(TypeError, match="generator must be None, an integer seed >= 0 or a numpy.random.Generator, got 'seed'"):
        init.normal_(np.empty(3), generator="seed")


# ------------------------------------------------------------------------------------------ in place
def test_fills_numpy_arrays_in_place_and_keeps_dtype():
    w = np.zeros((30, 20), dtype=np.float32)
    out = init.xavier_uniform_(w, generator=0)
    assert out is w and w.dtype == np.float32 and np.any(w != 0)
    view = np.zeros((10, 10))[:, :5]  # a non-contiguous view: its base array must change too
    init.ones_(view)
    assert np.all(view == 1)
    base = np.zeros((4, 6))
    init.kaiming_normal_(base[:, :3], generator=0)
    assert np.all(base[:, 3:] == 0) and np.all(base[:, :3] != 0)


def test_fills_tensor_like_objects_in_place():
    p = Param(np.zeros((8, 4)))
    array = p.data
    out = init.kaiming_uniform_(p, nonlinearity="relu", generator=0)
    assert out is p and p.data is array and np.any(array != 0)
    assert np.abs(array).max() <= math.sqrt(6 / 8)
    init.zeros_(p)
    assert np.all(array == 0)


# -------------------------------------------------------------------------------------------- errors
def test_bad_mode():
    with pytest.raises(ValueError, match=r"mode must be one of \('fan_in', 'fan_out'\), got 'fan_avg'"):
        init.kaiming_normal_(np.empty((3, 3)), mode="fan_avg")


def test_bad_nonlinearity():
    with pytest.raises(ValueError, match="nonlinearity must be one of"):
        init.kaiming_uniform_(np.empty((3, 3)), nonlinearity="swish")


def test_negative_std():
    with pytest.raises(ValueError, match="std must be a finite number >= 0, got -1"):
        init.normal_(np.empty(3), std=-1)


def test_non_array_is_a_type_error():
    with pytest.raises(TypeError, match="tensor must be an array or a Tensor"):
        init.zeros_([0.0, 0.0])


def test_zero_element_weight_is_a_no_op():
    w = np.empty((0, 5))
    assert init.kaiming_normal_(w) is w


# ----------------------------------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_fills_cupy_arrays_in_place():
    import cupy as cp

    w = cp.zeros((D, M), dtype=cp.float32)
    out = init.kaiming_normal_(w, nonlinearity="relu", generator=0)
    assert out is w and w.dtype == cp.float32
    assert float(w.std()) == pytest.approx(math.sqrt(2 / D), rel=0.01)
    np.testing.assert_allclose(cp.asnumpy(w), init.kaiming_normal_(np.zeros((D, M), np.float32),
                                                                   nonlinearity="relu", generator=0))
