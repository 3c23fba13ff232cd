"""Devices without a GPU: the backend's device helpers, and "no silent host<->device copies", proved with a
CuPy stand-in (tests/fake_cuda.py) whose arrays refuse implicit conversion to NumPy, as CuPy's do.

These run on every machine; tests/test_gpu.py runs the same library on a real GPU where there is one.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest

import deepgrad
import fake_cuda
from deepgrad import backend, data, init, layers, losses


@pytest.fixture
def cp():
    """The CuPy stand-in, registered with the backend as the "cuda" device for one test."""
    with fake_cuda.installed() as module:
        fake_cuda.reset_transfers()
        yield module


# ------------------------------------------------------------------------------- the backend on its own
@pytest.mark.parametrize("spelling, expected", [("cpu", "cpu"), ("CPU", "cpu"), ("cuda", "cuda"),
                                                ("cuda:0", "cuda"), (" cuda ", "cuda")])
def test_parse_device_accepts_pytorch_spellings(spelling, expected):
    assert backend.parse_device(spelling) == expected


@pytest.mark.parametrize("bad", ["mps", "cuda:1", "", None, 0, "tpu"])
def test_parse_device_names_the_bad_value(bad):
    with pytest.raises(ValueError, match="device must be 'cpu', 'cuda'") as info:
        backend.parse_device(bad)
    assert repr(bad) in str(info.value)


def test_host_data_is_on_the_cpu():
    x = np.arange(3.0)
    assert backend.device_of(x) == "cpu"
    assert backend.device_of([1, 2]) == "cpu"
    assert backend.to_device(x, "cpu") is x  # already there: no copy
    moved = backend.to_device([1.5, 2.5], "cpu")
    assert isinstance(moved, np.ndarray) and moved.tolist() == [1.5, 2.5]
    assert backend.check_same_device(x, np.ones(2), 3.0) == "cpu"
    backend.synchronize(x)  # nothing to wait for on the host
    backend.synchronize()


@pytest.mark.skipif(backend.gpu_available(), reason="this machine has a GPU: moving to 'cuda' succeeds here")
def test_moving_to_cuda_without_a_gpu_says_what_is_missing():
    with pytest.raises(backend.BackendError, match="CuPy|GPU"):
        backend.to_device(np.ones(2), "cuda")
    with pytest.raises(backend.BackendError, match="CuPy|GPU"):
        deepgrad.use("cupy")
    assert backend.current() == "numpy" and backend.xp() is np  # a failed switch changes nothing


@pytest.mark.skipif(backend.gpu_available(), reason="this machine has a GPU: DEEPGRAD_BACKEND=cupy works here")
def test_environment_variable_selects_the_backend():
    code = "import deepgrad; print(deepgrad.backend.current())"
    env = dict(os.environ, DEEPGRAD_BACKEND="numpy")
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "numpy"
    env["DEEPGRAD_BACKEND"] = "cupy"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert "BackendError" in done.stderr and "cupy" in done.stderr.lower()


def test_register_device_array_checks_its_arguments():
    with pytest.raises(TypeError, match="array_type must be a class"):
        backend.register_device_array("FakeDeviceArray", fake_cuda.cupy)
    with pytest.raises(TypeError, match="module must be an array module"):
        backend.register_device_array(fake_cuda.FakeDeviceArray, object())


# ------------------------------------------------------------------- the stand-in behaves like CuPy
def test_stand_in_refuses_every_implicit_crossing(cp):
    d, h = cp.asarray([1.0, 2.0]), np.array([1.0, 2.0])
    with pytest.raises(TypeError, match="Implicit conversion"):
        np.asarray(d)
    with pytest.raises(TypeError, match="Unsupported type"):
        d + h
    with pytest.raises(TypeError, match="Unsupported type"):
        h + d  # NumPy defers to the device array, which refuses
    with pytest.raises(TypeError, match="Unsupported type"):
        cp.exp(h)
    with pytest.raises(TypeError, match="Unsupported type"):
        np.matmul(h, d)
    assert isinstance(d + 1.0, fake_cuda.FakeDeviceArray)  # Python numbers are fine
    assert isinstance(d.sum(), fake_cuda.FakeDeviceArray)  # reductions stay on the device (0-d), as in CuPy


def test_stand_in_counts_explicit_transfers(cp):
    d = cp.asarray(np.arange(4.0))
    assert fake_cuda.transfers == {"to_device": 1, "to_host": 0}
    back = d.get()
    assert fake_cuda.transfers["to_host"] == 1
    np.testing.assert_array_equal(back, np.arange(4.0))
    float(d.sum())
    assert fake_cuda.transfers["to_host"] == 2  # reading one number back is a transfer too


# ------------------------------------------------------------------------- backend with a device array
def test_backend_recognises_device_arrays(cp):
    d = cp.ones((2, 3), dtype=np.float32)
    assert backend.device_of(d) == "cuda"
    assert backend.get_array_module(d) is cp
    assert backend.get_array_module(np.ones(2), d) is cp  # "any device array" decides the module

    class Holder:  # anything Tensor-like: the array is in .data
        data = d
    assert backend.device_of(Holder()) == "cuda"
    assert backend.get_array_module(Holder()) is cp


def test_to_numpy_copies_explicitly(cp):
    d = cp.asarray(np.arange(6.0).reshape(2, 3))
    host = backend.to_numpy(d)
    assert type(host) is np.ndarray and host.shape == (2, 3)
    assert fake_cuda.transfers["to_host"] == 1
    host[0, 0] = 99.0  # a copy: the device array is untouched
    assert float(d[0, 0]) == 0.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_to_device_round_trip_keeps_values_and_dtype(cp, rng, dtype):
    x = (rng.standard_normal((3, 4)) * 10).astype(dtype)
    d = backend.to_device(x, "cuda:0")
    assert backend.device_of(d) == "cuda" and d.dtype == dtype and d.shape == x.shape
    assert backend.to_device(d, "cuda") is d  # already there: no copy
    back = backend.to_device(d, "cpu")
    np.testing.assert_array_equal(back, x)
    assert back.dtype == dtype


def test_mixing_devices_is_a_clear_error(cp):
    d, h = cp.ones(2), np.ones(2)
    assert backend.check_same_device(d, cp.zeros(3), 2.0, np.float32(1)) == "cuda"
    with pytest.raises(RuntimeError, match="cpu and cuda") as info:
        backend.check_same_device(h, d, op="add")
    assert "'add'" in str(info.value) and ".to('cuda')" in str(info.value)
    with pytest.raises(RuntimeError, match="cuda and cpu"):
        backend.check_same_device(d, h)


def test_use_cupy_selects_the_device_and_unregistering_restores_numpy(cp):
    assert deepgrad.use("cupy") is cp
    assert backend.current() == "cupy" and backend.default_device() == "cuda"
    assert backend.device_of(backend.asarray([1.0, 2.0])) == "cuda"
    assert backend.check_same_device() == "cuda"
    fake_cuda.uninstall()  # the fixture's exit then has nothing left to undo
    assert backend.current() == "numpy" and backend.xp() is np
    assert backend.device_of(backend.asarray([1.0])) == "cpu"


# ------------------------------------------------ layers, losses, init and data: device in, device out
def test_layers_run_on_device_arrays_and_keep_them_there(cp, rng):
    x, W, b = (rng.standard_normal(s) for s in [(5, 4), (4, 3), (3,)])
    out_h, cache_h = layers.linear_relu_forward(x, W, b)
    out_d, cache_d = layers.linear_relu_forward(cp.asarray(x), cp.asarray(W), cp.asarray(b))
    dout = rng.standard_normal(out_h.shape)
    grads_h = layers.linear_relu_backward(dout, cache_h)
    grads_d = layers.linear_relu_backward(cp.asarray(dout), cache_d)
    fake_cuda.reset_transfers()
    for h, d in zip((out_h, *grads_h), (out_d, *grads_d), strict=True):
        assert backend.device_of(d) == "cuda"
        np.testing.assert_allclose(d.get(), h, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("host_argument", ["x", "W", "b"])
def test_linear_layer_refuses_mixed_devices(cp, rng, host_argument):
    arrays = {"x": rng.standard_normal((5, 4)), "W": rng.standard_normal((4, 3)), "b": rng.standard_normal(3)}
    args = {k: (v if k == host_argument else cp.asarray(v)) for k, v in arrays.items()}
    with pytest.raises((TypeError, RuntimeError)):
        layers.linear_forward(**args)


@pytest.mark.parametrize("name", ["relu", "sigmoid", "tanh", "leaky_relu"])
def test_activation_backward_refuses_a_host_gradient_for_device_activations(cp, rng, name):
    x = cp.asarray(rng.standard_normal((3, 4)))
    out, cache = getattr(layers, f"{name}_forward")(x)
    with pytest.raises((TypeError, RuntimeError)):
        getattr(layers, f"{name}_backward")(np.ones((3, 4)), cache)


def test_losses_run_on_device_arrays(cp, rng):
    scores, y = rng.standard_normal((6, 4)), rng.integers(0, 4, size=6)
    for fn in (losses.softmax_loss, losses.svm_loss):
        loss_h, d_h = fn(scores, y)
        loss_d, d_d = fn(cp.asarray(scores), cp.asarray(y))
        assert backend.device_of(d_d) == "cuda"
        assert loss_d == pytest.approx(loss_h, rel=1e-12)
        np.testing.assert_allclose(d_d.get(), d_h, rtol=1e-12, atol=1e-15)


def test_regression_loss_refuses_mixed_devices(cp, rng):
    with pytest.raises((TypeError, RuntimeError)):
        losses.mse_loss(cp.asarray(rng.standard_normal((4, 2))), rng.standard_normal((4, 2)))


def test_classification_loss_refuses_host_labels_for_device_scores(cp, rng):
    with pytest.raises((TypeError, RuntimeError)):
        losses.softmax_loss(cp.asarray(rng.standard_normal((6, 4))), rng.integers(0, 4, size=6))


def test_init_fills_device_arrays_in_place_like_host_arrays(cp):
    host = np.empty((30, 20))
    dev = cp.empty((30, 20))
    init.kaiming_normal_(host, nonlinearity="relu", generator=np.random.default_rng(3))
    same = init.kaiming_normal_(dev, nonlinearity="relu", generator=np.random.default_rng(3))
    assert same is dev and backend.device_of(dev) == "cuda"
    np.testing.assert_array_equal(dev.get(), host)


def test_minibatches_of_device_data_stay_on_the_device(cp, rng):
    X, y = rng.standard_normal((10, 3)), rng.integers(0, 2, size=10)
    Xd, yd = cp.asarray(X), cp.asarray(y)
    seen = []
    for xb, yb in data.minibatches(Xd, yd, batch_size=4, seed=0):
        assert backend.device_of(xb) == "cuda" and backend.device_of(yb) == "cuda"
        seen.extend(yb.get().tolist())
    assert sorted(seen) == sorted(y.tolist())


def test_host_minibatches_move_to_the_device_one_at_a_time(cp, rng):
    """The lecture's pattern: parameters stay on the GPU, and each mini-batch is copied up when needed."""
    X, y = rng.standard_normal((20, 5)), rng.integers(0, 3, size=20)
    W, b = cp.asarray(rng.standard_normal((5, 3)) * 0.1), cp.zeros(3)
    fake_cuda.reset_transfers()
    batches = 0
    for xb, yb in data.minibatches(X, y, batch_size=8, seed=1):
        xb, yb = backend.to_device(xb, "cuda"), backend.to_device(yb, "cuda")
        scores, cache = layers.linear_forward(xb, W, b)
        loss, dscores = losses.softmax_loss(scores, yb)
        _, dW, db = layers.linear_backward(dscores, cache)
        W -= 0.1 * dW
        b -= 0.1 * db
        batches += 1
    assert batches == 3
    assert fake_cuda.transfers["to_device"] == 2 * batches  # xb and yb, nothing else went up
    assert backend.device_of(W) == "cuda" and backend.device_of(b) == "cuda"


