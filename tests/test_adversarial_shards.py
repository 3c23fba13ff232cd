"""Shards started at the same instant into one PostgreSQL gradebook: none crashes, none loses a student.

A Kubernetes Indexed Job starts its pods together, so N graders race to create the gradebook's shared rows
(the assignment, notebook, grade and solution cells, the course) and each writes its own students. Here a
launcher process imports the grader once, then for each round forks N shards that wait on one barrier and run
`deepgrad grade W1 SUBS --shard i/N --gradebook URL --course FILE` (the command's own `main`) into a fresh
database: with one student per shard and with several, two and four shards at once. Every round must leave
every shard's exit status 0 and every student in the gradebook (grades, written parts, penalty) and in
grades.csv with the right score, and each student's feedback, record and formgrader copy written.

The assignment is tiny (one automatic part, one written part, as tests/test_manual_parts.py builds it), so
rounds cost the gradebook's work, not grading. Skipped, saying why, where PostgreSQL or psycopg is missing.
"""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from test_postgres import postgres_url  # noqa: F401  (the fixture: a server of our own for this module)

from autograder.grading import shard

ROOT = Path(__file__).resolve().parent.parent
ROUNDS = int(os.environ.get("DEEPGRAD_SHARD_ROUNDS", "6"))    # per (shards, students per shard)

DUE, ON_TIME, LATE = "2026-01-01T00:00:00Z", "2025-12-31 12:00:00 UTC", "2026-01-01 12:00:00 UTC"
COURSE_TOML = f'[penalty]\nper_day = 0.5\nmax_days = 7\n\n[W1]\ndue = {DUE}\n'
RIGHT, WRONG = "def f(x):\n    return 2 * x\n", "def f(x):\n    return 3 * x\n"
KINDS = [("right", RIGHT, ON_TIME, "1"), ("wrong", WRONG, ON_TIME, "0"), ("late", RIGHT, LATE, "0.5")]


def notebook(code: str, answer: str = "f(a + b) = f(a) + f(b)") -> dict:
    """W1: an answer cell, its graded test cell (1 point) and a written answer (2 points, graded by hand)."""
    def cell(kind, src, **nbg):
        extra = {"outputs": [], "execution_count": None} if kind == "code" else {}
        return {"cell_type": kind, "id": nbg["grade_id"], "source": src, **extra,
                "metadata": {"nbgrader": {"schema_version": 3, "locked": False, **nbg}}}
    return {"cells": [cell("code", code, solution=True, grade=False, grade_id="ans_f"),
                      cell("code", "assert f(1) == 2\n", solution=False, grade=True, grade_id="double", points=1,
                           locked=True),
                      cell("markdown", answer, solution=True, grade=True, grade_id="why_linear", points=2)],
            "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


# The launcher: imports the grader once, points it at the tiny course, then per round (a JSON line on stdin)
# forks one process per shard; they pass one barrier together and run the `deepgrad` command's main.
LAUNCHER = textwrap.dedent('''
    import json, os, sys, traceback, types
    from pathlib import Path
    sys.path.insert(0, sys.argv[1])
    from autograder.cli import main, skip_slow_imports
    skip_slow_imports()
    import nbgrader.api, psycopg, sqlalchemy  # noqa: F401  (imported before the fork, as the shards would have)
    from autograder import checks, notebook
    from autograder.checks import Part
    from autograder.grading import pipeline  # noqa: F401
    os.environ["DEEPGRAD_COURSE_DIR"] = sys.argv[2]
    part = Part("double", 1, inputs=lambda rng: {"x": float(rng.integers(1, 9))}, call="f", args=("x",),
                check=lambda inp, out, fb: fb.close("result", 2 * inp["x"]))
    module = types.SimpleNamespace(NOTEBOOK="W1.ipynb", PARTS=[part], MANUAL_PARTS={"why_linear": 2})
    checks.load = lambda assignment: module
    for line in sys.stdin:
        job = json.loads(line)
        r, w = os.pipe()
        pids = []
        for argv, log in zip(job["argvs"], job["logs"]):
            pid = os.fork()
            if pid == 0:
                code = 70
                try:
                    os.close(w)
                    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
                    os.dup2(fd, 1)
                    os.dup2(fd, 2)
                    os.read(r, 1)              # the barrier: every shard is forked before any starts
                    code = main(argv)
                except BaseException:
                    traceback.print_exc()
                finally:
                    sys.stdout.flush()
                    sys.stderr.flush()
                    os._exit(code if isinstance(code, int) else 70)
            pids.append(pid)
        os.close(w)
        codes = [os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]) for pid in pids]
        os.close(r)
        print(json.dumps(codes), flush=True)
''')


def tiny_course(root: Path) -> Path:
    """A course folder (autograder/course.py) holding W1's source and released notebooks."""
    (root / "autograder").mkdir(parents=True)
    (root / "autograder" / "nbgrader_config.py").write_text((ROOT / "autograder" / "nbgrader_config.py").read_text())
    for folder, code in (("solutions", RIGHT), ("assignments", "def f(x):\n    raise NotImplementedError()\n")):
        (root / folder / "W1").mkdir(parents=True)
        (root / folder / "W1" / "W1.ipynb").write_text(json.dumps(notebook(code, "YOUR ANSWER HERE")))
    return root


@pytest.fixture(scope="module")
def launcher(tmp_path_factory):
    course = tiny_course(tmp_path_factory.mktemp("course"))
    (course / "course.toml").write_text(COURSE_TOML)
    (course / "launcher.py").write_text(LAUNCHER)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, str(course / "launcher.py"), str(ROOT), str(course)], cwd=ROOT,
                            env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        yield course, proc
    finally:
        proc.stdin.close()
        proc.wait(timeout=60)


