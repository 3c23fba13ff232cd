"""The instructor's command: `deepgrad assign | grade | verify | ...`, each on the course it is run in.

    deepgrad new-course DIR                              a course folder of your own (then cd DIR)
    deepgrad assign A1                                   regenerate assignments/A1 from solutions/A1
    deepgrad grade A1 SUBMISSIONS --output OUT --jobs 2  grade; OUT/grades.csv, OUT/feedback/, gradebook
    deepgrad verify [A1 ...]                             solutions score full marks, released stubs zero
    deepgrad check A1 path/to/A1.ipynb                   grade one notebook, print the feedback (students)
    deepgrad export A1 OUT --roster R --to F             grades (from the gradebook) in the CSV Canvas or Moodle imports
    deepgrad return A1 OUT --to DIR                      each student's feedback, with the written answers' grades
    deepgrad report A1 OUT                               OUT/report.html: scores and mistakes per part
    deepgrad similar A1 SUBMISSIONS --output F           pairs of submissions alike after normalising names

Every command but new-course takes --course-dir DIR, the course folder (autograder/course.py says how it is
found otherwise: $DEEPGRAD_COURSE_DIR, else the nearest course folder at or above the current one).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

# The grader's own NumPy (inputs, checks) works on small arrays: one BLAS thread. More would spin on the cores
# the sandboxes need (measured: twice the grader's CPU time, 15 % more wall time for 20 A1 students on 2
# cores). Set before NumPy loads, which the next import does.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

from . import checks, course, feedback  # noqa: E402
from .grading import release  # noqa: E402
from .grading.verify import graded_assignments, release_drift, verify  # noqa: E402
from .records import grades, gradebook, manual, record  # noqa: E402
from .tools import classreport, lms, returning, similarity  # noqa: E402


def check(assignment: str, path: Path, *, seed: int | None = None, stream=None) -> bool:
    """Grade one notebook exactly as `deepgrad grade` would (same sandbox, checks and feedback) and print
    the feedback as text, with the sandbox mode it ran in. Returns True for full marks."""
    from .grading import grade_notebook
    from .sandbox import mode
    result = grade_notebook(assignment, path, seed=seed)
    print(feedback.terminal(result, path, mode()), file=stream or sys.stdout)     # the mode grade_notebook used
    return result.score == result.max_score


def _instructor_commands(sub, common) -> None:
    """The term's commands after grading: export, return, report, similar."""
    p = sub.add_parser("export", parents=[common], help="grades in the CSV an LMS imports, with a roster check")
    p.add_argument("assignment")
    p.add_argument("output", type=Path, help="the folder `deepgrad grade` wrote")
    p.add_argument("--roster", type=Path, required=True, help="the LMS's roster as CSV (Canvas's gradebook "
                   "export will do)")
    p.add_argument("--match", default="student_id", help="the roster column holding the submission names")
    p.add_argument("--format", choices=lms.FORMATS, default="canvas")
    p.add_argument("--to", type=Path, required=True, help="the CSV file to write")
    p.add_argument("--gradebook", default=None, help="the nbgrader database URL graded into (default: the "
                   "course's gradebook for an OUTPUT inside the course, else OUTPUT/gradebook.db; without one, "
                   "OUTPUT/grades.csv as the last grading wrote it)")
    p.add_argument("--column", default=None, help="the LMS column's header (default: the assignment's name); "
                   "Canvas matches 'Title (id)' or an exact title, e.g. --column 'A1 (12345)', and makes a new "
                   "column otherwise")

    p = sub.add_parser("return", parents=[common], help="each student's feedback: one zip per student, or "
                       "nbgrader's layout")
    p.add_argument("assignment")
    p.add_argument("output", type=Path, help="the folder `deepgrad grade` wrote")
    p.add_argument("--to", type=Path, required=True, help="where the zips (or feedback/) go")
    p.add_argument("--layout", choices=returning.LAYOUTS, default="zip")
    p.add_argument("--gradebook", default=None, help="the nbgrader database URL graded into, where the written "
                   "answers' scores and comments are (default: as for export)")
    p.add_argument("--roster", type=Path, default=None, help="roster CSV naming the zips")
    p.add_argument("--match", default="student_id", help="the roster column holding the submission names")
    p.add_argument("--name", default=None, help="the roster column a zip is named by (e.g. 'SIS Login ID')")

    p = sub.add_parser("report", parents=[common], help="OUTPUT/report.html: per part, the scores and the mistakes made")
    p.add_argument("assignment")
    p.add_argument("output", type=Path, help="the folder `deepgrad grade` wrote")

    p = sub.add_parser("similar", parents=[common], help="pairs of submissions whose answer cells are alike (flags only)")
    p.add_argument("assignment")
    p.add_argument("submissions", type=Path)
    p.add_argument("--output", "-o", type=Path, required=True, help="the HTML page to write")
    p.add_argument("--threshold", type=float, default=similarity.THRESHOLD,
                   help=f"share of uncommon code two answers must have in common (default {similarity.THRESHOLD})")


