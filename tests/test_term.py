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
WRITTEN = sum(manual.parts(checks.load("A1")).values())    # the written answers' points, graded by hand
SECRET = "5e" * 64                  # what nbgrader's submit writes beside timestamp.txt (carol came through it)


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
    (subs / "carol" / "A1" / "submission_secret.txt").write_text(SECRET)
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
    with pytest.raises(SystemExit):
        main(["export", "A1", str(out), "--roster", str(base / "bad.csv"), "--match", "name", "--to",
              str(base / "x.csv"), "--column", " "])
    assert "column must name the LMS column (e.g. 'A1 (12345)'), got ' '" in capsys.readouterr().err


def test_return_one_zip_per_student_named_for_the_lms(term, capsys):
    base, out, _, _ = term
    roster = base / "names.csv"
    roster.write_text("login,lms_id\nalice,u101\ncarol,u103\n")
    to = base / "returned"
    assert main(["return", "A1", str(out), "--to", str(to), "--roster", str(roster), "--match", "login",
                 "--name", "lms_id"]) == 0
    assert sorted(p.name for p in to.iterdir()) == ["bob.zip", "dave.zip", "erin.zip", "u101.zip", "u103.zip"]
    # named by their id, and said: the roster lacks them (export refuses them)
    assert "warning: 3 graded but not in the roster" in capsys.readouterr().err
    with zipfile.ZipFile(to / "u103.zip") as z:
        assert sorted(z.namelist()) == ["A1-autograded.ipynb", "A1-feedback.html"]
        assert "hours after the deadline" in z.read("A1-feedback.html").decode()
        # the seed stays with the instructor: nothing returned lets a student replay the inputs
        assert all(str(record.seed(out, "carol")) not in z.read(n).decode() for n in z.namelist())
        page = z.read("A1-feedback.html").decode()
    # rendered on return, with the written answers: not graded yet, out of every point
    assert "written_sanity" in page and "not graded yet" in page and f"/ {FULL + WRITTEN:g}" in page
    nbg = base / "course"
    assert main(["return", "A1", str(out), "--to", str(nbg), "--layout", "nbgrader"]) == 0
    said = capsys.readouterr().err
    assert "4 not returned in nbgrader's layout" in said and "alice, bob, dave, erin" in said
    # what nbgrader's release_feedback reads beside the page: the exchange's files, exactly as collected
    folder = nbg / "feedback" / "carol" / "A1"
    assert sorted(p.name for p in folder.iterdir()) == ["A1.html", "submission_secret.txt", "timestamp.txt"]
    assert (folder / "timestamp.txt").read_text() == "2026-10-11 12:00:00.000000 UTC"
    assert (folder / "submission_secret.txt").read_text() == SECRET
    assert (folder / "A1.html").read_text() == page                   # one rendering for both layouts
    assert [p.name for p in (nbg / "feedback").iterdir()] == ["carol"]


def test_return_refuses_a_name_column_the_roster_lacks(term, capsys):
    base, out, _, _ = term
    (base / "names2.csv").write_text("login,lms_id\nalice,u101\n")
    with pytest.raises(SystemExit):
        main(["return", "A1", str(out), "--to", str(base / "r2"), "--roster", str(base / "names2.csv"),
              "--match", "login", "--name", "Canvas ID"])
    assert "--name 'Canvas ID' is not a column" in capsys.readouterr().err