# ----------------------------------------------------------------------------- the Tensor engine, nn, optim
@pytest.fixture
def Tensor():
    return pytest.importorskip("deepgrad.autograd").Tensor


def test_tensor_moves_between_devices_explicitly(cp, Tensor, rng):
    x = rng.standard_normal((3, 4))
    t = Tensor(x, requires_grad=True)
    assert t.device == "cpu" and t.to("cpu") is t
    g = t.to("cuda")
    assert g.device == "cuda" and t.cuda().device == "cuda" and g.to("cuda:0") is g
    assert backend.device_of(g.data) == "cuda" and g.dtype == x.dtype
    back = g.cpu()
    assert back.device == "cpu" and isinstance(back.data, np.ndarray)
    np.testing.assert_array_equal(back.data, x)
    assert t.device == "cpu"  # .to returns a new tensor; the original stays where it was


@pytest.mark.parametrize("op", ["add", "sub", "mul", "truediv", "matmul", "radd", "rmul"])
def test_tensor_op_mixing_devices_raises_naming_both(cp, Tensor, rng, op):
    host = Tensor(rng.standard_normal((3, 3)), requires_grad=True)
    dev = Tensor(cp.asarray(rng.standard_normal((3, 3))), requires_grad=True)
    fake_cuda.reset_transfers()
    with pytest.raises(RuntimeError) as info:
        getattr(host, f"__{op}__")(dev)
    assert "cpu" in str(info.value) and "cuda" in str(info.value)
    with pytest.raises(RuntimeError):
        getattr(dev, f"__{op}__")(host)
    assert fake_cuda.transfers == {"to_device": 0, "to_host": 0}  # refused before anything was copied


