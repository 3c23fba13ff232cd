"""A real browser drags sliders of the init explorer and of the optimiser race faster than they redraw.

JupyterLab runs headless on a free port with a token, on a scratch notebook holding the two explorers;
Playwright drives Debian's Chromium at /usr/bin/chromium (never a downloaded browser). conftest.py skips
this test, with the reason, when Chromium or playwright is missing. After each quick drag the explorer must
settle on the slider's final value (its text says so), with no traceback and no "Error displaying widget",
and every slider's track must keep its room beside its label. Screenshots go to test-artifacts/browser/:
widgets_init.png, widgets_race.png (the explorers after the drags), widgets_final.png (the page at the end).
"""
from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
from browser_lab import ROOT, api, click_run_all, free_port, launch, stop_lab, wait_for_idle_kernel

SHOTS = os.path.join(ROOT, "test-artifacts", "browser")
NOTEBOOK = "explorers.ipynb"
CELLS = ["from deepgrad import widgets\nwidgets.init_explorer()", "widgets.optimizer_race()"]
MIN_TRACK_PX = 100  # a slider whose label leaves its track less than this cannot be dragged with care

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def lab():
    """JupyterLab on a scratch folder with one notebook, with its own settings, runtime and workspace folders."""
    import nbformat

    home = tempfile.mkdtemp(prefix="deepgrad-widgets-lab-")
    root = os.path.join(home, "nb")
    os.makedirs(root)
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(src) for src in CELLS])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, os.path.join(root, NOTEBOOK))
    settings = {("apputils-extension", "notification"): {"fetchNews": "false", "checkForUpdates": False},
                ("notebook-extension", "tracker"): {"windowingMode": "none"}}
    for (extension, plugin), values in settings.items():
        folder = os.path.join(home, "settings", "@jupyterlab", extension)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, f"{plugin}.jupyterlab-settings"), "w") as fh:
            json.dump(values, fh)
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               JUPYTER_RUNTIME_DIR=os.path.join(home, "runtime"),
               JUPYTERLAB_SETTINGS_DIR=os.path.join(home, "settings"),
               JUPYTERLAB_WORKSPACES_DIR=os.path.join(home, "workspaces"))
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--allow-root"]
    log = open(os.path.join(home, "lab.log"), "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                api(base, token, "status")
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    raise RuntimeError("JupyterLab did not start:\n" + open(log.name).read()[-3000:]) from None
                time.sleep(0.5)
        yield base, token
    finally:
        stop_lab(proc, base, token)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def _wait_idle(base: str, token: str, timeout: float = 120) -> None:
    wait_for_idle_kernel(base, token, NOTEBOOK, timeout=timeout)


def _drag(page, row, fraction: float, steps: int = 25) -> None:
    """Press the slider's handle and sweep it to ``fraction`` of its track in quick small moves, as a hand
    does: each move is a change event, far faster than a redraw."""
    handle = row.locator(".noUi-handle").first
    track = row.locator(".noUi-target").first
    hb, tb = handle.bounding_box(), track.bounding_box()
    x0, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
    x1 = tb["x"] + fraction * tb["width"]
    page.mouse.move(x0, y)
    page.mouse.down()
    for k in range(1, steps + 1):
        page.mouse.move(x0 + (x1 - x0) * k / steps, y)
        page.wait_for_timeout(15)
    page.mouse.up()


def _readout(row) -> float:
    return float(row.locator(".widget-readout").first.inner_text().replace("−", "-"))


def _assert_no_errors(page, explorer) -> None:
    assert page.get_by_text("Error displaying widget").count() == 0
    assert explorer.locator(".jp-OutputArea-output, .widget-output").filter(has_text="Traceback").count() == 0, \
        "an explorer's handler raised"
    assert "Error:" not in explorer.locator(".widget-html").first.inner_text()


def _assert_tracks_have_room(explorer) -> None:
    for slider in explorer.locator(".widget-slider").all():
        label = slider.locator(".widget-label").first.inner_text()
        width = slider.locator(".noUi-target").first.bounding_box()["width"]
        assert width >= MIN_TRACK_PX, f"the slider {label!r} has a track of {width:.0f} px beside its label"


def test_dragging_sliders_quickly_never_shows_an_error_and_ends_on_the_final_value(lab):
    from playwright.sync_api import expect, sync_playwright

    base, token = lab
    os.makedirs(SHOTS, exist_ok=True)
    page_errors: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda exc: page_errors.append(str(exc)))
            try:
                page.goto(f"{base}/lab/tree/{NOTEBOOK}?token={token}", wait_until="domcontentloaded")
                page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
                _wait_idle(base, token)
                page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
                click_run_all(page)
                explorers = page.locator(".dg-explorer")
                expect(explorers).to_have_count(2, timeout=180_000)
                init, race = explorers.nth(0), explorers.nth(1)
                _wait_idle(base, token)

                # init explorer: sweep depth to the far right, then back down with fast arrow keys
                init.scroll_into_view_if_needed()
                depth = init.locator(".widget-slider").filter(has_text="depth").first
                expect(init.locator(".widget-html").first).to_contain_text("layer 6", timeout=60_000)
                _drag(page, depth, 0.98)
                handle = depth.locator(".noUi-handle").first
                handle.focus()
                for _ in range(3):  # to 7 (from 10): not the depth it started at
                    handle.press("ArrowLeft")
                expect(depth.locator(".widget-readout")).not_to_have_text(re.compile(r"^\s*10\s*$"))
                d = int(_readout(depth))
                # the summary names the deepest layer: it must be the slider's final depth
                expect(init.locator(".widget-html").first).to_contain_text(f"→ layer {d} ", timeout=60_000)
                _wait_idle(base, token)
                _assert_no_errors(page, init)
                _assert_tracks_have_room(init)
                init.screenshot(path=os.path.join(SHOTS, "widgets_init.png"))

                # optimiser race: sweep the steps, then drag a learning rate while the race streams
                race.scroll_into_view_if_needed()
                steps = race.locator(".widget-slider").filter(has_text="steps").first
                _drag(page, steps, 0.3)
                alr = race.locator(".widget-slider").filter(has_text="Adam learning rate").first
                _drag(page, alr, 0.6)
                n = int(_readout(steps))
                expect(race.locator(".widget-html").first).to_contain_text(f"Final loss after {n} steps",
                                                                           timeout=60_000)
                _wait_idle(base, token)
                _assert_no_errors(page, race)
                _assert_tracks_have_room(race)
                race.screenshot(path=os.path.join(SHOTS, "widgets_race.png"))
            finally:
                try:
                    page.screenshot(path=os.path.join(SHOTS, "widgets_final.png"))
                except Exception as exc:
                    print(f"no final screenshot: {exc}")
        finally:
            browser.close()
    assert not [e for e in page_errors if "widget" in e.lower()], f"widget errors in the page: {page_errors}"
