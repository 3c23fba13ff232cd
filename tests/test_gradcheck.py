"""deepgrad.gradcheck: numerical gradients against known derivatives, and the checker's verdicts/diagnoses."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from deepgrad import gradcheck as gc
from deepgrad.gradcheck import (
    GOOD, NEAR_KINK, WRONG, WRONG_SHAPE, PrecisionWarning, check_gradient, check_gradients,
    numerical_gradient, numerical_gradient_array, numerical_jacobian, rel_error,
)

shapes = st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple)


# ------------------------------------------------------------------------------ numerical gradients
@settings(max_examples=25, deadline=None)
@given(shape=shapes, seed=st.integers(0, 2**31 - 1))
def test_numerical_gradient_matches_known_derivative(shape, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    a = rng.standard_normal(shape)
    # f(x) = sum(a * sin(x)) + 0.5 * sum(x^2) has gradient a * cos(x) + x
    f = lambda x: float((a * np.sin(x)).sum() + 0.5 * (x ** 2).sum())
    np.testing.assert_allclose(numerical_gradient(f, x), a * np.cos(x) + x, rtol=1e-7, atol=1e-9)


def test_x_is_restored_even_when_f_raises(rng):
    x = rng.standard_normal((3, 2))
    before = x.copy()
    numerical_gradient(lambda z: float(np.sum(z ** 3)), x)
    np.testing.assert_array_equal(x, before)
    calls = []

    def boom(z):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("boom")
        return float(z.sum())

    with pytest.raises(RuntimeError):
        numerical_gradient(boom, x)
    np.testing.assert_array_equal(x, before)


def test_f_that_reads_x_from_a_closure(rng):
    """CS231n style: f ignores its argument and reads the array that is perturbed in place."""
    W = rng.standard_normal((3, 3))
    g = numerical_gradient(lambda _: float((W ** 2).sum()), W)
    np.testing.assert_allclose(g, 2 * W, rtol=1e-8)


def test_centred_is_more_accurate_than_forward():
    x = np.array([0.7])
    exact = np.cos(0.7)
    f = lambda z: float(np.sin(z[0]))
    for h in (1e-2, 1e-3):
        err_c = abs(numerical_gradient(f, x, h)[0] - exact)
        err_f = abs(numerical_gradient(f, x, h, method="forward")[0] - exact)
        err_b = abs(numerical_gradient(f, x, h, method="backward")[0] - exact)
        # forward/backward error ~ h/2 |f''| = h/2 sin(0.7); centred ~ h^2/6 |f'''|
        assert err_f == pytest.approx(h / 2 * np.sin(0.7), rel=0.05)
        assert err_b == pytest.approx(h / 2 * np.sin(0.7), rel=0.05)
        assert err_c == pytest.approx(h ** 2 / 6 * np.cos(0.7), rel=0.05)


def test_float32_warns_and_is_inaccurate():
    x = np.array([0.7], dtype=np.float32)
    f = lambda z: np.sin(z[0])
    with pytest.warns(PrecisionWarning, match="float64"):
        g32 = numerical_gradient(f, x, 1e-5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        numerical_gradient(f, x, 1e-5, warn=False)     # the lesson silences it on purpose
        g64 = numerical_gradient(f, x.astype(np.float64), 1e-5)
    exact = np.cos(np.float64(x[0]))
    assert abs(g64[0] - exact) < 1e-9
    assert abs(g32[0] - exact) > 1e-4


def test_numerical_gradient_array_is_vjp(rng):
    x = rng.standard_normal((4, 3))
    A = rng.standard_normal((3, 5))
    dout = rng.standard_normal((4, 5))
    f = lambda z: np.tanh(z @ A)
    expected = ((1 - np.tanh(x @ A) ** 2) * dout) @ A.T
    np.testing.assert_allclose(numerical_gradient_array(f, x, dout), expected, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("numerical", [
    lambda f, x: numerical_gradient(f, x),
    lambda f, x: numerical_gradient(f, x, method="forward"),
    lambda f, x: numerical_gradient_array(lambda z: np.atleast_1d(f(z)), x, np.ones(1)),
    lambda f, x: numerical_jacobian(lambda z: np.atleast_1d(f(z)), x),
    lambda f, x: check_gradient(f, x, np.zeros_like(x)),
], ids=["centred", "forward", "array", "jacobian", "checker"])
def test_every_numerical_derivative_restores_x_when_f_raises(rng, numerical):
    x = rng.standard_normal((2, 3))
    before = x.copy()
    calls = []

    def f(z):
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeError("boom")
        return float(np.sum(z ** 2))

    with pytest.raises(RuntimeError, match="boom"):
        numerical(f, x)
    np.testing.assert_array_equal(x, before)


def test_numerical_gradient_array_copes_with_reused_output_buffer(rng):
    x = rng.standard_normal(3)
    buf = np.empty(3)

    def f(z):
        np.multiply(z, 3.0, out=buf)
        return buf

    np.testing.assert_allclose(numerical_gradient_array(f, x, np.ones(3)), 3 * np.ones(3), rtol=1e-8)


def test_numerical_jacobian_numerator_layout(rng):
    x = rng.standard_normal(3)
    A = rng.standard_normal((2, 3))
    J = numerical_jacobian(lambda z: A @ z, x)
    assert J.shape == (2, 3)                       # rows = outputs, columns = inputs
    np.testing.assert_allclose(J, A, rtol=1e-8)
    X = rng.standard_normal((2, 2))
    J = numerical_jacobian(lambda z: z ** 2, X)
    np.testing.assert_allclose(J, np.diag(2 * X.ravel()), atol=1e-8)


def test_bad_inputs_named():
    with pytest.raises(TypeError, match="array"):
        numerical_gradient(lambda z: 0.0, 3.0)
    with pytest.raises(TypeError, match="floating-point"):
        numerical_gradient(lambda z: 0.0, np.array([1, 2]))
    with pytest.raises(ValueError, match="h must be"):
        numerical_gradient(lambda z: 0.0, np.zeros(2), h=0)
    with pytest.raises(ValueError, match="method"):
        numerical_gradient(lambda z: 0.0, np.zeros(2), method="sideways")
    with pytest.raises(ValueError, match="scalar"):
        numerical_gradient(lambda z: z, np.zeros(2))


# ---------------------------------------------------------------------------------------- rel_error
def test_rel_error_definition():
    a, b = np.array([1.0, 0.0, 3.0]), np.array([1.1, 0.0, 3.0])
    assert rel_error(a, b) == pytest.approx(0.1 / 2.1)
    assert rel_error(np.zeros(2), np.zeros(2)) == 0.0
    assert rel_error(np.array([1e-9]), np.array([0.0])) == pytest.approx(1e-9 / 1e-8)   # the 1e-8 floor
    with pytest.raises(ValueError, match=r"\(2, 3\).*\(3, 2\)"):
        rel_error(np.zeros((2, 3)), np.zeros((3, 2)))


# ----------------------------------------------------------------------------------------- checker
def _problem(rng, n=6, d=5, c=4, reg=0.1):
    """A softmax-regression loss with L2 and its correct gradient, written here independently."""
    X = rng.standard_normal((n, d))
    y = rng.integers(0, c, n)
    W = 0.5 * rng.standard_normal((d, c))

    def loss(W):
        s = X @ W
        s = s - s.max(axis=1, keepdims=True)
        logp = s - np.log(np.exp(s).sum(axis=1, keepdims=True))
        return -logp[np.arange(n), y].mean() + reg * (W ** 2).sum()

    def grad(W):
        s = X @ W
        p = np.exp(s - s.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        p[np.arange(n), y] -= 1
        return X.T @ p / n + 2 * reg * W

    return W, loss, grad, n, reg


def test_correct_gradient_passes_silently(rng):
    W, loss, grad, n, reg = _problem(rng)
    report = check_gradient(loss, W, grad(W), name="W", batch_size=n, reg=reg)
    assert report.ok and report.verdict == GOOD
    assert report.diagnosis == []
    assert report.kinks == 0
    assert report.max_rel_error < 1e-7
    text = str(report)
    assert "W" in text and "(5, 4)" in text and "good" in text


def _planted(mistake, W, g, n, reg):
    """The analytic gradient with one typical mistake planted in it."""
    data, penalty = g - 2 * reg * W, 2 * reg * W
    return {
        "sign": -g, "double": 2 * g, "half": g / 2, "factor_3": 3 * g, "transposed_square": g.T,
        "sum_not_mean": data * n + penalty, "divide_twice": data / n + penalty,
        "missing_reg": data, "half_reg": data + penalty / 2, "double_reg": data + 2 * penalty,
        "reg_sign": data - penalty,
    }[mistake]


@pytest.mark.parametrize("mistake, reg, words", [
    ("sign", 0.1, "opposite sign"),
    ("double", 0.1, "twice"),
    ("half", 0.1, "half"),
    ("factor_3", 0.1, "3 times"),
    ("transposed_square", 0.1, "transpose"),
    ("sum_not_mean", 0.0, "N = 6 times"),
    ("divide_twice", 0.0, "1/N = 1/6"),
    ("sum_not_mean", 0.1, "data part of the gradient (without the regulariser): your gradient is N = 6 times"),
    ("divide_twice", 0.1, "1/N = 1/6"),
    ("missing_reg", 0.1, "regularisation"),
    ("half_reg", 0.1, "2*reg*W, not reg*W"),
    ("double_reg", 0.1, "added twice"),
    ("reg_sign", 0.1, "wrong sign"),
])
def test_planted_mistakes_are_diagnosed(rng, mistake, reg, words):
    W, loss, grad, n, reg = _problem(rng, d=4, c=4, reg=reg)      # square W so a transpose keeps the shape
    report = check_gradient(loss, W, _planted(mistake, W, grad(W), n, reg), name="W", batch_size=n, reg=reg)
    assert not report.ok
    assert report.verdict == WRONG
    assert len(report.diagnosis) == 1, report.diagnosis
    assert words in report.diagnosis[0], report.diagnosis
    assert "Not OK" in str(report)


@pytest.mark.parametrize("mistake, reg, code", [
    ("sign", 0.1, "sign"), ("double", 0.1, "factor_2"), ("half", 0.1, "factor_2"), ("factor_3", 0.1, "factor"),
    ("transposed_square", 0.1, "transposed"), ("sum_not_mean", 0.0, "factor_n"), ("divide_twice", 0.1, "factor_n"),
    ("missing_reg", 0.1, "no_reg"), ("half_reg", 0.1, "half_reg"), ("double_reg", 0.1, "double_reg"),
    ("reg_sign", 0.1, "sign"),
])
def test_each_finding_names_its_mistake_by_a_code(rng, mistake, reg, code):
    """Beside each sentence, the code a program counts (the grader's class report): the words may change."""
    W, loss, grad, n, reg = _problem(rng, d=4, c=4, reg=reg)
    report = check_gradient(loss, W, _planted(mistake, W, grad(W), n, reg), name="W", batch_size=n, reg=reg)
    assert [f.code for f in report.findings] == [code]
    assert [f.text for f in report.findings] == report.diagnosis == report["W"].diagnosis

def _problem_with_zeros(rng, n=6, reg=0.1):
    """A multiclass SVM loss (square W) whose gradient has exact and near-zero entries, and its gradient.

    Row 0 of W meets a feature that is 0 everywhere: its data gradient is exactly 0 and so is its centred
    difference. Row 1 meets a feature of size 1e-11: its true entries are ~1e-11, of the order of the
    rounding noise of finite differences. Class 3 never comes within the margin: column 3 of the data
    gradient is exactly 0, and with the regulariser the data part there is rounding noise (~1e-11).
    """
    d = c = 4
    X = rng.standard_normal((n, d))
    X[:, 0] = 0.0
    X[:, 1] *= 1e-11
    X[:, -1] = 1.0
    y = rng.integers(0, c - 1, n)
    W = 0.3 * rng.standard_normal((d, c))
    W[-1, 3] = -20.0                      # class 3's bias: its margins are always violated by nobody

    def loss(W):
        s = X @ W
        m = np.maximum(0.0, s - s[np.arange(n), y][:, None] + 1.0)
        m[np.arange(n), y] = 0.0
        return m.sum() / n + reg * (W ** 2).sum()

    s = X @ W
    m = s - s[np.arange(n), y][:, None] + 1.0
    G = (m > 0).astype(float)
    G[np.arange(n), y] = 0.0
    G[np.arange(n), y] = -G.sum(axis=1)
    return W, loss, X.T @ G / n + 2 * reg * W, n, reg


_SLIPS_WITHOUT_REG = [("sum_not_mean", "N = 6 times"), ("divide_twice", "1/N = 1/6"), ("sign", "opposite sign"),
                      ("transposed_square", "transpose")]
_REG_SLIPS = [("missing_reg", "regulariser's term (2*reg*W for reg*sum(W**2)) seems to be missing"),
              ("half_reg", "2*reg*W, not reg*W")]


@pytest.mark.parametrize("mistake, words, reg", [(m, w, 0.0) for m, w in _SLIPS_WITHOUT_REG]
                         + [(m, w, 0.1) for m, w in _SLIPS_WITHOUT_REG + _REG_SLIPS])
def test_diagnoses_hold_with_exact_and_near_zero_entries(rng, mistake, words, reg):
    W, loss, g, n, reg = _problem_with_zeros(rng, reg=reg)
    numeric = numerical_gradient(loss, W)
    data = numeric - 2 * reg * W
    # the situation of the issue: entries (of the data part) that are zero up to rounding, and exact
    # zeros where no regulariser blurs them
    assert np.any((data != 0.0) & (np.abs(data) < 1e-9)), data
    assert np.any(data == 0.0) == (reg == 0.0), data
    assert check_gradient(loss, W, g, name="W", batch_size=n, reg=reg).ok       # g itself is right
    report = check_gradient(loss, W, _planted(mistake, W, g, n, reg), name="W", batch_size=n, reg=reg)
    assert not report.ok and report.verdict == WRONG
    assert len(report.diagnosis) == 1 and words in report.diagnosis[0], report.diagnosis
    assert "No single slip" not in str(report)


def test_diagnoses_are_not_invented_for_noise(rng):
    """The noise floor makes the hypotheses tolerant of entries near zero, not of real errors."""
    W, loss, g, n, reg = _problem_with_zeros(rng)
    wrong = 6 * (g - 2 * reg * W) + 2 * reg * W
    wrong[2, 0] += 1e-3                           # an error far above rounding, in one entry
    report = check_gradient(loss, W, wrong, name="W", batch_size=n, reg=reg)
    assert not report.ok and "N = 6 times" not in str(report)
    assert "No single slip" in str(report)


def test_wrong_shape_and_transposed_shape(rng):
    W, loss, grad, n, reg = _problem(rng)
    report = check_gradient(loss, W, grad(W).T, name="W")
    assert not report.ok and report.verdict == WRONG_SHAPE
    assert "(4, 5)" in report.diagnosis[0] and "(5, 4)" in report.diagnosis[0]
    assert "transpose" in report.diagnosis[0].lower()
    report = check_gradient(loss, W, grad(W).ravel(), name="W")
    assert report.verdict == WRONG_SHAPE and "reshape" in report.diagnosis[0]


def test_small_localised_bug_is_located(rng):
    W, loss, grad, n, reg = _problem(rng)
    g = grad(W)
    g[-1] += 0.3                      # a broken bias row
    report = check_gradient(loss, W, g, name="W", batch_size=n, reg=reg)
    assert not report.ok
    text = " ".join(report.diagnosis)
    assert "row 4" in text and "bias" in text


def test_zero_gradient_and_f_not_reading_x(rng):
    W, loss, grad, n, reg = _problem(rng)
    report = check_gradient(loss, W, np.zeros_like(W), name="W")
    assert not report.ok and "all zeros" in report.diagnosis[0]
    copy = W.copy()
    report = check_gradient(lambda _: loss(copy), W, grad(W), name="W")
    assert not report.ok and "copy" in report.diagnosis[0]


def test_relu_kink_at_zero_is_detected():
    x = np.array([0.0, 1.5, -2.0])
    relu_sum = lambda z: float(np.maximum(z, 0).sum())
    analytic = (x > 0).astype(float)            # subgradient 0 at the kink
    report = check_gradient(relu_sum, x, analytic)
    assert report.kinks == 1
    np.testing.assert_array_equal(report["x"].kink_mask, [True, False, False])
    assert report.ok and report.verdict == NEAR_KINK
    assert "kink" in str(report)
    # away from any kink nothing is flagged
    report = check_gradient(relu_sum, np.array([0.5, 1.5, -2.0]), np.array([1.0, 1.0, 0.0]))
    assert report.kinks == 0 and report.verdict == GOOD


@pytest.mark.parametrize("offset", [0.0, 1e-6, 1e-5 / 3, 0.5e-5, 0.9e-5, -1e-5 / 3])
def test_kinks_within_h_are_detected_wherever_they_sit(offset):
    x = np.array([offset])
    report = check_gradient(lambda z: float(np.abs(z[0])), x, np.sign(x))
    assert report.kinks == 1


def test_hinge_with_margin_exactly_zero_is_a_kink():
    # scores (correct class 0): s1 - s0 + 1 == 0 exactly, so the hinge sits on its kink
    s = np.array([[2.0, 1.0, -3.0]])
    y = np.array([0])

    def hinge(s):
        m = s - s[np.arange(1), y][:, None] + 1
        m[np.arange(1), y] = 0
        return float(np.maximum(m, 0).sum())

    analytic = np.zeros_like(s)          # margins > 0 only: nothing active
    report = check_gradient(hinge, s, analytic, name="scores")
    assert report.kinks == 2             # s0 and s1 both move the zero margin
    assert report.ok
    # a genuinely wrong gradient at a kink point is still caught by the smooth entries
    report = check_gradient(hinge, s, np.array([[0.0, 0.0, 1.0]]), name="scores")
    assert not report.ok
    # ... and so is a value at a kink entry that is neither one-sided slope
    report = check_gradient(hinge, s, np.array([[0.0, 3.0, 0.0]]), name="scores")
    assert not report.ok and report.kinks == 1


def test_kink_excuses_only_values_between_the_one_sided_slopes():
    x = np.zeros(3)                                   # every entry sits on a ReLU kink
    relu_sum = lambda z: float(np.maximum(z, 0).sum())
    for analytic in (np.zeros(3), np.ones(3), np.array([0.0, 0.5, 1.0])):
        report = check_gradient(relu_sum, x, analytic)
        assert report.ok and report.kinks == 3, str(report)
    report = check_gradient(relu_sum, x, np.array([0.0, -1.0, 2.0]))
    assert not report.ok and report.kinks == 1


def test_no_false_kinks_on_smooth_functions(rng):
    for f in (lambda z: float(np.exp(z).sum()), lambda z: float(1e3 * np.tanh(3 * z).sum()),
              lambda z: float(np.log(np.exp(10 * z).sum())), lambda z: float(1e6 * (z ** 3).sum())):
        for _ in range(10):
            x = rng.standard_normal((3, 3))
            assert check_gradient(f, x, numerical_gradient(f, x))["x"].kinks == 0


def test_check_gradients_several_parameters(rng):
    X = rng.standard_normal((5, 3))
    W, b = rng.standard_normal((3, 2)), rng.standard_normal(2)
    reg = 0.05
    params = {"W": W, "b": b}
    loss = lambda p: float(((X @ p["W"] + p["b"]) ** 2).sum() / 5 + reg * (p["W"] ** 2).sum())
    r = X @ W + b
    grads = {"W": 2 * X.T @ r / 5 + 2 * reg * W, "b": 2 * r.sum(0) / 5}
    report = check_gradients(loss, params, grads, batch_size=5, reg=reg)
    assert report.ok and set(report.rel_errors) == {"W", "b"}
    bad = dict(grads, W=2 * X.T @ r / 5)             # forgot the regulariser on W only
    report = check_gradients(loss, params, bad, batch_size=5, reg=reg)
    assert not report.ok and report["b"].ok and not report["W"].ok
    assert report.diagnosis[0].startswith("W: ") and "regularisation" in report.diagnosis[0]
    html = report._repr_html_()
    assert "<table>" in html and "not OK" in html
    with pytest.raises(ValueError, match="'b'"):
        check_gradients(loss, params, {"W": grads["W"]})


def test_checker_warns_for_float32_and_does_not_vouch_for_it(rng):
    x = rng.standard_normal(3).astype(np.float32)
    with pytest.warns(PrecisionWarning, match="float64"):
        report = check_gradient(lambda z: (z ** 2).sum(), x, 2 * x)
    # a float32 loss blurs the differences by ~eps32*|f|/h ~ 1e-2: a wrong gradient would "agree" too
    assert not report.ok and report.verdict == gc.CANNOT_TELL
    assert "float64" in report.diagnosis[0]


def test_tiny_entries_do_not_fail_a_correct_gradient():
    # f = 1e3 * (x0^2 + x1^2) at x1 ~ 0: the tiny entry is below what finite differences can resolve
    x = np.array([1.0, 1e-12])
    report = check_gradient(lambda z: float(1e3 * (z ** 2).sum()), x, 2e3 * x)
    assert report.ok, str(report)


def test_report_is_readable_sentence(rng):
    W, loss, grad, n, reg = _problem(rng)
    text = str(check_gradient(loss, W, -grad(W), name="W"))
    assert text.startswith("Gradient check for W (shape (5, 4)): max relative error")
    assert "wrong." in text and text.count("\n") == 0
    assert isinstance(gc.GradientReport, type)


def test_a_missing_branch_gets_the_sum_over_paths_hint(rng):
    x = rng.standard_normal(6)
    f = lambda x: float(np.sum(x * np.exp(x)))   # x is used twice: d/dx = exp(x) + x exp(x)
    report = gc.check_gradient(f, x, np.exp(x))   # only the first path
    assert not report.ok
    assert "sum over all paths" in str(report)
