"""The trusted side of grading: how a check module declares its parts, and the feedback helpers.

A check module (``autograder/checks/<A>.py``) defines ``NOTEBOOK`` and ``PARTS``, a list of :class:`Part`.
See ``autograder/FORMAT.md`` for the whole contract. Nothing here ever imports or runs student code: the
sandbox does that and hands back plain arrays, which :class:`Feedback` compares with reference values.
"""
from __future__ import annotations

import functools
import html
import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from ..results import Line, ShareResult, points_words


@dataclass(frozen=True)
class Share:
    """A named share of a part's points: one behaviour the notebook asks for ("the data loss", "the step"),
    judged on its own so that one slip costs its share and no more. ``what`` says in a few words what earns it;
    the notebook states every share of a part before the student starts (:func:`shares_sentence`)."""

    name: str
    points: float
    what: str = ""


@dataclass
class Part:
    """One graded part. ``name`` and ``points`` match the graded test cell of the source notebook; ``shares``
    split the points (none given: one share, the whole part)."""

    name: str
    points: float
    inputs: Callable[[np.random.Generator], dict]
    check: Callable
    call: str | None = None
    args: tuple = ()
    kwargs: dict | None = None
    returns: tuple | str = "result"
    driver: Callable | None = None
    helpers: tuple = ()
    needs: tuple | None = None
    count_calls: bool = False
    held_out: tuple = ()           # inputs only the check sees (validation labels...): never sent to the sandbox
    timeout: float = 10.0
    memory_mb: int = 1024
    description: str = ""
    shares: tuple = ()

    def __post_init__(self):
        if (self.call is None) == (self.driver is None):
            raise ValueError(f"part {self.name!r}: give exactly one of call= (simple form) or driver=")
        self.shares = tuple(self.shares) or (Share(self.description or self.name, float(self.points)),)
        names = [s.name for s in self.shares]
        if len(set(names)) != len(names):
            raise ValueError(f"part {self.name!r}: share names must be unique, got {names}")
        if abs(sum(s.points for s in self.shares) - self.points) > 1e-9:
            raise ValueError(f"part {self.name!r}: its shares add up to {sum(s.points for s in self.shares):g} "
                             f"points, the part has {self.points:g}")
        if self.needs is None:
            self.needs = (self.call,) if self.call else ()

    def spec(self) -> dict:
        """What the sandbox needs to run this part (JSON-serialisable; drivers travel as source text)."""
        return {"call": self.call, "args": list(self.args), "kwargs": dict(self.kwargs or {}),
                "returns": list(self.returns) if isinstance(self.returns, (tuple, list)) else self.returns,
                "driver_src": _source(self.driver) if self.driver else None,
                "driver_name": self.driver.__name__ if self.driver else None,
                "helpers_src": [_source(h) for h in self.helpers], "needs": list(self.needs),
                "count_calls": bool(self.count_calls)}


# Shared by the check modules. Inputs on several scales: no centred difference reaches 1e-9 on them.
def multiscale(rng, shape, decades: int = 3):
    """Standard normal entries of the given shape, each times 10**u, u uniform in [-decades, decades]."""
    return rng.standard_normal(shape) * 10.0 ** rng.uniform(-decades, decades, shape)


def passed_share(verdicts) -> float:
    """The share of ``verdicts`` that passed: a part judged as equal shares (one per operation, case...)."""
    verdicts = [bool(v) for v in verdicts]
    return sum(verdicts) / len(verdicts)


# The large problem. A backward pass that evaluates a copy of the forward at nudged inputs, one entry at a time
# (complex step: exact to 1e-15; finite differences), passes every comparison on a small problem. A part with a
# backward pass (A1's losses, A2's layers, A3's VJPs) therefore also runs a large problem, last: a derived backward
# pass costs about as much as the forward there (milliseconds), a numerical one a forward per entry (minutes), far
# past the part's time limit.
BIG_TOL = 1e-7     # precision is judged on the small multiscale problems; the large ones are there for time


def large_problem(fb, out, passed, compare, *, key, reached, why):
    """The verdict of a part (or of the shares of it that a backward pass earns) whose large problem runs last.

    ``passed`` is the small problems' verdict; ``compare()`` compares the large problem's results, at ``BIG_TOL``,
    and returns the verdict (a bool, or one per share). If the large problem's ``key`` did not come back because
    the part ran out of time (:func:`ran_out_of_time`), the verdict is False whatever ``passed`` says, and ``why``
    is the feedback line (``too_slow(...)``; None where an earlier call said it). Otherwise it is
    ``passed and compare()``: the large problem is compared only where the small ones passed."""
    if ran_out_of_time(out, key, reached):
        if why is not None:
            fb.check(False, "", why, code="numerical")
        return False
    return passed and compare()


