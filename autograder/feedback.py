"""One student's result, rendered for each reader from one source: the student's HTML page, the text of a
graded cell in the formgrader's copy, and the terminal of ``deepgrad check``.

Each renders the same things in the same order: per part its score, title, status and feedback lines (what
happened in the sandbox, then the check's comparisons and diagnoses), then the written answers graded by hand,
once their grades are read back from the gradebook (``deepgrad return``). What a student may see is fixed in
autograder/README.md ("What a student sees"); nothing here adds to it. Every string a student controls is
escaped in the HTML, and in the terminal its control characters are shown, never sent (:func:`printable`).
"""
from __future__ import annotations

import html as _html
import re
import textwrap
from pathlib import Path

from .results import Line, status_words

MARK = {True: "✓", False: "✗", None: "•"}
KIND = {True: "ok", False: "fail", None: "note"}
GRADED_AS = ("Each part was graded by running your answer cells on their own, with NumPy only, on inputs drawn "
             "at grading time, and comparing the results with the reference.")

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 52rem; margin: 2rem auto; line-height: 1.45; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.1rem; margin-bottom: .2rem; }
.part { border: 1px solid #ccc; border-radius: 6px; padding: .6rem 1rem; margin: 1rem 0; }
.score { float: right; font-weight: bold; }
.full { color: #1a7f37; } .some { color: #9a6700; } .none { color: #b42318; }
ul { padding-left: 1.2rem; margin: .3rem 0; } li.ok::marker { content: "✓ "; color: #1a7f37; }
li.fail::marker { content: "✗ "; color: #b42318; } li.note::marker { content: "• "; }
.status { color: #555; } .shares { font-size: .92rem; }
"""


# What a terminal would act on rather than show: C0 controls but the newline (ESC starts colours, cursor moves,
# clipboard writes (OSC 52), hidden text; CR and BS overwrite a line), DEL, C1 controls (CSI, OSC as one
# character), the line and paragraph separators, and the marks that reorder text (bidi embeddings, overrides,
# isolates; the invisible direction marks).
_CONTROL = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      "\u2066-\u2069]")


def printable(text, one_line: bool = False) -> str:
    """``text`` safe for a terminal: each control character (see _CONTROL) shown as its escape (``\\x1b``,
    ``\\u202e``), so it is visible and does nothing; ``one_line`` shows newlines the same way."""
    text = str(text)
    if one_line:
        text = text.replace("\n", "\\n")
    return _CONTROL.sub(lambda m: ascii(m.group())[1:-1], text)


def _score(score, points) -> str:
    return f"{score:g} / {points:g}"


def _cls(score, points) -> str:
    return "full" if score >= points else ("some" if score > 0 else "none")


def shares(part) -> str:
    """How a part's score splits into its named shares (results.PartResult), or "" for a part of one share:
    ``the data loss 0.5 / 0.5 · its gradient dW 0 / 0.5 · ...``."""
    if len(part.shares) < 2:
        return ""
    return "Shares: " + " · ".join(f"{s.name} {_score(s.score, s.points)}" for s in part.shares)


WRITTEN = "A written answer, graded by hand."
UNGRADED = "A written answer, graded by hand: not graded yet (it counts 0 in the total until it is)."


def written(w) -> tuple[str, str, list]:
    """A written answer (results.WrittenResult) as every rendering shows it: its score (``not graded yet`` in
    place of one), the status words, and the grader's comments as feedback lines."""
    score = _score(w.score, w.points) if w.score is not None else f"not graded yet / {w.points:g}"
    return (score, WRITTEN if w.score is not None else UNGRADED,
            [Line(None, f"Your grader's comment: {text}") for text in w.comments])


def html(result) -> str:
    """The student's feedback page (results.StudentResult)."""
    e = _html.escape
    parts = []
    for p in result.parts:
        items = "".join(f'<li class="{KIND[line.ok]}">{e(line.text)}</li>' for line in p.lines)
        parts.append(
            f'<div class="part"><span class="score {_cls(p.score, p.points)}">{_score(p.score, p.points)}</span>'
            f'<h2>{e(p.name)}</h2><div>{e(p.description)}</div>'
            + (f'<div class="shares">{e(shares(p))}</div>' if shares(p) else "") +
            f'<div class="status">{e(status_words(p.status))}</div><ul>{items}</ul></div>')
    for w in result.written:
        score, words, lines = written(w)
        items = "".join(f'<li class="{KIND[line.ok]}">{e(line.text)}</li>' for line in lines)
        kind = _cls(w.score, w.points) if w.score is not None else "note"
        parts.append(f'<div class="part written"><span class="score {kind}">{e(score)}</span><h2>{e(w.name)}</h2>'
                     f'<div class="status">{e(words)}</div><ul>{items}</ul></div>')
    total = f'<b class="{_cls(result.score, result.max_score)}">{_score(result.score, result.max_score)}</b>'
    if result.penalty:
        total += (f", after the late penalty <b class='{_cls(result.final, result.max_score)}'>"
                  f"{_score(result.final, result.max_score)}</b>")
    ungraded = [w.name for w in result.written if w.score is None]
    if ungraded:
        total += (f" ({len(ungraded)} written answer{'s' if len(ungraded) > 1 else ''} not graded yet: "
                  f"{e(', '.join(ungraded))})")
    head = f"<h1>{e(result.assignment)} feedback for {e(result.student)}</h1><p>Total: {total}</p>"
    if result.notebook_problem:
        head += f"<p class='none'>{e(result.notebook_problem)}</p>"
    if result.late_note:
        head += f"<p class='some'>{e(result.late_note)}</p>"
    head += f"<p class='status'>{GRADED_AS}</p>"
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(result.assignment)} feedback</title>"
            f"<style>{_STYLE}</style></head><body>{head}{''.join(parts)}</body></html>")


def write_html(path: Path, result) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html(result), encoding="utf-8")


def cell_text(part) -> str:
    """What a graded cell of the formgrader's copy shows for its part (results.PartResult). Jupyter renders a
    stream's ANSI codes, so control characters are shown as escapes here too, as in :func:`terminal`."""
    lines = [f"{part.name}: {_score(part.score, part.points)}", shares(part), status_words(part.status)]
    lines = [line for line in lines if line]
    lines += [f"{MARK[line.ok]} {printable(line.text)}" for line in part.lines]
    return "\n".join(lines) + "\n"


def terminal(result, path: Path, sandbox: str | None = None) -> str:
    """The feedback as terminal text (``deepgrad check``): a line per part, its feedback indented below.
    ``sandbox``: the mode the parts ran in ("namespaces + rlimits" or "rlimits only"), said at the end.

    Every string the notebook or its file name controls (error texts, the path, names) goes through
    :func:`printable`: a classmate's notebook cannot colour, move, hide or rewrite what is printed."""
    t = printable
    width = max(len(t(p.name, True)) for p in result.parts) if result.parts else 0
    out = [f"{t(result.assignment, True)}: {_score(result.score, result.max_score)} for {t(path, True)}"]
    if result.notebook_problem:
        out.append(f"  {t(result.notebook_problem, True)}")
    for p in result.parts:
        out.append(f"\n{t(p.name, True):<{width}}  {_score(p.score, p.points)}  {t(p.description, True)}")
        if p.score < p.points:
            out += [f"    {t(text, True)}" for text in (shares(p), status_words(p.status)) if text]
        for line in (line for line in p.lines if line.text):
            out.append(textwrap.fill(t(line.text), 100, initial_indent=f"    {MARK[line.ok]} ",
                                     subsequent_indent="      "))
    for w in result.written:
        score, words, lines = written(w)
        out.append(f"\n{t(w.name, True)}  {score}  {words}")
        out += [textwrap.fill(t(line.text), 100, initial_indent=f"    {MARK[line.ok]} ", subsequent_indent="      ")
                for line in lines]
    if sandbox == "namespaces + rlimits":
        out.append("\nGraded as the instructor grades: your answer cells ran on their own in a sandbox "
                   "(namespaces + rlimits), with NumPy only, on inputs drawn just now.")
    elif sandbox is not None:
        out.append(f"\nGraded as the instructor grades: your answer cells ran on their own, with NumPy only, on "
                   f"inputs drawn just now; sandbox: {t(sandbox, True)}: limits on time, memory and processes "
                   f"only, so the code could read and change whatever this user can (check only notebooks "
                   f"you trust).")
    else:
        out.append("\nGraded as the instructor grades: your answer cells ran on their own, with NumPy only, on "
                   "inputs drawn just now.")
    return "\n".join(out)
