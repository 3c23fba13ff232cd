"""A term as a course runs it through nbgrader's exchange, end to end, with nbgrader's own commands on both sides.

The instructor's course is a folder of their own, made as the README says (`deepgrad new-course`, in a
temporary folder: its nbgrader configuration, assignments/, then submitted/, autograded/, feedback/,
gradebook.db, the LMS export), the exchange a temporary root. The instructor releases and collects with nbgrader's API (what the formgrader's buttons call);
the student, in a home folder of their own, fetches, works and submits with nbgrader's command line; `deepgrad
grade` grades the collected submitted/ into the course's gradebook and autograded/, where nbgrader's own queries
(the formgrader's) list the work as autograded; a grader scores one written answer and
comments on it through nbgrader's gradebook API (as the formgrader does) and leaves the other; `deepgrad return
--layout nbgrader`, nbgrader's release_feedback, the student's fetch_feedback; and the page the student fetched
shows every part, the written score and comment, the late penalty and the total `deepgrad export` sends.

Two variants: the student under an account of their own (as on JupyterHub, where each student is a Unix user
and the exchange's permissions keep them apart; needs root for useradd), and under the instructor's account with
a home folder of its own (everywhere).
"""
from __future__ import annotations

import csv
import html
import os
import pwd
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from datetime import timedelta, timezone
from pathlib import Path

import pytest
from harness import solution_dir

from autograder import checks
from autograder import course as course_mod
from autograder.cli import main
from autograder.records import gradebook, manual

ROOT = Path(__file__).resolve().parent.parent
MODULE = checks.load("A1")
FULL = sum(p.points for p in MODULE.PARTS)                  # the automatic parts
WRITTEN = manual.parts(MODULE)                              # graded by hand: one scored below, one left
SCORED, LEFT = list(WRITTEN)
COMMENT = "Right idea <b>; now say why the loss is log(C) at the start."
# nbgrader on the student's side: the interpreter given, with the venv's packages and nothing else on its path
# (-I -S: not the instructor's environment, not the system's site-packages)
LAUNCH = ("import site, sys; site.addsitedir(sys.argv.pop(1)); sys.argv[0] = 'nbgrader'; "
          "from nbgrader.apps.nbgraderapp import main; main()")


def _course(course: Path, exchange: Path, monkeypatch):
    """A course folder of the instructor's own in ``course`` (`deepgrad new-course`), every deepgrad command
    working on it (as when run inside it), exchanging through ``exchange``: its nbgrader configuration as the
    formgrader reads it, with the exchange root moved."""
    assert main(["new-course", str(course)]) == 0
    monkeypatch.setenv(course_mod.ENV, str(course))
    config = course_mod.nbgrader_config(course)
    config.Exchange.root = str(exchange)
    config.Application.log_level = "WARN"
    return config


