"""A1-A4: the source notebooks run, their parts match their check modules, solutions earn full marks, stubs zero.

Grading is simulated in-process here (answer cells exec'd into a namespace, drivers shipped by source as the
sandbox does, checks judged through a small stand-in for the pipeline's feedback object), so these tests
exercise the content without the sandbox. The end-to-end pipeline is tested in tests/test_autograder*.py.
"""
from __future__ import annotations

import contextlib
import importlib
import inspect
import os
import re
import signal
import threading

import numpy as np
import pytest

from deepgrad.gradcheck import rel_error

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ASSIGNMENTS = ["A1", "A2", "A3", "A4"]
SOLUTION = re.compile(r"^([ \t]*)### BEGIN SOLUTION\n.*?^[ \t]*### END SOLUTION[ \t]*$", re.S | re.M)


def _notebook(a):
    import nbformat
    return nbformat.read(os.path.join(ROOT, "solutions", a, f"{a}.ipynb"), as_version=4)


def _meta(cell):
    return cell.metadata.get("nbgrader", {})


def _answers(a):
    return [c.source for c in _notebook(a).cells if c.cell_type == "code" and _meta(c).get("solution")]


def _stub(source):
    """What nbgrader leaves in a released answer cell."""
    return SOLUTION.sub(lambda m: f"{m.group(1)}# YOUR CODE HERE\n{m.group(1)}raise NotImplementedError()", source)


def _checks(a):
    try:
        from autograder.checks import Part  # noqa: F401
    except ImportError:
        pytest.skip("autograder.checks.Part is not available yet (the grading pipeline)")
    return importlib.import_module(f"autograder.checks.{a}")


class Outputs(dict):
    error = None
    status = "ok"


class Feedback:
    """Minimal stand-in for the pipeline's feedback object: same methods, records failures."""

    def __init__(self, out):
        self.out, self.failed, self.lines = out, 0, []

    def _got(self, key):
        got = self.out.get(key)
        return None if got is None else np.asarray(got, dtype=np.float64)

    def close(self, key, expected, *, tol=1e-9, what=None, **_):  # slips= (named loss slips) only words
        got, expected = self._got(key), np.asarray(expected, dtype=np.float64)
        ok = got is not None and got.shape == expected.shape and (
            np.array_equal(got, expected) if tol == 0 else rel_error(got, expected) <= tol)
        return self.check(ok, f"{what or key}: ok", f"{what or key}: wrong")

    def gradient(self, key, expected, *, tol=1e-9, what=None, **_):
        return self.close(key, expected, tol=tol, what=what)

    def equal(self, key, expected, *, what=None):
        got = self.out.get(key)
        ok = got is not None and np.array_equal(np.asarray(got), np.asarray(expected))
        return self.check(ok, f"{what or key}: ok", f"{what or key}: wrong")

    def check(self, condition, ok_text, fail_text):
        self.failed += not condition
        self.lines.append(ok_text if condition else fail_text)
        return bool(condition)

    def note(self, text):
        self.lines.append(text)


def _shipped(fn, helpers):
    """Recreate a driver from its source in a namespace holding only np and its helpers, as the sandbox does."""
    ns = {"np": np}
    for f in (*helpers, fn):
        exec(inspect.getsource(f), ns)
    return ns[fn.__name__]