def names_for(tag: str, shards: int, per_shard: int) -> list[str]:
    """Student ids, ``per_shard`` in each of the ``shards`` shards."""
    taken, i = {k: [] for k in range(shards)}, 0
    while any(len(v) < per_shard for v in taken.values()):
        name = f"{tag}s{i}"
        if len(taken[shard.of(name, shards)]) < per_shard:
            taken[shard.of(name, shards)].append(name)
        i += 1
    return sorted(n for v in taken.values() for n in v)


def new_database(url: str, name: str) -> str:
    import psycopg
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return url.rsplit("/", 1)[0] + "/" + name


def run_round(launcher, url: str, tmp: Path, tag: str, shards: int, per_shard: int) -> list[str]:
    """One round: every shard at once into a fresh database. What went wrong, one line per crashed shard or
    lost student, each starting with what lost it ("shard", "gradebook", "grades.csv", "files"); empty: nothing."""
    course, proc = launcher
    db = new_database(url, tag)
    subs, out = tmp / tag / "subs", tmp / tag / "out"
    expected = {}
    for i, name in enumerate(names_for(tag, shards, per_shard)):
        _, code, stamp, score = KINDS[i % len(KINDS)]
        (subs / name / "W1").mkdir(parents=True)          # as `nbgrader collect` leaves it
        (subs / name / "W1" / "W1.ipynb").write_text(json.dumps(notebook(code)))
        (subs / name / "W1" / "timestamp.txt").write_text(stamp)
        expected[name] = score
    argvs = [["grade", "W1", str(subs), "--output", str(out), "--no-progress", "--gradebook", db, "--course",
              str(course / "course.toml"), "--shard", f"{i}/{shards}"] for i in range(shards)]
    logs = [str(tmp / tag / f"shard{i}.log") for i in range(shards)]
    proc.stdin.write(json.dumps({"argvs": argvs, "logs": logs}) + "\n")
    proc.stdin.flush()
    codes = json.loads(proc.stdout.readline())
    problems = []
    for i, (code, log) in enumerate(zip(codes, logs, strict=True)):
        text = Path(log).read_text()
        if code != 0:
            problems.append(f"shard {i}/{shards} exited {code}: {text[-1500:]}")
        elif "gradebook step failed" in text:        # the step is tried again: that must not be what saved it
            problems.append(f"shard {i}/{shards} had to try its gradebook step again: {text[-1500:]}")

    grades_csv = out / "grades.csv"
    rows = {r["student_id"]: r["score"] for r in csv.DictReader(grades_csv.open())} if grades_csv.is_file() else {}
    problems += [f"grades.csv has {name}: {rows.get(name)}, expected {score}" for name, score in expected.items()
                 if rows.get(name) != score]
    from nbgrader.api import Gradebook, MissingEntry
    with Gradebook(db) as gb:
        for name, score in expected.items():
            try:
                nb = gb.find_submission_notebook("W1", "W1", name)
            except MissingEntry:
                problems.append(f"gradebook lacks {name}")
                continue
            got = (nb.score - (nb.late_submission_penalty or 0.0), {g.name for g in nb.grades},
                   {c.name for c in nb.comments})
            if got != (float(score), {"double", "why_linear"}, {"ans_f", "why_linear"}):
                problems.append(f"gradebook has {name}: {got}, expected score {score} with every grade and comment")
    for name in expected:
        for path in (out / "feedback" / name / "W1.html", out / "record" / f"{name}.json",
                     out / "autograded" / name / "W1" / "W1.ipynb"):
            if not path.is_file():
                problems.append(f"files: {path.relative_to(out)} is missing")
    return problems


