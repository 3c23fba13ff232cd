"""Shared pytest set-up: float64 everywhere gradients are checked, and clear skips for GPU/browser tests."""
from __future__ import annotations

import os
import shutil
import signal
import subprocess

import numpy as np
import pytest

import deepgrad
from deepgrad import backend

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CHROMIUM = "/usr/bin/chromium"


def gpu_skip_reason() -> str | None:
    """Why GPU tests cannot run here, or None when they can."""
    if not backend.cupy_available():
        return "no GPU test: CuPy is not installed (pip install -e '.[gpu]' on a machine with an NVIDIA GPU)"
    if not backend.gpu_available():
        return "no GPU test: CuPy is installed but no NVIDIA GPU is visible"
    return None


def browser_skip_reason() -> str | None:
    """Why browser tests cannot run here, or None when they can."""
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"no browser test: Chromium is not at {CHROMIUM} (apt-get install chromium; .ci/run does this)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "no browser test: the playwright package is not installed (pip install -e '.[dev]')"
    return None


def pytest_collection_modifyitems(config, items):
    # Markers only: item.keywords would also match a test, class or parameter id named "gpu"/"browser".
    gpu, browser = gpu_skip_reason(), browser_skip_reason()
    for item in items:
        if gpu and item.get_closest_marker("gpu"):
            item.add_marker(pytest.mark.skip(reason=gpu))
        if browser and item.get_closest_marker("browser"):
            item.add_marker(pytest.mark.skip(reason=browser))


@pytest.fixture(autouse=True)
def _numpy_backend():
    """Every test starts on the NumPy backend, whatever the previous one selected."""
    deepgrad.use("numpy")
    yield
    deepgrad.use("numpy")


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


def stop_process_group(proc, timeout: float = 20) -> None:
    """End a server started in its own session (JupyterLab, make lab): SIGTERM to its group, SIGKILL if it is
    still there after ``timeout`` seconds."""
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=timeout)
    except ProcessLookupError:
        pass
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
