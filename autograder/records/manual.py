"""Written ("inline") answers, graded by hand in nbgrader's formgrader as CS231n's inline questions are.

A check module may declare ``MANUAL_PARTS = {"<grade_id>": points, ...}``: the markdown answer cells of its
source notebook whose nbgrader metadata says ``solution: true, grade: true, points: n``. The autograder never
scores them. It creates their grade cells in nbgrader's gradebook and, for each student, a grade with no auto
score that needs a manual grade; a manual score or comment a grader has already entered is never touched, so a
regrade keeps it. ``deepgrad verify`` checks that the declaration agrees with the notebook.

So that a grader can read the answers in the formgrader, :func:`formgrader_notebooks` writes each student's
notebook in nbgrader's "autograded" layout: the released notebook (no solutions, no hidden tests) with the
student's answer cells put in, and every answer cell registered in the gradebook for the grader's comments.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from .. import notebook as nbmod
from . import gradebook


def parts(module) -> dict[str, float]:
    """grade_id -> points of the module's manually graded parts (empty when it declares none)."""
    return {str(name): float(points) for name, points in getattr(module, "MANUAL_PARTS", {}).items()}


def cells(nb: dict) -> dict[str, float]:
    """grade_id -> points of a source notebook's manually graded answer cells (solution and grade)."""
    out = {}
    for cell in nb["cells"]:
        meta = cell.get("metadata", {}) if isinstance(cell, dict) else {}
        nbg = meta.get("nbgrader", {}) if isinstance(meta, dict) else {}
        if isinstance(nbg, dict) and nbg.get("grade") and nbg.get("solution"):
            out[str(nbg.get("grade_id"))] = float(nbg.get("points", 0))
    return out


def consistency(module, nb: dict, assignment: str) -> list[str]:
    """Disagreements between MANUAL_PARTS and the notebook's manually graded cells, in words."""
    declared, found = parts(module), cells(nb)
    problems = []
    for name in sorted(set(declared) | set(found)):
        if name not in declared:
            problems.append(f"manually graded cell {name!r} of the notebook is not in MANUAL_PARTS of "
                            f"checks/{assignment}.py")
        elif name not in found:
            problems.append(f"manual part {name!r} has no manually graded cell (solution and grade, "
                            f"grade_id {name!r}) in the notebook")
        elif declared[name] != found[name]:
            problems.append(f"manual part {name!r}: {declared[name]:g} points in MANUAL_PARTS, "
                            f"{found[name]:g} in the notebook")
    names = {p.name for p in module.PARTS} & set(declared)
    if names:
        problems.append(f"{sorted(names)} are both automatic and manual parts of checks/{assignment}.py")
    return problems


def _answer_ids(nb: dict) -> list[str]:
    return [str(nbmod._nbgrader(c)["grade_id"]) for c in nb["cells"]
            if isinstance(c, dict) and nbmod._nbgrader(c).get("solution") and nbmod._nbgrader(c).get("grade_id")]


def keep(db_url: str, assignment: str, module, students, source_nb: dict | None = None) -> dict[str, dict]:
    """Make sure every student has an ungraded (or already graded) grade for each manual part, and a comment
    slot for each answer cell of ``source_nb`` (what the formgrader attaches a grader's comments to).

    Call it after the automatic scores are in the gradebook (the submissions exist). Existing grades and
    comments are left exactly as they are. Returns student -> part -> the manual score so far (None: ungraded).
    """
    manual = parts(module)
    answers = [a for a in (_answer_ids(source_nb) if source_nb else []) if a not in manual]
    if not manual and not answers:
        return {s: {} for s in students}
    from nbgrader.api import Comment, Grade

    notebook = Path(module.NOTEBOOK).stem
    scores = {}
    with gradebook.open(db_url, write=True) as gb:
        cell_ids = {}
        for name, points in manual.items():
            grade_cell = gb.update_or_create_grade_cell(name, notebook, assignment, max_score=points,
                                                        cell_type="markdown")
            cell_ids[name] = grade_cell.id
        solution_ids = [gb.update_or_create_solution_cell(name, notebook, assignment).id
                        for name in [*manual, *answers]]
        for student in students:
            submitted = gb.find_submission_notebook(notebook, assignment, student)
            graded = {g.cell_id: g for g in submitted.grades}
            commented = {c.cell_id for c in submitted.comments}
            # a submission added before a cell existed has no row for it yet: add an empty one
            for grade_id in cell_ids.values():
                if grade_id not in graded:
                    graded[grade_id] = Grade(cell_id=grade_id, notebook=submitted, needs_manual_grade=True)
                    gb.db.add(graded[grade_id])
            for solution_id in solution_ids:
                if solution_id not in commented:
                    gb.db.add(Comment(cell_id=solution_id, notebook=submitted))
            gb.db.commit()
            scores[student] = {name: graded[grade_id].manual_score for name, grade_id in cell_ids.items()}
    return scores


