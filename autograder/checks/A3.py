"""Trusted checks for A3, the autodiff engine: the student's Tensor and Dual, driven from the sandbox.

Drivers build graphs out of the student's classes and hand back plain arrays. Where a part must not depend on
another (Part 1's VJPs without Part 2's backward()), the driver calls the nodes' `_backward` itself, in the
reverse of the order in which it created them. Expected values come from NumPy formulas and from a small
trusted evaluator of random add/mul programs below.
"""
from __future__ import annotations

import functools

import numpy as np

from autograder.checks import BIG_TOL, Part, large_problem, multiscale, passed_share, ran_out_of_time, too_slow

NOTEBOOK = "A3.ipynb"
PARTS = []      # in the notebook's order: each part is appended right after its check

# The large inputs, run last by the parts with VJPs (autograder/FORMAT.md, "The large problem")
BIG = (512, 512)            # the large input of elementwise operations and sums: 262 144 entries
BIG_MATMUL = (16, 16384, 16)   # a long contracted axis: nudging a whole column of A (row of W) at once is too slow too


def run_backward(nodes, seed):
    """Reverse-mode sweep without the student's backward(): nodes are in creation order, root last."""
    nodes[-1].grad = np.array(seed, dtype=np.float64)
    for node in reversed(nodes):
        node._backward()


# ------------------------------------------------------------------------------------ Part 1: + and *
def core_inputs(rng):
    N, M = (int(v) for v in rng.integers(2, 8, 2))
    return {"a": multiscale(rng, (N, M), decades=2), "b": multiscale(rng, (M,), decades=2),
            "g": multiscale(rng, (N, M), decades=2),
            "s": float(rng.uniform(-3, 3)), "a_big": rng.standard_normal(BIG), "b_big": rng.standard_normal(BIG[1]),
            "g_big": rng.standard_normal(BIG)}


def drive_core(ns, inp, out):
    T = ns["Tensor"]
    for name, op in (("add", lambda p, q: p + q), ("mul", lambda p, q: p * q)):
        x, y = T(inp["a"]), T(inp["b"])
        z = op(x, y)
        out[name] = z.data
        run_backward([z], inp["g"])
        out[name + "_da"], out[name + "_db"] = x.grad, y.grad
    out["number_left"] = (inp["s"] * T(inp["a"]) + inp["s"]).data
    out["sub"] = (T(inp["a"]) - T(inp["b"])).data
    for name, op in (("add", lambda p, q: p + q), ("mul", lambda p, q: p * q)):
        x, y = T(inp["a_big"]), T(inp["b_big"])
        run_backward([op(x, y)], inp["g_big"])
        out[name + "_big_da"], out[name + "_big_db"] = x.grad, y.grad


def check_core(inp, out, fb):
    a, b, g, s = inp["a"], inp["b"], inp["g"], inp["s"]
    ok = fb.close("add", a + b, what="x + y (y broadcast over the rows)")
    ok &= fb.gradient("add_da", g, what="x.grad after the + node's VJP")
    ok &= fb.gradient("add_db", g.sum(axis=0), what="y.grad after the + node's VJP (summed over the broadcast rows)")
    ok &= fb.close("mul", a * b, what="x * y")
    ok &= fb.gradient("mul_da", g * b, what="x.grad after the * node's VJP")
    ok &= fb.gradient("mul_db", (g * a).sum(axis=0), what="y.grad after the * node's VJP")
    ok &= fb.close("number_left", s * a + s, what="numbers on either side of a Tensor")
    ok &= fb.close("sub", a - b, what="x - y")

    def large():
        a, b, g = inp["a_big"], inp["b_big"], inp["g_big"]
        vjps = (("add", g, g.sum(axis=0)), ("mul", g * b, (g * a).sum(axis=0)))     # x.grad, y.grad of each node
        return all([fb.gradient(f"{name}_big_d{ab}", grad, tol=BIG_TOL,
                                what=f"{xy}.grad of the {name} node for x of shape {BIG}")
                    for name, *grads in vjps for ab, xy, grad in zip("ab", "xy", grads, strict=True)])
    return large_problem(fb, out, ok, large, key="mul_big_db", reached="sub",
                         why=too_slow(f"the VJPs of + and * on inputs of shape {BIG} and {BIG[1:]}", "VJP"))


PARTS.append(Part("tensor_core", points=2, inputs=core_inputs, check=check_core, driver=drive_core,
                  helpers=(run_backward,), needs=("Tensor",),
                  description="Tensor: + and * with their VJPs, broadcasting"))


# ------------------------------------------------------------------------ Part 2: order and backward()
ADD, MUL, SCALE = 0, 1, 2


