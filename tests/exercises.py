"""The lessons' exercises, filled in from a test: the notebook's own check cell gives the verdict.

A lesson's exercise is three cells and a solution kept out of sight (course/README.md, "Exercises"):

- the **answer cell** (tag ``exercise:<id>``): a function the student writes, left as a stub that raises
  ``NotImplementedError``;
- the **check cell** right after it (tag ``check:<id>``): calls the answer, checks it (the gradient checker, or a
  comparison with what the library computes) and prints a verdict in words, or a line saying the exercise is not
  written yet while the stub is there. It draws its inputs from a generator of its own: the lesson's namespace is
  shared (shallowly copied) between the calls of one test run;
- a hint in a ``<details>`` block the student opens on purpose;
- the solution in the lesson's last section, "Solutions to the exercises", inside
  ``<details><summary>Solution to exercise <id> ...</summary>`` as one fenced ``python`` block.

``check(lesson, id, source)`` runs the lesson's code cells up to the answer cell once (fast mode, in this process,
no figures shown), then the given source in place of the answer cell, then the check cell, and returns what the
check cell printed. ``solution(lesson, id)`` is the code of the notebook's own solution block.

    >>> out = check("02_losses", "svm-gradient", solution("02_losses", "svm-gradient"))   # doctest: +SKIP
"""
from __future__ import annotations

import contextlib
import functools
import io
import re
from pathlib import Path

import nbformat
from harness import notebook_quietly

COURSE = Path(__file__).resolve().parent.parent / "course"
_FENCE = re.compile(r"```python\n(.*?)```", re.S)


def notebook(lesson: str):
    return nbformat.read(COURSE / f"{lesson}.ipynb", as_version=4)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def exercise_ids(lesson: str) -> list[str]:
    """The ids of the lesson's exercises, in the order of their answer cells."""
    return [t.split(":", 1)[1] for c in notebook(lesson).cells for t in _tags(c) if t.startswith("exercise:")]


def _index(cells, tag: str) -> int:
    found = [i for i, c in enumerate(cells) if tag in _tags(c)]
    assert len(found) == 1, f"expected one cell tagged {tag!r}, found {len(found)}"
    return found[0]


def solution(lesson: str, exercise: str) -> str:
    """The code of the solution block for ``exercise`` in the lesson's last section."""
    marker = f"Solution to exercise {exercise}"
    for cell in notebook(lesson).cells:
        if cell.cell_type == "markdown" and marker in cell.source:
            block = cell.source.split(marker, 1)[1].split("</details>", 1)[0]
            codes = _FENCE.findall(block)
            assert len(codes) == 1, f"{lesson}: the solution of {exercise} must hold one ```python block"
            return codes[0]
    raise AssertionError(f"{lesson}: no markdown cell says {marker!r}")


def _quiet_lesson():
    """Fast mode, figures closed instead of shown, in the course folder (lessons read files relative to it)."""
    return notebook_quietly(COURSE)


def _run(source: str, ns: dict, name: str) -> None:
    source = "\n".join(line for line in source.splitlines() if not line.lstrip().startswith(("%", "!")))
    exec(compile(source, name, "exec"), ns)


@functools.lru_cache(maxsize=None)
def _namespace(lesson: str, exercise: str) -> tuple:
    """The kernel's namespace just before the answer cell: every code cell above it run once."""
    cells = notebook(lesson).cells
    answer = _index(cells, f"exercise:{exercise}")
    ns = {"__name__": "__main__"}
    with _quiet_lesson(), contextlib.redirect_stdout(io.StringIO()):
        for i, cell in enumerate(cells[:answer]):
            if cell.cell_type == "code":
                _run(cell.source, ns, f"{lesson}[{i}]")
    return ns, cells[_index(cells, f"check:{exercise}")].source


def check(lesson: str, exercise: str, source: str) -> str:
    """What the lesson's check cell prints after ``source`` has replaced the answer cell."""
    base, check_source = _namespace(lesson, exercise)
    ns = dict(base)
    out = io.StringIO()
    with _quiet_lesson(), contextlib.redirect_stdout(out):
        _run(source, ns, f"{lesson}:{exercise}")
        _run(check_source, ns, f"{lesson}:check:{exercise}")
    return out.getvalue()


def stub(lesson: str, exercise: str) -> str:
    """The answer cell as the student finds it."""
    cells = notebook(lesson).cells
    return cells[_index(cells, f"exercise:{exercise}")].source


def assert_stub_says_not_written(lesson: str, exercise: str) -> None:
    """The untouched answer cell: its check prints one line, "Exercise <id> is not written yet: ..." (so that Run
    All on a fresh lesson shows no error)."""
    source = stub(lesson, exercise)
    assert "raise NotImplementedError" in source, f"the answer cell of {exercise} is not a stub"
    out = check(lesson, exercise, source).strip()
    assert out.splitlines() == [out] and out.startswith(f"Exercise {exercise} is not written yet:"), out