def formgrader_notebooks(folder: Path, assignment: str, module, released: Path, students) -> int:
    """Write ``folder/<student>/<assignment>/<notebook>.ipynb`` for each (student, submission path).

    Each is the released notebook ``released`` with the student's answer cells (code and written) in place
    of the stubs, matched by grade_id; an answer the submission lacks is left empty, never filled from the
    solution. Students whose notebook cannot be read are skipped. Returns how many were written.
    """
    if not released.is_file():
        return 0
    template = json.loads(released.read_text(encoding="utf-8"))
    written = 0
    for student, path in students:
        with tempfile.TemporaryDirectory(prefix="deepgrad-formgrader-") as scratch:
            try:
                theirs = nbmod.load(nbmod.find(Path(path), assignment, module.NOTEBOOK, Path(scratch)))
            except (nbmod.NotebookProblem, OSError):     # costs only this student's copy
                continue
        answers = {str(nbmod._nbgrader(c).get("grade_id")): nbmod._source(c) for c in theirs["cells"]
                   if isinstance(c, dict) and nbmod._nbgrader(c).get("solution")}
        nb = json.loads(json.dumps(template))
        for cell in nb["cells"]:
            nbg = cell.get("metadata", {}).get("nbgrader", {})
            if nbg.get("solution"):
                cell["source"] = answers.get(str(nbg.get("grade_id")), "")
        target = Path(folder) / student / assignment / module.NOTEBOOK
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(nb, indent=1, ensure_ascii=False), encoding="utf-8")
        written += 1
    return written


def answered_parts(nb: dict) -> dict[str, str]:
    """answer cell grade_id -> the graded part (grade_id of a graded cell) it answers, in a source or released
    notebook: a written answer is its own part; a code answer cell belongs to the first graded cell after it
    (as the notebooks are laid out: a part's answer cells, then its test cell), or, after the last one, to the
    last. What a grader's comment on an answer cell is shown under."""
    owner, pending, last = {}, [], None
    for cell in nb["cells"]:
        nbg = nbmod._nbgrader(cell) if isinstance(cell, dict) else {}
        name = str(nbg.get("grade_id")) if nbg.get("grade_id") else None
        if name and nbg.get("solution"):
            pending.append(name)
        if name and nbg.get("grade"):
            owner.update({answer: name for answer in pending})
            pending, last = [], name
    owner.update({answer: last for answer in pending if last})
    return owner


def comments(db_url: str, assignment: str, module, source_nb: dict | None) -> dict[str, dict[str, list[str]]]:
    """student -> part (automatic or written, :func:`answered_parts`) -> the comments a grader typed in the
    formgrader on that part's answer cells, in the notebook's order; students and parts without one are left out.
    nbgrader's automatic comments ("No response.") are not a grader's and are left out too."""
    from nbgrader.api import MissingEntry

    owner = answered_parts(source_nb) if source_nb else {}
    order = {name: i for i, name in enumerate(owner)}
    said: dict[str, dict[str, list[str]]] = {}
    with gradebook.open(db_url) as gb:
        try:
            submissions = gb.assignment_submissions(assignment)
        except MissingEntry:
            return {}
        notebook = Path(module.NOTEBOOK).stem
        for sub in submissions:
            for nb in sub.notebooks:
                if nb.name != notebook:
                    continue
                for c in sorted(nb.comments, key=lambda c: order.get(c.name, len(order))):
                    text = (c.manual_comment or "").strip()
                    if text:
                        part = owner.get(c.name, c.name)
                        said.setdefault(sub.student.id, {}).setdefault(part, []).append(text)
    return said