def backward_inputs(rng):
    L, K = int(rng.integers(2, 5)), int(rng.integers(6, 16))
    shape = (int(rng.integers(1, 4)),)
    # First a leaf feeds a + and then, later, a *; another feeds a * and then a +: with `grad = ...` instead
    # of `grad += ...` in either op, the backward pass of the earlier node overwrites the later one's share.
    program = [(ADD, 0, 1), (MUL, 0, L), (MUL, 1, L + 1), (ADD, L + 2, 1)]
    for k in range(len(program), K):
        op = int(rng.integers(0, 3))
        # each node uses the one before (so that every node is an ancestor of the root) and any other
        program.append((op, L + k - 1, int(rng.integers(0, L + k))))
    program[-1] = (ADD, L + K - 2, int(rng.integers(0, L)))  # the root uses a leaf directly as well
    return {"leaves": rng.uniform(-2, 2, (L,) + shape), "program": np.array(program, dtype=np.int64),
            "consts": rng.uniform(-2, 2, K), "g": rng.standard_normal(shape),
            "xyz": np.array([-2.0, 5.0, -4.0]), "xyz_random": rng.uniform(-5, 5, 3),
            "chain_length": 200, "xyz_big": rng.standard_normal((3, BIG[0] * BIG[1])),
            "g_big": rng.standard_normal(BIG[0] * BIG[1])}


def drive_backward(ns, inp, out):
    T, order_of = ns["Tensor"], ns["topological_order"]
    for key in ("xyz", "xyz_random"):
        x, y, z = (T(v) for v in inp[key])
        f = (x + y) * z
        f.backward()
        out[key + "_f"] = f.data
        out[key + "_grads"] = np.array([x.grad, y.grad, z.grad])
        out[key + "_order_length"] = len(order_of(f))

    pool = [T(v) for v in inp["leaves"]]
    for k, (op, i, j) in enumerate(inp["program"]):
        if op == 0:
            pool.append(pool[i] + pool[j])
        elif op == 1:
            pool.append(pool[i] * pool[j])
        else:
            pool.append(pool[i] * float(inp["consts"][k]))
    root = pool[-1]
    order = order_of(root)
    position = {id(node): n for n, node in enumerate(order)}
    out["positions"] = [position.get(id(node), -1) for node in pool]
    out["order_unique"] = len({id(node) for node in order}) == len(order)
    out["order_last_is_root"] = len(order) > 0 and order[-1] is root
    root.backward(inp["g"])
    out["root"] = root.data
    out["leaf_grads"] = np.array([leaf.grad for leaf in pool[:len(inp["leaves"])]])

    h = T(0.5)
    node = h
    for _ in range(int(inp["chain_length"])):
        node = node * 1.0 + h * 0.5
    node.backward()
    out["chain_grad"] = h.grad

    x, y, z = (T(v) for v in inp["xyz_big"])
    ((x + y) * z).backward(inp["g_big"])
    out["xyz_big_grads"] = np.array([x.grad, y.grad, z.grad])


def evaluate_program(leaves, program, consts, g):
    """Trusted values and leaf gradients of an add/mul/scale program (reverse accumulation by hand)."""
    values = [np.array(v, dtype=np.float64) for v in leaves]
    for k, (op, i, j) in enumerate(program):
        values.append(values[i] + values[j] if op == ADD else values[i] * values[j] if op == MUL
                      else values[i] * consts[k])
    grads = [np.zeros_like(v) for v in values]
    grads[-1] = np.array(g, dtype=np.float64)
    L = len(leaves)
    for k in range(len(program) - 1, -1, -1):
        op, i, j = program[k]
        upstream = grads[L + k]
        if op == ADD:
            grads[i] = grads[i] + upstream
            grads[j] = grads[j] + upstream
        elif op == MUL:
            grads[i] = grads[i] + upstream * values[j]
            grads[j] = grads[j] + upstream * values[i]
        else:
            grads[i] = grads[i] + upstream * consts[k]
    return values, np.array(grads[:L])


def check_backward(inp, out, fb):
    ok = True
    for key, words in (("xyz", "the notes' example (x + y) z at (-2, 5, -4)"), ("xyz_random", "(x + y) z at random x, y, z")):
        x, y, z = inp[key]
        ok &= fb.close(key + "_f", (x + y) * z, what=f"f for {words}")
        ok &= fb.gradient(key + "_grads", np.array([z, z, x + y]), what=f"(df/dx, df/dy, df/dz) for {words}")
        ok &= fb.equal(key + "_order_length", 5, what=f"the length of topological_order(f) for {words} (5 nodes)")

    values, leaf_grads = evaluate_program(inp["leaves"], inp["program"], inp["consts"], inp["g"])
    positions = out.get("positions")
    if positions is not None:
        positions = np.asarray(positions)
        L, program = len(inp["leaves"]), inp["program"]
        parents = {L + k: ((int(i),) if op == SCALE else (int(i), int(j))) for k, (op, i, j) in enumerate(program)}
        needed, stack = set(), [L + len(program) - 1]     # the root and its ancestors
        while stack:
            n = stack.pop()
            if n not in needed:
                needed.add(n)
                stack.extend(parents.get(n, ()))
        every_node = all(positions[n] >= 0 for n in needed)
        respects_edges = every_node and all(positions[n] > positions[q] for n in needed for q in parents.get(n, ()))
        ok &= fb.check(every_node, "topological_order lists every node the root of a random graph depends on",
                       "topological_order leaves out nodes that the root depends on")
        ok &= fb.check(respects_edges, "every node comes after its parents",
                       "some node comes before one of its parents")
    else:
        ok &= fb.check(False, "", "topological_order did not return (see the error above)")
    ok &= fb.check(bool(out.get("order_unique")) and bool(out.get("order_last_is_root")),
                   "each node appears once and the root is last",
                   "a node appears twice (or the root is not last): remember which nodes you have visited")
    ok &= fb.close("root", values[-1], what="the root of a random add/mul graph")
    ok &= fb.gradient("leaf_grads", leaf_grads,
                      what="the leaves' gradients in a random graph that reuses nodes (gradients add at branches)")
    ok &= fb.close("chain_grad", 1.0 + 0.5 * inp["chain_length"],
                   what="the gradient at the start of a chain 400 nodes deep")
    n = inp["g_big"].size

    def large():
        (x, y, z), g = inp["xyz_big"], inp["g_big"]
        return fb.gradient("xyz_big_grads", np.array([g * z, g * z, g * (x + y)]), tol=BIG_TOL,
                           what=f"(df/dx, df/dy, df/dz) for (x + y) z with x, y, z of {n} entries each")
    return large_problem(fb, out, ok, large, key="xyz_big_grads", reached="chain_grad",
                         why=too_slow(f"backward() of (x + y) z for x, y, z of {n} entries each"))


