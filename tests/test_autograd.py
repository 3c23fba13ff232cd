"""Reverse-mode engine: every op against centred differences (float64), the pitfalls, the seeds' examples."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from hypothesis.extra import numpy as hnp

import deepgrad
from deepgrad import backend
from deepgrad.autograd import Tensor, no_grad, is_grad_enabled, trace, from_op


# An independent checker: centred differences of a scalar function of several arrays.
def numeric_grads(f, arrays, h=1e-6):
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for idx in np.ndindex(a.shape):
            old = a[idx]
            a[idx] = old + h
            fp = f(*arrays)
            a[idx] = old - h
            fm = f(*arrays)
            a[idx] = old
            g[idx] = (fp - fm) / (2 * h)
        grads.append(g)
    return grads


def check(fn, *arrays, atol=1e-6, rtol=1e-5):
    """Compare the engine's gradients of sum(fn(...) * w) (random w) with numerical ones."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    w = np.random.default_rng(7).normal(size=np.shape(fn(*[Tensor(a) for a in arrays]).data))

    def value(*arrs):
        return float((fn(*[Tensor(a) for a in arrs]).data * w).sum())

    ts = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    out = fn(*ts)
    out.backward(w)
    expected = numeric_grads(value, arrays)
    for t, e in zip(ts, expected, strict=True):
        if t.grad is None:  # an input the output does not depend on gets no gradient (as PyTorch)
            np.testing.assert_array_equal(e, 0.0)
            continue
        assert t.grad.shape == t.shape
        np.testing.assert_allclose(t.grad, e, atol=atol, rtol=rtol)


shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4)
floats = st.floats(-2, 2, allow_nan=False)


def arr(shape, seed=0, low=-2.0, high=2.0):
    return np.random.default_rng(seed).uniform(low, high, size=shape)


# ---------------------------------------------------------------------------------- the seeds' examples
def test_seed_example_add_mul():
    x, y, z = (Tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    f = (x + y) * z
    f.backward()
    assert f.item() == -12.0
    assert (x.grad, y.grad, z.grad) == (-4.0, -4.0, 3.0)


def test_seed_sigmoid_neuron_gradients():
    # f = σ(w0·x0 + w1·x1 + w2) at w0=2, x0=−1, w1=−3, x1=−2, w2=−3: the pre-activation is 1.
    w0, x0, w1, x1, w2 = (Tensor(v, requires_grad=True) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    f = (w0 * x0 + w1 * x1 + w2).sigmoid()
    f.backward()
    s = 1 / (1 + math.exp(-1.0))
    assert f.item() == pytest.approx(0.7311, abs=1e-4)
    local = s * (1 - s)  # σ'(1) ≈ 0.1966
    assert w0.grad == pytest.approx(-1 * local) and x0.grad == pytest.approx(2 * local)
    assert w1.grad == pytest.approx(-2 * local) and x1.grad == pytest.approx(-3 * local)
    assert w2.grad == pytest.approx(local)
    assert [round(float(g), 2) for g in (w0.grad, x0.grad, w1.grad, x1.grad, w2.grad)] == [-0.2, 0.39, -0.39, -0.59, 0.2]


def test_seed_logistic_regression_step():
    # Neuron slides: bias w0=−3, w1=2, w2=−3, example (x1, x2, y) = (−1, −2, 1), loss −log f, η = 0.001.
    w = Tensor([-3.0, 2.0, -3.0], requires_grad=True)
    x = np.array([1.0, -1.0, -2.0])  # leading 1 multiplies the bias
    f = (w @ x).sigmoid()
    loss = -f.log()
    loss.backward()
    assert f.item() == pytest.approx(0.7311, abs=1e-4)
    np.testing.assert_allclose(w.grad, [-0.2689, 0.2689, 0.5379], atol=1e-4)
    with no_grad():
        w_new = w.data - 0.001 * w.grad
    np.testing.assert_allclose(w_new, [-2.99973, 1.99973, -3.00054], atol=1e-5)  # slides drop digits in w0, w1
    assert 1 / (1 + math.exp(-(w_new @ x))) == pytest.approx(0.7314, abs=1e-4)  # slides say 0.7323


# ------------------------------------------------------------------------------------ op gradients
@settings(max_examples=25, deadline=None)
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=3),
       st.sampled_from(["add", "sub", "mul", "div"]))
