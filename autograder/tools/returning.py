"""Returning feedback: each student's feedback where they will get it, with everything graded so far.

The page is rendered when it is returned (``feedback.html``, the one page renderer), not copied from grading
time, so that it holds what was graded after ``deepgrad grade``: from the student's record, each automatic part
with its lines and shares; from nbgrader's gradebook, as it is now, the written answers with the grader's score
(or "not graded yet") and comments, a score a grader typed over an automatic part, the late penalty and the
total, the same as ``deepgrad export`` sends to the LMS (``grades.class_rows``).

Two layouts. ``zip``: one ``<name>.zip`` per student holding the feedback page and the autograded notebook,
the name taken from a roster column (the LMS's id, so the files can be matched on upload) or the student id.
``nbgrader``: ``feedback/<student>/<assignment>/<notebook>.html`` under a course directory, beside the
``timestamp.txt`` and ``submission_secret.txt`` the student's submission came with (kept in the record): the
layout ``nbgrader release_feedback`` reads, naming the released file by the secret so that the student's
``nbgrader fetch_feedback`` finds it. A student whose notebook did not come through nbgrader's exchange has no
secret; they are left out of that layout and named (:class:`Returned`).

A roster value becomes a file name only through :func:`safe_name`: at most MAX_NAME_BYTES bytes (a file
name may have 255), and two students never share a file (the second gets a hash of their id).
"""
from __future__ import annotations

import hashlib
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from .. import feedback
from .. import notebook as nbmod
from ..notebook import folder_name, student_id
from ..records import autograded, grades, manual, record
from ..results import Line, StudentResult, WrittenResult

LAYOUTS = ("zip", "nbgrader")
MAX_NAME_BYTES = 120


@dataclass
class Returned:
    """What :func:`return_feedback` did: the files written, and the students left out of nbgrader's layout
    because their submission did not come through its exchange (no ``submission_secret.txt`` was graded)."""

    written: list = field(default_factory=list)         # [Path]
    not_from_exchange: list = field(default_factory=list)   # [student id]


def safe_name(text: str, limit: int = MAX_NAME_BYTES) -> str:
    """A file name from an LMS id or a student's name: letters, digits and ``._-`` kept, the rest ``_``, at
    most ``limit`` bytes in UTF-8 (cut between characters)."""
    name = re.sub(r"[^\w.\-]+", "_", text.strip()).strip("._-") or "student"
    name = name.encode("utf-8")[:limit].decode("utf-8", "ignore").rstrip("._-")
    return name or "student"


def as_returned(rec: dict, module, row: dict | None, said: dict[str, list[str]]) -> StudentResult:
    """One student's result as it stands now: the record's automatic parts, with the gradebook's ``row``
    (``grades.class_rows``; None when the gradebook lacks the student) for their scores, the written answers and
    the late penalty, and the grader's comments ``said`` (part -> comments, ``manual.comments``)."""
    result = record.result(rec, module)
    by_hand = manual.parts(module)
    if row is not None:
        for p in result.parts:
            given = row.get(p.name)
            if given is not None and abs(float(given) - p.score) > 1e-9:
                p.lines.append(Line(None, f"Your grader set this part's score by hand: {float(given):g} / "
                                          f"{p.points:g} (the automatic checks gave {p.score:g})."))
                p.score = float(given)
        result.penalty = float(row.get("late_penalty") or 0.0)
    result.written = [WrittenResult(name, points, None if row is None else row.get(name), said.get(name, []))
                      for name, points in by_hand.items()]
    parts = {p.name: p for p in result.parts}
    for name, texts in said.items():
        if name in by_hand:
            continue
        # a comment on a cell the notebook no longer has goes under the last part, named by its cell
        part = parts.get(name) or (result.parts[-1] if result.parts else None)
        if part is None:
            continue
        where = "" if name in parts else f" on answer cell {name}"
        part.lines += [Line(None, f"Your grader's comment{where}: {text}") for text in texts]
    return result


def return_feedback(assignment: str, module, output: Path, to: Path, db_url: str, layout: str = "zip",
                    names: dict | None = None) -> Returned:
    """Write each graded student's feedback under ``to``, rendered now from their record and the gradebook
    ``db_url``; ``names`` maps submission names to the zip's name (students without one are named by their id)."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    rows = {r["student_id"]: r for r in grades.class_rows(db_url, assignment, module)}
    # without the source notebook, a comment goes under the part named like its cell, or the last part
    said = manual.comments(db_url, assignment, module, nbmod.source(assignment, module.NOTEBOOK))
    done, used = Returned(), set()
    by_id = {student_id(str(k).strip()): v for k, v in (names or {}).items()}
    notebook = Path(module.NOTEBOOK)
    for rec in record.load_all(output, assignment):
        student = rec["student"]
        page = feedback.html(as_returned(rec, module, rows.get(student), said.get(student, {})))
        if layout == "nbgrader":
            if not (rec.get("timestamp") and rec.get("submission_secret")):
                done.not_from_exchange.append(student)
                continue
            folder = to / "feedback" / folder_name(student) / assignment
            folder.mkdir(parents=True, exist_ok=True)
            # exactly as the exchange wrote them: release_feedback names the file by the secret
            (folder / "timestamp.txt").write_text(rec["timestamp"], encoding="utf-8")
            (folder / "submission_secret.txt").write_text(rec["submission_secret"], encoding="utf-8")
            target = folder / f"{notebook.stem}.html"
            target.write_text(page, encoding="utf-8")
            done.written.append(target)
            continue
        name = base = safe_name(by_id.get(student) or student)
        for n in range(100):        # two roster names alike once made safe (or alike but for case): keep both
            if name.casefold() not in used:
                break
            tag = hashlib.sha256(f"{student}\0{n}".encode()).hexdigest()[:12]
            name = f"{safe_name(base, MAX_NAME_BYTES - len(tag) - 1)}_{tag}"
        used.add(name.casefold())
        target = to / f"{name}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr(f"{assignment}-feedback.html", page)
            copy = autograded.path(autograded.folder(output), student, assignment, notebook.name)
            if copy.is_file():
                z.write(copy, f"{assignment}-autograded.ipynb")
        done.written.append(target)
    return done
