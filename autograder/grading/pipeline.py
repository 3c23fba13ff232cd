"""Grade a folder of submissions: extract answer cells, run each part in the sandbox, check, report.

For every student and every part: draw inputs (trusted), run the student's answer cells plus the part's
driver in a fresh sandbox (``sandbox.run_part``), compare what comes back with the reference (the check
module's ``check``), and turn it into a score and plain-words feedback. One student's failure costs that
student only the part it happened in: an answer cell that runs past its budget is interrupted, as Jupyter
would, and gets a short budget in that student's later parts; one that ends its process or cannot be
interrupted is skipped from then on (and the part it stopped is run again without it); and a student's
parts together get a bounded time. An unexpected error in the grader itself is caught per part and
reported too, so the batch always completes.
"""
from __future__ import annotations

import hashlib
import secrets
import shutil
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from urllib.parse import unquote

import numpy as np

from .. import checks as checks_mod
from .. import feedback
from .. import notebook as nbmod
from ..checks import Feedback, Outputs
from ..course import CourseNotFound, installed, root as course_root   # `course` is grade_all's course file
from ..notebook import discover, folder_name, student_id
from ..records import autograded, gradebook, grades, late, manual, record
from ..records.gradebook import create as create_gradebook
from ..records.gradebook import default_url as default_gradebook
from ..records.gradebook import write_scores
from ..results import Line, PartResult, StudentResult
from ..sandbox import RLIMITS_ONLY_WARNING, SHORT_BUDGET_S, Limits, run_part
from ..sandbox import mode as sandbox_mode
from . import shard as shard_mod


DEEPGRAD_BLOCKED = ("Graded code runs without the course library (only NumPy and the standard library are "
                    "available), so calling deepgrad's reference implementation earns nothing. Write the "
                    "answer in NumPy yourself; deepgrad is only for the notebook's self-check cells.")


def _hidden_paths(extra) -> list[str]:
    """Directories a student's process must not see (effective where namespaces are available): the course
    (its solutions and checks), the folder the grader was installed from, the library."""
    paths = [installed(), Path(checks_mod.__file__).resolve().parent.parent]
    try:
        paths.append(course_root())
    except CourseNotFound:      # `deepgrad check` on a student's server: no course to hide
        pass
    try:
        import deepgrad
        paths.append(Path(deepgrad.__file__).resolve().parent)
    except ImportError:
        pass
    return sorted({str(Path(p).resolve()) for p in list(paths) + [e for e in extra if e]})


def _part_seed(base: int, student: str, part: str) -> np.random.Generator:
    """The generator of one part's inputs: from the student's base seed, the student and the part's *name*, so
    that a part added to an assignment leaves every other part's inputs (and a regrade's) as they were."""
    digest = hashlib.sha256(f"{student}\0{part}".encode()).digest()
    return np.random.default_rng([base, int.from_bytes(digest[:8], "little")])


def _explain(run, part) -> list[Line]:
    """Lines describing what happened in the sandbox, before the check's own lines."""
    lines = []
    if run.status == "missing":
        names = ", ".join(f"`{n}`" for n in run.missing)
        defined = ", ".join(f"`{n}`" for n in run.defined) or "nothing"
        lines.append(Line(False, f"The notebook defines no {names} (was it renamed or deleted?). "
                                 f"Your answer cells define: {defined}."))
    if run.error:
        lines.append(Line(False, f"Error: {run.error}"))
        if run.error.startswith("NotImplementedError"):
            lines.append(Line(None, "This is still the stub: replace `raise NotImplementedError()` with your code.",
                              "stub"))
    for n in run.cell_timeouts:
        lines.append(Line(None, f"Answer cell {n} ran past its budget and was interrupted, as Jupyter would: what "
                                f"it defined before that stays defined, and the grader carried on with the next "
                                f"cell (in later parts it gets {SHORT_BUDGET_S:g} s)."))
    if run.status != "ok" or run.error:
        for n, text in run.cell_errors:
            # a cell still raising the stub's NotImplementedError (a HYPERPARAMS cell left at its starting values)
            # says nothing about a part that found all its names: a stub this part needs is named above
            if run.status == "missing" or not (text or "").startswith("NotImplementedError"):
                lines.append(Line(None, f"Answer cell {n} raised {text} (the grader carried on with the next cell)."))
    if any("module named 'deepgrad" in (t or "") for t in [run.error] + [t for _, t in run.cell_errors]):
        lines.append(Line(None, DEEPGRAD_BLOCKED))
    for key, text in run.conversion:
        lines.append(Line(False, f"The value for {key} is not plain numbers: {text}."))
    if run.detail:
        lines.append(Line(None, run.detail[0].upper() + run.detail[1:] + "."))
    return lines