class _OutOfTime(BaseException):
    """Raised in the driver at the part's time limit (a BaseException: student code's `except Exception` and the
    drivers' own do not swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds):
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


def grade(a, sources, seed=0, only=None):
    """Score per part (fraction of its points) for answer-cell sources, graded in-process (each part's driver
    under the part's time limit, as in the sandbox)."""
    module = _checks(a)
    ns = {"np": np, "__name__": "submission"}
    for source in sources:
        try:
            exec(compile(source, "<answer>", "exec"), ns)
        except Exception:
            pass
    scores = {}
    for part in module.PARTS:
        if only is not None and part.name not in only:
            continue
        rng = np.random.default_rng(seed)
        inp = part.inputs(rng)
        out = Outputs()
        try:
            with _time_limit(part.timeout):
                if part.driver is not None:
                    _shipped(part.driver, part.helpers)(ns, inp, out)
                else:
                    kwargs = {p: inp[k] for p, k in (part.kwargs or {}).items()}
                    result = ns[part.call](*[inp[k] for k in part.args], **kwargs)
                    if isinstance(part.returns, tuple):
                        out.update(zip(part.returns, result, strict=True))
                    else:
                        out[part.returns] = result
        except _OutOfTime:  # what the driver collected before the limit still counts
            out.status = "timeout"
        except Exception as exc:  # what the driver collected before the error still counts
            out.error, out.status = f"{type(exc).__name__}: {exc}", "error"
        status, error = out.status, out.error
        out = Outputs({k: (np.asarray(v) if not isinstance(v, dict) else v) for k, v in out.items()},)
        out.status, out.error = status, error
        fb = Feedback(out)
        verdict = part.check(inp, out, fb)
        scores[part.name] = (0.0 if fb.failed else 1.0) if verdict is None else float(verdict)
    return scores


# ------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_notebook_markup(a):
    nb = _notebook(a)
    ids = [_meta(c)["grade_id"] for c in nb.cells if "grade_id" in _meta(c)]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    assert len({c.id for c in nb.cells}) == len(nb.cells), "cell ids must be unique"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "no outputs in sources"
    for source in _answers(a):
        assert "import deepgrad" not in source and "from deepgrad" not in source, "answer cells are NumPy only"
        assert source.count("### BEGIN SOLUTION") == source.count("### END SOLUTION")
    for c in nb.cells:  # nbgrader's release fails on marker text anywhere else (FORMAT.md)
        if not _meta(c).get("solution"):
            assert "BEGIN SOLUTION" not in c.source and "END SOLUTION" not in c.source, c.source[:80]
    tests = [c for c in nb.cells if _meta(c).get("grade") and not _meta(c).get("solution")]
    assert tests and all("### BEGIN HIDDEN TESTS" in c.source for c in tests)
    written = [c for c in nb.cells if _meta(c).get("grade") and _meta(c).get("solution")]
    assert all(c.cell_type == "markdown" for c in written), "manually graded answers are markdown cells"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_parts_match_the_notebook(a):
    module = _checks(a)
    cells = {_meta(c)["grade_id"]: _meta(c)["points"] for c in _notebook(a).cells if _meta(c).get("grade")}
    assert {p.name: p.points for p in module.PARTS} | getattr(module, "MANUAL_PARTS", {}) == cells
    assert module.NOTEBOOK == f"{a}.ipynb"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solutions_get_full_marks(a, seed):
    scores = grade(a, _answers(a), seed)
    assert scores and all(s == 1.0 for s in scores.values()), scores


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_stubs_get_zero(a):
    scores = grade(a, [_stub(s) for s in _answers(a)])
    assert all(s == 0.0 for s in scores.values()), scores


def _replace_function(sources, name, new_source):
    pattern = re.compile(rf"^def {name}\(.*?(?=^\S|\Z)", re.S | re.M)
    return [pattern.sub(lambda _: new_source + "\n\n", s) if f"def {name}(" in s else s for s in sources]


def test_numerically_differentiating_backward_earns_nothing():
    cheat = '''def linear_backward(dout, cache):
    x, W, b = cache
    h = 1e-5
    def grad(f, v):
        g = np.zeros_like(v)
        for i in np.ndindex(v.shape):
            old = v[i]; v[i] = old + h; fp = f(); v[i] = old - h; fm = f(); v[i] = old
            g[i] = (fp - fm) / (2 * h)
        return g
    loss = lambda: np.sum((x @ W + b) * dout)
    return grad(loss, x), grad(loss, W), grad(loss, b)
'''
    sources = _answers("A2")
    sources = [s.replace("cache = (x, W)\n", "cache = (x, W, b)\n") for s in sources]
    sources = _replace_function(sources, "linear_backward", cheat)
    # Through the real sandbox and its time limit: on linear's large layer the cheat runs for minutes, which
    # the in-process grade() above would wait out.
    grading = pytest.importorskip("autograder.grading")
    module = _checks("A2")
    results = {p.name: grading.grade_part(p, i, sources, "numerical", 7, [])
               for i, p in enumerate(module.PARTS) if p.name in ("linear", "relu")}
    scores = {name: r.score / r.points for name, r in results.items()}
    assert scores == {"linear": 0.0, "relu": 1.0}, {n: (r.status, [l.text for l in r.lines]) for n, r in results.items()}


def test_a_partly_right_submission_gets_exactly_its_parts():
    sources = _replace_function(_answers("A4"), "adam", '''def adam(w, dw, config=None):
    config = config or {}
    config.setdefault("lr", 1e-3); config.setdefault("betas", (0.9, 0.999)); config.setdefault("eps", 1e-8)
    config.setdefault("m", np.zeros_like(w)); config.setdefault("v", np.zeros_like(w)); config.setdefault("t", 0)
    b1, b2 = config["betas"]; t = config["t"] + 1
    m = (b1 * config["m"] + (1 - b1) * dw) / (1 - b1 ** t)        # the notes' recursion: corrections compound
    v = (b2 * config["v"] + (1 - b2) * dw * dw) / (1 - b2 ** t)
    config.update(m=m, v=v, t=t)
    return w - config["lr"] * m / (np.sqrt(v) + config["eps"]), config
''')
    scores = grade("A4", sources)
    assert scores["adam"] == 0.0
    assert all(s == 1.0 for name, s in scores.items() if name != "adam"), scores


def test_a3_partial_engine_keeps_its_parts():
    # Forward mode missing and a broken topological sort: the VJP parts still earn their points.
    sources = [_stub(s) if "class Dual" in s or "def topological_order" in s else s for s in _answers("A3")]
    scores = grade("A3", sources)
    assert scores["forward_mode"] == 0.0 and scores["backward"] == 0.0
    assert scores["tensor_core"] == scores["elementwise"] == scores["matmul_sum"] == 1.0, scores


def test_a3_reference_program_evaluator_matches_numerical_gradients(rng):
    from deepgrad.gradcheck import numerical_gradient
    module = _checks("A3")
    inp = module.backward_inputs(rng)
    _, grads = module.evaluate_program(inp["leaves"], inp["program"], inp["consts"], inp["g"])
    leaves = inp["leaves"].copy()
    f = lambda v: float(np.sum(module.evaluate_program(v, inp["program"], inp["consts"], inp["g"])[0][-1] * inp["g"]))
    assert rel_error(grads, numerical_gradient(f, leaves)) < 1e-7


@pytest.mark.notebooks
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solution_notebook_executes(a, monkeypatch):
    from nbclient import NotebookClient
    monkeypatch.setenv("DEEPGRAD_FAST", "1")
    nb = _notebook(a)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": os.path.join(ROOT, "solutions", a)}}).execute()
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "each assignment ends with a figure"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_the_sandboxed_pipeline_agrees(a, tmp_path):
    """Through the real sandbox: the solution earns every point, the stub none."""
    import nbformat
    grading = pytest.importorskip("autograder.grading")
    from autograder import checks
    module = checks.load(a)
    source = grading.source_notebook(a, module.NOTEBOOK)
    stub = _notebook(a)
    for cell in stub.cells:
        if cell.cell_type == "code" and _meta(cell).get("solution"):
            cell.source = _stub(cell.source)
    for student, nb in (("solution", _notebook(a)), ("stub", stub)):
        (tmp_path / student).mkdir()
        nbformat.write(nb, tmp_path / student / f"{a}.ipynb")
        result = grading.grade_student(a, module, student, tmp_path / student, base_seed=11, hide=[], source_nb=source)
        got = {p.name: p.score for p in result.parts}
        want = {p.name: (float(p.points) if student == "solution" else 0.0) for p in module.PARTS}
        assert got == want, (student, [(p.name, p.status, [str(l) for l in p.lines]) for p in result.parts])
