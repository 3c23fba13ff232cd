"""`deepgrad grade --jobs 2` versus plain `nbgrader autograde` on the same 20 A1 submissions, where the time goes
(a profile per phase), the self-learner's `deepgrad check`, and the time per student with and without one
looping student in the batch. Prints, never asserts.

    python bench/bench_grading.py             # 20 submissions: solution copies, released stubs, partly right
    python bench/bench_grading.py --n 6       # fewer (a quick look)
    python bench/bench_grading.py --profile-only --n 20  # only the per-phase profile
    python bench/bench_grading.py --looping-only --n 6   # only the looping-student comparison

Goals (issue 17, 2 cores): at most 1 s per student per core (0.5 s per submission with --jobs 2), at least 5x
faster than nbgrader autograde, and `deepgrad check` answering within 3 s.

The profile grades the same submissions in this process with one job, so that its phases add up to the wall
time: per part (drawing inputs, the sandbox's phases, checking) from each part's result, per student the
notebook's unpacking and parsing, and per batch the steps that write the results (timed around them here;
creating the gradebook runs alongside the grading, so it is listed apart).

The looping student is the solution with a stray `while True: pass` at the end of one answer cell (the
top level of the notebook, as in issue 10): the grader interrupts that cell at its budget, skips it from
then on, and grades the rest; before, every part of such a student timed out (about 120 s for A1).

The submissions are generated in a temporary directory from solutions/A1 (the full answers) and
assignments/A1 (the released stubs); a "partly right" one takes each answer cell from one or the other.
`deepgrad grade` runs each graded part of each student in a fresh sandboxed Python (no Jupyter kernel);
`nbgrader autograde` executes every notebook, top to bottom, in a kernel of its own, one after the other.
Both are run as their command-line tools would be, in a subprocess, and timed by the wall clock. The
nbgrader course directory (source, submitted/<student>/A1/A1.ipynb, gradebook) is set up beforehand from
autograder/nbgrader_config.py with its root moved to the temporary directory; setting it up is not timed.
"""
from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
A = "A1"
CONFIG = ROOT / "autograder" / "nbgrader_config.py"
BIN = Path(sys.executable).parent          # the venv's bin: deepgrad, nbgrader, alembic, the kernel's python


def _answer_id(cell) -> str | None:
    nbg = cell.get("metadata", {}).get("nbgrader", {})
    return nbg.get("grade_id") if nbg.get("solution") else None


def make_submissions(n: int, dest: Path, seed: int = 0) -> dict[str, str]:
    """Write n notebooks to dest/<student>/A1.ipynb; return student -> kind."""
    solution = json.loads((ROOT / "solutions" / A / f"{A}.ipynb").read_text())
    stub = json.loads((ROOT / "assignments" / A / f"{A}.ipynb").read_text())
    stub_answers = {_answer_id(c): c["source"] for c in stub["cells"] if _answer_id(c)}
    rng = np.random.default_rng(seed)
    kinds = {}
    for i in range(n):
        kind = ("solution", "stub", "partly right")[i % 3]
        if kind == "stub":
            nb = stub
        else:
            nb = copy.deepcopy(solution)
            if kind == "partly right":
                for cell in nb["cells"]:
                    gid = _answer_id(cell)
                    if gid in stub_answers and rng.random() < 0.5:
                        cell["source"] = stub_answers[gid]
        student = f"student{i:02d}"
        (dest / student).mkdir(parents=True)
        (dest / student / f"{A}.ipynb").write_text(json.dumps(nb))
        kinds[student] = kind
    return kinds


def _env() -> dict:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])   # nbgrader shells out to alembic
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
        env.setdefault(var, "1")
    return env


def _run(cmd: list[str], cwd: Path) -> tuple[float, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, env=_env(), capture_output=True, text=True)
    return time.perf_counter() - start, proc


def _tail(proc: subprocess.CompletedProcess) -> str:
    return "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-8:])


def time_deepgrad(subs: Path, out: Path, jobs: int) -> tuple[float, bool]:
    seconds, proc = _run([str(BIN / "deepgrad"), "grade", A, str(subs), "--output", str(out), "--jobs", str(jobs),
                          "--no-progress"], cwd=ROOT)
    if proc.returncode != 0:
        print(f"deepgrad grade failed (exit {proc.returncode}):\n{_tail(proc)}")
    return seconds, proc.returncode == 0