@pytest.mark.slow
@pytest.mark.parametrize("shards", [2, 4])
def test_shards_started_at_once_lose_no_student(postgres_url, launcher, tmp_path, shards):  # noqa: F811
    start, failures, bad = time.monotonic(), [], 0
    for k in range(ROUNDS):
        per_shard = (1, 3)[k % 2]
        tag = f"r{shards}x{k}"
        problems = run_round(launcher, postgres_url, tmp_path, tag, shards, per_shard)
        bad += bool(problems)
        failures += [f"round {tag} ({shards} shards, {per_shard} per shard): {p}" for p in problems]
    counts = {kind: sum(f.split(": ", 1)[1].startswith(kind) for f in failures)
              for kind in ("shard", "gradebook", "grades.csv", "files")}
    print(f"\n{ROUNDS} rounds of {shards} shards at once into PostgreSQL in {time.monotonic() - start:.1f} s: "
          f"{bad} went wrong; {counts['shard']} shards crashed, students lost or incomplete: {counts['gradebook']} "
          f"in the gradebook, {counts['grades.csv']} in grades.csv, {counts['files']} files missing")
    assert not failures, "\n".join(failures[:6])


def test_a_failing_gradebook_step_loses_no_file_and_names_the_students(tmp_path, monkeypatch, capsys):
    """Whatever the gradebook step raises, the run's own files are written, the step is tried once more, and
    a failure is reported with the students' names and exit status 1, not a traceback."""
    import types

    from autograder import checks
    from autograder.checks import Part
    from autograder.cli import main
    from autograder.grading import pipeline

    tiny_course(tmp_path / "course")
    monkeypatch.setenv("DEEPGRAD_COURSE_DIR", str(tmp_path / "course"))
    part = Part("double", 1, inputs=lambda rng: {"x": 3.0}, call="f", args=("x",),
                check=lambda inp, out, fb: fb.close("result", 6.0))
    module = types.SimpleNamespace(NOTEBOOK="W1.ipynb", PARTS=[part], MANUAL_PARTS={"why_linear": 2})
    monkeypatch.setattr(checks, "load", lambda assignment: module)
    subs, out = tmp_path / "subs", tmp_path / "out"
    for name in ("ann", "ben"):
        (subs / name).mkdir(parents=True)
        (subs / name / "W1.ipynb").write_text(json.dumps(notebook(RIGHT)))
    calls = []

    def broken(*args):
        calls.append(args)
        raise RuntimeError("the server went away\nsecond line")

    monkeypatch.setattr(pipeline, "write_scores", broken)
    assert main(["grade", "W1", str(subs), "--output", str(out), "--no-progress"]) == 1
    err = capsys.readouterr().err
    assert len(calls) == pipeline.GRADEBOOK_TRIES and "Traceback" not in err
    assert "gradebook step failed (RuntimeError: the server went away); trying it once more" in err
    assert "may lack these 2 students of this run: ann, ben." in err
    assert "gradebook NOT updated for 2 (ann, ben)" in err.strip().splitlines()[-1]
    for name in ("ann", "ben"):
        for path in (out / "feedback" / name / "W1.html", out / "record" / f"{name}.json",
                     out / "autograded" / name / "W1" / "W1.ipynb"):
            assert path.is_file(), path
    assert "Result is right" in (out / "autograded" / "ann" / "W1" / "W1.ipynb").read_text()

    real = pipeline.grades.write_csv

    def once(*args):                          # failing once: the second try puts everyone in
        monkeypatch.setattr(pipeline.grades, "write_csv", real)
        raise OSError("disk full")

    monkeypatch.setattr(pipeline, "write_scores", pipeline.gradebook.write_scores)
    monkeypatch.setattr(pipeline.grades, "write_csv", once)
    assert main(["grade", "W1", str(subs), "--output", str(out), "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert "(OSError: disk full); trying it once more" in err and "NOT updated" not in err
    assert {r["student_id"]: r["score"] for r in csv.DictReader((out / "grades.csv").open())} == {"ann": "1",
                                                                                                  "ben": "1"}
