"""The student's lab in a real browser, shared by the browser tests and ``bench/bench_lab.py``.

``student_lab()`` starts the lab as the README says (`make lab`, on a fresh copy of the course in a temporary
WORK, on a free port, with the lab's own Jupyter settings and one BLAS thread in its kernels) and reads the token
from the URL `make lab` prints, as a student would. The page helpers open a notebook once its kernel is idle and
run all its cells from the lab's Run menu. Playwright drives Debian's Chromium at /usr/bin/chromium (never a
downloaded browser): ``launch(playwright)``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from contextlib import contextmanager
from typing import NamedTuple

from conftest import stop_process_group

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else (shutil.which("chromium") or "")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


class Lab(NamedTuple):
    base: str          # http://127.0.0.1:PORT
    token: str
    work: str          # the student's copy (WORK)
    log_path: str      # what `make lab` printed
    proc: subprocess.Popen


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(playwright):
    """Headless Chromium (Debian's) for one test or benchmark."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def api(base: str, token: str, path: str):
    with urllib.request.urlopen(f"{base}/api/{path}?token={token}", timeout=5) as r:
        return json.load(r)


def stop_lab(proc: subprocess.Popen, base: str, token: str) -> None:
    """Shut the kernels and the server down, then kill whatever of them is left (kernels run in their own
    sessions, so killing the server's process group alone could leave them behind)."""
    import psutil  # a dependency of ipykernel

    try:
        family = psutil.Process(proc.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        family = []
    try:
        for k in api(base, token, "kernels"):
            req = urllib.request.Request(f"{base}/api/kernels/{k['id']}?token={token}", method="DELETE")
            urllib.request.urlopen(req, timeout=10).close()
    except OSError:
        pass  # the server is already gone or not answering: the kills below still run
    stop_process_group(proc, timeout=10)
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=5)


@contextmanager
def student_lab(fast: bool = True, start_timeout: float = 90):
    """The student's lab, started as the README says (`make lab`), on a fresh copy of the course; yields a
    ``Lab``. ``fast``: DEEPGRAD_FAST=1 in the lab's kernels (the lessons' short runs), else full mode.

    WORK, the port and Jupyter's settings, runtime and workspace folders are the lab's own and removed after.
    Every cell stays attached and rendered (windowing off): with the default "contentVisibility", cells out of
    view have no layout and no innerText, so prompts and labels there cannot be read.
    """
    home = tempfile.mkdtemp(prefix="deepgrad-lab-")
    work = os.path.join(home, "work")
    port = free_port()
    # No BLAS thread settings here: `make lab` sets them for its kernels.
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS") and k != "DEEPGRAD_FAST"}
    if fast:
        env["DEEPGRAD_FAST"] = "1"
    env.update(JUPYTER_RUNTIME_DIR=os.path.join(home, "runtime"),
               JUPYTERLAB_SETTINGS_DIR=os.path.join(home, "settings"),
               JUPYTERLAB_WORKSPACES_DIR=os.path.join(home, "workspaces"))
    folder = os.path.join(home, "settings", "@jupyterlab", "notebook-extension")
    os.makedirs(folder)
    with open(os.path.join(folder, "tracker.jupyterlab-settings"), "w") as fh:
        json.dump({"windowingMode": "none"}, fh)
    # The README's command, with this interpreter's environment; --old-file: never installs.
    venv = sys.prefix
    cmd = ["make", "--no-print-directory", "-C", ROOT, f"--old-file={venv}/.installed", "lab", f"VENV={venv}",
           f"PORT={port}", f"WORK={work}"]
    log_path = os.path.join(home, "lab.log")
    log = open(log_path, "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base, token = f"http://127.0.0.1:{port}", None
    try:
        deadline = time.time() + start_timeout
        while token is None:
            found = re.search(rf"http://127\.0\.0\.1:{port}/lab\?token=(\w+)", open(log_path).read())
            if found:
                token = found.group(1)
            elif proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("`make lab` printed no URL:\n" + open(log_path).read()[-3000:])
            else:
                time.sleep(0.5)
        yield Lab(base, token, work, log_path, proc)
    finally:
        stop_lab(proc, base, token or "")
        log.close()
        shutil.rmtree(home, ignore_errors=True)


def wait_for_idle_kernel(base: str, token: str, notebook: str, timeout: float = 60) -> None:
    """Until the server says the kernel of ``notebook`` (a path's end) exists and is idle."""
    deadline = time.time() + timeout
    while True:
        states = [s["kernel"]["execution_state"] for s in api(base, token, "sessions")
                  if s.get("path", "").endswith(notebook) and s.get("kernel")]
        if "idle" in states:
            return
        if time.time() > deadline:
            raise AssertionError(f"{notebook}'s kernel did not become idle in {timeout} s (states: {states})")
        time.sleep(0.25)


def delete_sessions(base: str, token: str) -> None:
    """Shut every kernel down, as closing the lab and opening it again tomorrow does."""
    for session in api(base, token, "sessions"):
        req = urllib.request.Request(f"{base}/api/sessions/{session['id']}?token={token}", method="DELETE")
        urllib.request.urlopen(req, timeout=30).close()


def open_notebook(page, lab: Lab, path: str, timeout: float = 60) -> None:
    """Open ``path`` (relative to WORK) in the lab, alone (``reset``: the notebooks of the lab's last layout stay
    closed and start no kernel), and wait until its kernel is idle."""
    page.goto(f"{lab.base}/lab/tree/{path}?reset&token={lab.token}", wait_until="domcontentloaded")
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=timeout * 1000)
    # The toolbar says "idle" before the notebook has a kernel at all, and a Run All then runs nothing: ask
    # the server until the notebook's kernel exists and is idle.
    wait_for_idle_kernel(lab.base, lab.token, os.path.basename(path), timeout=timeout)
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible", timeout=timeout * 500)


def click_run_all(page) -> None:
    """Run > Run All Cells, from the lab's menu."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click(timeout=10_000)
    page.get_by_role("menuitem", name="Run All Cells", exact=True).click(timeout=10_000)


def wait_all_ran(page, timeout: float = 60) -> None:
    """Until Run All has ended and the kernel reports idle. It ended when every code cell shows an execution
    count, or when none runs or waits ("[*]") and some never ran ("[ ]"): a cell that raised stops Run All.
    AssertionError naming the first cell not run, when one was not."""
    try:
        page.wait_for_function(
            r"""() => { const p = [...document.querySelectorAll('.jp-CodeCell .jp-InputPrompt')].map(e => e.innerText);
                       return p.length > 0 && p.every(t => /\[\d+\]/.test(t))
                              || p.some(t => /\[\d+\]/.test(t)) && !p.some(t => t.includes('*')); }""",
            timeout=timeout * 1000,
        )
    except Exception:
        raise AssertionError(f"Run All did not end in {timeout} s") from None
    stuck = page.locator(".jp-CodeCell").filter(has=page.locator(".jp-InputPrompt", has_text="[ ]"))
    if stuck.count():
        raise AssertionError(f"Run All did not run every code cell; the first not run:\n{stuck.first.inner_text()}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']:visible", timeout=30_000)


def kernel_environ(proc: subprocess.Popen) -> dict[str, str]:
    """The environment of the lab's (first) kernel, a descendant of `make lab`."""
    import psutil

    kernels = [p for p in psutil.Process(proc.pid).children(recursive=True)
               if any("ipykernel" in part for part in p.cmdline())]
    assert kernels, "no kernel runs under `make lab`"
    return kernels[0].environ()
