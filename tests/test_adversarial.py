"""Submissions that try to fool, stall or outlast the grader, each graded exactly as it deserves (A1).

All submissions are graded once, together, by the real pipeline (`grade_all`, two jobs), with honest
students before and after the attackers; each test then reads one student's per-part scores and feedback.
Part time limits are cut to a few seconds here (the loss parts keep enough for problem L to tell a derived
gradient from a numerical one) so that the loops and the fork bomb cost seconds, not minutes. One case per
class of hole of issue 10: non-regular files (links in folders and zips, pipes, devices), held-out data,
numerical gradients in every form, the parent's parsing, setsid and late results, limits per part (fork,
memfd), cumulative zip caps and member counts, SysV IPC and the keyring, student-fault crashes, ids.
"""
from __future__ import annotations

import copy
import csv
import dataclasses
import json
import os
import shutil
import stat
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import unquote

import pytest
from test_grading_verdicts import COMPLEX_STEP_PRIVATE

from autograder import checks
from autograder import notebook as nbmod
from autograder.grading import DEEPGRAD_BLOCKED, grade_all
from autograder.sandbox.forkserver import PidsCgroup
from autograder.sandbox import isolation_available

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = json.loads((ROOT / "solutions" / "A1" / "A1.ipynb").read_text())
PARTS = ["svm_naive", "svm_vectorized", "softmax_naive", "softmax_vectorized", "sgd", "predict", "digits",
         "sanity", "grid_search", "features"]
FULL = {"svm_naive": 2, "svm_vectorized": 2, "softmax_naive": 2, "softmax_vectorized": 2, "sgd": 2,
        "predict": 1, "digits": 2, "sanity": 2, "grid_search": 3, "features": 3}


def answer_source(grade_id: str) -> str:
    for cell in SOLUTION["cells"]:
        if cell["metadata"].get("nbgrader", {}).get("grade_id") == grade_id:
            return "".join(cell["source"])
    raise KeyError(grade_id)


def with_answers(**replacements) -> dict:
    """The solution notebook with some answer cells' code replaced (keys: answer grade_ids)."""
    nb = copy.deepcopy(SOLUTION)
    for cell in nb["cells"]:
        gid = cell["metadata"].get("nbgrader", {}).get("grade_id")
        if gid in replacements:
            cell["source"] = replacements[gid]
    return nb


def prepend(grade_id: str, code: str) -> dict:
    return with_answers(**{grade_id: code + "\n" + answer_source(grade_id)})


def wrong(grade_id, fn, body):
    """Replace one function by a version whose body is `body` (same signature)."""
    sig = {"ans_svm_naive": "svm_loss_naive(W, X, y, reg)", "ans_svm_vectorized": "svm_loss_vectorized(W, X, y, reg)",
           "ans_softmax_naive": "softmax_loss_naive(W, X, y, reg)",
           "ans_softmax_vectorized": "softmax_loss_vectorized(W, X, y, reg)", "ans_predict": "predict(W, X)"}[grade_id]
    return f"def {sig}:\n" + "\n".join("    " + line for line in body.strip("\n").splitlines()) + "\n"


NUMERICAL_SOFTMAX = wrong("ans_softmax_vectorized", "softmax_loss_vectorized", '''
def data_loss(W_):
    S = X @ W_
    S = S - S.max(axis=1, keepdims=True)
    return -(S[np.arange(len(y)), y] - np.log(np.exp(S).sum(axis=1))).mean() + reg * np.sum(W_ * W_)
dW = np.zeros_like(W)
for idx in np.ndindex(W.shape):
    old = W[idx]
    W[idx] = old + 1e-5; up = data_loss(W)
    W[idx] = old - 1e-5; down = data_loss(W)
    W[idx] = old
    dW[idx] = (up - down) / 2e-5
return data_loss(W), dW
''')

NUMERICAL_VIA_NAIVE = wrong("ans_svm_vectorized", "svm_loss_vectorized", '''
loss = svm_loss_naive(W, X, y, reg)[0]
dW = np.zeros_like(W)
for idx in np.ndindex(W.shape):
    old = W[idx]
    W[idx] = old + 1e-3; up = svm_loss_naive(W, X, y, reg)[0]
    W[idx] = old - 1e-3; down = svm_loss_naive(W, X, y, reg)[0]
    W[idx] = old
    dW[idx] = (up - down) / 2e-3
return loss, dW
''')

SECRETS = [str(ROOT / "autograder" / "checks" / "A1.py"), str(ROOT / "lib" / "deepgrad" / "linear.py")]

