"""The library at the edges, where a student poking at it lands: PyTorch's answers, checked against
independent numbers (exact decimal arithmetic, centred differences in float64), never against the
library itself."""
from __future__ import annotations

import warnings
from decimal import Decimal, getcontext

import numpy as np
import pytest

import fake_cuda
from deepgrad import autograd, data, layers, losses, nn
from deepgrad import functional as F
from deepgrad.autograd import Tensor
from deepgrad.gradcheck import numerical_gradient


def centred(f, x, h=1e-6):
    """d f / d x by centred differences in float64: gradcheck's, which never touches the engine."""
    return numerical_gradient(f, np.array(x, dtype=np.float64), h=h)


def exact_sigmoid(x: float) -> float:
    """1 / (1 + e^-x) with 50 significant digits, rounded once to float."""
    getcontext().prec = 50
    return float(1 / (1 + (-Decimal(x)).exp()))


# --------------------------------------------------------------------------------------------- pow
@pytest.mark.parametrize("x", [0.0, 1.5, -2.0])
def test_power_zero_has_slope_zero_everywhere_also_at_zero(x):
    t = Tensor(np.array([x]), requires_grad=True)
    (t ** 0).sum().backward()
    assert t.grad[0] == 0.0  # x**0 is the constant 1 (PyTorch: 0; it used to be 0 * inf = NaN at 0)
    np.testing.assert_array_equal(t.grad, centred(lambda v: float(v[0] ** 0), [x]))


def test_power_zero_forward_mode_is_zero_at_zero():
    _, tangent = autograd.jvp(lambda t: t ** 0, np.zeros(3), np.ones(3))
    np.testing.assert_array_equal(tangent, np.zeros(3))


def test_other_powers_keep_their_slope_at_zero():
    t = Tensor(np.array([0.0, 2.0]), requires_grad=True)
    (t ** 3).sum().backward()
    np.testing.assert_allclose(t.grad, [0.0, 12.0])


# ----------------------------------------------------------------------------------------- sigmoid
XS = [-745.0, -700.0, -40.0, -30.0, -20.0, -1.0, 0.0, 1e-9, 3.0, 30.0, 40.0]


@pytest.mark.parametrize("x", XS)
def test_sigmoid_has_full_relative_accuracy_far_below_zero(x):
    expected = exact_sigmoid(x)
    got = Tensor(np.array(x)).sigmoid().item()
    assert got == pytest.approx(expected, rel=4e-16, abs=0.0)  # sigmoid(-40) is 4.25e-18, not 0


def test_every_sigmoid_is_the_same_function():
    x = np.array(XS)
    reference = Tensor(x).sigmoid().data
    for other in (layers.sigmoid_forward(x)[0], F.sigmoid(Tensor(x)).data, nn.Sigmoid()(Tensor(x)).data,
                  losses.sigmoid(x)):
        np.testing.assert_array_equal(other, reference)  # bit for bit


def test_log_sigmoid_far_below_zero_is_finite_with_gradient_one():
    x = Tensor(-40.0, requires_grad=True)
    out = x.sigmoid().log()
    out.backward()
    assert out.item() == pytest.approx(-40.0, rel=1e-15)  # log σ(x) = x - log(1 + e^x) ≈ x; PyTorch: -40
    assert x.grad == pytest.approx(1.0, rel=1e-15)      # d/dx log σ(x) = 1 - σ(x); PyTorch: 1
    numerical = centred(lambda v: float(np.log(exact_sigmoid(float(v)))), -40.0, h=1e-4)
    assert x.grad == pytest.approx(float(numerical), rel=1e-9)