def time_nbgrader(subs: Path, course: Path) -> tuple[float, bool]:
    """Plain nbgrader: a course directory in `course`, then `nbgrader autograde A1` (timed)."""
    (course / "solutions").mkdir(parents=True)
    shutil.copytree(ROOT / "solutions" / A, course / "solutions" / A)
    for student_dir in sorted(subs.iterdir()):
        target = course / "submitted" / student_dir.name / A
        target.mkdir(parents=True)
        shutil.copy(student_dir / f"{A}.ipynb", target / f"{A}.ipynb")
    # nbgrader reads nbgrader_config.py from the working directory (it has no --config option); the course's
    # own file is used as it is, with its root and gradebook moved here on the command line.
    shutil.copy(CONFIG, course / "nbgrader_config.py")
    common = [f"--CourseDirectory.root={course}",
              f"--CourseDirectory.db_url=sqlite:///{course / 'gradebook.db'}", "--log-level=WARN"]
    # The gradebook needs the assignment's grade cells: generate_assignment records them (not timed).
    _, proc = _run([str(BIN / "nbgrader"), "generate_assignment", A, "--force", *common], cwd=course)
    if proc.returncode != 0:
        print(f"nbgrader generate_assignment failed (exit {proc.returncode}):\n{_tail(proc)}")
        return float("nan"), False
    seconds, proc = _run([str(BIN / "nbgrader"), "autograde", A, "--force", *common], cwd=course)
    graded = len(list((course / "autograded").glob(f"*/{A}/{A}.ipynb")))
    if proc.returncode != 0 or graded != len(list(subs.iterdir())):
        print(f"nbgrader autograde: exit {proc.returncode}, {graded} notebooks autograded:\n{_tail(proc)}")
    return seconds, proc.returncode == 0


def profile(subs: Path, out: Path) -> dict:
    """Grade ``subs`` in this process with one job; seconds per phase, summed over the batch."""
    sys.path.insert(0, str(ROOT))
    from autograder import feedback
    from autograder.cli import skip_slow_imports
    from autograder.grading import pipeline
    from autograder.records import autograded, grades, manual, record
    from autograder.sandbox import PHASES

    skip_slow_imports()          # as the `deepgrad` command does

    steps = {"feedback pages": (feedback, "write_html"), "records": (record, "save"),
             "gradebook: create": (pipeline, "create_gradebook"), "gradebook: scores": (pipeline, "write_scores"),
             "gradebook: written parts": (manual, "keep"), "formgrader notebooks": (manual, "formgrader_notebooks"),
             "autograded notebooks": (autograded, "annotate_all"), "grades.csv": (grades, "write_csv")}
    spent = dict.fromkeys(steps, 0.0)
    originals = {name: getattr(mod, attr) for name, (mod, attr) in steps.items()}

    def timed(name, fn):
        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start
        return wrapper

    for name, (mod, attr) in steps.items():
        setattr(mod, attr, timed(name, originals[name]))
    try:
        start = time.perf_counter()
        results = pipeline.grade_all(A, subs, out, jobs=1, seed=1, progress=False, stream=open(os.devnull, "w"))
        wall = time.perf_counter() - start
    finally:
        for name, (mod, attr) in steps.items():
            setattr(mod, attr, originals[name])
    parts = [p for r in results for p in r.parts]
    phases = {"unpack + parse": sum(r.read_s for r in results)}
    for key in ("inputs", *PHASES, "check"):
        phases[key if key in ("inputs", "check") else f"sandbox: {key}"] = sum(p.phases.get(key, 0.0) for p in parts)
    alongside = {"gradebook: create": spent.pop("gradebook: create")}   # runs while the students are graded
    phases.update(spent)
    phases["other"] = wall - sum(phases.values())
    n = len(results)
    print(f"\nwhere the time goes ({n} students, {len(parts)} parts, one job, {wall:.1f} s in all):")
    print(f"  {'phase':28} {'s in all':>9} {'ms/student':>11} {'share':>6}")
    for key, s in phases.items():
        print(f"  {key:28} {s:9.2f} {1e3 * s / n:11.0f} {s / wall:6.0%}")
    for key, s in alongside.items():
        print(f"  {key + ' (alongside)':28} {s:9.2f} {1e3 * s / n:11.0f}")
    slowest = sorted(parts, key=lambda p: -p.wall_s)[:3]
    print("  slowest parts: " + ", ".join(f"{p.name} {p.wall_s:.2f} s" for p in slowest))
    return {"wall_s": wall, "phases": phases, "alongside": alongside}


