"""Due dates and late penalties, from a course file.

The course file (TOML) gives a deadline per assignment, per-student extensions, and the penalty rule::

    [penalty]
    per_day = 0.10        # fraction of the score taken off per started day late
    max_days = 7          # later than this many days: no credit
    grace_minutes = 15    # submissions this close after the deadline are on time

    [A1]
    due = 2026-10-09T23:59:00Z
    extensions = { alice = 2026-10-12T23:59:00Z }

The rule: a submission ``late`` after its deadline (the student's extension if there is one, plus the grace)
loses ``per_day`` of the score it earned for every started day, ``ceil(late / 1 day) * per_day`` of it, and
all of it once it is more than ``max_days`` days late. So a score is never negative, and an on-time student
is never affected. The submission time is nbgrader's exchange timestamp (``timestamp.txt`` in the
student's folder, as ``nbgrader collect`` leaves it) or else the time the notebook (or the zip) was last
modified.
"""
from __future__ import annotations

import math
import os
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from . import gradebook

DAY = timedelta(days=1)


@dataclass
class Rule:
    per_day: float = 0.10
    max_days: float = 7
    grace: timedelta = timedelta(0)

    def fraction(self, late: timedelta) -> float:
        """The fraction of the earned score taken off for a submission ``late`` after its deadline."""
        late -= self.grace
        if late <= timedelta(0):
            return 0.0
        if late > self.max_days * DAY:
            return 1.0
        return min(1.0, math.ceil(late / DAY) * self.per_day)

    def words(self) -> str:
        grace = f" after a grace of {self.grace.total_seconds() / 60:g} minutes" if self.grace else ""
        return (f"{self.per_day:.0%} of the score per started day late{grace}, nothing after "
                f"{self.max_days:g} days")


@dataclass
class Deadline:
    due: datetime
    extensions: dict = field(default_factory=dict)     # student id -> datetime

    def of(self, student: str) -> datetime:
        return self.extensions.get(student, self.due)


@dataclass
class Course:
    rule: Rule
    deadlines: dict                                    # assignment -> Deadline


def _utc(value, where: str) -> datetime:
    if not isinstance(value, datetime):
        raise ValueError(f"{where} must be a date and time like 2026-10-09T23:59:00Z, got {value!r}")
    return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


def _number(table: dict, key: str, default: float, where: str) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ValueError(f"{where}.{key} must be a number >= 0, got {value!r}")
    return float(value)


def load(path: Path) -> Course:
    """Read a course file; a clear ValueError names the entry that is wrong."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"course file {path} is not valid TOML: {exc}") from None
    table = data.get("penalty", {})
    if not isinstance(table, dict):
        raise ValueError(f"[penalty] in {path} must be a table, got {table!r}")
    rule = Rule(_number(table, "per_day", 0.10, "penalty"), _number(table, "max_days", 7, "penalty"),
                timedelta(minutes=_number(table, "grace_minutes", 0, "penalty")))
    deadlines = {}
    for name, entry in data.items():
        if name == "penalty":
            continue
        if not isinstance(entry, dict) or "due" not in entry:
            raise ValueError(f"[{name}] in {path} must give due = <date and time>, got {entry!r}")
        ext = entry.get("extensions", {})
        if not isinstance(ext, dict):
            raise ValueError(f"{name}.extensions in {path} must map student ids to dates, got {ext!r}")
        deadlines[name] = Deadline(_utc(entry["due"], f"{name}.due"),
                                   {str(s): _utc(d, f"{name}.extensions.{s}") for s, d in ext.items()})
    return Course(rule, deadlines)


def parse_timestamp(text: str) -> datetime | None:
    """nbgrader's ``timestamp.txt`` ("2026-10-09 23:59:00.123456 UTC"), or an ISO time; None if neither."""
    text = text.strip().removesuffix(" UTC")
    try:
        return _utc(datetime.fromisoformat(text), "timestamp")
    except ValueError:
        return None


def submitted_at(submission: Path, assignment: str, notebook_name: str) -> datetime:
    """When the student submitted: nbgrader's exchange timestamp if there is one, else the notebook's (or the
    zip's, or the folder's) modification time."""
    submission = Path(submission)
    if submission.is_dir():
        for folder in (submission, submission / assignment):
            stamp = folder / "timestamp.txt"
            if stamp.is_file() and not stamp.is_symlink():
                when = parse_timestamp(stamp.read_text(errors="replace")[:100])
                if when:
                    return when
        for candidate in (submission / notebook_name, submission / assignment / notebook_name):
            if candidate.is_file() and not candidate.is_symlink():
                submission = candidate
                break
    return datetime.fromtimestamp(os.lstat(submission).st_mtime, timezone.utc)


def apply(result, course: Course, submission: Path, notebook_name: str) -> None:
    """Set ``result.submitted_at``, ``result.penalty`` (points off) and ``result.late_note`` (the words
    shown in the feedback) for one student's grading.StudentResult."""
    deadline = course.deadlines.get(result.assignment)
    when = submitted_at(submission, result.assignment, notebook_name)
    result.submitted_at = when.isoformat(timespec="seconds")
    if deadline is None:
        return
    due = deadline.of(result.student)
    late = when - due
    fraction = course.rule.fraction(late)
    result.penalty = round(fraction * result.score, 4)
    if fraction == 0:
        return
    extended = " (your extension)" if result.student in deadline.extensions else ""
    hours = late.total_seconds() / 3600
    result.late_note = (f"Submitted {when:%Y-%m-%d %H:%M} UTC, {hours:.1f} hours after the deadline "
                        f"{due:%Y-%m-%d %H:%M} UTC{extended}. Late rule: {course.rule.words()}. "
                        f"{fraction:.0%} of your {result.score:g} points is taken off: "
                        f"{result.score - result.penalty:g} / {result.max_score:g}.")


def store(db_url: str, course: Course, assignment: str, module, results) -> None:
    """Put the deadline, submission times and penalties into nbgrader's gradebook, where its export and the
    formgrader read them (``late_submission_penalty``)."""
    notebook = Path(module.NOTEBOOK).stem
    deadline = course.deadlines.get(assignment)
    with gradebook.open(db_url) as gb:
        if deadline is not None:
            gb.update_or_create_assignment(assignment, duedate=deadline.due.replace(tzinfo=None))
        for r in results:
            sub = gb.find_submission(assignment, r.student)
            if r.submitted_at:
                sub.timestamp = datetime.fromisoformat(r.submitted_at).replace(tzinfo=None)
            if deadline is not None and r.student in deadline.extensions:
                sub.extension = deadline.extensions[r.student] - deadline.due
            gb.find_submission_notebook(notebook, assignment, r.student).late_submission_penalty = r.penalty
        gb.db.commit()
