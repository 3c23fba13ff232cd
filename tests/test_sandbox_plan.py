"""The run plan (autograder/sandbox/plan.py) is all that the sandboxed child reads: the programs inside the
sandbox cannot import it, so a key they read that the plan lacks (misspelt, renamed on one side) would only fail
while grading. Here every key they read from their payload is checked against the plan's JSON, at any depth."""
from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from autograder.checks import Part
from autograder.sandbox.plan import Limits, make_plan

INSIDE = Path(__file__).resolve().parent.parent / "autograder" / "sandbox" / "inside"
PROGRAMS = ("child.py", "server.py")
SPEC = Part("p", 1, inputs=lambda rng: {}, check=lambda *a: True, call="f", args=("x",), returns=("a", "b")).spec()


def _plan(cells=("def f(x):\n    return x, 1\n",), limits=None, **kw):
    args = dict(skip=[], short=[], own="/s", numpy_dirs=["/np"], user_tasks=3, cover="/tmp", hide=["/course"])
    return make_plan(list(cells), SPEC, limits or Limits(), **{**args, **kw})


def _paths(value, path=()):
    """Every key path of a JSON document, e.g. ("limits", "cpu_s")."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield path + (key,)
            yield from _paths(inner, path + (key,))


PLAN_KEYS = set(_paths(json.loads(_plan().to_json())))   # with namespaces, so that ``isolate`` has its fields


def _key_read(node):
    """(what is read from, the key) for ``x["key"]`` and ``x.get("key", ...)``; None for anything else."""
    if isinstance(node, ast.Subscript):
        target, key = node.value, node.slice
    elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get" \
            and node.args:
        target, key = node.func.value, node.args[0]
    else:
        return None
    return (target, key.value) if isinstance(key, ast.Constant) and isinstance(key.value, str) else None


def payload_reads(source: str) -> set[tuple[str, ...]]:
    """The key paths a program reads from ``PAYLOAD``, directly or through a name bound to a part of it (by an
    assignment, or as a function's argument), followed until no new name is bound."""
    tree = ast.parse(source)
    functions = {f.name: [a.arg for a in f.args.args] for f in ast.walk(tree) if isinstance(f, ast.FunctionDef)}
    bound = {"PAYLOAD": ()}

    def path(node):
        if isinstance(node, ast.Name):
            return bound.get(node.id)
        read = _key_read(node)
        base = path(read[0]) if read else None
        return None if base is None else base + (read[1],)

    def bindings():
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                        yield from zip(target.elts, node.value.elts, strict=False)
                    else:
                        yield target, node.value
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in functions:
                params = functions[node.func.id]
                yield from ((ast.Name(p), arg) for p, arg in zip(params, node.args, strict=False))
                yield from ((ast.Name(k.arg), k.value) for k in node.keywords if k.arg)

    while True:
        new = {t.id: path(v) for t, v in bindings()
               if isinstance(t, ast.Name) and t.id not in bound and path(v) is not None}
        if not new:
            break
        bound.update(new)
    reads = (_key_read(node) for node in ast.walk(tree))
    return {path(r[0]) + (r[1],) for r in reads if r and path(r[0]) is not None}


def _unknown(source: str) -> list[str]:
    return sorted(".".join(p) for p in payload_reads(source) - PLAN_KEYS)


@pytest.mark.parametrize("program", PROGRAMS)
def test_the_sandbox_reads_no_key_the_plan_lacks(program):
    unknown = _unknown((INSIDE / program).read_text())
    assert not unknown, f"inside/{program} reads keys that the run plan (sandbox/plan.py) lacks: {unknown}"


def test_the_reader_follows_names_and_arguments():
    # guards the test itself: reads through an assignment (spec, times), a function's argument (lim, iso) and
    # `.get` are all seen
    reads = payload_reads((INSIDE / "child.py").read_text())
    assert {("part", "spec", "call"), ("times", "watchdog_s"), ("limits", "cpu_s"), ("limits", "nproc"),
            ("isolate", "root"), ("isolate", "tmpfs_bytes"), ("environ",)} <= reads


@pytest.mark.parametrize("right, wrong", [('lim["cpu_s"]', 'lim["cpu"]'), ('iso["root"]', 'iso["roots"]'),
                                          ('times["cell_budget_s"]', 'times["cell_budget"]'),
                                          ('spec["call"]', 'spec["cal"]'), ('P["own"]', 'P.get("owner")')])
def test_a_misspelt_key_is_caught(right, wrong):
    source = (INSIDE / "child.py").read_text()
    assert right in source
    assert _unknown(source.replace(right, wrong, 1))


def test_every_time_is_derived_from_the_limits():
    # two cells, the second short, a 2 s call: the numbers the child and the grader used before the plan existed
    plan = _plan(["a = 1", "b = 2"], Limits(timeout=2, cell_budget=1), short=[2], user_tasks=7, cover=None)
    t = plan.times
    assert (t.cell_budget_s, t.short_budget_s, t.cells_deadline_s, t.call_deadline_s) == (1, 1.0, 5.0, 2)
    assert (t.call_alarm_s, t.watchdog_s) == pytest.approx((1.6, 1.8))     # a send margin of 20 %
    assert (plan.limits.cpu_s, plan.limits.nproc, plan.isolate) == (6, 7 + 16, None)
    assert _plan(limits=Limits(timeout=30)).times.call_alarm_s == 29.0         # the margin is at most 1 s
