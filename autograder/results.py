"""What grading produces: a line of feedback, a part's result, a student's result, and the statuses.

Every room of the grader speaks these types: the pipeline fills them, the checks add lines, the feedback
renders them, the gradebook and the records store them, the after-grading tools read them back. The status
words live here and only here (``STATUSES``), so the student's page, the terminal, the class report and the
exit code of ``deepgrad grade`` always agree on what a status means.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Status:
    """What one status of a part means to each reader."""

    words: str          # what the student reads under the part
    label: str          # the class report's row for it (a mistake of its own, unless ``ok``)
    failed: bool        # the grader could not run the part cleanly: the batch's summary names the student


STATUSES = {
    "ok": Status("Your code ran.", "ran", False),
    "error": Status("Your code raised an error.", "raised an error", False),
    "timeout": Status("Your code did not finish in time and was stopped.", "ran out of time", False),
    "memory": Status("Your code ran out of memory and was stopped.", "ran out of memory", False),
    "crashed": Status("Your code's process ended without sending results.", "process ended without results",
                      True),
    "missing": Status("A function or class this part needs is not defined.", "function not defined", False),
    "no_notebook": Status("Your notebook could not be used.", "no usable notebook", True),
    "grader_error": Status("The grader itself failed on this part (not your fault; tell your instructor).",
                           "the grader failed (not the student's fault)", True),
}


def points_words(n: float) -> str:
    """``n`` points in words: "1 point", "2.5 points"."""
    return f"{n:g} point" + ("" if n == 1 else "s")


def status_words(status: str) -> str:
    """The student's words for ``status`` (an unknown one, from an old record, is shown as it is)."""
    return STATUSES[status].words if status in STATUSES else status


# Everything in these lines reaches HTML through feedback.html(), which escapes it.
@dataclass
class Line:
    """One line of a part's feedback: ``ok`` True passed, False failed, None a neutral note; ``code`` names the
    mistake the line diagnoses (``mistakes.MISTAKES``), for the class report and the records."""

    ok: bool | None
    text: str
    code: str | None = None


@dataclass(frozen=True)
class ShareResult:
    """What one named share of a part earned (``checks.Share``): ``score`` of its ``points``."""

    name: str
    points: float
    score: float


@dataclass
class PartResult:
    name: str
    points: float
    score: float
    status: str                                      # a key of STATUSES
    description: str = ""
    detail: str = ""
    lines: list = field(default_factory=list)        # [Line]
    shares: list = field(default_factory=list)       # [ShareResult]: how the score splits (empty: never judged)
    wall_s: float = 0.0
    run: object = field(default=None, repr=False)   # the sandbox's RunResult (None when nothing ran)
    phases: dict = field(default_factory=dict)       # seconds: "inputs", the sandbox's PHASES, "check"


@dataclass
class WrittenResult:
    """A written answer, graded by hand in nbgrader's formgrader (``records.manual``), as the gradebook holds it
    when feedback is returned: ``score`` is None until a grader gives one; ``comments`` are the grader's."""

    name: str
    points: float
    score: float | None = None
    comments: list = field(default_factory=list)     # [str]


@dataclass
class StudentResult:
    student: str
    assignment: str
    parts: list                                      # [PartResult]
    notebook_problem: str | None = None
    wall_s: float = 0.0
    read_s: float = 0.0                              # unpacking and parsing the notebook
    submitted_at: str | None = None                  # ISO time, UTC (late.apply)
    penalty: float = 0.0                             # points taken off for lateness
    late_note: str | None = None                     # the words the feedback gives for it
    written: list = field(default_factory=list)      # [WrittenResult]: read from the gradebook on return
    # what nbgrader's exchange left beside the notebook (None: it did not come through the exchange), kept so
    # that returned feedback reaches the student's `nbgrader fetch_feedback`; and the notebook's SHA-256, which
    # tells a regrade of the same notebook from a changed one (late.apply)
    timestamp: str | None = None                     # timestamp.txt, exactly as nbgrader wrote it
    submission_secret: str | None = None             # submission_secret.txt
    notebook_sha256: str | None = None

    @property
    def score(self) -> float:
        """The points earned before any late penalty: the parts', and the written answers' graded so far."""
        return round(sum(p.score for p in self.parts) + sum(w.score or 0.0 for w in self.written), 4)

    @property
    def max_score(self) -> float:
        return round(sum(p.points for p in self.parts) + sum(w.points for w in self.written), 4)

    @property
    def final(self) -> float:
        """The score after the late penalty, never below 0 (what grades.csv and the LMS export say)."""
        return round(max(0.0, self.score - self.penalty), 4)

    @property
    def failed(self) -> bool:
        """True when the notebook could not be used or a part could not be run cleanly."""
        return self.notebook_problem is not None or any(
            p.status in STATUSES and STATUSES[p.status].failed for p in self.parts)