def _shard(text, parser):
    if text is None:
        return None
    from .grading import shard
    try:
        return shard.parse(text)
    except ValueError as exc:
        parser.error(str(exc))


def _gradebook(args, required: bool) -> str | None:
    """The gradebook an instructor command reads: ``--gradebook``, else the one `deepgrad grade` wrote for
    OUTPUT (``gradebook.default_url``: the course's for an OUTPUT inside the course) where it exists; None (or,
    when ``required``, a FileNotFoundError naming the option) where there is none."""
    if args.gradebook:
        return args.gradebook
    url = gradebook.default_url(args.output)
    if not url.startswith("sqlite:///") or Path(url.removeprefix("sqlite:///")).is_file():
        return url
    if required:
        raise FileNotFoundError(f"no gradebook for OUTPUT {args.output} ({url} is missing): pass --gradebook "
                                f"URL, the nbgrader database `deepgrad grade` wrote into")
    return None


def _export(args, parser) -> int:
    module = checks.load(args.assignment)
    roster = lms.read_roster(args.roster, args.match)
    db = _gradebook(args, required=False)
    # the gradebook holds the formgrader's scores the moment they are typed; grades.csv only after a regrade
    rows = grades.class_rows(db, args.assignment, module) if db else grades.read_csv(args.output / "grades.csv")
    scores = {r["student_id"]: float(r["score"]) for r in rows}
    points = sum(float(p.points) for p in module.PARTS) + sum(manual.parts(module).values())
    column = args.assignment if args.column is None else args.column
    found = lms.export(args.format, column, points, roster, scores, args.match, args.to)
    for line in found.lines():
        print(line)
    ungraded = grades.ungraded(rows, module)
    if ungraded:
        who = "; ".join(f"{lms.shown(student)} ({', '.join(parts)})" for student, parts in ungraded.items())
        print(f"warning: {len(ungraded)} student{'s' if len(ungraded) > 1 else ''} with written answers not "
              f"graded yet, exported as if they scored 0 on them: {who}", file=sys.stderr)
    print(f"{len(roster)} students written to {args.to} ({args.format}, column {column!r}, "
          f"scores from {'the gradebook' if db else args.output / 'grades.csv'})")
    return 1 if found.unknown else 0


def _return(args, parser) -> int:
    module = checks.load(args.assignment)
    names = None
    if args.roster:
        if not args.name:
            parser.error("--roster needs --name, the roster column a zip is named by")
        roster = lms.read_roster(args.roster, args.match)
        if roster and args.name not in roster[0]:
            parser.error(f"--name {args.name!r} is not a column of {args.roster}; its columns are {list(roster[0])}")
        names = {r[args.match].strip(): r[args.name] for r in roster}
        graded = {rec["student"]: 0.0 for rec in record.load_all(args.output, args.assignment)}
        strangers = lms.check(roster, graded, args.match).unknown
        if strangers:       # export refuses them; here they still get their feedback, under their id
            print(f"warning: {len(strangers)} graded but not in the roster {args.roster} (named by their id): "
                  f"{', '.join(strangers)}", file=sys.stderr)
    done = returning.return_feedback(args.assignment, module, args.output, args.to, _gradebook(args, required=True),
                                     args.layout, names)
    if done.not_from_exchange:
        print(f"warning: {len(done.not_from_exchange)} not returned in nbgrader's layout, their submission did not "
              f"come through nbgrader's exchange (no submission_secret.txt was graded; use --layout zip for "
              f"them): {', '.join(map(lms.shown, done.not_from_exchange))}", file=sys.stderr)
    print(f"{len(done.written)} students' feedback written to {args.to} ({args.layout})")
    return 0


