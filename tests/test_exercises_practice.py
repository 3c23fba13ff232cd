"""Lessons 09, 10 and 12: each exercise filled in with the notebook's own solution and with the slips students make.

The lesson's own check cell gives the verdict (tests/exercises.py runs the lesson up to the answer cell, then the
given answer, then the check cell). Each wrong answer below is a classic slip; it must earn the check cell's
"✗ Not yet" and, where the check names the slip, its words.
"""
from __future__ import annotations

import pytest

import exercises

L09, L10, L12 = "09_training", "10_optimisers", "12_generalisation"
EXERCISES = [(L09, "log-uniform"), (L10, "nesterov"), (L12, "dropout-backward")]


def _slip(lesson: str, exercise: str, old: str, new: str) -> str:
    """The notebook's own solution with one piece changed (the piece must occur exactly once)."""
    source = exercises.solution(lesson, exercise)
    assert source.count(old) == 1, f"{old!r} must occur once in the solution of {exercise}"
    return source.replace(old, new)


_DRAW = "10 ** rng.uniform(np.log10(low), np.log10(high), size)"
_NESTEROV = ('        state["v"] = mu * state.get("v", 0.0) + lr * g      # v_t, with the gradient at the stored point u_t\n'
             '        return w - (mu * state["v"] + lr * g)                # u_{t+1} = u_t - (mu v_t + lr g_t)\n')
_DROPOUT = "dh * keep / (1 - p) * (1 - np.tanh(z) ** 2)"

# (lesson, exercise, the piece of the solution to change, what a student writes instead, the words of the verdict)
SLIPS = [
    # uniform between the bounds: 90 % of the draws land in the top decade
    (L09, "log-uniform", _DRAW, "rng.uniform(low, high, size)", "that is a uniform draw between low and high"),
    # the bounds themselves used as exponents
    (L09, "log-uniform", _DRAW, "10 ** rng.uniform(low, high, size)", "lie outside that range"),
    # logarithm to base 10, power of e
    (L09, "log-uniform", _DRAW, "np.exp(rng.uniform(np.log10(low), np.log10(high), size))",
     "the power must use the base of those logarithms"),
    # a grid spaced on a log scale instead of a random draw
    (L09, "log-uniform", _DRAW, "np.logspace(np.log10(low), np.log10(high), size)", "that is a grid"),
    # a fresh generator in every call: every call gives the same values
    (L09, "log-uniform", _DRAW, "10 ** np.random.default_rng(0).uniform(np.log10(low), np.log10(high), size)",
     "two calls gave the same values"),
    # plain momentum: the step is the velocity
    (L10, "nesterov", _NESTEROV,
     '        state["v"] = mu * state.get("v", 0.0) + lr * g\n        return w - state["v"]\n',
     "that is plain momentum's path"),
    # the velocity computed but never kept: right at the first step only
    (L10, "nesterov", _NESTEROV,
     '        v = mu * state.get("v", 0.0) + lr * g\n        return w - (mu * v + lr * g)\n',
     "your first step is right and a later one is not"),
    # the step built from the old velocity: w - (mu v_{t-1} + lr g) is plain momentum's step again
    (L10, "nesterov", _NESTEROV,
     '        v_old = state.get("v", 0.0)\n        state["v"] = mu * v_old + lr * g\n'
     '        return w - (mu * v_old + lr * g)\n',
     "that is plain momentum's path"),
    # PyTorch's step (lr outside) on this lesson's velocity (lr inside): the learning rate applied twice
    (L10, "nesterov", _NESTEROV,
     '        state["v"] = mu * state.get("v", 0.0) + lr * g\n        return w - lr * (g + mu * state["v"])\n',
     "your first step already differs"),
    # the notes' backward pass: the 1/(1 - p) of inverted dropout forgotten
    (L12, "dropout-backward", _DROPOUT, "dh * keep * (1 - np.tanh(z) ** 2)", "that is the notes' formula"),
    # the mask forgotten
    (L12, "dropout-backward", _DROPOUT, "dh / (1 - p) * (1 - np.tanh(z) ** 2)", "the mask is missing"),
    # tanh's slope forgotten
    (L12, "dropout-backward", _DROPOUT, "dh * keep / (1 - p)", "tanh's slope is missing"),
    # divided by the drop probability instead of the keep probability: the checker names the factor
    (L12, "dropout-backward", _DROPOUT, "dh * keep / p * (1 - np.tanh(z) ** 2)", "about 4 times the numerical one"),
]


def test_the_lessons_have_the_exercises_the_tests_know():
    for lesson in (L09, L10, L12):
        assert exercises.exercise_ids(lesson) == [e for lo, e in EXERCISES if lo == lesson]


@pytest.mark.parametrize("lesson, exercise", EXERCISES)
def test_the_stub_says_it_is_not_written_yet(lesson, exercise):
    exercises.assert_stub_says_not_written(lesson, exercise)


@pytest.mark.parametrize("lesson, exercise", EXERCISES)
def test_the_solution_passes(lesson, exercise):
    out = exercises.check(lesson, exercise, exercises.solution(lesson, exercise))
    assert "✓ Right" in out, out
    assert "✗" not in out, out


@pytest.mark.parametrize("lesson, exercise, old, new, words", SLIPS,
                         ids=[f"{e}-{i}" for i, (_, e, *_) in enumerate(SLIPS)])
def test_a_classic_slip_is_caught_and_named(lesson, exercise, old, new, words):
    out = exercises.check(lesson, exercise, _slip(lesson, exercise, old, new))
    assert "✗ Not yet" in out and "✓ Right" not in out, out
    assert words in out, out


def test_an_error_in_the_students_code_shows_as_itself():
    # only NotImplementedError means "not written yet"; any other error reaches the student unchanged
    with pytest.raises(ZeroDivisionError):
        exercises.check(L12, "dropout-backward", _slip(L12, "dropout-backward", _DROPOUT, "1 / 0"))
