"""A course is the instructor's own folder: every `deepgrad` command works on the course it is run in (or the one
named), never on the folder the package was installed from (autograder/course.py).

The grader is installed from a copy of this clone (the package, A1's sources); `deepgrad new-course` makes a
course folder from it; then the installation loses everything a course holds (solutions/, assignments/, the
check modules, its nbgrader configuration), so that anything read from it fails, and its files are watched. From
the course folder: assign, verify, grade (into the course's gradebook and autograded/, as the formgrader reads
them), export and return; and a check edited in the course changes the grade.
"""
from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from harness import solution_dir

from autograder import checks, course

ROOT = Path(__file__).resolve().parent.parent
# `deepgrad` with the installation's copy of the package first on the path
DEEPGRAD = "import sys; from autograder.cli import main; sys.exit(main(sys.argv[1:]))"


def _files(folder: Path) -> dict:
    """Every file under ``folder``: path -> (size, mtime)."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*")
            if p.is_file()}


@pytest.fixture
def installed(tmp_path):
    """A copy of the grader as installed from a clone: the package and A1's sources, and the command run with it."""
    install = tmp_path / "install"
    shutil.copytree(ROOT / "autograder", install / "autograder", ignore=shutil.ignore_patterns("__pycache__"))
    for folder in ("solutions", "assignments"):
        shutil.copytree(ROOT / folder / "A1", install / folder / "A1", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != course.ENV}
    env.update(PYTHONPATH=str(install), PYTHONDONTWRITEBYTECODE="1", OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")

    def deepgrad(*args, cwd: Path, code: int = 0) -> str:
        done = subprocess.run([sys.executable, "-c", DEEPGRAD, *map(str, args)], cwd=cwd, env=env,
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == code, f"deepgrad {' '.join(map(str, args))}:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    where = subprocess.run([sys.executable, "-c", "import autograder; print(autograder.__file__)"], env=env,
                           cwd=tmp_path, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).parent == install / "autograder", "the command must run the installation's copy"
    return install, deepgrad


def test_every_command_works_on_the_course_folder_not_the_installation(installed, tmp_path):
    install, deepgrad = installed
    mine = tmp_path / "mine"
    assert "A1" in deepgrad("new-course", mine, cwd=tmp_path)
    assert course.is_course(mine) and (mine / "autograder" / "checks" / "A1.py").is_file()
    assert oct(mine.stat().st_mode & 0o777) == "0o700"          # the solutions are the instructor's alone
    # the installation keeps the package's code and nothing of a course: a read of any of it would fail
    for gone in ("solutions", "assignments"):
        shutil.rmtree(install / gone)
    for gone in [*(install / "autograder" / "checks").glob("A*.py"), install / "autograder" / "nbgrader_config.py"]:
        gone.unlink()
    before = _files(install)

    # outside any course, a command says how to name one
    away = tmp_path / "away"
    away.mkdir()
    assert "--course-dir DIR or DEEPGRAD_COURSE_DIR" in deepgrad("verify", "A1", cwd=away, code=2)

    # the instructor's steps, inside the course (and one naming it from elsewhere)
    assert "released to assignments/A1" in deepgrad("assign", "A1", cwd=mine / "solutions")
    assert "A1: solution 21/21, stub 0/21 -> OK" in deepgrad("verify", "A1", "--course-dir", mine, cwd=away)
    subs = mine / "submitted"
    for student, notebook in (("ana", solution_dir("A1") / "A1.ipynb"), ("ben", mine / "assignments/A1/A1.ipynb")):
        (subs / student / "A1").mkdir(parents=True)
        shutil.copy(notebook, subs / student / "A1" / "A1.ipynb")
        (subs / student / "A1" / "timestamp.txt").write_text("2026-03-01 10:00:00.123456 UTC")
    out = mine / "grading" / "A1"
    deepgrad("grade", "A1", "submitted", "--output", out, "--no-progress", cwd=mine)
    full = float(next(r["score"] for r in csv.DictReader(open(out / "grades.csv")) if r["student_id"] == "ana"))

    # one gradebook, the course's; the autograded copies where its formgrader looks; nbgrader's queries agree
    from nbgrader.apps import NbGraderAPI
    assert not (out / "gradebook.db").exists() and (mine / "gradebook.db").is_file()
    assert all((mine / "autograded" / s / "A1" / "A1.ipynb").is_file() for s in ("ana", "ben"))
    api = NbGraderAPI(config=course.nbgrader_config(mine))
    assert api.get_autograded_students("A1") == {"ana", "ben"}
    assert api.get_assignment("A1")["num_submissions"] == 2
    assert {s["student"]: s["score"] for s in api.get_submissions("A1")}["ana"] == full

    # after grading: the LMS export and the returned zips read the course's gradebook and autograded copies
    (mine / "roster.csv").write_text("Student,ID,SIS Login ID\nAna,1,ana\nBen,2,ben\n")
    deepgrad("export", "A1", out, "--roster", "roster.csv", "--match", "SIS Login ID", "--to", "canvas.csv", cwd=mine)
    rows = {r["SIS Login ID"]: r for r in csv.DictReader(open(mine / "canvas.csv")) if r["SIS Login ID"]}
    assert float(rows["ana"]["A1"]) == full and float(rows["ben"]["A1"]) == 0
    deepgrad("return", "A1", out, "--to", "returned", cwd=mine)
    with zipfile.ZipFile(mine / "returned" / "ana.zip") as z:
        assert "A1-autograded.ipynb" in z.namelist()

    # a check edited in the course changes the grade: its first part now never passes
    checks_file = mine / "autograder" / "checks" / "A1.py"
    checks_file.write_text(checks_file.read_text() + "\nPARTS[0].check = lambda inputs, out, fb: False   # edited\n")
    deepgrad("grade", "A1", "submitted", "--output", out, "--no-progress", cwd=mine)
    lost = checks.load("A1").PARTS[0].points          # this clone's A1, which the course's was copied from
    again = float(next(r["score"] for r in csv.DictReader(open(out / "grades.csv")) if r["student_id"] == "ana"))
    assert again == full - lost

    assert _files(install) == before, "nothing is written into the installation"


def test_the_sandbox_hides_the_course_and_the_installation(tmp_path, monkeypatch):
    """Student code never sees the course's solutions and checks, wherever the course is."""
    from autograder.grading import pipeline
    mine = tmp_path / "mine"
    course.new(mine, ROOT)
    monkeypatch.setenv(course.ENV, str(mine))
    hidden = pipeline._hidden_paths([])
    assert str(mine) in hidden and str(ROOT) in hidden


def test_no_course_is_a_clear_error(tmp_path, monkeypatch):
    from autograder.cli import main
    monkeypatch.delenv(course.ENV, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit):
        main(["grade", "A1", str(tmp_path), "--output", str(tmp_path / "out")])
    with pytest.raises(course.CourseNotFound, match="--course-dir DIR"):
        course.root()
    (tmp_path / "x").mkdir()
    with pytest.raises(SystemExit):
        main(["new-course", str(tmp_path)])          # not empty


def test_check_outside_a_course_uses_the_installed_checks(installed, tmp_path):
    """A student's server (or the image) holds no course: `deepgrad check` grades with the checks installed with
    deepgrad, while the instructor's commands still refuse to guess a course."""
    install, deepgrad = installed
    shutil.rmtree(install / "solutions")            # as in the image: no sources beside the package
    home = tmp_path / "student"
    home.mkdir()
    solved = home / "A1.ipynb"
    shutil.copy(solution_dir("A1") / checks.load("A1").NOTEBOOK, solved)
    out = deepgrad("check", "A1", solved, cwd=home)
    total = sum(p.points for p in checks.load("A1").PARTS)
    assert f"{total:g} / {total:g}" in out or f"{total} / {total}" in out, out
    stub = home / "stub.ipynb"
    shutil.copy(ROOT / "assignments" / "A1" / checks.load("A1").NOTEBOOK, stub)
    assert "0 / " in deepgrad("check", "A1", stub, cwd=home, code=1)
    assert "no DeepGrad course" in deepgrad("verify", "A1", cwd=home, code=2)


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_instructor_opens_the_named_course(tmp_path):
    """`make instructor COURSE=DIR`: the formgrader on the course's own configuration, in the course folder."""
    mine = tmp_path / "mine"
    course.new(mine, ROOT)
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path)}
    run = ["make", "--no-print-directory", "-n", f"--old-file={ROOT}/.venv/.installed", "instructor"]
    plan = subprocess.run([*run, f"COURSE={mine}"], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=True, timeout=60).stdout
    assert f"JUPYTER_CONFIG_PATH={ROOT}/labs/common:{mine}/autograder" in plan
    assert f'--notebook-dir="{mine}"' in plan and f'DEEPGRAD_COURSE_DIR="{mine}"' in plan
    done = subprocess.run(["make", "--no-print-directory", f"--old-file={ROOT}/.venv/.installed", "instructor",
                           f"COURSE={tmp_path}"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "is not a course folder" in done.stdout + done.stderr
