"""The diagnosed mistakes as short codes, for counting them across a class (``deepgrad report``).

The checks speak to students in sentences; an instructor preparing the next lecture wants to know how many
students flipped a sign or forgot the regulariser. So each feedback line that names a mistake carries its code
(``results.Line.code``), set where the diagnosis is made: a check's ``fb.note``, ``fb.check`` or slip, the
gradient checker's findings, the pipeline's stub line. A part's status (a timeout, an error...) is a mistake of
its own. Nothing here reads the sentences, so rewording one never changes what the class report counts.
"""
from __future__ import annotations

from .results import STATUSES


def _statuses(*names: str) -> dict:
    """Statuses that are mistakes in themselves, labelled as results.STATUSES says."""
    return {name: STATUSES[name].label for name in names}


# code -> label for the report. Order matters only for the report's rows (ties keep this order).
MISTAKES = {
    "sign": "wrong sign",
    "factor_n": "a factor N (sum instead of mean, or /N twice)",
    "factor_2": "a factor 2",
    "factor": "another constant factor",
    "half_reg": "0.5 · reg instead of reg",
    "no_reg": "regulariser missing",
    "double_reg": "the regulariser's gradient added twice",
    "transposed": "transposed",
    "unstable": "unstable softmax (exp without the row maximum, log of 0)",
    "own_margin": "the correct class's margin counted",
    "classes_from_labels": "C taken from the labels",
    "in_place": "caller's arrays changed in place",
    "numerical": "a numerical gradient instead of a derived one",
    "zeros": "a gradient of all zeros (not computed or not returned)",
    "flat": "a gradient where the loss does not change",
    "disagree": "a wrong gradient that no single slip explains",
    "diverged": "training diverged (NaN or inf)",
    **_statuses("timeout", "memory", "error", "missing"),
    "stub": "not attempted (still the stub)",
    **_statuses("no_notebook", "crashed", "grader_error"),
}


def _code(line) -> str | None:
    """A line's code: a results.Line, or a record's {"ok", "text", "code"} (older records have no code)."""
    return line.get("code") if isinstance(line, dict) else line.code


def codes(status: str, lines: list) -> list[str]:
    """The codes of the mistakes a part's ``status`` and feedback ``lines`` name, each once, in MISTAKES'
    order. A stub is only a stub: its NotImplementedError is not counted as an error too."""
    found = {status, *map(_code, lines)}
    if "stub" in found:
        found.discard("error")
    return [c for c in MISTAKES if c in found]


def label(code: str) -> str:
    return MISTAKES.get(code, code)
