"""Grades for the learning-management system: the CSV Canvas imports, the CSV Moodle imports, and a roster
check.

The instructor gives the roster the LMS knows (Canvas's own gradebook export will do), and names the
roster column that holds what DeepGrad calls the student id, the name of the student's submission folder
or zip (``--match``, e.g. ``"SIS Login ID"``). Every roster row gets a line in the LMS file, with its score
where the student was graded and an empty cell where not (Canvas and Moodle leave an empty cell alone);
the roster check lists the students of the roster with no grade (missing) and the graded students the
roster does not know (unknown), who would otherwise be lost on import.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote

# What each LMS reads, column by column; a column is copied from the roster column of the same name.
CANVAS = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE = ("First name", "Surname", "ID number", "Email address")
FORMATS = ("canvas", "moodle")


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


def read_grades(path: Path) -> dict:
    """grades.csv as {submission name: score}: ids are percent-encoded names (grading.student_id)."""
    with open(path, newline="", encoding="utf-8") as f:
        return {unquote(r["student_id"]): float(r["score"]) for r in csv.DictReader(f)}


def check(roster: list[dict], grades: dict, match: str) -> RosterCheck:
    ids = [r[match].strip() for r in roster]
    return RosterCheck(sorted(set(ids) - set(grades)), sorted(set(grades) - set(ids)))


def export(fmt: str, assignment: str, max_score: float, roster: list[dict], grades: dict, match: str,
           to: Path) -> RosterCheck:
    """Write ``to`` in ``fmt`` ("canvas" or "moodle"), one row per roster student; return the roster check."""
    if fmt not in FORMATS:
        raise ValueError(f"fmt must be one of {FORMATS}, got {fmt!r}")
    columns = CANVAS if fmt == "canvas" else MOODLE
    with open(to, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow([*columns, assignment])
        if fmt == "canvas":
            # Canvas's own export has this row; its import skips it, and a reader sees out of how much
            w.writerow(["Points Possible", *[""] * (len(columns) - 1), f"{max_score:g}"])
        for r in roster:
            key = r[match].strip()
            score = grades.get(key)
            w.writerow([r.get(c, "") for c in columns] + ["" if score is None else f"{score:g}"])
    return check(roster, grades, match)
