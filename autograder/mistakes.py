"""The diagnosed mistakes as short codes, for counting them across a class (``deepgrad report``).

The checks speak to students in sentences; an instructor preparing the next lecture wants to know how many
students flipped a sign or forgot the regulariser. ``codes`` maps a part's status and feedback lines to the
codes of the mistakes they name, by the phrases the checks and the gradient checker use. The sentences stay
the only thing a student sees; ``tests/test_mistakes.py`` grades real buggy implementations, so a rewording
that breaks a phrase here fails there.
"""
from __future__ import annotations

import re

# code -> (label for the report, phrases that name it). Order matters only for the report's rows.
MISTAKES = {
    "sign": ("wrong sign", (r"opposite sign", r"has the wrong sign", r"with the wrong sign")),
    "factor_n": ("a factor N (sum instead of mean, or /N twice)",
                 (r"\bis N = \d+ times\b", r"\bis 1/N = ", r"summed over the N examples", r"divides the "
                  r"regulariser by N")),
    "factor_2": ("a factor 2", (r"\bis twice the\b", r"\bis half the\b")),
    "half_reg": ("0.5 · reg instead of reg", (r"0\.5 \* reg", r"half as big as it should be")),
    "no_reg": ("regulariser missing", (r"lacks the regulariser", r"regulariser's term .* seems to be missing")),
    "transposed": ("transposed", (r"\btranspose", r"\bTransposed\b")),
    "unstable": ("unstable softmax (exp without the row maximum, log of 0)",
                 (r"NaN or inf", r"subtract each row's own maximum", r"overflow")),
    "own_margin": ("the correct class's margin counted", (r"correct class's own margin",)),
    "classes_from_labels": ("C taken from the labels", (r"from W\.shape\[1\], not from y",)),
    "in_place": ("caller's arrays changed in place", (r"\bin place\b",)),
    "numerical": ("a numerical gradient instead of a derived one", (r"numerical gradient",)),
    "timeout": ("ran out of time", ()),
    "memory": ("ran out of memory", ()),
    "error": ("raised an error", ()),
    "missing": ("function not defined", ()),
    "stub": ("not attempted (still the stub)", (r"still the stub",)),
    "no_notebook": ("no usable notebook", ()),
    "crashed": ("process ended without results", ()),
    "grader_error": ("the grader failed (not the student's fault)", ()),
}
# statuses that are mistakes in themselves (the sandbox's words, not a check's)
_STATUS = {code: code for code in ("timeout", "memory", "error", "missing", "no_notebook", "crashed",
                                    "grader_error")}
_PATTERNS = [(code, re.compile("|".join(phrases), re.IGNORECASE)) for code, (_, phrases) in MISTAKES.items()
             if phrases]


def codes(status: str, lines: list[str]) -> list[str]:
    """The codes of the mistakes a part's ``status`` and feedback ``lines`` name, each once, in MISTAKES'
    order. A stub is only a stub: its NotImplementedError is not counted as an error too."""
    found = {_STATUS[status]} if status in _STATUS else set()
    text = "\n".join(lines)
    found |= {code for code, pattern in _PATTERNS if pattern.search(text)}
    if "stub" in found:
        found.discard("error")
    return [c for c in MISTAKES if c in found]


def label(code: str) -> str:
    return MISTAKES[code][0] if code in MISTAKES else code
