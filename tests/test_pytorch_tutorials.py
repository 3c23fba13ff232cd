"""PyTorch's beginner material, written as PyTorch's tutorials write it (`import torch`), runs on DeepGrad with
PyTorch's numbers: each script in tests/pytorch_scripts/ runs with `torch` resolving to DeepGrad
(``deepgrad.as_torch()``), and what it prints is compared with what PyTorch printed (expected/, recorded by
record.py), the words exactly and the numbers within float32 noise. Where PyTorch is installed, it is also run
live."""
from __future__ import annotations

import importlib.util
import os
import re
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, os.path.join(ROOT, "tests", "pytorch_scripts"))
import record  # the scripts' folder, put on the path just above

NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?")
SCRIPTS = record.scripts()


def on_deepgrad(name: str) -> str:
    return record.run(name, prelude="import deepgrad; deepgrad.as_torch(); ")


def expected(name: str) -> str:
    with open(os.path.join(record.HERE, "expected", name + ".txt")) as f:
        return "".join(line for line in f if not line.startswith("# recorded"))


def assert_same_output(got: str, want: str, rtol: float = 1e-3, atol: float = 2e-4):
    """The same words line by line, and numbers within ``atol + rtol |want|`` (float32 sums in another order)."""
    got_lines, want_lines = got.splitlines(), want.splitlines()
    assert len(got_lines) == len(want_lines), f"{len(got_lines)} lines printed, PyTorch printed {len(want_lines)}"
    for g, w in zip(got_lines, want_lines, strict=True):
        assert NUMBER.sub("#", g).replace("-#", "#") == NUMBER.sub("#", w).replace("-#", "#"), f"\n{g}\n{w}"
        for a, b in zip(NUMBER.findall(g), NUMBER.findall(w), strict=True):
            assert abs(float(a) - float(b)) <= atol + rtol * abs(float(b)), f"{a} vs PyTorch's {b} in\n{g}\n{w}"


def test_the_scripts_cover_the_beginner_material():
    assert {"tensors_basics", "autograd_basics", "poly_tensors", "poly_autograd", "poly_function", "poly_nn",
            "poly_optim", "poly_module", "dynamic_net", "quickstart"} <= set(SCRIPTS)
    for name in SCRIPTS:
        with open(os.path.join(record.HERE, name + ".py")) as f:
            source = f.read()
        assert "import torch" in source and "deepgrad" not in source, f"{name}.py must be plain PyTorch"
        assert os.path.exists(os.path.join(record.HERE, "expected", name + ".txt")), f"record {name}: record.py"


@pytest.mark.parametrize("name", SCRIPTS)
def test_script_prints_pytorchs_numbers(name):
    assert_same_output(on_deepgrad(name), expected(name))


@pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="PyTorch is not installed: compared with "
                    "the recorded output only (tests/pytorch_scripts/record.py records it)")
@pytest.mark.parametrize("name", SCRIPTS)
def test_script_prints_what_pytorch_prints_live(name):
    assert_same_output(on_deepgrad(name), record.run(name))


def test_the_comparison_catches_a_wrong_number_and_a_wrong_word():
    assert_same_output("loss 1.0000 done", "loss 1.0001 done")
    with pytest.raises(AssertionError):
        assert_same_output("loss 1.0100 done", "loss 1.0000 done")
    with pytest.raises(AssertionError):
        assert_same_output("loss 1.0 True", "loss 1.0 False")
