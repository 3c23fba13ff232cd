"""nn modules and functional losses: registration, init, modes, state, losses against their definitions."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import deepgrad.functional as F
from deepgrad import backend, init, nn
from deepgrad.autograd import Tensor, no_grad


def numeric_grad(f, a, h=1e-6):
    g = np.zeros_like(a)
    for idx in np.ndindex(a.shape):
        old = a[idx]
        a[idx] = old + h
        fp = f(a)
        a[idx] = old - h
        fm = f(a)
        a[idx] = old
        g[idx] = (fp - fm) / (2 * h)
    return g


def grad_of(loss_fn, x):
    t = Tensor(x.copy(), requires_grad=True)
    loss_fn(t).backward()
    return t.grad


def assert_grad_matches(loss_fn, x):
    np.testing.assert_allclose(grad_of(loss_fn, x), numeric_grad(lambda a: loss_fn(Tensor(a)).item(), x),
                               atol=1e-7, rtol=1e-6)


# ------------------------------------------------------------------------------------ modules
class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(3, 4, dtype=np.float64)
        self.act = nn.Tanh()
        self.fc2 = nn.Linear(4, 2, dtype=np.float64)
        self.scale = nn.Parameter(np.ones(2))
        self.not_a_param = Tensor([1.0], requires_grad=True)  # a plain Tensor is not registered

    def forward(self, x):
        return self.fc2(self.act(self.fc1(x))) * self.scale


def test_registration_and_names():
    m = TwoLayer()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["scale", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]
    assert m.num_parameters() == 2 + 3 * 4 + 4 + 4 * 2 + 2
    assert [type(c).__name__ for c in m.children()] == ["Linear", "Tanh", "Linear"]
    m.fc2 = nn.Identity()  # reassigning replaces the registration
    assert "fc2.weight" not in dict(m.named_parameters())
    assert "Linear(in_features=3, out_features=4, bias=True)" in repr(m)


def test_module_needs_super_init():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])
    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_shared_parameter_counted_once_and_gets_both_gradients():
    shared = nn.Linear(3, 3, bias=False, dtype=np.float64)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert len(list(model.parameters())) == 1
    x = np.random.default_rng(0).normal(size=(5, 3))
    W = shared.weight.data.copy()

    def loss_of(Wa):
        return float((np.tanh(x @ Wa.T) @ Wa.T).sum())  # nn.Linear's weight is (out, in)

    model(Tensor(x)).sum().backward()
    np.testing.assert_allclose(shared.weight.grad, numeric_grad(loss_of, W), rtol=1e-6, atol=1e-8)


def test_linear_default_init_matches_pytorch_bounds():
    init.manual_seed(0)
    fc = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    assert fc.weight.shape == (300, 400) and fc.bias.shape == (300,) and fc.weight.dtype == np.float32
    for p in (fc.weight.data, fc.bias.data):
        assert p.min() >= -bound and p.max() <= bound
    # uniform on [-b, b] has standard deviation b/√3
    assert fc.weight.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    assert fc.bias.data.std() == pytest.approx(bound / math.sqrt(3), rel=0.15)


def test_seeding_reproduces_parameters():
    a, b = nn.MLP([5, 7, 2], generator=3), nn.MLP([5, 7, 2], generator=3)
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)
    init.manual_seed(11)
    c = nn.Linear(4, 4)
    init.manual_seed(11)
    d = nn.Linear(4, 4)
    np.testing.assert_array_equal(c.weight.data, d.weight.data)


def test_linear_gradients_and_errors():
    fc = nn.Linear(3, 2, dtype=np.float64)
    x = np.random.default_rng(1).normal(size=(4, 3))
    assert_grad_matches(lambda t: (fc(t) ** 2).sum(), x)
    W = fc.weight.data
    assert_grad_matches(lambda w: ((Tensor(x) @ w.T + fc.bias.data) ** 2).sum(), W.copy())  # (out, in)
    with pytest.raises(ValueError, match=r"\(4, 5\)"):
        fc(Tensor(np.ones((4, 5))))
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(0, 3)


def test_fused_linear_gradients_all_inputs():
    rng = np.random.default_rng(2)
    x, W, b = rng.normal(size=(5, 3)), rng.normal(size=(2, 3)), rng.normal(size=2)
    target = rng.normal(size=(5, 2))

    def loss(xa, Wa, ba):
        return ((F.linear(Tensor(xa), Tensor(Wa), Tensor(ba)) - target) ** 2).sum().item()

    ts = [Tensor(a.copy(), requires_grad=True) for a in (x, W, b)]
    ((F.linear(*ts) - target) ** 2).sum().backward()
    np.testing.assert_allclose(ts[0].grad, numeric_grad(lambda a: loss(a, W, b), x.copy()), rtol=1e-6)
    np.testing.assert_allclose(ts[1].grad, numeric_grad(lambda a: loss(x, a, b), W.copy()), rtol=1e-6)
    np.testing.assert_allclose(ts[2].grad, numeric_grad(lambda a: loss(x, W, a), b.copy()), rtol=1e-6)


def test_mlp_structure_and_activations():
    m = nn.MLP([4, 8, 8, 3], activation="tanh", dropout=0.2)
    kinds = [type(layer).__name__ for layer in m]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert len(m) == 7 and isinstance(m[0], nn.Linear)
    with pytest.raises(ValueError, match="activation"):
        nn.MLP([2, 2], activation="swish")
    with pytest.raises(ValueError, match="sizes"):
        nn.MLP([2])
    x = Tensor(np.linspace(-2, 2, 5))
    np.testing.assert_allclose(nn.ReLU()(x).data, np.maximum(x.data, 0))
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).data, np.where(x.data > 0, x.data, 0.1 * x.data))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)))
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data))
    assert nn.Flatten()(Tensor(np.ones((2, 3, 4)))).shape == (2, 12)


def test_dropout_train_and_eval():
    d = nn.Dropout(0.25, generator=0)
    x = Tensor(np.ones((200, 100)))
    y = d(x).data
    assert set(np.unique(y)) <= {0.0, 1 / 0.75}
    assert (y == 0).mean() == pytest.approx(0.25, abs=0.02)
    assert y.mean() == pytest.approx(1.0, abs=0.03)  # inverted dropout keeps the expectation
    model = nn.Sequential(d)
    model.eval()
    assert not d.training and model(x) is x
    model.train()
    assert d.training
    xg = Tensor(np.ones((3, 4)), requires_grad=True)
    out = d(xg)
    out.sum().backward()
    np.testing.assert_array_equal(xg.grad, out.data)  # gradient flows through the kept units only, scaled
    with pytest.raises(ValueError, match="p"):
        nn.Dropout(1.5)


def test_state_dict_roundtrip_and_errors():
    a, b = nn.MLP([3, 5, 2], generator=1), nn.MLP([3, 5, 2], generator=2)
    sd = a.state_dict()
    sd["0.weight"][...] = 0  # a copy: the model is unchanged
    assert np.abs(a[0].weight.data).sum() > 0
    w_obj = b[0].weight.data
    b.load_state_dict(a.state_dict())
    assert b[0].weight.data is w_obj  # loaded in place
    for (_, pa), (_, pb) in zip(a.named_parameters(), b.named_parameters(), strict=True):
        np.testing.assert_array_equal(pa.data, pb.data)
    with pytest.raises(KeyError, match="missing"):
        b.load_state_dict({"0.weight": sd["0.weight"]})
    bad = a.state_dict()
    bad["0.bias"] = np.zeros(7)
    with pytest.raises(ValueError, match=r"\(7,\)"):
        b.load_state_dict(bad)


def test_zero_grad_and_module_to_cpu():
    m = nn.MLP([3, 2], dtype=np.float64)
    m(Tensor(np.ones((1, 3)))).sum().backward()
    assert m[0].weight.grad is not None
    m.zero_grad()
    assert m[0].weight.grad is None
    assert m.to("cpu") is m
    if not backend.gpu_available():
        with pytest.raises(backend.BackendError):
            m.to("cuda")


# ------------------------------------------------------------------------------------ losses
def softmax_np(a):
    e = np.exp(a - a.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@settings(max_examples=20, deadline=None)
@given(st.integers(1, 5), st.integers(2, 5), st.integers(0, 10_000))
def test_cross_entropy_value_and_gradient(n, c, seed):
    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, c)) * 3, rng.integers(0, c, size=n)
    expected = -np.log(softmax_np(x)[np.arange(n), y]).mean()
    assert F.cross_entropy(Tensor(x), y).item() == pytest.approx(expected, rel=1e-12)
    assert_grad_matches(lambda t: F.cross_entropy(t, y), x)
    assert_grad_matches(lambda t: F.cross_entropy(t, y, reduction="sum"), x)
    assert_grad_matches(lambda t: (F.cross_entropy(t, y, reduction="none") * np.arange(1.0, n + 1)).sum(), x)
    # the fused op equals its composition
    assert F.nll_loss(Tensor(x).log_softmax(), y).item() == pytest.approx(expected, rel=1e-12)


def test_cross_entropy_stable_and_checked():
    x = Tensor(np.array([[1000.0, 0.0], [-1000.0, 1000.0]]), requires_grad=True)
    loss = F.cross_entropy(x, np.array([0, 0]))
    loss.backward()
    assert loss.item() == pytest.approx(1000.0) and np.isfinite(x.grad).all()
    with pytest.raises(ValueError, match=r"\[0, 2\)"):
        F.cross_entropy(x, np.array([0, 2]))
    with pytest.raises(ValueError, match="shape"):
        F.cross_entropy(x, np.array([0]))
    with pytest.raises(TypeError, match="integer"):
        F.cross_entropy(x, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, np.array([0, 1]), reduction="avg")
    assert F.cross_entropy(Tensor(np.zeros((2, 3), np.float32)), np.array([0, 1])).dtype == np.float32


def test_multi_margin_loss_matches_pytorch_definition_and_notes():
    # The notes' cat example: scores (cat, car, frog) = (3.2, 5.1, -1.7) for a cat: SVM loss 2.9.
    scores = np.array([[3.2, 5.1, -1.7]])
    loss = F.multi_margin_loss(Tensor(scores), np.array([0]))
    assert loss.item() == pytest.approx(2.9 / 3)  # PyTorch divides by C = 3
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(4, 5)), rng.integers(0, 5, size=4)
    expected = np.mean([sum(max(0, 1 - x[i, y[i]] + x[i, j]) for j in range(5) if j != y[i]) / 5 for i in range(4)])
    assert F.multi_margin_loss(Tensor(x), y).item() == pytest.approx(expected)
    sq = np.mean([sum(max(0, 0.5 - x[i, y[i]] + x[i, j]) ** 2 for j in range(5) if j != y[i]) / 5 for i in range(4)])
    assert nn.MultiMarginLoss(p=2, margin=0.5)(Tensor(x), y).item() == pytest.approx(sq)
    assert_grad_matches(lambda t: F.multi_margin_loss(t, y), x)


def test_mse_l1_and_bce_with_logits():
    rng = np.random.default_rng(4)
    x, t = rng.normal(size=(3, 4)), rng.normal(size=(3, 4))
    assert F.mse_loss(Tensor(x), t).item() == pytest.approx(((x - t) ** 2).mean())
    assert nn.L1Loss(reduction="sum")(Tensor(x), t).item() == pytest.approx(np.abs(x - t).sum())
    assert_grad_matches(lambda a: F.mse_loss(a, t), x)
    y = rng.uniform(size=(3, 4))
    expected = -(y * np.log(1 / (1 + np.exp(-x))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-x)))).mean()
    assert F.binary_cross_entropy_with_logits(Tensor(x), y).item() == pytest.approx(expected)
    assert_grad_matches(lambda a: nn.BCEWithLogitsLoss()(a, y), x)
    assert_grad_matches(lambda a: (F.binary_cross_entropy_with_logits(a, y, reduction="none") * t).sum(), x)
    big = F.binary_cross_entropy_with_logits(Tensor(np.array([800.0, -800.0])), np.array([0.0, 1.0]))
    assert big.item() == pytest.approx(800.0)
    with pytest.raises(ValueError, match="shape"):
        F.mse_loss(Tensor(x), t[:2])


def test_loss_modules_equal_functions():
    rng = np.random.default_rng(5)
    x, y = rng.normal(size=(6, 3)), rng.integers(0, 3, size=6)
    assert nn.CrossEntropyLoss()(Tensor(x), y).item() == F.cross_entropy(Tensor(x), y).item()
    assert nn.NLLLoss()(Tensor(x).log_softmax(), y).item() == pytest.approx(F.cross_entropy(Tensor(x), y).item())
    assert nn.MSELoss()(Tensor(x), x * 0).item() == pytest.approx((x ** 2).mean())


def test_functional_forward_mode_through_fused_ops():
    from deepgrad.autograd import jvp, vjp
    rng = np.random.default_rng(6)
    x, W, b, y = rng.normal(size=(4, 3)), rng.normal(size=(5, 3)), rng.normal(size=5), rng.integers(0, 5, 4)
    f = lambda x, W, b: F.cross_entropy(F.linear(x, W, b), y)
    v = tuple(rng.normal(size=a.shape) for a in (x, W, b))
    _, t = jvp(f, (x, W, b), v)
    _, gs = vjp(f, (x, W, b), np.array(1.0))
    assert float(t) == pytest.approx(sum(float((g * vi).sum()) for g, vi in zip(gs, v, strict=True)), rel=1e-10)
    with no_grad():
        assert not F.linear(Tensor(x), Tensor(W, requires_grad=True)).requires_grad
