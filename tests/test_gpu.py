"""The same library on the GPU: every Tensor op, layer, loss, initialiser and optimiser step gives the CPU's
result, and a full training run on the digits reaches the CPU's accuracy.

Every test runs on two "devices":
- ``cuda``: real CuPy on an NVIDIA GPU, marked ``gpu`` and skipped with the reason where there is none;
- ``stand-in``: tests/fake_cuda.py, NumPy arrays that refuse implicit conversion to NumPy, as CuPy's do.
  It runs everywhere, checks these tests' own logic, and proves that the library's GPU code path never
  falls back on the host behind the user's back (any implicit conversion would raise).

All comparisons are in float64 with tight tolerances: the two devices add in different orders, so results
agree to rounding, not bit for bit.
"""
from __future__ import annotations

import os
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest

import deepgrad
import fake_cuda
from deepgrad import backend, data, init, layers, linear, losses

RTOL, ATOL = 1e-10, 1e-12


@pytest.fixture(params=["stand-in", pytest.param("cuda", marks=pytest.mark.gpu)])
def dev(request):
    """The device under test: ``put`` copies host data to it, ``get`` brings an array back."""
    if request.param == "cuda":
        import cupy
        yield SimpleNamespace(name="cuda", xp=cupy, put=cupy.asarray, get=cupy.asnumpy)
    else:
        with fake_cuda.installed() as module:
            yield SimpleNamespace(name="stand-in", xp=module, put=module.asarray, get=backend.to_numpy)


@pytest.fixture
def engine():
    return pytest.importorskip("deepgrad.autograd")


def assert_on_device(a):
    assert backend.device_of(a) == "cuda", f"expected a device array, got {type(a).__name__}"


def assert_same(host, device_result, rtol=RTOL, atol=ATOL):
    """``device_result`` lives on the device and equals ``host`` to rounding."""
    if isinstance(host, float):
        assert float(device_result) == pytest.approx(host, rel=rtol, abs=atol)
        return
    assert_on_device(device_result)
    got = backend.to_numpy(device_result)
    assert got.shape == host.shape and got.dtype == host.dtype
    np.testing.assert_allclose(got, host, rtol=rtol, atol=atol)


# -------------------------------------------------------------------------------------- Tensor ops
def _index(a, picks):
    """An integer index array on the same device as ``a``'s data."""
    return backend.get_array_module(a.data).asarray(picks)


# name -> (function of Tensors, input shapes, make inputs positive)
TENSOR_OPS = {
    "add (broadcast)": (lambda a, b: a + b, [(3, 4), (4,)], False),
    "sub (broadcast)": (lambda a, b: a - b, [(3, 4), (3, 1)], False),
    "mul": (lambda a, b: a * b, [(3, 4), (3, 4)], False),
    "div": (lambda a, b: a / b, [(3, 4), (3, 4)], True),
    "number ops": (lambda a: 2.0 * a - 1.5 + a / 4.0, [(3, 4)], False),
    "neg": (lambda a: -a, [(3, 4)], False),
    "pow": (lambda a: a ** 3, [(3, 4)], False),
    "matmul": (lambda a, b: a @ b, [(3, 4), (4, 5)], False),
    "matmul vector": (lambda a, b: a @ b, [(4,), (4, 5)], False),
    "sum axis": (lambda a: a.sum(axis=0), [(3, 4)], False),
    "sum all": (lambda a: a.sum(), [(3, 4)], False),
    "mean keepdims": (lambda a: a.mean(axis=1, keepdims=True), [(3, 4)], False),
    "max": (lambda a: a.max(axis=1), [(3, 4)], False),
    "min": (lambda a: a.min(axis=0), [(3, 4)], False),
    "reshape": (lambda a: a.reshape(2, 6), [(3, 4)], False),
    "flatten": (lambda a: a.flatten(), [(3, 4)], False),
    "transpose": (lambda a: a.T, [(3, 4)], False),
    "slice": (lambda a: a[1:, ::2], [(3, 4)], False),
    "index repeats": (lambda a: a[_index(a, [0, 2, 0])], [(3, 4)], False),
    "exp": (lambda a: a.exp(), [(3, 4)], False),
    "log": (lambda a: a.log(), [(3, 4)], True),
    "sqrt": (lambda a: a.sqrt(), [(3, 4)], True),
    "abs": (lambda a: a.abs(), [(3, 4)], False),
    "relu": (lambda a: a.relu(), [(3, 4)], False),
    "leaky_relu": (lambda a: a.leaky_relu(0.1), [(3, 4)], False),
    "sigmoid": (lambda a: a.sigmoid(), [(3, 4)], False),
    "tanh": (lambda a: a.tanh(), [(3, 4)], False),
    "clip": (lambda a: a.clip(-0.5, 0.5), [(3, 4)], False),
    "softmax": (lambda a: a.softmax(axis=-1), [(3, 4)], False),
    "log_softmax": (lambda a: a.log_softmax(axis=0), [(3, 4)], False),
}


