"""`deepgrad assign A1`: nbgrader's generate_assignment from solutions/<A>/ to assignments/<A>/."""
from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from traitlets.config import Config, PyFileConfigLoader

from ..notebook import ROOT

CONFIG_FILE = ROOT / "autograder" / "nbgrader_config.py"


def assignments() -> list[str]:
    """The assignments that have a source folder in solutions/."""
    return sorted(p.name for p in (ROOT / "solutions").iterdir() if p.is_dir() and not p.name.startswith("."))


def _config(release_dir: Path, db: str) -> Config:
    loader = PyFileConfigLoader(CONFIG_FILE.name, path=str(CONFIG_FILE.parent))
    config = loader.load_config()
    config.CourseDirectory.root = str(ROOT)
    config.CourseDirectory.release_directory = os.path.relpath(release_dir, ROOT)
    config.CourseDirectory.db_url = db
    config.GenerateAssignment.force = True
    config.GenerateAssignment.create_assignment = True
    config.Application.log_level = "WARN"
    return config


def generate(assignment: str, release_dir: Path | None = None) -> Path:
    """Write the student version of ``assignment`` into ``release_dir/<assignment>/`` (default assignments/).

    A throwaway gradebook is used: the release needs none, and the course gradebook stays untouched.
    Returns the folder written.
    """
    from nbgrader.apps import NbGraderAPI

    from .._env import ensure_tools_on_path
    ensure_tools_on_path()
    if assignment not in assignments():
        raise ValueError(f"assignment must be one of {assignments()}, got {assignment!r}")
    release_dir = Path(release_dir or ROOT / "assignments").resolve()
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
