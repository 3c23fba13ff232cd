"""Trusted checks for A3, the autodiff engine: the student's Tensor and Dual, driven from the sandbox.

Drivers build graphs out of the student's classes and hand back plain arrays; expected values come from NumPy
formulas and from a small trusted evaluator of random add/mul programs. Each part's points split into named
shares (the notebook states them before the student starts), and each share is judged on its own so that one
slip costs one share:

* every operation, graph and case runs on its own in the driver: one that raises costs its own share, and the
  first error is reported at the end;
* a share that could only be judged through another piece of the student's code is judged relative to it. The
  VJPs run in the driver's own sweep (`run_backward`, in the order the nodes were made), never through the
  student's backward(); backward() is right if it gives what that sweep of the student's own VJPs gives (or the
  sweep in the reverse of their own topological order); gradients adding at branches are judged against the same
  graph built as a tree (no node used twice, so nothing has to add up), with the student's own VJPs; a
  broadcast operand's gradient is judged by its value where the operation's own VJP is right, else by its shape;
  jvp against the student's own Duals; Linear's gradients against the engine's own for x @ W + b; train_step
  with a trusted optimiser, model and loss; the cross-entropy's gradient through the grader's own sweep
  (`backprop`), and its extreme scores against the student's own convention (a sum over the batch costs the
  mean's share alone);
* inputs stay in the assignment's domain (Part 2's graphs stay below the 500 nodes of depth the notebook
  promises a recursive search; +-1000 is what the notebook asks the sigmoid and the cross-entropy to survive);
* the parts with VJPs also run a large problem, last (autograder/FORMAT.md, "The large problem"): a share whose
  VJPs or backward pass are numerical in disguise earns nothing.
"""
from __future__ import annotations

import functools

import numpy as np

from autograder.checks import BIG_TOL, Part, Share, large_problem, multiscale, ran_out_of_time, too_slow
from deepgrad.gradcheck import rel_error

NOTEBOOK = "A3.ipynb"
PARTS = []      # in the notebook's order: each part is appended right after its check

# The large inputs, run last by the parts with VJPs (autograder/FORMAT.md, "The large problem")
BIG = (512, 512)            # the large input of elementwise operations and sums: 262 144 entries
BIG_MATMUL = (16, 16384, 16)   # a long contracted axis: nudging a whole column of A (row of W) at once is too slow too
DONE = "small_done"         # what each driver sets once its small problems are done (drivers spell it out)


# ------------------------------------------------------------------------------------ shared helpers
def run_backward(nodes, seed):
    """Reverse-mode sweep without the student's backward(): nodes in an order where each comes after its parents
    (the order they were made in), root last."""
    nodes[-1].grad = np.array(seed, dtype=np.float64)
    for node in reversed(nodes):
        node._backward()


def attempt(errors, out, key, fn, *args):
    """In a driver: out[key] = fn(*args) (fn(*args) alone where key is None), an exception kept in ``errors`` rather
    than ending the driver, so that one case that raises costs only the shares it stands for. The driver raises
    the first error at its end, for the feedback."""
    try:
        result = fn(*args)
        if key is not None:
            out[key] = result
    except NotImplementedError as exc:     # a stub: name the function that is not written yet, once
        frame = exc.__traceback__
        while frame.tb_next is not None:
            frame = frame.tb_next
        code = frame.tb_frame.f_code
        errors.append(NotImplementedError(f"`{getattr(code, 'co_qualname', code.co_name)}` is not written yet"))
    except Exception as exc:
        errors.append(exc)


