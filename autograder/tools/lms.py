"""Grades for the learning-management system: the CSV Canvas imports, the CSV Moodle imports, and a roster
check.

The instructor gives the roster the LMS knows (Canvas's own gradebook export will do), and names the
roster column that holds what DeepGrad calls the student id, the name of the student's submission folder
or zip (``--match``, e.g. ``"SIS Login ID"``). Every roster row gets a line in the LMS file, with its score
where the student was graded and an empty cell where not (Canvas and Moodle leave an empty cell alone);
the roster check lists the students of the roster with no grade (missing) and the graded students the
roster does not know (unknown), who would otherwise be lost on import. A roster name is matched to a grade by
the id DeepGrad gives that submission name (``notebook.student_id``), so names that need encoding, or are
too long to be an id as they are, still match.

Every cell written that a spreadsheet would take for a formula (it starts with ``= + - @``, a tab or a
carriage return) is written with a ``'`` in front, as spreadsheets themselves export such text; plain
numbers (Canvas's numeric ``ID``, ``-3``) and the scores are written as they are, so the LMS still matches
its ID columns.
"""
from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

from ..notebook import student_id

# What each LMS reads, column by column; a column is copied from the roster column of the same name.
CANVAS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE = ("First name", "Surname", "ID number", "Email address")
FORMATS = ("canvas", "moodle")

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def cell(value) -> str:
    """A CSV cell no spreadsheet runs as a formula: text starting with ``= + - @``, a tab or a carriage
    return gets a ``'`` in front; a plain number is left as it is."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


@dataclass
class RosterCheck:
    missing: list       # roster ids with no grade
    unknown: list       # graded ids not in the roster

    def lines(self) -> list[str]:
        out = []
        if self.missing:
            out.append(f"{len(self.missing)} in the roster but not graded (left empty): {', '.join(self.missing)}")
        if self.unknown:
            out.append(f"{len(self.unknown)} graded but not in the roster (not exported): "
                       f"{', '.join(self.unknown)}")
        return out or ["roster and grades agree: every student in the roster has a grade"]


def read_roster(path: Path, match: str) -> list[dict]:
    """The roster's rows (dicts by column), each with a non-empty ``match`` column, unique across rows."""
    path = Path(path)
    text = path.read_text(encoding="utf-8-sig")       # Excel's CSVs start with a byte-order mark
    rows = list(csv.DictReader(io.StringIO(text)))
    columns = list(rows[0].keys()) if rows else []
    if match not in columns:
        raise ValueError(f"roster {path} has no column match={match!r}; its columns are {columns}")
    # Canvas's export has a "Points Possible" row under the header: not a student
    rows = [r for r in rows if (r[match] or "").strip() and (r[columns[0]] or "").strip() != "Points Possible"]
    seen = set()
    for r in rows:
        key = r[match].strip()
        if key in seen:
            raise ValueError(f"roster {path}: {match} {key!r} appears twice")
        seen.add(key)
    return rows


def check(roster: list[dict], grades: dict, match: str) -> RosterCheck:
    """Roster names with no grade, and graded students (by name, where the id gives it back) the roster lacks."""
    names = [r[match].strip() for r in roster]
    ids = {student_id(n) for n in names}
    return RosterCheck(sorted(n for n in set(names) if student_id(n) not in grades),
                       sorted(shown(i) for i in set(grades) - ids))


def shown(sid: str) -> str:
    """A student id as a terminal shows it: the name it encodes where that is plain printable text."""
    name = unquote(sid)
    return name if name.isprintable() else sid


def export(fmt: str, column: str, max_score: float, roster: list[dict], grades: dict, match: str,
           to: Path) -> RosterCheck:
    """Write ``to`` in ``fmt`` ("canvas" or "moodle"), one row per roster student, the scores ``grades`` ({student
    id: score}) under the header ``column``; return the roster check. Canvas puts the scores into the assignment
    whose column header is ``column`` ("A1 (12345)", as its own export writes it, or the exact title) and makes a
    new assignment of any other."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    if not column.strip():
        raise ValueError(f"column must name the LMS column (e.g. 'A1 (12345)'), got {column!r}")
    columns = CANVAS if fmt == "canvas" else MOODLE
    with open(to, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([cell(c) for c in (*columns, column)])
        if fmt == "canvas":
            # Canvas's own export has this row; its import skips it, and a reader sees out of how much
            w.writerow(["Points Possible", *[""] * (len(columns) - 1), f"{max_score:g}"])
        for r in roster:
            score = grades.get(student_id(r[match].strip()))
            w.writerow([cell(r.get(c)) for c in columns] + ["" if score is None else f"{score:g}"])
    return check(roster, grades, match)
