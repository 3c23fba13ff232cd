"""Copy the lessons and assignments into the student's own folder, never overwriting a file there.

    python labs/copy_work.py WORK

The lab works on this copy (``make lab`` roots JupyterLab at WORK), so the committed notebooks stay as
they are and ``git pull`` never meets the outputs the lab autosaves. After a pull, new lessons reach WORK
at the next ``make lab``; a file already in WORK is the student's and is left alone (delete it to get a
fresh copy). Prints one line when it copied something, nothing otherwise.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDERS = ("course", "assignments")       # what a student reads and edits; solutions/ stays out


def copy_work(work: Path) -> list[Path]:
    """Copy every file of FOLDERS that WORK lacks; returns the copied paths (relative to WORK)."""
    copied = []
    for folder in FOLDERS:
        for src in sorted((ROOT / folder).rglob("*")):
            rel = src.relative_to(ROOT)
            if not src.is_file() or ".ipynb_checkpoints" in rel.parts or "__pycache__" in rel.parts:
                continue
            dst = work / rel
            if not dst.exists():
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
                copied.append(rel)
    return copied


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python labs/copy_work.py WORK (the folder the student's lab opens, e.g. work)")
    work = Path(sys.argv[1])
    copied = copy_work(work)
    if copied:
        print(f"Copied {len(copied)} lesson and assignment files into {work}/: your copy, where the lab "
              f"opens (see README, 'For students').")
