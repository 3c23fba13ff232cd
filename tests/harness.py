"""The assignment tests' harness: which assignments there are, their notebooks, and in-process grading.

``grade`` runs answer-cell sources and each part's driver in this process (no sandbox, so a test can grade
hundreds of variants quickly) and judges what comes back exactly as the pipeline does: the part's inputs as the
sandbox receives them, its driver recreated from source, its time limit, the real ``Feedback`` and ``Outputs``
and the pipeline's rule for a check's verdict (``autograder.checks.fraction``). The sandbox itself (isolation,
memory limits, answer-cell budgets) is tested through the real pipeline in tests/test_autograder*.py.

    >>> grade("A1", answers("A1"), only=("predict",))
    {'predict': 1.0}
"""
from __future__ import annotations

import builtins
import contextlib
import csv
import io
import re
import signal
import threading
import types
from dataclasses import dataclass
from pathlib import Path

import nbformat
import numpy as np

from autograder import checks
from autograder.checks import Feedback, Outputs
from autograder.grading.verify import graded_assignments
from autograder.notebook import answer_cells

SOLUTIONS = Path(__file__).resolve().parent.parent / "solutions"
_SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)


# ------------------------------------------------------------------------------------------ the content
def assignments() -> list[str]:
    """The assignments with a solutions/<A>/ folder and a check module, as ``deepgrad verify`` finds them."""
    return graded_assignments()


def solution_dir(a: str) -> Path:
    return SOLUTIONS / a


def solution_notebook(a: str) -> nbformat.NotebookNode:
    """A fresh copy of the source notebook solutions/<A>/<A>.ipynb (callers may edit it)."""
    return nbformat.read(solution_dir(a) / f"{a}.ipynb", as_version=4)


def meta(cell) -> dict:
    """A cell's nbgrader metadata ({} for a cell nbgrader does not know)."""
    return cell.metadata.get("nbgrader", {})


def answers(a: str) -> list[str]:
    """The solution's answer-cell sources, in notebook order, extracted as the pipeline extracts them."""
    return answer_cells(solution_notebook(a))


def stub(source: str) -> str:
    """What nbgrader leaves in a released answer cell."""
    return _SOLUTION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()", source)


def replace_function(sources: list[str], name: str, new_source: str) -> list[str]:
    """``sources`` with the top-level ``def name(...)`` (up to the next top-level line) replaced by ``new_source``."""
    pattern = re.compile(rf"^def {name}\(.*?(?=^\S|\Z)", re.S | re.M)
    return [pattern.sub(lambda _: new_source + "\n\n", s) if f"def {name}(" in s else s for s in sources]


@contextlib.contextmanager
def notebook_quietly(folder):
    """Run a notebook's cells in this process as its kernel would, in fast mode: in ``folder`` (notebooks read
    files relative to themselves), figures closed instead of shown (Agg)."""
    import os

    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    old, os.environ["DEEPGRAD_FAST"] = os.environ.get("DEEPGRAD_FAST"), "1"
    show, plt.show = plt.show, lambda *a, **k: plt.close("all")
    here = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        plt.show = show
        plt.close("all")
        os.chdir(here)
        if old is None:
            del os.environ["DEEPGRAD_FAST"]
        else:
            os.environ["DEEPGRAD_FAST"] = old


def check_module(a: str) -> types.ModuleType:
    """autograder/checks/<A>.py, loaded (and validated) as the pipeline loads it."""
    return checks.load(a)


# ------------------------------------------------------------------------------------------ grading
@dataclass
class Graded:
    """One part graded in-process: the fraction of its points it earns, and the check's feedback (whose ``out``
    holds the outputs it judged)."""

    fraction: float
    feedback: Feedback
    shares: dict        # share name -> points earned

def grade(a: str, sources: list[str], seed: int = 0, only=None) -> dict[str, float]:
    """Fraction of its points that each part (or each part named in ``only``) earns for answer-cell ``sources``;
    every part's inputs are drawn from ``np.random.default_rng(seed)``."""
    return {name: graded.fraction for name, graded in grade_parts(a, sources, seed, only).items()}


def grade_parts(a: str, sources: list[str], seed: int = 0, only=None) -> dict[str, Graded]:
    """Like ``grade``, with each part's feedback."""
    return {part.name: grade_part(part, sources, seed)
            for part in check_module(a).PARTS if only is None or part.name in only}


def grade_part(part: checks.Part, sources: list[str], seed: int = 0) -> Graded:
    """Run ``sources`` and ``part`` as a sandbox would (fresh namespace, the inputs it would receive) and judge
    the outputs as the pipeline does (``grade_part`` in autograder/grading/pipeline.py)."""
    inputs = part.inputs(np.random.default_rng(seed))
    out = _run(part, sources, _as_sent(part, inputs))
    fb = Feedback(out)
    # the pipeline runs no check for a part whose function is not defined
    verdict = False if out.status == "missing" else part.check(inputs, out, fb)
    shares = checks.earned(part, verdict, fb)
    return Graded(sum(s.score for s in shares) / part.points, fb, {s.name: s.score for s in shares})


