"""nbgrader's gradebook: the one way to create it, open it, and write the automatic scores into it.

The gradebook is nbgrader's database (SQLite by default, PostgreSQL for a class graded in shards). The
formgrader, ``nbgrader export`` and our grades.csv read it; the grader writes one grade cell per part.
Everything in the grader that touches it goes through :func:`open` (which also puts nbgrader's tools on PATH
and quiets a warning nbgrader's own code trips), and new gradebooks are made by :func:`create`. Both work in
the course that the course's autograder/nbgrader_config.py names (:func:`course_id`), as nbgrader's own
commands do, so that the gradebook holds one course, whoever wrote a row first. One gradebook per course:
grading into an output folder inside the course writes the course's (:func:`default_url`).

Shards (``--shard i/N``) write into one PostgreSQL gradebook at once, and nbgrader creates every shared row
(the course, the assignment, its notebook, grade and solution cells, a student) by looking for it and
inserting it when it is missing, a commit per row: two shards that look at once both insert, and the second
fails on the unique constraint. So every writer holds :func:`lock` (``open(url, write=True)`` takes it): one
writer at a time per gradebook. A lock scoped to a transaction would not do, since nbgrader commits inside its
own calls; the lock is PostgreSQL's session-level advisory lock, held on a connection of its own and released
on leaving, or by the server when the process holding it dies.
"""
from __future__ import annotations

import contextlib
import functools
import hashlib
import threading
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

from .. import course

# the advisory lock's key (advisory locks are per database, so gradebooks in other databases never contend)
LOCK_KEY = int.from_bytes(hashlib.sha256(b"deepgrad gradebook writers").digest()[:8], "big", signed=True)
LOCK_TIMEOUT_S = 600          # a writer waits at most this long for the others (then its step fails, reported)
_held = threading.local()     # the gradebooks this thread holds the lock of: taking it again is a no-op


