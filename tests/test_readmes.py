"""The prerequisite table of the assignments: one table, the same in the three READMEs, true to the course.

The table sits in README.md (for self-learners), course/README.md and assignments/README.md. Its rows are the
assignments found in solutions/, in order; its "lessons before it" cells name lessons that exist. Any other
sentence of the READMEs that says "A<n> after <lessons>" must agree with it.
"""
from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
READMES = ["README.md", "course/README.md", "assignments/README.md"]
HEADER = "| assignment | lessons before it | what you build | hours |"
LESSONS = sorted(int(p.name[:2]) for p in (ROOT / "course").glob("[0-9][0-9]_*.ipynb"))


def table(name: str) -> list[str]:
    lines = (ROOT / name).read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == HEADER]
    assert len(starts) == 1, f"{name}: expected the prerequisite table once, found it {len(starts)} times"
    rows = []
    for line in lines[starts[0]:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    return rows


def lessons_before(cell: str) -> set[int]:
    """'05–07, 09, 11 (Parts 1–6 ...)' -> {5, 6, 7, 9, 11}: the list before any parenthesis."""
    out: set[int] = set()
    for part in cell.split("(")[0].split(","):
        ends = [int(n) for n in re.findall(r"\d\d", part)]
        assert 1 <= len(ends) <= 2, f"cannot read the lessons {part!r}"
        out.update(range(ends[0], ends[-1] + 1))
    return out


def rows_by_assignment() -> dict[str, set[int]]:
    rows = {}
    for line in table("course/README.md")[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        assert len(cells) == 4, f"a row needs four cells: {line}"
        name = re.match(r"\*\*(A\d)\*\*", cells[0])
        assert name, f"the first cell names the assignment in bold: {cells[0]!r}"
        rows[name.group(1)] = lessons_before(cells[1])
    return rows


@pytest.mark.parametrize("name", READMES[1:])
def test_the_three_readmes_hold_the_same_table(name):
    assert table(name) == table(READMES[0]), f"{name}'s prerequisite table differs from README.md's"


def test_one_row_per_assignment_in_order():
    found = sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").exists())
    assert list(rows_by_assignment()) == found


def test_the_lessons_named_exist_and_an_assignment_never_needs_fewer_than_the_one_before():
    rows = rows_by_assignment()
    for assignment, lessons in rows.items():
        assert lessons, f"{assignment} lists no lessons"
        assert lessons <= set(LESSONS), f"{assignment} names lessons that do not exist: {lessons - set(LESSONS)}"
    # taken in the course's order, each assignment comes after the last lesson it needs
    last = [max(lessons) for lessons in rows.values()]
    assert last == sorted(last), f"the assignments' last lessons are out of order: {dict(zip(rows, last, strict=True))}"


def test_batch_norm_and_he_initialisation_come_after_lesson_11():
    # A2 (Part 7: batch normalisation; Parts 6 and 8: He) and A3 (Linear: He) use what lesson 11 teaches
    lesson11 = (ROOT / "course" / "11_initialisation.ipynb").read_text()
    assert "Batch normalisation" in lesson11 and "He" in lesson11
    rows = rows_by_assignment()
    assert 11 in rows["A2"] and 11 in rows["A3"]


@pytest.mark.parametrize("name", READMES)
def test_no_other_sentence_states_different_prerequisites(name):
    rows = rows_by_assignment()
    text = (ROOT / name).read_text()
    body = text.replace("\n".join(table(name)), "")
    for assignment, lessons in re.findall(r"\b(A\d) after (?:lessons? )?((?:\d\d(?:–\d\d)?(?:, | and )?)+)", body):
        said = lessons_before(lessons.replace(" and ", ", ").rstrip(", "))
        assert said == rows[assignment], f"{name} says {assignment} after {lessons!r}; the table says {rows[assignment]}"
