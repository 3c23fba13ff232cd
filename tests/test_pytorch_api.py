"""The tensor-level API a beginner meets, with PyTorch's names and semantics (deepgrad.pytorch above the engine;
grads as Tensors, elementwise comparisons, in-place ops and version counters in the engine; utils.data)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import deepgrad
import deepgrad as torch
from deepgrad import backend, nn, pytorch
from deepgrad.autograd import Function, Tensor
from deepgrad.gradcheck import numerical_gradient_array
from deepgrad.utils.data import DataLoader, Dataset, TensorDataset, default_collate


@pytest.fixture
def float32_default():
    torch.set_default_dtype(torch.float32)
    yield
    backend._state.update(float=np.dtype(np.float64), float_set=False)  # the course's default again


def check_vjp(f, *arrays, rtol=1e-6):
    """Gradients of sum(f(*tensors) * u) against centred differences, in float64."""
    u = np.random.default_rng(0).normal(size=f(*(Tensor(a) for a in arrays)).shape)
    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    (f(*ts) * u).sum().backward()
    for i, a in enumerate(arrays):
        def scalar(v, i=i):
            args = [Tensor(v if j == i else b) for j, b in enumerate(arrays)]
            return float((f(*args).data * u).sum())
        num = numerical_gradient_array(lambda v: np.array(scalar(v)), a.copy(), np.array(1.0))
        np.testing.assert_allclose(ts[i].grad.numpy(), num, rtol=rtol, atol=1e-8)


def test_the_top_level_names_are_the_modules_names():
    assert deepgrad._PYTORCH_NAMES == set(pytorch.__all__) - set(deepgrad._LAZY_ATTRS)  # no_grad: autograd's
    for name in pytorch.__all__:
        assert getattr(deepgrad, name) is getattr(pytorch, name)


def test_import_deepgrad_stays_light():
    code = "import sys, deepgrad; print(sorted(m for m in sys.modules if m.startswith('deepgrad.')))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['deepgrad.backend']"


def test_dtype_inference_and_the_switchable_default(float32_default):
    assert torch.tensor([1, 2, 3]).dtype == torch.int64 and torch.tensor([True]).dtype == torch.bool
    assert torch.tensor([1.0, 2]).dtype == torch.float32 == torch.get_default_dtype()
    assert torch.zeros(2).dtype == torch.float32 and nn.Linear(2, 3).weight.dtype == torch.float32
    assert torch.tensor(np.arange(3.0)).dtype == torch.float64  # an array keeps its dtype
    torch.set_default_dtype(torch.float64)
    assert torch.ones(2, 2).dtype == torch.float64 and nn.Linear(2, 3).weight.dtype == torch.float64
    with pytest.raises(TypeError, match="float32 or float64"):
        torch.set_default_dtype(torch.int64)


def test_the_course_default_is_float64_and_layers_float32():
    assert torch.get_default_dtype() == torch.float64 and torch.rand(3).dtype == torch.float64
    assert nn.Linear(2, 3).weight.dtype == torch.float32


def test_factories():
    assert torch.zeros(2, 3).shape == (2, 3) == torch.ones((2, 3)).shape == torch.empty(2, 3).shape
    assert torch.full((2,), 7).dtype == torch.int64 and torch.full((2,), 0.5).tolist() == [0.5, 0.5]
    assert torch.eye(2).tolist() == [[1.0, 0.0], [0.0, 1.0]] and torch.arange(3).dtype == torch.int64
    assert torch.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    torch.manual_seed(3)
    a = torch.randn(4)
    torch.manual_seed(3)
    assert torch.equal(a, torch.randn(4)) and not torch.equal(a, torch.randn(4))
    r = torch.randint(2, 5, (100,))
    assert r.dtype == torch.int64 and set(r.tolist()) == {2, 3, 4}
    x = torch.tensor([[1.0, 2.0]], dtype=torch.float32)
    assert torch.zeros_like(x).dtype == torch.float32 and torch.ones_like(x).tolist() == [[1.0, 1.0]]
    assert torch.full_like(x, 3).tolist() == [[3.0, 3.0]] and torch.randn_like(x).shape == (1, 2)


def test_from_numpy_and_numpy_share_memory():
    a = np.zeros(3)
    t = torch.from_numpy(a)
    t.add_(1)
    assert a.tolist() == [1.0, 1.0, 1.0]
    t.numpy()[0] = 5
    assert t.tolist()[0] == 5 and a[0] == 5
    c = torch.tensor(a)
    c.add_(1)
    assert a[0] == 5  # tensor() copies
    with pytest.raises(TypeError, match="numpy.ndarray"):
        torch.from_numpy([1, 2])


def test_grads_are_tensors_and_zero_in_place():
    w = Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    g = w.grad
    assert isinstance(g, Tensor) and g.tolist() == [2.0, 4.0]
    (w * w).sum().backward()
    assert w.grad is g and g.tolist() == [4.0, 8.0]  # accumulated into the same Tensor
    w.grad.zero_()
    assert w.grad.tolist() == [0.0, 0.0]
    w.grad = np.ones(2)  # an array is wrapped
    assert isinstance(w.grad, Tensor)


def test_manual_sgd_keeps_leaves_and_model_updates_in_place():
    w = Tensor([1.0, -1.0], requires_grad=True)
    (w ** 2).sum().backward()
    with torch.no_grad():
        w -= 0.25 * w.grad
    assert w.is_leaf and w.requires_grad and w.tolist() == [0.5, -0.5]
    model = nn.Linear(2, 1, dtype=np.float64, generator=0)
    before = model.weight.data.copy()
    model(Tensor(np.ones((1, 2)))).sum().backward()
    with torch.no_grad():
        for p in model.parameters():
            p -= 0.1 * p.grad
    np.testing.assert_allclose(model.weight.data, before - 0.1)


def test_in_place_checks_and_version_counters():
    w = Tensor([1.0, 2.0], requires_grad=True)
    for change in (lambda: w.add_(1), lambda: w.zero_(), lambda: w.__setitem__(0, 3.0)):
        with pytest.raises(RuntimeError, match="leaf"):
            change()
    y = w * 2
    with pytest.raises(RuntimeError, match="in-place"):
        y.add_(1)
    s = w.sin()
    e = w.exp()
    with torch.no_grad():
        w.mul_(3)
    with pytest.raises(RuntimeError, match="changed in place"):
        s.sum().backward()  # sin reads its input in backward
    e.sum().backward()      # exp reads only its result: fine, as in PyTorch
    t = Tensor([1.0, -2.0, 3.0])
    t[t < 0] = 0
    assert t.tolist() == [1.0, 0.0, 3.0]


def test_comparisons_are_elementwise():
    a, b = Tensor([1.0, 2.0]), Tensor([1.0, 3.0])
    assert (a == b).tolist() == [True, False] and (a != b).tolist() == [False, True]
    assert (a < b).dtype == np.bool_ and not torch.equal(a, b) and torch.equal(a, a.clone())
    assert a.argmax().item() == 1 and isinstance(a.argmax(), Tensor)


def test_new_ops_match_numerical_gradients():
    rng = np.random.default_rng(1)
    x, y = rng.uniform(0.5, 2.0, (3, 4)), rng.uniform(0.5, 2.0, (2, 4))
    check_vjp(lambda a: a.sin() * a.cos(), x)
    check_vjp(lambda a, b: torch.cat([a, b * 2]), x, y)
    check_vjp(lambda a, b: torch.stack([a[:2], b], dim=1), x, y)
    check_vjp(lambda a, p: a ** p, x, rng.uniform(1.0, 3.0, (3, 4)))
    check_vjp(lambda a: a.clone().unsqueeze(0).flatten(0, 1).squeeze() ** 2, x)
    x32 = Tensor(x, requires_grad=True)
    x32.float().sum().backward()  # a cast passes the gradient back in the input's dtype
    assert x32.grad.dtype == np.float64 and x32.grad.tolist() == np.ones_like(x).tolist()


class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x ** 3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x ** 2 * g


def test_autograd_function():
    x = np.random.default_rng(2).normal(size=5)
    check_vjp(lambda a: Cube.apply(a) * 2, x)
    out = Cube.apply(Tensor(x, requires_grad=True))
    assert out.grad_fn is not None and out.op == "function"


def test_backward_gradient_and_retain_graph():
    x = Tensor([1.0, 2.0], requires_grad=True)
    y = x * x
    y.backward(gradient=Tensor([1.0, 0.5]), retain_graph=True)
    y.backward(torch.ones_like(y))
    assert x.grad.tolist() == [4.0, 6.0]
    with pytest.raises(ValueError, match="gradient must have"):
        y.backward(np.ones(3))


def test_devices():
    assert torch.device("cpu").type == "cpu" and torch.device("cuda", 0) == "cuda:0"
    with pytest.raises(ValueError, match="device"):
        torch.device("tpu")
    x = torch.ones(2)
    assert x.to(torch.device("cpu")) is x and x.cpu() is x and x.to(torch.float32).dtype == torch.float32
    if not backend.gpu_available():
        assert torch.cuda.is_available() is False and torch.cuda.device_count() == 0
        with pytest.raises(backend.BackendError, match="CuPy|GPU"):
            x.to(torch.device("cuda"))


def test_save_and_load(tmp_path):
    model = nn.Sequential(nn.Linear(3, 2, generator=0), nn.ReLU(), nn.Linear(2, 1, generator=1))
    torch.save(model.state_dict(), tmp_path / "m.pth")
    other = nn.Sequential(nn.Linear(3, 2, generator=5), nn.ReLU(), nn.Linear(2, 1, generator=6))
    other.load_state_dict(torch.load(tmp_path / "m.pth", weights_only=True))
    x = torch.randn(4, 3, dtype=torch.float32)
    assert torch.equal(model(x), other(x))
    torch.save({"t": Tensor([1.0], requires_grad=True)}, tmp_path / "t.pth")
    t = torch.load(tmp_path / "t.pth")["t"]
    assert t.requires_grad and t.is_leaf and t.tolist() == [1.0]


def test_linear_stores_out_in_and_flatten_takes_dims():
    fc = nn.Linear(4, 3)
    assert fc.weight.shape == (3, 4)
    x = np.random.default_rng(0).normal(size=(2, 4)).astype(np.float32)
    np.testing.assert_allclose(fc(x).numpy(), x @ fc.weight.numpy().T + fc.bias.numpy(), rtol=1e-6)
    assert nn.Flatten()(torch.zeros(2, 3, 4)).shape == (2, 12)
    assert nn.Flatten(0, 1)(torch.zeros(2, 3, 4)).shape == (6, 4)


class Squares(Dataset):
    def __len__(self):
        return 10

    def __getitem__(self, i):
        return np.full(2, float(i)), i, {"half": i / 2}


def test_dataloader_collates_one_sample_at_a_time():
    batches = list(DataLoader(Squares(), batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    x, y, d = batches[0]
    assert x.shape == (4, 2) and y.dtype == torch.int64 and y.tolist() == [0, 1, 2, 3]
    assert d["half"].tolist() == [0.0, 0.5, 1.0, 1.5]
    assert len(DataLoader(Squares(), batch_size=4, drop_last=True)) == 2
    seen = [b[1].tolist() for b in DataLoader(Squares(), batch_size=3, shuffle=True, generator=0)]
    assert sorted(sum(seen, [])) == list(range(10)) and sum(seen, []) != list(range(10))
    again = [b[1].tolist() for b in DataLoader(Squares(), batch_size=3, shuffle=True, generator=0)]
    assert seen == again
    assert default_collate([Tensor([1.0]), Tensor([2.0])]).shape == (2, 1)


def test_a_tensor_dataset_gives_the_same_batches_as_collation():
    X, y = np.arange(12.0).reshape(6, 2), np.arange(6)
    fast = list(DataLoader(TensorDataset(X, y), batch_size=4))
    slow = list(DataLoader(TensorDataset(X, y), batch_size=4, collate_fn=default_collate))
    for (xf, yf), (xs, ys) in zip(fast, slow, strict=True):
        np.testing.assert_array_equal(xf, xs.numpy())
        np.testing.assert_array_equal(yf, ys.numpy())


def test_as_torch_lets_import_torch_find_deepgrad():
    code = ("import deepgrad; deepgrad.as_torch(); import torch, torch.nn as nn, torch.nn.functional as F; "
            "from torch.utils.data import DataLoader; from torch.autograd import Function; "
            "print(torch is deepgrad, nn is deepgrad.nn, F is deepgrad.functional)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True", "True"]


def test_each_grad_has_its_own_array():
    x, y = Tensor([1.0, 2.0], requires_grad=True), Tensor([3.0, 4.0], requires_grad=True)
    (x + y).sum().backward()  # the add sends one array to both
    x.grad.zero_()
    assert y.grad.tolist() == [1.0, 1.0]
    v = np.ones(2)
    x.backward(v)  # a leaf's own backward: the caller's array is not the .grad
    x.grad.zero_()
    assert v.tolist() == [1.0, 1.0]


def test_module_casts_and_moves():
    model = nn.Sequential(nn.Linear(2, 3, generator=0), nn.ReLU(), nn.Linear(3, 1, generator=1)).double()
    assert all(p.dtype == torch.float64 for p in model.parameters())
    assert model.cpu() is model and model.to(torch.float32)[0].weight.dtype == torch.float32
    if not backend.gpu_available():
        with pytest.raises(backend.BackendError):
            model.cuda()