def grade_part(part, cells: list[str], student: str, base_seed: int, hide: list[str],
               isolate: bool | None = None, skip: tuple = (), timeout: float | None = None,
               short: tuple = ()) -> PartResult:
    """Grade one part: ``skip`` answer cells not to run, ``short`` ones to run under a short budget (they
    were interrupted before), ``timeout`` (seconds) at most the part's own."""
    result = PartResult(part.name, float(part.points), 0.0, "ok", part.description)
    try:
        drawn = time.monotonic()
        rng = _part_seed(base_seed, student, part.name)
        inputs = part.inputs(rng)
        result.phases["inputs"] = time.monotonic() - drawn
        # held-out data (validation labels...) stays in the grader: only the check sees it
        sent = {k: v for k, v in inputs.items() if k not in part.held_out}
        limit = part.timeout if timeout is None else min(part.timeout, timeout)
        run = run_part(cells, part.spec(), sent, Limits(timeout=limit, memory_mb=part.memory_mb),
                       hide=hide, isolate=isolate, skip=skip, short=short)
        result.run = run
        result.status, result.wall_s, result.detail = run.status, run.wall_s, run.detail
        if skip:
            result.lines.append(Line(None, f"Answer cell{'s' if len(skip) > 1 else ''} "
                                           f"{', '.join(map(str, skip))} did not run for this part: in an earlier "
                                           f"part {'they' if len(skip) > 1 else 'it'} ended the process or could "
                                           f"not be interrupted."))
        result.lines.extend(_explain(run, part))
        out = Outputs(run.outputs, run.status, run.error)
        fb = Feedback(out)
        verdict, checked = True, time.monotonic()
        if run.status != "missing":
            verdict = part.check(inputs, out, fb)
        result.phases.update(run.phases, check=time.monotonic() - checked)
        result.lines.extend(fb.lines)
        result.shares = checks_mod.earned(part, verdict if run.status != "missing" else False, fb)
        result.score = round(sum(s.score for s in result.shares), 4)
    except Exception as exc:
        result.status, result.score = "grader_error", 0.0
        result.lines.append(Line(False, f"Grader error: {type(exc).__name__}: {exc}"))
        result.detail = traceback.format_exc(limit=5)
    return result


def _seed_for(output: Path, student: str, fixed: int | None) -> int:
    """The seed of a student's inputs: ``fixed`` if given, else the one recorded in ``output`` by an
    earlier run (a regrade draws the same inputs), else a fresh one."""
    if fixed is not None:
        return fixed
    recorded = record.seed(output, student)
    return recorded if recorded is not None else secrets.randbits(63)


def student_budget(module) -> float:
    """Seconds a student's parts may take together: a minute, or twice the longest part's limit."""
    return max(60.0, 2.0 * max((p.timeout for p in module.PARTS), default=0.0))


def grade_student(assignment: str, module, student: str, path: Path, *, base_seed: int, hide: list[str],
                  source_nb: dict | None = None, isolate: bool | None = None,
                  budget_s: float | None = None) -> StudentResult:
    start = time.monotonic()
    problem, cells, sha256 = None, [], None
    with tempfile.TemporaryDirectory(prefix="deepgrad-unzip-") as scratch:
        try:
            nb_path = nbmod.find(Path(path), assignment, module.NOTEBOOK, Path(scratch))
            # the notebook graded, by content: a regrade of the same notebook from a copy keeps its time (late)
            sha256 = hashlib.sha256(nb_path.read_bytes()).hexdigest()
            cells = nbmod.answer_cells(nbmod.load(nb_path), source_nb)
            if not cells:
                problem = "the notebook has no answer cells (were they deleted?)"
        except nbmod.NotebookProblem as exc:
            problem = str(exc)
    read_s = time.monotonic() - start
    parts, skip, short = [], set(), set()
    end = start + (student_budget(module) if budget_s is None else budget_s)
    for part in module.PARTS:
        if problem:
            parts.append(PartResult(part.name, float(part.points), 0.0, "no_notebook", part.description,
                                    lines=[Line(False, problem[0].upper() + problem[1:] + ".")]))
            continue
        result = None
        # once more when a cell, not the part, was what stopped the run, or when the grader failed (a fork
        # server broken out of the part's reach, say): the same inputs again, so the retry cannot favour anyone
        for attempt in range(2):
            left = end - time.monotonic()
            if left <= 1.0:
                result = PartResult(part.name, float(part.points), 0.0, "timeout", part.description, lines=[
                    Line(False, f"Not run: this submission's parts used up their time together "
                                f"({end - start:.0f} s).")])
                break
            result = grade_part(part, cells, student, base_seed, hide, isolate, tuple(sorted(skip)), left,
                                tuple(sorted(short)))
            run = result.run
            if run is None and result.status == "grader_error" and attempt == 0:
                continue
            if run is not None:
                run.outputs = {}  # checked already; a class's worth of returned arrays would not fit in memory
            short |= set(run.cell_timeouts if run else ())
            stuck = run.stuck_cell if run else None
            if stuck is None or stuck in skip:
                break
            skip.add(stuck)       # it ended the process or would not be interrupted: run the part without it
        parts.append(result)
    return StudentResult(student, assignment, parts, problem, time.monotonic() - start, read_s,
                         notebook_sha256=sha256)


