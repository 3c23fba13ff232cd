"""The instructor's tools after grading: the LMS export (``lms``), returning feedback (``returning``), the
class report (``classreport``) and similar submissions (``similarity``).

They read what grading left (grades.csv, the records, the gradebook, the submissions themselves) and never
import the pipeline, the sandbox or the checks (tests/test_layering.py): a report or an export cannot grade.
"""
