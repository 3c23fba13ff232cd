"""Shares: a part's points split into named behaviours, declared once in its check module, stated in its notebook
before the student starts, judged one by one, and shown in every rendering of the feedback."""
from __future__ import annotations

import json

import numpy as np
import pytest

import harness
from autograder import checks, course, feedback
from autograder.checks import Feedback, Outputs, Part, Share
from autograder.grading import release
from autograder.records import record
from autograder.results import PartResult, ShareResult, StudentResult


def _part(shares=(), points=2.0):
    return Part("p", points, inputs=lambda rng: {}, check=lambda inp, out, fb: None, call="f", shares=shares)


def test_shares_must_add_up_to_the_part_and_have_distinct_names():
    with pytest.raises(ValueError, match="add up to 1.5 points, the part has 2"):
        _part((Share("a", 1), Share("b", 0.5)))
    with pytest.raises(ValueError, match="share names must be unique"):
        _part((Share("a", 1), Share("a", 1)))
    assert [s.name for s in _part().shares] == ["p"]           # no shares given: one, the whole part


def test_each_share_earns_its_verdict_and_a_single_verdict_judges_them_all():
    part = _part((Share("forward", 1.5), Share("backward", 0.5)))
    fb = Feedback(Outputs({}))
    got = checks.earned(part, {"forward": True, "backward": 0.5}, fb)
    assert got == [ShareResult("forward", 1.5, 1.5), ShareResult("backward", 0.5, 0.25)]
    assert [s.score for s in checks.earned(part, False, fb)] == [0, 0]
    assert [s.score for s in checks.earned(part, {"forward": np.nan, "backward": 7}, fb)] == [0, 0.5]
    with pytest.raises(ValueError, match="judged the shares"):
        checks.earned(part, {"forward": True}, fb)          # a share forgotten is a grader bug, not a lost point


def test_every_graded_part_declares_its_shares_in_words():
    for a in harness.assignments():
        for part in harness.check_module(a).PARTS:
            for share in part.shares:
                assert share.name and share.what, (a, part.name, share)
                assert share.points > 0 and abs(round(share.points * 100) - share.points * 100) < 1e-9, \
                    (a, part.name, share)                   # points a person can add up: hundredths at most


def test_every_notebook_states_each_parts_shares_before_its_answer_cell():
    for a in harness.assignments():
        assert release.shares_drift(a) == [], a
        module = harness.check_module(a)
        for folder in ("solutions", "assignments"):
            cells = json.loads((course.root() / folder / a / module.NOTEBOOK).read_text())["cells"]
            ids = [c.get("id") for c in cells]
            for part in module.PARTS:
                at = ids.index(f"shares-{part.name}")
                assert "".join(cells[at]["source"]) == checks.shares_markdown(part), (folder, a, part.name)
                graded = next(i for i, c in enumerate(cells) if c.get("metadata", {}).get("nbgrader", {}).get(
                    "grade_id") == part.name and c.get("metadata", {}).get("nbgrader", {}).get("grade"))
                between = ["".join(c["source"]) for c in cells[at + 1:graded] if c["cell_type"] == "markdown"]
                # before the part's graded cell, in the part's own section (no heading of another in between)
                assert at < graded and not any(text.startswith("#") for text in between), (folder, a, part.name)


def test_stating_the_shares_twice_changes_nothing_and_a_stale_cell_is_found():
    module = harness.check_module("A1")
    nb = json.loads((course.root() / "solutions" / "A1" / module.NOTEBOOK).read_text())
    assert release.shares_cells(nb, module) == nb
    stale = json.loads(json.dumps(nb))
    cell = next(c for c in stale["cells"] if c.get("id") == "shares-svm_naive")
    cell["source"] = ["**Grading of `svm_naive`, 2 points.** All or nothing."]
    fixed = release.shares_cells(stale, module)
    assert fixed == nb and len(fixed["cells"]) == len(nb["cells"])


def _result():
    part = PartResult("svm_naive", 2.0, 1.5, "ok", "SVM", shares=[ShareResult("the data loss", 0.5, 0.5),
                                                                  ShareResult("the regulariser", 1.5, 1.0)])
    return StudentResult("ada", "A1", [part])


def test_the_feedback_shows_the_split_in_every_rendering(tmp_path):
    result = _result()
    want = "Shares: the data loss 0.5 / 0.5 · the regulariser 1 / 1.5"
    assert want in feedback.html(result)
    assert want in feedback.cell_text(result.parts[0])
    assert want in feedback.terminal(result, tmp_path / "A1.ipynb")
    record.save(tmp_path, result, seed=1)
    assert record.load(tmp_path, "ada")["parts"][0]["shares"] == [
        {"name": "the data loss", "points": 0.5, "score": 0.5}, {"name": "the regulariser", "points": 1.5, "score": 1.0}]


def test_a_part_of_one_share_shows_no_split(tmp_path):
    part = PartResult("predict", 1.0, 1.0, "ok", "labels", shares=[ShareResult("the labels", 1.0, 1.0)])
    assert "Shares:" not in feedback.terminal(StudentResult("ada", "A1", [part]), tmp_path / "A1.ipynb")
    assert "Shares:" not in feedback.cell_text(part)