def grade_all(assignment: str, submissions: Path, output: Path, *, jobs: int = 1, seed: int | None = None,
              progress: bool = True, gradebook: str | None = None, isolate: bool | None = None,
              stream=None, course: Path | None = None, shard: tuple[int, int] | None = None) -> list[StudentResult]:
    """Grade every student in ``submissions``; write grades.csv (the whole class, from the gradebook),
    feedback/, autograded/, record/ and the gradebook in ``output``. Each student's inputs are drawn from the
    seed recorded for them in ``output`` (a regrade sees the same inputs), a fresh one if none, or ``seed``.
    ``course``: a course file with deadlines (``late``); ``shard`` (i, N): only the students of shard i."""
    stream = stream or sys.stderr
    module = checks_mod.load(assignment)
    submissions, output = Path(submissions).resolve(), Path(output).resolve()
    output.mkdir(parents=True, exist_ok=True)
    source_nb = nbmod.source(assignment, module.NOTEBOOK)
    everyone = discover(submissions)
    students = [s for s in everyone if shard is None or shard_mod.of(s[0], shard[1]) == shard[0]]
    seeds = {sid: _seed_for(output, sid, seed) for sid, _ in students}
    terms = late.load(course) if course else None
    deadline = terms.deadlines.get(assignment) if terms else None
    strangers = sorted(set(deadline.extensions) - {sid for sid, _ in everyone}) if deadline else []
    if strangers:      # a misspelt name, or an id written where the name belongs: that student would pay
        print(f"warning: {course} gives {assignment} extensions to {', '.join(map(unquote, strangers))}, who "
              f"submitted nothing here; extensions are keyed by the submission's name as it is written",
              file=stream)
    hide = _hidden_paths([submissions, output])
    mode = sandbox_mode(isolate)
    if mode == "rlimits only":
        print(RLIMITS_ONLY_WARNING, file=stream)      # before grading: what this mode cannot promise
    start = time.monotonic()
    bar = None
    if progress:
        from tqdm import tqdm
        bar = tqdm(total=len(students), desc=f"grading {assignment}", unit="student", file=stream)
    results = []
    db = gradebook or default_gradebook(output)
    # nbgrader's import and the gradebook's tables (a second or two) while the students are graded: the
    # graders mostly wait on their sandboxes
    maker = ThreadPoolExecutor(max_workers=1)
    made = maker.submit(create_gradebook, db)
    with maker, ThreadPoolExecutor(max_workers=max(1, int(jobs))) as pool:
        futures = {pool.submit(grade_student, assignment, module, sid, path, base_seed=seeds[sid], hide=hide,
                               source_nb=source_nb, isolate=isolate): sid for sid, path in students}
        for fut in as_completed(futures):
            sid = futures[fut]
            try:
                results.append(fut.result())
            except Exception as exc:
                results.append(StudentResult(sid, assignment, [
                    PartResult(p.name, float(p.points), 0.0, "grader_error", p.description,
                               lines=[Line(False, f"Grader error: {type(exc).__name__}: {exc}")])
                    for p in module.PARTS], notebook_problem=f"grader error: {exc}"))
            if bar:
                bar.update(1)
    if bar:
        bar.close()
    results.sort(key=lambda r: r.student)
    paths = dict(students)
    for r in results:
        # the submission time and nbgrader's exchange files always (the gradebook and returning feedback need
        # them), the penalty where the course file gives a deadline; the record still holds the last grading
        late.apply(r, terms, paths[r.student], module.NOTEBOOK, record.load(output, r.student))
        feedback.write_html(output / "feedback" / folder_name(r.student) / f"{assignment}.html", r)
        record.save(output, r, seeds[r.student])
    # the rest of this run's own files before the gradebook: whatever happens there, they are written
    copies = autograded.folder(output)
    manual.formgrader_notebooks(copies, assignment, module,
                                course_root() / "assignments" / assignment / module.NOTEBOOK, students)
    autograded.annotate_all(copies, module.NOTEBOOK, results)
    problem = _into_gradebook(db, made, output, assignment, module, results, terms, source_nb, stream)
    if problem:
        print(f"The gradebook step failed ({problem}): the gradebook and grades.csv may lack these "
              f"{len(results)} students of this run: {', '.join(r.student for r in results)}. Their feedback/, "
              f"record/ and autograded/ files are written in {output}; grading them again (the same inputs, "
              f"from record/) puts them in.", file=stream)
    elapsed = time.monotonic() - start
    failed = [r.student for r in results if r.failed]
    names = f" ({_some(failed)})" if failed else ""
    times = sorted(r.wall_s for r in results)
    slowest = max(results, key=lambda r: r.wall_s) if results else None
    # the cost of a looping or hostile submission, against a typical one (each is bounded: student_budget)
    slow = (f"; slowest {slowest.student} {slowest.wall_s:.1f} s (median {times[len(times) // 2]:.1f} s)"
            if slowest and len(results) > 1 else "")
    # Last line, so that it is what an instructor sees: graded, failed (unusable notebook or a crashed part), time.
    unwritten = (f"; gradebook NOT updated for {len(results)} ({_some([r.student for r in results])})"
                 if problem else "")
    print(f"graded {len(results)} submission{'s' if len(results) != 1 else ''} of {assignment} in {elapsed:.1f} s"
          f"{slow}: {len(failed)} failed{names}{unwritten}; sandbox: {mode}; grades in {output / 'grades.csv'}",
          file=stream)
    if problem:
        raise GradebookNotUpdated(problem, results)
    return results