def test_binary_ops_broadcast(shapes2, op):
    s1, s2 = shapes2.input_shapes
    a, b = arr(s1, 1), arr(s2, 2, 0.5, 2.0)
    fn = {"add": lambda x, y: x + y, "sub": lambda x, y: x - y,
          "mul": lambda x, y: x * y, "div": lambda x, y: x / y}[op]
    check(fn, a, b)


@pytest.mark.parametrize("fn", [
    lambda x: 2.0 + x, lambda x: x - 3, lambda x: 3 - x, lambda x: 2 * x, lambda x: x / 4, lambda x: 1.5 / x,
    lambda x: -x, lambda x: x ** 3, lambda x: x ** 2, lambda x: x ** 0.5, lambda x: x.exp(), lambda x: x.log(),
    lambda x: x.sqrt(), lambda x: x.sigmoid(), lambda x: x.tanh(), lambda x: x.relu(),
    lambda x: x.leaky_relu(0.1), lambda x: abs(x - 1.3), lambda x: x.clip(0.8, 1.7), lambda x: x.clamp(min=1.0),
    lambda x: np.arange(12.0).reshape(3, 4) * x, lambda x: x + np.ones((3, 4)),
], ids=lambda f: "")
def test_unary_ops(fn):
    check(fn, arr((3, 4), 3, 0.5, 2.0))


@settings(max_examples=25, deadline=None)
@given(shapes, st.data())
def test_reductions(shape, data):
    shape = tuple(shape)
    a = arr(shape, 4)
    axis = data.draw(st.one_of(st.none(), st.integers(-len(shape), len(shape) - 1)) if shape else st.none())
    keep = data.draw(st.booleans())
    for name in ("sum", "mean", "max", "min"):
        check(lambda x, name=name: getattr(x, name)(axis=axis, keepdims=keep), a)


def test_reduction_over_axis_tuple():
    a = arr((2, 3, 4), 5)
    check(lambda x: x.sum(axis=(0, 2)), a)
    check(lambda x: x.mean(axis=(0, 2), keepdims=True), a)
    check(lambda x: x.max(axis=(1, 2)), a)


def test_max_ties_share_gradient_evenly():
    x = Tensor([[1.0, 3.0, 3.0], [2.0, 0.0, 2.0]], requires_grad=True)
    x.max(axis=1).sum().backward()
    np.testing.assert_allclose(x.grad, [[0, 0.5, 0.5], [0.5, 0, 0.5]])
    y = Tensor([5.0, 5.0, 5.0, 1.0], requires_grad=True)
    y.max().backward()
    np.testing.assert_allclose(y.grad, [1 / 3, 1 / 3, 1 / 3, 0])


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((3,), (3, 2)), ((4, 3), (3,)), ((4, 3), (3, 2)),
                                   ((2, 4, 3), (3, 5)), ((2, 4, 3), (2, 3, 5)), ((4, 3), (2, 3, 5))])
def test_matmul_shapes(sa, sb):
    check(lambda x, y: x @ y, arr(sa, 6), arr(sb, 7))


def test_matmul_with_plain_array_on_either_side():
    W = arr((3, 2), 8)
    check(lambda x: x @ W, arr((4, 3), 9))
    X = arr((4, 3), 10)
    check(lambda w: X @ w, W)


def test_shape_ops():
    a = arr((2, 3, 4), 11)
    check(lambda x: x.reshape(6, 4), a)
    check(lambda x: x.reshape((4, -1)), a)
    check(lambda x: x.transpose(), a)
    check(lambda x: x.transpose(1, 0, 2), a)
    check(lambda x: x.transpose((2, 0, 1)) * np.arange(24.0).reshape(4, 2, 3), a)
    check(lambda x: x[0].T, a)
    check(lambda x: x.flatten(1), a)


@pytest.mark.parametrize("index", [1, -1, slice(1, 3), (slice(None), 2), (Ellipsis, 1), (None, 1),
                                   np.array([0, 2, 0, 0]), (np.array([0, 1, 1]), np.array([2, 2, 2]))],
                         ids=str)
def test_indexing(index):
    check(lambda x: x[index], arr((3, 4), 12))