SUBMISSIONS = {
    "solution": SOLUTION,
    "monkeypatch_numpy": with_answers(
        ans_svm_naive="import numpy\nnumpy.allclose = lambda *a, **k: True\nnp.isclose = lambda *a, **k: True\n"
                      "np.testing.assert_allclose = lambda *a, **k: None\nnp.array_equal = lambda *a, **k: True\n"
                      + wrong("ans_svm_naive", "", "return 0.0, np.zeros_like(W)"),
        ans_softmax_naive=wrong("ans_softmax_naive", "", "return 0.0, np.zeros_like(W)")),
    "monkeypatch_checker": prepend("ans_svm_naive", "import sys\ntry:\n    import autograder.checks as c\n"
                                   "    c.Feedback.close = lambda *a, **k: True\nexcept ImportError:\n    pass\n"
                                   "sys.modules['autograder'] = None\n"),
    "rigged_objects": with_answers(ans_svm_naive='''
class Anything:
    def __init__(self, *args): pass
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array_ufunc__(self, *args, **kwargs): return True
    def __array__(self, *args, **kwargs): return np.array(object(), dtype=object)
def svm_loss_naive(W, X, y, reg):
    return Anything(0.0), Anything(0.0)
''', ans_predict='''
class Liar(list):
    def __eq__(self, other): return True
    __array_priority__ = 1000
    def __array_ufunc__(self, *args, **kwargs): return True
def predict(W, X):
    return Liar()
'''),
    "fake_output": with_answers(ans_svm_naive='''
import sys
print("svm_naive: 2 / 2 points, all tests passed")
sys.displayhook = lambda value: print("All tests passed!")
def svm_loss_naive(W, X, y, reg):
    print("loss correct, gradient correct")
    raise NotImplementedError()
"2 / 2 points"
'''),
    "reads_secrets": prepend("ans_svm_naive", f'''
import os
_found = []
for _p in {SECRETS!r} + [os.path.expanduser("~"), "/proc/1/environ"]:
    try:
        with open(_p) as _f:
            _found.append(_p if _f.read(10) else None)
    except OSError:
        pass
_seen = 0
for _top in ("/tmp", "/work", "/home", "/srv", "/var/tmp", "/root"):
    for _d, _dirs, _files in os.walk(_top):
        _dirs[:] = [d for d in _dirs if d not in (".pyenv", ".cache", "site-packages")]
        # this grading run's secrets: its repository's checks, its gradebook and grades (other copies of
        # the course elsewhere on the machine are out of the sandbox's scope; see autograder/README.md)
        _found += [os.path.join(_d, f) for f in _files if f in ("gradebook.db", "A1.py", "grades.csv")
                   and (os.path.join(_d, f).startswith({str(ROOT) + "/"!r}) or "adversarial" in _d)]
        _seen += 1
        if _seen > 3000:
            break
if any(_found):
    raise RuntimeError("found " + repr(_found[:5]))
'''),
    "infinite_loop": with_answers(ans_svm_naive=wrong("ans_svm_naive", "", "while True:\n    pass")),
    "memory_bomb": with_answers(ans_softmax_naive=wrong("ans_softmax_naive", "", '''
hog = []
while True:
    hog.append(bytearray(50 * 2**20))
''')),
    "fork_bomb": with_answers(ans_predict=wrong("ans_predict", "", '''
import os
while True:
    try:
        os.fork()
    except OSError:
        pass
''')),
    "huge_file": with_answers(ans_softmax_vectorized=wrong("ans_softmax_vectorized", "", '''
with open("huge.bin", "wb") as f:
    while True:
        f.write(b"x" * 2**20)
''')),
    "writes_outside": prepend("ans_svm_naive", f'''
for _p in [{str(ROOT / "autograder" / "checks" / "A1.py")!r}, "/root/deepgrad-pwned.txt", "/etc/deepgrad-pwned"]:
    try:
        with open(_p, "a") as _f:
            _f.write("# pwned")
        raise RuntimeError("could write " + _p)
    except OSError:
        pass
with open("/tmp/deepgrad-pwned.txt", "w") as _f:   # lands in the sandbox's private /tmp, gone afterwards
    _f.write("# pwned")
'''),
    "deleted_tests": None,          # built below
    "duplicated_ids": None,
    "renamed_function": with_answers(ans_svm_naive=answer_source("ans_svm_naive").replace(
        "def svm_loss_naive(", "def svm_naive_loss(")),
    "numerical_gradient": with_answers(ans_softmax_vectorized=NUMERICAL_SOFTMAX),
    "numerical_via_naive": with_answers(ans_svm_vectorized=NUMERICAL_VIA_NAIVE),
    "calls_reference": with_answers(ans_svm_naive=f'''
import sys
sys.path.append({str(ROOT / "lib")!r})
def svm_loss_naive(W, X, y, reg):
    from deepgrad.linear import svm_loss_naive as ref
    return ref(W, X, y, reg)
''', ans_svm_vectorized='''
def svm_loss_vectorized(W, X, y, reg):
    import deepgrad
    return deepgrad.linear.svm_loss_vectorized(W, X, y, reg)
'''),
    "partly_right": with_answers(
        ans_softmax_naive=answer_source("ans_softmax_naive").replace("dW[:, j] += (p - (j == y[i])) * X[i]",
                                                                     "dW[:, j] -= (p - (j == y[i])) * X[i]"),
        ans_softmax_vectorized=answer_source("ans_softmax_vectorized").replace(
            "dW = X.T @ G / N + 2 * reg * W", "dW = X.T @ G / N"),
        ans_predict=wrong("ans_predict", "", "return np.argmin(X @ W, axis=1)")),
    "top_level_crash": prepend("ans_svm_naive", "raise SystemExit(0)\n"),
    "exits_process": with_answers(ans_predict=wrong("ans_predict", "", "import os\nos._exit(0)")),
    # --- issue 10
    "stray_loop_cell": with_answers(ans_predict=answer_source("ans_predict") + "\nwhile True:\n    pass\n"),
    "exits_in_cell": with_answers(ans_predict=answer_source("ans_predict") + "\nimport os\nos._exit(0)\n"),
    "reads_validation_labels": with_answers(
        ans_sgd=answer_source("ans_sgd").replace("def train_linear(", "def _honest_train(") + '''
import sys as _sys
def train_linear(X, y, loss_fn, **kw):
    f = _sys._getframe(1)
    while f is not None:                      # the caller's frames: the driver's inputs
        for v in list(f.f_locals.values()):
            if isinstance(v, dict) and "y_val" in v:
                W = np.linalg.lstsq(v["X_val"], np.eye(10)[v["y_val"]], rcond=None)[0]
                return W, [0.0]
        f = f.f_back
    return _honest_train(X, y, loss_fn, **kw)
''', ans_digits="HYPERPARAMS = dict(learning_rate=0.5, reg=1e-3, num_iters=0, batch_size=100)\n"),
    "complex_step_private": with_answers(ans_softmax_vectorized=COMPLEX_STEP_PRIVATE),
    "newline_flood": with_answers(**{gid: "\n" * 200_000 + "%time\n" + "\n" * 200_000 + answer_source(gid)
                                     for gid in ("ans_svm_naive", "ans_predict")}),
    "setsid_sleeper": with_answers(ans_predict='''
import os, time
def predict(W, X):
    try:
        if os.fork() == 0:                      # a daemon in a session of its own, to outlive the part
            os.setsid()
            time.sleep(60)
            os._exit(0)
    except OSError:
        pass
    os.setsid()
    time.sleep(60)
    return np.argmax(X @ W, axis=1)
'''),
    "late_result": with_answers(ans_predict='''
import time
def predict(W, X):
    try:
        time.sleep(600)
    except BaseException:                       # swallow the grader's alarm, answer past the deadline
        time.sleep(4)
    return np.argmax(X @ W, axis=1)
'''),
    "fork_for_memory": with_answers(ans_svm_naive='''
import os
def svm_loss_naive(W, X, y, reg):
    for _ in range(4):                          # each child would get a memory limit of its own
        if os.fork() == 0:
            hog = bytearray(900 * 2**20)
            os._exit(0)
    return 0.0, np.zeros_like(W)
'''),
    "memfd_memory": with_answers(ans_softmax_naive='''
import os
def softmax_loss_naive(W, X, y, reg):
    fd = os.memfd_create("hog")                 # pages no address-space limit counts
    os.ftruncate(fd, 4 * 2**30)
    return 0.0, np.zeros_like(W)
'''),
    "ipc_and_keyring": prepend("ans_predict", '''
import ctypes
_libc = ctypes.CDLL(None, use_errno=True)
_libc.shmget(0x0DEE9AAD, 4096, 0o1666)          # IPC_CREAT: SysV shared memory that outlives the batch
_libc.msgget(0x0DEE9AAD, 0o1666)
_libc.syscall(248, b"user", b"deepgrad-pwned", b"x", 1, -4)   # add_key to the user keyring
'''),
    "forged_messages": with_answers(ans_predict='''
import io, json, os, struct, sys
def predict(W, X):
    f = sys._getframe()
    while f is not None and "_results" not in f.f_globals:
        f = f.f_back
    buf = io.BytesIO()
    np.savez(buf, labels=np.argmax(X @ W, axis=0))
    text = json.dumps({"cell_errors": {"a": 1}, "missing": 5, "defined": "x", "error": ["no"],
                       "conversion": [[1, 2, 3]], "cell_timeouts": ["1"], "timed_out": "no"}).encode()
    blob = buf.getvalue()
    os.write(f.f_globals["_results"], b"DGRESULT1" + struct.pack("<QQ", len(blob), len(text)) + blob + text)
    os._exit(0)
'''),
    "nan_call_counter": with_answers(ans_svm_naive=answer_source("ans_svm_naive").replace(
        "    dW = np.zeros(W.shape)\n", '''    import sys
    f = sys._getframe()
    while f is not None:
        counts = f.f_locals.get("counts")
        if isinstance(counts, dict):
            counts["svm_loss_naive"] = float("nan")
        f = f.f_back
    dW = np.zeros(W.shape)
''', 1)),
}