def test_the_formgraders_scores_reach_the_page_and_the_export_without_a_regrade(term, tmp_path, capsys):
    """Written answers (and a score typed over an automatic part) graded in the formgrader after `deepgrad grade`:
    the returned page shows them with the grader's comment, and its total is the one the export sends."""
    from nbgrader.api import Gradebook

    from autograder._env import ensure_tools_on_path
    base, graded, _, _ = term
    out = shutil.copytree(graded, tmp_path / "out")          # this test's own gradebook: the others' stays as graded
    ensure_tools_on_path()
    with Gradebook(f"sqlite:///{out / 'gradebook.db'}") as gb:          # what the formgrader writes
        grade = gb.find_grade("written_sanity", "A1", "A1", "carol")
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gb.find_comment("written_sanity", "A1", "A1", "carol").manual_comment = "Right <idea>; say why."
        gb.find_comment("ans_predict", "A1", "A1", "carol").manual_comment = "Neat argmax."
        grade = gb.find_grade("predict", "A1", "A1", "alice")
        grade.manual_score = 0.5
        gb.db.commit()
    final = CAROL + 1.5 - float(HALF)
    assert grade_rows(out / "grades.csv")["carol"]["score"] == HALF          # grades.csv: as the last grading wrote it
    roster = tmp_path / "roster.csv"
    roster.write_text("Student,ID,SIS User ID,SIS Login ID,Section\nAlice A,101,s1,alice,S1\nCarol C,103,s3,carol,S2\n")
    assert main(["export", "A1", str(out), "--roster", str(roster), "--match", "SIS Login ID", "--to",
                 str(tmp_path / "canvas.csv"), "--column", "A1 (12345)"]) == 1        # bob, dave, erin: not in it
    rows = list(csv.reader(open(tmp_path / "canvas.csv")))
    assert rows[0][-1] == "A1 (12345)"
    predict = next(p.points for p in checks.load("A1").PARTS if p.name == "predict")
    assert {r[1]: r[-1] for r in rows[2:]} == {"101": f"{FULL - predict + 0.5:g}", "103": f"{final:g}"}
    err = capsys.readouterr().err
    assert "warning: 5 students with written answers not graded yet" in err
    assert "carol (written_grid)" in err and "alice (written_sanity, written_grid)" in err

    assert main(["return", "A1", str(out), "--to", str(tmp_path / "returned")]) == 0
    with zipfile.ZipFile(tmp_path / "returned" / "carol.zip") as z:
        page = z.read("A1-feedback.html").decode()
    assert "1.5 / 2" in page and html.escape("Your grader's comment: Right <idea>; say why.") in page
    assert "Your grader&#x27;s comment: Neat argmax." in page                  # under the part it answers
    assert page.index("Neat argmax") < page.index("written_sanity")
    assert "not graded yet / 2" in page and "1 written answer not graded yet: written_grid" in page
    assert f"after the late penalty <b class='some'>{final:g} / {FULL + WRITTEN:g}</b>" in page
    with zipfile.ZipFile(tmp_path / "returned" / "alice.zip") as z:
        page = z.read("A1-feedback.html").decode()
    assert html.escape("Your grader set this part's score by hand: 0.5") in page

    # an output folder without its gradebook: the scores of grades.csv, still with the warning
    (out / "gradebook.db").unlink()
    assert main(["export", "A1", str(out), "--roster", str(roster), "--match", "SIS Login ID", "--to",
                 str(tmp_path / "old.csv")]) == 1
    assert {r[1]: r[-1] for r in list(csv.reader(open(tmp_path / "old.csv")))[2:]} == {"101": f"{FULL:g}",
                                                                                       "103": HALF}
    assert "written answers not graded yet" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["return", "A1", str(out), "--to", str(tmp_path / "r")])
    assert "gradebook.db is missing): pass --gradebook URL" in capsys.readouterr().err


def test_a_regrade_from_a_copied_folder_keeps_the_time_of_the_same_notebook(tmp_path):
    """`cp -r` gives the copy new modification times: the record's time stands for the same notebook, and says
    so; a changed notebook is a new submission with its own time."""
    subs, course = tmp_path / "subs", tmp_path / "course.toml"
    course.write_text(COURSE)
    (subs / "frank").mkdir(parents=True)
    nb = subs / "frank" / "A1.ipynb"
    nb.write_text(json.dumps(SOLUTION))
    late_mtime = 1_791_720_000                      # 2026-10-11 12:00 UTC: 36 hours late, half off
    os.utime(nb, (late_mtime, late_mtime))
    out = tmp_path / "out"

    def grade(folder):
        assert main(["grade", "A1", str(folder), "--output", str(out), "--no-progress", "--course", str(course)]) == 0
        return record.load(out, "frank")

    first = grade(subs)
    assert first["submitted_at"] == "2026-10-11T12:00:00+00:00" and first["penalty"] == FULL / 2
    copy = tmp_path / "copy"
    shutil.copytree(subs, copy, copy_function=shutil.copyfile)       # as `cp -r`: the files' times are now
    assert (copy / "frank" / "A1.ipynb").stat().st_mtime > late_mtime
    again = grade(copy)
    assert (again["submitted_at"], again["penalty"]) == (first["submitted_at"], first["penalty"])
    assert "the record of this same notebook's earlier grading" in again["late_note"]
    assert grade_rows(out / "grades.csv")["frank"]["late_penalty"] == f"{FULL / 2:g}"
    (copy / "frank" / "A1.ipynb").write_text(notebook_with("ans_svm_vectorized", DW_V, DW_V + "  # checked"))
    os.utime(copy / "frank" / "A1.ipynb", (late_mtime - 86400, late_mtime - 86400))      # 12 hours late
    changed = grade(copy)
    assert changed["submitted_at"] == "2026-10-10T12:00:00+00:00" and changed["penalty"] == FULL / 4
    assert "the notebook's modification time" in changed["late_note"]


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
        name, points, score, status, lines, shares = "p1", 2.0, 1.0, "ok", [], []
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
        name, points, score, status, shares = "p1", 2.0, 0.0, "error", []
        lines = [Line(False, "Error: ValueError: \x1b[8mhidden\x1b[0m \x1b]52;c;ZXZpbA==\x07 \u202efake")]
    text = cell_text(P())
    assert "\x1b" not in text and "\x07" not in text and "\u202e" not in text
    assert "\\x1b[8mhidden" in text and "\\u202efake" in text
