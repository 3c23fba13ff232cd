"""grades.csv, written from the gradebook: the whole class, whoever was graded in this run.

Grading one student (a regrade, a late submission) into an existing output folder updates that student in
nbgrader's gradebook and leaves the others; the CSV is then rebuilt from the gradebook, so it always lists
every student the gradebook has for the assignment, with the formgrader's manual scores where given.
"""
from __future__ import annotations

import contextlib
import csv
import os
import secrets
from pathlib import Path

from . import gradebook, manual


def class_rows(db_url: str, assignment: str, module) -> list[dict]:
    """One row per student of ``assignment`` in the gradebook, sorted by id: ``student_id``, ``score`` (the
    parts' scores less the late penalty, never below 0), ``max_score``, one entry per automatic part (its
    manual score where the formgrader set one, else the autograder's), one per written part (``manual``;
    None until a grader scores it) and ``late_penalty``."""
    from nbgrader.api import MissingEntry

    notebook = Path(module.NOTEBOOK).stem
    names, by_hand = [p.name for p in module.PARTS], manual.parts(module)
    rows = []
    with gradebook.open(db_url) as gb:
        try:
            submissions = gb.assignment_submissions(assignment)
        except MissingEntry:
            return []
        for sub in submissions:
            student = sub.student.id
            by = {}
            for name in names:
                try:
                    by[name] = float(gb.find_grade(name, notebook, assignment, student).score)
                except MissingEntry:
                    by[name] = 0.0
            written = {}
            for name in by_hand:
                try:
                    written[name] = gb.find_grade(name, notebook, assignment, student).manual_score
                except MissingEntry:
                    written[name] = None
            penalty = float(sub.late_submission_penalty or 0.0)
            raw = sum(by.values()) + sum(s or 0.0 for s in written.values())
            rows.append({"student_id": student, "assignment": assignment,
                         "score": round(max(0.0, raw - penalty), 4),
                         "max_score": round(sum(float(p.points) for p in module.PARTS) + sum(by_hand.values()), 4),
                         **by, **written, "late_penalty": round(penalty, 4)})
    return sorted(rows, key=lambda r: r["student_id"])


def read_csv(path: Path) -> list[dict]:
    """grades.csv back as :func:`class_rows` gives the rows: numbers as floats, a blank (a written answer not
    graded yet) as None, ``student_id`` and ``assignment`` as text. For an output folder without its gradebook;
    the gradebook, where there is one, is newer (the formgrader's scores are in it as soon as they are typed)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [{k: v if k in ("student_id", "assignment") else (float(v) if v else None) for k, v in r.items()}
                for r in csv.DictReader(f)]


def ungraded(rows: list[dict], module) -> dict[str, list[str]]:
    """student -> the written answers (``manual.parts``) not graded yet in ``rows`` (:func:`class_rows`);
    students with every written answer graded are left out."""
    by_hand = manual.parts(module)
    out = {r["student_id"]: [name for name in by_hand if r.get(name) is None] for r in rows}
    return {student: names for student, names in out.items() if names}


def write_csv(path: Path, db_url: str, assignment: str, module) -> list[dict]:
    """Write grades.csv: student_id, assignment, score, max_score, one column per automatic part, one per
    written part (blank until graded), late_penalty.

    Shards grading into one folder each rewrite it after their own commit. Reading the gradebook and replacing
    the file happen under the gradebook's writers' lock, so the shard that writes it last has read it last,
    after every other shard's commit: the file lists the whole class (a reader never sees half a file)."""
    header = ["student_id", "assignment", "score", "max_score", *[p.name for p in module.PARTS],
              *manual.parts(module), "late_penalty"]
    path = Path(path)
    with gradebook.lock(db_url):
        rows = class_rows(db_url, assignment, module)
        # a name of its own: shards on other machines (pods) may share a process id
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(6)}.tmp")
        try:
            with open(tmp, "x", newline="") as f:
                w = csv.writer(f)
                w.writerow(header)
                for r in rows:
                    w.writerow([r[h] if isinstance(r[h], str) else "" if r[h] is None else f"{r[h]:g}"
                                for h in header])
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
    return rows
