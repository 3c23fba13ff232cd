"""Finding a student's notebook and taking the answer cells out of it, whatever state it is in.

Only the JSON is read (no nbformat validation, no execution): duplicated or missing cell ids, edited or
deleted test cells, extra cells and odd metadata are all fine. Malformed JSON or no notebook at all raise
:class:`NotebookProblem` with a sentence the student can act on.
"""
from __future__ import annotations

import json
import re
import shutil
import zipfile
from pathlib import Path

MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_UNZIPPED_BYTES = 200 * 2**20


class NotebookProblem(Exception):
    """The submission has no usable notebook; ``str(exc)`` says why in plain words."""


def _source(cell) -> str:
    src = cell.get("source", "")
    if isinstance(src, list):
        src = "".join(s for s in src if isinstance(s, str))
    return src if isinstance(src, str) else ""


def _nbgrader(cell) -> dict:
    meta = cell.get("metadata")
    meta = meta if isinstance(meta, dict) else {}
    nbg = meta.get("nbgrader")
    return nbg if isinstance(nbg, dict) else {}


def load(path: Path) -> dict:
    """Read a notebook's JSON leniently; raise NotebookProblem for anything that is not a notebook."""
    path = Path(path)
    if not path.is_file():
        raise NotebookProblem(f"no notebook {path.name} was found in your submission")
    if path.stat().st_size > MAX_NOTEBOOK_BYTES:
        raise NotebookProblem(f"{path.name} is larger than {MAX_NOTEBOOK_BYTES // 2**20} MB "
                              f"(clear the outputs and submit again)")
    try:
        nb = json.loads(path.read_bytes().decode("utf-8", errors="replace"))
    except (json.JSONDecodeError, RecursionError) as exc:
        raise NotebookProblem(f"{path.name} is not valid notebook JSON ({exc.__class__.__name__}: "
                              f"{str(exc)[:200]}); open it in Jupyter, save it and submit again") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookProblem(f"{path.name} is JSON but not a notebook (it has no list of cells)")
    return nb


_DEF = re.compile(r"^(?:def|class)\s+([A-Za-z_]\w*)", re.M)
_MAGIC = re.compile(r"^(\s*)[%!].*$", re.M)


def defined_names(src: str) -> set[str]:
    return set(_DEF.findall(src))


def answer_cells(nb: dict, source_nb: dict | None = None) -> list[str]:
    """The answer cells' code, in notebook order, IPython magics replaced by ``pass``.

    A code cell counts as an answer cell when its metadata says ``nbgrader.solution``; if a student
    stripped that metadata, a code cell without nbgrader metadata that defines one of the names the
    source notebook's answer cells define counts too. Graded test cells never count.
    """
    wanted = set()
    if source_nb is not None:
        for cell in source_nb.get("cells", []):
            if isinstance(cell, dict) and _nbgrader(cell).get("solution"):
                wanted |= defined_names(_source(cell))
    cells = []
    for cell in nb["cells"]:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        nbg = _nbgrader(cell)
        src = _source(cell)
        if nbg.get("solution") is True or (not nbg and wanted and defined_names(src) & wanted):
            cells.append(_MAGIC.sub(lambda m: m.group(1) + "pass", src))
    return cells


def grade_cells(nb: dict) -> dict[str, float]:
    """grade_id -> points of the graded (test) cells of a source notebook."""
    out = {}
    for cell in nb["cells"]:
        nbg = _nbgrader(cell) if isinstance(cell, dict) else {}
        if nbg.get("grade") and not nbg.get("solution"):
            out[str(nbg.get("grade_id"))] = float(nbg.get("points", 0))
    return out


def _safe_unzip(archive: Path, dest: Path) -> None:
    """Unpack a zip without letting names escape ``dest`` or sizes blow up."""
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            if sum(i.file_size for i in infos) > MAX_UNZIPPED_BYTES:
                raise NotebookProblem(f"{archive.name} unpacks to more than {MAX_UNZIPPED_BYTES // 2**20} MB")
            for info in infos:
                name = Path(info.filename)
                if info.is_dir() or name.is_absolute() or ".." in name.parts:
                    continue
                target = dest / name
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(info) as src, open(target, "wb") as dst:
                    shutil.copyfileobj(src, dst)
    except zipfile.BadZipFile:
        raise NotebookProblem(f"{archive.name} is not a readable zip file") from None


def find(student_path: Path, assignment: str, notebook_name: str, scratch: Path) -> Path:
    """Locate the notebook in a student's folder (or zip); raise NotebookProblem if there is none.

    Looks for, in order: ``<folder>/<notebook>``, ``<folder>/<assignment>/<notebook>``, any file named
    ``<notebook>`` deeper down, then the only ``.ipynb`` file. Zip files (the submission itself or zips
    inside the folder) are unpacked into ``scratch`` first.
    """
    student_path = Path(student_path)
    roots = []
    if student_path.is_file() and student_path.suffix == ".zip":
        _safe_unzip(student_path, scratch)
        roots.append(scratch)
    elif student_path.is_dir():
        roots.append(student_path)
        for i, z in enumerate(sorted(student_path.glob("*.zip"))):
            _safe_unzip(z, scratch / f"zip{i}")
            roots.append(scratch / f"zip{i}")
    for root in roots:
        for candidate in (root / notebook_name, root / assignment / notebook_name):
            if candidate.is_file() and not candidate.is_symlink():
                return candidate
    found = [p for root in roots for p in sorted(root.rglob("*.ipynb"))
             if ".ipynb_checkpoints" not in p.parts and not p.is_symlink()]
    named = [p for p in found if p.name == notebook_name]
    if named:
        return named[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotebookProblem(f"no notebook was found in the submission (expected {notebook_name})")
    raise NotebookProblem(f"no notebook named {notebook_name} and several others "
                          f"({', '.join(p.name for p in found[:5])}); submit {notebook_name}")
