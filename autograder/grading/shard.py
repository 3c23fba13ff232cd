"""`--shard i/N`: which students a grader takes when N graders share a class.

A student belongs to shard ``sha256(id) mod N``: the split is the same on every machine, needs no list
handed out, and a student keeps their shard when others join the class late.
"""
from __future__ import annotations

import hashlib


def parse(text: str) -> tuple[int, int]:
    """"3/8" -> (3, 8); a ValueError naming the argument otherwise."""
    try:
        i, n = (int(x) for x in str(text).split("/"))
    except ValueError:
        raise ValueError(f"--shard must be i/N with whole numbers, like 0/4, got {text!r}") from None
    if n < 1 or not 0 <= i < n:
        raise ValueError(f"--shard i/N needs N >= 1 and 0 <= i < N, got {text!r}")
    return i, n


def of(student: str, n: int) -> int:
    """The shard (0 .. n-1) a student id belongs to."""
    return int.from_bytes(hashlib.sha256(student.encode()).digest()[:8], "big") % n