# ------------------------------------------------------------------------------------------ the run
def _as_sent(part, inputs: dict) -> dict:
    """The inputs as the sandbox receives them: held-out ones kept back, the rest through an .npz (fresh copies,
    so student code that edits them in place cannot change what the check compares with; 0-d arrays become
    Python scalars)."""
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in inputs.items() if k not in part.held_out})
    sent = {}
    with np.load(io.BytesIO(buf.getvalue()), allow_pickle=False) as f:
        for key in f.files:
            array = f[key]
            sent[key] = array.item() if array.ndim == 0 else array
    return sent


def _run(part, sources: list[str], inp: dict) -> Outputs:
    """Answer cells, then the part's call under its time limit; what was collected before an error or the time
    limit still comes back, as arrays of numbers (anything else is dropped, as the sandbox drops it)."""
    ns = {"__name__": "__main__", "__builtins__": builtins, "np": np, "numpy": np}
    for source in sources:
        with contextlib.suppress(Exception):     # a cell that raises is skipped, as in the notebook
            exec(compile(source, "<answer cell>", "exec"), ns)
    if any(name not in ns for name in part.needs):
        return Outputs({}, "missing")
    out, counts, status, error = {}, _count_calls(ns) if part.count_calls else {}, "ok", None
    try:
        with _time_limit(part.timeout):
            _driver(part)(ns, inp, out)
    except _OutOfTime:
        status = "timeout"
    except Exception as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        status = "memory" if isinstance(exc, MemoryError) else "error"
    out.update({f"calls/{name}": n for name, n in counts.items()})
    return Outputs(_numbers(out), status, error)


def _numbers(out: dict) -> dict:
    """What the sandbox sends back: the values that are arrays of numbers (it drops others, with a message)."""
    arrays = {}
    for key, value in out.items():
        with contextlib.suppress(Exception):
            array = np.asarray(value)
            if array.dtype.kind in "biuf":
                arrays[key] = array
    return arrays


def _driver(part):
    """The part's ``drive(ns, inp, out)``: a driver recreated from its source in a namespace holding only np and
    its helpers, as the sandbox does, or the simple form's call."""
    spec = part.spec()
    if spec["driver_src"] is None:
        return lambda ns, inp, out: _call(spec, ns, inp, out)
    env = {"np": np, "__builtins__": builtins, "__name__": "__driver__"}
    for source in spec["helpers_src"] + [spec["driver_src"]]:
        exec(compile(source, "<driver>", "exec"), env)
    return env[spec["driver_name"]]


def _call(spec: dict, ns: dict, inp: dict, out: dict) -> None:
    """The simple form: call the student's function and store what it returns (a dict as ``name/key``)."""
    result = ns[spec["call"]](*[inp[a] for a in spec["args"]], **{p: inp[k] for p, k in spec["kwargs"].items()})
    returns = spec["returns"]
    if isinstance(returns, str):
        returns, result = [returns], [result]
    elif not isinstance(result, (tuple, list)) or len(result) != len(returns):
        got = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
        raise ValueError(f"{spec['call']} returned {got}; expected a tuple of {len(returns)}: ({', '.join(returns)})")
    for name, value in zip(returns, result, strict=True):
        out.update({f"{name}/{k}": v for k, v in value.items()} if isinstance(value, dict) else {name: value})


def _count_calls(ns: dict) -> dict[str, int]:
    """Wrap the answer cells' own functions to count their calls (``count_calls``), as the sandbox does."""
    counts = {}

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            counts[name] += 1
            return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn
        return wrapper

    for name, value in list(ns.items()):
        if isinstance(value, types.FunctionType) and value.__globals__ is ns:
            counts[name] = 0
            ns[name] = counted(name, value)
    return counts


class _OutOfTime(BaseException):
    """Raised in the driver at the part's time limit (a BaseException: student code's `except Exception` and the
    drivers' own do not swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """The part's time limit, in-process (SIGALRM, main thread only): a numerical backward pass on a part's large
    problem runs for minutes, and the sandbox would stop it at the limit."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def stop(*_):
        raise _OutOfTime
    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ------------------------------------------------------------------ a class's folders and grades, as the term has them
def submit(subs: Path, who: str, text: str, when: str | None = None) -> None:
    """``who``'s notebook in nbgrader's layout, as collect leaves it (``<who>/A1/A1.ipynb``), with the exchange's
    ``timestamp.txt`` when ``when`` is given."""
    (subs / who / "A1").mkdir(parents=True)
    (subs / who / "A1" / "A1.ipynb").write_text(text)
    if when:
        (subs / who / "A1" / "timestamp.txt").write_text(when)


def grade_rows(path: Path) -> dict:
    """grades.csv as {student_id: row}."""
    with open(path, newline="") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}
