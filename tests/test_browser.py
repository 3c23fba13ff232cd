"""A real browser opens lesson 06 in JupyterLab, runs it, and moves the backprop explorer's slider.

JupyterLab runs headless on a free port with a token; Playwright drives Debian's Chromium at
/usr/bin/chromium (never a downloaded browser). Screenshots go to test-artifacts/browser/ to be looked at.
"""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COURSE = os.path.join(ROOT, "course")
SHOTS = os.path.join(ROOT, "test-artifacts", "browser")
LESSON = "06_backprop.ipynb"
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab():
    """A JupyterLab server on a copy of the course, with its own settings, runtime and workspace folders."""
    home = tempfile.mkdtemp(prefix="deepgrad-lab-")
    course = os.path.join(home, "course")
    shutil.copytree(COURSE, course)
    port, token = _free_port(), secrets.token_hex(16)
    env = dict(
        os.environ,
        DEEPGRAD_FAST="1",
        JUPYTER_RUNTIME_DIR=os.path.join(home, "runtime"),
        JUPYTERLAB_SETTINGS_DIR=os.path.join(home, "settings"),
        JUPYTERLAB_WORKSPACES_DIR=os.path.join(home, "workspaces"),
    )
    # Silence the "news" prompt so that no toast covers the notebook.
    os.makedirs(os.path.join(home, "settings", "@jupyterlab", "apputils-extension"))
    with open(os.path.join(home, "settings", "@jupyterlab", "apputils-extension", "notification.jupyterlab-settings"), "w") as fh:
        fh.write('{"fetchNews": "false", "checkForUpdates": false}')
    cmd = [
        sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={course}", "--allow-root",
    ]
    log = open(os.path.join(home, "lab.log"), "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.time() > deadline:
                    log.flush()
                    raise RuntimeError("JupyterLab did not start:\n" + open(log.name).read()[-3000:])
                time.sleep(0.5)
        yield base, token
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
        log.close()
        shutil.rmtree(home, ignore_errors=True)


# Every gradient label of the explorer, keyed by its dg-grad-* class: {"dg-grad-x": "∂f/∂x = -4.000", ...}
GRAD_TEXTS_JS = """Object.fromEntries([...document.querySelectorAll('[class*="dg-grad-"]')].map(
    el => [[...el.classList].find(c => c.startsWith('dg-grad-')), el.innerText.trim()]))"""


def _grad_texts(page) -> dict[str, str]:
    return page.evaluate(f"() => {GRAD_TEXTS_JS}")


def test_backprop_explorer_responds_in_a_real_browser(lab):
    from playwright.sync_api import sync_playwright

    base, token = lab
    os.makedirs(SHOTS, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            page.goto(f"{base}/lab/tree/{LESSON}?token={token}", wait_until="domcontentloaded")
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=60_000)
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
            page.screenshot(path=os.path.join(SHOTS, "06_opened.png"))

            page.click("text=Run", timeout=10_000)  # the menu bar's Run menu
            page.click("text=Run All Cells", timeout=10_000)
            # Running all cells: wait until no prompt shows [*] and the kernel reports idle.
            page.wait_for_function(
                """() => document.querySelectorAll('.jp-InputPrompt').length > 0 &&
                   ![...document.querySelectorAll('.jp-InputPrompt')].some(p => p.innerText.includes('*'))""",
                timeout=240_000,
            )
            page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)

            assert page.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']").filter(
                has_text="Traceback").count() == 0, "a cell raised an error in the browser"
            labels = page.locator("[class*='dg-grad-']")
            labels.first.wait_for(timeout=60_000)
            labels.first.scroll_into_view_if_needed()
            explorer = page.locator(".widget-vbox, .widget-box").filter(has=labels.first).last
            page.screenshot(path=os.path.join(SHOTS, "06_ran_all.png"))
            before = _grad_texts(page)
            assert before, "no gradient labels (dg-grad-*) were found on the page"

            # Move the first slider of the explorer with the keyboard, as a person can.
            handle = explorer.locator(".widget-slider .noUi-handle").first
            handle.scroll_into_view_if_needed()
            handle.click()
            for _ in range(10):
                handle.press("ArrowRight")
            page.wait_for_function(
                f"before => {{ const now = {GRAD_TEXTS_JS}; return Object.keys(before).some(k => now[k] !== before[k]); }}",
                arg=before, timeout=30_000,
            )
            after = _grad_texts(page)
            explorer.screenshot(path=os.path.join(SHOTS, "06_after_slider.png"))
            page.screenshot(path=os.path.join(SHOTS, "06_after_slider_page.png"), full_page=False)

            assert after != before, "moving the slider changed no gradient label"
            assert page.get_by_text("Error displaying widget").count() == 0
        finally:
            page.screenshot(path=os.path.join(SHOTS, "06_final.png"))
            browser.close()
    assert not [e for e in errors if "widget" in e.lower()], f"widget errors in the page: {errors}"
