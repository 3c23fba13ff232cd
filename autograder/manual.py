"""Written ("inline") answers, graded by hand in nbgrader's formgrader as CS231n's inline questions are.

A check module may declare ``MANUAL_PARTS = {"<grade_id>": points, ...}``: the markdown answer cells of its
source notebook whose nbgrader metadata says ``solution: true, grade: true, points: n``. The autograder never
scores them. It creates their grade cells in nbgrader's gradebook and, for each student, a grade with no auto
score that needs a manual grade; a manual score or comment a grader has already entered is never touched, so a
regrade keeps it. ``deepgrad verify`` checks that the declaration agrees with the notebook.
"""
from __future__ import annotations

import warnings


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


def keep(db_url: str, assignment: str, module, students) -> dict[str, dict[str, float | None]]:
    """Make sure every student has an ungraded (or already graded) grade for each manual part.

    Call it after the automatic scores are in the gradebook (the submissions exist). Existing grades and
    comments are left exactly as they are. Returns student -> part -> the manual score so far (None: ungraded).
    """
    manual = parts(module)
    if not manual:
        return {s: {} for s in students}
    from pathlib import Path

    from nbgrader.api import Comment, Grade, Gradebook

    from ._env import ensure_tools_on_path
    ensure_tools_on_path()
    notebook = Path(module.NOTEBOOK).stem
    scores = {}
    with Gradebook(db_url) as gb, warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*not in session.*")   # nbgrader's, harmless
        cell_ids = {}
        for name, points in manual.items():
            grade_cell = gb.update_or_create_grade_cell(name, notebook, assignment, max_score=points,
                                                        cell_type="markdown")
            solution_cell = gb.update_or_create_solution_cell(name, notebook, assignment)
            cell_ids[name] = grade_cell.id, solution_cell.id
        for student in students:
            submitted = gb.find_submission_notebook(notebook, assignment, student)
            graded = {g.cell_id: g for g in submitted.grades}
            commented = {c.cell_id for c in submitted.comments}
            for name, (grade_id, solution_id) in cell_ids.items():
                # a submission added before this cell existed has no row for it yet: add an empty one
                if grade_id not in graded:
                    graded[grade_id] = Grade(cell_id=grade_id, notebook=submitted, needs_manual_grade=True)
                    gb.db.add(graded[grade_id])
                if solution_id not in commented:
                    gb.db.add(Comment(cell_id=solution_id, notebook=submitted))
            gb.db.commit()
            scores[student] = {name: graded[grade_id].manual_score for name, (grade_id, _) in cell_ids.items()}
    return scores
