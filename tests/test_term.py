"""An instructor's term end to end on a small class: grade with deadlines, regrade one student, the record,
the autograded notebooks, the class report, the LMS export and the returned feedback."""
from __future__ import annotations

import csv
import html
import json
import os
import shutil
import zipfile
from pathlib import Path

import pytest
from harness import grade_rows, submit

from autograder import checks
from autograder.records import autograded, late, manual, record
from autograder.tools import classreport
from autograder.cli import main

ROOT = Path(__file__).resolve().parent.parent
SOLUTION = json.loads((ROOT / "solutions" / "A1" / "A1.ipynb").read_text())
DW_V = "dW = X.T @ G / N + 2 * reg * W"
FULL = sum(p.points for p in checks.load("A1").PARTS)      # the automatic parts' points (written ones: by hand)
CAROL = FULL - 1                                            # her dW has the wrong sign: 1 of svm_vectorized's 2
HALF = f"{CAROL / 2:g}"                                     # 36 hours late: 2 started days at 25 % off


def notebook_with(grade_id: str, old: str, new: str) -> str:
    """The A1 solution with ``old`` replaced by ``new`` in the answer cell ``grade_id``."""
    nb = json.loads(json.dumps(SOLUTION))
    cell = next(c for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade_id") == grade_id)
    assert old in "".join(cell["source"]), old
    cell["source"] = "".join(cell["source"]).replace(old, new)
    return json.dumps(nb)


COURSE = """
[penalty]
per_day = 0.25
max_days = 3

[A1]
due = 2026-10-09T23:59:00Z
extensions = { dave = 2026-10-20T23:59:00Z }
"""


@pytest.fixture(scope="module")
def term(tmp_path_factory):
    base = tmp_path_factory.mktemp("term")
    subs = base / "submitted"
    on_time, two_days_late = "2026-10-09 20:00:00.000000 UTC", "2026-10-11 12:00:00.000000 UTC"
    submit(subs, "alice", json.dumps(SOLUTION), on_time)
    submit(subs, "bob", (ROOT / "assignments" / "A1" / "A1.ipynb").read_text(), on_time)
    submit(subs, "carol", notebook_with("ans_svm_vectorized", DW_V, "dW = -(X.T @ G / N + 2 * reg * W)"), two_days_late)
    submit(subs, "dave", json.dumps(SOLUTION), two_days_late)           # late, but within his extension
    (base / "course.toml").write_text(COURSE)
    out = base / "out"
    assert main(["grade", "A1", str(subs), "--output", str(out), "--jobs", "2", "--no-progress",
                 "--course", str(base / "course.toml")]) == 0
    first = grade_rows(out / "grades.csv")
    seeds = {s: record.seed(out, s) for s in first}
    # a late submission (or a regrade) of one student, graded alone into the same folder
    late_subs = base / "late"
    submit(late_subs, "erin", json.dumps(SOLUTION), on_time)
    shutil.copytree(subs / "carol", late_subs / "carol")
    assert main(["grade", "A1", str(late_subs), "--output", str(out), "--no-progress",
                 "--course", str(base / "course.toml")]) == 0
    return base, out, first, seeds


def test_regrading_one_student_keeps_the_whole_class(term):
    _, out, first, _ = term
    rows = grade_rows(out / "grades.csv")
    assert sorted(rows) == ["alice", "bob", "carol", "dave", "erin"]
    assert rows["alice"] == first["alice"] and rows["bob"]["score"] == "0"
    assert rows["erin"]["score"] == f"{FULL:g}"


def test_the_seed_is_recorded_and_reused_on_a_regrade(term):
    _, out, first, seeds = term
    assert all(isinstance(s, int) for s in seeds.values())
    assert record.seed(out, "carol") == seeds["carol"]          # regraded: the same inputs again
    assert record.seed(out, "erin") not in seeds.values()       # a new student: a fresh draw
    # the same inputs give the same verdicts and the same feedback lines
    assert grade_rows(out / "grades.csv")["carol"]["svm_vectorized"] == first["carol"]["svm_vectorized"] == "1"


def test_seed_option_overrides_the_record(term, tmp_path):
    base, out, _, seeds = term
    subs = tmp_path / "one"
    shutil.copytree(base / "submitted" / "alice", subs / "alice")
    assert main(["grade", "A1", str(subs), "--output", str(out), "--no-progress", "--seed", "7",
                 "--course", str(base / "course.toml")]) == 0
    assert record.seed(out, "alice") == 7


def test_late_penalty_follows_the_course_file_and_is_shown(term):
    _, out, _, _ = term
    rows = grade_rows(out / "grades.csv")
    assert rows["carol"]["late_penalty"] == HALF and rows["carol"]["score"] == HALF
    assert rows["dave"]["late_penalty"] == "0" and rows["dave"]["score"] == f"{FULL:g}"     # his extension
    page = (out / "feedback" / "carol" / "A1.html").read_text()
    assert "hours after the deadline" in page and f"{HALF} / {FULL:g}" in page
    assert "deadline" not in (out / "feedback" / "dave" / "A1.html").read_text()
    rec = record.load(out, "carol")
    assert rec["submitted_at"] == "2026-10-11T12:00:00+00:00" and rec["penalty"] == float(HALF)


def test_gradebook_holds_penalties_for_nbgrader(term):
    _, out, _, _ = term
    from nbgrader.api import Gradebook

    from autograder._env import ensure_tools_on_path
    ensure_tools_on_path()
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:
        sub = gb.find_submission("A1", "carol")
        assert sub.late_submission_penalty == float(HALF) and sub.score == CAROL
        assert str(sub.timestamp).startswith("2026-10-11 12:00")
        assert gb.find_assignment("A1").duedate.isoformat().startswith("2026-10-09T23:59")


def test_autograded_notebooks_where_the_formgrader_looks(term):
    _, out, _, _ = term
    import nbformat
    nb = json.loads((out / "autograded" / "carol" / "A1" / "A1.ipynb").read_text())
    nbformat.validate(nbformat.from_dict(nb))          # a notebook Jupyter and the formgrader open
    graded = {c["metadata"]["nbgrader"]["grade_id"]: c for c in nb["cells"]
              if c.get("metadata", {}).get("nbgrader", {}).get("grade")}
    assert set(graded) >= {"svm_vectorized", "digits"}
    text = "".join(graded["svm_vectorized"]["outputs"][0]["text"])
    assert text.startswith("svm_vectorized: 1 / 2") and "opposite sign" in text
    # the feedback, never a hidden value: what the page says and nothing more
    page = (out / "feedback" / "carol" / "A1.html").read_text()
    for line in text.splitlines()[2:]:
        assert html.escape(line[2:]) in page
    assert not (out / "autograded" / "bob" / "A1" / "A1.ipynb").read_text().count("BEGIN HIDDEN")


def test_class_report_counts_the_diagnosed_mistakes(term):
    _, out, _, _ = term
    assert main(["report", "A1", str(out)]) == 0
    page = (out / "report.html").read_text()
    assert page.count("<svg") >= 7 and "http" not in page.replace("http://www.w3.org/2000/svg", "")
    parts = {p["name"]: p for p in classreport.summarise(record.load_all(out, "A1"), checks.load("A1"))}
    assert parts["svm_vectorized"]["mistakes"]["sign"] == 1            # carol
    assert parts["svm_vectorized"]["mistakes"]["stub"] == 1            # bob
    assert sorted(parts["svm_vectorized"]["scores"]) == [0, 1, 2, 2, 2]
    assert "wrong sign" in page and "not attempted (still the stub)" in page


def test_export_to_canvas_and_moodle_with_a_roster_check(term, capsys):
    base, out, _, _ = term
    roster = base / "roster.csv"
    roster.write_text("\ufeffStudent,ID,SIS User ID,SIS Login ID,Section,A1 (123)\n"
                      "    Points Possible,,,,,13\n"
                      "Alice A,101,s1,alice,S1,\nBob B,102,s2,bob,S1,\nCarol C,103,s3,carol,S2,\n"
                      "Dave D,104,s4,dave,S2,\nFrank F,106,s6,frank,S2,\n")
    to = base / "canvas.csv"
    assert main(["export", "A1", str(out), "--roster", str(roster), "--match", "SIS Login ID",
                 "--to", str(to)]) == 1                      # erin is graded but not in the roster
    said = capsys.readouterr().out
    assert "1 in the roster but not graded (left empty): frank" in said
    assert "1 graded but not in the roster (not exported): erin" in said
    rows = list(csv.reader(open(to)))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "A1"]
    module = checks.load("A1")
    points = sum(p.points for p in module.PARTS) + sum(manual.parts(module).values())   # written parts too
    assert rows[1][0] == "Points Possible" and rows[1][-1] == f"{points:g}"
    assert {r[1]: r[-1] for r in rows[2:]} == {"101": f"{FULL:g}", "102": "0", "103": HALF,
                                             "104": f"{FULL:g}", "106": ""}

    moodle_roster = base / "moodle.csv"
    moodle_roster.write_text("First name,Surname,ID number,Email address,login\nAlice,A,9001,a@u.edu,alice\n")
    assert main(["export", "A1", str(out), "--roster", str(moodle_roster), "--match", "login", "--format",
                 "moodle", "--to", str(base / "moodle-out.csv")]) == 1
    assert list(csv.reader(open(base / "moodle-out.csv"))) == [
        ["First name", "Surname", "ID number", "Email address", "A1"], ["Alice", "A", "9001", "a@u.edu", f"{FULL:g}"]]


