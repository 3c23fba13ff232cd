"""Finding the students in a folder of submissions, each one's notebook, and the answer cells in it, whatever
state it is in; the student ids that name them everywhere after.

Only the JSON is read (no nbformat validation, no execution): duplicated or missing cell ids, edited or
deleted test cells, extra cells and odd metadata are all fine. Malformed JSON or no notebook at all raise
:class:`NotebookProblem` with a sentence the student can act on.

Everything here runs in the trusted grader on student input, so every step is linear in the input and
bounded: only regular files and real folders are looked at (links, pipes and devices are never followed or
opened, at any step below the submissions folder), folders are walked to a bounded number of entries, and of
a zip only its notebooks are unpacked, within caps on the bytes and members of all of one student's zips
together.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import stat
import zipfile
import zlib
from pathlib import Path

from . import course

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


_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0)


def _open_regular(path: Path, root: Path | None = None) -> int:
    """A descriptor open on the regular file ``path``; OSError for anything else.

    With ``root`` (a folder ``path`` lies in), every step from ``root`` down is taken through a descriptor of
    the folder before it, never following a link: each step must be a real folder and the last a regular
    file, so a linked folder anywhere below ``root`` (``A1 -> /course/solutions/A1``) leads nowhere, and
    nothing can swap a link in between the check and the read. Without ``root`` only the last step is
    checked. A pipe or a device is never opened (it is stat-ed first, and opened without blocking)."""
    path = Path(path)
    if root is None:
        folder, steps = None, [str(path)]
    else:
        folder, steps = os.open(root, _DIR_FLAGS), list(path.relative_to(root).parts)
        if not steps or any(s in ("", ".", "..") for s in steps):
            os.close(folder)
            raise OSError(f"{path} is not a file below {root}")
    try:
        for step in steps[:-1]:
            inner = os.open(step, _DIR_FLAGS, dir_fd=folder)
            os.close(folder)
            folder = inner
        if not stat.S_ISREG(os.stat(steps[-1], dir_fd=folder, follow_symlinks=False).st_mode):
            raise OSError(f"{path} is not a regular file")
        fd = os.open(steps[-1], _FILE_FLAGS, dir_fd=folder)
    finally:
        if folder is not None:
            os.close(folder)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise OSError(f"{path} is not a regular file")
    return fd


def _regular(path: Path, root: Path | None = None) -> bool:
    """True for a regular file reached through real folders from ``root`` (or, without it, not a link at its
    last step): :func:`_open_regular`."""
    return stat_regular(path, root) is not None


def stat_regular(path: Path, root: Path | None = None) -> os.stat_result | None:
    """The status of a regular file reached as :func:`_open_regular` reaches it, or None."""
    try:
        fd = _open_regular(path, root)
    except (OSError, ValueError):
        return None
    try:
        return os.fstat(fd)
    finally:
        os.close(fd)


def read_regular(path: Path, limit: int, root: Path | None = None) -> bytes:
    """The bytes of a regular file, never following a link (at any step below ``root`` when given) and never
    blocking on a pipe or a device."""
    path = Path(path)
    try:
        fd = _open_regular(path, root)
    except (OSError, ValueError):
        raise NotebookProblem(f"{path.name} is not a regular file (links, pipes and devices are not "
                              f"read)") from None
    try:
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
    """The course's source notebook ``solutions/<assignment>/<name>``, whose answer-cell ids locate a student's
    answers; None when it cannot be read or there is no course (the answers are then found by their markers)."""
    try:
        return load(course.root() / "solutions" / assignment / name)
    except (NotebookProblem, course.CourseNotFound):
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


def _safe_unzip(archive: Path, dest: Path, caps: _Caps, root: Path | None = None) -> None:
    """Unpack the notebooks of a zip (only regular-file members whose names stay inside ``dest``), within
    ``caps``; members that cannot be unpacked (links, a file where a folder is needed) are skipped. The zip
    itself is opened as :func:`_open_regular` opens a file (through real folders from ``root``)."""
    try:
        fd = _open_regular(archive, root)
    except (OSError, ValueError):
        return
    with os.fdopen(fd, "rb") as raw:
        if os.fstat(fd).st_size > MAX_ARCHIVE_BYTES:
            raise NotebookProblem(f"{archive.name} is larger than {MAX_ARCHIVE_BYTES // 2**20} MB")
        _unzip(raw, archive.name, dest, caps)


def _unzip(raw, archive_name: str, dest: Path, caps: _Caps) -> None:
    try:
        with zipfile.ZipFile(raw) as zf:
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
    # RuntimeError: an encrypted member ("password required"); zlib.error: a corrupt deflate stream
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, RuntimeError,
            zlib.error) as exc:
        raise NotebookProblem(f"{archive_name} is not a readable zip file ({type(exc).__name__})") from None


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
    inside the folder) are unpacked into ``scratch`` first. Only regular files reached through real folders
    count: no step below SUBMISSIONS may be a link (a student's ``A1/`` linked to ``solutions/A1`` is not
    followed). The path returned is the grader's own copy in ``scratch``, read through descriptors of those
    folders, so nothing can be swapped in between finding the notebook and reading it.
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
            _safe_unzip(z, scratch / f"zip{i}", caps, root=student_path)
            roots.append(scratch / f"zip{i}")
    for root in roots:
        for candidate in (root / notebook_name, root / assignment / notebook_name):
            if _regular(candidate, root):
                return _taken(candidate, root, scratch)
    found = [(p, root) for root in roots for p in _walk(root)
             if p.suffix == ".ipynb" and ".ipynb_checkpoints" not in p.parts and _regular(p, root)]
    named = [(p, root) for p, root in found if p.name == notebook_name]
    if named:
        return _taken(*named[0], scratch)
    if len(found) == 1:
        return _taken(*found[0], scratch)
    if not found:
        raise NotebookProblem(f"no notebook was found in the submission (expected {notebook_name}; links, "
                              f"pipes and devices are not followed)")
    raise NotebookProblem(f"no notebook named {notebook_name} and several others "
                          f"({', '.join(p.name for p, _ in found[:5])}); submit {notebook_name}")


def _taken(path: Path, root: Path, scratch: Path) -> Path:
    """The notebook ``path`` (below ``root``) as the grader reads it: unpacked zips are in ``scratch`` already;
    a file of the student's folder is copied there, read through real folders only."""
    if Path(root) == Path(scratch) or Path(scratch) in Path(root).parents:
        return path
    copy = Path(scratch) / "found" / path.name        # beside zip0, zip1... (a zip submission has no copy)
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_bytes(read_regular(path, MAX_NOTEBOOK_BYTES, root))
    return copy