def test_tensor_op_with_a_host_array_raises_for_a_device_tensor(cp, Tensor):
    dev = Tensor(cp.ones((2, 2)))
    with pytest.raises(RuntimeError, match="cuda"):
        dev + np.ones((2, 2))
    with pytest.raises(RuntimeError, match="cuda"):
        np.ones((2, 2)) * dev  # NumPy hands the operation to the Tensor, which refuses
    assert isinstance((dev * 2.0 + 1).data, fake_cuda.FakeDeviceArray)  # numbers are fine


def test_numpy_conversion_of_a_device_tensor_is_never_implicit(cp, Tensor):
    dev = Tensor(cp.ones(3))
    with pytest.raises(TypeError):
        np.asarray(dev)
    np.testing.assert_array_equal(dev.numpy(), np.ones(3))  # the explicit way works


def test_backward_on_the_device_matches_the_host(cp, Tensor, rng):
    x, w = rng.standard_normal((5, 4)), rng.standard_normal((4, 3))

    def run(to):
        xt, wt = Tensor(to(x)), Tensor(to(w), requires_grad=True)
        loss = ((xt @ wt).relu() * 0.5 + (xt @ wt).tanh()).sum()
        loss.backward()
        return loss, wt.grad

    loss_h, grad_h = run(lambda a: a)
    loss_d, grad_d = run(cp.asarray)
    assert backend.device_of(grad_d) == "cuda" and backend.device_of(loss_d.data) == "cuda"
    np.testing.assert_allclose(grad_d.data.get(), grad_h, rtol=1e-12, atol=1e-14)


