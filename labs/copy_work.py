"""Copy the lessons and assignments into the student's own folder, never overwriting a file there; refresh a
read-only copy of the library beside them.

    python labs/copy_work.py WORK

The lab works on this copy (``make lab`` roots JupyterLab at WORK), so the committed notebooks stay as
they are and ``git pull`` never meets the outputs the lab autosaves. After a pull, new lessons reach WORK
at the next ``make lab``; a file already in WORK is the student's and is left alone (delete it to get a
fresh copy). Prints one line when it copied something, nothing otherwise.

Two things differ from the committed files, both so that the copy says what is true in the student's lab:

- each notebook's ``kernelspec`` and ``language_info`` are those the lab's kernel reports (this interpreter's
  Python version, the installed kernel's name), so that JupyterLab, which writes them into a notebook when
  its kernel starts, does not mark a notebook it has just opened as modified;
- ``assignments/README.md`` speaks to the student, whose copy it is (``STUDENT_WORDING``).

The library's source (``lib/deepgrad/**/*.py``) is copied to ``WORK/lib/deepgrad/`` read-only, afresh at
every run since it is not the student's: the lessons' links to ``../lib/deepgrad/...`` open it in the lab,
which shows nothing outside WORK.
"""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("course", "assignments")       # what a student reads and edits; solutions/ stays out
LIBRARY = Path("lib") / "deepgrad"        # read in the lab, never edited there
# (file, what the committed text says, what the student's copy says instead)
STUDENT_WORDING = [
    ("assignments/README.md",
     "These notebooks are generated from `solutions/` with `deepgrad assign <A>`; do not edit them here.",
     "These notebooks are your own copies, made by `make lab` from the course's `assignments/`: write your "
     "answers in them. (Your instructor generates the originals with `deepgrad assign <A>`.)"),
]


def kernel_metadata() -> dict:
    """The notebook metadata the lab's Python kernel reports when it starts: ``kernelspec`` and ``language_info``
    (nothing when they cannot be found: a notebook then merely opens marked modified)."""
    try:
        from ipykernel.ipkernel import IPythonKernel
        from jupyter_client.kernelspec import KernelSpecManager

        spec = KernelSpecManager().get_kernel_spec("python3")
    except Exception:
        return {}
    return {"kernelspec": {"display_name": spec.display_name, "language": spec.language, "name": "python3"},
            "language_info": dict(IPythonKernel.language_info)}


def _student_copy(src: Path, rel: Path, metadata) -> bytes:
    if src.suffix == ".ipynb":
        nb = json.loads(src.read_text(encoding="utf-8"))
        nb["metadata"].update(metadata())
        return (json.dumps(nb, indent=1, ensure_ascii=False) + "\n").encode()
    text = src.read_text(encoding="utf-8")
    for name, said, instead in STUDENT_WORDING:
        if rel.as_posix() == name:
            text = text.replace(said, instead)
    return text.encode()


def copy_work(work: Path) -> list[Path]:
    """Copy every file of FOLDERS that WORK lacks; returns the copied paths (relative to WORK)."""
    copied, found = [], []

    def metadata():                                    # asked once, and only when a notebook is copied
        if not found:
            found.append(kernel_metadata())
        return found[0]

    for folder in FOLDERS:
        for src in sorted((ROOT / folder).rglob("*")):
            rel = src.relative_to(ROOT)
            if not src.is_file() or ".ipynb_checkpoints" in rel.parts or "__pycache__" in rel.parts:
                continue
            dst = work / rel
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                if src.suffix in (".ipynb", ".md"):
                    dst.write_bytes(_student_copy(src, rel, metadata))
                    shutil.copystat(src, dst)
                else:
                    shutil.copy2(src, dst)
                copied.append(rel)
    return copied


def copy_library(work: Path) -> list[Path]:
    """Replace WORK/lib/deepgrad by a read-only copy of the library's ``.py`` files; returns their paths
    (relative to WORK)."""
    dst_root = work / LIBRARY
    if dst_root.exists():
        shutil.rmtree(dst_root)                                # read-only files go with their (writable) folder
    copied = []
    for src in sorted((ROOT / LIBRARY).rglob("*.py")):
        if "__pycache__" in src.parts:
            continue
        rel = src.relative_to(ROOT)
        dst = work / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
        dst.chmod(0o444)
        copied.append(rel)
    return copied


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python labs/copy_work.py WORK (the folder the student's lab opens, e.g. work)")
    work = Path(sys.argv[1])
    copied = copy_work(work)
    copy_library(work)
    if copied:
        print(f"Copied {len(copied)} lesson and assignment files into {work}/: your copy, where the lab "
              f"opens (see README, 'For students').")
