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
is never affected. An extension is keyed by the student's submission name as it is in SUBMISSIONS (the
folder, or the zip without ``.zip``: ``"o'neil" = ...``), whatever its id looks like once encoded.

The submission time is the one nbgrader's exchange wrote, where there is one: ``nbgrader submit`` copies the
student's assignment folder into the exchange and then writes ``timestamp.txt`` at its top, over any file of
that name the student's folder held, and ``nbgrader collect`` copies that folder to
``submitted/<student>/<assignment>/``. So only ``SUBMISSIONS/<student>/<assignment>/timestamp.txt`` is
believed, and only when the student's folder holds no ``<notebook>`` at its top (which would be graded
instead, and did not come through the exchange): a ``timestamp.txt`` anywhere else (the top of the student's folder, deeper down,
in a zip) is the student's own file. Without it, the time the notebook (or the zip, or the folder) was last
modified, which whoever made the file can set. The feedback and the record say which time was used.

A modification time changes when a folder is copied (``cp -r``), so a regrade of a copy would move the
submission: where the time comes from a modification time and the student's record holds a submission time
for the same notebook (its SHA-256), the record's time stands, and the late note says so; a changed notebook
takes its own new time. ``submission_secret.txt``, which nbgrader's submit writes beside ``timestamp.txt``, is
read by the same rule (:func:`exchange_files`) and kept in the record for returning feedback.
"""
from __future__ import annotations

import math
import os
import stat
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from ..notebook import NotebookProblem, read_regular, stat_regular, student_id
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
    extensions: dict = field(default_factory=dict)     # student id (notebook.student_id) -> datetime

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
        # keyed by the submission's name as the course file writes it; graded students are known by their ids
        deadlines[name] = Deadline(_utc(entry["due"], f"{name}.due"),
                                   {student_id(str(s)): _utc(d, f"{name}.extensions.{s}") for s, d in ext.items()})
    return Course(rule, deadlines)


def parse_timestamp(text: str) -> datetime | None:
    """nbgrader's ``timestamp.txt`` ("2026-10-09 23:59:00.123456 UTC", to the microsecond), or an ISO time; an
    exchange configured with another time zone ("... EDT") is read as nbgrader reads it (``parse_utc``); None if
    none of these."""
    text = text.strip()
    try:
        return _utc(datetime.fromisoformat(text.removesuffix(" UTC")), "timestamp")
    except ValueError:
        pass
    from nbgrader.utils import parse_utc     # seconds to import: only for a time zone other than UTC
    try:
        return _utc(parse_utc(text), "timestamp")
    except (ValueError, OverflowError, TypeError):
        return None


NBGRADER = "nbgrader's exchange timestamp"


def _mtime(st) -> datetime:
    """A file's modification time; one out of datetime's range (a file system that keeps any) as its end."""
    try:
        return datetime.fromtimestamp(st.st_mtime, timezone.utc)
    except (OverflowError, ValueError, OSError):
        return datetime(9999, 1, 1, tzinfo=timezone.utc) if st.st_mtime > 0 else datetime(1970, 1, 1,
                                                                                         tzinfo=timezone.utc)


# nbgrader's own files in a submission that came through its exchange (``nbgrader submit`` writes both over the
# student's, after copying their folder): the key they are kept under -> the file's name
EXCHANGE_FILES = {"timestamp": "timestamp.txt", "submission_secret": "submission_secret.txt"}


def exchange_files(submission: Path, assignment: str, notebook_name: str) -> dict[str, str]:
    """nbgrader's exchange files of a submission, by their EXCHANGE_FILES keys, each as its text: only for a
    folder in nbgrader's layout (``<student>/<assignment>/``, no ``<student>/<notebook>``), only regular files
    reached through real folders, at most 1000 bytes of UTF-8 each; files missing or unreadable are left out."""
    submission = Path(submission)
    try:
        if not stat.S_ISDIR(os.lstat(submission).st_mode):
            return {}
    except OSError:
        return {}
    if stat_regular(submission / notebook_name, submission) is not None:
        return {}                # graded from the top of the folder: the exchange's files do not describe it
    found = {}
    for key, name in EXCHANGE_FILES.items():
        try:
            found[key] = read_regular(submission / assignment / name, 1000, submission).decode("utf-8")
        except (NotebookProblem, OSError, UnicodeDecodeError):      # missing, too large or not text: not nbgrader's
            continue
    return found


def submission_time(submission: Path, assignment: str, notebook_name: str) -> tuple[datetime, str]:
    """When the student submitted, and where that time comes from (in words): for a folder in nbgrader's
    layout (``<student>/<assignment>/``, no ``<student>/<notebook>``), nbgrader's exchange timestamp in it; else
    the modification time of the notebook, of the zip, or of the folder. Files are reached through real folders
    only (no link is followed at any step)."""
    submission = Path(submission)
    try:
        entry = os.lstat(submission)
    except OSError:
        return datetime.now(timezone.utc), "the time of grading (the submission could not be read)"
    if not stat.S_ISDIR(entry.st_mode):
        return _mtime(entry), "the zip file's modification time"
    top = stat_regular(submission / notebook_name, submission)
    if top is not None:          # graded from the top of the folder: no exchange timestamp describes it
        return _mtime(top), "the notebook's modification time"
    when = parse_timestamp(exchange_files(submission, assignment, notebook_name).get("timestamp", ""))
    if when:
        return when, f"{NBGRADER}, {assignment}/timestamp.txt"
    inner = stat_regular(submission / assignment / notebook_name, submission)
    if inner is not None:
        return _mtime(inner), "the notebook's modification time"
    return _mtime(entry), "the folder's modification time"


def submitted_at(submission: Path, assignment: str, notebook_name: str) -> datetime:
    """When the student submitted (:func:`submission_time` without the words)."""
    return submission_time(submission, assignment, notebook_name)[0]


def apply(result, course: Course | None, submission: Path, notebook_name: str, previous: dict | None = None) -> None:
    """Set, for one student's results.StudentResult, ``submitted_at`` and nbgrader's exchange files
    (``timestamp``, ``submission_secret``) and, with a ``course`` giving the assignment a deadline, ``penalty``
    (points off) and ``late_note`` (the words shown in the feedback and kept in the record: when, by which
    clock, and the penalty if any). ``previous``: the student's record from an earlier grading, whose time
    stands for the same notebook when this one's comes from a modification time (module docstring)."""
    when, source = submission_time(submission, result.assignment, notebook_name)
    found = exchange_files(submission, result.assignment, notebook_name)
    same = bool(previous and result.notebook_sha256 and previous.get("notebook_sha256") == result.notebook_sha256)
    if same and not source.startswith(NBGRADER):
        kept = _recorded(previous.get("submitted_at"))
        if kept is not None and kept != when:
            source = (f"the record of this same notebook's earlier grading (a copy's modification time, "
                      f"{when:%Y-%m-%d %H:%M} UTC, is not when it was submitted)")
            when = kept
        # a copy without nbgrader's files (graded from another folder) keeps the ones the record has
        found = found or {k: previous[k] for k in EXCHANGE_FILES if previous.get(k)}
    result.submitted_at = when.isoformat()          # to the microsecond, as nbgrader's timestamp.txt has it
    result.timestamp, result.submission_secret = found.get("timestamp"), found.get("submission_secret")
    deadline = course.deadlines.get(result.assignment) if course else None
    if deadline is None:
        return
    due = deadline.of(result.student)
    late = when - due
    fraction = course.rule.fraction(late)
    result.penalty = round(fraction * result.score, 4)
    extended = " (your extension)" if result.student in deadline.extensions else ""
    if fraction == 0:
        result.late_note = f"Submitted {when:%Y-%m-%d %H:%M} UTC (time taken from {source}): on time{extended}."
        return
    result.late_note = (f"Submitted {when:%Y-%m-%d %H:%M} UTC (time taken from {source}), {_duration(late)} "
                        f"after the deadline {due:%Y-%m-%d %H:%M} UTC{extended}. Late rule: {course.rule.words()}. "
                        f"{fraction:.0%} of your {result.score:g} points is taken off: "
                        f"{result.score - result.penalty:g} / {result.max_score:g}.")