def _student_python(uid: int | None) -> str | None:
    """An interpreter the student can run nbgrader with: this one, or (where this one sits in a home folder
    others cannot enter, as a pyenv Python in /root) a system Python of the same version; None if neither, or if
    the account cannot read the venv's packages (a clone in a folder only its owner may enter)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    probe = "import site, sys; site.addsitedir(sys.argv[1]); import nbgrader"
    for python in (sys.executable, shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")):
        try:
            if python and subprocess.run([python, "-I", "-S", "-c", probe, sysconfig.get_paths()["purelib"]],
                                         user=uid, capture_output=True, timeout=60).returncode == 0:
                return python
        except PermissionError:         # the account may not enter the folder it is in
            continue
    return None


class Student:
    """A student with a home folder of their own, running nbgrader's command line there: under their own Unix
    account (``account``), or the instructor's with an explicit student id."""

    def __init__(self, home: Path, name: str, account: bool):
        self.name, self.home, self.uid, self.gid = name, home, None, None
        home.mkdir(parents=True)
        os.chmod(home, 0o700)
        if account:
            entry = pwd.getpwnam(name)
            self.uid, self.gid = entry.pw_uid, entry.pw_gid
            os.chown(home, self.uid, self.gid)
        self.python = _student_python(self.uid)

    def nbgrader(self, *args: str, course_id: str, exchange: Path) -> str:
        """``nbgrader <args>`` in the student's home, as the student; the log, which must show no failure."""
        who = [] if self.uid is not None else [f"--CourseDirectory.student_id={self.name}"]
        env = {"HOME": str(self.home), "PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "USER": self.name}
        done = subprocess.run([self.python, "-I", "-S", "-c", LAUNCH, sysconfig.get_paths()["purelib"], *args,
                               f"--course={course_id}", f"--Exchange.root={exchange}", *who],
                              cwd=self.home, env=env, user=self.uid, group=self.gid,
                              extra_groups=[] if self.uid is not None else None,
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"nbgrader {args[0]} as {self.name} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout + done.stderr

    def write(self, path: Path, text: str) -> None:
        """Save a file as the student would (theirs, not the instructor's)."""
        path.write_text(text)
        if self.uid is not None:
            os.chown(path, self.uid, self.gid)


def _can_add_users() -> str | None:
    """Why a student cannot have an account of their own here (None: they can)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "a student account of its own needs root (useradd, and running the student's steps as them)"
    if shutil.which("useradd") is None or shutil.which("userdel") is None:
        return "useradd/userdel are not installed"
    return None


@pytest.fixture(params=["own home", "own account"])
def term(request):
    account = request.param == "own account"
    if account and _can_add_users():
        pytest.skip(_can_add_users())
    # the student must reach the exchange and their home: a folder others may enter (pytest's tmp_path may not)
    base = Path(tempfile.mkdtemp(prefix="deepgrad-exchange-term-"))
    os.chmod(base, 0o755)
    name, home = f"dgst{os.getpid()}", base / "home"       # one per worker: workers may run both variants at once
    added = False
    try:
        if account:
            subprocess.run(["useradd", "--no-create-home", "--home-dir", str(home / name), "--shell",
                            "/usr/sbin/nologin", name], check=True, capture_output=True, timeout=60)
            added = True
        student = Student(home / name, name, account)
        if student.python is None:
            pytest.skip(f"no Python {sys.version_info.major}.{sys.version_info.minor} with nbgrader that the student's "
                        f"account can run ({sys.executable} or its packages sit in a folder other users cannot enter)")
        yield base, student
    finally:
        if added:
            subprocess.run(["userdel", name], capture_output=True, timeout=60)
        shutil.rmtree(base, ignore_errors=True)


# nbgrader's API passes its own release_feedback a misspelt keyword ("authentictor"); not ours to fix
@pytest.mark.filterwarnings("ignore:Passing unrecognized arguments to super\\(ExchangeReleaseFeedback\\)")
def test_a_term_through_nbgraders_exchange(term, monkeypatch):
    from nbgrader.api import Course, Gradebook
    from nbgrader.apps import NbGraderAPI
    from nbgrader.utils import parse_utc

    from autograder._env import ensure_tools_on_path
    base, student = term
    course, exchange = base / "course", base / "exchange"
    config, db = _course(course, exchange, monkeypatch), f"sqlite:///{course / 'gradebook.db'}"
    course_id = config.CourseDirectory.course_id
    ensure_tools_on_path()               # nbgrader's commands in this process may ask `alembic` for a revision
    gradebook.create(db)                 # the course's gradebook (what nbgrader's collect would make, seconds sooner)
    api = NbGraderAPI(config=config)

    # the instructor releases; the student fetches, works and submits from their own home
    assert api.release_assignment("A1")["success"]
    assert oct(exchange.stat().st_mode & 0o777) == "0o777"                  # nbgrader's own permissions
    student.nbgrader("fetch_assignment", "A1", course_id=course_id, exchange=exchange)
    work = student.home / "A1" / "A1.ipynb"
    assert "NotImplementedError" in work.read_text()                         # the released stub
    student.write(work, (solution_dir("A1") / "A1.ipynb").read_text())     # the student's work: every answer
    student.nbgrader("submit", "A1", course_id=course_id, exchange=exchange)
    assert api.collect("A1")["success"]
    collected = course / "submitted" / student.name / "A1"
    assert sorted(p.name for p in collected.iterdir()) == ["A1.ipynb", "submission_secret.txt", "timestamp.txt"]
    stamp = (collected / "timestamp.txt").read_text()

    # graded as the README says, 30 hours after a deadline (2 started days late), into an output folder in the
    # course: the gradebook and the autograded copies are the course's, where its formgrader looks
    due = parse_utc(stamp).replace(tzinfo=timezone.utc) - timedelta(hours=30)
    (course / "course.toml").write_text(f"[penalty]\nper_day = 0.25\nmax_days = 3\n\n[A1]\ndue = {due:%Y-%m-%dT%H:%M:%SZ}\n")
    out = course / "grading" / "A1"
    assert main(["grade", "A1", str(course / "submitted"), "--output", str(out),
                 "--course", str(course / "course.toml"), "--no-progress"]) == 0
    assert not (out / "gradebook.db").exists() and (course / "autograded" / student.name / "A1" / "A1.ipynb").is_file()
    with Gradebook(db, course_id) as gb:
        # one course, the configuration's; the submission time is timestamp.txt's, to the microsecond, so the
        # formgrader lists the work as autograded
        assert [c.id for c in gb.db.query(Course)] == [course_id] == ["deepgrad"]
        assert gb.find_submission("A1", student.name).timestamp == parse_utc(stamp)
        # a grader scores one written answer and comments on it, as the formgrader does; the other waits
        grade = gb.find_grade(SCORED, "A1", "A1", student.name)
        grade.manual_score, grade.needs_manual_grade = 1.5, False
        gb.find_comment(SCORED, "A1", "A1", student.name).manual_comment = COMMENT
        gb.db.commit()
    # the formgrader's own queries, on the course's configuration as it stands: the work is autograded, one
    # submission, and the student's notebook is there to grade by hand
    assert api.get_autograded_students("A1") == {student.name}
    assert api.get_assignment("A1")["num_submissions"] == 1
    assert [s["autograded"] for s in api.get_submissions("A1")] == [True]

    # the LMS export reads the gradebook (no regrade since the grader's score) and says what is not graded yet
    (course / "roster.csv").write_text(f"Student,ID,SIS Login ID\nAna Student,1001,{student.name}\n")
    assert main(["export", "A1", str(out), "--roster", str(course / "roster.csv"),
                 "--match", "SIS Login ID", "--to", str(course / "canvas.csv"), "--column", "A1 (4242)"]) == 0
    rows = list(csv.reader(open(course / "canvas.csv")))
    assert rows[0][-1] == "A1 (4242)" and rows[2][1] == "1001"
    final, points = rows[2][-1], FULL + sum(WRITTEN.values())
    assert float(final) == FULL / 2 + 1.5                   # half the automatic points off, then the written answer

    # returned through nbgrader's exchange: deepgrad writes nbgrader's files, nbgrader releases, the student fetches
    assert main(["return", "A1", str(out), "--to", str(course), "--layout", "nbgrader"]) == 0
    assert (course / "feedback" / student.name / "A1" / "timestamp.txt").read_text() == stamp
    released = api.release_feedback("A1")
    assert released["success"], released.get("error") or released.get("log")
    student.nbgrader("fetch_feedback", "A1", course_id=course_id, exchange=exchange)
    fetched = list((student.home / "A1" / "feedback").glob("*/A1.html"))
    assert len(fetched) == 1 and fetched[0].parent.name == stamp
    page = fetched[0].read_text()
    for part in MODULE.PARTS:
        assert f"<h2>{part.name}</h2>" in page
    assert f"<h2>{SCORED}</h2>" in page and "1.5 / 2" in page and html.escape(COMMENT) in page
    assert f"<h2>{LEFT}</h2>" in page and "not graded yet" in page
    assert "hours after the deadline" in page
    total = re.search(r"after the late penalty <b class='\w+'>([\d.]+) / ([\d.]+)</b>", page)
    assert total and total.groups() == (final, f"{points:g}"), "the page's total is the export's"


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_instructor_puts_nbgraders_tools_on_path(tmp_path):
    """nbgrader runs `alembic` when the formgrader makes the gradebook: the instructor's lab must find the venv's."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / ".installed").touch()
    (venv / "bin" / "alembic").write_text("#!/bin/sh\n")
    # a stand-in for jupyter: says which alembic the lab would run
    (venv / "bin" / "jupyter").write_text(f"#!/bin/sh\ncommand -v alembic > {tmp_path / 'found'}\n")
    for tool in ("alembic", "jupyter"):
        os.chmod(venv / "bin" / tool, 0o755)
    subprocess.run(["make", "--no-print-directory", f"--old-file={venv}/.installed", "instructor", f"VENV={venv}"],
                   cwd=ROOT, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}, check=True, capture_output=True,
                   timeout=60)
    assert (tmp_path / "found").read_text().strip() == str(venv / "bin" / "alembic")