def ran_out_of_time(out, key, reached) -> bool:
    """True when the small problems came back (``reached``, the last of their results) but the large problem's
    ``key`` did not, because the part reached its time limit: the sign of a numerical backward pass."""
    return out.get(reached) is not None and out.get(key) is None and out.status == "timeout"


def too_slow(subject: str, derived: str = "backward pass") -> str:
    """Why a part fails whose ``subject`` (what ran on the large problem) did not come back in time."""
    return (f"{subject[:1].upper()}{subject[1:]} did not come back within the time limit. A derived {derived}, "
            f"with array operations, takes milliseconds there; one that evaluates the forward at nudged inputs, one "
            f"entry at a time (finite differences or complex step), takes minutes. A numerical gradient earns "
            f"nothing: derive the backward pass (and use array operations, not Python loops over the entries).")


@functools.lru_cache(maxsize=None)
def _source(fn) -> str:
    """A driver's or helper's source, read once (inspect tokenises the whole module each time)."""
    import textwrap
    return textwrap.dedent(inspect.getsource(fn))


_from_course: dict = {}      # a course's check file -> (its mtime and size, the module loaded from it)


def load(assignment: str, *, installed_without_course: bool = False):
    """The check module of ``assignment`` in the course (``<course>/autograder/checks/<A>.py``, see
    ``autograder.course``), checked to declare NOTEBOOK and PARTS. The installed package's own module when the
    course is the installed clone; another course's file is loaded from that file (again once edited), so an
    edit in the course folder changes the grade. The checks are the instructor's code, trusted: they run in
    the grader, never in the sandbox.

    ``installed_without_course``: where no course is found, the module installed with deepgrad (a student's
    server or a self-learner's install holds no course; `deepgrad check` still checks their work)."""
    from .. import course

    if not assignment.isidentifier():
        raise ValueError(f"assignment must be a name like 'A1', got {assignment!r}")
    try:
        where = course.root()
    except course.CourseNotFound:
        if not installed_without_course:
            raise
        where = course.installed()
    path = (where / course.CHECKS / f"{assignment}.py").resolve()
    if not path.is_file():
        raise ValueError(f"assignment {assignment!r} has no check module in the course {where}: expected "
                         f"{course.CHECKS / f'{assignment}.py'}")
    if path == (Path(__file__).resolve().parent / f"{assignment}.py"):
        module = importlib.import_module(f"autograder.checks.{assignment}")
    else:
        module = _load_file(path, assignment)
    for attr in ("NOTEBOOK", "PARTS"):
        if not hasattr(module, attr):
            raise ValueError(f"{path} must define {attr}")
    names = [p.name for p in module.PARTS]
    if len(set(names)) != len(names):
        raise ValueError(f"{path}: part names must be unique, got {names}")
    return module


def installed_assignments() -> list[str]:
    """The assignments whose check module was installed with deepgrad."""
    return sorted(p.stem for p in Path(__file__).resolve().parent.glob("A*.py"))


def _load_file(path: Path, assignment: str):
    """A course's check module from its file, under a name of its own (two courses' A1 never collide), kept
    until the file changes."""
    import hashlib
    import importlib.util
    import sys

    stat = path.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    cached = _from_course.get(path)
    if cached and cached[0] == stamp:
        return cached[1]
    name = f"autograder.checks._course_{hashlib.sha256(str(path).encode()).hexdigest()[:12]}_{assignment}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module      # before running it: dataclasses look their module up by name
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    _from_course[path] = (stamp, module)
    return module


class Outputs(dict):
    """What came back from the sandbox: name -> array, plus ``status`` and ``error``."""

    def __init__(self, arrays: dict, status: str = "ok", error: str | None = None):
        super().__init__(arrays)
        self.status, self.error = status, error


