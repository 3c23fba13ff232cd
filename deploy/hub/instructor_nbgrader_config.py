"""The instructor's nbgrader configuration on the hub: their course folder, the shared exchange.

Copy to the instructor's ~/.jupyter/nbgrader_config.py. The course is the instructor's own folder (a clone of
the course repository) in their home, which only they can read (the hub makes homes 0700), so students never
see its solutions/ or its gradebook. The formgrader, `nbgrader` and `deepgrad` in the instructor's server read it.
"""
import os

c = get_config()  # noqa: F821 (traitlets provides get_config)
COURSE = os.path.expanduser("~/deepgrad")       # CHANGE if the course folder is elsewhere in the home
load_subconfig(os.path.join(COURSE, "autograder", "nbgrader_config.py"))  # noqa: F821 (traitlets provides it)
# after the course's own configuration, which keeps an exchange in the course folder for a laptop
c.Exchange.root = "/srv/nbgrader/exchange"      # the same folder as the students' (nbgrader_config.py)
