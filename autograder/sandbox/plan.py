"""The run plan: all that the grader tells the sandboxed child about one part, as typed data.

:func:`make_plan` builds it on the grader's side from the part's :class:`Limits` and this machine's facts;
``Plan.to_json()`` is the payload that the child (``inside/child.py``) receives as ``P``. The child cannot import
this module (it runs as text under ``python -I -S``): it reads the fields by the same names from the JSON, and
tests/test_sandbox_plan.py checks that it reads no key the plan lacks.

One time limit becomes several times: the CPU rlimit, the cells' alarms, the call's alarm and watchdog, and the
grader's deadlines. Each is derived here, once, from the same numbers: the child only reads them, and never
computes a limit from another.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass

STARTUP_S = 2.0                     # interpreter + NumPy start, on top of a part's own time limit
CELL_BUDGET_S = 5.0                 # wall-clock seconds per answer cell (they should only define functions)
SHORT_BUDGET_S = 1.0                # for a cell interrupted before: what it defines first is defined again
GRACE_S = 1.0                       # after the cells' budgets, before the grader kills


@dataclass
class Limits:
    """Resource limits for one part (what the caller sets; the plan derives the rest)."""
    timeout: float = 10.0           # wall-clock seconds for the part's call (plus STARTUP_S)
    cell_budget: float = CELL_BUDGET_S  # wall-clock seconds for each answer cell
    memory_mb: int = 1024           # address space
    file_size_mb: int = 16          # largest file the child may write
    open_files: int = 64
    pids: int = 16                  # processes + threads


@dataclass(frozen=True)
class Part:
    """What the child runs."""
    cells: list[str]                # the answer cells' source, in notebook order
    spec: dict                      # the part's call description (``autograder.checks.Part.spec``)
    skip: list[int]                 # cells (numbered from 1) not run: they ended the process or beat their alarm
    short: list[int]                # cells run under ``short_budget_s``: they were interrupted at their budget before


@dataclass(frozen=True)
class Times:
    """Every time of the part, in seconds: the child's alarms, then the grader's deadlines."""
    cell_budget_s: float            # the child's alarm for each answer cell
    short_budget_s: float           # the child's alarm for a cell in ``Part.short``
    call_alarm_s: float             # the child's alarm for the call, from the inputs' arrival: limit less send margin
    watchdog_s: float               # when the child's watchdog sends what the call made so far: half a margin later
    cells_deadline_s: float         # the grader's, from the fork: start-up, the cells' budgets and a grace
    call_deadline_s: float          # the grader's, from "cells done" until the results are in: the part's limit


@dataclass(frozen=True)
class RLimits:
    """The child's rlimits, set before any student code runs."""
    cpu_s: int                      # CPU seconds (SIGXCPU, then SIGKILL one later): start-up, cells and call
    address_space_bytes: int        # virtual memory
    file_size_bytes: int            # the largest file the child may write
    open_files: int                 # file descriptors
    nproc: int | None               # this user's processes + threads (RLIMIT_NPROC); None: a pids cgroup caps them


@dataclass(frozen=True)
class Isolation:
    """The child's namespaces: what its mounts cover."""
    root: str                       # the directory under the child's own tmpfs (the temp dir, or the sandboxes')
    tmpfs_bytes: int                # that tmpfs's size
    hide: list[str]                 # directories covered by an empty read-only tmpfs


@dataclass(frozen=True)
class Plan:
    """One part's run, as the child receives it."""
    part: Part
    times: Times
    limits: RLimits
    isolate: Isolation | None       # None: no namespaces (rlimits and the system-call filter only)
    own: str                        # the child's work dir: HOME, TMPDIR, and NumPy under ``own/site``
    numpy_dirs: list[str]           # NumPy's package directory, then (manylinux) its .libs; mirrored in own/site
    environ: dict[str, str]         # set in the child's environment
    progress_fd: int                # where the child writes its progress tokens

    def to_json(self) -> str:
        return json.dumps(asdict(self))


def make_plan(cells: list[str], spec: dict, limits: Limits, *, skip: list[int], short: list[int], own: str,
              numpy_dirs: list[str], user_tasks: int | None, cover: str | None, hide: list[str]) -> Plan:
    """The plan for one part.

    ``user_tasks``: this user's tasks now, where RLIMIT_NPROC must cap the part (it counts them all), or None
    where a pids cgroup does. ``cover``: the directory the child's tmpfs covers, or None for no namespaces;
    ``hide``: the directories it hides then.
    """
    cells_s = (len(cells) - len(skip) - len(short)) * limits.cell_budget + len(short) * SHORT_BUDGET_S
    # The call stops this long before its limit, so that what it made can still be sent by the deadline.
    send_margin_s = min(1.0, 0.2 * limits.timeout)
    file_size = int(limits.file_size_mb) * 2**20
    return Plan(
        part=Part(cells=cells, spec=spec, skip=skip, short=short),
        times=Times(cell_budget_s=limits.cell_budget, short_budget_s=SHORT_BUDGET_S,
                    call_alarm_s=limits.timeout - send_margin_s, watchdog_s=limits.timeout - send_margin_s / 2,
                    cells_deadline_s=STARTUP_S + cells_s + GRACE_S, call_deadline_s=limits.timeout),
        limits=RLimits(cpu_s=int(math.ceil(limits.timeout + cells_s + STARTUP_S)),
                       address_space_bytes=int(limits.memory_mb) * 2**20, file_size_bytes=file_size,
                       open_files=int(limits.open_files),
                       nproc=None if user_tasks is None else user_tasks + limits.pids),
        isolate=None if cover is None else Isolation(root=cover, tmpfs_bytes=2 * file_size + 2**20, hide=hide),
        own=own, numpy_dirs=numpy_dirs, environ={"HOME": own, "TMPDIR": own}, progress_fd=3)