ISOLATED = isolation_available()
if not ISOLATED:   # without namespaces these two would really read and write the course files
    for _name in ("reads_secrets", "writes_outside"):
        del SUBMISSIONS[_name]

_nb = copy.deepcopy(SOLUTION)
_nb["cells"] = [c for c in _nb["cells"] if not c["metadata"].get("nbgrader", {}).get("grade")]
for c in _nb["cells"]:
    if c["metadata"].get("nbgrader", {}).get("solution"):
        c["source"] = "".join(c["source"]) + "\nassert True  # edited\n"
SUBMISSIONS["deleted_tests"] = _nb
_nb = copy.deepcopy(SOLUTION)
for c in _nb["cells"]:
    c["id"] = "same-id"
SUBMISSIONS["duplicated_ids"] = _nb

EXPECTED = {  # part -> points, for the parts that are not full marks
    "solution": {},
    "monkeypatch_numpy": {"svm_naive": 0, "softmax_naive": 0},
    "monkeypatch_checker": {},
    "rigged_objects": {"svm_naive": 0, "predict": 0},
    "fake_output": {"svm_naive": 0},
    "reads_secrets": {},
    "infinite_loop": {"svm_naive": 0},
    "memory_bomb": {"softmax_naive": 0},
    "fork_bomb": {"predict": 0},
    "huge_file": {"softmax_vectorized": 0, "digits": 0},   # digits trains with the student's own loss
    "writes_outside": {},
    "deleted_tests": {},
    "duplicated_ids": {},
    "renamed_function": {"svm_naive": 0},
    "numerical_gradient": {"softmax_vectorized": 0.5, "digits": 0},   # the data loss only; too slow to train
    "numerical_via_naive": {"svm_vectorized": 0.5},                   # the data loss only
    "calls_reference": {"svm_naive": 0, "svm_vectorized": 0},
    "partly_right": {"softmax_naive": 1.5, "softmax_vectorized": 1.5, "predict": 0},   # each loses one share
    "top_level_crash": {"svm_naive": 0},   # the cell stops before defining svm_loss_naive, as in Jupyter
    "exits_process": {"predict": 0},
    "malformed_json": {p: 0 for p in PARTS},
    "missing_notebook": {p: 0 for p in PARTS},
    "nbgrader_layout": {},
    "zipped": {},
    # --- issue 10
    "0_honest_first": {},
    "zz_honest_last": {},
    "stray_loop_cell": {},                    # interrupted after defining predict, as in Jupyter; rerun shortly
    "exits_in_cell": {"predict": 0},          # that cell is skipped from then on: predict is not defined
    "reads_validation_labels": {"digits": 0},
    "complex_step_private": {"softmax_vectorized": 0.5, "digits": 0},   # the data loss only: no dW share
    "newline_flood": {},
    "setsid_sleeper": {"predict": 0},
    "late_result": {"predict": 0},
    "fork_for_memory": {"svm_naive": 0},
    "memfd_memory": {"softmax_naive": 0},
    "ipc_and_keyring": {},
    "forged_messages": {"predict": 0},
    "nan_call_counter": {},
    "big_integer_json": {},
    "link_to_solution": {p: 0 for p in PARTS},
    "link_in_zip": {p: 0 for p in PARTS},
    "fifo_beside_notebook": {},
    "fifo_only": {p: 0 for p in PARTS},
    "file_and_folder_in_zip": {},
    "zips_over_cap": {p: 0 for p in PARTS},
    "zip_many_members": {p: 0 for p in PARTS},
    "%3DHYPERLINK%28%22x%22%29": {},     # =HYPERLINK("x"): an id, never a formula
    "%2D2%2B3": {},                                  # "-2+3"
    "a%20b": {},                                     # "a b" and "a_b" stay two students
    "a_b": {},
}
if os.geteuid() == 0:
    EXPECTED["device_notebook"] = {p: 0 for p in PARTS}