def _report(args, parser) -> int:
    module = checks.load(args.assignment)
    path = classreport.write(args.assignment, module, args.output)
    print(f"report written to {path}")
    return 0


def _similar(args, parser) -> int:
    module = checks.load(args.assignment)
    pairs = similarity.write(args.assignment, module, args.submissions, args.output, args.threshold)
    print(f"{len(pairs)} pair{'s' if len(pairs) != 1 else ''} at or above {args.threshold:g} written to "
          f"{args.output} (a flag for a human to look at, not a verdict; no grade is changed)")
    return 0


INSTRUCTOR_COMMANDS = {"export": _export, "return": _return, "report": _report, "similar": _similar}


def skip_slow_imports() -> None:
    """For a process that is only the grader: nbgrader imports jsonschema, whose optional IRI checker compiles a
    grammar on import (over a second per command, half of opening the gradebook). No gradebook field is an IRI;
    without the checker jsonschema skips that format."""
    sys.modules.setdefault("rfc3987_syntax", None)


def main(argv=None) -> int:
    if argv is None:
        skip_slow_imports()     # the `deepgrad` command itself, not a caller in a process of its own
    parser = argparse.ArgumentParser(prog="deepgrad", description="DeepGrad instructor tools (nbgrader + a "
                                     "sandboxed autograder), working on a course folder of the instructor's own.")
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--course-dir", type=Path, default=None, metavar="DIR", help="the course folder to work "
                        f"on, one holding {course.CONFIG} and solutions/ (default: ${course.ENV}, else the "
                        "nearest such folder at or above the current one); not --course, the file of deadlines")

    p = sub.add_parser("new-course", help="make a course folder of your own: its nbgrader configuration, "
                       "solutions/, assignments/ and check modules, copied from this DeepGrad")
    p.add_argument("dir", type=Path, help="the new folder (missing or empty)")

    p = sub.add_parser("assign", parents=[common], help="regenerate assignments/<A> (the student version) from solutions/<A>")
    p.add_argument("assignment", nargs="+")

    p = sub.add_parser("grade", parents=[common], help="grade a folder of submissions")
    p.add_argument("assignment")
    p.add_argument("submissions", type=Path, help="one folder (or <student>.zip) per student")
    p.add_argument("--output", "-o", type=Path, required=True, help="where grades.csv, feedback/ and record/ "
                   "go; inside the course (e.g. grading/A1), the gradebook and the autograded copies are the "
                   "course's, where its formgrader finds them; elsewhere, OUTPUT/gradebook.db and OUTPUT/autograded")
    p.add_argument("--jobs", "-j", type=int, default=1, help="students graded in parallel")
    p.add_argument("--seed", type=int, default=None, help="fix the grading inputs (default: the seed recorded for "
                   "the student in OUTPUT, or a fresh one)")
    p.add_argument("--gradebook", default=None, help="nbgrader database URL (default: the course's gradebook "
                   "for an OUTPUT inside the course, else OUTPUT/gradebook.db)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--course", type=Path, default=None, help="course file (TOML) with deadlines, extensions "
                   "and the late penalty (the course folder itself is --course-dir)")
    p.add_argument("--shard", default=None, help="i/N: grade only shard i of N (N graders, one gradebook)")
    _instructor_commands(sub, common)

    p = sub.add_parser("verify", parents=[common], help="every solution scores full marks, every released stub zero, the "
                       "released notebooks are in sync")
    p.add_argument("assignment", nargs="*")
    p.add_argument("--jobs", "-j", type=int, default=2)

    p = sub.add_parser("check", parents=[common], help="grade your own notebook as the instructor would and print the feedback")
    p.add_argument("assignment")
    p.add_argument("notebook", type=Path, help="your notebook, e.g. work/assignments/A1/A1.ipynb")
    p.add_argument("--seed", type=int, default=None, help="fix the grading inputs (default: fresh each run)")

    args = parser.parse_args(argv)
    if args.command == "new-course":
        try:
            names = course.new(args.dir)
        except (FileExistsError, FileNotFoundError) as exc:
            parser.error(str(exc))
        print(f"course folder {args.dir.resolve()} made with {', '.join(names)}: cd there and every deepgrad "
              f"command works on it (autograder/README.md, 'Your course folder')")
        return 0
    named = os.environ.get(course.ENV)
    try:
        if args.course_dir is not None:
            if not course.is_course(args.course_dir):
                parser.error(f"--course-dir {args.course_dir} is not a DeepGrad course: a course folder holds "
                             f"{course.CONFIG} and solutions/ (make one with `deepgrad new-course DIR`)")
            # the environment, so that what the command runs (nbgrader's configuration, say) sees it too
            os.environ[course.ENV] = str(args.course_dir.resolve())
        try:
            root = course.root()
        except course.CourseNotFound as exc:
            if args.command != "check":     # a student's server holds no course: check uses the installed checks
                parser.error(str(exc))
            root = None
        return _run(args, parser, root)
    finally:
        if named is None:
            os.environ.pop(course.ENV, None)
        else:
            os.environ[course.ENV] = named


