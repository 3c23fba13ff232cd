"""The course every command works on: the instructor's own folder, never the one the package was installed from.

A DeepGrad course is a folder holding ``autograder/nbgrader_config.py`` (its nbgrader configuration, whose
``CourseDirectory.root`` is the folder it sits in) and ``solutions/`` (its assignments' nbgrader sources).
Beside them it keeps ``assignments/`` (the released notebooks) and ``autograder/checks/<A>.py`` (the hidden
checks of each assignment; the framework they import, ``autograder.checks``, is the installed package's).
This repository is such a folder; ``deepgrad new-course DIR`` makes another.

Which course: ``--course-dir DIR`` on any ``deepgrad`` command (which sets :data:`ENV` for the command and
what it runs), else the environment variable :data:`ENV`, else the nearest folder at or above the current one
that holds the marker, as nbgrader finds its ``nbgrader_config.py``. None of these: :class:`CourseNotFound`,
saying how to name one.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

ENV = "DEEPGRAD_COURSE_DIR"
CONFIG = Path("autograder") / "nbgrader_config.py"      # with solutions/: what marks a folder as a course
CHECKS = Path("autograder") / "checks"
# a course's students' work and what grading makes of it: never committed (new-course's .gitignore)
PRIVATE = ("gradebook.db", "exchange/", "submitted/", "autograded/", "feedback/", "grading/", "returned/")


class CourseNotFound(FileNotFoundError):
    """No course folder was named or found; the message says how to name one."""


def is_course(path: Path) -> bool:
    """True when ``path`` holds a course's marker: ``autograder/nbgrader_config.py`` and ``solutions/``."""
    return (Path(path) / CONFIG).is_file() and (Path(path) / "solutions").is_dir()


def root() -> Path:
    """The course folder (absolute): $DEEPGRAD_COURSE_DIR, else the nearest course at or above the current
    folder. Raises :class:`CourseNotFound` when there is none."""
    named = os.environ.get(ENV)
    if named:
        path = Path(named).expanduser().resolve()
        if not is_course(path):
            raise CourseNotFound(f"{ENV}={named} is not a DeepGrad course: a course folder holds {CONFIG} and "
                                 f"solutions/ (make one with `deepgrad new-course DIR`)")
        return path
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if is_course(folder):
            return folder
    raise CourseNotFound(f"no DeepGrad course at or above {here}: run the command inside your course folder, or "
                         f"name it with --course-dir DIR or {ENV}=DIR (a course folder holds {CONFIG} and "
                         f"solutions/; `deepgrad new-course DIR` makes one)")


def holding(path: Path) -> Path | None:
    """The course folder when ``path`` lies inside it, else None (no course, or a folder elsewhere)."""
    try:
        course = root()
    except CourseNotFound:
        return None
    return course if Path(path).resolve().is_relative_to(course) else None


def installed() -> Path:
    """The folder the ``autograder`` package was installed from (a clone, or site-packages). Read only by
    ``new-course``; the sandbox hides it from student code as it hides the course."""
    return Path(__file__).resolve().parent.parent


def nbgrader_config(course: Path | None = None):
    """The course's nbgrader configuration (a traitlets ``Config``), as nbgrader's own commands read it."""
    from traitlets.config import PyFileConfigLoader

    path = (course or root()) / CONFIG
    return PyFileConfigLoader(path.name, path=str(path.parent)).load_config()


def gradebook_url(course: Path) -> str:
    """The course's gradebook, the one its formgrader reads (``CourseDirectory.db_url``; nbgrader's default
    is gradebook.db in the course's root)."""
    settings = nbgrader_config(course).CourseDirectory
    return settings.get("db_url") or f"sqlite:///{Path(settings.get('root') or course) / 'gradebook.db'}"


def autograded_dir(course: Path) -> Path:
    """Where the course's formgrader looks for the autograded notebooks (``CourseDirectory.autograded_directory``
    under its root: ``<course>/autograded`` by default)."""
    settings = nbgrader_config(course).CourseDirectory
    return Path(settings.get("root") or course) / settings.get("autograded_directory", "autograded")


def new(dest: Path, source: Path | None = None) -> list[str]:
    """Make a course folder in ``dest`` (missing or empty) from a DeepGrad clone (default: the one installed):
    its nbgrader configuration, solutions/, assignments/ and the check module of every assignment, and a
    .gitignore keeping students' work out of git; only its owner may enter it. Returns the assignments copied."""
    source, dest = Path(source or installed()), Path(dest).expanduser().resolve()
    if not is_course(source):
        raise CourseNotFound(f"{source} holds no course to copy (no {CONFIG} and solutions/): the package was "
                             f"installed without one; clone the DeepGrad repository and run new-course from it")
    if dest.exists() and any(dest.iterdir()):
        raise FileExistsError(f"DIR {dest} is not empty: new-course makes a new course folder")
    names = sorted(p.stem for p in (source / CHECKS).glob("*.py")
                   if not p.name.startswith("_") and (source / "solutions" / p.stem).is_dir())
    (dest / CHECKS).mkdir(parents=True)
    dest.chmod(0o700)       # the solutions and checks are the instructor's: no other account may enter
    shutil.copy(source / CONFIG, dest / CONFIG)
    junk = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints")
    for folder in ("solutions", "assignments"):
        for a in names:
            if (source / folder / a).is_dir():
                shutil.copytree(source / folder / a, dest / folder / a, ignore=junk)
    for a in names:
        shutil.copy(source / CHECKS / f"{a}.py", dest / CHECKS / f"{a}.py")
    (dest / ".gitignore").write_text("".join(f"/{p}\n" for p in PRIVATE) + "__pycache__/\n")
    return names