if not ISOLATED:
    del EXPECTED["reads_secrets"], EXPECTED["writes_outside"]


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("adversarial")
    subs = base / "submissions"
    for name, nb in SUBMISSIONS.items():
        (subs / name).mkdir(parents=True)
        (subs / name / "A1.ipynb").write_text(json.dumps(nb))
    (subs / "malformed_json").mkdir()
    (subs / "malformed_json" / "A1.ipynb").write_text(json.dumps(SOLUTION)[:-200])
    (subs / "missing_notebook").mkdir()
    (subs / "missing_notebook" / "notes.txt").write_text("I forgot to upload it")
    (subs / "nbgrader_layout" / "A1").mkdir(parents=True)
    (subs / "nbgrader_layout" / "A1" / "A1.ipynb").write_text(json.dumps(SOLUTION))
    with zipfile.ZipFile(subs / "zipped.zip", "w") as zf:
        zf.writestr("A1/A1.ipynb", json.dumps(SOLUTION))
    _special_submissions(subs)
    module = checks.load("A1")
    saved = list(module.PARTS), (nbmod.MAX_UNZIPPED_BYTES, nbmod.MAX_MEMBERS)
    module.PARTS[:] = [dataclasses.replace(p, timeout=min(p.timeout, 6.0 if p.name in LOSS_PARTS else 4.0))
                       for p in saved[0]]
    nbmod.MAX_UNZIPPED_BYTES, nbmod.MAX_MEMBERS = 3 * len(json.dumps(SOLUTION)), 50   # caps a test can reach
    try:
        start = time.monotonic()
        results = grade_all("A1", subs, base / "out", jobs=2, seed=7, progress=False)
        elapsed = time.monotonic() - start
    finally:
        module.PARTS[:] = saved[0]
        nbmod.MAX_UNZIPPED_BYTES, nbmod.MAX_MEMBERS = saved[1]
    return {r.student: r for r in results}, base / "out", elapsed


