"""The two labs: the student's copy (labs/copy_work.py), the links inside it, and `make instructor`."""
from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from conftest import stop_process_group

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "labs"))
from copy_work import FOLDERS, copy_work  # noqa: E402

LINK = re.compile(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"")


def test_copy_work_copies_once_and_never_overwrites(tmp_path):
    work = tmp_path / "work"
    copied = copy_work(work)
    assert {p.parts[0] for p in copied} == set(FOLDERS) == {"course", "assignments"}
    assert (work / "course" / "00_welcome.ipynb").read_bytes() == (ROOT / "course" / "00_welcome.ipynb").read_bytes()
    assert not (work / "solutions").exists()
    mine = work / "assignments" / "A1" / "A1.ipynb"
    mine.write_text("my own work")
    (work / "course" / "01_linear_classifiers.ipynb").unlink()           # "delete it to get a fresh copy"
    assert copy_work(work) == [Path("course/01_linear_classifiers.ipynb")]
    assert mine.read_text() == "my own work"


def _links(path: Path) -> list[str]:
    if path.suffix == ".ipynb":
        text = "\n".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"]
                         if c["cell_type"] == "markdown")
    else:
        text = path.read_text()
    return [a or b for a, b in LINK.findall(text)]


def test_every_link_of_the_course_opens_inside_the_students_copy(tmp_path):
    """Every relative link in the lessons, the course's README and the assignments points at a file of the
    student's copy, so that it opens in the lab (which shows nothing outside the copy)."""
    work = tmp_path / "work"
    copy_work(work)
    checked = 0
    for page in sorted(p for folder in FOLDERS for p in (work / folder).rglob("*") if p.suffix in (".md", ".ipynb")):
        for link in _links(page):
            if re.match(r"^[a-z]+:|^#", link):
                continue                                     # web addresses and anchors
            target = (page.parent / urllib.parse.unquote(link.split("#")[0])).resolve()
            assert target.is_relative_to(work.resolve()), f"{page.relative_to(work)} links outside the lab: {link}"
            # a folder is no good either: JupyterLab answers a link to one with "is a directory, not a file"
            assert target.is_file(), f"{page.relative_to(work)} links to {link}, which is not a file"
            checked += 1
    assert checked > 50


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_make_instructor_serves_the_formgrader_on_the_course_without_warnings(tmp_path):
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["JUPYTER_RUNTIME_DIR"] = str(tmp_path / "runtime")
    venv = sys.prefix
    log_path = tmp_path / "lab.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen(["make", "--no-print-directory", f"--old-file={venv}/.installed", "instructor",
                                 f"VENV={venv}", f"PORT={port}"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline, token = time.monotonic() + 120, None
        while token is None:
            found = re.search(r"token=(\w+)", log_path.read_text())
            if found:
                token = found.group(1)
            elif proc.poll() is not None or time.monotonic() > deadline:
                raise AssertionError("make instructor printed no URL:\n" + log_path.read_text()[-3000:])
            else:
                time.sleep(0.5)
        base = f"http://127.0.0.1:{port}"

        def get(path):
            while True:
                try:
                    with urllib.request.urlopen(f"{base}{path}?token={token}", timeout=30) as r:
                        return r.read().decode()
                except urllib.error.URLError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.5)

        # the formgrader reads autograder/nbgrader_config.py: the course's sources are its assignments
        assignments = {a["name"] for a in json.loads(get("/formgrader/api/assignments"))}
        assert {"A1", "A2", "A3", "A4"} <= assignments, assignments
        page = get("/formgrader/manage_assignments")
        assert "does not exist" not in page and "has not been set" not in page, "the formgrader shows a warning"
        log = log_path.read_text()
        assert "WARNING" not in log and "[W " not in log and "No nbgrader_config.py" not in log, log
    finally:
        stop_process_group(proc)
