"""`deepgrad verify`: every solution earns full marks, every released stub nothing, the notebooks and the check
modules agree, and assignments/ is in sync with solutions/. Run it after any edit of an assignment."""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from .. import checks, course, notebook
from ..records import manual
from . import release
from .pipeline import grade_all


def graded_assignments() -> list[str]:
    """The course's assignments with both a source folder and a check module."""
    checks_dir = course.root() / course.CHECKS
    return [a for a in release.assignments() if (checks_dir / f"{a}.py").is_file()]


def _normalise(nb_path: Path) -> dict:
    nb = json.loads(nb_path.read_text())
    nb.get("metadata", {}).pop("widgets", None)
    return nb


def release_drift(assignment: str) -> list[str]:
    """Files of assignments/<A> that differ from a fresh generate_assignment (empty list: in sync)."""
    root = course.root()
    committed = root / "assignments" / assignment
    with tempfile.TemporaryDirectory(prefix="deepgrad-drift-", dir=str(root)) as tmp:
        fresh = release.generate(assignment, Path(tmp))
        names = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
        names |= {p.relative_to(committed) for p in committed.rglob("*") if p.is_file()} if committed.is_dir() else set()
        drift = []
        for name in sorted(names):
            a, b = committed / name, fresh / name
            if not a.is_file() or not b.is_file():
                drift.append(str(name))
            elif name.suffix == ".ipynb":
                if _normalise(a) != _normalise(b):
                    drift.append(str(name))
            elif a.read_bytes() != b.read_bytes():
                drift.append(str(name))
        return drift


def consistency(assignment: str) -> list[str]:
    """Problems between the source notebook's graded cells and the check module's parts."""
    module = checks.load(assignment)
    src = notebook.load(course.root() / "solutions" / assignment / module.NOTEBOOK)
    cells = notebook.grade_cells(src)
    parts = {p.name: float(p.points) for p in module.PARTS}
    problems = []
    for name in sorted(set(cells) | set(parts)):
        if name not in parts:
            problems.append(f"graded cell {name!r} of the notebook has no part in checks/{assignment}.py")
        elif name not in cells:
            problems.append(f"part {name!r} has no graded cell (grade_id) in the notebook")
        elif cells[name] != parts[name]:
            problems.append(f"part {name!r}: {parts[name]:g} points in the check module, {cells[name]:g} in the notebook")
    problems += [f"part {name!r}: the notebook does not state its shares as the check module has them (run "
                 f"deepgrad assign {assignment})" for name in release.shares_drift(assignment)]
    return problems + manual.consistency(module, src, assignment)


def verify(assignments_: list[str], jobs: int = 2, stream=sys.stdout) -> bool:
    ok = True
    for a in assignments_:
        module = checks.load(a)
        problems = consistency(a)
        with tempfile.TemporaryDirectory(prefix="deepgrad-verify-") as tmp:
            subs = Path(tmp) / "submissions"
            for who, folder in (("solution", "solutions"), ("stub", "assignments")):
                (subs / who).mkdir(parents=True)
                src = course.root() / folder / a / module.NOTEBOOK
                if src.is_file():
                    shutil.copy(src, subs / who / module.NOTEBOOK)
                else:
                    problems.append(f"{folder}/{a}/{module.NOTEBOOK} is missing")
            results = {r.student: r for r in grade_all(a, subs, Path(tmp) / "out", jobs=jobs, progress=False,
                                                       stream=stream)}
        sol, stub = results["solution"], results["stub"]
        if sol.score != sol.max_score:
            problems.append(f"the solution scores {sol.score:g} / {sol.max_score:g}: " + "; ".join(
                f"{p.name} {p.score:g}/{p.points:g} ({p.status}: {' '.join(l.text for l in p.lines if l.ok is False)[:300]})"
                for p in sol.parts if p.score != p.points))
        if stub.score != 0:
            problems.append(f"the released stub scores {stub.score:g}: " + ", ".join(
                f"{p.name} {p.score:g}" for p in stub.parts if p.score))
        verdict = "OK" if not problems else "FAILED"
        print(f"{a}: solution {sol.score:g}/{sol.max_score:g}, stub {stub.score:g}/{stub.max_score:g} -> {verdict}",
              file=stream)
        for p in problems:
            print(f"  - {p}", file=stream)
        ok &= not problems
    return ok
