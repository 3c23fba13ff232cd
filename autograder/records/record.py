"""The record of a grading run, per student, beside the gradebook: what a regrade and the reports read back.

``OUTPUT/record/<student>.json`` holds the seed the student's inputs were drawn from, when the notebook was
submitted and graded, the late penalty, and per part the score, the status, the codes of the mistakes
diagnosed (``mistakes``) and the feedback lines, each with its code. A regrade reuses the recorded seed, so the
student gets the same inputs, unless the instructor fixes another (``--seed``). The gradebook keeps the scores
nbgrader's tools read; the record keeps what only DeepGrad needs.

It also keeps what the submission's own files said at grading time: nbgrader's ``timestamp.txt`` (the text as
nbgrader wrote it) and ``submission_secret.txt``, which ``deepgrad return --layout nbgrader`` writes beside the
feedback for ``nbgrader release_feedback``, and the notebook's SHA-256, by which a regrade knows the same
notebook from a changed one (``late.apply``). The record is the instructor's: nothing returned to a student
contains it.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .. import mistakes
from ..notebook import folder_name
from ..results import Line, PartResult, ShareResult, StudentResult

VERSION = 2        # 2: each part's description; timestamp, submission_secret, notebook_sha256


def path(output: Path, student: str) -> Path:
    return Path(output) / "record" / f"{folder_name(student)}.json"


def as_dict(result, seed: int) -> dict:
    """One student's record: ``result`` is a results.StudentResult, ``seed`` the base seed of its inputs."""
    return {
        "version": VERSION, "student": result.student, "assignment": result.assignment, "seed": int(seed),
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "submitted_at": result.submitted_at, "penalty": float(result.penalty), "late_note": result.late_note,
        "score": result.score, "max_score": result.max_score, "notebook_problem": result.notebook_problem,
        "wall_s": round(result.wall_s, 3), "timestamp": result.timestamp,
        "submission_secret": result.submission_secret, "notebook_sha256": result.notebook_sha256,
        "parts": [{"name": p.name, "points": p.points, "score": p.score, "status": p.status,
                   "description": p.description,
                   "codes": mistakes.codes(p.status, p.lines),
                   "shares": [{"name": s.name, "points": s.points, "score": s.score} for s in p.shares],
                   "lines": [{"ok": line.ok, "text": line.text, "code": line.code} for line in p.lines]}
                  for p in result.parts],
    }


def result(rec: dict, module) -> StudentResult:
    """The results.StudentResult a record was written from, as far as the record keeps it (no timings, no
    sandbox runs): what ``deepgrad return`` renders. A part's description missing from an older record is the
    check module's."""
    described = {p.name: p.description for p in module.PARTS}
    parts = [PartResult(p["name"], float(p["points"]), float(p["score"]), p["status"],
                        p.get("description", described.get(p["name"], "")),
                        lines=[Line(line["ok"], line["text"], line.get("code")) for line in p.get("lines", [])],
                        shares=[ShareResult(s["name"], float(s["points"]), float(s["score"]))
                                for s in p.get("shares", [])])
             for p in rec.get("parts", [])]
    return StudentResult(rec["student"], rec["assignment"], parts, rec.get("notebook_problem"),
                         submitted_at=rec.get("submitted_at"), penalty=float(rec.get("penalty") or 0.0),
                         late_note=rec.get("late_note"), timestamp=rec.get("timestamp"),
                         submission_secret=rec.get("submission_secret"), notebook_sha256=rec.get("notebook_sha256"))


def save(output: Path, result, seed: int) -> Path:
    """Write one student's record atomically (a reader never sees half a file)."""
    target = path(output, result.student)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(as_dict(result, seed), indent=1), encoding="utf-8")
    os.replace(tmp, target)
    return target


def load(output: Path, student: str) -> dict | None:
    """The student's record, or None when there is none (never graded here, or unreadable)."""
    try:
        return json.loads(path(output, student).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def load_all(output: Path, assignment: str | None = None) -> list[dict]:
    """Every record in ``output`` (of ``assignment`` when given), sorted by student id."""
    folder = Path(output) / "record"
    records = []
    for p in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(rec, dict) and (assignment is None or rec.get("assignment") == assignment):
            records.append(rec)
    return sorted(records, key=lambda r: r["student"])


def seed(output: Path, student: str) -> int | None:
    """The seed a previous run drew this student's inputs from (None if never graded into ``output``)."""
    rec = load(output, student)
    value = rec.get("seed") if rec else None
    return value if isinstance(value, int) else None
