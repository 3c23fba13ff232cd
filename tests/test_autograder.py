"""The grading pipeline's pieces: answer-cell extraction, the sandbox's limits and channel, the checks'
comparisons, and `deepgrad grade` end to end (grades.csv, feedback, nbgrader's gradebook and export)."""
from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from autograder import checks, grading, notebook
from autograder.grading import release
from autograder.checks import Feedback, Outputs, Part
from autograder.cli import main
from autograder.grading.verify import consistency, release_drift
from autograder.sandbox import PHASES, Limits, isolation_available, run_part
from autograder.sandbox.runner import _parse

ROOT = Path(__file__).resolve().parent.parent
SIMPLE = Part("p", 1, inputs=lambda rng: {}, check=lambda *a: True, call="f", args=("x",),
              returns=("a", "b")).spec()


def run(cells, spec=SIMPLE, inputs=None, **kw):
    return run_part(cells, spec, inputs if inputs is not None else {"x": np.arange(4.0)}, **kw)


# ------------------------------------------------------------------------------ notebooks
def _cell(src, **nbg):
    cell = {"cell_type": "code", "source": src, "metadata": {}, "outputs": []}
    if nbg:
        cell["metadata"]["nbgrader"] = nbg
    return cell


def test_answer_cells_by_metadata_and_by_name_fallback():
    source = {"cells": [_cell("def f(x):\n    pass", solution=True), _cell("assert f(1)", grade=True)]}
    student = {"cells": [
        _cell("%matplotlib inline\nimport numpy as np", solution=True),
        _cell(["def f(x):\n", "    !ls\n", "    return x\n"]),            # metadata stripped by the student
        _cell("def helper(): pass"),                                       # no metadata, not an answer name
        _cell("def f(x): return 42", grade=True, solution=False),          # a test cell: never taken
        {"cell_type": "markdown", "source": "def f(x): nope", "metadata": {}},
        "not even a cell",
    ]}
    cells = notebook.answer_cells(student, source)
    assert cells == ["pass\nimport numpy as np", "def f(x):\n    pass\n    return x\n"]


def test_load_reports_malformed_and_non_notebooks(tmp_path):
    (tmp_path / "bad.ipynb").write_text('{"cells": [')
    with pytest.raises(notebook.NotebookProblem, match="not valid notebook JSON"):
        notebook.load(tmp_path / "bad.ipynb")
    (tmp_path / "list.ipynb").write_text("[1, 2]")
    with pytest.raises(notebook.NotebookProblem, match="not a notebook"):
        notebook.load(tmp_path / "list.ipynb")
    with pytest.raises(notebook.NotebookProblem, match="no notebook"):
        notebook.load(tmp_path / "absent.ipynb")


def test_find_layouts_zip_and_zip_slip(tmp_path):
    import zipfile
    nb = json.dumps({"cells": []})
    (tmp_path / "a" / "A1").mkdir(parents=True)
    (tmp_path / "a" / "A1" / "A1.ipynb").write_text(nb)
    assert notebook.find(tmp_path / "a", "A1", "A1.ipynb", tmp_path / "s1").name == "A1.ipynb"
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "my work.ipynb").write_text(nb)
    assert notebook.find(tmp_path / "b", "A1", "A1.ipynb", tmp_path / "s2").name == "my work.ipynb"
    with zipfile.ZipFile(tmp_path / "c.zip", "w") as zf:
        zf.writestr("../../escape.ipynb", nb)
        zf.writestr("deep/A1.ipynb", nb)
    found = notebook.find(tmp_path / "c.zip", "A1", "A1.ipynb", tmp_path / "s3")
    assert found == tmp_path / "s3" / "deep" / "A1.ipynb"
    assert not (tmp_path / "escape.ipynb").exists() and not (tmp_path.parent / "escape.ipynb").exists()
    (tmp_path / "d").mkdir()
    with pytest.raises(notebook.NotebookProblem, match="no notebook"):
        notebook.find(tmp_path / "d", "A1", "A1.ipynb", tmp_path / "s4")


# ------------------------------------------------------------------------------ sandbox
def test_sandbox_runs_cells_and_returns_plain_arrays():
    r = run(["def g(x):\n    return 2 * x\n", "def f(x):\n    print('noise')\n    return g(x), float(x.sum())\n"])
    assert r.status == "ok" and r.error is None
    assert np.array_equal(r.outputs["a"], [0.0, 2.0, 4.0, 6.0]) and r.outputs["b"] == 6.0
    assert r.defined == ["f", "g"]


