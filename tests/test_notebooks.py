"""Every lesson runs top to bottom, its links resolve, and its widgets leave their state in the notebook.

Lessons execute in fast mode (DEEPGRAD_FAST=1: fewer epochs, coarser grids) so the course runs in minutes.
Executed copies are written to test-artifacts/notebooks/ for a person to open.
"""
from __future__ import annotations

import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join(ROOT, "course")
LESSONS = sorted(glob.glob(os.path.join(COURSE, "[0-9][0-9]_*.ipynb")))
ARTIFACTS = os.path.join(ROOT, "test-artifacts", "notebooks")
LINK = re.compile(r"\]\(([^)\s]+)\)")


def _markdown_sources(path):
    import nbformat
    nb = nbformat.read(path, as_version=4)
    return [c.source for c in nb.cells if c.cell_type == "markdown"]


def test_course_has_the_fourteen_lessons():
    numbers = [os.path.basename(p)[:2] for p in LESSONS]
    assert numbers == [f"{i:02d}" for i in range(14)], f"lessons found: {numbers}"


@pytest.mark.parametrize("path", LESSONS + [os.path.join(COURSE, "README.md")], ids=os.path.basename)
def test_relative_links_resolve(path):
    texts = _markdown_sources(path) if path.endswith(".ipynb") else [open(path).read()]
    broken = []
    for text in texts:
        for target in LINK.findall(text):
            if re.match(r"^[a-z]+:", target) or target.startswith("#"):
                continue  # web links and in-page anchors
            file_part = target.split("#", 1)[0]
            if not os.path.exists(os.path.normpath(os.path.join(os.path.dirname(path), file_part))):
                broken.append(target)
    assert not broken, f"{os.path.basename(path)} links to missing files: {broken}"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", LESSONS, ids=os.path.basename)
def test_lesson_executes(path):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    env_before = os.environ.get("DEEPGRAD_FAST")
    os.environ["DEEPGRAD_FAST"] = "1"  # the kernel inherits it
    try:
        client = NotebookClient(
            nb, timeout=300, startup_timeout=120, kernel_name="python3", resources={"metadata": {"path": COURSE}},
            store_widget_state=True, allow_errors=False,
        )
        client.execute()
    finally:
        if env_before is None:
            os.environ.pop("DEEPGRAD_FAST", None)
        else:
            os.environ["DEEPGRAD_FAST"] = env_before
    os.makedirs(ARTIFACTS, exist_ok=True)
    nbformat.write(nb, os.path.join(ARTIFACTS, os.path.basename(path)))

    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs, "the lesson ran but showed nothing"
    shows_picture = any("image/png" in o.get("data", {}) for o in outputs)
    widget_views = [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
    assert shows_picture or widget_views, "every lesson has at least one figure or widget"
    if widget_views:
        state = nb.metadata.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
        models = state.get("state", {})
        for view in widget_views:
            model_id = view["data"]["application/vnd.jupyter.widget-view+json"]["model_id"]
            assert model_id in models, "a displayed widget's state was not stored in the notebook"
