"""Finding the students in a folder of submissions, each one's notebook, and the answer cells in it, whatever
state it is in; the student ids that name them everywhere after.

Only the JSON is read (no nbformat validation, no execution): duplicated or missing cell ids, edited or
deleted test cells, extra cells and odd metadata are all fine. Malformed JSON or no notebook at all raise
:class:`NotebookProblem` with a sentence the student can act on.

Everything here runs in the trusted grader on student input, so every step is linear in the input and
bounded: only regular files and real folders are looked at (links, pipes and devices are never followed or
opened), folders are walked to a bounded number of entries, and of a zip only its notebooks are unpacked,
within caps on the bytes and members of all of one student's zips together.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
from pathlib import Path

# The course: its sources in solutions/<A>/, the released notebooks in assignments/<A>/.
ROOT = Path(__file__).resolve().parent.parent
MAX_NOTEBOOK_BYTES = 20 * 2**20
MAX_ARCHIVE_BYTES = 100 * 2**20     # one zip file as submitted
MAX_UNZIPPED_BYTES = 200 * 2**20    # all notebooks unpacked from one student's zips together
MAX_MEMBERS = 10_000                # members of one student's zips together
MAX_ENTRIES = 10_000                # files and folders walked in one submission


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


def _regular(path: Path) -> bool:
    """True for a regular file reached without following a link at its last step."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def read_regular(path: Path, limit: int) -> bytes:
    """The bytes of a regular file, never following a link and never blocking on a pipe or a device."""
    path = Path(path)
    if not _regular(path):
        raise NotebookProblem(f"{path.name} is not a regular file (links, pipes and devices are not read)")
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise NotebookProblem(f"{path.name} is not a regular file")
        if os.fstat(fd).st_size > limit:
            raise NotebookProblem(f"{path.name} is larger than {limit // 2**20} MB (clear the outputs and "
                                  f"submit again)")
        with os.fdopen(fd, "rb", closefd=False) as f:
            return f.read(limit + 1)[:limit]
    finally:
        os.close(fd)


def load(path: Path) -> dict:
    """Read a notebook's JSON leniently; raise NotebookProblem for anything that is not a notebook."""
    path = Path(path)
    if not os.path.lexists(path):
        raise NotebookProblem(f"no notebook {path.name} was found in your submission")
    data = read_regular(path, MAX_NOTEBOOK_BYTES)
    try:
        # an integer too long to convert (5 000 digits in the metadata) stays text: still a notebook
        nb = json.loads(data.decode("utf-8", errors="replace"),
                        parse_int=lambda digits: int(digits) if len(digits) < 100 else digits)
    except (ValueError, RecursionError) as exc:   # JSONDecodeError, and integers too long to convert
        raise NotebookProblem(f"{path.name} is not valid notebook JSON ({exc.__class__.__name__}: "
                              f"{str(exc)[:200]}); open it in Jupyter, save it and submit again") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookProblem(f"{path.name} is JSON but not a notebook (it has no list of cells)")
    return nb


# Neither pattern can cross a line end, so each scans every character at most a bounded number of times
# (a pattern whose leading blank run could span newlines was quadratic on runs of empty lines).
_DEF = re.compile(r"^(?:def|class)[ \t]+([A-Za-z_]\w*)", re.M)
_MAGIC = re.compile(r"^([ \t]*)[%!][^\n]*", re.M)


def source(assignment: str, name: str) -> dict | None:
    """The source notebook ``solutions/<assignment>/<name>``, whose answer-cell ids locate a student's answers;
    None when it cannot be read (the answers are then found by their markers)."""
    try:
        return load(ROOT / "solutions" / assignment / name)
    except NotebookProblem:
        return None


def defined_names(src: str) -> set[str]:
    """Names of the functions and classes a cell defines at its top level."""
    return set(_DEF.findall(src))


def drop_magics(src: str) -> str:
    """IPython magics and shell lines (``%...``, ``!...``) become ``pass``."""
    return _MAGIC.sub(lambda m: m.group(1) + "pass", src)


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
            cells.append(drop_magics(src))
    return cells


def grade_cells(nb: dict) -> dict[str, float]:
    """grade_id -> points of the graded (test) cells of a source notebook."""
    out = {}
    for cell in nb["cells"]:
        nbg = _nbgrader(cell) if isinstance(cell, dict) else {}
        if nbg.get("grade") and not nbg.get("solution"):
            out[str(nbg.get("grade_id"))] = float(nbg.get("points", 0))
    return out


class _Caps:
    """What one student's zips may still unpack: bytes and members, together."""

    def __init__(self):
        self.bytes, self.members = MAX_UNZIPPED_BYTES, MAX_MEMBERS