def test_indexing_repeated_entries_add_up():
    x = Tensor(np.zeros(4), requires_grad=True)
    x[np.array([1, 1, 3, 1])].sum().backward()
    np.testing.assert_array_equal(x.grad, [0, 3, 0, 1])
    m = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    m[m.data > 2].sum().backward()
    np.testing.assert_array_equal(m.grad, [[0, 0, 0], [1, 1, 1]])
    t = Tensor(np.arange(4.0), requires_grad=True)
    t[Tensor(np.array([2, 2]))].sum().backward()  # an index given as a Tensor
    np.testing.assert_array_equal(t.grad, [0, 0, 2, 0])


@pytest.mark.parametrize("axis", [-1, 0])
def test_softmax_and_log_softmax(axis):
    a = arr((3, 4), 13)
    check(lambda x: x.softmax(axis), a)
    check(lambda x: x.log_softmax(axis), a)
    s = Tensor(a).softmax(axis).data
    np.testing.assert_allclose(s.sum(axis=axis), 1.0)
    np.testing.assert_allclose(Tensor(a).log_softmax(axis).data, np.log(s))


def test_softmax_and_sigmoid_stable_for_huge_inputs():
    with np.errstate(over="raise", invalid="raise", divide="raise"):
        x = Tensor([[1000.0, -1000.0, 0.0]], requires_grad=True)
        p = x.softmax()
        lp = x.log_softmax()
        s = x.sigmoid()
        (p.sum() + lp.sum() + s.sum()).backward()
    assert np.isfinite(lp.data).all() and np.isfinite(x.grad).all()
    np.testing.assert_allclose(s.data, [[1, 0, 0.5]])


# ------------------------------------------------------------------------------- random graphs
UNARY = [lambda t: t.tanh(), lambda t: t.sigmoid(), lambda t: t * t, lambda t: (t * t + 1).log(),
         lambda t: t.exp() * 0.1, lambda t: t.relu() + 0.5 * t, lambda t: t.softmax(-1),
         lambda t: t.sum(axis=-1, keepdims=True), lambda t: t.max(axis=0, keepdims=True), lambda t: t.T.T,
         lambda t: t.abs() + 1e-3]
BINARY = [lambda a, b: a + b, lambda a, b: a - b, lambda a, b: a * b, lambda a, b: a / (b * b + 1)]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 10), st.integers(0, 3), st.integers(0, 99), st.integers(0, 99)),
                min_size=1, max_size=10),
       st.integers(1, 4), st.integers(1, 4))
def test_random_graphs(program, n, d):
    """A random DAG over two inputs: each step applies a unary op to one earlier node and combines it
    with another earlier node; nodes are reused, so gradients must add at branches."""
    def fn(x, y):
        nodes = [x, y]
        for u, b, i, j in program:
            a = UNARY[u](nodes[i % len(nodes)])
            nodes.append(BINARY[b](a, nodes[j % len(nodes)]))
        return nodes[-1]
    check(fn, arr((n, d), 14, -1, 1), arr((n, d), 15, -1, 1), atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------------- pitfalls
def test_node_used_twice_gets_both_contributions():
    x = Tensor(3.0, requires_grad=True)
    y = x * x + x  # dy/dx = 2x + 1
    y.backward()
    assert x.grad == 7.0
    a = Tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    (b * b + b).sum().backward()  # d/da = (2b + 1) * 2
    np.testing.assert_allclose(a.grad, (2 * np.array([2.0, 4.0]) + 1) * 2)


def test_backward_twice_accumulates_and_reset():
    x = Tensor([1.0, -2.0], requires_grad=True)
    loss = (x * x).sum()
    loss.backward()
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * 2 * x.data)
    x.grad = None
    loss.backward()
    np.testing.assert_allclose(x.grad, 2 * x.data)


def test_broadcast_gradient_reduces_to_input_shape():
    x = Tensor(np.ones((4, 3)), requires_grad=True)
    b = Tensor(np.zeros(3), requires_grad=True)
    c = Tensor(np.zeros((4, 1)), requires_grad=True)
    s = Tensor(2.0, requires_grad=True)
    ((x + b + c) * s).sum().backward()
    assert b.grad.shape == (3,) and c.grad.shape == (4, 1) and s.grad.shape == ()
    np.testing.assert_allclose(b.grad, 8.0)
    np.testing.assert_allclose(c.grad, 6.0)
    assert s.grad == 12.0


def test_non_scalar_backward_needs_grad():
    x = Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        (x * 2).backward(np.ones(3))
    (x * 2).backward(np.array([1.0, 10.0]))
    np.testing.assert_allclose(x.grad, [2.0, 20.0])


