"""The JupyterHub recipe (deploy/hub/), run for real by deploy/hub/try_hub.py: a hub on 127.0.0.1, an instructor
and two students as Unix users of their own, A1 from release to the student's feedback page through the hub's and
the servers' REST APIs. Minutes (the first run also builds the installation in /var/tmp/deepgrad-hub); skipped,
with the reason, where the hub cannot start here."""
from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "hub" / "try_hub.py"
CANNOT = 77          # the script's status when the hub cannot run here; its message says why


def _why_not() -> str | None:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return "the hub starts each user's server as that user, and the rehearsal adds users: it needs root"
    if importlib.util.find_spec("jupyterhub") is None:
        return "jupyterhub is not installed (pip install -e '.[deploy]', or run deploy/hub/try_hub.py once as root)"
    if shutil.which("configurable-http-proxy") is None:
        return "configurable-http-proxy is not installed (npm install -g configurable-http-proxy)"
    return None


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_a_term_through_a_real_jupyterhub():
    reason = _why_not()
    if reason:
        pytest.skip(reason)
    done = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=1700)
    if done.returncode == CANNOT:
        pytest.skip(done.stderr.strip())
    assert done.returncode == 0, f"{done.stdout}\n{done.stderr}"
    for step in ("every home is 0700", "cannot read the instructor's solutions/", "frame-ancestors 'self'",
                 "fetches the feedback", "the export's", "done: the term ran through the hub"):
        assert step in done.stdout, f"no step {step!r} in:\n{done.stdout}"