@contextlib.contextmanager
def lock(db_url: str, timeout_s: float = LOCK_TIMEOUT_S):
    """``with gradebook.lock(url)``: the gradebook's writers one at a time, across processes and machines.

    On PostgreSQL, ``pg_advisory_lock`` on a connection of its own; re-entrant within a thread (a step that
    holds it may call writers that take it). On SQLite nothing: a file on one machine, where SQLite's own lock
    serialises each transaction, and concurrent graders need a server database anyway (nbgrader's FAQ)."""
    from sqlalchemy import create_engine, make_url, text
    from sqlalchemy.pool import NullPool

    held = _held.__dict__.setdefault("urls", set())
    if db_url in held or make_url(db_url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(db_url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            conn.execute(text(f"SET lock_timeout = {int(timeout_s * 1000)}"))
            conn.execute(text("SELECT pg_advisory_lock(:key)"), {"key": LOCK_KEY})
            conn.commit()       # the lock outlives the transaction; an idle open transaction could be cut off
            held.add(db_url)
            try:
                yield
            finally:
                held.discard(db_url)
                with contextlib.suppress(Exception):    # closing the connection releases it anyway
                    conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": LOCK_KEY})
                    conn.commit()
    finally:
        engine.dispose()


def course_id() -> str:
    """The course id the course's autograder/nbgrader_config.py gives nbgrader (``CourseDirectory.course_id``):
    the course nbgrader's collect, formgrader and exchange work in. nbgrader's ``Gradebook`` otherwise files
    rows under "default_course", and the gradebook would hold the course twice."""
    return _course_id(course.root())


@functools.cache
def _course_id(root: Path) -> str:
    value = course.nbgrader_config(root).CourseDirectory.get("course_id")
    if not isinstance(value, str) or not value:
        raise RuntimeError(f"{root / course.CONFIG} must set c.CourseDirectory.course_id to the course's id, got "
                           f"{value!r}")
    return value


def default_url(output: Path) -> str:
    """The gradebook of an output folder when none is named (``--gradebook``): the course's own, the one its
    formgrader reads (``CourseDirectory.db_url``), when ``output`` lies inside the course; else
    ``OUTPUT/gradebook.db`` (a trial run, a machine without the course)."""
    where = course.holding(output)
    return course.gradebook_url(where) if where else f"sqlite:///{Path(output).resolve() / 'gradebook.db'}"


@contextlib.contextmanager
def open(db_url: str, write: bool = False):   # the gradebook's own verb: `with gradebook.open(url) as gb`
    """``with gradebook.open(url) as gb``: nbgrader's ``Gradebook`` of the course (:func:`course_id`), closed
    on leaving. ``write``: the caller writes (creates or changes rows), so it holds :func:`lock` until it
    leaves. nbgrader asks its ``alembic`` command for the database's revision when it makes a gradebook, so
    nbgrader's tools are put on PATH first."""
    from nbgrader.api import Gradebook

    from .._env import ensure_tools_on_path
    ensure_tools_on_path()
    with lock(db_url) if write else contextlib.nullcontext(), Gradebook(db_url, course_id()) as gb, \
            warnings.catch_warnings():
        # nbgrader's own add_submission trips SQLAlchemy's autoflush warning; it is harmless and not ours
        warnings.filterwarnings("ignore", message=".*not in session.*")
        yield gb


def alembic_head() -> str:
    """The newest of nbgrader's database revisions, read from its migration scripts: the revision no other
    revision names as its ``down_revision`` (what ``alembic heads`` prints, without a second Python)."""
    import importlib.util
    import re
    versions = Path(importlib.util.find_spec("nbgrader").submodule_search_locations[0], "alembic", "versions")
    revisions, parents = set(), set()
    for script in versions.glob("*.py"):
        text = script.read_text()
        revisions.update(re.findall(r"^revision\s*=\s*['\"](\w+)['\"]", text, re.M))
        parents.update(re.findall(r"^down_revision\s*=\s*['\"](\w+)['\"]", text, re.M))
    heads = revisions - parents
    if len(heads) != 1:
        raise RuntimeError(f"nbgrader's migrations in {versions} have {len(heads)} heads, expected one")
    return heads.pop()


def create(db_url: str, tries: int = 5) -> None:
    """Create nbgrader's tables if they are missing, with the database revision nbgrader would record (nbgrader
    itself asks a separate `alembic` process for it, seconds per new gradebook). Shards grading into one
    PostgreSQL gradebook at once would race to create them: they take turns (:func:`lock`), and a CREATE that
    still fails as a duplicate (a writer that does not take the lock) is tried again."""
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(tries):
        try:
            with lock(db_url):
                engine = create_engine(db_url)
                try:
                    with engine.begin() as conn:
                        if not inspect(conn).get_table_names():
                            conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
                            conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                                         {"v": alembic_head()})
                finally:
                    engine.dispose()
                with open(db_url) as gb:
                    gb.db.commit()      # nbgrader adds the course's row when it opens, and commits it only here
            return
        except (IntegrityError, ProgrammingError):
            if attempt == tries - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def write_scores(db_url: str, assignment: str, module, results) -> None:
    """Record the automatic scores (one grade cell per part) and the submission times for the formgrader and
    ``nbgrader export``."""
    from nbgrader.api import MissingEntry

    notebook = Path(module.NOTEBOOK).stem
    with open(db_url, write=True) as gb:
        # an assignment first graded by an older DeepGrad sits in "default_course": moved into the course
        gb.update_or_create_assignment(assignment, course_id=gb.course_id)
        gb.update_or_create_notebook(notebook, assignment)
        for part in module.PARTS:
            gb.update_or_create_grade_cell(part.name, notebook, assignment, max_score=float(part.points),
                                           cell_type="code")
        for r in results:
            gb.update_or_create_student(r.student)
            try:
                submission = gb.find_submission(assignment, r.student)
            except MissingEntry:
                submission = gb.add_submission(assignment, r.student)
            if r.submitted_at:
                # naive UTC to the microsecond, as nbgrader reads submitted/<student>/<A>/timestamp.txt: its
                # formgrader lists a submission as autograded only when the two are equal
                submission.timestamp = datetime.fromisoformat(r.submitted_at).astimezone(timezone.utc) \
                    .replace(tzinfo=None)
            for p in r.parts:
                grade = gb.find_grade(p.name, notebook, assignment, r.student)
                grade.auto_score = float(p.score)
                # as nbgrader's own autograde: a score a grader gave by hand stands, flagged for review against
                # the new automatic one; otherwise the part needs no one (formgrader lists it as graded)
                grade.needs_manual_grade = grade.manual_score is not None
            gb.db.commit()
