"""Training curves: loss and accuracy against epochs (or iterations), train and validation together."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from .style import PALETTE, new_figure, styled

__all__ = ["plot_history", "history_to_dict"]

_SPLITS = ("train", "val", "test")
_SPLIT_STYLE = {"train": dict(color=PALETTE[0], linestyle="-"),
                "val": dict(color=PALETTE[1], linestyle="--"),
                "test": dict(color=PALETTE[2], linestyle=":")}


def history_to_dict(history) -> dict[str, np.ndarray]:
    """Turn any history into ``{name: values}``.

    Accepted: a dict of lists (``{"train_loss": [...], "val_acc": [...]}``), an object with a
    ``history`` attribute holding one (a Trainer or fit's result), a list of per-epoch dicts
    (``[{"train_loss": .., "val_loss": ..}, ...]``) or a plain list of losses (named ``"loss"``).
    """
    if hasattr(history, "history") and not isinstance(history, Mapping):
        history = history.history
    if isinstance(history, Mapping):
        out = {}
        for k, v in history.items():
            arr = np.asarray(v, dtype=float) if _is_numeric_series(v) else None
            if arr is not None and arr.ndim == 1 and arr.size:
                out[str(k)] = arr
        if not out:
            raise ValueError(f"history has no numeric series to plot; its keys are {sorted(map(str, history))}")
        return out
    if isinstance(history, Sequence) and history and isinstance(history[0], Mapping):
        keys = [k for k in history[0] if _is_number(history[0][k])]
        return {str(k): np.array([row.get(k, np.nan) for row in history], dtype=float) for k in keys}
    if isinstance(history, (Sequence, np.ndarray)) and len(history):
        return {"loss": np.asarray(history, dtype=float).ravel()}
    raise TypeError(f"history must be a dict of lists, a list of per-epoch dicts, a list of losses, or an "
                    f"object with a .history dict; got {type(history).__name__}")


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.number)) and not isinstance(v, bool)


def _is_numeric_series(v) -> bool:
    try:
        arr = np.asarray(v, dtype=float)
    except (TypeError, ValueError):
        return False
    return arr.ndim == 1


def _split_and_metric(key: str) -> tuple[str, str]:
    """``"val_loss"`` -> ("val", "loss"); ``"loss"`` -> ("train", "loss"); ``"train_acc"`` -> ("train", "acc")."""
    low = key.lower()
    for split in _SPLITS:
        for sep in ("_", " ", "-"):
            if low.startswith(split + sep):
                return split, key[len(split) + 1:]
            if low.endswith(sep + split):
                return split, key[: -len(split) - 1]
    return "train", key


def _metric_group(metric: str) -> str:
    low = metric.lower()
    if "loss" in low:
        return "loss"
    if "acc" in low:
        return "accuracy"
    return metric


def _smooth(y: np.ndarray, window: int) -> np.ndarray:
    if window <= 1 or len(y) < window:
        return y
    kernel = np.ones(window) / window
    head = np.cumsum(y[: window - 1]) / np.arange(1, window)  # a shorter average at the start
    return np.concatenate([head, np.convolve(y, kernel, mode="valid")])


@styled
def plot_history(history, ax=None, xlabel: str = "epoch", smooth: int = 1, mark_best: bool = True,
                 title: str | None = None, log_loss: bool = False):
    """Loss and accuracy curves, one panel per quantity, train solid and validation dashed.

    Inputs:
    - history: see :func:`history_to_dict` (e.g. ``{"train_loss": [...], "val_loss": [...],
      "train_acc": [...], "val_acc": [...]}``); series of length T are drawn against 1..T
    - ax: an Axes (only when there is a single panel) or a sequence of Axes, one per panel; None makes
      a new figure
    - xlabel: what one step of a series is ("epoch" or "iteration")
    - smooth: moving-average window for noisy per-iteration losses (1 = raw); the raw curve stays faint
    - mark_best: mark the epoch with the lowest validation loss (where early stopping would stop)
    - log_loss: log scale for the loss axis

    Returns:
    - the list of Axes, one per panel (loss first, then accuracy, then anything else)
    """
    data = history_to_dict(history)
    groups: dict[str, list[tuple[str, str, np.ndarray]]] = {}
    for key, values in data.items():
        split, metric = _split_and_metric(key)
        groups.setdefault(_metric_group(metric), []).append((key, split, values))
    order = sorted(groups, key=lambda g: (g != "loss", g != "accuracy", g))
    if ax is None:
        _, axes = new_figure(figsize=(5.0 * len(order), 3.6), ncols=len(order), pyplot=True)
        axes = list(np.atleast_1d(axes))
    else:
        axes = list(np.atleast_1d(ax))
        if len(axes) != len(order):
            raise ValueError(f"ax must hold {len(order)} Axes (panels: {order}), got {len(axes)}")
    for a, group in zip(axes, order, strict=True):
        for key, split, values in groups[group]:
            steps = np.arange(1, len(values) + 1)
            st = _SPLIT_STYLE.get(split, {})
            if smooth > 1:
                a.plot(steps, values, alpha=0.25, linewidth=1, color=st.get("color"))
                values = _smooth(values, smooth)
            a.plot(steps, values, label=key, linewidth=2, **st)
            if mark_best and group == "loss" and split == "val" and np.isfinite(values).any():
                best = int(np.nanargmin(values))
                a.axvline(best + 1, color="0.35", linestyle=":", linewidth=1)
                a.annotate(f"lowest {key}\n{xlabel} {best + 1}: {values[best]:.3g}", (best + 1, values[best]),
                           xytext=(8, 18), textcoords="offset points", fontsize=8, color="0.2",
                           arrowprops=dict(arrowstyle="->", color="0.35", linewidth=0.8))
        a.set_xlabel(xlabel)
        a.set_ylabel(group)
        a.set_title(group.capitalize() if title is None else f"{title}: {group}")
        if group == "loss" and log_loss:
            a.set_yscale("log")
        values = np.concatenate([v for _, _, v in groups[group]])
        if group == "accuracy" and np.nanmin(values) >= 0 and np.nanmax(values) <= 1:  # a fraction
            a.set_ylim(max(0.0, float(np.nanmin(values)) - 0.05), 1.02)
        a.legend(loc="best")
    return axes
