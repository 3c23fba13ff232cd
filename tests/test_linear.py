"""deepgrad.linear: naive == vectorised, gradients vs numerical ones, the bias trick, training on digits."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from deepgrad import linear
from deepgrad.gradcheck import check_gradient
from deepgrad.linear import (
    LinearClassifier, LinearSVM, Softmax, add_bias_column,
    softmax_loss_naive, softmax_loss_vectorized, svm_loss_naive, svm_loss_vectorized,
)

PAIRS = {"svm": (svm_loss_naive, svm_loss_vectorized), "softmax": (softmax_loss_naive, softmax_loss_vectorized)}


def _problem(seed, n, d, c):
    rng = np.random.default_rng(seed)
    X = add_bias_column(rng.standard_normal((n, d)))
    return 0.1 * rng.standard_normal((d + 1, c)), X, rng.integers(0, c, n)


@pytest.mark.parametrize("kind", PAIRS)
@settings(max_examples=15, deadline=None)
@given(n=st.integers(1, 8), d=st.integers(1, 6), c=st.integers(2, 5), seed=st.integers(0, 2**31 - 1),
       reg=st.sampled_from([0.0, 1e-3, 0.5]))
def test_naive_equals_vectorized(kind, n, d, c, seed, reg):
    W, X, y = _problem(seed, n, d, c)
    naive, vec = PAIRS[kind]
    loss_n, dW_n = naive(W, X, y, reg)
    loss_v, dW_v = vec(W, X, y, reg)
    assert loss_n == pytest.approx(loss_v, rel=1e-12)
    np.testing.assert_allclose(dW_n, dW_v, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kind", PAIRS)
@pytest.mark.parametrize("implementation", [0, 1], ids=["naive", "vectorized"])
@settings(max_examples=8, deadline=None)
@given(n=st.integers(1, 6), d=st.integers(1, 5), c=st.integers(2, 4), seed=st.integers(0, 2**31 - 1),
       reg=st.sampled_from([0.0, 0.1]))
def test_gradient_matches_numerical(kind, implementation, n, d, c, seed, reg):
    W, X, y = _problem(seed, n, d, c)
    fn = PAIRS[kind][implementation]
    _, dW = fn(W, X, y, reg)
    report = check_gradient(lambda _: fn(W, X, y, reg)[0], W, dW, name="W", batch_size=n, reg=reg)
    assert report.ok, str(report)


def test_loss_values_by_hand():
    # one example, two features (the last is the bias 1), three classes
    X = np.array([[2.0, 1.0]])
    W = np.array([[1.0, 0.5, -1.0], [0.2, 0.0, 0.1]])       # scores = [2.2, 1.0, -1.9]
    y = np.array([0])
    hinge = max(0, 1.0 - 2.2 + 1) + max(0, -1.9 - 2.2 + 1)   # 0.8
    reg_term = 0.1 * (1 + 0.25 + 1 + 0.04 + 0 + 0.01)
    assert svm_loss_vectorized(W, X, y, 0.1)[0] == pytest.approx(hinge + reg_term)
    lse = np.log(np.exp(2.2) + np.exp(1.0) + np.exp(-1.9))
    assert softmax_loss_vectorized(W, X, y, 0.1)[0] == pytest.approx(lse - 2.2 + reg_term)


def test_bias_row_is_regularised_too(rng):
    W, X, y = _problem(1, 4, 3, 3)
    for _naive, vec in PAIRS.values():
        (l0, g0), (l1, g1) = vec(W, X, y, 0.0), vec(W, X, y, 0.5)
        assert l1 - l0 == pytest.approx(0.5 * np.sum(W ** 2))
        np.testing.assert_allclose(g1 - g0, 2 * 0.5 * W)     # including the last (bias) row


def test_svm_kink_is_recognised_by_the_checker():
    # scores = x W = W[0] = [2, 1, 0] with label 0: the car-like margin 1 - 2 + 1 is exactly 0
    X = np.array([[1.0, 0.0]])
    W = np.array([[2.0, 1.0, 0.0], [0.3, -0.2, 0.1]])
    y = np.array([0])
    for fn in PAIRS["svm"]:
        loss, dW = fn(W, X, y, 0.1)
        assert loss == pytest.approx(0.1 * np.sum(W ** 2))     # no margin is positive
        report = check_gradient(lambda _, fn=fn: fn(W, X, y, 0.1)[0], W, dW, name="W")
        assert report.kinks == 2 and report.ok, str(report)
        assert "kink" in str(report)


def test_bias_trick():
    rng = np.random.default_rng(3)
    X, W, b = rng.standard_normal((5, 4)), rng.standard_normal((4, 3)), rng.standard_normal(3)
    Xb = add_bias_column(X)
    assert Xb.shape == (5, 5) and np.all(Xb[:, -1] == 1)
    np.testing.assert_allclose(Xb @ np.vstack([W, b]), X @ W + b)
    assert add_bias_column(X.astype(np.float32)).dtype == np.float32


def test_float32_kept(rng):
    W, X, y = _problem(2, 6, 4, 3)
    for fn in (svm_loss_vectorized, softmax_loss_vectorized, svm_loss_naive, softmax_loss_naive):
        loss, dW = fn(W.astype(np.float32), X.astype(np.float32), y, 0.1)
        assert dW.dtype == np.float32 and np.isfinite(loss)


@pytest.mark.filterwarnings("ignore:.*encountered:RuntimeWarning")   # the overflow case, on purpose
@pytest.mark.parametrize("fn", [svm_loss_naive, svm_loss_vectorized, softmax_loss_naive, softmax_loss_vectorized])
def test_bad_inputs_named(fn):
    W, X, y = _problem(0, 4, 3, 3)
    with pytest.raises(ValueError, match=r"add_bias_column"):
        fn(W, X[:, :-1], y, 0.1)
    with pytest.raises(ValueError, match=r"X has shape \(4, 4\), W has shape \(3, 3\)"):
        fn(W[:-1], X, y, 0.1)
    with pytest.raises(ValueError, match=r"W must be 2-D"):
        fn(W[:, 0], X, y, 0.1)
    with pytest.raises(TypeError, match="y must hold integer class labels"):
        fn(W, X, y.astype(float), 0.1)
    with pytest.raises(ValueError, match=r"y must hold labels in \[0, 3\)"):
        fn(W, X, y + 3, 0.1)
    with pytest.raises(ValueError, match="expected length 4"):
        fn(W, X, y[:2], 0.1)
    Xbad = X.copy()
    Xbad[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"X \(shape \(4, 4\)\) contains 1 NaN"):
        fn(W, Xbad, y, 0.1)
    Wbad = W.copy()
    Wbad[0, 0] = np.inf
    with pytest.raises(ValueError, match="W .*NaN/inf"):
        fn(Wbad, X, y, 0.1)
    with pytest.raises(ValueError, match="overflowed|scores"):
        fn(W * 1e300, X * 1e300, y, 0.1)
    with pytest.raises(ValueError, match="reg must be a finite number >= 0"):
        fn(W, X, y, -0.1)


# --------------------------------------------------------------------------------- the classifier
@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, random_state=0, stratify=y)
    mu, sd = Xtr.mean(axis=0), Xtr.std(axis=0) + 1e-8        # standardise with training statistics only
    return (Xtr - mu) / sd, ytr, (Xte - mu) / sd, yte


@pytest.mark.parametrize("cls, lr, goal", [(Softmax, 0.05, 0.93), (LinearSVM, 0.01, 0.93)])
def test_trains_on_digits(digits, cls, lr, goal):
    Xtr, ytr, Xte, yte = digits
    clf = cls(reg=1e-4, seed=0)
    history = clf.train(Xtr, ytr, learning_rate=lr, num_iters=500, batch_size=100)
    assert len(history) == 500
    assert np.mean(history[-50:]) < 0.3 * history[0]
    assert clf.W.shape == (65, 10)
    pred = clf.predict(Xte)
    assert pred.shape == yte.shape
    accuracy = np.mean(pred == yte)
    assert accuracy >= goal, accuracy
    assert clf.scores(Xte).shape == (len(yte), 10)
    templates = clf.templates((8, 8))
    assert templates.shape == (10, 8, 8)
    np.testing.assert_array_equal(templates[3], clf.W[:-1, 3].reshape(8, 8))


def test_float32_training_and_reproducibility(digits):
    Xtr, ytr, Xte, yte = digits
    a = LinearClassifier("softmax", reg=1e-4, seed=5)
    ha = a.train(Xtr.astype(np.float32), ytr, learning_rate=0.05, num_iters=50, batch_size=64)
    assert a.W.dtype == np.float32 and a.scores(Xte.astype(np.float32)).dtype == np.float32
    b = LinearClassifier("softmax", reg=1e-4, seed=5)
    hb = b.train(Xtr.astype(np.float32), ytr, learning_rate=0.05, num_iters=50, batch_size=64)
    assert ha == hb


def test_without_bias_and_verbose(capsys):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = (X[:, 0] > 0).astype(int)
    clf = LinearClassifier("svm", bias=False, seed=0)
    clf.train(X, y, learning_rate=0.1, num_iters=101, batch_size=10, verbose=True)
    assert clf.W.shape == (3, 2) and clf.templates((3,)).shape == (2, 3)
    assert "iteration 100 / 101" in capsys.readouterr().out
    assert np.mean(clf.predict(X) == y) > 0.9


def test_classifier_errors(digits):
    with pytest.raises(ValueError, match="loss must be one of"):
        LinearClassifier("hinge")
    clf = Softmax(seed=0)
    with pytest.raises(RuntimeError, match="call train"):
        clf.predict(np.zeros((1, 64)))
    Xtr, ytr, *_ = digits
    clf.train(Xtr, ytr, num_iters=1)
    with pytest.raises(ValueError, match="64 columns"):
        clf.predict(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"image_shape \(32, 32, 3\)"):
        clf.templates((32, 32, 3))
    with pytest.raises(ValueError, match="batch_size"):
        clf.train(Xtr, ytr, batch_size=0)
    assert "Softmax" in repr(clf) and linear.LinearSVM().loss_name == "svm"
