"""Running one graded part of one student's code, confined, and bringing back plain arrays.

Two sides of a process boundary live here. The grader's side is ordinary Python: ``runner`` (one part's run:
limits, deadlines, the results read back as data), ``plan`` (what the grader tells the child, as a typed
dataclass) and ``forkserver`` (one warm ``python -I -S`` per grader thread that only forks). The child's side is
``inside/``: programs that run in the sandbox, loaded as text by the fork server, never imported by the grader;
they import nothing of ours, only the standard library and NumPy. Nothing in this package imports the checks,
the pipeline or the course library (tests/test_layering.py).
"""
from .plan import CELL_BUDGET_S, SHORT_BUDGET_S, Limits
from .runner import ENV, PHASES, RLIMITS_ONLY_WARNING, RunResult, isolation_available, mode, run_part

__all__ = ["CELL_BUDGET_S", "ENV", "PHASES", "RLIMITS_ONLY_WARNING", "SHORT_BUDGET_S", "Limits", "RunResult",
           "isolation_available", "mode", "run_part"]