def test_backward_on_constant_graph_is_an_error():
    with pytest.raises(RuntimeError, match="requires_grad"):
        (Tensor(1.0) * 2).backward()


def test_only_leaves_keep_grad_unless_retained():
    x = Tensor(2.0, requires_grad=True)
    h = x * 3
    k = (x * 5).retain_grad()
    y = h * h + k
    y.backward()
    assert h.grad is None and k.grad == 1.0 and x.grad == 2 * 3 * 6.0 + 5
    x.grad = None
    y.backward(retain_graph_grads=True)
    assert h.grad == 12.0 and y.grad == 1.0


def test_constants_get_no_grad_and_no_grad_mode():
    x = Tensor([1.0, 2.0], requires_grad=True)
    c = Tensor([3.0, 4.0])
    (x * c).sum().backward()
    assert c.grad is None
    assert is_grad_enabled()
    with no_grad():
        assert not is_grad_enabled()
        y = x * 2
    assert is_grad_enabled() and not y.requires_grad and y.op == "" and y.parents == ()
    with deepgrad.no_grad():  # the package-level alias
        assert not (x + 1).requires_grad


def test_deep_graph_has_no_recursion_limit():
    x = Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(20000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_float32_stays_float32():
    rng = np.random.default_rng(0)
    x = Tensor(rng.normal(size=(5, 3)).astype(np.float32), requires_grad=True)
    W = Tensor(rng.normal(size=(3, 2)).astype(np.float32), requires_grad=True)
    out = ((x @ W).sigmoid() * 2.5 - 1).tanh().log_softmax().mean() / 3
    assert out.dtype == np.float32
    out.backward()
    assert x.grad.dtype == np.float32 and W.grad.dtype == np.float32
    # A float64 array meeting a float32 parameter: the parameter's gradient keeps the parameter's dtype.
    (W * np.ones((3, 2))).sum().backward()
    assert W.grad.dtype == np.float32


def test_construction_and_conversions():
    t = Tensor([[1, 2], [3, 4]])
    assert t.dtype == np.float64 and t.shape == (2, 2) and t.ndim == 2 and t.numel() == 4 and len(t) == 2
    assert t.size() == (2, 2) and t.size(1) == 2 and t.dim() == 2
    assert Tensor(np.arange(3)).dtype == np.arange(3).dtype  # arrays keep their dtype
    assert Tensor(3, dtype=np.float32).dtype == np.float32
    assert t.tolist() == [[1, 2], [3, 4]] and Tensor(2.5).item() == 2.5 and float(Tensor([4.0])) == 4.0
    n = t.numpy()
    n[0, 0] = 99
    assert t.data[0, 0] == 99  # numpy() shares the memory, as PyTorch's
    d = Tensor(t, requires_grad=True).detach()
    assert not d.requires_grad and d.is_leaf
    with pytest.raises(TypeError, match="requires_grad"):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(ValueError, match="one element"):
        t.item()
    assert "requires_grad=True" in repr(Tensor(1.0, requires_grad=True))
    assert Tensor([1.0, 2.0]).zero_().tolist() == [0.0, 0.0]


def test_comparisons_are_elementwise_boolean_tensors():
    t = Tensor([1.0, 2.0, 3.0], requires_grad=True)
    for r in (t > 2, t >= 2, t < 2, t <= Tensor([2.0, 2.0, 2.0]), t == 2, t != Tensor([2.0, 2.0, 2.0])):
        assert isinstance(r, Tensor) and r.dtype == bool and not r.requires_grad
    np.testing.assert_array_equal(t > 1.5, [False, True, True])
    np.testing.assert_array_equal(t == Tensor([1.0, 0.0, 3.0]), [True, False, True])
    assert len({t, Tensor(1.0)}) == 2 and {t: 1}[t] == 1  # hashable by identity: sets and dicts still work
    # The engine keys its bookkeeping by identity: a graph whose two leaves are equal elementwise still
    # sends each its own gradient (a topological sort that compared with == would merge them).
    a, b = Tensor([1.0, 2.0], requires_grad=True), Tensor([1.0, 2.0], requires_grad=True)
    (a * 2 + b * 3).sum().backward()
    assert a.grad.tolist() == [2.0, 2.0] and b.grad.tolist() == [3.0, 3.0]


def test_numpy_array_on_the_left_defers_to_tensor():
    t = Tensor([1.0, 2.0], requires_grad=True)
    out = np.array([3.0, 4.0]) * t + np.array([1.0, 1.0])
    assert isinstance(out, Tensor)
    out.sum().backward()
    np.testing.assert_allclose(t.grad, [3.0, 4.0])


def test_pow_takes_a_number_or_a_tensor_exponent():
    with pytest.raises(TypeError, match="exponent"):
        Tensor(2.0) ** "2"
    x, p = Tensor(2.0, requires_grad=True), Tensor(3.0, requires_grad=True)
    (x ** p).backward()
    assert x.grad.item() == 12.0 and p.grad.item() == pytest.approx(8.0 * np.log(2.0))


def test_from_op_adds_a_new_op():
    def cube(t):
        a = t.data
        return from_op(a ** 3, (t,), "cube", lambda g: (3 * a ** 2 * g,), lambda da: 3 * a ** 2 * da)
    check(lambda x: cube(x), arr((2, 3), 16))


# ------------------------------------------------------------------------------------- devices
def test_device_cpu_and_cuda_errors():
    t = Tensor([1.0, 2.0])
    assert t.device == "cpu" and t.to("cpu") is t and t.cpu() is t
    with pytest.raises(ValueError, match="device"):
        t.to("tpu")
    if not backend.gpu_available():
        with pytest.raises(backend.BackendError, match="CuPy|GPU"):
            t.to("cuda")
        with pytest.raises(backend.BackendError):
            t.cuda()


@pytest.mark.gpu
def test_gpu_roundtrip_and_mixing_error():
    x = Tensor([1.0, 2.0], requires_grad=True)
    xg = x.to("cuda:0")
    assert xg.device == "cuda"
    (xg * xg).sum().backward()
    np.testing.assert_allclose(x.grad, [2.0, 4.0])
    with pytest.raises(RuntimeError, match="cpu.*cuda|cuda.*cpu"):
        xg + Tensor([1.0, 1.0])


# ---------------------------------------------------------------------------------------- tracing
def test_trace_contract():
    x = Tensor(2.0, requires_grad=True, label="x")
    y = Tensor(-3.0, requires_grad=True)
    q = x * y
    f = (q + x).sigmoid()
    g = trace(f)
    assert [n.id for n in g.nodes] == list(range(len(g.nodes)))
    assert g.nodes[-1].op == "sigmoid" and g.root is g.nodes[-1]
    pos = {n.id: i for i, n in enumerate(g.nodes)}
    for n in g.nodes:  # topological: parents before children
        assert all(pos[p] < pos[n.id] for p in n.parents)
        assert isinstance(n.value, np.ndarray) and n.grad is None
    assert sorted(g.edges) == sorted((p, n.id) for n in g.nodes for p in n.parents)
    assert {n.op for n in g.nodes} == {"", "mul", "add", "sigmoid"}
    labels = [n.label for n in g.nodes]
    assert "x" in labels and len(set(labels)) == len(labels)
    assert g.reverse_order()[0] == g.nodes[-1].id and sorted(g.reverse_order()) == list(range(len(g.nodes)))

    g2 = trace(f, backward=True)  # every node's gradient, intermediates included
    s = f.item()
    by_op = {n.op: n for n in g2.nodes}
    assert by_op["sigmoid"].grad == 1.0
    assert by_op["add"].grad == pytest.approx(s * (1 - s))
    assert by_op["mul"].grad == pytest.approx(s * (1 - s))
    leaf_x = next(n for n in g2.nodes if n.label == "x")
    assert leaf_x.grad == pytest.approx(s * (1 - s) * (-3.0 + 1))
    # values are copies: changing the tensor later does not change the snapshot
    x.data[...] = 100.0
    assert leaf_x.value == 2.0


def test_trace_node_used_twice_and_constants():
    x = Tensor(3.0, requires_grad=True)
    y = x * x * 2
    g = trace(y)
    mul1 = g.nodes[[n.op for n in g.nodes].index("mul")]
    assert mul1.parents[0] == mul1.parents[1]
    assert any(n.label == "2" and not n.requires_grad for n in g.nodes)


def test_package_level_names():
    assert deepgrad.Tensor is Tensor and deepgrad.tensor([1.0]).shape == (1,)
    assert deepgrad.autograd.no_grad is no_grad
