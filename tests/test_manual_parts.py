"""Written answers graded by hand: `deepgrad grade` creates their gradebook cells, keeps a grader's scores and
comments through a regrade, and shows them in grades.csv; `deepgrad verify` checks MANUAL_PARTS against the
notebook."""
from __future__ import annotations

import csv
import json
import shutil
import types
from pathlib import Path

import pytest

from autograder import checks, grading, notebook
from autograder.records import manual
from autograder.checks import Part


def _notebook(points=2, answer="Doubling is linear because ...", code="def f(x):\n    return 2 * x\n"):
    def cell(kind, src, **nbg):
        return {"cell_type": kind, "id": f"c{len(cells)}", "source": src, "outputs": [] if kind == "code" else None,
                "metadata": {"nbgrader": {"schema_version": 3, "locked": False, **nbg}}}
    cells = []
    cells.append(cell("code", code, solution=True, grade=False, grade_id="ans_f"))
    cells.append(cell("code", "assert f(1) == 2\n", solution=False, grade=True, grade_id="double", points=1,
                      locked=True))
    cells.append(cell("markdown", answer, solution=True, grade=True,
                      grade_id="why_linear", points=points))
    for c in cells:
        if c["outputs"] is None:
            del c["outputs"]
        else:
            c["execution_count"] = None
    return {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def _module(manual_parts):
    double = Part("double", 1, inputs=lambda rng: {"x": 3.0}, call="f", args=("x",),
                  check=lambda inp, out, fb: fb.close("result", 6.0))
    return types.SimpleNamespace(NOTEBOOK="W1.ipynb", PARTS=[double], MANUAL_PARTS=manual_parts)


@pytest.fixture
def course(tmp_path, monkeypatch):
    """A one-part assignment W1 with one written question, and a folder of submissions."""
    root = tmp_path / "course"      # the course folder (autograder/course.py), beside subs/ and out/
    (root / "autograder").mkdir(parents=True)
    shutil.copy(Path(notebook.__file__).parent / "nbgrader_config.py", root / "autograder")
    (root / "solutions" / "W1").mkdir(parents=True)
    (root / "solutions" / "W1" / "W1.ipynb").write_text(json.dumps(_notebook()))
    (root / "assignments" / "W1").mkdir(parents=True)           # the released copy, as nbgrader writes it
    released = _notebook(answer="YOUR ANSWER HERE", code="def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()")
    (root / "assignments" / "W1" / "W1.ipynb").write_text(json.dumps(released))
    module = _module({"why_linear": 2})
    monkeypatch.setenv("DEEPGRAD_COURSE_DIR", str(root))
    monkeypatch.setattr(checks, "load", lambda a: module)
    subs = tmp_path / "subs"
    for student in ("alice", "bob"):
        (subs / student).mkdir(parents=True)
        (subs / student / "W1.ipynb").write_text(json.dumps(_notebook(answer=f"{student} says: f(a+b) = f(a)+f(b)")))
    return tmp_path, subs


def _grade(tmp_path, subs):
    out = tmp_path / "out"
    grading.grade_all("W1", subs, out, progress=False, seed=1)
    with open(out / "grades.csv") as f:
        return {r["student_id"]: r for r in csv.DictReader(f)}, f"sqlite:///{out / 'gradebook.db'}"


def test_regrade_keeps_manual_scores_and_comments(course):
    from nbgrader.api import Gradebook

    tmp_path, subs = course
    rows, db = _grade(tmp_path, subs)
    # before anyone grades by hand: blank in grades.csv, out of the auto points plus the manual ones
    assert list(rows["alice"]) == ["student_id", "assignment", "score", "max_score", "double", "why_linear",
                                   "late_penalty"]
    assert (rows["alice"]["score"], rows["alice"]["max_score"], rows["alice"]["why_linear"]) == ("1", "3", "")
    with Gradebook(db) as gb:
        grade = gb.find_grade("why_linear", "W1", "W1", "alice")
        assert grade.auto_score is None and grade.manual_score is None and grade.needs_manual_grade
        assert gb.find_grade_cell("why_linear", "W1", "W1").max_score == 2
        # what formgrader does when a grader types a score and a comment
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gb.find_comment("why_linear", "W1", "W1", "alice").manual_comment = "Right idea; say why f(a+b)=f(a)+f(b)."
        gb.db.commit()

    (subs / "carol").mkdir()                                # a late submission joins the regrade
    (subs / "carol" / "W1.ipynb").write_text(json.dumps(_notebook()))
    rows, db = _grade(tmp_path, subs)
    assert (rows["alice"]["score"], rows["alice"]["why_linear"], rows["alice"]["double"]) == ("2.5", "1.5", "1")
    assert rows["bob"]["why_linear"] == rows["carol"]["why_linear"] == ""
    with Gradebook(db) as gb:
        grade = gb.find_grade("why_linear", "W1", "W1", "alice")
        assert grade.manual_score == 1.5 and not grade.needs_manual_grade
        assert gb.find_comment("why_linear", "W1", "W1", "alice").manual_comment.startswith("Right idea")
        assert gb.find_grade("why_linear", "W1", "W1", "carol").needs_manual_grade
        assert gb.find_grade("double", "W1", "W1", "alice").auto_score == 1
        assert gb.find_submission("W1", "alice").score == 2.5


def test_automatic_parts_need_no_grader_and_an_override_survives_a_regrade(course):
    """Formgrader lists an automatically graded part as graded; a score a grader typed over it stands through a
    regrade, flagged for review, as nbgrader's own autograde does."""
    from nbgrader.api import Gradebook

    tmp_path, subs = course
    _, db = _grade(tmp_path, subs)
    with Gradebook(db) as gb:
        assert not gb.find_grade("double", "W1", "W1", "alice").needs_manual_grade
        assert not gb.find_grade("double", "W1", "W1", "bob").needs_manual_grade
        grade = gb.find_grade("double", "W1", "W1", "bob")
        grade.manual_score, grade.needs_manual_grade = 0.5, False      # a grader gives half marks by hand
        gb.db.commit()
    rows, db = _grade(tmp_path, subs)
    assert rows["bob"]["double"] == "0.5" and rows["alice"]["double"] == "1"
    with Gradebook(db) as gb:
        grade = gb.find_grade("double", "W1", "W1", "bob")
        assert (grade.auto_score, grade.manual_score, grade.needs_manual_grade) == (1.0, 0.5, True)
        assert not gb.find_grade("double", "W1", "W1", "alice").needs_manual_grade


def test_a_part_added_after_the_first_grading_gets_empty_grades(course, monkeypatch):
    from nbgrader.api import Gradebook

    tmp_path, subs = course
    monkeypatch.setattr(checks, "load", lambda a: _module({}))
    rows, _ = _grade(tmp_path, subs)
    assert "why_linear" not in rows["alice"]
    monkeypatch.setattr(checks, "load", lambda a: _module({"why_linear": 2}))
    rows, db = _grade(tmp_path, subs)
    assert rows["alice"]["why_linear"] == "" and rows["alice"]["max_score"] == "3"
    with Gradebook(db) as gb:
        assert gb.find_grade("why_linear", "W1", "W1", "bob").needs_manual_grade


def test_consistency_names_each_disagreement():
    nb = _notebook(points=2)
    assert manual.cells(nb) == {"why_linear": 2.0}
    assert manual.consistency(_module({"why_linear": 2}), nb, "W1") == []
    assert manual.consistency(_module({"why_linear": 3}), nb, "W1") == [
        "manual part 'why_linear': 3 points in MANUAL_PARTS, 2 in the notebook"]
    problems = manual.consistency(_module({}), nb, "W1")
    assert problems == ["manually graded cell 'why_linear' of the notebook is not in MANUAL_PARTS of checks/W1.py"]
    problems = manual.consistency(_module({"why_linear": 2, "double": 1}), nb, "W1")
    assert any("'double' has no manually graded cell" in p for p in problems)
    assert any("both automatic and manual" in p for p in problems)


def test_the_formgrader_gets_each_students_answers_and_scores(course):
    """The notebook formgrader shows: the released copy with the student's answers, readable by its GetGrades."""
    import nbformat
    from nbgrader.api import Gradebook
    from nbgrader.preprocessors import GetGrades

    tmp_path, subs = course
    (subs / "bob" / "W1.ipynb").write_text('{"cells": [')              # unreadable: no copy, no crash
    _, db = _grade(tmp_path, subs)
    with Gradebook(db) as gb:
        gb.find_grade("why_linear", "W1", "W1", "alice").manual_score = 2.0
        gb.db.commit()
    path = tmp_path / "out" / "autograded" / "alice" / "W1" / "W1.ipynb"
    assert not (tmp_path / "out" / "autograded" / "bob").exists()
    nb = nbformat.read(path, as_version=4)
    assert nb.cells[0].source == "def f(x):\n    return 2 * x\n" and nb.cells[2].source.startswith("alice says")
    assert "Doubling is linear" not in path.read_text(), "never the solution's text"
    who = {"notebook": "W1", "assignment": "W1", "student": "alice", "db_url": db}
    nb, _ = GetGrades().preprocess(nb, {"nbgrader": who})
    assert nb.cells[2].metadata.nbgrader["score"] == 2.0 and nb.cells[1].metadata.nbgrader["score"] == 1.0
