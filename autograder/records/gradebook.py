"""nbgrader's gradebook: the one way to create it, open it, and write the automatic scores into it.

The gradebook is nbgrader's database (SQLite by default, PostgreSQL for a class graded in shards). The
formgrader, ``nbgrader export`` and our grades.csv read it; the grader writes one grade cell per part.
Everything in the grader that touches it goes through :func:`open` (which also puts nbgrader's tools on PATH
and quiets a warning nbgrader's own code trips), and new gradebooks are made by :func:`create`.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from pathlib import Path


@contextlib.contextmanager
def open(db_url: str):   # the gradebook's own verb: `with gradebook.open(url) as gb`
    """``with gradebook.open(url) as gb``: nbgrader's ``Gradebook``, closed on leaving."""
    from nbgrader.api import Gradebook

    from .._env import ensure_tools_on_path
    ensure_tools_on_path()
    with Gradebook(db_url) as gb, warnings.catch_warnings():
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
    PostgreSQL gradebook at once race to create them (the loser's CREATE fails as a duplicate); the loser then
    finds them made."""
    from nbgrader.api import Gradebook
    from sqlalchemy import create_engine, inspect, text
    from sqlalchemy.exc import IntegrityError, ProgrammingError

    for attempt in range(tries):
        try:
            engine = create_engine(db_url)
            try:
                with engine.begin() as conn:
                    if not inspect(conn).get_table_names():
                        conn.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
                        conn.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"),
                                     {"v": alembic_head()})
            finally:
                engine.dispose()
            Gradebook(db_url).close()
            return
        except (IntegrityError, ProgrammingError):
            if attempt == tries - 1:
                raise
            time.sleep(0.2 * (attempt + 1))


def write_scores(db_url: str, assignment: str, module, results) -> None:
    """Record the automatic scores (one grade cell per part) for the formgrader and ``nbgrader export``."""
    from nbgrader.api import MissingEntry

    notebook = Path(module.NOTEBOOK).stem
    with open(db_url) as gb:
        gb.update_or_create_assignment(assignment)
        gb.update_or_create_notebook(notebook, assignment)
        for part in module.PARTS:
            gb.update_or_create_grade_cell(part.name, notebook, assignment, max_score=float(part.points),
                                           cell_type="code")
        for r in results:
            gb.update_or_create_student(r.student)
            try:
                gb.find_submission(assignment, r.student)
            except MissingEntry:
                gb.add_submission(assignment, r.student)
            for p in r.parts:
                grade = gb.find_grade(p.name, notebook, assignment, r.student)
                grade.auto_score = float(p.score)
                # as nbgrader's own autograde: a score a grader gave by hand stands, flagged for review against
                # the new automatic one; otherwise the part needs no one (formgrader lists it as graded)
                grade.needs_manual_grade = grade.manual_score is not None
            gb.db.commit()