LOSS_PARTS = ("svm_naive", "svm_vectorized", "softmax_naive", "softmax_vectorized")


def _zip(path, members):
    with zipfile.ZipFile(path, "w") as zf:
        for name, data, mode in members:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, data)


def _special_submissions(subs):
    """Submissions that are not plain notebooks: links, pipes, devices, odd zips, odd names."""
    text = json.dumps(SOLUTION)
    for name in ("0_honest_first", "zz_honest_last", "a b", "a_b", "-2+3", '=HYPERLINK("x")'):
        (subs / name).mkdir()
        (subs / name / "A1.ipynb").write_text(text)
    (subs / "big_integer_json").mkdir()     # a 5,000-digit integer in the metadata: still a notebook
    (subs / "big_integer_json" / "A1.ipynb").write_text(text[:-1] + ', "x": ' + "9" * 5000 + "}")
    (subs / "link_to_solution").mkdir()
    (subs / "link_to_solution" / "A1.ipynb").symlink_to(ROOT / "solutions" / "A1" / "A1.ipynb")
    _zip(subs / "link_in_zip.zip", [("A1.ipynb", str(ROOT / "solutions" / "A1" / "A1.ipynb"), stat.S_IFLNK | 0o777)])
    (subs / "fifo_beside_notebook" / "A1").mkdir(parents=True)
    os.mkfifo(subs / "fifo_beside_notebook" / "A1.ipynb")      # reading it would block the batch forever
    (subs / "fifo_beside_notebook" / "A1" / "A1.ipynb").write_text(text)
    (subs / "fifo_only").mkdir()
    os.mkfifo(subs / "fifo_only" / "A1.ipynb")
    if os.geteuid() == 0:
        (subs / "device_notebook").mkdir()
        os.mknod(subs / "device_notebook" / "A1.ipynb", stat.S_IFCHR | 0o644, os.makedev(1, 5))   # /dev/zero
    regular = stat.S_IFREG | 0o644
    _zip(subs / "file_and_folder_in_zip.zip", [("a", "x", regular), ("a/b.ipynb", "{}", regular),
                                               ("A1/A1.ipynb", text, regular)])
    (subs / "zips_over_cap").mkdir()      # each zip is under the cap; together they are over it
    for i in range(4):
        _zip(subs / "zips_over_cap" / f"part{i}.zip", [(f"A1_{i}.ipynb" if i else "A1.ipynb", text, regular)])
    _zip(subs / "zip_many_members.zip", [("A1/A1.ipynb", text, regular)] +
         [(f"junk/{i}.txt", "", regular) for i in range(60)])


