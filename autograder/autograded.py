"""The autograded copy of a submission, where nbgrader's formgrader looks for it.

nbgrader's formgrader shows ``<course root>/autograded/<student>/<assignment>/<notebook>.ipynb`` beside the
gradebook's scores, for manual grading. ``deepgrad grade`` never executes the notebook, so the copy is the
student's own notebook with each graded cell's output replaced by that part's feedback: the score, what
happened in the sandbox and the plain-words lines of the feedback page. Nothing else is added: the hidden
checks, their inputs and the expected values stay in the grader, as on the feedback page.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from . import notebook as nbmod
from .report import STATUS_WORDS, folder_name

MARK = {True: "✓", False: "✗", None: "•"}


def feedback_text(part) -> str:
    """The text a graded cell shows: score, status and feedback lines of one part (grading.PartResult)."""
    lines = [f"{part.name}: {part.score:g} / {part.points:g}", STATUS_WORDS.get(part.status, part.status)]
    lines += [f"{MARK[line.ok]} {line.text}" for line in part.lines]
    return "\n".join(lines) + "\n"


def annotate(nb: dict, result) -> dict:
    """``nb`` (the student's notebook) with each graded cell's outputs set to its part's feedback."""
    parts = {p.name: p for p in result.parts}
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        part = parts.get(meta.get("grade_id")) if isinstance(meta, dict) else None
        if part is not None and meta.get("grade"):
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": feedback_text(part)}]
            cell["execution_count"] = None
    return nb


def path(output: Path, student: str, assignment: str, notebook_name: str) -> Path:
    return Path(output) / "autograded" / folder_name(student) / assignment / notebook_name


def write(output: Path, submission: Path, result, notebook_name: str) -> Path | None:
    """Write the autograded copy of one student's submission (None when it has no usable notebook)."""
    if result.notebook_problem:
        return None
    with tempfile.TemporaryDirectory(prefix="deepgrad-autograded-") as scratch:
        try:
            nb = nbmod.load(nbmod.find(Path(submission), result.assignment, notebook_name, Path(scratch)))
        except nbmod.NotebookProblem:
            return None
    target = path(output, result.student, result.assignment, notebook_name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(annotate(nb, result), indent=1, ensure_ascii=False), encoding="utf-8")
    return target
