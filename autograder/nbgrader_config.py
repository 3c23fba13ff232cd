"""nbgrader configuration for the DeepGrad course (used by `deepgrad assign` and by nbgrader's own commands).

Each course folder has its own copy (`deepgrad new-course DIR` makes one): the course is the folder this file
sits in (autograder/..), wherever the package was installed from, so its gradebook, autograded/ and exchange
are the course's own.

From the repository root: `nbgrader generate_assignment A1 --config autograder/nbgrader_config.py` is what
`deepgrad assign A1` does; `nbgrader autograde A1 --config autograder/nbgrader_config.py` runs the notebook's
own (non-hardened) tests; see autograder/README.md for why `deepgrad grade` is the one to trust.
"""
import os

c = get_config()  # noqa: F821  (provided by traitlets when this file is loaded)

try:    # nbgrader run by hand, venv not activated: its `alembic` must still be found (autograder/_env.py says why)
    from autograder._env import ensure_tools_on_path
    ensure_tools_on_path()
except ImportError:
    pass

_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
c.CourseDirectory.root = _ROOT
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "assignments"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"
c.CourseDirectory.db_url = "sqlite:///" + os.path.join(_ROOT, "gradebook.db")
c.CourseDirectory.course_id = "deepgrad"
# Released notebooks carry no outputs and no hidden tests; helper files (none today) would be copied along.
c.ClearSolutions.code_stub = {"python": "# YOUR CODE HERE\nraise NotImplementedError()"}
c.ExecutePreprocessor.timeout = 300
# The formgrader's release/collect buttons need an exchange folder; nbgrader's default (/srv/nbgrader/exchange)
# is missing on most machines and its warning is the first thing an instructor would see. Keep it here
# (`make instructor` creates it).
c.Exchange.root = os.path.join(_ROOT, "exchange")