def _recorded(text) -> datetime | None:
    """A record's ``submitted_at`` (ISO, UTC) as a time; None when there is none or it is not a time."""
    try:
        return _utc(datetime.fromisoformat(text), "submitted_at") if isinstance(text, str) else None
    except ValueError:
        return None


def _duration(late: timedelta) -> str:
    """How late, in the unit a reader would use: "27 seconds", "12 minutes", "5.5 hours", "3.2 days"."""
    seconds = late.total_seconds()
    for unit, size, limit in (("second", 1, 60), ("minute", 60, 3600), ("hour", 3600, 86400 * 2)):
        if seconds < limit:
            n = round(seconds / size, 1 if unit == "hour" else None)
            return f"{n:g} {unit}" + ("" if n == 1 else "s")
    return f"{seconds / 86400:.1f} days"


def store(db_url: str, course: Course, assignment: str, module, results) -> None:
    """Put the deadline, extensions and penalties into nbgrader's gradebook, where its export and the
    formgrader read them (``late_submission_penalty``)."""
    notebook = Path(module.NOTEBOOK).stem
    deadline = course.deadlines.get(assignment)
    with gradebook.open(db_url, write=True) as gb:
        if deadline is not None:
            gb.update_or_create_assignment(assignment, duedate=deadline.due.replace(tzinfo=None))
        for r in results:
            sub = gb.find_submission(assignment, r.student)       # its timestamp: gradebook.write_scores
            if deadline is not None and r.student in deadline.extensions:
                sub.extension = deadline.extensions[r.student] - deadline.due
            gb.find_submission_notebook(notebook, assignment, r.student).late_submission_penalty = r.penalty
        gb.db.commit()