def _scores(result):
    return {p.name: p.score for p in result.parts}


def _feedback(result, part):
    return " ".join(line.text for p in result.parts if p.name == part for line in p.lines)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_graded_exactly_as_deserved(graded, student):
    results, _, _ = graded
    expected = {**FULL, **EXPECTED[student]}
    assert _scores(results[student]) == expected, {p.name: (p.status, [l.text for l in p.lines][:4])
                                                   for p in results[student].parts}


def test_everyone_is_graded_and_grades_csv_matches(graded):
    results, out, _ = graded
    assert set(results) == set(EXPECTED)
    with open(out / "grades.csv") as f:
        rows = {r["student_id"]: r for r in csv.DictReader(f)}
    assert set(rows) == set(EXPECTED)
    for sid, r in results.items():
        assert float(rows[sid]["score"]) == r.score
        for p in r.parts:
            assert float(rows[sid][p.name]) == p.score


def test_feedback_says_what_happened(graded):
    results, out, _ = graded
    assert results["infinite_loop"].parts[0].status == "timeout"
    assert "time limit" in _feedback(results["infinite_loop"], "svm_naive")
    assert results["memory_bomb"].parts[2].status == "memory"
    assert "memory" in _feedback(results["memory_bomb"], "softmax_naive")
    assert "File too large" in _feedback(results["huge_file"], "softmax_vectorized")
    assert "defines no `svm_loss_naive`" in _feedback(results["renamed_function"], "svm_naive")
    assert "svm_naive_loss" in _feedback(results["renamed_function"], "svm_naive")
    assert DEEPGRAD_BLOCKED in _feedback(results["calls_reference"], "svm_naive")
    assert "numerical gradient" in _feedback(results["numerical_gradient"], "softmax_vectorized")
    assert "numerical gradient" in _feedback(results["numerical_via_naive"], "svm_vectorized")
    assert "not valid notebook JSON" in _feedback(results["malformed_json"], "svm_naive")
    assert "no notebook" in _feedback(results["missing_notebook"], "predict").lower()
    assert "not plain numbers" in _feedback(results["rigged_objects"], "svm_naive")
    partly = _feedback(results["partly_right"], "softmax_naive")
    assert "opposite sign" in partly
    assert "regularis" in _feedback(results["partly_right"], "softmax_vectorized")
    html = (out / "feedback" / "rigged_objects" / "A1.html").read_text()
    assert "<script" not in html


def test_no_attack_is_blamed_on_the_grader(graded):
    """Every failure above is the student's: none is reported as the grader's own."""
    results, _, _ = graded
    blamed = {(r.student, p.name) for r in results.values() for p in r.parts if p.status == "grader_error"}
    assert not blamed


def test_attacks_get_the_right_words(graded):
    results, _, _ = graded
    assert "numerical gradient" in _feedback(results["complex_step_private"], "softmax_vectorized")
    assert "Answer cell 6 ran past its budget" in _feedback(results["stray_loop_cell"], "svm_naive")
    assert results["stray_loop_cell"].parts[PARTS.index("predict")].score == 1
    assert "Answer cell 6 did not run" in _feedback(results["exits_in_cell"], "predict")
    assert results["late_result"].parts[PARTS.index("predict")].status == "timeout"
    assert "not valid" not in _feedback(results["big_integer_json"], "svm_naive")
    for name in ("link_to_solution", "fifo_only", "link_in_zip"):
        assert "no notebook" in _feedback(results[name], "svm_naive").lower(), name
    assert "in all" in _feedback(results["zips_over_cap"], "svm_naive")
    assert "members" in _feedback(results["zip_many_members"], "svm_naive")
    assert "not whole numbers" in _feedback(results["nan_call_counter"], "svm_naive")


def test_a_looping_student_costs_seconds_not_minutes(graded):
    """The stray loop costs one cell budget once; the setsid sleeper and the late answer one part's limit."""
    from autograder.sandbox import CELL_BUDGET_S
    results, _, elapsed = graded
    # Twice an honest student's time: a loaded machine slows the looping student's own parts as much as the
    # honest ones'; before the budgets, the stray loop cost minutes (every part ran into its limit).
    honest = max(results["0_honest_first"].wall_s, results["zz_honest_last"].wall_s)
    assert results["stray_loop_cell"].wall_s < 2 * honest + 3 * CELL_BUDGET_S
    for name in ("setsid_sleeper", "late_result"):
        assert results[name].wall_s < 2 * honest + 15, name