def test_sigmoid_keeps_float32_and_its_gradient_matches_differences():
    x32 = Tensor(np.array([-50.0, 0.5], dtype=np.float32))
    assert x32.sigmoid().dtype == np.float32 and x32.sigmoid().data[0] > 0
    x = np.array([-35.0, -3.0, 0.0, 4.0])
    t = Tensor(x, requires_grad=True)
    t.sigmoid().log().sum().backward()
    numerical = centred(lambda v: sum(np.log(exact_sigmoid(float(a))) for a in v), x)
    np.testing.assert_allclose(t.grad, numerical, rtol=1e-8)


# ------------------------------------------------------------------------------------ empty batches
def _empty_cases():
    scores, labels, values = np.zeros((0, 3)), np.zeros(0, dtype=np.int64), np.zeros((0, 3))
    return [
        ("cross_entropy", lambda r: F.cross_entropy(Tensor(scores, requires_grad=True), labels, reduction=r)),
        ("nll_loss", lambda r: F.nll_loss(Tensor(scores, requires_grad=True), labels, reduction=r)),
        ("multi_margin_loss", lambda r: F.multi_margin_loss(Tensor(scores, requires_grad=True), labels,
                                                            reduction=r)),
        ("mse_loss", lambda r: F.mse_loss(Tensor(values, requires_grad=True), values, reduction=r)),
        ("l1_loss", lambda r: F.l1_loss(Tensor(values, requires_grad=True), values, reduction=r)),
        ("bce_with_logits", lambda r: F.binary_cross_entropy_with_logits(Tensor(values, requires_grad=True),
                                                                         values, reduction=r)),
    ]


@pytest.mark.parametrize("name, loss", _empty_cases(), ids=[c[0] for c in _empty_cases()])
def test_every_loss_of_an_empty_batch_is_pytorchs(name, loss):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "mean of empty slice": the answer is NaN
        mean = loss("mean")
        assert np.isnan(mean.item()), f"{name}: the mean over no examples is NaN in PyTorch"
        mean.backward()  # and its gradient is empty, not an error
        assert loss("sum").item() == 0.0
        assert loss("none").shape[0] == 0