def test_sandbox_environment_is_scrubbed_and_deepgrad_unimportable():
    spec = Part("p", 1, inputs=lambda rng: {}, check=lambda *a: True, driver=_env_driver).spec()
    r = run(["import os, sys\n"], spec=spec, inputs={"x": 1})
    assert r.status == "ok", r.error
    assert r.outputs["deepgrad_importable"] == 0 and r.outputs["autograder_importable"] == 0
    assert r.outputs["pythonpath_set"] == 0 and r.outputs["blas_threads_one"] == 1
    assert r.outputs["cwd_entries"] <= 2          # inputs.npz and site/, nothing else


def _env_driver(ns, inp, out):
    import importlib.util
    import os
    out["deepgrad_importable"] = importlib.util.find_spec("deepgrad") is not None
    out["autograder_importable"] = importlib.util.find_spec("autograder") is not None
    out["pythonpath_set"] = "PYTHONPATH" in os.environ
    out["blas_threads_one"] = os.environ.get("OPENBLAS_NUM_THREADS") == "1"
    out["cwd_entries"] = len(os.listdir("."))


def test_sandbox_wrong_arity_and_unconvertible_values():
    r = run(["def f(x):\n    return x\n"])
    assert r.status == "error" and "expected a tuple of 2" in r.error
    r = run(["def f(x):\n    return object(), 'text'\n"])
    assert r.status == "ok" and not r.outputs and {k for k, _ in r.conversion} == {"a", "b"}


def test_sandbox_timeout_and_no_child_processes():
    """No process can be started (the system-call filter), and a loop is stopped at the time limit."""
    r = run(["import subprocess, sys\n"
             "try:\n    subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n    started = 1.0\n"
             "except OSError:\n    started = 0.0\n"
             "def f(x):\n    if started:\n        return x, started\n    while True:\n        pass\n"],
            limits=Limits(timeout=1))
    assert r.status == "timeout" and "time limit" in r.detail


def test_cells_have_their_own_budget_and_a_stuck_cell_is_named():
    r = run(["while True:\n    pass\n", "def f(x):\n    return x, 1.0\n"], limits=Limits(timeout=2, cell_budget=1))
    assert r.status == "ok" and r.cell_timeouts == [1] and r.outputs["b"] == 1.0
    stubborn = "import signal\nsignal.signal(signal.SIGALRM, signal.SIG_IGN)\nwhile True:\n    pass\n"
    r = run(["def f(x):\n    return x, 1.0\n", stubborn], limits=Limits(timeout=2, cell_budget=1))
    assert r.status == "timeout" and r.stuck_cell == 2
    r = run(["def f(x):\n    return x, 1.0\n", stubborn], limits=Limits(timeout=2, cell_budget=1), skip=(2,))
    assert r.status == "ok"


def test_held_out_inputs_never_reach_the_sandbox():
    part = Part("p", 1, inputs=lambda rng: {"x": 1.0, "labels": np.arange(3)}, check=lambda inp, out, fb:
                fb.check("labels" in inp, "the check sees them", "the check does not see them"),
                driver=_keys_driver, needs=(), held_out=("labels",))
    result = grading.grade_part(part, ["pass"], "s", 1, [])
    assert result.score == 1 and result.run.outputs["n_inputs"] == 1 and result.run.outputs["has_labels"] == 0


def _keys_driver(ns, inp, out):
    out["n_inputs"] = len(inp)
    out["has_labels"] = "labels" in inp


def test_student_ids_round_trip_and_are_never_formulas():
    from urllib.parse import unquote
    names = ["alice", "a b", "a_b", "=SUM(1)", "+1", "-1", "@x", ".hidden", "%41", "é", "\tx"]
    ids = [notebook.student_id(n) for n in names]
    assert len(set(ids)) == len(ids) and [unquote(i) for i in ids] == names
    assert all(i[0] not in "=+-@.\t\r" and "/" not in i for i in ids)


def test_parse_normalises_forged_messages():
    import io
    import struct
    buf = io.BytesIO()
    np.savez(buf, a=np.arange(3))
    blob = buf.getvalue()
    for text in (b'[1, 2]', b'{"error": ' + b"9" * 5000 + b'}'):
        with pytest.raises(ValueError):
            _parse(b"DGRESULT1" + struct.pack("<QQ", len(blob), len(text)) + blob + text)
    text = json.dumps({"cell_errors": {"a": 1}, "missing": 5, "defined": "x", "error": ["no"],
                       "conversion": [[1, 2, 3]], "cell_timeouts": ["1", 2.5, 3], "timed_out": "yes"}).encode()
    arrays, messages = _parse(b"DGRESULT1" + struct.pack("<QQ", len(blob), len(text)) + blob + text)
    assert np.array_equal(arrays["a"], [0, 1, 2])
    assert messages == {"error": None, "cell_errors": [], "cell_timeouts": [3], "missing": [], "defined": [],
                        "conversion": [], "timed_out": False}