def test_ids_round_trip_and_are_never_formulas(graded):
    results, out, _ = graded
    names = {p.name for p in (out.parent / "submissions").iterdir()}
    for sid in results:
        assert unquote(sid) in names or unquote(sid) + ".zip" in names, sid
    assert results.keys() >= {"a%20b", "a_b"}
    with open(out / "grades.csv") as f:
        for row in csv.reader(f):
            assert all(cell[:1] not in ("=", "+", "-", "@", "\t", "\r") for cell in row), row
            assert (out / "feedback" / row[0]).is_dir() or row[0] == "student_id"


def test_feedback_html_escapes_student_text(tmp_path):
    nb = with_answers(ans_predict=wrong("ans_predict", "", 'raise ValueError("<script>alert(1)</script>")'))
    (tmp_path / "s" / "x").mkdir(parents=True)
    (tmp_path / "s" / "x" / "A1.ipynb").write_text(json.dumps(nb))
    grade_all("A1", tmp_path / "s", tmp_path / "out", jobs=1, seed=1, progress=False)
    html = (tmp_path / "out" / "feedback" / "x" / "A1.html").read_text()
    assert "<script>" not in html and "&lt;script&gt;" in html


KILLER = '''
import os, signal
if os.fork() == 0:                      # a daemon that hopes to outlive the run
    os.setsid()
    if os.fork() == 0:
        os.execv("/bin/sleep", ["sleep", "37.123"])
    os._exit(0)
os.kill(os.getppid(), signal.SIGKILL)   # and an attempt on the grader (the parent is out of sight)
'''


@pytest.mark.skipif(not isolation_available(), reason="no namespaces (neither root nor unprivileged user "
                    "namespaces): a student process can signal any process of the grading user; grade under a "
                    "separate user (autograder/README.md)")
def test_no_signal_reaches_the_grader_and_no_daemon_survives(tmp_path):
    (tmp_path / "s" / "killer").mkdir(parents=True)
    (tmp_path / "s" / "killer" / "A1.ipynb").write_text(json.dumps(prepend("ans_svm_naive", KILLER)))
    (tmp_path / "s" / "honest").mkdir()
    (tmp_path / "s" / "honest" / "A1.ipynb").write_text(json.dumps(SOLUTION))
    results = {r.student: r for r in grade_all("A1", tmp_path / "s", tmp_path / "out", jobs=2, seed=3,
                                               progress=False)}
    assert _scores(results["honest"]) == FULL
    killer = results["killer"]
    assert [p.name for p in killer.parts] == PARTS     # graded to the end, and the grader is still here
    for p in killer.parts:                             # the kill misses: whatever ran, ran as it deserved
        assert p.score == (FULL[p.name] if p.status == "ok" else 0), (p.name, p.status)
    daemons = [pid for pid in filter(str.isdigit, os.listdir("/proc"))
               if _cmdline(pid) == b"sleep\x0037.123\x00"]
    assert not daemons, "a process started by student code outlived its run"


def _cmdline(pid: str) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _descends_from_us(pid: int) -> bool:
    """Whether ``pid`` is a descendant of this test process (other test workers grade at the same time)."""
    while pid > 1:
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            return False
        if pid == os.getpid():
            return True
    return False


def test_results_keep_no_returned_arrays(graded):
    """Once a part is checked, the arrays it returned are let go: a class of A3 submissions (tens of MB each
    with the large problems) would otherwise be held in memory until the batch ends."""
    results, _, _ = graded
    runs = [p.run for r in results.values() for p in r.parts if p.run is not None]
    assert runs and all(run.outputs == {} for run in runs)


def test_nothing_left_behind(graded):
    """After the fork bomb and the rest: no sandbox processes, cgroups, stray files, IPC objects or keys remain."""
    _, out, _ = graded
    for table in ("/proc/sysvipc/shm", "/proc/sysvipc/msg"):
        if os.path.exists(table):
            assert "233740973" not in Path(table).read_text()       # the attacker's key 0x0DEE9AAD
    if os.path.exists("/proc/keys"):
        assert "deepgrad-pwned" not in Path("/proc/keys").read_text()
    for p in ("/tmp/deepgrad-pwned.txt", "/root/deepgrad-pwned.txt", "/etc/deepgrad-pwned"):
        assert not Path(p).exists()
    assert "# pwned" not in (ROOT / "autograder" / "checks" / "A1.py").read_text()
    # What may remain: fork servers of this process's threads that are still alive (this one's, which other
    # tests here used), each alone in its cgroup; nothing a part started.
    servers = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if b"The fork server" in cmd and _descends_from_us(int(pid)):     # servers and the children they fork
            assert ppid == os.getpid(), f"process {pid}, forked by a fork server, outlived its part"
            servers.append(int(pid))
    for root in PidsCgroup.ROOTS:
        if os.path.isdir(root):
            for d in os.listdir(root):
                if d.startswith(f"deepgrad-{os.getpid()}-"):
                    assert [p for p in PidsCgroup(os.path.join(root, d)).pids() if p not in servers] == []


