"""Returning feedback: each student's feedback where they will get it.

Two layouts. ``zip``: one ``<name>.zip`` per student holding the feedback page and the autograded notebook,
the name taken from a roster column (the LMS's id, so the files can be matched on upload) or the student id.
``nbgrader``: ``feedback/<student>/<assignment>/<notebook>.html`` under a course directory, the layout
``nbgrader release_feedback`` ships through nbgrader's exchange to each student's ``fetch_feedback``.

A roster value becomes a file name only through :func:`safe_name`: at most MAX_NAME_BYTES bytes (a file
name may have 255), and two students never share a file (the second gets a hash of their id).
"""
from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from pathlib import Path
from ..notebook import folder_name, student_id
from ..records import autograded, record

LAYOUTS = ("zip", "nbgrader")
MAX_NAME_BYTES = 120


def _files(output: Path, student: str, assignment: str, notebook_name: str) -> list[tuple[Path, str]]:
    """(file, name in the zip) of one student's feedback: the page, and the autograded notebook if any."""
    page = Path(output) / "feedback" / folder_name(student) / f"{assignment}.html"
    files = [(page, f"{assignment}-feedback.html")] if page.is_file() else []
    nb = autograded.path(output, student, assignment, notebook_name)
    if nb.is_file():
        files.append((nb, f"{assignment}-autograded.ipynb"))
    return files


def safe_name(text: str, limit: int = MAX_NAME_BYTES) -> str:
    """A file name from an LMS id or a student's name: letters, digits and ``._-`` kept, the rest ``_``, at
    most ``limit`` bytes in UTF-8 (cut between characters)."""
    name = re.sub(r"[^\w.\-]+", "_", text.strip()).strip("._-") or "student"
    name = name.encode("utf-8")[:limit].decode("utf-8", "ignore").rstrip("._-")
    return name or "student"


def return_feedback(assignment: str, notebook_name: str, output: Path, to: Path, layout: str = "zip",
                    names: dict | None = None) -> list[Path]:
    """Write each graded student's feedback under ``to``; ``names`` maps submission names to the zip's name
    (students without one are named by their id). Returns the files written."""
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {LAYOUTS}, got {layout!r}")
    to = Path(to)
    to.mkdir(parents=True, exist_ok=True)
    written, used = [], set()
    by_id = {student_id(str(k).strip()): v for k, v in (names or {}).items()}
    for rec in record.load_all(output, assignment):
        student = rec["student"]
        files = _files(output, student, assignment, notebook_name)
        if not files:
            continue
        if layout == "nbgrader":
            folder = to / "feedback" / folder_name(student) / assignment
            folder.mkdir(parents=True, exist_ok=True)
            target = folder / f"{Path(notebook_name).stem}.html"
            shutil.copyfile(files[0][0], target)
            written.append(target)
            continue
        name = base = safe_name(by_id.get(student) or student)
        for n in range(100):        # two roster names alike once made safe (or alike but for case): keep both
            if name.casefold() not in used:
                break
            tag = hashlib.sha256(f"{student}\0{n}".encode()).hexdigest()[:12]
            name = f"{safe_name(base, MAX_NAME_BYTES - len(tag) - 1)}_{tag}"
        used.add(name.casefold())
        target = to / f"{name}.zip"
        with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
            for src, arcname in files:
                z.write(src, arcname)
        written.append(target)
    return written