@pytest.mark.parametrize("name", list(TENSOR_OPS))
def test_tensor_op_forward_and_backward_match_the_cpu(dev, engine, rng, name):
    fn, shapes, positive = TENSOR_OPS[name]
    inputs = [rng.standard_normal(s) for s in shapes]
    if positive:
        inputs = [np.abs(x) + 0.5 for x in inputs]

    def run(put):
        ts = [engine.Tensor(put(x), requires_grad=True) for x in inputs]
        out = fn(*ts)
        upstream = np.random.default_rng(7).standard_normal(out.shape)
        out.backward(put(upstream))
        return out.data, [t.grad for t in ts]

    out_h, grads_h = run(lambda a: a)
    out_d, grads_d = run(dev.put)
    assert_same(out_h, out_d)
    for gh, gd in zip(grads_h, grads_d, strict=True):
        assert_same(gh, gd)


def test_new_tensors_follow_the_selected_backend(dev, engine):
    deepgrad.use("cupy")  # with the stand-in registered, "cupy" selects the stand-in
    t = engine.Tensor([1.0, 2.0, 3.0])
    assert t.device == "cuda"
    assert_on_device(t.data)
    assert (t * 2).sum().item() == 12.0


def test_to_and_back_keeps_values_dtype_and_gradient(dev, engine, rng):
    x = rng.standard_normal((4, 3)).astype(np.float32)
    t = engine.Tensor(x, requires_grad=True)
    g = t.to("cuda")
    assert g.device == "cuda" and g.dtype == np.float32
    (g * g).sum().backward()
    assert t.grad is not None and backend.device_of(t.grad) == "cpu"
    np.testing.assert_allclose(t.grad, 2 * x, rtol=1e-6)
    np.testing.assert_array_equal(g.cpu().numpy(), x)


def test_mixing_devices_raises_naming_both(dev, engine):
    host = engine.Tensor(np.ones(3))
    gpu = engine.Tensor(dev.put(np.ones(3)))
    with pytest.raises(RuntimeError) as info:
        host + gpu
    assert "cpu" in str(info.value) and "cuda" in str(info.value)