PARTS.append(Part("backward", points=3, inputs=backward_inputs, check=check_backward, driver=drive_backward,
                  needs=("Tensor", "topological_order"),
                  description="topological order and backward(): the notes' (x + y) z, random graphs with branches"))


# ------------------------------------------------------------------------------ Part 3: elementwise
def elementwise_inputs(rng):
    shape = tuple(int(v) for v in rng.integers(2, 6, 2))
    relu_x = multiscale(rng, shape, decades=2)
    relu_x[np.abs(relu_x) < 1e-6] = 1.0
    return {"positive": rng.uniform(0.3, 3.0, shape), "moderate": rng.uniform(-4.0, 4.0, shape),
            "relu_x": relu_x, "g": multiscale(rng, shape, decades=2),
            "k": float(rng.choice([2.0, 3.0, -1.0, 0.5, -2.5])),
            "big": np.array([-1000.0, 0.0, 1000.0]), "w": np.array([-3.0, 2.0, -3.0]), "x12": np.array([-1.0, -2.0]),
            "positive_big": rng.uniform(0.3, 3.0, BIG), "moderate_big": rng.uniform(-4.0, 4.0, BIG),
            "relu_x_big": rng.standard_normal(BIG), "g_big": rng.standard_normal(BIG)}


ELEMENTWISE = ("pow", "exp", "log", "relu", "sigmoid", "tanh", "div")


def drive_elementwise(ns, inp, out):
    T = ns["Tensor"]
    ops = {"pow": ("positive", lambda t, s: t ** inp["k"]), "exp": ("moderate", lambda t, s: t.exp()),
           "log": ("positive", lambda t, s: t.log()), "relu": ("relu_x", lambda t, s: t.relu()),
           "sigmoid": ("moderate", lambda t, s: t.sigmoid()), "tanh": ("moderate", lambda t, s: t.tanh()),
           "div": ("positive", lambda t, s: t / T(inp["positive" + s][::-1].copy()))}
    names = ("pow", "exp", "log", "relu", "sigmoid", "tanh", "div")
    for name in names:
        key, fn = ops[name]
        try:
            x = T(inp[key])
            y = fn(x, "")
            out[name] = y.data
            nodes = [y] if name != "div" else [y._parents[1], y]   # division: the ** -1 node, then the product
            run_backward(nodes, inp["g"])
            out[name + "_grad"] = x.grad
        except Exception:          # one missing primitive costs only its own share
            pass
    try:
        out["sigmoid_big"] = T(inp["big"]).sigmoid().data
    except Exception:
        pass
    w = [T(v) for v in inp["w"]]
    x1, x2 = inp["x12"]
    nodes = []
    for step in (lambda: w[1] * x1, lambda: w[2] * x2, lambda: w[0] + nodes[0], lambda: nodes[2] + nodes[1],
                 lambda: nodes[3].sigmoid(), lambda: nodes[4].log(), lambda: nodes[5] * -1.0):
        nodes.append(step())
    out["neuron_f"] = nodes[4].data
    run_backward(nodes, 1.0)
    out["neuron_grads"] = np.array([wi.grad for wi in w])
    for name in names:             # the large inputs, last
        key, fn = ops[name]
        try:
            x = T(inp[key + "_big"])
            y = fn(x, "_big")
            run_backward([y] if name != "div" else [y._parents[1], y], inp["g_big"])
            out[name + "_big_grad"] = x.grad
        except Exception:
            pass


def _sigmoid(x):
    z = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + z), z / (1 + z))


def _elementwise_expected(inp, s=""):
    g, k, pos, mod, rx = inp["g" + s], inp["k"], inp["positive" + s], inp["moderate" + s], inp["relu_x" + s]
    other = pos[::-1]
    return {
        "pow": (pos ** k, k * pos ** (k - 1) * g), "exp": (np.exp(mod), np.exp(mod) * g),
        "log": (np.log(pos), g / pos), "relu": (np.maximum(rx, 0), (rx > 0) * g),
        "sigmoid": (_sigmoid(mod), _sigmoid(mod) * (1 - _sigmoid(mod)) * g),
        "tanh": (np.tanh(mod), (1 - np.tanh(mod) ** 2) * g), "div": (pos / other, g / other),
    }