@dataclass
class Feedback:
    """Collects plain-words lines for one part while ``check`` compares outputs with expected values."""

    out: Outputs
    lines: list = field(default_factory=list)
    failures: int = 0
    stub_said: bool = False

    # ------------------------------------------------------------------ helpers
    def _add(self, ok, text, code=None):
        if str(self.out.error or "").startswith("NotImplementedError") and ok is not True:
            # Code that is still the stub leaves nothing to judge after it: one line says so, not one per value.
            if ok is False:
                self.failures += 1
            if ok is None or self.stub_said:
                return ok is None
            self.stub_said = True
            self.lines.append(Line(False, _stub_line(self.out.error), code))
            return False
        first = text.split(" ", 1)[0]
        if first.isalpha() and first.islower():     # "the loss ..." -> "The loss ...", but "dW ..." stays
            text = text[:1].upper() + text[1:]
        self.lines.append(Line(ok, text, code))
        if ok is False:
            self.failures += 1
        return bool(ok) if ok is not None else True

    def _got(self, key, what):
        got = self.out.get(key)
        if got is None:
            why = " (see the error above)" if self.out.error else " (nothing came back for it)"
            return None, f"No value for {what}{why}."
        return got, None

    @staticmethod
    def _shape_words(a):
        return "a number" if np.ndim(a) == 0 else f"shape {tuple(np.shape(a))}"

    # ------------------------------------------------------------------ comparisons
    def close(self, key, expected, *, tol: float = 1e-9, what: str | None = None, slips: list | None = None,
              code: str | None = None) -> bool:
        """``slips``: [(code, words, the value that slip would give)]; a wrong value that matches one (to 1e-6)
        gets its words as a note, with its code ("half_reg", "the regulariser is 0.5 * reg * sum(W**2) instead
        of reg * sum(W**2)"). ``code``: the mistake any failure here names, for a comparison that exists to
        catch one (sigmoid at +-1000: an overflow); NaN or inf is always "unstable"."""
        what = what or key
        got, missing = self._got(key, what)
        if missing:
            return self._add(False, missing, code)
        expected = np.asarray(expected, dtype=np.float64)
        got = np.asarray(got)
        if got.shape != expected.shape:
            if got.size == expected.size == 1:
                got = got.reshape(expected.shape)
            else:
                return self._add(False, f"{what} has {self._shape_words(got)}; expected "
                                        f"{self._shape_words(expected)}.", code)
        got = got.astype(np.float64)
        if not np.all(np.isfinite(got)[np.isfinite(expected)]):
            return self._add(False, f"{what} contains NaN or inf where a finite value was expected.",
                             code or "not_finite")
        err = _rel_error(got, expected)
        if err <= tol:
            return self._add(True, f"{what} is right (relative error {err:.1e}).")
        self._add(False, f"{what} is wrong (relative error {err:.1e}, tolerance {tol:.0e}).", code)
        for slip, words, value in slips or ():
            value = np.asarray(value, dtype=np.float64)
            if value.shape == got.shape and np.all(np.isfinite(got)) and _rel_error(got, value) <= 1e-6:
                self._add(None, words, slip)
                break
        return False

    def gradient(self, key, expected, *, tol: float = 1e-9, what: str | None = None, N: int | None = None,
                 reg: float | None = None, W=None) -> bool:
        what = what or key
        ok = self.close(key, expected, tol=tol, what=what)
        if ok or key not in self.out:
            return ok
        got = np.asarray(self.out[key], dtype=np.float64)
        expected = np.asarray(expected, dtype=np.float64)
        if got.shape == expected.shape and not np.all(np.isfinite(got)):
            return ok                    # close() has said it: NaN or inf, nothing more to diagnose
        for finding in _diagnose(got, expected, what, N, reg, W):
            self._add(None, finding.text, finding.code)
        return ok

    def equal(self, key, expected, *, what: str | None = None) -> bool:
        what = what or key
        got, missing = self._got(key, what)
        if missing:
            return self._add(False, missing)
        expected = np.asarray(expected)
        if np.shape(got) != expected.shape:
            return self._add(False, f"{what} has {self._shape_words(got)}; expected "
                                    f"{self._shape_words(expected)}.")
        if np.array_equal(got, expected):
            return self._add(True, f"{what} is right.")
        wrong = int(np.sum(np.asarray(got) != expected))
        return self._add(False, f"{what} is wrong in {wrong} of {expected.size} entries.")

    def check(self, condition, ok_text: str, fail_text: str, code: str | None = None) -> bool:
        """``code``: the mistake ``fail_text`` names (``mistakes.MISTAKES``), if it names one. An empty
        ``ok_text`` writes no line for a pass."""
        if condition:
            return self._add(True, ok_text) if ok_text else True
        return self._add(False, fail_text, code)

    def note(self, text: str, code: str | None = None) -> None:
        """An extra line; ``code``: the mistake it names (``mistakes.MISTAKES``), if it names one."""
        self._add(None, text, code)


def _stub_line(error: str) -> str:
    """The one line for a part whose code is still the stub: ``error`` is "NotImplementedError", or, where a
    driver could name the function, "NotImplementedError: `Tensor.__mul__` is not written yet"."""
    named = error.split(": ", 1)[1].split(" ", 1)[0] if error.endswith(" is not written yet") else "the stub"
    return f"Nothing more of this part can be judged until {named} is written."


