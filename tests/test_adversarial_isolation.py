"""Issue 23: what a part could leave for the next student, and held-out labels it could rebuild.

Each attack is graded by the real pipeline (`grade_all`), in a batch with honest students before and after it:

- **The host's devices** (namespaces only): a part that opens /dev/loop-control, /dev/kvm, the consoles or
  /dev/mem, makes a device node of its own, or attaches a loop device to a file in its tmpfs (a binding that
  outlives the part: the next student could read it, and every free loop device of the host could be taken).
  The child's /dev holds only null, zero, full, random and urandom, so each attempt fails; an attacker that
  reached anything spoils its own answer (so its score says so), and a reader graded after it finds nothing.
- **A3's digits** (every sandbox mode: inputs are data): the test labels rebuilt from what the grader sends
  (the split's seed replayed on the public digits labels, which the notebook shows), with no training at all.
  Only the training images and labels and the test images, in an order of the grader's own drawing, are
  sent; the attack earns nothing and the solution earns full marks.
"""
from __future__ import annotations

import copy
import fcntl
import json
import os
from pathlib import Path

import nbformat
import numpy as np
import pytest
from harness import meta, solution_notebook

from autograder import checks
from autograder.grading import grade_all
from autograder.sandbox import isolation_available

ROOT = Path(__file__).resolve().parent.parent
MARKER = "deepgrad-loop-marker"
LOOP_SET_FD, LOOP_CLR_FD, LOOP_CTL_REMOVE, LOOP_CTL_GET_FREE = 0x4C00, 0x4C01, 0x4C81, 0x4C82

# ------------------------------------------------------------------------------------ the host's devices
A1_SOLUTION = json.loads((ROOT / "solutions" / "A1" / "A1.ipynb").read_text())
A1_FULL = {"svm_naive": 2, "svm_vectorized": 2, "softmax_naive": 2, "softmax_vectorized": 2, "sgd": 2,
           "predict": 1, "digits": 2, "sanity": 2, "grid_search": 3, "features": 3}

DEVICE_ATTACK = f'''
import fcntl, os
def _reached():
    """What of the host's devices this part could open, make or bind."""
    hits = []
    for name in ("loop-control", "kvm", "console", "tty0", "vcs", "mem", "kmsg", "loop0", "sda", "nvme0"):
        for flags in (os.O_RDWR, os.O_RDONLY):
            try:
                os.close(os.open("/dev/" + name, flags))
            except OSError:
                continue
            hits.append(name)
            break
    try:                                            # a loop-control node of our own, in the working directory
        os.mknod("loop-control", 0o20660, os.makedev(10, 237))
        os.close(os.open("loop-control", os.O_RDWR))
        hits.append("mknod")
    except OSError:
        pass
    for control in ("/dev/loop-control", "loop-control"):      # a loop device bound to a file in our tmpfs
        try:
            with open("{MARKER}.img", "wb") as f:
                f.write(b"{MARKER} " * 1024)
            ctl = os.open(control, os.O_RDWR)
            n = fcntl.ioctl(ctl, {LOOP_CTL_GET_FREE})
            loop = os.open(f"/dev/loop{{n}}", os.O_RDWR)
            fcntl.ioctl(loop, {LOOP_SET_FD}, os.open("{MARKER}.img", os.O_RDWR))
            hits.append(f"attached /dev/loop{{n}}")
        except OSError:
            pass
    return hits
_HITS = _reached()
'''
SPOIL = '''
if _HITS:                                            # reached something: this part earns nothing, and says why
    def svm_loss_naive(W, X, y, reg):
        raise RuntimeError("reached " + ", ".join(_HITS))
'''
LOOP_READER = f'''
import os
def _found():
    """A loop device left bound by an earlier part, read back."""
    found = []
    for name in sorted(os.listdir("/dev")):
        if name.startswith("loop") and name != "loop-control":
            try:
                with open("/dev/" + name, "rb") as f:
                    if b"{MARKER}" in f.read(4096):
                        found.append(name)
            except OSError:
                pass
    return found
_HITS = _found()
'''


