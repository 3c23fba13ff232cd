"""The record of a grading run, per student, beside the gradebook: what a regrade and the reports read back.

``OUTPUT/record/<student>.json`` holds the seed the student's inputs were drawn from, when the notebook was
submitted and graded, the late penalty, and per part the score, the status, the codes of the mistakes
diagnosed (``mistakes``) and the feedback lines, each with its code. A regrade reuses the recorded seed, so the
student gets the same inputs, unless the instructor fixes another (``--seed``). The gradebook keeps the scores
nbgrader's tools read; the record keeps what only DeepGrad needs.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone
from pathlib import Path

from .. import mistakes
from ..notebook import folder_name

VERSION = 1


def path(output: Path, student: str) -> Path:
    return Path(output) / "record" / f"{folder_name(student)}.json"


def as_dict(result, seed: int) -> dict:
    """One student's record: ``result`` is a results.StudentResult, ``seed`` the base seed of its inputs."""
    return {
        "version": VERSION, "student": result.student, "assignment": result.assignment, "seed": int(seed),
        "graded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "submitted_at": result.submitted_at, "penalty": float(result.penalty), "late_note": result.late_note,
        "score": result.score, "max_score": result.max_score, "notebook_problem": result.notebook_problem,
        "wall_s": round(result.wall_s, 3),
        "parts": [{"name": p.name, "points": p.points, "score": p.score, "status": p.status,
                   "codes": mistakes.codes(p.status, p.lines),
                   "shares": [{"name": s.name, "points": s.points, "score": s.score} for s in p.shares],
                   "lines": [{"ok": line.ok, "text": line.text, "code": line.code} for line in p.lines]}
                  for p in result.parts],
    }


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