def check_elementwise(inp, out, fb):
    k = inp["k"]
    expected, expected_big = _elementwise_expected(inp), _elementwise_expected(inp, "_big")
    labels = {name: f"x ** {k:g}" if name == "pow" else "x / y" if name == "div" else f"x.{name}()"
              for name in ELEMENTWISE}
    # The driver runs the large inputs in this order: the first that ran out of time says why, for those after it.
    stopped = next((name for name in ELEMENTWISE if ran_out_of_time(out, name + "_big_grad", "neuron_grads")), None)
    results = {}
    for name, label in labels.items():
        value, grad = expected[name]
        ok = (fb.close(name, value, what=f"the value of {label}")
              & fb.gradient(name + "_grad", grad, what=f"the VJP of {label}"))
        large = f"the VJP of {label} on an input of shape {BIG}"
        results[name] = large_problem(fb, out, ok, functools.partial(fb.gradient, name + "_big_grad",
                                                                     expected_big[name][1], tol=BIG_TOL, what=large),
                                      key=name + "_big_grad", reached="neuron_grads",
                                      why=too_slow(large, "VJP") if name == stopped else None)
    if stopped not in (None, ELEMENTWISE[-1]):
        fb.note(f"The part stopped at the time limit there: the operations after {labels[stopped]} could not be run "
                f"on their large inputs and earn nothing either.")
    sigmoid_big = fb.close("sigmoid_big", np.array([0.0, 0.5, 1.0]), tol=1e-12,
                           what="sigmoid at -1000, 0, 1000 (no overflow)", code="unstable")
    f = _sigmoid(np.array(1.0))
    neuron = (fb.close("neuron_f", f, what="the notes' sigmoid neuron output sigmoid(1) = 0.7311")
              & fb.gradient("neuron_grads", -(1 - f) * np.array([1.0, -1.0, -2.0]),
                            what="dL/dw for the notes' sigmoid neuron with L = -log f"))
    # the neuron's gradient comes from the VJPs of sigmoid and log: it counts only where they are derived
    return passed_share([*results.values(), sigmoid_big, neuron and results["sigmoid"] and results["log"]])


PARTS.append(Part("elementwise", points=3, inputs=elementwise_inputs, check=check_elementwise,
                  driver=drive_elementwise, helpers=(run_backward,), needs=("Tensor",),
                  description="pow, exp, log, relu, sigmoid, tanh, division; the notes' sigmoid neuron"))


# -------------------------------------------------------------------------------- Part 4: @ and sum
def matmul_sum_inputs(rng):
    N, D, M = (int(v) for v in rng.integers(2, 7, 3))
    return {"A": multiscale(rng, (N, D), decades=2), "W": multiscale(rng, (D, M), decades=2),
            "G": multiscale(rng, (N, M), decades=2), "S": multiscale(rng, (N, D), decades=2),
            "g_all": float(rng.standard_normal()), "g_axis0": multiscale(rng, (D,), decades=2),
            "g_axis1_keep": multiscale(rng, (N, 1), decades=2),
            "A_big": rng.standard_normal(BIG_MATMUL[:2]), "W_big": rng.standard_normal(BIG_MATMUL[1:]),
            "G_big": rng.standard_normal(BIG_MATMUL[::2]), "S_big": rng.standard_normal(BIG),
            "g_all_big": float(rng.standard_normal()), "g_axis0_big": rng.standard_normal(BIG[1]),
            "g_axis1_keep_big": rng.standard_normal((BIG[0], 1))}


def drive_matmul_sum(ns, inp, out):
    T = ns["Tensor"]
    a, w = T(inp["A"]), T(inp["W"])
    p = a @ w
    out["matmul"] = p.data
    run_backward([p], inp["G"])
    out["matmul_dA"], out["matmul_dW"] = a.grad, w.grad
    for key, kwargs in (("all", {}), ("axis0", {"axis": 0}), ("axis1_keep", {"axis": 1, "keepdims": True})):
        s = T(inp["S"])
        total = s.sum(**kwargs)
        out["sum_" + key] = total.data
        run_backward([total], inp["g_" + key])
        out["sum_" + key + "_grad"] = s.grad
    a, w = T(inp["A_big"]), T(inp["W_big"])          # the large inputs, last
    run_backward([a @ w], inp["G_big"])
    out["matmul_big_dA"], out["matmul_big_dW"] = a.grad, w.grad
    for key, kwargs in (("all", {}), ("axis0", {"axis": 0}), ("axis1_keep", {"axis": 1, "keepdims": True})):
        s = T(inp["S_big"])
        run_backward([s.sum(**kwargs)], inp["g_" + key + "_big"])
        out["sum_" + key + "_big_grad"] = s.grad