def _a1_with(prefix: str, suffix: str) -> dict:
    nb = copy.deepcopy(A1_SOLUTION)
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == "ans_svm_naive")
    cell["source"] = prefix + "\n" + "".join(cell["source"]) + "\n" + suffix
    return nb


def _loops_bound_to_marker() -> list[str]:
    """The host's loop devices bound to an attacker's file (none, unless the sandbox let one through)."""
    bound = []
    for path in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            if MARKER in path.read_text():
                bound.append(path.parent.parent.name)
        except OSError:
            pass
    return bound


def _loop_devices() -> set[str]:
    return {p.name for p in Path("/sys/block").glob("loop*")}


def _restore(bound, made):
    """Leave the host as it was, even where the sandbox failed: unbind the attacker's loop devices and remove
    those its requests for a free one added."""
    for name in bound:
        try:
            fd = os.open(f"/dev/{name}", os.O_RDONLY)
            try:
                fcntl.ioctl(fd, LOOP_CLR_FD)
            finally:
                os.close(fd)
        except OSError:
            pass
    for name in made:
        try:
            ctl = os.open("/dev/loop-control", os.O_RDWR)
            try:
                fcntl.ioctl(ctl, LOOP_CTL_REMOVE, int(name[len("loop"):]))
            finally:
                os.close(ctl)
        except (OSError, ValueError):
            pass


@pytest.mark.skipif(not isolation_available(), reason="no namespaces (neither root nor unprivileged user "
                    "namespaces): with rlimits only, a part reaches every device its user can open (a root "
                    "grader's loop devices included); grade under a separate user (autograder/README.md)")
def test_a_part_reaches_no_host_device_and_leaves_nothing_for_the_next(tmp_path):
    subs = tmp_path / "submissions"
    batch = {"0_honest_first": A1_SOLUTION, "1_device_attacker": _a1_with(DEVICE_ATTACK, SPOIL),
             "2_loop_reader": _a1_with(LOOP_READER, SPOIL), "3_honest_last": A1_SOLUTION}
    for name, nb in batch.items():
        (subs / name).mkdir(parents=True)
        (subs / name / "A1.ipynb").write_text(json.dumps(nb))
    before, devices = _loops_bound_to_marker(), _loop_devices()
    try:        # one job: the reader is graded after the attacker
        results = {r.student: r for r in grade_all("A1", subs, tmp_path / "out", jobs=1, seed=11, progress=False,
                                                   isolate=True)}
    finally:
        left = [n for n in _loops_bound_to_marker() if n not in before]
        _restore(left, _loop_devices() - devices if left else set())
    assert not left, f"a part left loop devices bound to its file: {left}"
    for student in batch:
        scores = {p.name: p.score for p in results[student].parts}
        assert scores == A1_FULL, (student, {p.name: (p.status, [line.text for line in p.lines][:3])
                                             for p in results[student].parts if p.score != A1_FULL[p.name]})


# ------------------------------------------------------------------------------------ A3's held-out labels
def _public_digits_labels() -> str:
    from deepgrad.data import load_digits
    return "".join(str(int(v)) for v in load_digits()[1])


