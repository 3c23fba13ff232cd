"""`deepgrad assign A1`: nbgrader's generate_assignment from solutions/<A>/ to assignments/<A>/, after the source
notebook's cells that state each part's shares are brought up to date with the check module."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

from traitlets.config import Config

from .. import course


def assignments() -> list[str]:
    """The assignments that have a source folder in the course's solutions/."""
    return sorted(p.name for p in (course.root() / "solutions").iterdir()
                  if p.is_dir() and not p.name.startswith("."))


def shares_cells(nb: dict, module) -> dict:
    """``nb`` (a source notebook as JSON) with one markdown cell per graded part, id ``shares-<part>``, stating
    how its points split (``checks.shares_markdown``): just before the part's first answer cell (after its
    introduction, before the student starts). A part graded from the previous part's answer cell (no answer
    cell and no text of its own in between) gets its table right after that part's, before the shared cell; a
    part with no answer cell to write (a target reached with earlier code), before its graded cell. A copy;
    cells already there are replaced, so running it again changes nothing."""
    from .. import checks

    cells = [c for c in nb["cells"] if not str(c.get("id", "")).startswith("shares-")]
    nbg = [c.get("metadata", {}).get("nbgrader", {}) for c in cells]
    graded = {m.get("grade_id"): i for i, m in enumerate(nbg) if m.get("grade") and m.get("grade_id")}
    inserts, previous, last_answer = [], -1, None
    for part in module.PARTS:
        at = graded.get(part.name)
        if at is None:
            continue
        own = next((i for i in range(previous + 1, at) if nbg[i].get("solution") and
                    cells[i]["cell_type"] == "code"), None)
        # no answer cell of its own and no text of its own since the previous part: graded from that part's cell
        shared = own is None and not any(cells[i]["cell_type"] == "markdown" for i in range(previous + 1, at))
        answer = own if own is not None else (last_answer if shared and last_answer is not None else at)
        last_answer = answer
        inserts.append((answer, {"cell_type": "markdown", "id": f"shares-{part.name}", "metadata": {},
                                 "source": checks.shares_markdown(part).splitlines(keepends=True)}))
        previous = at
    for index, cell in reversed(inserts):
        cells.insert(index, cell)
    return {**nb, "cells": cells}


def _source(assignment: str) -> Path:
    from .. import checks
    return course.root() / "solutions" / assignment / checks.load(assignment).NOTEBOOK


def _cells(nb: dict) -> list:
    return [(c.get("id"), "".join(c["source"]) if isinstance(c["source"], list) else c["source"])
            for c in nb["cells"]]


def shares_drift(assignment: str) -> list[str]:
    """The parts whose shares cell in the source notebook is missing or out of date (``[]``: all current)."""
    from .. import checks
    nb = json.loads(_source(assignment).read_text(encoding="utf-8"))
    want = _cells(shares_cells(nb, checks.load(assignment)))
    if want == _cells(nb):
        return []
    have = set(_cells(nb))
    return [i[len("shares-"):] for i, text in want if i.startswith("shares-") and (i, text) not in have] \
        or ["(a shares cell is out of place)"]


def state_shares(assignment: str) -> bool:
    """Rewrite the source notebook's shares cells from the check module; True if anything changed."""
    from .. import checks
    path = _source(assignment)
    nb = json.loads(path.read_text(encoding="utf-8"))
    new = shares_cells(nb, checks.load(assignment))
    if _cells(new) == _cells(nb):
        return False
    path.write_text(json.dumps(new, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return True


def _config(release_dir: Path, db: str) -> Config:
    root = course.root()
    config = course.nbgrader_config(root)
    config.CourseDirectory.root = str(root)
    config.CourseDirectory.release_directory = os.path.relpath(release_dir, root)
    config.CourseDirectory.db_url = db
    config.GenerateAssignment.force = True
    config.GenerateAssignment.create_assignment = True
    config.Application.log_level = "WARN"
    return config


def generate(assignment: str, release_dir: Path | None = None) -> Path:
    """Write the student version of ``assignment`` into ``release_dir/<assignment>/`` (default the course's
    assignments/).

    A throwaway gradebook is used: the release needs none, and the course gradebook stays untouched.
    Returns the folder written.
    """
    from nbgrader.apps import NbGraderAPI

    from .._env import ensure_tools_on_path
    ensure_tools_on_path()
    if assignment not in assignments():
        raise ValueError(f"assignment must be one of {assignments()}, got {assignment!r}")
    release_dir = Path(release_dir or course.root() / "assignments").resolve()
    release_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="deepgrad-assign-") as tmp:
        api = NbGraderAPI(config=_config(release_dir, f"sqlite:///{tmp}/gradebook.db"))
        result = api.generate_assignment(assignment, force=True, create=True)
        if not result.get("success"):
            raise RuntimeError(f"nbgrader could not generate {assignment}:\n{result.get('error') or result.get('log')}")
    out = release_dir / assignment
    for junk in out.rglob("__pycache__"):
        shutil.rmtree(junk, ignore_errors=True)
    return out