@pytest.mark.skipif(not isolation_available(), reason="no namespaces (neither root nor unprivileged user "
                    "namespaces): the sandbox can only use rlimits, so a student process could read files this "
                    "user can read")
def test_secrets_out_of_reach_under_isolation(graded):
    results, _, _ = graded
    assert _scores(results["reads_secrets"]) == FULL
    assert _scores(results["writes_outside"]) == FULL


NOBODY_SCRIPT = r'''
import json, os, sys, time
from autograder import sandbox
secret = sys.argv[1]
code = f"""
import os, signal
def probe():
    try:
        with open({secret!r}) as f:
            seen = f.read()
    except OSError:
        seen = ""
    try:
        os.kill(os.getppid(), signal.SIGKILL)   # out of sight in the namespace, and refused by the filter
    except PermissionError:
        pass
    return len(seen)
"""
spec = {"call": "probe", "args": [], "kwargs": {}, "returns": "n", "needs": ["probe"], "count_calls": False,
        "driver_src": None, "helpers_src": []}
r = sandbox.run_part([code], spec, {}, hide=[os.path.dirname(secret)])
# setsid() and sleep, swallowing the alarm to answer late: stopped at the limit, the answer not counted
late = """
import os, time
def probe():
    os.setsid()
    try:
        time.sleep(30)
    except BaseException:
        time.sleep(5)
    return 1
"""
t0 = time.monotonic()
r2 = sandbox.run_part([late], spec, {}, sandbox.Limits(timeout=2))
print(json.dumps({"isolated": sandbox.isolation_available(), "status": r.status,
                  "n": int(r.outputs["n"]) if "n" in r.outputs else None,
                  "late_status": r2.status, "late_n": "n" in r2.outputs, "late_s": time.monotonic() - t0}))
'''


def _system_python():
    """The distribution's Python of our version, which an unprivileged user can run (a pyenv one may sit in
    a home directory no one else can enter)."""
    path = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    return path if os.access(path, os.X_OK) else None


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser") or not _system_python(),
                    reason="needs root (to become the user 'nobody'), runuser and a system Python of this version")
def test_an_unprivileged_grader_isolates_with_user_namespaces():
    """Graders are usually not root: user namespaces give them the same isolation (when the kernel allows)."""
    import tempfile

    import numpy
    site = os.path.dirname(os.path.dirname(numpy.__file__))
    # outside the temporary directory (which the sandbox covers anyway), so that hiding is what is tested;
    # not in pytest's tmp_path, which is closed to other users
    (ROOT / "test-artifacts").mkdir(exist_ok=True)
    tmp_path = Path(tempfile.mkdtemp(prefix="nobody-", dir=ROOT / "test-artifacts"))
    try:
        _grade_as_nobody(site, tmp_path)
    finally:
        shutil.rmtree(tmp_path, ignore_errors=True)


def _grade_as_nobody(site, tmp_path):
    secret_dir = tmp_path / "secrets"
    secret_dir.mkdir()
    (secret_dir / "answers.txt").write_text("the hidden checks")
    os.chmod(tmp_path, 0o755)
    os.chmod(secret_dir, 0o755)
    os.chmod(secret_dir / "answers.txt", 0o644)   # readable by nobody: only the sandbox may stop it
    script = tmp_path / "grade_as_nobody.py"
    script.write_text(NOBODY_SCRIPT)
    env = {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "PYTHONPATH": f"{site}:{ROOT}"}
    run = subprocess.run([shutil.which("runuser"), "-u", "nobody", "--", _system_python(), str(script),
                          str(secret_dir / "answers.txt")], env=env, capture_output=True, text=True, timeout=120)
    if run.returncode != 0 and ("Permission denied" in run.stderr or "No module named" in run.stderr):
        pytest.skip(f"the user 'nobody' cannot load this checkout's packages: {run.stderr.strip()[-200:]}")
    assert run.returncode == 0, run.stderr[-2000:]     # the grader was not killed
    result = json.loads(run.stdout.strip().splitlines()[-1])
    if not result["isolated"]:
        pytest.skip("this kernel does not allow unprivileged user namespaces")
    assert result["status"] == "ok" and result["n"] == 0   # the secret was out of sight
    assert result["late_status"] == "timeout" and not result["late_n"] and result["late_s"] < 10
