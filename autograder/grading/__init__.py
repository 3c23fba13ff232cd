"""The grading pipeline: a folder of submissions in, scores, feedback and the gradebook out.

``pipeline`` grades (each part in the sandbox, judged by its check module), ``release`` makes the students'
notebooks from the sources, ``shard`` splits a class between graders, ``verify`` checks that solutions earn
full marks and stubs nothing. This is the only room that imports the sandbox and the checks together.
"""
from .pipeline import (DEEPGRAD_BLOCKED, grade_all, grade_notebook, grade_part, grade_student, student_budget)

__all__ = ["DEEPGRAD_BLOCKED", "grade_all", "grade_notebook", "grade_part", "grade_student", "student_budget"]