# ---------------------------------------------------------------- students in a folder of submissions
# nbgrader's gradebook keeps a student id in a String(128) column (a server database refuses a longer one), and
# the formgrader finds a student's notebook in a folder named by the id: ids stay below that, in bytes.
MAX_ID = 128


def student_id(name: str) -> str:
    """A submission's name, percent-encoded where it is not plain letters, digits and ``_.-~`` (its bytes, as
    the file system holds them): none can start a spreadsheet formula (``= + - @``) in grades.csv or be a
    hidden folder's name, and ``urllib.parse.unquote_to_bytes`` gives the name's bytes back. A name whose id
    would be MAX_ID characters or more (15 CJK characters) gets the id's first hundred characters, ``~``
    and a hash of the whole name, exactly MAX_ID long: a length no other id has, so two names never share
    an id, and every file named by an id stays far below the 255 bytes a file name may have."""
    from urllib.parse import quote
    raw = os.fsencode(name)               # a name that is not UTF-8 keeps its bytes (surrogateescape)
    sid = quote(raw, safe="")
    if sid[:1] in "-.":
        sid = f"%{ord(sid[0]):02X}{sid[1:]}"
    if len(sid) < MAX_ID:
        return sid
    prefix = sid[:MAX_ID - 25]
    cut = prefix.find("%", len(prefix) - 2)           # never half an escape
    prefix = prefix if cut < 0 else prefix[:cut]
    return prefix + "~" + hashlib.sha256(raw).hexdigest()[:MAX_ID - 1 - len(prefix)]


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
    """The folder of a student id in the output (feedback/, record/): ids are path-safe and at most MAX_ID
    bytes, so this is the id itself; a longer string (no id :func:`student_id` makes) is cut to 180 bytes
    and a hash."""
    raw = student_id.encode("utf-8", "surrogateescape")
    if len(raw) <= 200:
        return student_id
    return raw[:180].decode("utf-8", "ignore") + "~" + hashlib.sha256(raw).hexdigest()[:16]