def test_sandbox_memory_limit():
    r = run(["def f(x):\n    return np.ones((40000, 40000)), 0\n"], limits=Limits(memory_mb=512))
    assert r.status == "memory"


def test_sandbox_without_namespaces_still_limits():
    r = run(["import os\ndef f(x):\n    return x, float(len(os.listdir('.')))\n"], isolate=False)
    assert r.status == "ok" and r.outputs["b"] <= 2


def test_parse_refuses_garbage_and_pickles():
    import io
    import struct
    with pytest.raises(ValueError):
        _parse(b"hello")
    buf = io.BytesIO()
    np.save(buf, np.array([object()], dtype=object), allow_pickle=True)
    import zipfile
    zbuf = io.BytesIO()
    with zipfile.ZipFile(zbuf, "w") as zf:
        zf.writestr("x.npy", buf.getvalue())
    blob, text = zbuf.getvalue(), b"{}"
    with pytest.raises(ValueError):
        _parse(b"DGRESULT1" + struct.pack("<QQ", len(blob), len(text)) + blob + text)


# ------------------------------------------------------------------------------ the fork server
ONE = Part("p", 1, inputs=lambda rng: {}, check=lambda *a: True, call="f", args=("x",), returns="r").spec()


@pytest.mark.parametrize("isolate", [True, False], ids=["namespaces", "rlimits only"])
def test_each_part_starts_clean_whatever_the_part_before_it_did(isolate):
    """Every part is a fresh fork of the server: what one student's code did to NumPy, to the interpreter or to
    its random state is gone in the next part, and NumPy's lazily loaded submodules still load (from the
    sandbox's own copy where the namespaces hide the real one)."""
    if isolate and not isolation_available():
        pytest.skip("Linux namespaces are not available here")
    tamper = ("import builtins, sys\nnp.leak = 'alice'\nnp.sum = lambda *a, **k: 42\nbuiltins.leak = 1\n"
              "sys.modules['numpy.linalg'].norm = None\n"
              "def f(x):\n    return np.random.randint(0, 2**62, 4)\n")
    first = run_part([tamper], ONE, {"x": 1}, isolate=isolate)
    look = ("import numpy.testing, numpy.lib.recfunctions, builtins\n"
            "def f(x):\n    numpy.testing.assert_allclose(np.linalg.norm([3.0, 4.0]), 5.0)\n"
            "    return [hasattr(np, 'leak'), hasattr(builtins, 'leak'), np.sum([1, 2]), *np.random.randint(0, 2**62, 4)]\n")
    second = run_part([look], ONE, {"x": 1}, isolate=isolate)
    assert first.status == "ok" and second.status == "ok", (first.error, second.error, second.cell_errors)
    assert list(second.outputs["r"][:3]) == [0, 0, 3]
    assert not np.array_equal(first.outputs["r"], second.outputs["r"][3:])   # each child draws fresh entropy


def test_a_part_that_kills_the_fork_server_costs_only_itself():
    """Without namespaces a student's process can see its parent, the fork server: the system-call filter
    refuses to signal it (the cell raises), and a server that dies all the same (killed here from outside,
    between parts) is replaced at the next part (tests/test_adversarial_modes.py has the rest)."""
    import signal

    from autograder.sandbox import ENV, forkserver
    killer = "import os, signal\nos.kill(os.getppid(), signal.SIGKILL)\ndef f(x):\n    return x\n"
    r = run_part([killer], ONE, {"x": 1.0}, isolate=False)
    assert r.status == "missing" and "PermissionError" in r.cell_errors[0][1]
    os.kill(forkserver.server(ENV).pid, signal.SIGKILL)
    after = run_part(["def f(x):\n    return 2 * x\n"], ONE, {"x": 1.0}, isolate=False)
    assert after.status == "ok" and after.outputs["r"] == 2.0