def test_gradient_flows_back_across_to(cp, Tensor, rng):
    x = Tensor(rng.standard_normal(4), requires_grad=True)
    (x.to("cuda") * 3.0).sum().backward()
    assert backend.device_of(x.grad) == "cpu"  # the gradient comes home to where the leaf lives
    np.testing.assert_allclose(x.grad, np.full(4, 3.0))


@pytest.fixture
def nn_optim():
    nn = pytest.importorskip("deepgrad.nn")
    optim = pytest.importorskip("deepgrad.optim")
    F = pytest.importorskip("deepgrad.functional")
    return nn, optim, F


def test_module_to_moves_every_parameter_and_training_keeps_them_there(cp, Tensor, nn_optim, rng):
    """Parameters go to the device once; after that only mini-batches (and the loss number) cross."""
    nn, optim, F = nn_optim
    deepgrad.init.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3))
    assert model.to("cuda") is model  # in place, as in PyTorch
    params = list(model.parameters())
    assert params and all(p.device == "cuda" for p in params)
    opt = optim.Adam(params, lr=1e-2)
    X, y = rng.standard_normal((40, 6)), rng.integers(0, 3, size=40)
    fake_cuda.reset_transfers()
    batches = 0
    for xb, yb in data.minibatches(X, y, batch_size=16, seed=0):
        xb, yb = Tensor(xb).to("cuda"), Tensor(yb).to("cuda")
        opt.zero_grad()
        loss = F.cross_entropy(model(xb), yb)
        loss.backward()
        opt.step()
        batches += 1
    assert fake_cuda.transfers["to_device"] == 2 * batches
    assert all(p.device == "cuda" and backend.device_of(p.grad) == "cuda" for p in model.parameters())
    assert all(p is q for p, q in zip(model.parameters(), params, strict=True))  # the optimiser updated them in place
    model.to("cpu")
    assert all(p.device == "cpu" and isinstance(p.data, np.ndarray) for p in model.parameters())


def test_model_on_the_device_refuses_a_host_batch(cp, Tensor, nn_optim, rng):
    nn, _, _ = nn_optim
    model = nn.Linear(4, 2).to("cuda")
    with pytest.raises((RuntimeError, TypeError)) as info:
        model(Tensor(rng.standard_normal((3, 4))))
    if isinstance(info.value, RuntimeError):
        assert "cpu" in str(info.value) and "cuda" in str(info.value)


def test_tensor_losses_refuse_host_targets_for_device_inputs(cp, Tensor, nn_optim, rng):
    _, _, F = nn_optim
    logits = Tensor(cp.asarray(rng.standard_normal((4, 3))), requires_grad=True)
    with pytest.raises(RuntimeError, match="cpu"):
        F.cross_entropy(logits, Tensor(rng.integers(0, 3, size=4)))
