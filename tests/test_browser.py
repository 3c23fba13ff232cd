"""A real browser in the student's lab, started as the README says (`make lab`, on a fresh copy in WORK).

1. The student's path: the lab shows only `course/`, `assignments/` and the library's read-only `lib/`, and none
   of nbgrader's instructor screens; course/README.md opens rendered, its link to the engine opens autograd.py
   in the lab, its A1 link opens A1 (not marked modified), Part 1 is typed in and every cell up to
   its tests runs without an error; the saved notebook is then graded with `deepgrad check`. `make lab`
   must have printed nothing but the URL.
2. Lesson 06 runs in a kernel with one BLAS thread, and the (x+y)z backprop explorer's slider moves the
   gradients; saved and reopened with a new kernel, the lesson shows a line saying to run each widget's cell
   where each widget was, and no "Error displaying widget".

Playwright drives Debian's Chromium at /usr/bin/chromium (never a downloaded browser). conftest.py skips
these tests, with the reason, when Chromium or playwright is missing. Screenshots go to test-artifacts/browser/
to be looked at: student_1_lab.png, student_2_engine.png (the engine's source, opened from the course index's
link), student_2_readme.png, student_3_a1_part1.png, student_final.png;
06_explorer_before.png and 06_explorer_after.png (the explorer), 06_page_after.png (the page), 06_reopened.png
(the reopened lesson, at its first widget's line), 06_final.png (the page when the test ends, passed or failed).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time

import pytest
from browser_lab import (ROOT, click_run_all, delete_sessions, kernel_environ, launch, open_notebook, student_lab,
                         wait_all_ran, wait_for_idle_kernel)

SHOTS = os.path.join(ROOT, "test-artifacts", "browser")
LESSON = "06_backprop.ipynb"
# The explorer of f = (x+y)z: the backprop explorer whose inputs include z (lesson 06 also shows a gate
# explorer and a backprop explorer of the sigmoid neuron's loss, with inputs w0, w1, w2).
EXPLORER = ".dg-backprop-explorer:has(.dg-grad-z)"
X, Y, Z = -2.0, 5.0, -4.0  # the lecture's inputs: df/dx = z = -4, df/dy = z = -4, df/dz = x + y = 3

pytestmark = [pytest.mark.browser, pytest.mark.slow]
sys.path.insert(0, os.path.join(ROOT, "labs"))
from saved_widgets import LINE as SAVED_WIDGET_LINE  # noqa: E402


def _fmt(v: float) -> str:
    """As the explorer's labels print numbers (deepgrad.widgets._common.fmt)."""
    s = f"{v:.3f}"
    return s[1:] if s.startswith("-") and float(s) == 0 else s


@pytest.fixture(scope="module")
def lab():
    """The student's lab, started as the README says (`make lab`), on a fresh copy of the course, in fast mode
    (tests/browser_lab.py). Yields ``(base_url, token, work_dir, log_path, process)``."""
    with student_lab(fast=True) as started:
        yield started


def _wait_for_figure(page, explorer, base: str, token: str, timeout: float = 30) -> None:
    """The handler sets the labels first and redraws the figure last: wait until the kernel is idle and the
    figure's image has stopped changing, so that the screenshot shows the figure of the new input."""
    image = explorer.locator(".dg-figure")
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        wait_for_idle_kernel(base, token, LESSON, timeout=deadline - time.time())
        src = image.get_attribute("src")
        if src == last:
            return
        last = src
        page.wait_for_timeout(500)
    raise AssertionError(f"the explorer's figure kept changing for {timeout} s")


def _texts(explorer) -> dict[str, str]:
    """The explorer's gradient labels and output label: {"x": "∂f/∂x = -4.000", ..., "f": "f = -12.000"}."""
    texts = {k: explorer.locator(f".dg-grad-{k}").inner_text().strip() for k in "xyz"}
    texts["f"] = explorer.locator(".dg-output").inner_text().strip()
    return texts


def _expected(x: float, y: float, z: float) -> dict[str, str]:
    return {"x": f"∂f/∂x = {_fmt(z)}", "y": f"∂f/∂y = {_fmt(z)}", "z": f"∂f/∂z = {_fmt(x + y)}",
            "f": f"f = {_fmt((x + y) * z)}"}