def time_check(runs: int = 3) -> float:
    """Median wall time of the self-learner's `deepgrad check A1 <the solution>`."""
    times = []
    for _ in range(runs):
        seconds, proc = _run([str(BIN / "deepgrad"), "check", A, str(ROOT / "solutions" / A / f"{A}.ipynb")],
                             cwd=ROOT)
        if proc.returncode != 0:
            print(f"deepgrad check failed (exit {proc.returncode}):\n{_tail(proc)}")
        times.append(seconds)
    return sorted(times)[len(times) // 2]


def time_looping(n: int, jobs: int) -> dict:
    """Grade n solution copies in-process, then the same n plus one looping student; per-student times."""
    sys.path.insert(0, str(ROOT))
    from autograder.grading import grade_all

    solution = json.loads((ROOT / "solutions" / A / f"{A}.ipynb").read_text())
    looping = copy.deepcopy(solution)
    cell = next(c for c in looping["cells"] if _answer_id(c) == "ans_predict")
    cell["source"] = "".join(cell["source"]) + "\nwhile True:\n    pass\n"
    figures = {}
    with tempfile.TemporaryDirectory(prefix="deepgrad-bench-looping-") as tmp:
        for label, extra in (("without", None), ("with", looping)):
            subs = Path(tmp) / label
            for i in range(n):
                (subs / f"student{i:02d}").mkdir(parents=True)
                (subs / f"student{i:02d}" / f"{A}.ipynb").write_text(json.dumps(solution))
            if extra is not None:
                (subs / "zz_looping").mkdir()
                (subs / "zz_looping" / f"{A}.ipynb").write_text(json.dumps(extra))
            start = time.perf_counter()
            results = grade_all(A, subs, Path(tmp) / f"out-{label}", jobs=jobs, seed=1, progress=False,
                                stream=open(os.devnull, "w"))
            total = time.perf_counter() - start
            honest = sorted(r.wall_s for r in results if r.student != "zz_looping")
            loop = [r for r in results if r.student == "zz_looping"]
            line = (f"{label:>7} one looping student: batch {total:6.1f} s for {len(results)} students; honest "
                    f"student median {honest[len(honest) // 2]:.1f} s")
            if loop:
                line += (f"; the looping student {loop[0].wall_s:.1f} s, scoring {loop[0].score:g} / "
                         f"{loop[0].max_score:g}")
            print(line, flush=True)
            figures[label] = {"batch_s": total, "honest_median_s": honest[len(honest) // 2],
                              "looping_s": loop[0].wall_s if loop else None}
    return figures


def main(n: int = 20, jobs: int = 2) -> dict:
    print(f"grading {n} {A} submissions: deepgrad grade --jobs {jobs} vs nbgrader autograde; "
          f"{os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory(prefix="deepgrad-bench-grading-") as tmp:
        tmp = Path(tmp)
        kinds = make_submissions(n, tmp / "submissions")
        counts = {k: list(kinds.values()).count(k) for k in ("solution", "stub", "partly right")}
        print("submissions: " + ", ".join(f"{v} {k}" for k, v in counts.items()))
        t_deepgrad, ok_d = time_deepgrad(tmp / "submissions", tmp / "deepgrad-out", jobs)
        print(f"deepgrad grade --jobs {jobs}:  {t_deepgrad:7.1f} s  ({t_deepgrad / n:.2f} s per submission)"
              + ("" if ok_d else "  [FAILED]"), flush=True)
        per_core = t_deepgrad * jobs / n       # the figure a class of 1,000 is sized by (README, deploy/)
        print(f"  {per_core:.2f} s per student per core: 1,000 students x 4 assignments at this rate = "
              f"{per_core * 4000 / 3600:.1f} core-hours ({per_core * 4000 / 3600 / 16:.1f} h on 16 cores)",
              flush=True)
        t_nbgrader, ok_n = time_nbgrader(tmp / "submissions", tmp / "course")
        print(f"nbgrader autograde:       {t_nbgrader:7.1f} s  ({t_nbgrader / n:.2f} s per submission)"
              + ("" if ok_n else "  [FAILED]"), flush=True)
        ratio = t_nbgrader / t_deepgrad
        print(f"deepgrad is {ratio:.1f}x faster than nbgrader autograde (goal: at least 5x on 2 cores)")
        profiled = profile(tmp / "submissions", tmp / "profile-out")
    t_check = time_check()
    print(f"\ndeepgrad check {A} (one student, the self-learner's command): {t_check:.2f} s (goal: 3 s)", flush=True)
    looping = time_looping(max(2, n // 4), jobs)
    return {"n": n, "jobs": jobs, "deepgrad_s": t_deepgrad, "nbgrader_s": t_nbgrader, "ratio": ratio,
            "profile": profiled, "check_s": t_check, "looping": looping}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="number of submissions")
    parser.add_argument("--jobs", type=int, default=2, help="deepgrad grade --jobs")
    parser.add_argument("--looping-only", action="store_true", help="only the looping-student comparison")
    parser.add_argument("--profile-only", action="store_true", help="only the per-phase profile")
    args = parser.parse_args()
    if args.profile_only:
        with tempfile.TemporaryDirectory(prefix="deepgrad-bench-grading-") as tmp:
            make_submissions(args.n, Path(tmp) / "submissions")
            profile(Path(tmp) / "submissions", Path(tmp) / "out")
    elif args.looping_only:
        time_looping(args.n, args.jobs)
    else:
        main(args.n, args.jobs)
