"""Lesson 11's exercises, filled in with the notebook's own solutions and with the slips students make.

Each case runs the lesson's own check cell (tests/exercises.py) and asserts the verdict it prints.
"""
from __future__ import annotations

import pytest

from tests import exercises

LESSON = "11_initialisation"

# The classic wrong answers, one per slip; each must earn the check cell's "✗" and, where the check cell
# names the slip, its words.
WRONG = {
    "batch-rms-backward": [
        # the mean square treated as a constant: the direct path only
        ("""
def batch_rms_backward(dout, x, eps=1e-5):
    return dout / np.sqrt(np.mean(x ** 2) + eps)
""", "treats the mean square m as a constant"),
        # a sum where the mean belongs (the 1/N of dm/dx missing)
        ("""
def batch_rms_backward(dout, x, eps=1e-5):
    r = 1.0 / np.sqrt(np.mean(x ** 2) + eps)
    y = x * r
    return r * (dout - y * np.sum(dout * y))
""", "checker's diagnosis"),
        # the sign of d(m + eps)^(-1/2)/dm flipped
        ("""
def batch_rms_backward(dout, x, eps=1e-5):
    r = 1.0 / np.sqrt(np.mean(x ** 2) + eps)
    y = x * r
    return r * (dout + y * np.mean(dout * y))
""", "checker's diagnosis"),
        # the factor 2 of d(x^2)/dx forgotten
        ("""
def batch_rms_backward(dout, x, eps=1e-5):
    r = 1.0 / np.sqrt(np.mean(x ** 2) + eps)
    y = x * r
    return r * (dout - 0.5 * y * np.mean(dout * y))
""", "checker's diagnosis"),
    ],
    "he-std-leaky": [
        ("def he_std(fan_in, a):\n    return 2 / ((1 + a ** 2) * fan_in)\n", "you returned the variance"),
        ("def he_std(fan_in, a):\n    return np.sqrt(2 / fan_in)\n", "right for plain ReLU"),
        ("def he_std(fan_in, a):\n    return np.sqrt(2 / ((1 + a) * fan_in))\n", "right for plain ReLU"),
        ("def he_std(fan_in, a):\n    return np.sqrt(1 / ((1 + a ** 2) * fan_in))\n", "your std differs"),
    ],
    "leaky-relu-vjp": [
        ("def leaky_relu_vjp(dout, x, slope):\n    return np.where(x > 0, 1.0, slope)\n",
         "the local derivative alone"),
        ("def leaky_relu_vjp(dout, x, slope):\n    return np.where(x > 0, slope * dout, dout)\n",
         "the two sides are swapped"),
        ("def leaky_relu_vjp(dout, x, slope):\n    return np.where(x > 0, dout, 0.0)\n",
         "checker's diagnosis"),
    ],
}


def test_the_lesson_has_the_exercises_the_tests_know():
    assert exercises.exercise_ids(LESSON) == ["batch-rms-backward", "he-std-leaky", "leaky-relu-vjp"]


@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_the_stub_says_not_written_yet(exercise):
    out = exercises.check(LESSON, exercise, exercises.stub(LESSON, exercise))
    assert f"Exercise {exercise} is not written yet" in out
    assert "✓" not in out and "✗" not in out


@pytest.mark.parametrize("exercise", sorted(WRONG))
def test_the_solution_passes(exercise):
    out = exercises.check(LESSON, exercise, exercises.solution(LESSON, exercise))
    assert "✓ Right" in out, out
    assert "✗" not in out, out


@pytest.mark.parametrize("exercise,source,words",
                         [(e, s, w) for e, cases in WRONG.items() for s, w in cases],
                         ids=[f"{e}-{i}" for e, cases in WRONG.items() for i in range(len(cases))])
def test_a_classic_slip_is_caught_and_named(exercise, source, words):
    out = exercises.check(LESSON, exercise, source)
    assert "✗ Not yet" in out and "✓ Right" not in out, out
    assert words in out, out


def test_an_error_in_the_students_code_shows_as_itself():
    # only NotImplementedError means "not written yet"; any other error reaches the student unchanged
    with pytest.raises(ZeroDivisionError):
        exercises.check(LESSON, "he-std-leaky", "def he_std(fan_in, a):\n    return 1 / 0\n")