def _safe_unzip(archive: Path, dest: Path, caps: _Caps) -> None:
    """Unpack the notebooks of a zip (only regular-file members whose names stay inside ``dest``), within
    ``caps``; members that cannot be unpacked (links, a file where a folder is needed) are skipped."""
    if not _regular(archive):
        return
    if os.lstat(archive).st_size > MAX_ARCHIVE_BYTES:
        raise NotebookProblem(f"{archive.name} is larger than {MAX_ARCHIVE_BYTES // 2**20} MB")
    try:
        with zipfile.ZipFile(archive) as zf:
            infos = zf.infolist()
            caps.members -= len(infos)
            if caps.members < 0:
                raise NotebookProblem(f"the zip files hold more than {MAX_MEMBERS} members in all")
            for info in infos:
                name = Path(info.filename.replace("\\", "/"))
                kind = stat.S_IFMT(info.external_attr >> 16)
                if (info.is_dir() or kind not in (0, stat.S_IFREG) or name.is_absolute() or ".." in name.parts
                        or name.suffix != ".ipynb" or ".ipynb_checkpoints" in name.parts):
                    continue
                target = dest / name
                try:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(info) as src, open(target, "xb") as dst:
                        while chunk := src.read(1 << 20):
                            caps.bytes -= len(chunk)
                            if caps.bytes < 0:
                                raise NotebookProblem(f"the zip files unpack to more than "
                                                      f"{MAX_UNZIPPED_BYTES // 2**20} MB in all")
                            dst.write(chunk)
                except OSError:
                    continue             # "a" and "a/b", or the same name twice: keep what fits
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError) as exc:
        raise NotebookProblem(f"{archive.name} is not a readable zip file ({type(exc).__name__})") from None


def _walk(root: Path) -> list[Path]:
    """Regular files under ``root``, never following links, at most MAX_ENTRIES entries in all."""
    files, stack, seen = [], [root], 0
    while stack:
        folder = stack.pop()
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        for entry in entries:
            seen += 1
            if seen > MAX_ENTRIES:
                return files
            if entry.is_dir(follow_symlinks=False):
                stack.append(Path(entry.path))
            elif entry.is_file(follow_symlinks=False):
                files.append(Path(entry.path))
    return files


def find(student_path: Path, assignment: str, notebook_name: str, scratch: Path) -> Path:
    """Locate the notebook in a student's folder (or zip); raise NotebookProblem if there is none.

    Looks for, in order: ``<folder>/<notebook>``, ``<folder>/<assignment>/<notebook>``, any file named
    ``<notebook>`` deeper down, then the only ``.ipynb`` file. Zip files (the submission itself or zips
    inside the folder) are unpacked into ``scratch`` first. Only regular files count.
    """
    student_path = Path(student_path)
    caps, roots = _Caps(), []
    mode = os.lstat(student_path).st_mode if os.path.lexists(student_path) else 0
    if stat.S_ISREG(mode) and student_path.suffix == ".zip":
        _safe_unzip(student_path, scratch, caps)
        roots.append(scratch)
    elif stat.S_ISDIR(mode):
        roots.append(student_path)
        zips = [p for p in _walk(student_path) if p.parent == student_path and p.suffix == ".zip"]
        for i, z in enumerate(zips):
            _safe_unzip(z, scratch / f"zip{i}", caps)
            roots.append(scratch / f"zip{i}")
    for root in roots:
        for candidate in (root / notebook_name, root / assignment / notebook_name):
            if _regular(candidate):
                return candidate
    found = [p for root in roots for p in _walk(root)
             if p.suffix == ".ipynb" and ".ipynb_checkpoints" not in p.parts]
    named = [p for p in found if p.name == notebook_name]
    if named:
        return named[0]
    if len(found) == 1:
        return found[0]
    if not found:
        raise NotebookProblem(f"no notebook was found in the submission (expected {notebook_name}; links, "
                              f"pipes and devices are not followed)")
    raise NotebookProblem(f"no notebook named {notebook_name} and several others "
                          f"({', '.join(p.name for p in found[:5])}); submit {notebook_name}")


# ---------------------------------------------------------------- students in a folder of submissions
def student_id(name: str) -> str:
    """A submission's name, percent-encoded where it is not plain letters, digits and ``_.-~``: ids
    round-trip (``urllib.parse.unquote``), and none can start a spreadsheet formula (``= + - @``) in
    grades.csv or be a hidden folder's name."""
    from urllib.parse import quote
    sid = quote(name, safe="")
    return f"%{ord(sid[0]):02X}{sid[1:]}" if sid[:1] in "-." else sid


def discover(submissions: Path) -> list[tuple[str, Path]]:
    """One entry per student: a sub-folder, or a ``<student>.zip`` file directly inside SUBMISSIONS_DIR.

    Only real folders and regular files count (links, pipes and devices are left out). A zip is named
    by its stem, unless something else in the folder has that name; then by its whole name (names in a
    folder are unique, so ids are too)."""
    entries = {}
    for p in sorted(Path(submissions).iterdir()):
        try:
            entries[p.name] = (p, os.lstat(p).st_mode)
        except OSError:
            continue
    found = []
    for name, (p, mode) in entries.items():
        if name.startswith("."):
            continue
        if stat.S_ISDIR(mode):
            found.append((student_id(name), p))
        elif stat.S_ISREG(mode) and p.suffix == ".zip":
            found.append((student_id(p.stem if p.stem and p.stem not in entries else name), p))
    return found


def folder_name(student_id: str) -> str:
    """The folder of a student id in the output (feedback/, record/): ids are path-safe; very long ones are
    shortened with a hash."""
    if len(student_id) <= 200:
        return student_id
    return student_id[:180] + "~" + hashlib.sha256(student_id.encode()).hexdigest()[:16]
