"""What a saved notebook keeps of its widgets: one line saying to run the cell, instead of a view of nothing.

A widget (an explorer, a progress bar) lives in the kernel; the notebook's output only points at it by its
model id. JupyterLab saves that output, and when the notebook is opened again with a new kernel, the model
is gone and each such output reads "Error displaying widget: model not found" (JupyterLab 4 with ipywidgets 8
shows no fallback). Both labs therefore save each widget output whose model is not stored in the notebook
as one plain line instead (``LINE``): a reopened lesson shows what to do, never an error. Outputs whose
widget state the notebook does store (nbclient's ``store_widget_state``, or JupyterLab's "save widget
state" setting) are kept: their widgets come back from that state.

While the lab is open nothing changes on screen: JupyterLab keeps showing the live widgets it has, and the
line is only what the file holds. ``jupyter_server_config.py`` in ``common/`` installs :func:`pre_save`.
"""
from __future__ import annotations

VIEW = "application/vnd.jupyter.widget-view+json"
STATE = "application/vnd.jupyter.widget-state+json"
LINE = "Run this cell to show its widget (widgets live in the kernel, not in the saved notebook)."


def without_dead_widgets(nb: dict) -> int:
    """Replace, in the notebook ``nb`` (nbformat 4 as a dict), each widget view whose model the notebook does not
    store by ``LINE`` as text/plain; returns how many were replaced."""
    stored = (nb.get("metadata", {}).get("widgets", {}).get(STATE, {}) or {}).get("state", {}) or {}
    replaced = 0
    for cell in nb.get("cells", []):
        if cell.get("cell_type") != "code":
            continue
        for output in cell.get("outputs", []):
            view = (output.get("data") or {}).get(VIEW)
            if view is None or view.get("model_id") in stored:
                continue
            output["data"] = {"text/plain": LINE}
            output["metadata"] = {}
            replaced += 1
    return replaced


def pre_save(model: dict, **kwargs) -> None:
    """jupyter_server's ``ContentsManager.pre_save_hook``: notebooks are saved without dead widget views."""
    if model.get("type") == "notebook" and isinstance(model.get("content"), dict):
        without_dead_widgets(model["content"])
