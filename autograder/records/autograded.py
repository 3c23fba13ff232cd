"""The feedback in the autograded copies, where nbgrader's formgrader shows it.

``manual.formgrader_notebooks`` writes ``<autograded>/<student>/<assignment>/<notebook>.ipynb``, the released
notebook with the student's answers, which the formgrader displays for grading by hand. ``<autograded>`` is
where the course's formgrader looks (``<course>/autograded``) when the output folder lies inside the course,
else ``OUTPUT/autograded`` (:func:`folder`).
``deepgrad grade`` never executes it, so here each graded (test) cell gets its part's feedback as output: the
score, what happened in the sandbox and the plain-words lines of the feedback page. Nothing else is added:
the hidden checks, their inputs and the expected values stay in the grader, as on the feedback page.
"""
from __future__ import annotations

import json
from pathlib import Path

from .. import course
from ..feedback import cell_text


def annotate(nb: dict, result) -> dict:
    """``nb`` (the student's notebook) with each graded cell's outputs set to its part's feedback."""
    parts = {p.name: p for p in result.parts}
    for cell in nb.get("cells", []):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        meta = cell.get("metadata", {}).get("nbgrader", {})
        part = parts.get(meta.get("grade_id")) if isinstance(meta, dict) else None
        if part is not None and meta.get("grade"):
            cell["outputs"] = [{"output_type": "stream", "name": "stdout", "text": cell_text(part)}]
            cell["execution_count"] = None
    return nb


def folder(output: Path) -> Path:
    """The autograded copies of a grading output folder: the course's autograded directory, where its
    formgrader finds them, when ``output`` lies inside the course; ``OUTPUT/autograded`` for an output folder
    elsewhere (a trial run, a machine without the course)."""
    where = course.holding(output)
    return course.autograded_dir(where) if where else Path(output) / "autograded"


def path(copies: Path, student: str, assignment: str, notebook_name: str) -> Path:
    """A student's notebook in the autograded copies ``copies`` (:func:`folder`), nbgrader's layout."""
    return Path(copies) / student / assignment / notebook_name


def annotate_all(copies: Path, notebook_name: str, results) -> int:
    """Put each student's feedback into their autograded copy in ``copies`` (those without one are skipped);
    returns how many were annotated."""
    done = 0
    for r in results:
        target = path(copies, r.student, r.assignment, notebook_name)
        if not target.is_file():
            continue
        nb = json.loads(target.read_text(encoding="utf-8"))
        target.write_text(json.dumps(annotate(nb, r), indent=1, ensure_ascii=False), encoding="utf-8")
        done += 1
    return done
