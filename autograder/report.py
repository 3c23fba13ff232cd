"""What graders and students get back: feedback HTML per student, and nbgrader's gradebook."""
from __future__ import annotations

import hashlib
import html
import warnings
from pathlib import Path

STATUS_WORDS = {
    "ok": "Your code ran.",
    "error": "Your code raised an error.",
    "timeout": "Your code did not finish in time and was stopped.",
    "memory": "Your code ran out of memory and was stopped.",
    "crashed": "Your code's process ended without sending results.",
    "missing": "A function or class this part needs is not defined.",
    "no_notebook": "Your notebook could not be used.",
    "grader_error": "The grader itself failed on this part (not your fault; tell your instructor).",
}

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; line-height: 1.45; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-bottom: .2rem; }
.part { border: 1px solid #ccc; border-radius: 6px; padding: .6rem 1rem; margin: 1rem 0; }
.score { float: right; font-weight: bold; }
.full { color: #1a7f37; } .some { color: #9a6700; } .none { color: #b42318; }
ul { padding-left: 1.2rem; margin: .3rem 0; } li.ok::marker { content: "✓ "; color: #1a7f37; }
li.fail::marker { content: "✗ "; color: #b42318; } li.note::marker { content: "• "; }
.status { color: #555; }
"""


def _cls(score, points):
    return "full" if score >= points else ("some" if score > 0 else "none")


def render(result) -> str:
    """Feedback page for one student (every student-controlled string is escaped)."""
    e = html.escape
    parts = []
    for p in result.parts:
        items = []
        for line in p.lines:
            kind = "note" if line.ok is None else ("ok" if line.ok else "fail")
            items.append(f'<li class="{kind}">{e(line.text)}</li>')
        status = e(STATUS_WORDS.get(p.status, p.status))
        parts.append(
            f'<div class="part"><span class="score {_cls(p.score, p.points)}">{p.score:g} / {p.points:g}</span>'
            f'<h2>{e(p.name)}</h2><div>{e(p.description)}</div>'
            f'<div class="status">{status}</div><ul>{"".join(items)}</ul></div>')
    head = (f"<h1>{e(result.assignment)} feedback for {e(result.student)}</h1>"
            f'<p>Total: <b class="{_cls(result.score, result.max_score)}">{result.score:g} / '
            f"{result.max_score:g}</b></p>")
    if result.penalty:
        final = round(result.score - result.penalty, 4)
        head = head.replace("</b></p>", f"</b>, after the late penalty <b class='{_cls(final, result.max_score)}'>"
                                        f"{final:g} / {result.max_score:g}</b></p>")
    if result.notebook_problem:
        head += f"<p class='none'>{e(result.notebook_problem)}</p>"
    if result.late_note:
        head += f"<p class='some'>{e(result.late_note)}</p>"
    head += ("<p class='status'>Each part was graded by running your answer cells on their own, with NumPy "
             "only, on inputs drawn at grading time, and comparing the results with the reference.</p>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(result.assignment)} feedback</title>"
            f"<style>{_STYLE}</style></head><body>{head}{''.join(parts)}</body></html>")


def folder_name(student_id: str) -> str:
    """The feedback folder of a student id (ids are path-safe; very long ones are shortened with a hash)."""
    if len(student_id) <= 200:
        return student_id
    return student_id[:180] + "~" + hashlib.sha256(student_id.encode()).hexdigest()[:16]


def write_feedback(path: Path, result) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render(result), encoding="utf-8")


def write_gradebook(db_url: str, assignment: str, module, results) -> None:
    """Record the scores in nbgrader's gradebook (one grade cell per part) for formgrader / nbgrader export."""
    from nbgrader.api import Gradebook, MissingEntry

    from ._env import ensure_tools_on_path
    ensure_tools_on_path()

    notebook = Path(module.NOTEBOOK).stem
    with Gradebook(db_url) as gb, warnings.catch_warnings():
        # nbgrader's own add_submission trips SQLAlchemy's autoflush warning; it is harmless and not ours
        warnings.filterwarnings("ignore", message=".*not in session.*")
        gb.update_or_create_assignment(assignment)
        gb.update_or_create_notebook(notebook, assignment)
        for part in module.PARTS:
            gb.update_or_create_grade_cell(part.name, notebook, assignment, max_score=float(part.points),
                                           cell_type="code")
        for r in results:
            gb.update_or_create_student(r.student)
            try:
                gb.find_submission(assignment, r.student)
            except MissingEntry:
                gb.add_submission(assignment, r.student)
            for p in r.parts:
                grade = gb.find_grade(p.name, notebook, assignment, r.student)
                grade.auto_score = float(p.score)
                # as nbgrader's own autograde: a score a grader gave by hand stands, flagged for review against
                # the new automatic one; otherwise the part needs no one (formgrader lists it as graded)
                grade.needs_manual_grade = grade.manual_score is not None
            gb.db.commit()