def test_a_part_cannot_start_more_threads_than_its_limit():
    """Threads count against the part's pids limit: the server's cgroup (root) or RLIMIT_NPROC (other users)."""
    from autograder.sandbox import forkserver
    from autograder.sandbox import ENV
    if os.geteuid() == 0 and forkserver.server(ENV).cgroup is None:
        pytest.skip("root without a writable pids cgroup: only the address-space limit bounds threads here")
    bomb = ("import threading\nhold, threads = threading.Event(), []\ntry:\n    for _ in range(200):\n"
            "        threads.append(threading.Thread(target=hold.wait))\n        threads[-1].start()\n"
            "except RuntimeError:\n    threads.pop()\nhold.set()\nfor t in threads:\n    t.join()\n"
            "def f(x):\n    return len(threads)\n")
    r = run_part([bomb], ONE, {"x": 1.0}, limits=Limits(pids=16))
    assert r.status == "ok", (r.error, r.cell_errors)
    assert 0 < r.outputs["r"] < 16
    after = run_part(["def f(x):\n    return 2 * x\n"], ONE, {"x": 1.0}, limits=Limits(pids=16))
    assert after.status == "ok" and after.outputs["r"] == 2.0   # the bomb's threads were gone before this part


def test_a_part_reports_where_its_time_went():
    run(["pass"])   # this thread's fork server started (its start is part of "prepare", not of the part's wall time)
    r = run(["def f(x):\n    import time\n    time.sleep(0.3)\n    return x, 1.0\n"])
    assert r.status == "ok" and list(r.phases) == list(PHASES)
    assert r.phases["call"] >= 0.3 and abs(sum(r.phases.values()) - r.wall_s) < 0.05


# ------------------------------------------------------------------------------ feedback helpers
def test_feedback_comparisons_and_diagnoses():
    W = np.random.default_rng(0).standard_normal((4, 3))
    fb = Feedback(Outputs({"dW": -W, "loss": np.array(1.0)}))
    assert fb.close("loss", 1.0) and not fb.gradient("dW", W, what="dW")
    text = " ".join(line.text for line in fb.lines)
    assert "opposite sign" in text and fb.failures == 1
    fb = Feedback(Outputs({}, status="error", error="ValueError: boom"))
    assert not fb.close("loss", 1.0) and "see the error above" in fb.lines[0].text
    fb = Feedback(Outputs({"y": np.array([1, 2, 3])}))
    assert not fb.equal("y", [1, 2, 4]) and "1 of 3" in fb.lines[0].text


def test_check_modules_match_their_notebooks():
    from autograder.grading.verify import graded_assignments
    for a in graded_assignments():
        assert consistency(a) == [], a


def test_part_needs_one_form():
    with pytest.raises(ValueError):
        Part("x", 1, inputs=lambda r: {}, check=lambda *a: True)


# ------------------------------------------------------------------------------ end to end
def test_cli_grade_end_to_end_with_gradebook_and_export(tmp_path, capsys):
    subs = tmp_path / "subs"
    for who, src in (("alice", "solutions"), ("bob", "assignments")):
        (subs / who).mkdir(parents=True)
        shutil.copy(ROOT / src / "A1" / "A1.ipynb", subs / who / "A1.ipynb")
    (subs / "carol").mkdir()
    (subs / "carol" / "A1.ipynb").write_text('{"cells": [')           # a broken notebook: a failed submission
    out = tmp_path / "out"
    # exit status 1: carol's submission failed; progress while grading, then a summary: how many graded,
    # how many failed (named), how long it took
    assert main(["grade", "A1", str(subs), "--output", str(out), "--jobs", "2", "--seed", "3"]) == 1
    err = capsys.readouterr().err
    assert "grading A1" in err and "3/3" in err
    summary = err.strip().splitlines()[-1]
    assert summary.startswith("graded 3 submissions of A1 in ") and "): 1 failed (carol)" in summary
    assert re.search(r" s; slowest (alice|bob|carol) \d+\.\d s \(median \d+\.\d s\)", summary), summary
    with open(out / "grades.csv") as f:
        rows = list(csv.reader(f))
    module = checks.load("A1")
    written = list(getattr(module, "MANUAL_PARTS", {}))      # graded by hand: blank until a grader scores them
    assert rows[0] == ["student_id", "assignment", "score", "max_score", *[p.name for p in module.PARTS], *written,
                       "late_penalty"]
    auto = f"{sum(p.points for p in module.PARTS):g}"
    total = f"{sum(p.points for p in module.PARTS) + sum(getattr(module, 'MANUAL_PARTS', {}).values()):g}"
    assert rows[1][:4] == ["alice", "A1", auto, total] and rows[2][:4] == ["bob", "A1", "0", total]
    assert rows[3][:4] == ["carol", "A1", "0", total] and rows[1][-len(written) - 1:-1] == [""] * len(written)
    assert (out / "feedback" / "alice" / "A1.html").is_file()
    assert "NotImplementedError" in (out / "feedback" / "bob" / "A1.html").read_text()
    assert "not valid notebook JSON" in (out / "feedback" / "carol" / "A1.html").read_text()

    from autograder._env import ensure_tools_on_path
    from nbgrader.api import Gradebook
    ensure_tools_on_path()
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        assert gb.find_submission("A1", "alice").score == float(auto)
        assert gb.find_submission("A1", "bob").score == 0
        assert gb.find_grade("svm_naive", "A1", "A1", "alice").score == 2

    # nbgrader's own export reads the same gradebook
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    subprocess.run([os.path.join(os.path.dirname(sys.executable), "nbgrader"), "export",
                    f"--CourseDirectory.db_url=sqlite:///{out / 'gradebook.db'}",
                    f"--CsvExportPlugin.to={tmp_path / 'export.csv'}"], cwd=tmp_path, env=env, check=True,
                   capture_output=True, timeout=120)
    exported = list(csv.DictReader(open(tmp_path / "export.csv")))
    assert {(r["student_id"], float(r["score"])) for r in exported} == {("alice", float(auto)), ("bob", 0.0),
                                                                        ("carol", 0.0)}