def test_backprop_explorer_responds_in_a_real_browser(lab):
    from playwright.sync_api import expect, sync_playwright

    base, token, work, _, proc = lab
    os.makedirs(SHOTS, exist_ok=True)
    for name in os.listdir(SHOTS):  # no stale picture from an earlier run
        if name.startswith("06_") and name.endswith(".png"):
            os.remove(os.path.join(SHOTS, name))
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            try:
                open_notebook(page, lab, f"course/{LESSON}")
                click_run_all(page)
                wait_all_ran(page, timeout=60)
                assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").filter(
                    has_text="Traceback").count() == 0, "a cell raised an error in the browser"

                explorers = page.locator(EXPLORER)
                explorers.first.wait_for(timeout=30_000)
                assert explorers.count() == 1, f"expected one (x+y)z backprop explorer, found {explorers.count()}"
                explorer = explorers.first
                explorer.scroll_into_view_if_needed()
                expect(explorer.locator(".dg-figure")).to_be_visible()
                # Widget views render one by one: wait for each label to show the lecture's number.
                for k, text in _expected(X, Y, Z).items():
                    label = explorer.locator(".dg-output" if k == "f" else f".dg-grad-{k}")
                    expect(label, "the explorer does not start at the lecture's numbers").to_have_text(text)
                explorer.screenshot(path=os.path.join(SHOTS, "06_explorer_before.png"))

                # Move x with the keyboard, as a person can; then df/dz = x + y and f = (x + y) z follow it.
                row = explorer.locator(".widget-hbox").filter(has=page.locator(".dg-grad-x")).last
                handle = row.locator(".noUi-handle")
                handle.focus()
                for _ in range(10):
                    handle.press("ArrowRight")
                readout = row.locator(".widget-readout")
                expect(readout).not_to_have_text(re.compile(r"^\s*[-−]2\.00\s*$"))
                x_new = float(readout.inner_text().replace("−", "-"))  # the readout prints a real minus sign
                assert -2.0 < x_new <= 5.0, f"ten ArrowRight presses should raise x from -2, readout says {x_new}"
                want = _expected(x_new, Y, Z)
                expect(explorer.locator(".dg-grad-z")).to_have_text(want["z"], timeout=30_000)
                expect(explorer.locator(".dg-output")).to_have_text(want["f"], timeout=30_000)
                after = _texts(explorer)
                assert after == want, f"after x = {x_new} the labels say {after}, backprop gives {want}"
                # the finite-difference table agrees with backprop at the new point
                fd = explorer.locator(".dg-fd-check")
                expect(fd).to_contain_text(f"{x_new + Y:.6f}")
                assert "differ" not in fd.inner_text()
                _wait_for_figure(page, explorer, base, token)
                explorer.screenshot(path=os.path.join(SHOTS, "06_explorer_after.png"))
                page.screenshot(path=os.path.join(SHOTS, "06_page_after.png"))

                assert page.get_by_text("Error displaying widget").count() == 0
                assert explorer.locator(".jp-OutputArea-output, .widget-output").filter(
                    has_text="Traceback").count() == 0, "the explorer's handler raised"
                assert kernel_environ(proc).get("OPENBLAS_NUM_THREADS") == "1", "the lab's kernel has BLAS threads"

                # Saved, then reopened with a new kernel: each widget (the explorers, any progress bar) is a line
                # saying to run its cell, never "Error displaying widget: model not found".
                page.keyboard.press("ControlOrMeta+s")
                expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=10_000)
                saved = json.load(open(os.path.join(work, "course", LESSON)))
                outputs = [o for c in saved["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
                assert not [o for o in outputs if "application/vnd.jupyter.widget-view+json" in o.get("data", {})]
                widgets_shown = sum("".join(o.get("data", {}).get("text/plain", "")) == SAVED_WIDGET_LINE for o in outputs)
                assert widgets_shown >= 3, "lesson 06 shows a gate explorer and two backprop explorers"
                delete_sessions(base, token)
                page.close()
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("pageerror", lambda exc: errors.append(str(exc)))
                page.goto(f"{base}/lab/tree/course/{LESSON}?token={token}", wait_until="domcontentloaded")
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
                wait_for_idle_kernel(base, token, LESSON)
                lines = page.locator(".jp-OutputArea-output").filter(has_text=SAVED_WIDGET_LINE)
                expect(lines).to_have_count(widgets_shown, timeout=30_000)
                page.wait_for_timeout(3000)                     # what the widget manager would show, it has shown
                assert page.get_by_text("Error displaying widget").count() == 0, "a reopened widget shows an error"
                assert page.locator(".jp-mod-dirty").count() == 0, "the reopened lesson is marked modified"
                lines.first.scroll_into_view_if_needed()
                page.screenshot(path=os.path.join(SHOTS, "06_reopened.png"))
            finally:
                try:
                    page.screenshot(path=os.path.join(SHOTS, "06_final.png"))
                except Exception as exc:
                    print(f"no final screenshot: {exc}")
        finally:
            browser.close()
    assert not [e for e in errors if "widget" in e.lower()], f"widget errors in the page: {errors}"


# ------------------------------------------------------------------------------ the student's path
# What a student must never see: nbgrader's instructor screens and their error messages, Jupyter's news prompt.
HIDDEN_WORDS = ("Create Assignment", "Formgrader", "Assignment List", "Error fetching courses",
                "exchange directory", "Validate", "Jupyter news")


def _no_instructor_screens(page) -> None:
    for words in HIDDEN_WORDS:
        # as written (a regex is case-sensitive): an assignment may ask the student to "validate"; nbgrader's
        # button says "Validate"
        shown = page.get_by_text(re.compile(re.escape(words)))
        assert not [i for i in range(shown.count()) if shown.nth(i).is_visible()], \
            f"the student's lab shows {words!r}"
    for menu in ("Nbgrader", "nbgrader"):
        assert page.locator(".lm-MenuBar-itemLabel", has_text=menu).count() == 0, "an nbgrader menu is shown"
    assert page.locator(".jp-Dialog").count() == 0, "a dialog (an error?) covers the lab"


def _run_cell(page, cell) -> None:
    cell.locator(".jp-InputArea").click()
    page.keyboard.press("Escape")              # command mode: Shift+Enter runs the cell, not a new line
    page.keyboard.press("Shift+Enter")


def test_student_path_from_readme_to_a_checked_a1(lab):
    """README -> course/README.md -> its A1 link -> A1 opens; Part 1 written, run, self-checked and
    tested in the browser without an error; saved; `deepgrad check` grades Part 1 as right."""
    from playwright.sync_api import expect, sync_playwright

    base, token, work, log_path, _ = lab
    os.makedirs(SHOTS, exist_ok=True)
    for name in os.listdir(SHOTS):
        if name.startswith("student_") and name.endswith(".png"):
            os.remove(os.path.join(SHOTS, name))
    solution = _solution_of("svm_loss_naive")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            try:
                # The URL `make lab` printed (reset: the lesson-06 test shares this server and left its layout
                # behind): the lab opens on the student's copy, lessons and assignments only.
                page.goto(f"{base}/lab?reset&token={token}", wait_until="domcontentloaded")
                listing = page.locator(".jp-DirListing-content")
                expect(listing.get_by_text("course", exact=True)).to_be_visible(timeout=60_000)
                names = sorted(listing.locator(".jp-DirListing-itemText").all_inner_texts())
                assert names == ["assignments", "course", "lib"], f"the student's lab shows {names}"
                page.wait_for_timeout(1000)      # let late extensions (and any error dialog) appear
                _no_instructor_screens(page)
                page.screenshot(path=os.path.join(SHOTS, "student_1_lab.png"))

                # course/README.md opens rendered, and its A1 link opens the assignment.
                listing.get_by_text("course", exact=True).dblclick()
                expect(listing.get_by_text("README.md", exact=True)).to_be_visible(timeout=10_000)
                listing.get_by_text("README.md", exact=True).dblclick()
                readme = page.locator(".jp-RenderedMarkdown").filter(has_text="The DeepGrad course")
                expect(readme).to_be_visible(timeout=30_000)
                # the engine is one click away: its link opens the library's read-only copy in the lab
                engine = readme.get_by_role("link", name="autograd", exact=True)
                engine.scroll_into_view_if_needed()
                engine.click()
                source = page.locator(".jp-FileEditor:visible")
                expect(source).to_contain_text("The Tensor and its automatic differentiation engine", timeout=30_000)
                expect(page.locator(".lm-TabBar-tab.lm-mod-current", has_text="autograd.py")).to_have_count(1)
                page.screenshot(path=os.path.join(SHOTS, "student_2_engine.png"))
                page.locator(".lm-TabBar-tab", has_text="README.md").click()
                link = readme.get_by_role("link", name="A1 · Linear classifiers and losses")
                link.scroll_into_view_if_needed()
                page.screenshot(path=os.path.join(SHOTS, "student_2_readme.png"))
                link.click()
                notebook = page.locator(".jp-NotebookPanel:visible")
                expect(notebook.locator(".jp-Cell").first).to_contain_text("A1", timeout=60_000)
                wait_for_idle_kernel(base, token, "A1.ipynb")
                expect(page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").first).to_be_attached(
                    timeout=30_000)
                page.wait_for_timeout(2000)     # the kernel's info reaches the notebook's metadata: still unmodified
                assert page.locator(".jp-mod-dirty").count() == 0, "A1 opens marked modified"

                # Part 1 as a student writes it (typed into the answer cell), then every cell up to its tests.
                cells = notebook.locator(".jp-Cell")
                answer = cells.filter(has_text="def svm_loss_naive(W, X, y, reg):")
                answer.locator(".cm-content").click()
                page.keyboard.press("ControlOrMeta+a")
                page.keyboard.insert_text(solution)
                tests = cells.filter(has_text=re.compile(r"# Tests for Part 1\b"))  # not Part 10
                count = cells.count()
                last = next(i for i in range(count) if re.search(r"# Tests for Part 1\b", cells.nth(i).inner_text()))
                for i in range(last + 1):
                    cell = cells.nth(i)
                    if "jp-CodeCell" in (cell.get_attribute("class") or ""):
                        _run_cell(page, cell)
                expect(tests.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]"), timeout=60_000)
                wait_for_idle_kernel(base, token, "A1.ipynb")
                check = cells.filter(has_text="# Self-check 1").locator(".jp-OutputArea")
                expect(check).to_contain_text("✓ OK", timeout=30_000)
                expect(check).to_contain_text("cat example: loss 2.9000")
                ran = notebook.locator(".jp-OutputArea-output")
                errors_shown = ran.filter(has_text="Traceback").count() + notebook.locator(
                    ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").count()
                assert errors_shown == 0, "a cell of A1 shows an error:\n" + "\n".join(ran.all_inner_texts())[:2000]
                _no_instructor_screens(page)
                check.scroll_into_view_if_needed()
                page.screenshot(path=os.path.join(SHOTS, "student_3_a1_part1.png"))
                page.keyboard.press("ControlOrMeta+s")
                expect(page.locator(".jp-mod-dirty")).to_have_count(0, timeout=10_000)
            finally:
                try:
                    page.screenshot(path=os.path.join(SHOTS, "student_final.png"))
                except Exception as exc:
                    print(f"no final screenshot: {exc}")
        finally:
            browser.close()
    assert not errors, f"errors in the page: {errors}"

    # The saved notebook, checked as the README tells a self-learner: Part 1 right, the rest still stubs.
    saved = os.path.join(work, "assignments", "A1", "A1.ipynb")
    done = subprocess.run([os.path.join(os.path.dirname(sys.executable), "deepgrad"), "check", "A1", saved,
                           "--seed", "1"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stdout + done.stderr          # not full marks yet
    assert re.search(r"^svm_naive\s+2 / 2", done.stdout, re.M), done.stdout
    assert re.search(r"^svm_vectorized\s+0 / 2", done.stdout, re.M), done.stdout
    log = [line for line in open(log_path).read().splitlines() if line.strip()]
    said = [line for line in log if not line.startswith("Copied ")]          # the first `make lab` copies
    assert len(said) == 1 and re.fullmatch(r"Open DeepGrad's lab: http://127\.0\.0\.1:\d+/lab\?token=\w+", said[0]), \
        "`make lab` printed more than the URL:\n" + "\n".join(log)


def _solution_of(name: str) -> str:
    """The reference answer cell that defines ``name`` in solutions/A1, without the solution markers."""
    nb = json.load(open(os.path.join(ROOT, "solutions", "A1", "A1.ipynb")))
    for cell in nb["cells"]:
        src = "".join(cell["source"])
        if f"def {name}(" in src and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            return "\n".join(line for line in src.splitlines() if "### " not in line)
    raise LookupError(name)