def test_roster_without_the_match_column_is_refused(term, capsys):
    base, out, _, _ = term
    (base / "bad.csv").write_text("name,email\nA,a@u\n")
    with pytest.raises(SystemExit):
        main(["export", "A1", str(out), "--roster", str(base / "bad.csv"), "--to", str(base / "x.csv")])
    assert "no column match='student_id'" in capsys.readouterr().err


def test_return_one_zip_per_student_named_for_the_lms(term):
    base, out, _, _ = term
    roster = base / "names.csv"
    roster.write_text("login,lms_id\nalice,u101\ncarol,u103\n")
    to = base / "returned"
    assert main(["return", "A1", str(out), "--to", str(to), "--roster", str(roster), "--match", "login",
                 "--name", "lms_id"]) == 0
    assert sorted(p.name for p in to.iterdir()) == ["bob.zip", "dave.zip", "erin.zip", "u101.zip", "u103.zip"]
    with zipfile.ZipFile(to / "u103.zip") as z:
        assert sorted(z.namelist()) == ["A1-autograded.ipynb", "A1-feedback.html"]
        assert "hours after the deadline" in z.read("A1-feedback.html").decode()
        # the seed stays with the instructor: nothing returned lets a student replay the inputs
        assert all(str(record.seed(out, "carol")) not in z.read(n).decode() for n in z.namelist())
    nbg = base / "course"
    assert main(["return", "A1", str(out), "--to", str(nbg), "--layout", "nbgrader"]) == 0
    assert (nbg / "feedback" / "carol" / "A1" / "A1.html").read_text() == \
        (out / "feedback" / "carol" / "A1.html").read_text()


