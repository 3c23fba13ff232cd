"""What grading leaves for the instructor: nbgrader's gradebook (``gradebook``, the one way in), grades.csv
(``grades``), written answers for the formgrader (``manual``), deadlines and late penalties (``late``), the
feedback inside the formgrader's copies (``autograded``) and each student's record (``record``).

These modules read and write results (``autograder.results``); they never run a student's code or a check.
"""