def check_matmul_sum(inp, out, fb):
    A, W, G, S = inp["A"], inp["W"], inp["G"], inp["S"]
    ok = fb.close("matmul", A @ W, what="A @ W")
    ok &= fb.gradient("matmul_dA", G @ W.T, what="the VJP of @ for A")
    ok &= fb.gradient("matmul_dW", A.T @ G, what="the VJP of @ for W")
    ok &= fb.close("sum_all", S.sum(), what="x.sum()")
    ok &= fb.gradient("sum_all_grad", np.full(S.shape, inp["g_all"]), what="the VJP of x.sum()")
    ok &= fb.close("sum_axis0", S.sum(axis=0), what="x.sum(axis=0)")
    ok &= fb.gradient("sum_axis0_grad", np.broadcast_to(inp["g_axis0"], S.shape), what="the VJP of x.sum(axis=0)")
    ok &= fb.close("sum_axis1_keep", S.sum(axis=1, keepdims=True), what="x.sum(axis=1, keepdims=True)")
    ok &= fb.gradient("sum_axis1_keep_grad", np.broadcast_to(inp["g_axis1_keep"], S.shape),
                      what="the VJP of x.sum(axis=1, keepdims=True)")

    def large():
        A, W, G = inp["A_big"], inp["W_big"], inp["G_big"]
        sums = (("all", np.full(BIG, inp["g_all_big"])), ("axis0", np.broadcast_to(inp["g_axis0_big"], BIG)),
                ("axis1_keep", np.broadcast_to(inp["g_axis1_keep_big"], BIG)))
        return all([fb.gradient("matmul_big_dA", G @ W.T, tol=BIG_TOL, what=f"the VJP of @ for A of shape {A.shape}"),
                    fb.gradient("matmul_big_dW", A.T @ G, tol=BIG_TOL, what=f"the VJP of @ for W of shape {W.shape}"),
                    *[fb.gradient(f"sum_{key}_big_grad", g, tol=BIG_TOL,
                                  what=f"the VJP of sum ({key}) for x of shape {BIG}") for key, g in sums]])
    return large_problem(fb, out, ok, large, key="sum_axis1_keep_big_grad", reached="sum_axis1_keep_grad",
                         why=too_slow(f"the VJPs of @ (for A of shape {BIG_MATMUL[:2]} and W of shape "
                                      f"{BIG_MATMUL[1:]}) and of sum (for x of shape {BIG})", "VJP"))


PARTS.append(Part("matmul_sum", points=2, inputs=matmul_sum_inputs, check=check_matmul_sum, driver=drive_matmul_sum,
                  helpers=(run_backward,), needs=("Tensor",), description="matrix product and sum with their VJPs"))


# ------------------------------------------------------------------------------ Part 5: forward mode
FORWARD = ("add", "mul", "pow", "exp", "log", "relu", "sigmoid", "tanh", "matmul", "sum")


def forward_inputs(rng):
    N, D, M = (int(v) for v in rng.integers(2, 6, 3))
    relu_x = rng.standard_normal((N, D))
    relu_x[np.abs(relu_x) < 1e-3] = 0.5
    return {"x": rng.uniform(0.3, 2.0, (N, D)), "u": rng.standard_normal((N, D)), "v": rng.standard_normal((N, D)),
            "y": rng.standard_normal((N, D)), "relu_x": relu_x, "W": rng.standard_normal((D, M)),
            "Wt": rng.standard_normal((D, M)), "k": float(rng.choice([2.0, 3.0, -1.0, 0.5])),
            "xyz": np.array([-2.0, 5.0, -4.0]), "xyz_t": rng.standard_normal(3)}


def drive_forward(ns, inp, out):
    jvp = ns["jvp"]
    x, v, y, u = inp["x"], inp["v"], inp["y"], inp["u"]
    cases = {
        "add": (lambda a, b: a + b, (x, y), (v, u)), "mul": (lambda a, b: a * b, (x, y), (v, u)),
        "pow": (lambda a: a ** inp["k"], (x,), (v,)), "exp": (lambda a: a.exp(), (x,), (v,)),
        "log": (lambda a: a.log(), (x,), (v,)), "relu": (lambda a: a.relu(), (inp["relu_x"],), (v,)),
        "sigmoid": (lambda a: a.sigmoid(), (y,), (v,)), "tanh": (lambda a: a.tanh(), (y,), (v,)),
        "matmul": (lambda a, b: a @ b, (x, inp["W"]), (v, inp["Wt"])),
        "sum": (lambda a: a.sum(axis=1), (x,), (v,)),
    }
    for name in ("add", "mul", "pow", "exp", "log", "relu", "sigmoid", "tanh", "matmul", "sum"):
        fn, primals, tangents = cases[name]
        try:
            out[name], out[name + "_tangent"] = jvp(fn, primals, tangents)
        except Exception:
            pass
    out["xyz"], out["xyz_tangent"] = jvp(lambda a, b, c: (a + b) * c, tuple(inp["xyz"]), tuple(inp["xyz_t"]))


def check_forward(inp, out, fb):
    x, v, y, u, W, Wt, k, rx = inp["x"], inp["v"], inp["y"], inp["u"], inp["W"], inp["Wt"], inp["k"], inp["relu_x"]
    expected = {
        "add": (x + y, v + u), "mul": (x * y, v * y + x * u), "pow": (x ** k, k * x ** (k - 1) * v),
        "exp": (np.exp(x), np.exp(x) * v), "log": (np.log(x), v / x), "relu": (np.maximum(rx, 0), (rx > 0) * v),
        "sigmoid": (_sigmoid(y), _sigmoid(y) * (1 - _sigmoid(y)) * v), "tanh": (np.tanh(y), (1 - np.tanh(y) ** 2) * v),
        "matmul": (x @ W, v @ W + x @ Wt), "sum": (x.sum(axis=1), v.sum(axis=1)),
    }
    results = []
    for name in FORWARD:
        value, tangent = expected[name]
        results.append(fb.close(name, value, what=f"the value for {name}")
                       & fb.gradient(name + "_tangent", tangent, what=f"the tangent (JVP) for {name}"))
    (a, b, c), (da, db, dc) = inp["xyz"], inp["xyz_t"]
    results.append(fb.close("xyz", (a + b) * c, what="(x + y) z at the notes' point (-2, 5, -4)")
                   & fb.gradient("xyz_tangent", (da + db) * c + (a + b) * dc,
                                 what="its JVP along a random direction"))
    return passed_share(results)


