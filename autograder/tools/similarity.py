"""Pairs of submissions whose answer cells are suspiciously alike. It flags; it never changes a grade.

Each student's answer cells are read with the standard library's ``tokenize`` (the Python tokenizer
itself, so it is exact for Python and needs nothing installed; copydetect would add a dependency and
tokenises with a general-purpose lexer) and normalised: comments, blank lines and layout dropped, every
identifier that is not a keyword or a builtin becomes ``v``, every number ``0`` and every string ``s``. So
renaming variables, reformatting and recommenting change nothing. A submission is then the set of its
k-grams (``K`` consecutive normalised tokens). Code everyone shares is not evidence: k-grams of the
released stub, and those found in more than ``COMMON`` of the class, are discarded (the idea of MOSS). The
similarity of two students is the share of the smaller one's remaining k-grams that the other also has;
pairs at or above the threshold are listed, the most alike first, with their cells side by side.
"""
from __future__ import annotations

import builtins
import html
import io
import keyword
import tokenize
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

from .. import notebook as nbmod

K = 12              # tokens per k-gram: about one short line of code
COMMON = 0.5        # k-grams in more than this share of the class are the obvious answer, not a copy
THRESHOLD = 0.6
MIN_GRAMS = 20      # answers shorter than this (in uncommon k-grams) are never flagged: too little to go on
_KEEP = set(keyword.kwlist) | set(dir(builtins))


def normalise(source: str) -> list[str]:
    """The tokens of ``source`` with names, numbers and strings replaced and layout dropped. Code that does
    not tokenise (an unfinished cell) contributes the tokens read before the problem."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(nbmod.drop_magics(source)).readline):
            if tok.type == tokenize.NAME:
                out.append(tok.string if tok.string in _KEEP else "v")
            elif tok.type == tokenize.NUMBER:
                out.append("0")
            elif tok.type == tokenize.STRING or tok.type in getattr(tokenize, "FSTRING_MIDDLE", ()):
                out.append("s")
            elif tok.type == tokenize.OP:
                out.append(tok.string)
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return out


def grams(tokens: list[str], k: int = K) -> set[tuple]:
    return {tuple(tokens[i:i + k]) for i in range(len(tokens) - k + 1)}


def similar_pairs(answers: dict, template: str = "", threshold: float = THRESHOLD) -> list[tuple]:
    """``answers``: student -> answer cells' source. Returns (similarity, a, b) for the pairs at or above
    ``threshold``, most alike first. Pairs are counted through shared k-grams only, so a class of 1 000
    costs what its shared code costs, not a million comparisons."""
    if not 0 < threshold <= 1:
        raise ValueError(f"threshold must be in (0, 1], got {threshold!r}")
    sets = {s: grams(normalise(src)) for s, src in answers.items()}
    seen = Counter(g for gs in sets.values() for g in gs)
    limit = max(2, COMMON * len(sets))
    boring = grams(normalise(template)) | {g for g, n in seen.items() if n > limit}
    sets = {s: gs - boring for s, gs in sets.items()}
    holders = defaultdict(list)
    for s, gs in sets.items():
        for g in gs:
            holders[g].append(s)
    shared = Counter()
    for students in holders.values():
        for a, b in combinations(sorted(students), 2):
            shared[a, b] += 1
    pairs = []
    for (a, b), n in shared.items():
        smaller = min(len(sets[a]), len(sets[b]))
        if smaller >= MIN_GRAMS and n / smaller >= threshold:
            pairs.append((round(n / smaller, 3), a, b))
    return sorted(pairs, key=lambda p: (-p[0], p[1], p[2]))


def answers_of(assignment: str, module, submissions: Path) -> dict:
    """student id -> their answer cells joined (students without a usable notebook are left out)."""
    import tempfile

    source = nbmod.source(assignment, module.NOTEBOOK)
    answers = {}
    for sid, path in nbmod.discover(Path(submissions)):
        with tempfile.TemporaryDirectory(prefix="deepgrad-similar-") as scratch:
            try:
                nb = nbmod.load(nbmod.find(path, assignment, module.NOTEBOOK, Path(scratch)))
            except nbmod.NotebookProblem:
                continue
        answers[sid] = "\n".join(nbmod.answer_cells(nb, source))
    return answers


def render(assignment: str, pairs: list[tuple], answers: dict, threshold: float) -> str:
    e = html.escape
    rows = []
    for sim, a, b in pairs:
        rows.append(f"<h2>{e(a)} and {e(b)}: {sim:.0%} of the uncommon code in common</h2>"
                    f"<div class='pair'><div><h3>{e(a)}</h3><pre>{e(answers[a])}</pre></div>"
                    f"<div><h3>{e(b)}</h3><pre>{e(answers[b])}</pre></div></div>")
    return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{e(assignment)} similar submissions"
            f"</title><style>body {{ font-family: system-ui, sans-serif; margin: 2rem; }} "
            f".pair {{ display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }} "
            f"pre {{ background: #f6f6f6; padding: .5rem; overflow-x: auto; font-size: 12px; }}</style></head>"
            f"<body><h1>{e(assignment)}: {len(pairs)} pair{'s' if len(pairs) != 1 else ''} at or above "
            f"{threshold:.0%}</h1><p>{len(answers)} submissions compared on their answer cells, after names, "
            f"numbers, strings, comments and layout were normalised and the code of the released stub and of "
            f"more than {COMMON:.0%} of the class was set aside. A pair is a reason to look, not a finding: "
            f"no grade is changed.</p>{''.join(rows)}</body></html>")


def write(assignment: str, module, submissions: Path, to: Path, threshold: float = THRESHOLD) -> list[tuple]:
    """Compare the answer cells of every submission in ``submissions``; write the pairs' page to ``to``."""
    answers = answers_of(assignment, module, submissions)
    try:
        stub = nbmod.load(nbmod.ROOT / "assignments" / assignment / module.NOTEBOOK)
        template = "\n".join(nbmod.answer_cells(stub))
    except nbmod.NotebookProblem:
        template = ""
    pairs = similar_pairs(answers, template, threshold)
    Path(to).parent.mkdir(parents=True, exist_ok=True)
    Path(to).write_text(render(assignment, pairs, answers, threshold), encoding="utf-8")
    return pairs
