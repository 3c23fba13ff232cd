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
from copy_work import FOLDERS, LIBRARY, STUDENT_WORDING, copy_library, copy_work, kernel_metadata  # noqa: E402
from saved_widgets import LINE, STATE, VIEW, pre_save  # noqa: E402

LINK = re.compile(r"\]\(([^)\s]+)\)|href=\"([^\"]+)\"")


def test_copy_work_copies_once_and_never_overwrites(tmp_path):
    work = tmp_path / "work"
    copied = copy_work(work)
    assert {p.parts[0] for p in copied} == set(FOLDERS) == {"course", "assignments"}
    mine, theirs = (json.loads((root / "course" / "00_welcome.ipynb").read_text()) for root in (work, ROOT))
    assert mine["cells"] == theirs["cells"]
    assert not (work / "solutions").exists()
    mine = work / "assignments" / "A1" / "A1.ipynb"
    mine.write_text("my own work")
    (work / "course" / "01_linear_classifiers.ipynb").unlink()           # "delete it to get a fresh copy"
    assert copy_work(work) == [Path("course/01_linear_classifiers.ipynb")]
    assert mine.read_text() == "my own work"


def test_the_students_notebooks_carry_the_metadata_their_kernel_reports(tmp_path):
    """JupyterLab writes the kernel's kernelspec and language_info into a notebook when its kernel starts, and
    marks the notebook modified if they differ: the copy carries them already, so nothing opens modified."""
    copy_work(tmp_path)
    reported = kernel_metadata()
    assert reported["language_info"]["version"] == ".".join(map(str, sys.version_info[:3]))
    notebooks = sorted(tmp_path.rglob("*.ipynb"))
    assert len(notebooks) >= 18
    for path in notebooks:
        meta = json.loads(path.read_text())["metadata"]
        assert {k: meta[k] for k in reported} == reported, path


def test_the_students_assignments_readme_speaks_to_the_student(tmp_path):
    for name, said, _ in STUDENT_WORDING:
        assert said in (ROOT / name).read_text(), f"{name} no longer says {said!r}: update STUDENT_WORDING"
    copy_work(tmp_path)
    text = (tmp_path / "assignments" / "README.md").read_text()
    assert "do not edit them here" not in text and "your own copies" in text


def test_the_library_is_copied_read_only_and_refreshed(tmp_path):
    stale = tmp_path / LIBRARY / "gone.py"
    stale.parent.mkdir(parents=True)
    stale.write_text("an old file")
    copied = copy_library(tmp_path)
    assert not stale.exists()
    assert Path("lib/deepgrad/autograd.py") in copied and Path("lib/deepgrad/optim/__init__.py") in copied
    for rel in copied:
        assert (tmp_path / rel).read_bytes() == (ROOT / rel).read_bytes()
        assert not (tmp_path / rel).stat().st_mode & 0o222, f"{rel} is writable"
    assert copy_library(tmp_path) == copied                 # again: read-only files are replaced all the same


def test_make_lab_runs_the_kernels_with_one_blas_thread():
    """The kernels inherit the lab's environment: `make lab` sets one BLAS thread, as `make test` does."""
    venv = sys.prefix
    dry = subprocess.run(["make", "--no-print-directory", "-n", f"--old-file={venv}/.installed", "lab", f"VENV={venv}"],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout
    line = next(x for x in dry.splitlines() if "jupyter lab" in x)
    for var in ("OMP_NUM_THREADS=1", "OPENBLAS_NUM_THREADS=1", "MKL_NUM_THREADS=1"):
        assert var in line.split("jupyter lab")[0], line


def test_a_saved_notebook_keeps_a_line_for_each_widget_whose_model_it_does_not_store():
    view = {"version_major": 2, "version_minor": 0, "model_id": "abc"}
    kept = {"version_major": 2, "version_minor": 0, "model_id": "stored"}
    nb = {"cells": [
        {"cell_type": "code", "outputs": [
            {"output_type": "execute_result", "execution_count": 3, "metadata": {},
             "data": {"text/plain": "Explorer(children=(HBox(...", VIEW: view}},
            {"output_type": "stream", "name": "stdout", "text": "printed\n"},
            {"output_type": "display_data", "metadata": {}, "data": {"text/plain": "kept", VIEW: kept}}]},
        {"cell_type": "markdown", "source": "text"}],
        "metadata": {"widgets": {STATE: {"state": {"stored": {}}}}}}
    pre_save(model={"type": "notebook", "content": nb}, path="x.ipynb", contents_manager=None)
    outputs = nb["cells"][0]["outputs"]
    assert outputs[0] == {"output_type": "execute_result", "execution_count": 3, "metadata": {},
                          "data": {"text/plain": LINE}}
    assert outputs[1]["text"] == "printed\n" and outputs[2]["data"][VIEW] == kept
    pre_save(model={"type": "file", "content": "text"}, path="x.txt", contents_manager=None)   # left alone


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
    copy_library(work)
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


MENTION = re.compile(r"(\[)?`(deepgrad(?:\.\w+)+|deepgrad/[\w/]+\.py|\.\./lib/deepgrad/[\w/]*)`(\]\([^)]*\))?")


def test_the_lessons_mentions_of_the_library_are_links_to_its_files(tmp_path):
    """Reading the engine is part of the course: wherever a lesson names a module of the library (`deepgrad.layers`,
    `deepgrad.optim.SGD`, `deepgrad/generalization.py`), the name is a link to the module's file in the lab."""
    copy_work(tmp_path)
    copy_library(tmp_path)
    modules = {p.stem if p.name != "__init__.py" else p.parent.name
               for p in (ROOT / LIBRARY).rglob("*.py")} - {"deepgrad"}
    unlinked, linked = [], 0
    for page in sorted((tmp_path / "course").glob("*")):
        if page.suffix not in (".md", ".ipynb"):
            continue
        text = "\n".join(_markdown(page))
        for bracket, name, link in MENTION.findall(text):
            parts = re.split(r"[./]", name.replace("../lib/", ""))
            if not set(parts[1:2]) & modules and not name.startswith("../lib"):
                continue                             # deepgrad.Tensor and the like: linked where they are defined
            if name.startswith("../lib") and not link:
                continue                             # the folder's name in prose; its files are linked beside it
            if bracket and link:
                linked += 1
                target = (page.parent / link[2:-1].split("#")[0]).resolve()
                assert target.is_file() and target.suffix == ".py", f"{page.name}: {name} links to {link}"
            else:
                unlinked.append(f"{page.name}: {name}")
    assert not unlinked, "mentions of the library that are not links: " + ", ".join(unlinked)
    assert linked >= 20


def _markdown(path: Path) -> list[str]:
    if path.suffix == ".ipynb":
        return ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "markdown"]
    return [path.read_text()]


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