PARTS.append(Part("forward_mode", points=3, inputs=forward_inputs, check=check_forward, driver=drive_forward,
                  needs=("Dual", "jvp"), description="forward mode: dual numbers and jvp"))


# ---------------------------------------------------------------------------- Part 6: unbroadcast
# Each case: a gradient of the broadcast shape and the operand's shape before broadcasting (-1 ends a shape).
UNBROADCAST_CASES = (((4, 3), (3,)), ((4, 3), (1, 3)), ((4, 3), (4, 1)), ((2, 4, 3), (4, 1)),
                     ((2, 4, 3), (2, 1, 3)), ((4, 3), ()), ((2, 4, 3), (2, 4, 3)), ((4, 3), (1, 1)))


def unbroadcast_inputs(rng):
    inp = {}
    for k, (big, small) in enumerate(UNBROADCAST_CASES):
        stretch = tuple(int(rng.integers(2, 6)) if n != 3 else n for n in big)   # random sizes, same pattern
        small = tuple(stretch[len(stretch) - len(small) + i] if n != 1 else 1 for i, n in enumerate(small))
        inp[f"grad{k}"] = multiscale(rng, stretch, decades=2)
        inp[f"shape{k}"] = np.array(small, dtype=np.int64)
    return inp


def drive_unbroadcast(ns, inp, out):
    k = 0
    while f"grad{k}" in inp:
        try:
            out[f"case{k}"] = ns["unbroadcast"](np.array(inp[f"grad{k}"]), tuple(int(n) for n in inp[f"shape{k}"]))
        except Exception:      # one failing case costs only its own share
            pass
        k += 1


def check_unbroadcast(inp, out, fb):
    from deepgrad.autograd import _unbroadcast as reference
    results = []
    for k in range(len(UNBROADCAST_CASES)):
        grad, shape = inp[f"grad{k}"], tuple(int(n) for n in inp[f"shape{k}"])
        results.append(fb.gradient(f"case{k}", reference(grad, shape),
                                   what=f"unbroadcast of a {grad.shape} gradient to shape {shape}"))
    return passed_share(results)


PARTS.append(Part("unbroadcast", points=2, inputs=unbroadcast_inputs, check=check_unbroadcast,
                  driver=drive_unbroadcast, needs=("unbroadcast",),
                  description="unbroadcast: the gradient of a broadcast operand, summed back"))


# ------------------------------------------------------------------------- Part 7: Module, Linear
def modules_inputs(rng):
    D, H, C = (int(v) for v in rng.integers(3, 9, 3))
    N = int(rng.integers(3, 8))
    return {"sizes": np.array([D, H, C]), "seed": int(rng.integers(0, 2**31)), "X": rng.standard_normal((N, D)),
            "W1": rng.standard_normal((D, H)), "b1": rng.standard_normal(H), "W2": rng.standard_normal((H, C)),
            "b2": rng.standard_normal(C), "G": rng.standard_normal((N, C))}


def drive_modules(ns, inp, out):
    Tensor, Parameter, Module, Linear, ReLU, Sequential = (ns[k] for k in ("Tensor", "Parameter", "Module", "Linear",
                                                                         "ReLU", "Sequential"))
    D, H, C = (int(v) for v in inp["sizes"])
    first = Linear(D, H, np.random.default_rng(int(inp["seed"])))
    out["W_init"], out["b_init"] = first.weight.data, first.bias.data
    out["are_parameters"] = isinstance(first.weight, Parameter) and isinstance(first.bias, Parameter)
    second = Linear(H, C, np.random.default_rng(0))
    model = Sequential(first, ReLU(), second)
    mine = [first.weight, first.bias, second.weight, second.bias]
    out["order"] = [next((k for k, q in enumerate(mine) if q is p), -1) for p in model.parameters()]
    out["nested_count"] = len(Sequential(Sequential(first, ReLU()), second).parameters())

    class Tied(Module):                      # the same layer reached three ways, plus a parameter of its own
        def __init__(self):
            super().__init__()
            self.encoder = first
            self.blocks = [first, (ReLU(), second)]
            self.scale = Parameter(np.ones(1))
    out["tied_count"] = len(Tied().parameters())

    for p, key in zip(mine, ("W1", "b1", "W2", "b2"), strict=True):
        p.data = np.array(inp[key])
    out["scores"] = model(np.array(inp["X"])).data
    for attempt in ("first", "second"):
        model.zero_grad()
        out["zeroed"] = [float(np.abs(p.grad).max()) for p in mine]
        (model(Tensor(inp["X"])) * inp["G"]).sum().backward()
        out[attempt] = np.concatenate([np.ravel(p.grad) for p in mine])