def backprop(root, seed):
    """The grader's own backward pass over the student's nodes: every node the root depends on (found through
    _parents), each VJP run after those of the nodes that use it. No student code runs but the VJPs, so that a
    part built on the engine is not charged for a slip in backward() or topological_order (Part 2's shares)."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, parents_done = stack.pop()
        if parents_done:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((parent, False) for parent in node._parents)
    run_backward(order, seed)


def _same(got, value, tol=1e-9) -> bool:
    """Whether ``got`` (a student's value, or None) is ``value`` to ``tol``, writing nothing."""
    if got is None or value is None or np.shape(got) != np.shape(value):
        return False
    got, value = np.asarray(got, dtype=np.float64), np.asarray(value, dtype=np.float64)
    return bool(np.all(np.isfinite(got)) and np.all(np.isfinite(value)) and rel_error(got, value) <= tol)


def relative(fb, out, key, expected, own, what, tol=1e-9) -> bool:
    """``out[key]`` judged right if it is ``expected`` or what the student's own code elsewhere gives (``own``: a
    list of (key, words)), so that a slip there is not charged here again. One line either way."""
    got = out.get(key)
    if not _same(got, expected, tol):
        for other, words in own:
            if _same(got, out.get(other), tol):
                return fb.check(True, f"{what} is what {words} gives: right (that code is judged in its own "
                                      f"share).", "")
    return fb.gradient(key, expected, tol=tol, what=what)


def with_large(fb, out, verdicts, large, why) -> dict:
    """The shares' ``verdicts`` on the small problems after the large problem, run last: ``large`` maps each share a
    derived VJP earns, in the order the driver runs them, to (its last large result's key, compare()). A share
    whose large result did not come back in time (a numerical VJP in disguise) earns nothing; the first says
    why (``why(share)``), and a note names the others that the time limit cut off with it."""
    verdicts, late = dict(verdicts), []
    for share, (key, compare) in large.items():
        out_of_time = ran_out_of_time(out, key, DONE)
        verdicts[share] = large_problem(fb, out, verdicts[share], compare, key=key, reached=DONE,
                                        why=why(share) if out_of_time and not late else None)
        late += [share] if out_of_time else []
    if len(late) > 1:
        fb.note(f"The part stopped at the time limit there: {', '.join(late[1:])} could not be run on the large "
                f"inputs either, and earn nothing.")
    return verdicts


def judged_once(fb, condition, words) -> bool:
    """A share judged only once what it stands on is right; ``words`` say what, in the note for when it is not."""
    if not condition:
        fb.note(f"Not judged: {words}.")
    return bool(condition)


# ------------------------------------------------ Part 1: unbroadcast (its graded cell comes first)
LEFT = "axes added on the left"
ONES = "length-1 axes"
SAME = "no broadcasting"
# Each case: a gradient of the broadcast shape, the operand's shape before broadcasting, and the share it counts
# for (None: both kinds of axes at once, judged with the length-1 axes where the left ones are right).
UNBROADCAST_CASES = (((4, 3), (3,), LEFT), ((4, 3), (), LEFT), ((2, 4, 3), (4, 3), LEFT),
                     ((4, 3), (1, 3), ONES), ((4, 3), (4, 1), ONES), ((2, 4, 3), (2, 1, 3), ONES),
                     ((4, 3), (1, 1), ONES), ((2, 4, 3), (4, 1), None), ((2, 4, 3), (2, 4, 3), SAME))


def unbroadcast_inputs(rng):
    inp = {}
    for k, (big, small, _) in enumerate(UNBROADCAST_CASES):
        stretch = tuple(int(rng.integers(4, 7)) if n != 3 else n for n in big)   # random sizes, same pattern
        small = tuple(stretch[len(stretch) - len(small) + i] if n != 1 else 1 for i, n in enumerate(small))
        inp[f"grad{k}"] = multiscale(rng, stretch, decades=2)
        inp[f"shape{k}"] = np.array(small, dtype=np.int64)
    return inp


def drive_unbroadcast(ns, inp, out):
    k, errors = 0, []
    while f"grad{k}" in inp:
        attempt(errors, out, f"case{k}", ns["unbroadcast"], np.array(inp[f"grad{k}"]),
                tuple(int(n) for n in inp[f"shape{k}"]))
        k += 1
    if errors:
        raise errors[0]


def check_unbroadcast(inp, out, fb):
    from deepgrad.autograd import _unbroadcast as reference
    verdicts = {LEFT: True, ONES: True, SAME: True}
    for k, (_, _, share) in sorted(enumerate(UNBROADCAST_CASES), key=lambda case: case[1][2] is None):
        grad, shape = inp[f"grad{k}"], tuple(int(n) for n in inp[f"shape{k}"])
        if share is None and not judged_once(fb, verdicts[LEFT], f"unbroadcast of a {grad.shape} gradient to shape "
                                                                 f"{shape}, until axes added on the left are right"):
            continue
        verdicts[share or ONES] &= fb.gradient(f"case{k}", reference(grad, shape),
                                               what=f"unbroadcast of a {grad.shape} gradient to shape {shape}")
    if not verdicts[ONES]:
        fb.note("An axis of length 1 that broadcasting stretched is summed with keepdims=True, so that it stays "
                "(length 1) and the gradient has the operand's shape.", code="keepdims")
    return verdicts


PARTS.append(Part("unbroadcast", points=2, inputs=unbroadcast_inputs, check=check_unbroadcast,
                  driver=drive_unbroadcast, helpers=(attempt,), needs=("unbroadcast",),
                  description="unbroadcast: the gradient of a broadcast operand, summed back",
                  shares=(Share(LEFT, 0.75, "(N, M) to (M,), to () and (B, N, M) to (N, M)"),
                          Share(ONES, 1, "(N, M) to (1, M), (N, 1), (1, 1); (B, N, M) to (B, 1, M) and (N, 1)"),
                          Share(SAME, 0.25, "a gradient that needs no summing comes back as it is"))))


# ------------------------------------------------------------------------------------ Part 1: + and *
def core_inputs(rng):
    N, M = (int(v) for v in rng.integers(2, 8, 2))
    return {"a": multiscale(rng, (N, M), decades=2), "b": multiscale(rng, (M,), decades=2),
            "g": multiscale(rng, (N, M), decades=2),
            "s": float(rng.uniform(-3, 3)), "a_big": rng.standard_normal(BIG), "b_big": rng.standard_normal(BIG[1]),
            "g_big": rng.standard_normal(BIG)}


def drive_core(ns, inp, out):
    T, errors = ns["Tensor"], []
    ops = {"add": lambda p, q: p + q, "mul": lambda p, q: p * q}

    def node(name, size):       # the node's value, then what its VJP gave x and y (kept if it raised half-way)
        x, y = T(inp["a" + size]), T(inp["b" + size])
        try:
            z = ops[name](x, y)
            if not size:
                out[name] = z.data
            run_backward([z], inp["g" + size])
        finally:
            out[name + size + "_da"], out[name + size + "_db"] = x.grad, y.grad

    for name in ops:
        attempt(errors, out, None, node, name, "")
    attempt(errors, out, "number_left", lambda: (inp["s"] * T(inp["a"]) + inp["s"]).data)
    attempt(errors, out, "sub", lambda: (T(inp["a"]) - T(inp["b"])).data)
    out["small_done"] = 1
    for name in ops:            # the large problem, last
        attempt(errors, out, None, node, name, "_big")
    if errors:
        raise errors[0]


PLUS, TIMES, BROADCAST, NUMBERS = "x + y", "x * y", "broadcasting", "numbers"


def _broadcast_grad(fb, out, key, expected, own_vjp_right, node, tol=1e-9) -> bool:
    """y.grad of a node whose y of shape (M,) was broadcast over the rows: its value where the node's own VJP is
    right (x.grad), else only that something of y's shape came back (the VJP's slip is charged to the node's
    share)."""
    what = f"y.grad after the {node} node's VJP (y of shape (M,), summed over the broadcast rows)"
    if own_vjp_right:
        return fb.gradient(key, expected, tol=tol, what=what)
    got = out.get(key)
    return fb.check(np.shape(got) == expected.shape and np.any(got),
                    f"{what} has y's shape (its value is judged once x's gradient through {node} is right).",
                    f"{what} is not a gradient of y's shape (or is still all zeros).")


def check_core(inp, out, fb):
    a, b, g, s = inp["a"], inp["b"], inp["g"], inp["s"]
    verdicts = {
        PLUS: fb.close("add", a + b, what="x + y (y broadcast over the rows)")
        & fb.gradient("add_da", g, what="x.grad after the + node's VJP"),
        TIMES: fb.close("mul", a * b, what="x * y") & fb.gradient("mul_da", g * b, what="x.grad after the * node's VJP"),
        NUMBERS: fb.close("number_left", s * a + s, what="numbers on either side of a Tensor")
        & fb.close("sub", a - b, what="x - y"),
    }
    verdicts[BROADCAST] = (_broadcast_grad(fb, out, "add_db", g.sum(axis=0), verdicts[PLUS], "+")
                           & _broadcast_grad(fb, out, "mul_db", (g * a).sum(axis=0), verdicts[TIMES], "*"))
    if not verdicts[BROADCAST] and _same(out.get("add_db"), np.full(b.shape, g.sum())):
        fb.note("The + node's y.grad sums the upstream gradient over everything: y of shape (M,) was used once "
                "per row, so each of its entries receives the sum of its own column, unbroadcast(out.grad, "
                "y.shape).", code="summed_all")
    a, b, g = inp["a_big"], inp["b_big"], inp["g_big"]
    words = {PLUS: "the VJP of +", TIMES: "the VJP of *", BROADCAST: "the VJPs of + and * for y"}
    return with_large(fb, out, verdicts, {
        PLUS: ("add_big_da", lambda: fb.gradient("add_big_da", g, tol=BIG_TOL, what=f"x.grad of + for x of shape {BIG}")),
        TIMES: ("mul_big_da", lambda: fb.gradient("mul_big_da", g * b, tol=BIG_TOL,
                                                  what=f"x.grad of * for x of shape {BIG}")),
        BROADCAST: ("mul_big_db", lambda: _broadcast_grad(fb, out, "add_big_db", g.sum(axis=0), verdicts[PLUS], "+",
                                                          BIG_TOL)
                    & _broadcast_grad(fb, out, "mul_big_db", (g * a).sum(axis=0), verdicts[TIMES], "*", BIG_TOL)),
    }, lambda share: too_slow(f"{words[share]} on inputs of shape {BIG} and {BIG[1:]}", "VJP"))


PARTS.append(Part("tensor_core", points=2, inputs=core_inputs, check=check_core, driver=drive_core,
                  helpers=(attempt, run_backward), needs=("Tensor",),
                  description="Tensor: + and * with their VJPs, broadcasting",
                  shares=(Share(PLUS, 0.5, "the sum, and x's gradient: the upstream gradient itself"),
                          Share(TIMES, 0.75, "the product, and x's gradient: the upstream gradient times y"),
                          Share(BROADCAST, 0.5, "y of shape (M,) added to and multiplied with x of shape (N, M): "
                                                "y's gradient summed over the rows"),
                          Share(NUMBERS, 0.25, "numbers on either side of a Tensor, and x - y"))))


# ------------------------------------------------------------------------ Part 2: order and backward()
ADD, MUL, SCALE = 0, 1, 2
CHAIN = 200     # links of the deep chain: 400 nodes deep, below the 500 the notebook promises a recursive search


def _program(rng):
    """A random add/mul/scale program with branches: leaves, then nodes (op, i, j) each using earlier ones."""
    L, K = int(rng.integers(4, 7)), int(rng.integers(9, 13))
    # Each of the four VJP lines (+ and * each to self and to other) gives some leaf its first contribution of
    # the sweep after a later node has given it one: with `grad = ...` instead of `grad += ...` in any of them,
    # the earlier contribution is lost.
    program = [(ADD, 0, 1), (MUL, 2, 3), (MUL, L, L + 1), (MUL, 0, 1), (ADD, 3, 2), (ADD, L + 2, L + 3),
               (MUL, L + 5, L + 4)]
    for k in range(len(program), K):
        # each node uses the one before (so that every node is an ancestor of the root) and any other
        program.append((int(rng.integers(0, 3)), L + k - 1, int(rng.integers(0, L + k))))
    program[-1] = (ADD, L + K - 2, int(rng.integers(0, L)))  # the root uses a leaf directly as well
    shape = (int(rng.integers(1, 4)),)
    return {"leaves": rng.uniform(-2, 2, (L,) + shape), "program": np.array(program, dtype=np.int64),
            "consts": rng.uniform(-2, 2, K), "g": rng.standard_normal(shape)}


def _xyz(point):
    """(x + y) z as a program, at ``point``; backward() is called without an upstream gradient (ones)."""
    return {"leaves": np.asarray(point, dtype=np.float64), "program": np.array([(ADD, 0, 1), (MUL, 3, 2)]),
            "consts": np.zeros(2), "g": np.array(1.0)}


def _chain():
    """node <- node * one + h * half, CHAIN times, from node = h: leaves h, one, half."""
    program = []
    for k in range(CHAIN):
        program += [(MUL, 0 if k == 0 else 3 + 3 * k - 1, 1), (MUL, 0, 2), (ADD, 3 + 3 * k, 3 + 3 * k + 1)]
    return {"leaves": np.array([0.5, 1.0, 0.5]), "program": np.array(program, dtype=np.int64),
            "consts": np.zeros(len(program)), "g": np.array(1.0)}


GRAPHS = {"xyz": "the notes' example (x + y) z at (-2, 5, -4)", "xyz_random": "(x + y) z at random x, y, z",
          "random": "a random graph that reuses nodes"}


def backward_inputs(rng):
    graphs = {"xyz": _xyz([-2.0, 5.0, -4.0]), "xyz_random": _xyz(rng.uniform(-5, 5, 3)), "random": _program(rng),
              "chain": _chain()}
    inp = {f"{name}_{key}": value for name, graph in graphs.items() for key, value in graph.items()}
    return {**inp, "xyz_big": rng.standard_normal((3, BIG[0] * BIG[1])), "g_big": rng.standard_normal(BIG[0] * BIG[1])}


def build(T, leaves, program, consts):
    """The nodes of a program built with the student's Tensor, in the order they are made."""
    pool = [T(v) for v in leaves]
    for k, (op, i, j) in enumerate(program):
        pool.append(pool[i] + pool[j] if op == 0 else pool[i] * pool[j] if op == 1 else pool[i] * float(consts[k]))
    return pool


def build_tree(T, leaves, program, consts):
    """The program's root built as a tree: every use of a node makes a copy of it, so that no node is used twice
    and no gradient has to add up. Returns the nodes in the order they are made and each one's leaf (or -1)."""
    nodes, leaf_of = [], []

    def make(n):
        if n < len(leaves):
            node = T(leaves[n])
        else:
            op, i, j = program[n - len(leaves)]
            left = make(i)
            node = left + make(j) if op == 0 else left * make(j) if op == 1 else left * float(consts[n - len(leaves)])
        nodes.append(node)
        leaf_of.append(n if n < len(leaves) else -1)
        return node
    make(len(leaves) + len(program) - 1)
    return nodes, leaf_of


def order_found(T, order_of, graph):
    """Where the student's topological_order of a program's root puts each of its nodes (-1: nowhere), then the
    order's length, its number of distinct nodes, and whether the root is last."""
    pool = build(T, *graph)
    order = order_of(pool[-1])
    position = {id(node): n for n, node in enumerate(order)}
    return [*(position.get(id(node), -1) for node in pool), len(order), len({id(node) for node in order}),
            int(order[-1] is pool[-1])]


def leaf_grads(how, T, order_of, graph, g):
    """A program's leaves' gradients, its nodes made afresh with the student's Tensor, after the backward pass
    ``how``: the student's backward() (without an upstream gradient for a 0-d root, as the notebook calls it), or
    the student's VJPs run from g in the reverse of the order the nodes were made ("sweep"), in the reverse of the
    student's topological order ("own"), or in that order itself ("forward")."""
    pool = build(T, *graph)
    root, leaves = pool[-1], pool[:len(graph[0])]
    if how == "backward":
        root.backward(*(() if np.ndim(g) == 0 else (g,)))
    else:
        nodes = pool[::-1] if how == "sweep" else order_of(root)[::-1] if how == "own" else order_of(root)
        root.grad = np.array(g, dtype=np.float64)
        for node in nodes:
            node._backward()
    return np.array([leaf.grad for leaf in leaves])


def tree_grads(T, graph, g):
    """The leaves' gradients from the student's VJPs on the program built as a tree: the sum over each leaf's
    copies."""
    nodes, leaf_of = build_tree(T, *graph)
    run_backward(nodes, g)
    grads = [np.zeros(np.shape(v)) for v in graph[0]]
    for node, leaf in zip(nodes, leaf_of, strict=True):
        if leaf >= 0:
            grads[leaf] = grads[leaf] + node.grad
    return np.array(grads)


def drive_backward(ns, inp, out):
    T, order_of, errors = ns["Tensor"], ns["topological_order"], []
    for name in ("xyz", "xyz_random", "random", "chain"):
        graph, g = tuple(inp[f"{name}_{k}"] for k in ("leaves", "program", "consts")), inp[name + "_g"]
        calls = [("order", order_found, (T, order_of, graph))]
        if name != "chain":
            calls += [(how, leaf_grads, (how, T, order_of, graph, g)) for how in ("backward", "sweep", "own", "forward")]
        if name == "random":
            calls.append(("tree", tree_grads, (T, graph, g)))
        for key, fn, args in calls:
            attempt(errors, out, f"{name}_{key}", fn, *args)
    out["small_done"] = 1
    x, y, z = (T(v) for v in inp["xyz_big"])
    ((x + y) * z).backward(inp["g_big"])
    out["big_grads"] = np.array([x.grad, y.grad, z.grad])
    if errors:
        raise errors[0]


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


def _order_right(fb, inp, out, name, words) -> bool:
    """topological_order of a program's root: every node the root depends on, each once, after its parents,
    the root last (judged from the positions the driver found the program's nodes at)."""
    found = out.get(name + "_order")
    if found is None:
        return fb.check(False, "", f"topological_order of {words} did not return (see the error above).")
    positions, (length, unique, root_last) = np.asarray(found)[:-3], (int(v) for v in np.asarray(found)[-3:])
    leaves, program = inp[name + "_leaves"], inp[name + "_program"]
    parents = {len(leaves) + k: ((int(i),) if op == SCALE else (int(i), int(j))) for k, (op, i, j) in enumerate(program)}
    needed, stack = set(), [len(leaves) + len(program) - 1]     # the root and its ancestors
    while stack:
        n = stack.pop()
        if n not in needed:
            needed.add(n)
            stack.extend(parents.get(n, ()))
    if not fb.check(all(positions[n] >= 0 for n in needed), "", f"topological_order of {words} leaves out nodes "
                                                               f"that the root depends on."):
        return False
    scales = sum(op == SCALE for op, _, _ in program)       # a number times a node: a node of the number too
    ok = fb.check(length == unique and (scales > 0 or length == len(needed)), "",
                  f"topological_order of {words} lists a node twice (or nodes the root does not depend on): "
                  f"remember which nodes you have visited.")
    ok &= fb.check(all(positions[n] > positions[q] for n in needed for q in parents.get(n, ())), "",
                   f"In topological_order of {words} some node comes before one of its parents.")
    ok &= fb.check(root_last, "", f"topological_order of {words} does not end with the root.")
    if ok:
        fb.check(True, f"topological_order of {words}: every node once, after its parents, the root last.", "")
    return ok


ORDER, BACKWARD, BRANCHES, DEEP = "topological order", "backward()", "branches", "a deep chain"


def check_backward(inp, out, fb):
    expected = {name: evaluate_program(*(inp[f"{name}_{k}"] for k in ("leaves", "program", "consts", "g")))[1]
                for name in GRAPHS}
    verdicts = {ORDER: all([_order_right(fb, inp, out, name, words) for name, words in GRAPHS.items()])}
    found, deep = out.get("chain_order"), f"topological_order of a chain {2 * CHAIN} nodes deep"
    verdicts[DEEP] = found is not None and bool(np.all(np.asarray(found)[:-3] >= 0))
    if verdicts[DEEP]:
        fb.check(True, f"{deep} lists all of its nodes.", "")
    elif found is None and all(out.get(f"{name}_order") is not None for name in GRAPHS):
        fb.check(False, "", f"{deep} did not return, though it did on the small graphs (see the error above): a "
                            f"recursive search may take at most two frames per level to stay below Python's limit "
                            f"of 1000; an iterative one (a stack of nodes to visit) has no limit.", code="recursion")
    else:
        fb.check(False, "", f"{deep} did not list all of its nodes{' (see the error above)' if found is None else ''}.")
    verdicts[BACKWARD] = all([relative(fb, out, f"{name}_backward", expected[name],
                                       [(f"{name}_sweep", "running your VJPs in the reverse of the order the "
                                                          "nodes were made"),
                                        (f"{name}_own", "running your VJPs in the reverse of your "
                                                        "topological_order")],
                                       what=f"the leaves' gradients after backward() on {words}")
                              for name, words in GRAPHS.items()])
    if not verdicts[BACKWARD] and any(_same(out.get(f"{name}_backward"), out.get(f"{name}_forward"))
                                      and not _same(out.get(f"{name}_forward"), expected[name]) for name in GRAPHS):
        fb.note("Your backward() runs the VJPs in topological order, parents first: a node sends its gradient on "
                "before it has received it. Run them in the reverse of that order.", code="reverse_order")
    # gradients add at branches: the student's own VJPs on the graph (nodes used several times) and on the same
    # graph as a tree (each use a copy of its own) give the same leaf gradients; backward() must run there at all
    ran = out.get("random_backward") is not None
    verdicts[BRANCHES] = judged_once(fb, ran, "gradients adding up at branches, until backward() runs on the "
                                              "random graph") and relative(
        fb, out, "random_sweep", expected["random"], [("random_tree", "the same graph built as a tree (each use "
                                                                      "of a node a copy of its own)")],
        what="the leaves' gradients in a random graph that reuses nodes, your VJPs run in the order the nodes "
             "were made")
    if ran and not verdicts[BRANCHES]:
        fb.note("A value used twice must receive the sum of both contributions: each VJP adds into .grad "
                "(grad += ...); an assignment (grad = ...) keeps only the last one.", code="assigned_grad")
    # the large problem: compared with the true gradients where backward() gave them on the small graphs; where it
    # was right only relative to the student's own VJPs or order, it is enough that it came back in time
    exact = all(_same(out.get(f"{name}_backward"), expected[name]) for name in GRAPHS)
    (x, y, z), g = inp["xyz_big"], inp["g_big"]
    big = f"(df/dx, df/dy, df/dz) after backward() of (x + y) z with x, y, z of {g.size} entries each"
    return with_large(fb, out, verdicts, {BACKWARD: (
        "big_grads", lambda: fb.gradient("big_grads", np.array([g * z, g * z, g * (x + y)]), tol=BIG_TOL, what=big)
        if exact else True)}, lambda share: too_slow(f"backward() of (x + y) z for x, y, z of {g.size} entries each"))


PARTS.append(Part("backward", points=3, inputs=backward_inputs, check=check_backward, driver=drive_backward,
                  helpers=(attempt, run_backward, build, build_tree, order_found, leaf_grads, tree_grads),
                  needs=("Tensor", "topological_order"),
                  description="topological order and backward(): the notes' (x + y) z, random graphs with branches",
                  shares=(Share(ORDER, 0.75, "every node the root depends on, once, after its parents, root last"),
                          Share(BACKWARD, 1, "your VJPs run in reverse topological order from the upstream gradient "
                                             "(ones by default)"),
                          Share(BRANCHES, 0.75, "a node used several times receives the sum of its gradients"),
                          Share(DEEP, 0.5, f"topological_order of a chain {2 * CHAIN} nodes deep"))))


# ------------------------------------------------------------------------------ Part 3: elementwise
def elementwise_inputs(rng):
    shape = tuple(int(v) for v in rng.integers(2, 6, 2))
    relu_x = multiscale(rng, shape, decades=2)
    relu_x[np.abs(relu_x) < 1e-6] = 1.0
    relu_x.flat[:2] = 0.0, -0.0           # the kink: the notebook asks for the gradient 0 there
    return {"positive": rng.uniform(0.3, 3.0, shape), "moderate": rng.uniform(-4.0, 4.0, shape),
            "relu_x": rng.permutation(relu_x.ravel()).reshape(shape), "g": multiscale(rng, shape, decades=2),
            "k": float(rng.choice([2.0, 3.0, -1.0, 0.5, -2.5])),
            "big": np.array([-1000.0, 0.0, 1000.0]), "w": np.array([-3.0, 2.0, -3.0]), "x12": np.array([-1.0, -2.0]),
            "positive_big": rng.uniform(0.3, 3.0, BIG), "moderate_big": rng.uniform(-4.0, 4.0, BIG),
            "relu_x_big": rng.standard_normal(BIG), "g_big": rng.standard_normal(BIG)}


# The order the driver runs them in: division (given: x * y ** -1) right after the power it is built on.
ELEMENTWISE = ("pow", "div", "exp", "log", "relu", "sigmoid", "tanh")


def drive_elementwise(ns, inp, out):
    T, errors = ns["Tensor"], []
    ops = {"pow": ("positive", lambda t, s: t ** inp["k"]), "exp": ("moderate", lambda t, s: t.exp()),
           "log": ("positive", lambda t, s: t.log()), "relu": ("relu_x", lambda t, s: t.relu()),
           "sigmoid": ("moderate", lambda t, s: t.sigmoid()), "tanh": ("moderate", lambda t, s: t.tanh()),
           "div": ("positive", lambda t, s: t / T(inp["positive" + s][::-1].copy()))}

    def run(name, size):
        key, fn = ops[name]
        x = T(inp[key + size])
        y = fn(x, size)
        if not size:
            out[name] = y.data
        run_backward([y] if name != "div" else [y._parents[1], y], inp["g" + size])   # division: ** -1, then *
        out[name + size + "_grad"] = x.grad

    def neuron(linear_only):        # the notes' sigmoid neuron, L = -log f; or its linear part alone
        key = "neuron_linear" if linear_only else "neuron_grads"
        w = [T(v) for v in inp["w"]]
        x1, x2 = inp["x12"]
        nodes = [w[1] * x1, w[2] * x2]
        nodes.append(w[0] + nodes[0])
        nodes.append(nodes[2] + nodes[1])
        if not linear_only:
            nodes.append(nodes[3].sigmoid())
            out["neuron_f"] = nodes[4].data
            nodes.append(nodes[4].log())
            nodes.append(nodes[5] * -1.0)
        run_backward(nodes, 1.0)
        out[key] = np.array([wi.grad for wi in w])

    def extreme():
        with np.errstate(over="raise", invalid="raise", divide="raise"):     # as in A2: no overflow at +-1000
            return T(inp["big"]).sigmoid().data

    names = ("pow", "div", "exp", "log", "relu", "sigmoid", "tanh")     # ELEMENTWISE
    for name in names:
        attempt(errors, out, None, run, name, "")
    attempt(errors, out, "sigmoid_big", extreme)
    attempt(errors, out, None, neuron, True)
    attempt(errors, out, None, neuron, False)
    out["small_done"] = 1
    for name in names:              # the large inputs, last
        attempt(errors, out, None, run, name, "_big")
    if errors:
        raise errors[0]


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


POW, EXTREME = "x ** k", "sigmoid at +-1000"
# the share each operation counts for: division is given, built on the power
OP_SHARE = {"pow": POW, "div": POW, "exp": "exp", "log": "log", "relu": "relu", "sigmoid": "sigmoid", "tanh": "tanh"}
# The classic slips in a local derivative, for the feedback on a VJP (the derivative times out.grad) and on a
# tangent (times the input's tangent): name -> (input x, output y, k) -> (code, words, the derivative it gives)
DERIVATIVE_SLIPS = {
    "pow": lambda x, y, k: ("power_rule", "Your derivative of x ** k is k * x ** k; it is k * x ** (k - 1).",
                            k * x ** k),
    "log": lambda x, y, k: ("wrong_point", "Your derivative of log is 1 / log(x), at the output; it is 1 / x, at the "
                                           "input.", 1 / y),
    "tanh": lambda x, y, k: ("wrong_point", "Your derivative of tanh is 1 - x ** 2, from the input; it is "
                                            "1 - tanh(x) ** 2, from the output.", 1 - x ** 2),
    "relu": lambda x, y, k: ("relu_kink", "Your ReLU's derivative is 1 where x is exactly 0; the notebook's is 0 "
                                          "there (x > 0, not x >= 0).", (x >= 0) * 1.0),
}


def derivative_slips(name, x, y, k, times):
    """The ``slips`` of fb.close for the VJP or tangent of operation ``name``: its classic slip, if it has one."""
    if name not in DERIVATIVE_SLIPS:
        return None
    code, words, derivative = DERIVATIVE_SLIPS[name](x, y, k)
    return [(code, words, derivative * times)]


def check_elementwise(inp, out, fb):
    k = inp["k"]
    expected, expected_big = _elementwise_expected(inp), _elementwise_expected(inp, "_big")
    labels = {name: f"x ** {k:g}" if name == "pow" else "x / y" if name == "div" else f"x.{name}()"
              for name in ELEMENTWISE}
    inputs = {"pow": "positive", "div": "positive", "exp": "moderate", "log": "positive", "relu": "relu_x",
              "sigmoid": "moderate", "tanh": "moderate"}
    verdicts = dict.fromkeys(OP_SHARE.values(), True)
    for name, label in labels.items():
        value, grad = expected[name]
        ok = fb.close(name, value, what=f"the value of {label}")
        ok &= fb.close(name + "_grad", grad, what=f"the VJP of {label}",
                       slips=derivative_slips(name, inp[inputs[name]], value, k, inp["g"]))
        verdicts[OP_SHARE[name]] &= ok
    # the notes' neuron: its output counts for the sigmoid; its gradient too, where log and the + and * on numbers
    # (its linear part) are right, the other pieces it stands on
    verdicts["sigmoid"] &= fb.close("neuron_f", _sigmoid(np.array(1.0)),
                                    what="the notes' sigmoid neuron output sigmoid(1) = 0.7311")
    if judged_once(fb, verdicts["log"] and _same(out.get("neuron_linear"), np.array([1.0, *inp["x12"]])),
                   "the notes' neuron's gradient, until log and + and * on numbers are right"):
        f = _sigmoid(np.array(1.0))
        verdicts["sigmoid"] &= fb.gradient("neuron_grads", -(1 - f) * np.array([1.0, -1.0, -2.0]),
                                           what="dL/dw for the notes' sigmoid neuron with L = -log f")
    verdicts[EXTREME] = fb.close("sigmoid_big", np.array([0.0, 0.5, 1.0]), tol=1e-12,
                                 what="sigmoid at -1000, 0, 1000 (no overflow)", code="unstable")
    if not verdicts[EXTREME] and _same(out.get("sigmoid"), expected["sigmoid"][0]):
        fb.note("exp(1000) overflows (NumPy's overflow is an error here, as in A2): compute the sigmoid from "
                "e ** -|x|, 1 / (1 + e ** -|x|) for x >= 0 and e ** -|x| / (1 + e ** -|x|) for x < 0.",
                code="unstable")
    members = {}
    for name in ELEMENTWISE:
        members.setdefault(OP_SHARE[name], []).append(name)

    def compare_large(names):
        return all([fb.gradient(n + "_big_grad", expected_big[n][1], tol=BIG_TOL,
                                what=f"the VJP of {labels[n]} on an input of shape {BIG}") for n in names])
    # a share's key: the large result of the last of its operations that the driver runs
    large = {share: (names[-1] + "_big_grad", functools.partial(compare_large, names))
             for share, names in members.items()}
    return with_large(fb, out, verdicts, large, lambda share: too_slow(f"the VJP of {share} on an input of shape "
                                                                        f"{BIG}", "VJP"))


PARTS.append(Part("elementwise", points=3, inputs=elementwise_inputs, check=check_elementwise,
                  driver=drive_elementwise, helpers=(attempt, run_backward), needs=("Tensor",),
                  description="pow, exp, log, relu, sigmoid, tanh, division; the notes' sigmoid neuron",
                  shares=(Share(POW, 0.5, "x ** k and its VJP (k a number: 2, 3, -1, 0.5 or -2.5), and x / y built on it (given)"),
                          Share("exp", 0.25, "e ** x and its VJP"),
                          Share("log", 0.5, "ln x and its VJP, 1 / x"),
                          Share("relu", 0.5, "max(0, x) and its VJP, 0 where x is exactly 0"),
                          Share("sigmoid", 0.5, "the sigmoid and its VJP; the notes' sigmoid neuron"),
                          Share("tanh", 0.5, "tanh x and its VJP, from the output"),
                          Share(EXTREME, 0.25, "sigmoid(-1000), sigmoid(1000) without overflow"))))


# -------------------------------------------------------------------------------- Part 4: @ and sum
SUMS = {"all": {}, "axis0": {"axis": 0}, "axis1": {"axis": 1}, "axis1_keep": {"axis": 1, "keepdims": True}}


def matmul_sum_inputs(rng):
    N, D, M = (int(v) for v in rng.choice(np.arange(2, 8), 3, replace=False))   # all different: the transposes
    inp = {"A": multiscale(rng, (N, D), decades=2), "W": multiscale(rng, (D, M), decades=2),
           "G": multiscale(rng, (N, M), decades=2), "S": multiscale(rng, (N, D), decades=2),
           "A_big": rng.standard_normal(BIG_MATMUL[:2]), "W_big": rng.standard_normal(BIG_MATMUL[1:]),
           "G_big": rng.standard_normal(BIG_MATMUL[::2]), "S_big": rng.standard_normal(BIG)}
    for size, S in (("", inp["S"]), ("_big", inp["S_big"])):
        for key, kwargs in SUMS.items():     # an upstream gradient of each sum's shape
            inp[f"g_{key}{size}"] = multiscale(rng, np.shape(S.sum(**kwargs)), decades=2)
    return inp


def drive_matmul_sum(ns, inp, out):
    T, errors = ns["Tensor"], []
    sums = {"all": {}, "axis0": {"axis": 0}, "axis1": {"axis": 1}, "axis1_keep": {"axis": 1, "keepdims": True}}

    def matmul(size):           # the product, then what its VJP gave A and W (kept if it raised half-way)
        a, w = T(inp["A" + size]), T(inp["W" + size])
        try:
            p = a @ w
            out["matmul" + size] = p.data
            run_backward([p], inp["G" + size])
        finally:
            out["matmul" + size + "_dA"], out["matmul" + size + "_dW"] = a.grad, w.grad

    def total(key, size):
        s = T(inp["S" + size])
        try:
            result = s.sum(**sums[key])
            out["sum_" + key + size] = result.data
            run_backward([result], inp["g_" + key + size])
        finally:
            out["sum_" + key + size + "_grad"] = s.grad

    for size in ("", "_big"):           # the small problem, then the large one, last
        if size:
            out["small_done"] = 1
        attempt(errors, out, None, matmul, size)
        for key in sums:
            attempt(errors, out, None, total, key, size)
    if errors:
        raise errors[0]


MATMUL, SUM_ALL, SUM_AXIS = "A @ W", "x.sum()", "sum over an axis"


def check_matmul_sum(inp, out, fb):
    def matmul(size, tol):
        A, W, G = inp["A" + size], inp["W" + size], inp["G" + size]
        ok = fb.close("matmul", A @ W, what="A @ W") if not size else True
        shape = f" (A of shape {A.shape}, W of shape {W.shape})" if size else ""
        ok &= fb.gradient(f"matmul{size}_dA", G @ W.T, tol=tol, what=f"the VJP of @ for A{shape}")
        return ok & fb.gradient(f"matmul{size}_dW", A.T @ G, tol=tol, what=f"the VJP of @ for W{shape}")

    def sums(keys, size, tol):
        S, ok = inp["S" + size], True
        for key in keys:
            kwargs, upstream = SUMS[key], inp[f"g_{key}{size}"]
            words = "x.sum(" + ", ".join(f"{k}={v}" for k, v in kwargs.items()) + ")"
            if not size:
                ok &= fb.close("sum_" + key, S.sum(**kwargs), what=words)
            grad = np.broadcast_to(upstream if key in ("all", "axis1_keep") else np.expand_dims(upstream, kwargs["axis"]),
                                   S.shape)
            ok &= fb.gradient(f"sum_{key}{size}_grad", grad, tol=tol,
                              what=f"the VJP of {words}" + (f" for x of shape {BIG}" if size else ""))
        return ok

    verdicts = {MATMUL: matmul("", 1e-9), SUM_ALL: sums(["all"], "", 1e-9), SUM_AXIS: sums(list(SUMS)[1:], "", 1e-9)}
    if not verdicts[MATMUL] and _same(out.get("matmul"), inp["A"] @ inp["W"]):
        fb.note("The VJPs of A @ W are out.grad @ W.T for A, (N, M) @ (M, D), and A.T @ out.grad for W, "
                "(D, N) @ (N, M): without a transpose the shapes do not match (or, were A and W square, the "
                "values).", code="transposed")
    if not verdicts[SUM_AXIS]:
        fb.note("The VJP of a sum over an axis puts the summed axis back before broadcasting out.grad to x's "
                "shape (np.expand_dims(out.grad, axis)), unless keepdims=True kept it.", code="keepdims")
    return with_large(fb, out, verdicts, {
        MATMUL: ("matmul_big_dW", lambda: matmul("_big", BIG_TOL)),
        SUM_ALL: ("sum_all_big_grad", lambda: sums(["all"], "_big", BIG_TOL)),
        SUM_AXIS: ("sum_axis1_keep_big_grad", lambda: sums(list(SUMS)[1:], "_big", BIG_TOL)),
    }, lambda share: too_slow(f"the VJPs of {share} on the large inputs (A of shape {BIG_MATMUL[:2]}, W of shape "
                              f"{BIG_MATMUL[1:]}, x of shape {BIG})", "VJP"))


PARTS.append(Part("matmul_sum", points=2, inputs=matmul_sum_inputs, check=check_matmul_sum, driver=drive_matmul_sum,
                  helpers=(attempt, run_backward), needs=("Tensor",),
                  description="matrix product and sum with their VJPs",
                  shares=(Share(MATMUL, 1, "the product and both VJPs, each of its parent's shape"),
                          Share(SUM_ALL, 0.5, "the sum of all entries and its VJP"),
                          Share(SUM_AXIS, 0.5, "sums over axis 0 and 1, with and without keepdims, and their VJPs"))))


# ------------------------------------------------------------------------------ Part 5: forward mode
FORWARD = {"add": "+ and sum", "sum": "+ and sum", "mul": "the product rule", "matmul": "the product rule",
           "pow": "x ** k, exp and log", "exp": "x ** k, exp and log", "log": "x ** k, exp and log",
           "relu": "relu, sigmoid and tanh", "sigmoid": "relu, sigmoid and tanh", "tanh": "relu, sigmoid and tanh"}
JVP = "jvp"


def forward_inputs(rng):
    N, D, M = (int(v) for v in rng.choice(np.arange(2, 7), 3, replace=False))
    relu_x = rng.standard_normal((N, D))
    relu_x[np.abs(relu_x) < 1e-3] = 0.5
    relu_x.flat[rng.choice(N * D, 2, replace=False)] = 0.0, -0.0     # the kink: the tangent there is 0
    return {"x": rng.uniform(0.3, 2.0, (N, D)), "u": rng.standard_normal((N, D)), "v": rng.standard_normal((N, D)),
            "y": rng.standard_normal((N, D)), "relu_x": relu_x, "W": rng.standard_normal((D, M)),
            "Wt": rng.standard_normal((D, M)), "k": float(rng.choice([2.0, 3.0, -1.0, 0.5])),
            "xyz": np.array([-2.0, 5.0, -4.0]), "xyz_t": rng.standard_normal(3)}


def drive_forward(ns, inp, out):
    Dual, jvp, errors = ns["Dual"], ns["jvp"], []
    x, v, y, u = inp["x"], inp["v"], inp["y"], inp["u"]
    cases = {
        "add": (lambda a, b: a + b, (x, y), (v, u)), "mul": (lambda a, b: a * b, (x, y), (v, u)),
        "pow": (lambda a: a ** inp["k"], (x,), (v,)), "exp": (lambda a: a.exp(), (x,), (v,)),
        "log": (lambda a: a.log(), (x,), (v,)), "relu": (lambda a: a.relu(), (inp["relu_x"],), (v,)),
        "sigmoid": (lambda a: a.sigmoid(), (y,), (v,)), "tanh": (lambda a: a.tanh(), (y,), (v,)),
        "matmul": (lambda a, b: a @ b, (x, inp["W"]), (v, inp["Wt"])),
        "sum": (lambda a: a.sum(axis=1), (x,), (v,)),
        # jvp's own cases: the notes' (x + y) z, and a composition on arrays
        "xyz": (lambda a, b, c: (a + b) * c, tuple(inp["xyz"]), tuple(inp["xyz_t"])),
        "composed": (lambda a, b: a * b + a, (x, y), (v, u)),
    }
    def direct(name):           # the operation on the student's Duals
        fn, primals, tangents = cases[name]
        result = fn(*[Dual(p, t) for p, t in zip(primals, tangents, strict=True)])
        out[name], out[name + "_tangent"] = result.value, result.tangent

    def through_jvp(name):      # the same through their jvp
        out["jvp_" + name], out["jvp_" + name + "_tangent"] = jvp(*cases[name])

    for name in cases:
        attempt(errors, out, None, direct, name)
    for name in ("xyz", "composed"):
        attempt(errors, out, None, through_jvp, name)
    if errors:
        raise errors[0]


def check_forward(inp, out, fb):
    x, v, y, u, W, Wt, k, rx = inp["x"], inp["v"], inp["y"], inp["u"], inp["W"], inp["Wt"], inp["k"], inp["relu_x"]
    expected = {
        "add": (x + y, v + u), "mul": (x * y, v * y + x * u), "pow": (x ** k, k * x ** (k - 1) * v),
        "exp": (np.exp(x), np.exp(x) * v), "log": (np.log(x), v / x), "relu": (np.maximum(rx, 0), (rx > 0) * v),
        "sigmoid": (_sigmoid(y), _sigmoid(y) * (1 - _sigmoid(y)) * v), "tanh": (np.tanh(y), (1 - np.tanh(y) ** 2) * v),
        "matmul": (x @ W, v @ W + x @ Wt), "sum": (x.sum(axis=1), v.sum(axis=1)),
    }
    slips = {"mul": [("product_rule", "Your tangent of a * b is da * db; the product rule gives da * b + a * db.",
                      v * u)],
             "matmul": [("product_rule", "Your tangent of A @ B misses a term of the product rule: dA @ B + A @ dB.",
                         v @ W), ("product_rule", "Your tangent of A @ B misses a term of the product rule: "
                                                  "dA @ B + A @ dB.", x @ Wt)],
             **{name: derivative_slips(name, a, expected[name][0], k, v)
                for name, a in (("pow", x), ("log", x), ("tanh", y), ("relu", rx))}}
    verdicts = dict.fromkeys([*FORWARD.values(), JVP], True)
    for name, share in FORWARD.items():
        value, tangent = expected[name]
        verdicts[share] &= (fb.close(name, value, what=f"the value of {name} on Duals")
                            & fb.close(name + "_tangent", tangent, what=f"the tangent of {name}", slips=slips.get(name)))
    # jvp: the value and tangent of f on Duals made of the primals and tangents; the student's own Duals say what f
    # gives (their slips are judged above), the true values stand in where those raised
    (a, b, c), (da, db, dc) = inp["xyz"], inp["xyz_t"]
    truth = {"xyz": ((a + b) * c, (da + db) * c + (a + b) * dc), "composed": (x * y + x, v * y + x * u + v)}
    for name, words in (("xyz", "(x + y) z at the notes' point (-2, 5, -4)"), ("composed", "x y + x on arrays")):
        for part, index in (("", 0), ("_tangent", 1)):
            verdicts[JVP] &= relative(fb, out, f"jvp_{name}{part}", truth[name][index],
                                      [(name + part, "f on your Duals")],
                                      what=f"jvp's {'tangent' if index else 'value'} for {words}")
    return verdicts


PARTS.append(Part("forward_mode", points=3, inputs=forward_inputs, check=check_forward, driver=drive_forward,
                  helpers=(attempt,), needs=("Dual", "jvp"), description="forward mode: dual numbers and jvp",
                  shares=(Share("+ and sum", 0.5, "values and tangents of a + b and of a sum over an axis"),
                          Share("the product rule", 1, "the tangents of a * b and of A @ B"),
                          Share("x ** k, exp and log", 0.5, "their values and tangents"),
                          Share("relu, sigmoid and tanh", 0.5, "their values and tangents (relu's is 0 where a is 0)"),
                          Share(JVP, 0.5, "jvp returns the value and tangent of f on Duals made of the primals and "
                                          "tangents"))))


# ------------------------------------------------------------------------- Part 6: Module, Linear
def modules_inputs(rng):
    D, H = (int(v) for v in rng.choice(np.arange(3, 9), 2, replace=False))
    N = int(rng.integers(3, 8))
    return {"sizes": np.array([D, H]), "seed": int(rng.integers(0, 2**31)), "X": rng.standard_normal((N, D)),
            "W": rng.standard_normal((D, H)), "b": rng.standard_normal(H), "G": rng.standard_normal((N, H)),
            "scales": rng.uniform(0.5, 2.0, 3), "shifts": rng.standard_normal(3)}


def drive_modules(ns, inp, out):
    Tensor, Parameter, Module, Linear, Sequential = (ns[k] for k in ("Tensor", "Parameter", "Module", "Linear",
                                                                     "Sequential"))
    D, H = (int(v) for v in inp["sizes"])
    errors = []

    class Affine(Module):       # a stand-in layer, so that parameters(), zero_grad() and Sequential need no Linear
        def __init__(self, scale, shift):
            super().__init__()
            self.weight, self.bias = Parameter(np.full(2, scale)), Parameter(np.full(3, shift))

        def forward(self, x):
            return x * float(self.weight.data[0]) + float(self.bias.data[0])

    def linear():
        layer = Linear(D, H, np.random.default_rng(int(inp["seed"])))
        out["W_init"], out["b_init"] = layer.weight.data, layer.bias.data
        out["are_parameters"] = isinstance(layer.weight, Parameter) and isinstance(layer.bias, Parameter)
        layer.weight.data, layer.bias.data = np.array(inp["W"]), np.array(inp["b"])
        result = layer(Tensor(inp["X"]))
        out["linear"] = result.data
        (result * inp["G"]).sum().backward()
        out["linear_grads"] = np.concatenate([np.ravel(layer.weight.grad), np.ravel(layer.bias.grad)])

    def engine():               # the same x @ W + b on the student's Tensor alone: what their engine gives
        W, b = Tensor(inp["W"]), Tensor(inp["b"])
        ((Tensor(inp["X"]) @ W + b) * inp["G"]).sum().backward()
        out["engine_grads"] = np.concatenate([np.ravel(W.grad), np.ravel(b.grad)])

    first, second, third = (Affine(s, t) for s, t in zip(inp["scales"], inp["shifts"], strict=True))
    mine = [first.weight, first.bias, second.weight, second.bias]

    def parameters():
        model = Sequential(first, ns["ReLU"](), second)
        out["order"] = [next((k for k, q in enumerate(mine) if q is p), -1) for p in model.parameters()]
        out["nested_count"] = len(Sequential(Sequential(first, ns["ReLU"]()), second).parameters())

        class Tied(Module):                      # the same layer reached three ways, plus a parameter of its own
            def __init__(self):
                super().__init__()
                self.encoder = first
                self.blocks = [first, (ns["ReLU"](), second)]
                self.scale = Parameter(np.ones(1))
        out["tied_count"] = len(Tied().parameters())

    def zero_grad():
        for p in mine:
            p.grad = np.ones_like(p.data)
        first.zero_grad()
        out["zeroed_layer"] = np.concatenate([np.ravel(p.grad) for p in mine[:2]])
        out["zeroed_shapes"] = all(np.shape(p.grad) == p.data.shape for p in mine[:2])
        model = Sequential(first, second)
        for p in mine:
            p.grad = np.ones_like(p.data)
        model.zero_grad()           # every parameter that the student's own parameters() finds
        out["zeroed_listed"] = [float(np.abs(p.grad).max()) for p in model.parameters()]

    for fn in (linear, engine, parameters, zero_grad):
        attempt(errors, out, None, fn)
    attempt(errors, out, "sequential", lambda: Sequential(first, second, third)(np.array(inp["X"])))
    if errors:
        raise errors[0]


LINEAR, PARAMETERS, ZERO_GRAD, SEQUENTIAL = "Linear", "parameters()", "zero_grad()", "Sequential"


def check_modules(inp, out, fb):
    D, H = (int(v) for v in inp["sizes"])
    X, W, b, G = inp["X"], inp["W"], inp["b"], inp["G"]
    linear = fb.close("W_init", np.random.default_rng(inp["seed"]).standard_normal((D, H)) * np.sqrt(2.0 / D),
                      what="Linear's initial weight, rng.standard_normal((in, out)) * sqrt(2 / in)")
    linear &= fb.close("b_init", np.zeros(H), tol=0.0, what="Linear's initial bias (zeros)")
    linear &= fb.check(bool(out.get("are_parameters")), "",
                       "Linear's weight and bias must be Parameters, or Module.parameters() cannot find them.")
    linear &= fb.close("linear", X @ W + b, what="Linear's output x @ weight + bias")
    linear &= relative(fb, out, "linear_grads", np.concatenate([np.ravel(X.T @ G), G.sum(axis=0)]),
                       [("engine_grads", "your Tensor for x @ W + b")],
                       what="the weight's and bias's gradients after a backward pass through Linear")

    parameters = fb.equal("order", np.arange(4), what="Sequential(layer, ReLU, layer).parameters(): "
                                                      "[weight, bias, weight, bias], in order")
    parameters &= fb.equal("nested_count", 4, what="the number of parameters of a Sequential inside a Sequential")
    if not fb.equal("tied_count", 5, what="the number of parameters of a module that reaches one layer three ways, "
                                          "once directly and twice in a list and a tuple"):
        if np.asarray(out.get("tied_count", 0)) > 5:
            fb.note("A parameter reached twice must be listed once (remember what you have seen, by identity): "
                    "an optimiser would step it twice.", code="listed_twice")
        else:
            fb.note("Parameters inside lists and tuples count too (look inside them, at any depth).")
        parameters = False

    zeroed = fb.close("zeroed_layer", np.zeros(5), tol=0.0, what="a layer's gradients after its zero_grad()")
    zeroed &= fb.check(bool(out.get("zeroed_shapes")), "", "After zero_grad() a gradient must be an array of "
                                                           "zeros with its parameter's shape.")
    listed = out.get("zeroed_listed")
    zeroed &= fb.check(listed is not None and not np.any(np.asarray(listed)), "",
                       "After model.zero_grad() some parameter that model.parameters() lists has a gradient that is "
                       "not zero.")

    x = X
    for scale, shift in zip(inp["scales"], inp["shifts"], strict=True):
        x = x * scale + shift
    sequential = fb.close("sequential", x, what="Sequential(a, b, c)(x), each layer applied to the one before's output")
    return {LINEAR: linear, PARAMETERS: parameters, ZERO_GRAD: zeroed, SEQUENTIAL: sequential}


PARTS.append(Part("modules", points=3, inputs=modules_inputs, check=check_modules, driver=drive_modules,
                  helpers=(attempt,), needs=("Tensor", "Parameter", "Module", "Linear", "ReLU", "Sequential"),
                  description="Parameter, Module.parameters() and zero_grad(), Linear, Sequential",
                  shares=(Share(LINEAR, 1, "the weight drawn as documented, a zero bias, both Parameters; "
                                           "x @ weight + bias and its gradients"),
                          Share(PARAMETERS, 1, "every Parameter once, in attribute order, in sub-modules, lists and "
                                               "tuples"),
                          Share(ZERO_GRAD, 0.5, "every parameter's gradient back to zeros"),
                          Share(SEQUENTIAL, 0.5, "the layers applied one after another"))))


# ---------------------------------------------------------------------------- Part 7: cross-entropy
def cross_entropy_inputs(rng):
    N, C = int(rng.integers(4, 10)), int(rng.integers(3, 7))
    y = rng.integers(0, C, N)
    big = rng.uniform(-1000, 1000, (N, C))
    # rows near +1000 (exp overflows without the row maximum), near -1000 (whole rows underflow with a global
    # maximum), and one whose correct class is 1980 below its maximum (log of an underflowed probability is -inf)
    big[0], big[1], big[2] = rng.uniform(900, 1000, C), rng.uniform(-1000, -900, C), rng.uniform(-100, 100, C)
    big[2, y[2]], big[2, (y[2] + 1) % C] = -990.0, 990.0
    return {"scores": multiscale(rng, (N, C), decades=2) * 0.1, "big": big, "y": y}


def drive_cross_entropy(ns, inp, out):
    errors = []

    def case(key):
        scores = ns["Tensor"](inp[key])
        loss = ns["cross_entropy"](scores, np.array(inp["y"]))
        out[key + "_loss"] = loss.data
        backprop(loss, 1.0)
        out[key + "_grad"] = scores.grad

    for key in ("scores", "big"):
        attempt(errors, out, None, case, key)
    if errors:
        raise errors[0]


CE_LOSS, CE_GRAD, CE_MEAN, CE_EXTREME = "the loss", "its gradient", "the mean", "extreme scores"


def check_cross_entropy(inp, out, fb):
    from deepgrad.losses import softmax_loss
    N = len(inp["y"])
    loss, dscores = softmax_loss(inp["scores"], inp["y"])
    mean = fb.close("scores_loss", loss, what="the loss on ordinary scores (the mean over the batch)", slips=[
        ("factor_n", "Your loss is the sum over the batch: cross_entropy is the mean (.mean(), not .sum()). That costs "
                     "the mean's share only: the rest is judged on your sum.", N * loss)])
    # the rest is judged on the student's own convention: the mean, or the sum over the batch
    factor = 1 if mean else N if _same(out.get("scores_loss"), N * loss) else None
    verdicts = {CE_MEAN: mean, CE_LOSS: factor is not None}
    verdicts[CE_GRAD] = fb.gradient("scores_grad", (factor or 1) * dscores, N=N,
                                    what="the loss's gradient on ordinary scores (your VJPs, run in reverse "
                                         "topological order)")
    big_loss, big_grad = softmax_loss(inp["big"], inp["y"])
    if judged_once(fb, verdicts[CE_LOSS], "extreme scores, until the loss is right on ordinary scores"):
        words = "on scores near +-1000 and thousands apart"
        extreme = fb.close("big_loss", factor * big_loss, what=f"the loss {words}")
        if verdicts[CE_GRAD]:
            extreme &= fb.gradient("big_grad", factor * big_grad, what=f"the loss's gradient {words}", N=N)
        verdicts[CE_EXTREME] = extreme
        got = out.get("big_loss")
        if not extreme and got is not None and not np.all(np.isfinite(np.asarray(got, dtype=float))):
            fb.note("Your loss is NaN or inf on scores near +-1000: exp(1000) overflows (e ** 710 is already inf). "
                    "Subtract each row's own maximum, a constant (scores.data.max(axis=1, keepdims=True)), before "
                    "exp: a global maximum underflows whole rows to 0. And take log p as the shifted score minus "
                    "the log of the row's sum, never as log of p, which is -inf once p underflows.", code="unstable")
    else:
        verdicts[CE_EXTREME] = False
    return verdicts


PARTS.append(Part("cross_entropy", points=2, inputs=cross_entropy_inputs, check=check_cross_entropy,
                  driver=drive_cross_entropy, helpers=(attempt, run_backward, backprop),
                  needs=("Tensor", "cross_entropy"),
                  description="softmax cross-entropy from Tensor operations, stable for large scores",
                  shares=(Share(CE_LOSS, 0.5, "the softmax cross-entropy of every example (mean or sum)"),
                          Share(CE_GRAD, 0.5, "its gradient, through your operations' VJPs"),
                          Share(CE_MEAN, 0.5, "the mean over the batch, not the sum"),
                          Share(CE_EXTREME, 0.5, "scores near +-1000 and thousands apart: loss and gradient "
                                                 "finite and right"))))


# ------------------------------------------------------------------------- Part 7: SGD, train_step
def sgd_inputs(rng):
    N, D, H, C, K = 40, int(rng.integers(4, 9)), int(rng.integers(5, 12)), int(rng.integers(3, 6)), 5
    B = int(rng.integers(6, 14))
    return {"X": rng.standard_normal((N, D)), "y": rng.integers(0, C, N), "lr": float(rng.uniform(0.05, 0.5)),
            "W1": rng.standard_normal((D, H)) / np.sqrt(D), "b1": 0.1 * rng.standard_normal(H),
            "W2": rng.standard_normal((H, C)) / np.sqrt(H), "b2": 0.1 * rng.standard_normal(C),
            "batches": np.array([rng.choice(N, B, replace=False) for _ in range(K)]),
            "grads0": rng.standard_normal((2, D, H)), "grads1": rng.standard_normal((2, H))}


def drive_sgd(ns, inp, out):
    Tensor, errors = ns["Tensor"], []

    def steps():                # the student's SGD on its own: gradients set by hand, two steps
        params = [Tensor(np.array(inp[k])) for k in ("W1", "b1")]
        optimizer = ns["SGD"](params, inp["lr"])
        for step in range(2):
            params[0].grad, params[1].grad = np.array(inp["grads0"][step]), np.array(inp["grads1"][step])
            optimizer.step()
            out[f"stepped{step}"] = np.concatenate([np.ravel(p.data) for p in params])

    def zeroed():
        params = [Tensor(np.array(inp[k])) for k in ("W1", "b1")]
        optimizer = ns["SGD"](params, inp["lr"])
        for p in params:
            p.grad = np.ones_like(p.data)
        optimizer.zero_grad()
        return np.concatenate([np.ravel(p.grad) for p in params])

    attempt(errors, out, None, steps)
    attempt(errors, out, "zeroed", zeroed)

    # train_step with a trusted optimiser, model and loss (the loss a node whose VJP is written here), so that it
    # is judged on its own order of calls: the student's SGD, cross_entropy and backward() have their own shares
    W1, b1, W2, b2 = (Tensor(np.array(inp[k])) for k in ("W1", "b1", "W2", "b2"))

    class Plain:
        def __init__(self, params, lr):
            self.params, self.lr = list(params), lr

        def zero_grad(self):
            for p in self.params:
                p.grad = np.zeros_like(p.data)

        def step(self):
            for p in self.params:
                p.data = p.data - self.lr * p.grad

    def model(X):               # the two-layer net as one node; what its gradients need rides along
        X = np.asarray(X.data if isinstance(X, Tensor) else X, dtype=np.float64)
        h = X @ W1.data + b1.data
        node = Tensor(np.maximum(h, 0) @ W2.data + b2.data, (W1, b1, W2, b2), "net")
        node.cache = X, h
        return node

    def cross_entropy(scores, y):   # a node whose parents are the parameters themselves: whatever the order in
        X, h = scores.cache         # which the student's backward() runs the VJPs, the gradients are the same
        S = scores.data - scores.data.max(axis=1, keepdims=True)
        log_p = S - np.log(np.exp(S).sum(axis=1, keepdims=True))
        rows = np.arange(len(y))
        loss = Tensor(-log_p[rows, y].mean(), (W1, b1, W2, b2), "cross_entropy")

        def backward():
            G = np.exp(log_p)
            G[rows, y] -= 1.0
            G = G / len(y) * loss.grad
            dh = (G @ W2.data.T) * (h > 0)
            for p, grad in zip((W1, b1, W2, b2), (X.T @ dh, dh.sum(axis=0), np.maximum(h, 0).T @ G, G.sum(axis=0)),
                               strict=True):
                p.grad = p.grad + grad
        loss._backward = backward
        return loss

    ns["cross_entropy"] = cross_entropy     # train_step finds it among the notebook's names
    optimizer, losses, after = Plain([W1, b1, W2, b2], inp["lr"]), [], []
    for batch in inp["batches"]:
        losses.append(ns["train_step"](model, optimizer, np.array(inp["X"])[batch], np.array(inp["y"])[batch]))
        after.append(np.concatenate([np.ravel(p.data) for p in (W1, b1, W2, b2)]))
        out["losses"], out["params"] = losses, after
    if errors:
        raise errors[0]


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


STEP, SGD_ZERO, TRAIN_STEP = "SGD.step()", "SGD.zero_grad()", "train_step"


def check_sgd(inp, out, fb):
    lr, theta = inp["lr"], np.concatenate([np.ravel(inp["W1"]), inp["b1"]])
    step = True
    for k in range(2):
        grad = np.concatenate([np.ravel(inp["grads0"][k]), inp["grads1"][k]])
        step &= fb.close(f"stepped{k}", theta - lr * grad, slips=[
            ("sign", "Your step climbs the gradient: p.data - lr * p.grad moves against it.", theta + lr * grad)],
            what=f"the parameters after step {k + 1} of your SGD (gradients set by hand)")
        theta = theta - lr * grad
    zeroed = fb.close("zeroed", np.zeros(np.size(inp["W1"]) + np.size(inp["b1"])), tol=0.0,
                      what="every gradient after your SGD's zero_grad()")
    losses, after = reference_sgd_steps(inp)
    words = "(run with a plain optimiser, model and loss of the grader's, so that only train_step is judged)"
    train = fb.close("losses", losses, what=f"the loss train_step returns at each of 5 steps, before the step {words}")
    if not fb.close("params", after, what=f"the parameters after each of 5 calls of train_step {words}"):
        fb.note("Each step must start from zeroed gradients (optimizer.zero_grad() before backward()), then "
                "compute the loss, backward(), and optimizer.step(): gradients add up in .grad, so without "
                "zero_grad() each step would use the sum of all gradients so far.", code="step_order")
        train = False
    return {STEP: step, SGD_ZERO: zeroed, TRAIN_STEP: train}


PARTS.append(Part("sgd_training", points=2, inputs=sgd_inputs, check=check_sgd, driver=drive_sgd,
                  helpers=(attempt,), needs=("Tensor", "SGD", "train_step"),
                  description="the SGD optimiser and one training step",
                  shares=(Share(STEP, 0.75, "every parameter moved by -lr * its gradient"),
                          Share(SGD_ZERO, 0.25, "every gradient back to zeros"),
                          Share(TRAIN_STEP, 1, "zero_grad, loss, backward, step, in that order; the loss before the "
                                               "step returned"))))


# ------------------------------------------------------------------------------- Part 8: the digits
# The jittered digits (deepgrad.data.load_jittered_digits): each digit twice, moved by up to a pixel each way, with
# pixel noise. Within the budget of DIGITS_EPOCHS epochs of batches of 32, the learning rate that passed the plain
# digits (0.1) stays near 0.82, and what a small search on the notebook's validation split finds reaches about 0.89.
# The held-out digits are judged on DIGITS_TEST_COPIES fresh jittered copies each: on 600 digits twice, the verdict's
# spread over splits (sd 0.011 for the tuned values) put a right, tuned solution within 1.5 sd of any bar the
# starting values miss; on six copies, 30 splits gave 0.818 +- 0.010 (at most 0.835) for the starting values and
# 0.893 +- 0.007 (at least 0.879) for the tuned ones: the bar sits more than 4 sd from both
# (tests/test_shares_a3.py pins it).
DIGITS_DATA = {"copies": 2, "shift": 1, "noise": 0.1}
DIGITS_EPOCHS, DIGITS_TEST, DIGITS_TEST_COPIES, DIGITS_BAR = 5, 600, 6, 0.86
DIGITS_DOMAIN = {"lr": (1e-4, 10.0), "hidden": (1, 512)}


def digits_inputs(rng):
    """A fresh jittered set and split by digit (both copies of a digit on one side) for every student, each set
    shuffled by the grader's generator: the student's code receives the training images and labels and the test
    images, and nothing from which the test labels could be rebuilt (no jitter or split seed). The test images are
    DIGITS_TEST_COPIES other jittered copies of the held-out digits (more copies: a steadier verdict). The test
    labels stay with the grader (``held_out``). Standardised by the training images."""
    from deepgrad.data import load_jittered_digits, standardize
    seed = int(rng.integers(0, 2**62))
    X, y = load_jittered_digits(**DIGITS_DATA, seed=seed)
    X_more, y_more = load_jittered_digits(**{**DIGITS_DATA, "copies": DIGITS_TEST_COPIES}, seed=seed + 1)
    digits = rng.permutation(len(y) // DIGITS_DATA["copies"])

    def rows(d, copies):  # every copy of the digits d
        return (copies * d[:, None] + np.arange(copies)).ravel()

    train = rng.permutation(rows(digits[DIGITS_TEST:], DIGITS_DATA["copies"]))
    test = rng.permutation(rows(digits[:DIGITS_TEST], DIGITS_TEST_COPIES))
    X_train, X_test = standardize(X[train], X_more[test])[:2]
    return {"X_train": X_train, "y_train": y[train], "X_test": X_test, "y_test": y_more[test],
            "epochs": DIGITS_EPOCHS, "seed": int(rng.integers(0, 2**31))}


def drive_digits(ns, inp, out):
    hyper = ns["HYPERPARAMS"]
    lr, hidden = float(hyper["lr"]), int(hyper["hidden"])
    out["hp/lr"], out["hp/hidden"] = lr, hidden
    if not (1e-4 <= lr <= 10.0 and 1 <= hidden <= 512):      # DIGITS_DOMAIN: outside it nothing is trained
        return
    rng = np.random.default_rng(int(inp["seed"]))
    model = ns["Sequential"](ns["Linear"](64, hidden, rng), ns["ReLU"](), ns["Linear"](hidden, 10, rng))
    optimizer = ns["SGD"](model.parameters(), lr)
    X, y, X_test = np.array(inp["X_train"]), np.array(inp["y_train"]), np.array(inp["X_test"])
    for _ in range(int(inp["epochs"])):
        order = rng.permutation(len(y))
        for first in range(0, len(y), 32):
            batch = order[first:first + 32]
            ns["train_step"](model, optimizer, X[batch], y[batch])
        out["predictions"] = model(X_test).data.argmax(axis=1)     # after every epoch: a timeout keeps the last


def check_digits(inp, out, fb):
    chosen = {key: out.get("hp/" + key) for key in DIGITS_DOMAIN}
    if not fb.check(all(v is not None and np.shape(v) == () for v in chosen.values()), "",
                    "HYPERPARAMS should be a dict with the numbers lr and hidden (see the error above)."):
        return False
    said = f"lr = {float(chosen['lr']):g}, hidden = {int(chosen['hidden'])}"
    if not fb.check(all(lo <= float(chosen[k]) <= hi for k, (lo, hi) in DIGITS_DOMAIN.items()), "",
                    f"Your HYPERPARAMS ({said}) are outside the range the part allows: lr in [1e-4, 10], hidden a "
                    f"whole number in [1, 512]. Nothing was trained."):
        return False
    y_test = inp["y_test"]
    predictions = out.get("predictions")
    if predictions is None or np.shape(predictions) != y_test.shape:
        return fb.check(False, "", "No predictions for the test images came back (see the error above).")
    accuracy = float(np.mean(np.asarray(predictions) == y_test))
    return fb.check(accuracy >= DIGITS_BAR,
                    f"Test accuracy {accuracy:.3f} after {inp['epochs']} epochs with {said} (at least {DIGITS_BAR}).",
                    f"Test accuracy {accuracy:.3f} after {inp['epochs']} epochs with {said}; at least {DIGITS_BAR} is "
                    f"expected (Linear(64, hidden), ReLU, Linear(hidden, 10), your SGD, batches of 32). If your "
                    f"self-checks pass, compare settings by their validation accuracy in the notebook.")


PARTS.append(Part("digits", points=2, inputs=digits_inputs, check=check_digits, driver=drive_digits, timeout=60,
                  needs=("Sequential", "Linear", "ReLU", "SGD", "train_step", "HYPERPARAMS"), held_out=("y_test",),
                  description=f"your engine, with your HYPERPARAMS, trains a network on fresh jittered digits to at "
                              f"least {DIGITS_BAR:.0%} test accuracy in {DIGITS_EPOCHS} epochs",
                  shares=(Share("test accuracy", 2, f"at least {DIGITS_BAR} on held-out jittered test digits after "
                                                    f"{DIGITS_EPOCHS} epochs with your classes and your HYPERPARAMS"),)))

# Written answers, graded by hand in formgrader.
MANUAL_PARTS = {"written_engine": 2}