def test_return_refuses_a_name_column_the_roster_lacks(term, capsys):
    base, out, _, _ = term
    (base / "names2.csv").write_text("login,lms_id\nalice,u101\n")
    with pytest.raises(SystemExit):
        main(["return", "A1", str(out), "--to", str(base / "r2"), "--roster", str(base / "names2.csv"),
              "--match", "login", "--name", "Canvas ID"])
    assert "--name 'Canvas ID' is not a column" in capsys.readouterr().err


def test_late_rule_and_course_file_errors(tmp_path):
    from datetime import timedelta
    rule = late.Rule(per_day=0.1, max_days=2, grace=timedelta(minutes=10))
    assert rule.fraction(timedelta(minutes=10)) == 0
    assert rule.fraction(timedelta(minutes=11)) == pytest.approx(0.1)
    assert rule.fraction(timedelta(days=1, minutes=11)) == pytest.approx(0.2)
    assert rule.fraction(timedelta(days=2, minutes=11)) == 1.0
    bad = tmp_path / "c.toml"
    bad.write_text("[A1]\ndue = 'friday'\n")
    with pytest.raises(ValueError, match=r"A1.due must be a date and time.*'friday'"):
        late.load(bad)
    bad.write_text("[penalty]\nper_day = -1\n[A1]\ndue = 2026-01-01T00:00:00Z\n")
    with pytest.raises(ValueError, match=r"penalty.per_day must be a number >= 0, got -1"):
        late.load(bad)
    assert late.parse_timestamp("2026-10-11 12:00:00.5 UTC").isoformat() == "2026-10-11T12:00:00.500000+00:00"


def test_submission_time_falls_back_to_the_file(tmp_path):
    (tmp_path / "s").mkdir()
    nb = tmp_path / "s" / "A1.ipynb"
    nb.write_text("{}")
    os.utime(nb, (1760000000, 1760000000))
    assert late.submitted_at(tmp_path / "s", "A1", "A1.ipynb").timestamp() == 1760000000


def test_annotate_only_touches_graded_cells():
    class P:
        name, points, score, status, lines = "p1", 2.0, 1.0, "ok", []
    nb = {"cells": [{"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "p1", "grade": True}},
                     "outputs": ["old"], "source": ""},
                    {"cell_type": "code", "metadata": {"nbgrader": {"grade_id": "a1", "solution": True}},
                     "outputs": ["mine"], "source": ""}]}
    autograded.annotate(nb, type("R", (), {"parts": [P()]})())
    assert nb["cells"][0]["outputs"][0]["text"].startswith("p1: 1 / 2")
    assert nb["cells"][1]["outputs"] == ["mine"]


def test_the_formgrader_copy_shows_control_characters_as_escapes():
    """Jupyter renders a stream's ANSI codes: a student's error text must not hide or fake lines for the grader."""
    from autograder.feedback import cell_text
    from autograder.results import Line

    class P:
        name, points, score, status = "p1", 2.0, 0.0, "error"
        lines = [Line(False, "Error: ValueError: \x1b[8mhidden\x1b[0m \x1b]52;c;ZXZpbA==\x07 \u202efake")]
    text = cell_text(P())
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[8mhidden" in text and "\\u202efake" in text