def check_modules(inp, out, fb):
    from deepgrad import layers
    D, H, C = (int(v) for v in inp["sizes"])
    ok = fb.close("W_init", np.random.default_rng(inp["seed"]).standard_normal((D, H)) * np.sqrt(2.0 / D),
                  what="Linear's initial weight, rng.standard_normal((in, out)) * sqrt(2 / in)")
    ok &= fb.close("b_init", np.zeros(H), tol=0.0, what="Linear's initial bias (zeros)")
    ok &= fb.check(bool(out.get("are_parameters")), "weight and bias are Parameters",
                   "Linear's weight and bias must be Parameters, or Module.parameters() cannot find them")
    ok &= fb.equal("order", np.arange(4), what="Sequential(Linear, ReLU, Linear).parameters(): "
                                              "[weight, bias, weight, bias], in order")
    ok &= fb.equal("nested_count", 4, what="the number of parameters of a Sequential inside a Sequential")
    if not fb.equal("tied_count", 5, what="the number of parameters of a module that reaches one layer three ways"):
        fb.note("A parameter reached twice must be listed once (remember what you have seen, by identity), "
                "and parameters inside lists and tuples count too.")
        ok = False
    h, lin1 = layers.linear_forward(inp["X"], inp["W1"], inp["b1"])
    a, act = layers.relu_forward(h)
    scores, lin2 = layers.linear_forward(a, inp["W2"], inp["b2"])
    ok &= fb.close("scores", scores, what="the scores of Sequential(Linear, ReLU, Linear)")
    da, dW2, db2 = layers.linear_backward(inp["G"], lin2)
    _, dW1, db1 = layers.linear_backward(layers.relu_backward(da, act), lin1)
    grads = np.concatenate([np.ravel(g) for g in (dW1, db1, dW2, db2)])
    ok &= fb.close("zeroed", np.zeros(4), tol=0.0, what="every gradient after model.zero_grad()")
    ok &= fb.gradient("first", grads, what="the parameters' gradients after one backward pass")
    if not fb.gradient("second", grads, what="the gradients after zero_grad() and a second backward pass"):
        fb.note("If they are twice the right ones, zero_grad() did not clear the gradients of every parameter.")
        ok = False
    return ok


PARTS.append(Part("modules", points=3, inputs=modules_inputs, check=check_modules, driver=drive_modules,
                  needs=("Tensor", "Parameter", "Module", "Linear", "ReLU", "Sequential"),
                  description="Parameter, Module.parameters() and zero_grad(), Linear, Sequential"))


# ---------------------------------------------------------------------------- Part 8: cross-entropy
def cross_entropy_inputs(rng):
    N, C = int(rng.integers(4, 10)), int(rng.integers(3, 7))
    return {"scores": multiscale(rng, (N, C), decades=2) * 0.1, "big": rng.uniform(-1000, 1000, (N, C)),
            "y": rng.integers(0, C, N)}


def drive_cross_entropy(ns, inp, out):
    Tensor = ns["Tensor"]
    for key in ("scores", "big"):
        scores = Tensor(inp[key])
        loss = ns["cross_entropy"](scores, np.array(inp["y"]))
        out[key + "_loss"] = loss.data
        loss.backward()
        out[key + "_grad"] = scores.grad


def check_cross_entropy(inp, out, fb):
    from deepgrad.losses import softmax_loss
    ok = True
    for key, words in (("scores", "ordinary scores"), ("big", "scores as large as +-1000")):
        loss, dscores = softmax_loss(inp[key], inp["y"])
        ok &= fb.close(key + "_loss", loss, what=f"the loss for {words}")
        ok &= fb.gradient(key + "_grad", dscores, what=f"d loss / d scores for {words}", N=len(inp["y"]))
    return ok


PARTS.append(Part("cross_entropy", points=2, inputs=cross_entropy_inputs, check=check_cross_entropy,
                  driver=drive_cross_entropy, needs=("Tensor", "cross_entropy"),
                  description="softmax cross-entropy from Tensor operations, stable for large scores"))


# ------------------------------------------------------------------------- Part 9: SGD, train_step
def sgd_inputs(rng):
    N, D, H, C, K = 40, int(rng.integers(4, 9)), int(rng.integers(5, 12)), int(rng.integers(3, 6)), 5
    B = int(rng.integers(6, 14))
    return {"X": rng.standard_normal((N, D)), "y": rng.integers(0, C, N), "lr": float(rng.uniform(0.05, 0.5)),
            "W1": rng.standard_normal((D, H)) / np.sqrt(D), "b1": 0.1 * rng.standard_normal(H),
            "W2": rng.standard_normal((H, C)) / np.sqrt(H), "b2": 0.1 * rng.standard_normal(C),
            "batches": np.array([rng.choice(N, B, replace=False) for _ in range(K)])}


def drive_sgd(ns, inp, out):
    Tensor = ns["Tensor"]
    params = [Tensor(np.array(inp[k])) for k in ("W1", "b1", "W2", "b2")]
    W1, b1, W2, b2 = params
    def model(X):                # plain Tensors: no Module needed here
        return (Tensor(X) @ W1 + b1).relu() @ W2 + b2
    optimizer = ns["SGD"](params, inp["lr"])
    losses, after = [], []
    for batch in inp["batches"]:
        losses.append(ns["train_step"](model, optimizer, np.array(inp["X"])[batch], np.array(inp["y"])[batch]))
        after.append(np.concatenate([np.ravel(p.data) for p in params]))
        out["losses"], out["params"] = losses, after
    optimizer.zero_grad()
    out["zeroed"] = [float(np.abs(p.grad).max()) for p in params]