# ------------------------------------------------------------------------------ BCE's target gradient
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_with_logits_passes_the_gradient_of_a_target_that_requires_grad(reduction, rng):
    x, y = rng.standard_normal((4, 3)), rng.uniform(0, 1, (4, 3))
    upstream = rng.standard_normal((4, 3)) if reduction == "none" else 1.0

    def reference(xv, yv):  # the definition, written independently: -[y log σ(x) + (1-y) log(1-σ(x))]
        s = 1 / (1 + np.exp(-xv))
        per = -(yv * np.log(s) + (1 - yv) * np.log(1 - s))
        return float(np.sum(per * upstream)) / (per.size if reduction == "mean" else 1)

    tx, ty = Tensor(x, requires_grad=True), Tensor(y, requires_grad=True)
    out = F.binary_cross_entropy_with_logits(tx, ty, reduction=reduction)
    out.backward(None if reduction != "none" else upstream)
    np.testing.assert_allclose(ty.grad, centred(lambda v: reference(x, v), y), rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(tx.grad, centred(lambda v: reference(v, y), x), rtol=1e-6, atol=1e-9)


def test_bce_with_logits_target_tangent_in_forward_mode(rng):
    x, y = rng.standard_normal(5), rng.uniform(0, 1, 5)
    dx, dy = rng.standard_normal(5), rng.standard_normal(5)
    _, tangent = autograd.jvp(F.binary_cross_entropy_with_logits, (x, y), (dx, dy))
    f = lambda v: F.binary_cross_entropy_with_logits(Tensor(v[:5]), v[5:]).item()
    numerical = centred(f, np.concatenate([x, y])) @ np.concatenate([dx, dy])
    assert float(tangent) == pytest.approx(float(numerical), rel=1e-6)


def test_a_target_that_needs_no_grad_gets_none():
    ty = Tensor(np.full(3, 0.5))
    F.binary_cross_entropy_with_logits(Tensor(np.ones(3), requires_grad=True), ty).backward()
    assert ty.grad is None


# ------------------------------------------------------------------------------------- dim or axis
@pytest.mark.parametrize("method, numpy_fn", [("sum", np.sum), ("mean", np.mean), ("max", np.max),
                                              ("min", np.min)])
def test_every_reduction_takes_dim_and_axis(method, numpy_fn, rng):
    x = rng.standard_normal((3, 4))
    t = Tensor(x)
    for axis in (0, 1, (0, 1)) if method in ("sum", "mean") else (0, 1):
        expected = numpy_fn(x, axis=axis)
        np.testing.assert_allclose(getattr(t, method)(dim=axis).data, expected)
        np.testing.assert_allclose(getattr(t, method)(axis=axis).data, expected)
        np.testing.assert_allclose(getattr(t, method)(axis).data, expected)
    assert getattr(t, method)(dim=1, keepdim=True).shape == (3, 1)
    assert getattr(t, method)(axis=1, keepdims=True).shape == (3, 1)
    with pytest.raises(TypeError, match="give the axis once, as axis= or as dim=, got axis=0 and dim=1"):
        getattr(t, method)(axis=0, dim=1)


def test_softmax_and_argmax_take_dim_and_axis(rng):
    x = rng.standard_normal((3, 4))
    t = Tensor(x)
    e = np.exp(x - x.max(axis=0))
    np.testing.assert_allclose(t.softmax(dim=0).data, e / e.sum(axis=0))
    np.testing.assert_allclose(t.softmax(axis=0).data, e / e.sum(axis=0))
    np.testing.assert_allclose(t.log_softmax(dim=0).data, np.log(e / e.sum(axis=0)))
    np.testing.assert_allclose(t.softmax().data.sum(axis=1), np.ones(3))  # the last axis by default
    np.testing.assert_array_equal(t.argmax(dim=1), x.argmax(axis=1))


# --------------------------------------------------------------------------------- seeds and devices
def test_dataloader_takes_pytorchs_generator_and_seed_is_a_deprecated_alias():
    ds = data.TensorDataset(np.arange(20.0)[:, None], np.arange(20))
    order = lambda loader: np.concatenate([yb for _, yb in loader])
    by_generator = order(data.DataLoader(ds, batch_size=6, shuffle=True, generator=3))
    np.testing.assert_array_equal(by_generator, np.random.default_rng(3).permutation(20))
    with pytest.warns(DeprecationWarning, match=r"DataLoader\(seed=...\) is deprecated.*generator="):
        by_seed = order(data.DataLoader(ds, batch_size=6, shuffle=True, seed=3))
    np.testing.assert_array_equal(by_seed, by_generator)


def test_dropout_draws_its_mask_where_the_data_is():
    with fake_cuda.installed() as cp:
        x = Tensor(cp.ones((50, 40)), requires_grad=True)
        fake_cuda.reset_transfers()
        out = F.dropout(x, p=0.25, generator=7)
        assert fake_cuda.transfers == {"to_device": 0, "to_host": 0}  # no mask was uploaded
        assert out.device == "cuda"
        kept = out.data.get() != 0
        assert abs(1 - kept.mean() - 0.25) < 0.05  # 2000 draws: the standard error is about 0.01
        np.testing.assert_allclose(out.data.get()[kept], 1 / 0.75)
        again = F.dropout(x, p=0.25, generator=7)
        np.testing.assert_array_equal(again.data.get(), out.data.get())  # the same seed, the same mask


def test_dropout_on_the_host_is_seeded_and_scaled(rng):
    x = Tensor(np.ones((100, 10)), requires_grad=True)
    out = F.dropout(x, p=0.5, generator=1)
    np.testing.assert_array_equal(out.data, F.dropout(x, p=0.5, generator=1).data)
    assert set(np.unique(out.data)) <= {0.0, 2.0}
    out.sum().backward()
    np.testing.assert_array_equal(x.grad, out.data)  # the gradient flows through the kept units, scaled