def fraction(verdict, fb: Feedback) -> float:
    """The fraction of a share's points that a verdict earns, in [0, 1]: ``None`` means all of them if no ``fb``
    comparison failed, else none; a bool or number counts as itself, clipped to [0, 1]; NaN or an infinity
    earns nothing (a check's arithmetic on a student's NaN must not become points)."""
    share = (1.0 if fb.failures == 0 else 0.0) if verdict is None else float(verdict)
    return min(max(share, 0.0), 1.0) if np.isfinite(share) else 0.0


def earned(part: Part, verdict, fb: Feedback) -> list:
    """What each of ``part``'s shares earns (``results.ShareResult``, in the part's order) for ``check``'s
    verdict: a dict share name -> verdict (each judged by :func:`fraction`; every share must be there), or a
    single verdict for every share alike (False: nothing earned)."""
    if not isinstance(verdict, dict):
        verdict = {s.name: verdict for s in part.shares}
    names = [s.name for s in part.shares]
    if set(verdict) != set(names):
        raise ValueError(f"part {part.name!r}: the check judged the shares {sorted(verdict)}, the part has {names}")
    return [ShareResult(s.name, float(s.points), round(fraction(verdict[s.name], fb) * s.points, 4))
            for s in part.shares]


def shares_markdown(part: Part) -> str:
    """How the part's points split, as its source notebook states it in a cell before the student starts
    (``deepgrad assign`` writes that cell, ``deepgrad verify`` holds the notebook to it)."""
    head = f"**Grading of `{part.name}`, {points_words(part.points)}.**"
    if len(part.shares) == 1:
        what = part.shares[0].what or part.description
        return f"{head} All or nothing: {what[:1].lower()}{what[1:]}." if what else f"{head} All or nothing."
    rows = "\n".join(f"| {s.name} | {s.points:g} | {s.what} |" for s in part.shares)
    return (f"{head} The grader runs your code on inputs it draws itself, and each share below is earned on its "
            f"own: one slip costs its share, not the part.\n\n| share | points | what earns it |\n|---|---|---|\n"
            f"{rows}")




def _rel_error(a, b) -> float:
    """CS231n's relative error of ``a`` (the student's) against ``b`` (the expected), max |a - b| /
    max(floor, |a| + |b|); equal infinities count as equal. The floor is 1e-8 or a millionth of b's largest
    finite entry: an entry that is 0 in exact arithmetic (a gradient's bias row at reg = 0) comes out as 0 or
    as 1e-17 depending on the order of a sum, and must not count as a relative error of 1e-9."""
    if a.size == 0:
        return 0.0
    same = (a == b)
    diff = np.where(same, 0.0, np.abs(a - b))
    finite = np.abs(b[np.isfinite(b)])
    floor = max(1e-8, 1e-6 * float(finite.max())) if finite.size else 1e-8
    with np.errstate(invalid="ignore"):
        err = diff / np.maximum(floor, np.abs(a) + np.abs(b))
    err = np.where(same, 0.0, err)
    return float(np.nanmax(np.where(np.isnan(err), np.inf, err)))


def _diagnose(got, expected, what, N, reg, W) -> list:
    """The gradient checker's findings (``gradcheck.Finding``), comparing with the exact reference gradient,
    worded for grading: the reference is not a numerical gradient, and no reference value is ever shown
    (README)."""
    try:
        from deepgrad import gradcheck
    except ImportError:     # the library is optional for the framework itself
        return []
    if got.shape != expected.shape:
        if got.ndim == 2 and got.shape == expected.shape[::-1] and _rel_error(got.T, expected) <= 1e-6:
            return [gradcheck.Finding("transposed", f"Transposed, your {what} would be right: a gradient has the "
                                                    f"shape of the array it differentiates.")]
        return []
    reg_grad = 2.0 * reg * np.asarray(W, dtype=np.float64) if reg is not None and W is not None else None
    try:
        found = gradcheck._diagnose(expected, got, np.zeros(got.shape, dtype=bool), reg_grad, N, what, 1e-8,
                                    against=gradcheck.Against("the reference", "reference", "reference"))
    except Exception:
        return []
    # the checker's "disagree" quotes the expected value: ours says the same without it
    return [gradcheck.Finding(f.code, _where(got, expected)) if f.code == "disagree" else f for f in found]


def _where(got, expected) -> str:
    """How many entries are wrong and where the worst is, with the student's own value only."""
    err = np.abs(got - expected) / np.maximum(1e-8, np.abs(got) + np.abs(expected))
    bad = int(np.sum(err > 1e-6))
    if got.ndim == 0:
        return f"Your value is {float(got):.6g}."
    worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(err)), err.shape))
    return f"{bad} of {err.size} entries are wrong; the worst is at index {worst}, where yours is {got[worst]:.6g}."


def escape(text) -> str:
    return html.escape(str(text))