def reference_sgd_steps(inp):
    """Losses before each step and parameters after it, by deepgrad's Tensor, cross_entropy and optim.SGD."""
    from deepgrad import Tensor, optim
    from deepgrad.functional import cross_entropy
    params = [Tensor(np.array(inp[k], dtype=np.float64), requires_grad=True) for k in ("W1", "b1", "W2", "b2")]
    W1, b1, W2, b2 = params
    optimizer = optim.SGD(params, lr=inp["lr"])
    losses, after = [], []
    for batch in inp["batches"]:
        optimizer.zero_grad()
        loss = cross_entropy((Tensor(inp["X"][batch]) @ W1 + b1).relu() @ W2 + b2, inp["y"][batch])
        loss.backward()
        optimizer.step()
        losses.append(float(loss.data))
        after.append(np.concatenate([np.ravel(p.data) for p in params]))
    return np.array(losses), np.array(after)


def check_sgd(inp, out, fb):
    losses, after = reference_sgd_steps(inp)
    ok = fb.close("losses", losses, what="the loss train_step returns at each of 5 steps (before the step)")
    if not fb.close("params", after, what="the parameters after each of 5 steps of SGD"):
        fb.note("Each step must start from zeroed gradients (optimizer.zero_grad() before backward()), "
                "and move every parameter by -lr * grad.")
        ok = False
    ok &= fb.close("zeroed", np.zeros(4), tol=0.0, what="every gradient after optimizer.zero_grad()")
    return ok


PARTS.append(Part("sgd_training", points=2, inputs=sgd_inputs, check=check_sgd, driver=drive_sgd,
                  needs=("Tensor", "SGD", "train_step"), description="the SGD optimiser and one training step"))


# ------------------------------------------------------------------------------ Part 10: the digits
def _digits_split(split):
    """Training (the lessons' training and validation images) and test images of the digits, standardised."""
    from deepgrad.data import load_digits, standardize, train_val_test_split
    X, y = load_digits(scale=True)
    X_tr, y_tr, X_va, y_va, X_te, y_te = train_val_test_split(X, y, val=0.1, test=0.2, seed=split)
    X_train, X_test, _, _ = standardize(np.concatenate([X_tr, X_va]), X_te)
    return X_train, np.concatenate([y_tr, y_va]), X_test, y_te


def digits_inputs(rng):
    """A fresh split of the digits for every student, drawn from the grader's generator, each set shuffled by it
    again: the student's code receives the training images and labels and the test images, and nothing from
    which the test labels could be rebuilt (no split seed: with it and the public labels, the split is
    replayed). The test labels stay with the grader (``held_out``)."""
    X_train, y_train, X_test, y_test = _digits_split(int(rng.integers(0, 2**63)))
    tr, te = rng.permutation(len(y_train)), rng.permutation(len(y_test))
    # 20 epochs, as the notebook trains: after 10 a right engine fell short of 0.95 on about 1 split in 40
    # (0.944 at worst, measured with deepgrad's own nn); after 20 the worst of 40 was 0.955
    return {"X_train": X_train[tr], "y_train": y_train[tr], "X_test": X_test[te], "y_test": y_test[te],
            "epochs": 20, "seed": int(rng.integers(0, 2**31))}


def drive_digits(ns, inp, out):
    rng = np.random.default_rng(int(inp["seed"]))
    model = ns["Sequential"](ns["Linear"](64, 256, rng), ns["ReLU"](), ns["Linear"](256, 10, rng))
    optimizer = ns["SGD"](model.parameters(), 0.1)
    X, y, X_test = np.array(inp["X_train"]), np.array(inp["y_train"]), np.array(inp["X_test"])
    for _ in range(int(inp["epochs"])):
        order = rng.permutation(len(y))
        for first in range(0, len(y), 32):
            batch = order[first:first + 32]
            ns["train_step"](model, optimizer, X[batch], y[batch])
        out["predictions"] = model(X_test).data.argmax(axis=1)     # after every epoch: a timeout keeps the last


def check_digits(inp, out, fb):
    y_test = inp["y_test"]
    predictions = out.get("predictions")
    if predictions is None or np.shape(predictions) != y_test.shape:
        return fb.check(False, "", "no predictions for the test images came back (see the error above)")
    accuracy = float(np.mean(np.asarray(predictions) == y_test))
    return fb.check(accuracy >= 0.95, f"test accuracy {accuracy:.3f} after {inp['epochs']} epochs (at least 0.95)",
                    f"test accuracy {accuracy:.3f} after {inp['epochs']} epochs; at least 0.95 is expected "
                    f"(Linear(64, 256), ReLU, Linear(256, 10), SGD with lr 0.1, batches of 32)")


PARTS.append(Part("digits", points=2, inputs=digits_inputs, check=check_digits, driver=drive_digits, timeout=60,
                  needs=("Sequential", "Linear", "ReLU", "SGD", "train_step"), held_out=("y_test",),
                  description="your engine trains a network on the digits to at least 95 % test accuracy"))

# Written answers, graded by hand in formgrader.
MANUAL_PARTS = {"written_engine": 2}