LABELS_FROM_SPLIT = '''
import sys
Y_PUBLIC = np.array([int(c) for c in "{labels}"])      # the digits' labels, public (the notebook shows them)


def _replay_split(seed):
    """deepgrad.data.train_val_test_split(X, Y_PUBLIC, val=0.1, test=0.2, seed=seed), on the labels alone."""
    rng = np.random.default_rng(seed)
    parts = {{"train": [], "val": [], "test": []}}
    for c in np.unique(Y_PUBLIC):
        idx = rng.permutation(np.flatnonzero(Y_PUBLIC == c))
        n_test, n_val = round(0.2 * len(idx)), round(0.1 * len(idx))
        parts["test"].append(idx[:n_test])
        parts["val"].append(idx[n_test:n_test + n_val])
        parts["train"].append(idx[n_test + n_val:])
    train, val, test = (rng.permutation(np.concatenate(parts[k])) for k in ("train", "val", "test"))
    return np.concatenate([Y_PUBLIC[train], Y_PUBLIC[val]]), Y_PUBLIC[test]


def _rebuilt_test_labels(inp):
    """Every whole number the grader sent, tried as the split's seed: the one that replays y_train wins."""
    guesses = []
    for value in inp.values():
        if np.ndim(value) == 0 and np.issubdtype(np.asarray(value).dtype, np.integer):
            y_train, y_test = _replay_split(int(value))
            if len(y_test) == len(inp["X_test"]):
                guesses.append((not np.array_equal(y_train, inp["y_train"]), len(guesses), y_test))
    return min(guesses, key=lambda g: g[:2])[2] if guesses else np.zeros(len(inp["X_test"]), dtype=int)


class _Scores:
    def __init__(self, labels):
        self.data = np.eye(10)[labels]


class Sequential(Sequential):     # the notebook's, called on the test images: the labels, looked up
    def __call__(self, x):
        frame = sys._getframe(1)
        while frame is not None and "inp" not in frame.f_locals:
            frame = frame.f_back
        return _Scores(_rebuilt_test_labels(frame.f_locals["inp"]))


def train_step(model, optimizer, X, y):     # no training at all
    return 0.0
'''


def _a3_with_label_attack():
    nb = solution_notebook("A3")
    cell = next(c for c in nb.cells if meta(c).get("grade_id") == "answer_training")
    cell.source += "\n" + LABELS_FROM_SPLIT.format(labels=_public_digits_labels())
    return nb


def test_a3_digits_test_labels_cannot_be_rebuilt_from_what_is_sent(tmp_path):
    subs = tmp_path / "submissions"
    batch = {"0_honest_first": solution_notebook("A3"), "1_labels_from_split": _a3_with_label_attack(),
             "2_honest_last": solution_notebook("A3")}
    for name, nb in batch.items():
        (subs / name).mkdir(parents=True)
        nbformat.write(nb, subs / name / "A3.ipynb")
    module = checks.load("A3")
    saved = list(module.PARTS)
    module.PARTS[:] = [p for p in saved if p.name == "digits"]
    assert module.PARTS and "y_test" in module.PARTS[0].held_out
    try:
        results = {r.student: r for r in grade_all("A3", subs, tmp_path / "out", jobs=2, seed=23, progress=False,
                                                   isolate=isolation_available())}
    finally:
        module.PARTS[:] = saved
    scores = {s: {p.name: p.score for p in r.parts} for s, r in results.items()}
    assert scores["0_honest_first"] == scores["2_honest_last"] == {"digits": 2}, scores
    attacker = results["1_labels_from_split"].parts[0]
    assert attacker.status == "ok" and attacker.score == 0, (attacker.status, [line.text for line in attacker.lines])
    text = " ".join(line.text for line in attacker.lines).lower()
    assert "test accuracy 0." in text and f"at least {module.DIGITS_BAR} is expected" in text, text


def test_a3_digits_inputs_send_nothing_the_labels_follow_from():
    """What the sandbox receives: images and training labels in the grader's own order, no whole numbers but
    the epochs and the training seed (neither of which replays the split), and never the test labels."""
    part = next(p for p in checks.load("A3").PARTS if p.name == "digits")
    inputs = part.inputs(np.random.default_rng(2024))
    sent = {k: v for k, v in inputs.items() if k not in part.held_out}
    assert set(sent) == {"X_train", "y_train", "X_test", "epochs", "seed"}
    assert len(inputs["y_test"]) == len(sent["X_test"]) and not any(
        np.shape(v) == np.shape(inputs["y_test"]) and np.array_equal(v, inputs["y_test"]) for v in sent.values())
