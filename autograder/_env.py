"""Small environment helpers shared by the release step and the gradebook writer."""
import os
import sys


def ensure_tools_on_path() -> None:
    """Put this interpreter's bin folder on PATH: nbgrader makes a new gradebook by asking its `alembic` command
    (looked up on PATH) for the database's revision, and a gradebook made without it has none, which `nbgrader
    db upgrade` then cannot upgrade. Called wherever our code lets nbgrader open a gradebook
    (``records.gradebook.open``, which ``create`` goes through too, and ``grading.release``); the formgrader
    gets the same from `make instructor`, which puts the venv's bin first on PATH."""
    bindir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in parts:
        os.environ["PATH"] = os.pathsep.join([bindir, *[p for p in parts if p]])
