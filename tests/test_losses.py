"""deepgrad.losses: the lecture's worked numbers, stability, gradients vs numerical ones, clear errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepgrad import losses as L
from deepgrad.gradcheck import numerical_gradient

CAT = np.array([[3.2, 5.1, -1.7]])   # the notes' image: scores for cat, car, frog; label cat


# ------------------------------------------------------------------------------- worked example
def test_cat_svm_loss_is_2_9():
    # by hand: max(0, 5.1 - 3.2 + 1) + max(0, -1.7 - 3.2 + 1) = 2.9 + 0
    loss, dscores = L.svm_loss(CAT, np.array([0]))
    assert loss == pytest.approx(2.9)
    # only the car margin is active: d/ds_car = +1, d/ds_cat = -1, frog untouched
    np.testing.assert_allclose(dscores, [[-1.0, 1.0, 0.0]])


def test_cat_softmax_and_cross_entropy():
    e = [math.exp(3.2), math.exp(5.1), math.exp(-1.7)]    # 24.53, 164.02, 0.18
    total = sum(e)
    expected = [v / total for v in e]
    np.testing.assert_allclose(L.softmax(CAT)[0], expected, rtol=1e-12)
    np.testing.assert_allclose(L.softmax(CAT)[0], [0.13, 0.87, 0.00], atol=0.005)    # the notes' rounding
    loss, dscores = L.softmax_loss(CAT, np.array([0]))
    assert loss == pytest.approx(-math.log(e[0] / total))
    assert loss == pytest.approx(2.04, abs=0.005)            # -ln(0.13)
    np.testing.assert_allclose(dscores[0], [expected[0] - 1, expected[1], expected[2]], rtol=1e-12)


# ------------------------------------------------------------------------------------ softmax
@settings(max_examples=30, deadline=None)
@given(shape=st.lists(st.integers(1, 5), min_size=1, max_size=3).map(tuple), seed=st.integers(0, 2**31 - 1),
       shift=st.floats(-1e3, 1e3))
def test_softmax_properties(shape, seed, shift):
    s = np.random.default_rng(seed).standard_normal(shape) * 5
    p = L.softmax(s)
    assert p.shape == s.shape
    np.testing.assert_allclose(p.sum(axis=-1), 1.0, rtol=1e-12)
    assert np.all(p >= 0)
    np.testing.assert_allclose(L.softmax(s + shift), p, rtol=1e-9, atol=1e-12)    # shift invariance
    np.testing.assert_allclose(L.log_softmax(s), np.log(p), rtol=1e-10, atol=1e-12)


def test_softmax_axis_and_extremes():
    s = np.array([[1000.0, -1000.0, 0.0]])
    np.testing.assert_allclose(L.softmax(s), [[1.0, 0.0, 0.0]])
    ls = L.log_softmax(s)
    assert np.all(np.isfinite(ls))
    np.testing.assert_allclose(ls, [[0.0, -2000.0, -1000.0]])
    np.testing.assert_allclose(L.softmax(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0).sum(axis=0), [1, 1])


# -------------------------------------------------------------------------------- softmax loss
def test_softmax_loss_finite_and_right_at_1000():
    s = np.array([[1000.0, -1000.0, 0.0], [1000.0, -1000.0, 0.0]])
    loss, d = L.softmax_loss(s, np.array([0, 1]))
    # row 0: -log(1) = 0 (to double precision); row 1: logsumexp - s_1 = 1000 - (-1000) = 2000
    assert loss == pytest.approx(2000 / 2)
    assert np.all(np.isfinite(d))
    np.testing.assert_allclose(d, [[0, 0, 0], [0.5, -0.5, 0]], atol=1e-15)
    loss, _ = L.softmax_loss(-s, np.array([0, 0]))
    assert loss == pytest.approx(2000.0)


@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(1, 5), seed=st.integers(0, 2**31 - 1))
def test_softmax_loss_gradient(n, c, seed):
    rng = np.random.default_rng(seed)
    s, y = rng.standard_normal((n, c)) * 3, rng.integers(0, c, n)
    loss, d = L.softmax_loss(s, y)
    np.testing.assert_allclose(d, numerical_gradient(lambda z: L.softmax_loss(z, y)[0], s), rtol=1e-6, atol=1e-9)


def test_cross_entropy_is_a_deprecated_name_of_softmax_loss():
    # F.cross_entropy (a Tensor) and losses.cross_entropy (a float and an array) shared one name
    with pytest.warns(DeprecationWarning, match="losses.cross_entropy is deprecated.*softmax_loss"):
        assert L.cross_entropy is L.softmax_loss
    assert "cross_entropy" not in L.__all__


# ------------------------------------------------------------------------------------ SVM loss
@settings(max_examples=20, deadline=None)
@given(n=st.integers(1, 6), c=st.integers(2, 5), seed=st.integers(0, 2**31 - 1),
       margin=st.sampled_from([1.0, 0.5, 2.0]))
def test_svm_loss_value_and_gradient(n, c, seed, margin):
    rng = np.random.default_rng(seed)
    s, y = rng.standard_normal((n, c)) * 2, rng.integers(0, c, n)
    loss, d = L.svm_loss(s, y, margin=margin)
    by_hand = sum(max(0.0, s[i, j] - s[i, y[i]] + margin) for i in range(n) for j in range(c) if j != y[i]) / n
    assert loss == pytest.approx(by_hand)
    np.testing.assert_allclose(d, numerical_gradient(lambda z: L.svm_loss(z, y, margin)[0], s),
                               rtol=1e-6, atol=1e-9)


def test_svm_subgradient_at_exact_zero_margin():
    s = np.array([[2.0, 1.0, 0.0]])            # s1 - s0 + 1 == 0 exactly: on the kink
    loss, d = L.svm_loss(s, np.array([0]))
    assert loss == 0.0
    np.testing.assert_array_equal(d, np.zeros((1, 3)))


# --------------------------------------------------------------------------- regression, binary
@settings(max_examples=20, deadline=None)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), seed=st.integers(0, 2**31 - 1))
def test_mse_loss_mean_over_all_elements(shape, seed):
    rng = np.random.default_rng(seed)
    p, t = rng.standard_normal(shape), rng.standard_normal(shape)
    loss, d = L.mse_loss(p, t)
    assert loss == pytest.approx(sum((a - b) ** 2 for a, b in zip(p.ravel(), t.ravel(), strict=True)) / p.size)
    np.testing.assert_allclose(d, numerical_gradient(lambda z: L.mse_loss(z, t)[0], p), rtol=1e-6, atol=1e-10)


def test_logistic_loss_matches_two_class_softmax(rng):
    s, y = rng.standard_normal(7) * 4, rng.integers(0, 2, 7)
    loss, d = L.logistic_loss(s, y)
    # sigmoid(s) is the softmax of the two scores (0, s)
    two = np.stack([np.zeros_like(s), s], axis=1)
    loss2, d2 = L.softmax_loss(two, y)
    assert loss == pytest.approx(loss2)
    np.testing.assert_allclose(d, d2[:, 1], rtol=1e-10)
    np.testing.assert_allclose(d, numerical_gradient(lambda z: L.logistic_loss(z, y)[0], s), rtol=1e-6, atol=1e-10)
    assert L.logistic_loss(s, y.astype(bool))[0] == pytest.approx(loss)
    assert L.logistic_loss(s, y.astype(float))[0] == pytest.approx(loss)


def test_logistic_loss_stable_at_extremes():
    s = np.array([1000.0, -1000.0])
    loss, d = L.logistic_loss(s, np.array([1, 0]))
    assert loss == 0.0 and np.all(d == 0)
    loss, d = L.logistic_loss(s, np.array([0, 1]))
    assert loss == pytest.approx(1000.0)
    np.testing.assert_allclose(d, [0.5, -0.5])


# ---------------------------------------------------------------------------------- penalties
def test_penalties_convention_and_gradients(rng):
    W = rng.standard_normal((4, 3))
    pen, d = L.l2_penalty(W, 0.3)
    assert pen == pytest.approx(0.3 * np.sum(W * W))           # reg * sum W^2, no 1/2
    np.testing.assert_allclose(d, numerical_gradient(lambda z: L.l2_penalty(z, 0.3)[0], W), rtol=1e-7)
    pen, d = L.l1_penalty(W, 0.3)
    assert pen == pytest.approx(0.3 * np.abs(W).sum())
    np.testing.assert_allclose(d, numerical_gradient(lambda z: L.l1_penalty(z, 0.3)[0], W), rtol=1e-7)
    with pytest.raises(ValueError, match="reg"):
        L.l2_penalty(W, -1.0)


# ---------------------------------------------------------------------------------------- dtype
@pytest.mark.parametrize("loss", [L.svm_loss, L.softmax_loss])
def test_float32_kept(rng, loss):
    s = rng.standard_normal((4, 3)).astype(np.float32)
    _, d = loss(s, np.array([0, 1, 2, 0]))
    assert d.dtype == np.float32
    assert L.softmax(s).dtype == np.float32
    assert L.mse_loss(s, s + 1)[1].dtype == np.float32


def test_integer_scores_are_promoted():
    loss, d = L.softmax_loss(np.array([[1, 2, 3]]), np.array([2]))
    assert d.dtype == np.float64 and np.isfinite(loss)


# --------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize("loss", [L.svm_loss, L.softmax_loss])
@pytest.mark.parametrize("scores, y, error, words", [
    (np.zeros(3), np.array([0]), ValueError, r"scores must be 2-D, got shape \(3,\)"),
    (np.zeros((2, 3)), np.array([0.0, 1.0]), TypeError, "y must hold integer class labels, got dtype float64"),
    (np.zeros((2, 3)), np.array([0, 3]), ValueError, r"y must hold labels in \[0, 3\).*found 3"),
    (np.zeros((2, 3)), np.array([-1, 0]), ValueError, "found -1"),
    (np.zeros((2, 3)), np.array([0, 1, 2]), ValueError, "expected length 2, got 3"),
    (np.zeros((2, 3)), np.array([[0], [1]]), ValueError, r"y must be 1-D.*\(2, 1\)"),
    (np.array([[0.0, np.nan, 1.0]]), np.array([0]), ValueError, "scores .*NaN"),
    (np.array([[0.0, np.inf, 1.0]]), np.array([0]), ValueError, "scores .*NaN/inf"),
    (np.array([["a", "b"]]), np.array([0]), TypeError, "scores must hold real \\(bool, integer or float\\) values, got dtype <U1"),
])
def test_bad_inputs_named(loss, scores, y, error, words):
    with pytest.raises(error, match=words):
        loss(scores, y)


def test_bad_regression_and_binary_inputs():
    with pytest.raises(ValueError, match=r"target must have the shape of pred \(3,\), got \(3, 1\)"):
        L.mse_loss(np.zeros(3), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="y must hold binary labels"):
        L.logistic_loss(np.zeros(3), np.array([0, 1, 2]))
    with pytest.raises(ValueError, match=r"scores must be 1-D, got shape \(3, 1\)"):
        L.logistic_loss(np.zeros((3, 1)), np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="pred .*NaN"):
        L.mse_loss(np.array([np.nan]), np.array([0.0]))


def test_validation_helper_is_public():
    s, y = L.check_scores_labels([[1.0, 2.0]], [1])
    assert s.shape == (1, 2) and y.dtype.kind == "i"
    with pytest.raises(ValueError, match=r"labels must hold labels in \[0, 3\)"):
        L.check_scores_labels(np.zeros((2, 3)), np.array([0, 5]), scores_name="logits", y_name="labels")
    with pytest.raises(ValueError, match=r"logits must be 2-D"):
        L.check_scores_labels(np.zeros(3), np.array([0]), scores_name="logits")
