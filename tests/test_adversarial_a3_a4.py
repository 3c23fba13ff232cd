"""A3's and A4's new parts under attack, graded by the real sandboxed pipeline: each part as deserved.

One submission per assignment combines several attacks, each on a different part, so that the others must
still earn their points: an infinite loop, a sleep past the time limit, a memory bomb, a process that exits,
and calling the course library's reference from an answer cell. Time limits are cut to a few seconds here.
"""
from __future__ import annotations

import dataclasses
import types

import nbformat
import pytest

from harness import meta, solution_notebook

grading = pytest.importorskip("autograder.grading")
from autograder import checks, notebook  # noqa: E402

NEW_PARTS = {"A3": ("unbroadcast", "modules", "cross_entropy", "sgd_training"),
             "A4": ("adam_notes", "layer_statistics", "fit_early_stopping")}

ATTACKS = {
    "A3": {  # answer-cell grade_id -> (snippet of the solution, what the attacker writes instead)
        "answer_modules": ("        found, seen = [], set()\n",
                           "        hog = np.ones((1 << 31,))            # 16 GB: beyond the memory limit\n"
                           "        found, seen = [], set()\n"),
        "answer_training": [("    shifted = scores - scores.data.max(axis=1, keepdims=True)",
                             "    from deepgrad.functional import cross_entropy as reference\n"
                             "    return reference(scores, y)\n"
                             "    shifted = scores - scores.data.max(axis=1, keepdims=True)"),
                            ("    optimizer.zero_grad()\n    loss = cross_entropy",
                             "    while True:\n        pass\n    optimizer.zero_grad()\n    loss = cross_entropy")],
    },
    "A4": {
        "answer_layer_statistics": ("    f, slope = forms[activation]",
                                    "    import time\n    time.sleep(60)\n    f, slope = forms[activation]"),
        "answer_fit_early_stopping": ("    X_train, y_train, X_val, y_val = data\n",
                                      "    import os\n    os._exit(0)\n"),
    },
}
# A3's modules: the memory bomb in parameters() costs parameters() and zero_grad() (which stands on it), not Linear
# or Sequential; sgd_training: the loop in train_step costs train_step, not SGD's step and zero_grad, run first.
EXPECTED = {"A3": {"unbroadcast": 2.0, "modules": 1.5, "cross_entropy": 0.0, "sgd_training": 1.0},
            "A4": {"adam_notes": 2.0, "layer_statistics": 0.0, "fit_early_stopping": 0.0}}


def _attacked(a):
    nb = solution_notebook(a)
    for cell in nb.cells:
        edits = ATTACKS[a].get(meta(cell).get("grade_id"), [])
        for old, new in edits if isinstance(edits, list) else [edits]:
            assert cell.source.count(old) == 1, old
            cell.source = cell.source.replace(old, new)
    return nb


@pytest.mark.parametrize("a", sorted(NEW_PARTS))
def test_new_parts_under_attack_are_graded_as_deserved(a, tmp_path):
    full = checks.load(a)
    parts = [dataclasses.replace(p, timeout=min(p.timeout, 4.0)) for p in full.PARTS if p.name in NEW_PARTS[a]]
    module = types.SimpleNamespace(NOTEBOOK=full.NOTEBOOK, PARTS=parts)
    (tmp_path / "attacker").mkdir()
    nbformat.write(_attacked(a), tmp_path / "attacker" / f"{a}.ipynb")
    result = grading.grade_student(a, module, "attacker", tmp_path / "attacker", base_seed=5, hide=[],
                                   source_nb=notebook.source(a, full.NOTEBOOK))
    got = {p.name: p.score for p in result.parts}
    assert got == EXPECTED[a], [(p.name, p.status, [line.text for line in p.lines][:3]) for p in result.parts]
    status = {p.name: p.status for p in result.parts}
    feedback = {p.name: " ".join(line.text for line in p.lines) for p in result.parts}
    if a == "A3":
        assert status["modules"] in ("memory", "error") and status["sgd_training"] == "timeout", status
        assert grading.DEEPGRAD_BLOCKED in feedback["cross_entropy"], feedback["cross_entropy"]
    else:
        assert status["layer_statistics"] == "timeout" and status["fit_early_stopping"] != "ok", status