# ------------------------------------------------------------------------------------------ layers
LAYERS = {
    "linear": (layers.linear_forward, layers.linear_backward, [(4, 2, 3), (6, 5), (5,)], {}),
    "relu": (layers.relu_forward, layers.relu_backward, [(4, 5)], {}),
    "leaky_relu": (layers.leaky_relu_forward, layers.leaky_relu_backward, [(4, 5)], {"negative_slope": 0.2}),
    "sigmoid": (layers.sigmoid_forward, layers.sigmoid_backward, [(4, 5)], {}),
    "tanh": (layers.tanh_forward, layers.tanh_backward, [(4, 5)], {}),
    "linear_relu": (layers.linear_relu_forward, layers.linear_relu_backward, [(4, 6), (6, 5), (5,)], {}),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_forward_and_backward_match_the_cpu(dev, rng, name):
    forward, backward, shapes, kwargs = LAYERS[name]
    inputs = [rng.standard_normal(s) for s in shapes]
    out_h, cache_h = forward(*inputs, **kwargs)
    out_d, cache_d = forward(*map(dev.put, inputs), **kwargs)
    assert_same(out_h, out_d)
    dout = rng.standard_normal(out_h.shape)
    grads_h, grads_d = backward(dout, cache_h), backward(dev.put(dout), cache_d)
    grads_h = grads_h if isinstance(grads_h, tuple) else (grads_h,)
    grads_d = grads_d if isinstance(grads_d, tuple) else (grads_d,)
    for gh, gd in zip(grads_h, grads_d, strict=True):
        assert_same(gh, gd)


def test_dropout_with_a_host_generator_draws_the_cpu_mask(dev, rng):
    x = rng.standard_normal((6, 7))
    out_h, cache_h = layers.dropout_forward(x, p=0.3, seed=np.random.default_rng(5))
    out_d, cache_d = layers.dropout_forward(dev.put(x), p=0.3, seed=np.random.default_rng(5))
    assert_same(out_h, out_d)
    dout = rng.standard_normal(x.shape)
    assert_same(layers.dropout_backward(dout, cache_h), layers.dropout_backward(dev.put(dout), cache_d))


def test_dropout_on_the_device_drops_about_p(dev):
    out, _ = layers.dropout_forward(dev.xp.ones((200, 200)), p=0.25, seed=3)
    assert_on_device(out)
    dropped = float((out == 0).mean())
    assert abs(dropped - 0.25) < 0.02  # 40,000 draws: the standard error is about 0.002


# ------------------------------------------------------------------------------------------ losses
def _labels(rng, n, c):
    return rng.integers(0, c, size=n)


LOSSES = {
    "softmax_loss": lambda r: (losses.softmax_loss, r.standard_normal((8, 5)), _labels(r, 8, 5)),
    "svm_loss": lambda r: (losses.svm_loss, r.standard_normal((8, 5)), _labels(r, 8, 5)),
    "mse_loss": lambda r: (losses.mse_loss, r.standard_normal((8, 3)), r.standard_normal((8, 3))),
    "logistic_loss": lambda r: (losses.logistic_loss, r.standard_normal(8), _labels(r, 8, 2)),
    "l2_penalty": lambda r: (losses.l2_penalty, r.standard_normal((5, 4)), 0.3),
    "l1_penalty": lambda r: (losses.l1_penalty, r.standard_normal((5, 4)), 0.3),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_loss_and_gradient_match_the_cpu(dev, rng, name):
    fn, a, b = LOSSES[name](rng)
    put_b = dev.put(b) if isinstance(b, np.ndarray) else b
    loss_h, grad_h = fn(a, b)
    loss_d, grad_d = fn(dev.put(a), put_b)
    assert_same(float(loss_h), loss_d)
    assert_same(grad_h, grad_d)


@pytest.mark.parametrize("fn", [losses.softmax, losses.log_softmax])
def test_probabilities_match_the_cpu(dev, rng, fn):
    s = rng.standard_normal((6, 4)) * 10
    assert_same(fn(s), fn(dev.put(s)))


@pytest.mark.parametrize("fn", [linear.softmax_loss_vectorized, linear.svm_loss_vectorized])
def test_linear_classifier_losses_match_the_cpu(dev, rng, fn):
    W, X, y = rng.standard_normal((7, 4)) * 0.1, rng.standard_normal((10, 7)), _labels(rng, 10, 4)
    loss_h, dW_h = fn(W, X, y, 0.1)
    loss_d, dW_d = fn(dev.put(W), dev.put(X), dev.put(y), 0.1)
    assert_same(float(loss_h), loss_d)
    assert_same(dW_h, dW_d)


# -------------------------------------------------------------------------------------- init, data
@pytest.mark.parametrize("name, kwargs", [
    ("xavier_uniform_", {"gain": 1.5}), ("xavier_normal_", {}), ("kaiming_uniform_", {"a": 5 ** 0.5}),
    ("kaiming_normal_", {"nonlinearity": "relu"}), ("uniform_", {"a": -2, "b": 3}), ("normal_", {"std": 0.1}),
])
def test_initialisers_fill_device_arrays_with_the_cpu_values(dev, name, kwargs):
    host, device_array = np.empty((40, 30)), dev.xp.empty((40, 30))
    getattr(init, name)(host, generator=np.random.default_rng(1), **kwargs)
    filled = getattr(init, name)(device_array, generator=np.random.default_rng(1), **kwargs)
    assert filled is device_array
    assert_same(host, device_array, rtol=0, atol=0)


def test_minibatches_on_the_device_match_the_cpu(dev, rng):
    X, y = rng.standard_normal((23, 4)), _labels(rng, 23, 3)
    host = list(data.minibatches(X, y, batch_size=5, seed=np.random.default_rng(2)))
    device = list(data.minibatches(dev.put(X), dev.put(y), batch_size=5, seed=np.random.default_rng(2)))
    assert len(host) == len(device) == 5
    for (xh, yh), (xd, yd) in zip(host, device, strict=True):
        assert_same(xh, xd, rtol=0, atol=0)
        assert_same(yh, yd, rtol=0, atol=0)


# ------------------------------------------------------------------------------ nn, optim, training
@pytest.fixture
def nn_optim(engine):
    nn = pytest.importorskip("deepgrad.nn")
    optim = pytest.importorskip("deepgrad.optim")
    F = pytest.importorskip("deepgrad.functional")
    return SimpleNamespace(nn=nn, optim=optim, F=F, Tensor=engine.Tensor)


def _mlp(lib, sizes=(6, 8, 3), seed=0):
    deepgrad.init.manual_seed(seed)
    mods = []
    for d, m in zip(sizes[:-1], sizes[1:], strict=True):
        mods += [lib.nn.Linear(d, m, dtype=np.float64), lib.nn.Tanh()]
    return lib.nn.Sequential(*mods[:-1])


FUNCTIONAL_LOSSES = {
    "cross_entropy": lambda r: (r.standard_normal((9, 4)), _labels(r, 9, 4)),
    "multi_margin_loss": lambda r: (r.standard_normal((9, 4)), _labels(r, 9, 4)),
    "mse_loss": lambda r: (r.standard_normal((9, 2)), r.standard_normal((9, 2))),
    "binary_cross_entropy_with_logits": lambda r: (r.standard_normal(9), _labels(r, 9, 2).astype(np.float64)),
}


@pytest.mark.parametrize("loss_name", list(FUNCTIONAL_LOSSES))
def test_functional_losses_match_the_cpu(dev, nn_optim, rng, loss_name):
    lib = nn_optim
    x, target = FUNCTIONAL_LOSSES[loss_name](rng)

    def run(put):
        xt = lib.Tensor(put(x), requires_grad=True)
        loss = getattr(lib.F, loss_name)(xt, lib.Tensor(put(target)))
        loss.backward()
        return loss.item(), xt.grad

    loss_h, grad_h = run(lambda a: a)
    loss_d, grad_d = run(dev.put)
    assert loss_d == pytest.approx(loss_h, rel=RTOL)
    assert_same(grad_h, grad_d)


OPTIMISERS = {
    "SGD": lambda o, p: o.SGD(p, lr=0.1),
    "SGD momentum nesterov decay": lambda o, p: o.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2),
    "Adagrad": lambda o, p: o.Adagrad(p, lr=0.1),
    "RMSprop momentum": lambda o, p: o.RMSprop(p, lr=0.01, momentum=0.5),
    "Adam": lambda o, p: o.Adam(p, lr=0.01, weight_decay=1e-3),
}


@pytest.mark.parametrize("name", list(OPTIMISERS))
def test_optimiser_steps_match_the_cpu(dev, nn_optim, rng, name):
    lib = nn_optim
    X, y = rng.standard_normal((12, 6)), _labels(rng, 12, 3)

    def train(device):
        model = _mlp(lib).to(device)
        opt = OPTIMISERS[name](lib.optim, model.parameters())
        xb, yb = lib.Tensor(X).to(device), lib.Tensor(y).to(device)
        for _ in range(3):
            opt.zero_grad()
            lib.F.cross_entropy(model(xb), yb).backward()
            opt.step()
        return [p.data for p in model.parameters()]

    for ph, pd in zip(train("cpu"), train("cuda"), strict=True):
        assert_same(ph, pd)


def test_module_to_cuda_and_minibatches_one_at_a_time(dev, nn_optim, rng):
    lib = nn_optim
    model = _mlp(lib)
    assert model.to("cuda") is model
    params = list(model.parameters())
    assert all(p.device == "cuda" for p in params)
    opt = lib.optim.SGD(params, lr=0.1)
    X, y = rng.standard_normal((30, 6)), _labels(rng, 30, 3)
    for xb, yb in data.minibatches(X, y, batch_size=8, seed=0):  # batches start on the host ...
        xb, yb = lib.Tensor(xb).to("cuda"), lib.Tensor(yb).to("cuda")  # ... and move one at a time
        opt.zero_grad()
        lib.F.cross_entropy(model(xb), yb).backward()
        opt.step()
    assert all(p is q and p.device == "cuda" for p, q in zip(model.parameters(), params, strict=True))


def _digits_run(lib, device, epochs=8):
    X, y = data.load_digits()
    X = X.astype(np.float64) / 16.0
    Xtr, ytr, Xte, yte = X[:1400], y[:1400], X[1400:], y[1400:]
    deepgrad.init.manual_seed(0)
    model = lib.nn.Sequential(lib.nn.Linear(64, 64, dtype=np.float64), lib.nn.ReLU(),
                              lib.nn.Linear(64, 10, dtype=np.float64)).to(device)
    opt = lib.optim.Adam(model.parameters(), lr=1e-2)
    for epoch in range(epochs):
        for xb, yb in data.minibatches(Xtr, ytr, batch_size=64, seed=epoch):
            opt.zero_grad()
            lib.F.cross_entropy(model(lib.Tensor(xb).to(device)), lib.Tensor(yb).to(device)).backward()
            opt.step()
    scores = model(lib.Tensor(Xte).to(device))
    assert scores.device == device
    return float((backend.to_numpy(scores.data).argmax(axis=1) == yte).mean())


def test_full_training_run_on_the_digits_reaches_the_cpu_accuracy(dev, nn_optim):
    cpu, gpu = _digits_run(nn_optim, "cpu"), _digits_run(nn_optim, "cuda")
    assert cpu >= 0.9, f"the CPU run itself is off (accuracy {cpu:.3f})"
    assert gpu >= cpu - 0.01, f"GPU accuracy {gpu:.3f} vs CPU {cpu:.3f}"


# --------------------------------------------------------------------------------------- real GPU only
@pytest.mark.gpu
def test_environment_variable_selects_cupy():
    code = "import deepgrad; print(deepgrad.backend.current(), deepgrad.backend.default_device())"
    env = dict(os.environ, DEEPGRAD_BACKEND="cupy")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["cupy", "cuda"]


@pytest.mark.gpu
def test_cupy_arrays_are_recognised_and_synchronised():
    import cupy

    a = cupy.arange(6.0).reshape(2, 3)
    assert backend.device_of(a) == "cuda" and backend.get_array_module(a) is cupy
    b = a @ a.T
    backend.synchronize(b)
    np.testing.assert_array_equal(backend.to_numpy(b), np.arange(6.0).reshape(2, 3) @ np.arange(6.0).reshape(2, 3).T)
    with pytest.raises(TypeError):
        np.asarray(a)  # CuPy itself refuses: the behaviour the stand-in copies
    with pytest.raises(TypeError):
        a + np.ones((2, 3))
