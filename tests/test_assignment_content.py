"""A1-A4: the source notebooks run, their parts match their check modules, solutions earn full marks, stubs zero.

Grading is simulated in-process here (tests/harness.py: answer cells exec'd into a namespace, drivers shipped
by source as the sandbox does, judged by the pipeline's own Feedback), so these tests exercise the content
without the sandbox. The end-to-end pipeline is tested in tests/test_autograder*.py and below.
"""
from __future__ import annotations

import numpy as np
import pytest

from deepgrad.gradcheck import rel_error
from harness import (answers, assignments, check_module, grade, meta, replace_function, solution_dir,
                     solution_notebook, stub)

ASSIGNMENTS = assignments()


# ------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_notebook_markup(a):
    nb = solution_notebook(a)
    ids = [meta(c)["grade_id"] for c in nb.cells if "grade_id" in meta(c)]
    assert len(ids) == len(set(ids)), "grade_ids must be unique"
    assert len({c.id for c in nb.cells}) == len(nb.cells), "cell ids must be unique"
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code"), "no outputs in sources"
    for source in answers(a):
        assert "import deepgrad" not in source and "from deepgrad" not in source, "answer cells are NumPy only"
        assert source.count("### BEGIN SOLUTION") == source.count("### END SOLUTION")
    for c in nb.cells:  # nbgrader's release fails on marker text anywhere else (FORMAT.md)
        if not meta(c).get("solution"):
            assert "BEGIN SOLUTION" not in c.source and "END SOLUTION" not in c.source, c.source[:80]
    tests = [c for c in nb.cells if meta(c).get("grade") and not meta(c).get("solution")]
    assert tests and all("### BEGIN HIDDEN TESTS" in c.source for c in tests)
    written = [c for c in nb.cells if meta(c).get("grade") and meta(c).get("solution")]
    assert all(c.cell_type == "markdown" for c in written), "manually graded answers are markdown cells"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_parts_match_the_notebook(a):
    module = check_module(a)
    cells = {meta(c)["grade_id"]: meta(c)["points"] for c in solution_notebook(a).cells if meta(c).get("grade")}
    assert {p.name: p.points for p in module.PARTS} | getattr(module, "MANUAL_PARTS", {}) == cells
    assert module.NOTEBOOK == f"{a}.ipynb"


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solutions_get_full_marks(a, seed):
    scores = grade(a, answers(a), seed)
    assert scores and all(s == 1.0 for s in scores.values()), scores


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_stubs_get_zero(a):
    scores = grade(a, [stub(s) for s in answers(a)])
    assert all(s == 0.0 for s in scores.values()), scores


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
    sources = answers("A2")
    sources = [s.replace("cache = (x, W)\n", "cache = (x, W, b)\n") for s in sources]
    sources = replace_function(sources, "linear_backward", cheat)
    # Through the real sandbox and its time limit: on linear's large layer the cheat runs for minutes, which
    # the in-process grade() above would wait out.
    grading = pytest.importorskip("autograder.grading")
    module = check_module("A2")
    results = {p.name: grading.grade_part(p, sources, "numerical", 7, [])
               for p in module.PARTS if p.name in ("linear", "relu")}
    scores = {name: r.score / r.points for name, r in results.items()}
    # linear keeps its forward pass's share (0.5 of 2); dx, dW and db, numerical, earn nothing
    assert scores == {"linear": 0.25, "relu": 1.0}, {n: (r.status, [l.text for l in r.lines]) for n, r in results.items()}


def test_a_partly_right_submission_gets_exactly_its_parts():
    sources = replace_function(answers("A4"), "adam", '''def adam(w, dw, config=None):
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
    assert scores["adam"] == 0.5        # the notes' moments stored: "the stored state" lost, the step right for them
    assert all(s == 1.0 for name, s in scores.items() if name != "adam"), scores


def test_a3_partial_engine_keeps_its_parts():
    # Forward mode missing and a broken topological sort: the VJP parts still earn their points.
    sources = [stub(s) if "class Dual" in s or "def topological_order" in s else s for s in answers("A3")]
    scores = grade("A3", sources)
    assert scores["forward_mode"] == 0.0 and scores["backward"] == 0.0
    assert scores["tensor_core"] == scores["elementwise"] == scores["matmul_sum"] == 1.0, scores


def test_a3_reference_program_evaluator_matches_numerical_gradients(rng):
    from deepgrad.gradcheck import numerical_gradient
    module = check_module("A3")
    inp = {k[len("random_"):]: v for k, v in module.backward_inputs(rng).items() if k.startswith("random_")}
    _, grads = module.evaluate_program(inp["leaves"], inp["program"], inp["consts"], inp["g"])
    leaves = inp["leaves"].copy()
    f = lambda v: float(np.sum(module.evaluate_program(v, inp["program"], inp["consts"], inp["g"])[0][-1] * inp["g"]))
    assert rel_error(grads, numerical_gradient(f, leaves)) < 1e-7


@pytest.mark.notebooks
@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_solution_notebook_executes(a, monkeypatch):
    from nbclient import NotebookClient
    monkeypatch.setenv("DEEPGRAD_FAST", "1")
    nb = solution_notebook(a)
    NotebookClient(nb, timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(solution_dir(a))}}).execute()
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "each assignment ends with a figure"


@pytest.mark.parametrize("a", ASSIGNMENTS)
def test_the_sandboxed_pipeline_agrees(a, tmp_path):
    """Through the real sandbox: the solution earns every point, the stub none."""
    import nbformat
    grading = pytest.importorskip("autograder.grading")
    from autograder import checks, notebook
    module = checks.load(a)
    source = notebook.source(a, module.NOTEBOOK)
    stubbed = solution_notebook(a)
    for cell in stubbed.cells:
        if cell.cell_type == "code" and meta(cell).get("solution"):
            cell.source = stub(cell.source)
    for student, nb in (("solution", solution_notebook(a)), ("stub", stubbed)):
        (tmp_path / student).mkdir()
        nbformat.write(nb, tmp_path / student / f"{a}.ipynb")
        result = grading.grade_student(a, module, student, tmp_path / student, base_seed=11, hide=[], source_nb=source)
        got = {p.name: p.score for p in result.parts}
        want = {p.name: (float(p.points) if student == "solution" else 0.0) for p in module.PARTS}
        assert got == want, (student, [(p.name, p.status, [str(l) for l in p.lines]) for p in result.parts])
