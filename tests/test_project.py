"""The project's own promises: one set of dependencies, clean notebooks, a working backend switch."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib

import numpy as np
import pytest
from conftest import stop_process_group
import yaml

import deepgrad
from deepgrad import backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _name(requirement: str) -> str:
    """'scikit-learn>=1.3' -> 'scikit-learn' (normalised as pip does)."""
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _spec(requirement: str) -> str:
    return requirement.strip()[len(_name(requirement)):].replace(" ", "")


def test_environment_yml_matches_pyproject():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        project = tomllib.load(fh)["project"]
    wanted = {_name(r): _spec(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"]}
    with open(os.path.join(ROOT, "environment.yml")) as fh:
        env = yaml.safe_load(fh)
    have = {}
    for dep in env["dependencies"]:
        for r in dep["pip"] if isinstance(dep, dict) else [dep]:
            have[_name(r)] = _spec(r)
    have.pop("python"), have.pop("pip")
    assert have == wanted, "environment.yml and pyproject.toml (dependencies + dev extra) disagree"


def test_requires_python_matches_environment():
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as fh:
        requires = tomllib.load(fh)["project"]["requires-python"]
    with open(os.path.join(ROOT, "environment.yml")) as fh:
        deps = yaml.safe_load(fh)["dependencies"]
    assert f"python{requires}" in deps


def _tracked_notebooks():
    out = subprocess.run(["git", "ls-files", "*.ipynb"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [p for p in out.stdout.split() if p]


def test_committed_notebooks_have_no_outputs():
    dirty = []
    for path in _tracked_notebooks():
        with open(os.path.join(ROOT, path)) as fh:
            nb = json.load(fh)
        if any(c.get("outputs") or c.get("execution_count") for c in nb["cells"] if c["cell_type"] == "code"):
            dirty.append(path)
    assert not dirty, f"notebooks committed with outputs (clear them): {dirty}"


def test_ci_runs_the_readme_test_command():
    with open(os.path.join(ROOT, ".ci", "run")) as fh:
        ci = fh.read()
    with open(os.path.join(ROOT, "README.md")) as fh:
        readme = fh.read()
    assert "make test" in ci and "make test" in readme and "make lab" in readme


# --- backend -------------------------------------------------------------------------------------------

def test_numpy_is_the_default_backend():
    assert backend.current() == "numpy" and backend.xp() is np


def test_use_rejects_unknown_backend_by_name():
    with pytest.raises(ValueError, match="backend name must be one of"):
        deepgrad.use("torch")


@pytest.mark.skipif(backend.gpu_available(), reason="this machine has a GPU: the missing-GPU message cannot show")
def test_cupy_without_gpu_says_what_is_missing():
    with pytest.raises(backend.BackendError) as info:
        deepgrad.use("cupy")
    msg = str(info.value)
    assert ("CuPy package" in msg and "pip install" in msg) or "no usable NVIDIA GPU" in msg or "no NVIDIA GPU" in msg
    assert backend.current() == "numpy", "a failed switch must leave the previous backend in place"


def test_environment_variable_selects_backend_at_import():
    code = "import deepgrad; print(deepgrad.backend.current())"
    env = dict(os.environ, DEEPGRAD_BACKEND="numpy")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "numpy"
    env["DEEPGRAD_BACKEND"] = "tpu"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "backend name must be one of" in bad.stderr


def test_to_numpy_and_array_module_follow_the_input():
    class Holder:  # anything Tensor-like: an object with .data
        data = np.arange(3.0)
    assert backend.get_array_module(np.ones(2)) is np
    np.testing.assert_array_equal(backend.to_numpy(Holder()), [0.0, 1.0, 2.0])
    np.testing.assert_array_equal(backend.to_numpy([1, 2]), [1, 2])


def test_make_lab_serves_the_course(tmp_path):
    """`make lab` (the README's first command) starts JupyterLab on the student's copy of course/ and
    assignments/ (and a read-only copy of the library) without a display or a browser."""
    import socket
    import time
    import urllib.error
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    proc = subprocess.Popen(["make", "lab", f"PORT={port}", f"WORK={tmp_path / 'work'}"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True, text=True)
    try:
        deadline, log = time.monotonic() + 120, ""
        while "token=" not in log and time.monotonic() < deadline and proc.poll() is None:
            log += proc.stdout.readline()   # JupyterLab prints its URL with the token once it listens
        assert "token=" in log, f"make lab did not start JupyterLab:\n{log[-2000:]}"
        token = re.search(r"token=([0-9a-f]+)", log).group(1)
        contents = None
        while contents is None and time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/contents?token={token}", timeout=10) as r:
                    contents = json.load(r)
            except urllib.error.URLError:
                time.sleep(0.5)   # the URL is printed a moment before the port accepts connections
        assert contents is not None, "JupyterLab never answered"
        names = {item["name"] for item in contents["content"]}
        assert names == {"course", "assignments", "lib"}, names   # the student's copy and the library to read
        assert (tmp_path / "work" / "course" / "06_backprop.ipynb").is_file()
        assert (tmp_path / "work" / "lib" / "deepgrad" / "autograd.py").is_file()
    finally:
        stop_process_group(proc)