def _run(args, parser, root: Path | None) -> int:
    """One command on the course folder ``root`` (None: `check` outside any course)."""
    if args.command == "assign":
        for a in args.assignment:
            t0 = time.monotonic()
            if a in graded_assignments() and release.state_shares(a):
                print(f"{a}: the shares cells of solutions/{a} were brought up to date with checks/{a}.py")
            out = release.generate(a)
            print(f"{a}: released to {out.relative_to(root)} in {time.monotonic() - t0:.1f} s")
        return 0
    if args.command == "grade":
        if not args.submissions.is_dir():
            parser.error(f"SUBMISSIONS must be a folder, got {args.submissions}")
        from .grading import grade_all
        from .grading.pipeline import GradebookNotUpdated
        try:
            results = grade_all(args.assignment, args.submissions, args.output, jobs=args.jobs, seed=args.seed,
                                progress=not args.no_progress, gradebook=args.gradebook, course=args.course,
                                shard=_shard(args.shard, parser))
        except GradebookNotUpdated:
            return 1    # its students and error are printed above the summary; every other file is written
        # non-zero when a notebook was unusable or a part crashed (the summary line names them)
        return 1 if any(r.failed for r in results) else 0
    if args.command == "check":
        if not args.notebook.is_file():
            parser.error(f"NOTEBOOK must be a notebook file such as work/assignments/{args.assignment}/"
                         f"{args.assignment}.ipynb, got {feedback.printable(args.notebook, True)}")
        try:
            known = graded_assignments()
        except course.CourseNotFound:       # a student's server: the checks installed with deepgrad
            known = checks.installed_assignments()
        if args.assignment not in known:
            parser.error(f"ASSIGNMENT must be one of {', '.join(known)}, got "
                         f"{feedback.printable(repr(args.assignment), True)}")
        return 0 if check(args.assignment, args.notebook, seed=args.seed) else 1
    if args.command in INSTRUCTOR_COMMANDS:
        try:
            return INSTRUCTOR_COMMANDS[args.command](args, parser)
        except (ValueError, FileNotFoundError) as exc:    # a roster, course file or folder that is wrong
            parser.error(str(exc))
    if args.command == "verify":
        names = args.assignment or graded_assignments()
        ok = verify(names, jobs=args.jobs)
        for a in names:
            drift = release_drift(a)
            if drift:
                ok = False
                print(f"{a}: assignments/{a} is out of date ({', '.join(drift)}): run `deepgrad assign {a}`")
        return 0 if ok else 1
    return 2


if __name__ == "__main__":
    sys.exit(main())