def _some(names: list[str], most: int = 10) -> str:
    """The first ``most`` names, for the summary line (the full list is printed above it where it matters)."""
    return ", ".join(names[:most]) + (", ..." if len(names) > most else "")


class GradebookNotUpdated(RuntimeError):
    """The gradebook step of :func:`grade_all` failed after every other file was written (the students and
    the error are printed above the summary line); ``results`` are the run's results."""

    def __init__(self, problem: str, results: list[StudentResult]):
        super().__init__(f"the gradebook was not updated for {len(results)} students: {problem}")
        self.results = results


GRADEBOOK_TRIES = 2


def _into_gradebook(db: str, made, output: Path, assignment: str, module, results, terms, source_nb,
                    stream) -> str | None:
    """The gradebook step: the scores, late penalties and written parts' grades, then grades.csv read back
    from it, as one writer (shards grading into one gradebook take turns: ``records.gradebook.lock``). Each of
    its writes finds a row or creates it, so the step can be repeated: a failure is tried once more. Returns
    None when done, else the error in words."""
    problem = None
    for attempt in range(GRADEBOOK_TRIES):
        try:
            if attempt == 0:
                made.result()           # made while the students were graded
            else:
                create_gradebook(db)
            with gradebook.lock(db):
                write_scores(db, assignment, module, results)
                if terms:
                    late.store(db, terms, assignment, module, results)
                # written answers: their grades are created empty once and kept, so a regrade keeps the scores
                manual.keep(db, assignment, module, [r.student for r in results], source_nb)
                grades.write_csv(output / "grades.csv", db, assignment, module)
            return None
        except Exception as exc:
            problem = f"{type(exc).__name__}: {(str(exc).strip().splitlines() or [''])[0][:300]}"
            again = "trying it once more" if attempt + 1 < GRADEBOOK_TRIES else "giving up"
            print(f"gradebook step failed ({problem}); {again}", file=stream)
    return problem


def grade_notebook(assignment: str, path: Path, *, seed: int | None = None) -> StudentResult:
    """One notebook graded exactly as :func:`grade_all` grades a student (same sandbox, parts, checks and
    feedback), with nothing written: the self-learner's `deepgrad check`, which works outside a course too
    (with the checks installed with deepgrad)."""
    module = checks_mod.load(assignment, installed_without_course=True)
    with tempfile.TemporaryDirectory(prefix="deepgrad-check-") as tmp:
        folder = Path(tmp) / "submission"
        folder.mkdir()
        shutil.copy(path, folder / module.NOTEBOOK)
        return grade_student(assignment, module, student_id(Path(path).stem), folder,
                             base_seed=secrets.randbits(63) if seed is None else seed, hide=_hidden_paths([tmp]),
                             source_nb=nbmod.source(assignment, module.NOTEBOOK))