def test_a_new_gradebook_records_the_revision_alembic_itself_reports(tmp_path):
    """The grader creates the gradebook with the revision nbgrader's own `alembic heads` call gives (so that
    `nbgrader db upgrade` later starts from the right one), without running alembic."""
    from nbgrader.api import get_alembic_version
    from sqlalchemy import create_engine, text

    from autograder._env import ensure_tools_on_path
    from autograder.records.gradebook import alembic_head, create
    ensure_tools_on_path()
    assert alembic_head() == get_alembic_version()
    db = f"sqlite:///{tmp_path / 'gradebook.db'}"
    create(db)
    create(db)         # a second call (a regrade) finds it made
    engine = create_engine(db)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all() == [alembic_head()]
    engine.dispose()


# ------------------------------------------------------------------------------ released notebooks
@pytest.mark.parametrize("a", release.assignments())
def test_released_assignment_is_in_sync_with_its_source(a):
    """assignments/<A> is exactly what `deepgrad assign <A>` makes from solutions/<A> today."""
    assert release_drift(a) == [], f"assignments/{a} has drifted from solutions/{a}: run `deepgrad assign {a}`"


def test_release_drift_is_detected(monkeypatch):
    # A source edited after the release: the fresh copy differs from the committed one in one cell.
    real = release.generate

    def edited(assignment, release_dir=None):
        out = real(assignment, release_dir)
        path = out / f"{assignment}.ipynb"
        nb = json.loads(path.read_text())
        nb["cells"][-1]["source"] = "# changed in the source after the release"
        path.write_text(json.dumps(nb))
        return out

    monkeypatch.setattr(release, "generate", edited)
    assert release_drift("A4") == ["A4.ipynb"]


def test_isolation_is_reported():
    # Not an assertion about this machine's abilities, just that the probe answers and is cached.
    assert isolation_available() in (True, False)
    assert isolation_available() == isolation_available()


def test_rlimits_only_mode_says_what_it_cannot_promise_before_grading(tmp_path):
    """A mode that cannot hold the sandbox's promise about files says so before the first student is graded."""
    import io
    from autograder.sandbox import RLIMITS_ONLY_WARNING
    (tmp_path / "subs" / "stub").mkdir(parents=True)
    shutil.copy(ROOT / "assignments" / "A4" / "A4.ipynb", tmp_path / "subs" / "stub" / "A4.ipynb")
    for isolate in (False, None):
        stream = io.StringIO()
        grading.grade_all("A4", tmp_path / "subs", tmp_path / f"out{isolate}", progress=False, stream=stream,
                          isolate=isolate)
        lines = stream.getvalue().splitlines()
        if isolate is False:
            assert lines[0] == RLIMITS_ONLY_WARNING and lines[-1].endswith(
                f"sandbox: rlimits only; grades in {tmp_path / 'outFalse' / 'grades.csv'}"), lines
        elif isolation_available():
            assert RLIMITS_ONLY_WARNING not in lines and "sandbox: namespaces + rlimits" in lines[-1], lines
