"""Pairs of submissions whose answer cells are suspiciously alike. It flags; it never changes a grade.

Each student's answer cells are read with the standard library's ``tokenize`` (the Python tokenizer
itself, so it is exact for Python and needs nothing installed; copydetect would add a dependency and
tokenises with a general-purpose lexer) and normalised: comments, blank lines and layout dropped, every
identifier that is not a keyword or a builtin becomes ``v``, every number ``0`` and every string ``s``. So
renaming variables, reformatting and recommenting change nothing. Before that, the code is read as a syntax
tree and a few disguises are undone there (``undisguise``): the operands of a commutative operator are put in
one order (``b + a`` reads as ``a + b``, ``c * b * a`` as ``a * b * c``), a name imported from a module is
written with its module (``from numpy import exp`` makes ``exp(x)`` read as ``numpy.exp(x)``, which is
``np.exp(x)`` once names are replaced), and statements that do nothing (``pass`` beside other statements, a
bare constant or docstring) are dropped. A statement that does not parse is read as it is. A submission is
then the set of its
k-grams (``K`` consecutive normalised tokens). Code everyone shares is not evidence: k-grams of the
released stub, and those found in more than ``COMMON`` of the class, are discarded (the idea of MOSS). The
similarity of two students is the share of the smaller one's remaining k-grams that the other also has;
pairs at or above the threshold are listed, the most alike first, with their cells side by side.
"""
from __future__ import annotations

import ast
import builtins
import html
import io
import keyword
import tokenize
from collections import Counter, defaultdict
from itertools import combinations
from pathlib import Path

from .. import course
from .. import notebook as nbmod

K = 12              # tokens per k-gram: about one short line of code
COMMON = 0.5        # k-grams in more than this share of the class are the obvious answer, not a copy
THRESHOLD = 0.6
MIN_GRAMS = 20      # answers shorter than this (in uncommon k-grams) are never flagged: too little to go on
_KEEP = set(keyword.kwlist) | set(dir(builtins))


MAX_REPAIRS = 20    # statements that do not parse, each read as it is; past that, the rest is read as it is
_COMMUTATIVE = (ast.Add, ast.Mult, ast.BitAnd, ast.BitOr, ast.BitXor)
_CONTINUES = ("else", "elif", "except", "finally", "case", ")", "]", "}")   # a top-level line that goes on


def normalise(source: str) -> list[str]:
    """The tokens of ``source``, its disguises undone (``undisguise``), with names, numbers and strings
    replaced and layout dropped. Code that does not parse (an unfinished cell) is read as it is, statement
    by statement: what parses around it is undisguised; a statement that does not tokenise contributes the
    tokens read before the problem."""
    lines = nbmod.drop_magics(source).splitlines(keepends=True)
    out, start = [], 0
    for _ in range(MAX_REPAIRS):
        try:
            return out + _tokens(undisguise("".join(lines[start:])))
        except (SyntaxError, ValueError) as err:
            bad = start + max(1, min(getattr(err, "lineno", None) or 1, len(lines) - start)) - 1
        except (RecursionError, MemoryError):
            break
        # the top-level statement around the problem: from the last line at column 0 up to the next one
        first = next((i for i in range(bad, start - 1, -1) if _top_level(lines[i])), start)
        end = next((i for i in range(bad + 1, len(lines)) if _top_level(lines[i])
                    and not lines[i].lstrip().startswith(_CONTINUES)), len(lines))
        try:
            out += _tokens(undisguise("".join(lines[start:first])))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            out += _tokens("".join(lines[start:first]))
        out += _tokens("".join(lines[first:end]))
        start = end
    return out + _tokens("".join(lines[start:]))


def _top_level(line: str) -> bool:
    return bool(line.strip()) and not line[0].isspace() and not line.startswith("#")


def undisguise(source: str) -> str:
    """``source`` parsed and written back with the disguises undone (module docstring); raises SyntaxError
    (or ValueError, RecursionError) where it does not parse or is too deep."""
    tree = ast.parse(source)
    modules = {}        # a name a from-import (or an aliased import of a submodule) binds -> its dotted path
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and not node.level:
            modules.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names if a.name != "*"})
        elif isinstance(node, ast.Import):
            modules.update({a.asname: a.name for a in node.names if a.asname and "." in a.name})
    return ast.unparse(_Undisguise(modules).visit(tree))


class _Undisguise(ast.NodeTransformer):
    def __init__(self, modules: dict):
        self.modules = modules

    def generic_visit(self, node):
        super().generic_visit(node)
        for field in ("body", "orelse", "finalbody"):
            stmts = getattr(node, field, None)
            if isinstance(stmts, list) and stmts and all(isinstance(s, ast.stmt) for s in stmts):
                setattr(node, field, [s for s in stmts if not _does_nothing(s)] or [ast.Pass()])
        return node

    def visit_ImportFrom(self, node):
        self.generic_visit(node)
        return None if node.module and not node.level and all(a.name != "*" for a in node.names) else node

    def visit_Name(self, node):
        if not isinstance(node.ctx, ast.Load) or node.id not in self.modules:
            return node
        first, *rest = self.modules[node.id].split(".")
        new = ast.Name(first, ast.Load())
        for attr in rest:
            new = ast.Attribute(new, attr, ast.Load())
        return ast.copy_location(new, node)

    def visit_BinOp(self, node):
        if not isinstance(node.op, _COMMUTATIVE):
            return self.generic_visit(node)
        # the whole chain at once, each operand written out once for its sort key: linear in the chain
        operands = sorted((self.visit(n) for n in _chain(node, type(node.op))), key=lambda n: _tokens(ast.unparse(n)))
        out = operands[0]
        for operand in operands[1:]:
            out = ast.BinOp(out, node.op, operand)
        return ast.copy_location(out, node)


def _chain(node, op) -> list:
    """The operands of ``a op b op c ...``, however it is bracketed, left to right."""
    out, stack = [], [node]
    while stack:
        n = stack.pop()
        if isinstance(n, ast.BinOp) and isinstance(n.op, op):
            stack += [n.right, n.left]
        else:
            out.append(n)
    return out


def _does_nothing(stmt) -> bool:
    return isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant))


def _tokens(source: str) -> list[str]:
    """The tokens of ``source`` with names, numbers and strings replaced and layout dropped; code that does
    not tokenise contributes the tokens read before the problem."""
    out = []
    try:
        for tok in tokenize.generate_tokens(io.StringIO(source).readline):
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
            except (nbmod.NotebookProblem, OSError):     # costs only this student's copy
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
        stub = nbmod.load(course.root() / "assignments" / assignment / module.NOTEBOOK)
        template = "\n".join(nbmod.answer_cells(stub))
    except nbmod.NotebookProblem:
        template = ""
    pairs = similar_pairs(answers, template, threshold)
    Path(to).parent.mkdir(parents=True, exist_ok=True)
    Path(to).write_text(render(assignment, pairs, answers, threshold), encoding="utf-8")
    return pairs
