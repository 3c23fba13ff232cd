"""One source of truth for op names: every op the engine can record has a symbol in the graph drawings, a
rule in the backprop explorer and a place in autograd's docstring, all read from ``autograd.OPS``."""
from __future__ import annotations

import ast
import os

import numpy as np
import pytest

from conftest import ROOT
from deepgrad import autograd
from deepgrad import functional as F
from deepgrad.autograd import Tensor

LIB = os.path.join(ROOT, "lib", "deepgrad")


def emitted_ops() -> set[str]:
    """Every op name passed to from_op anywhere in the library (and to Tensor._extreme, which forwards
    its ``kind``), read from the source."""
    names, unresolved = set(), []
    for folder, _, files in os.walk(LIB):
        for f in files:
            if not f.endswith(".py"):
                continue
            path = os.path.join(folder, f)
            for node in ast.walk(ast.parse(open(path, encoding="utf-8").read())):
                if not isinstance(node, ast.Call):
                    continue
                fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if fn == "from_op":
                    arg = node.args[2] if len(node.args) > 2 else next(
                        (k.value for k in node.keywords if k.arg == "op"), None)
                elif fn == "_extreme":
                    arg = node.args[0]
                else:
                    continue
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names.add(arg.value)
                elif not (fn == "from_op" and isinstance(arg, ast.Name) and arg.id == "kind"):
                    unresolved.append(f"{os.path.relpath(path, ROOT)}:{node.lineno}")
    assert not unresolved, f"op names that are not string literals (write the name out): {unresolved}"
    return names


EMITTED = emitted_ops()


def test_the_scan_finds_the_engine_and_functional_ops():
    assert {"add", "matmul", "max", "min", "to", "linear", "cross_entropy", "bce_with_logits"} <= EMITTED


def test_every_emitted_op_is_in_the_table_and_the_table_has_no_others():
    assert EMITTED - set(autograd.OPS) == set(), "add these ops to autograd.OPS"
    assert set(autograd.OPS) - EMITTED == set(), "autograd.OPS lists ops nothing records"


def test_every_op_has_a_symbol_and_a_rule():
    from deepgrad.viz.graph import OP_SYMBOLS
    from deepgrad.widgets.backprop import _RULES
    for op in EMITTED:
        assert OP_SYMBOLS.get(op), f"viz.graph has no symbol for {op!r}"
        template, _local = _RULES[op]
        text = template.format(o="L", p="x", c="y", other="w", divrule="1/w")
        assert text.startswith(f"{op}: ") and len(text) > len(op) + 4, f"the rule for {op!r} says nothing"


def test_the_docstring_lists_every_op():
    listed = autograd.__doc__.split("Op names: ")[1].split(".\n")[0].split(", ")
    assert listed == list(autograd.OPS)


def test_a_graph_using_every_op_draws_with_known_symbols(rng):
    from deepgrad.viz.graph import OP_SYMBOLS
    x = Tensor(rng.uniform(0.5, 1.5, (3, 4)), requires_grad=True)
    W = Tensor(rng.standard_normal((2, 4)), requires_grad=True)  # F.linear's (out, in)
    h = F.linear(x, W).tanh() + x[:, :2].sqrt() * x.T[:2].T.exp() - x.reshape(3, 4)[:, 1:3].log()
    h = (h / 2.0 - h.abs().relu().leaky_relu().sigmoid().clip(0.1, 0.9)) ** 3
    h = -(h.softmax().max(axis=1) + h.log_softmax().min(axis=1) + h.sum() - h.mean())
    h = autograd.cat([h.sin(), h.cos().clone()])[:3].float().double()

    class Square(autograd.Function):
        @staticmethod
        def forward(ctx, t):
            ctx.save_for_backward(t)
            return t * t

        @staticmethod
        def backward(ctx, g):
            (t,) = ctx.saved_tensors
            return 2 * t * g

    h = Square.apply(h)
    loss = F.cross_entropy(h.reshape(3, 1) @ Tensor(np.ones((1, 2))), np.array([0, 1, 0])) \
        + F.binary_cross_entropy_with_logits(h, np.full(3, 0.5))
    ops = {n.op for n in autograd.trace(loss).nodes if n.op}
    assert ops == EMITTED - {"to"}  # .to() the device the data is on records nothing (test_devices moves)
    assert all(op in OP_SYMBOLS for op in ops)


@pytest.mark.parametrize("op", sorted(autograd.OPS))
def test_symbols_are_short_enough_to_sit_in_a_circle(op):
    # "softmax" is the widest that fits the drawing's circle (rendered and looked at); longer names break lines
    symbol, _rule = autograd.OPS[op]
    assert symbol and max(len(line) for line in symbol.split("\n")) <= len("softmax")


def test_the_ops_that_save_data_for_backward_are_in_the_table():
    # backward's version check reads these (an in-place change of what an op saved makes backward refuse)
    assert autograd.SAVES_INPUTS <= set(autograd.OPS) and autograd.SAVES_RESULT <= set(autograd.OPS)
