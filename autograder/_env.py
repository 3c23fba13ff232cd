"""Small environment helpers shared by the release step and the gradebook writer."""
import os
import sys


def ensure_tools_on_path() -> None:
    """Put this interpreter's bin folder on PATH: nbgrader's gradebook shells out to `alembic` from there."""
    bindir = os.path.dirname(sys.executable)
    parts = os.environ.get("PATH", "").split(os.pathsep)
    if bindir not in parts:
        os.environ["PATH"] = os.pathsep.join([bindir, *[p for p in parts if p]])
