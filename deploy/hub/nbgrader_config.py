"""nbgrader's configuration for every server on the hub (students and instructors): where the exchange is.

Installed where every server reads it: /opt/deepgrad/venv/etc/jupyter/nbgrader_config.py (the installation's own
system-wide folder; /etc/jupyter/ works too). The exchange is one folder shared by all: root-owned, mode 1777
(world-writable, with the sticky bit, as nbgrader's documentation asks), on a local disk or a volume mounted in
every server. nbgrader's default (/srv/nbgrader/exchange) is kept, said here so that nothing depends on it.
"""
c = get_config()  # noqa: F821 (traitlets provides get_config)
c.Exchange.root = "/srv/nbgrader/exchange"
c.CourseDirectory.course_id = "deepgrad"    # autograder/nbgrader_config.py's: the course the students see
