"""JupyterHub for a course on one machine: every student and instructor a Unix user, nbgrader's exchange a shared
folder (deploy/README.md, "A JupyterHub on one machine", says how to install it).

    sudo /opt/deepgrad/venv/bin/jupyterhub -f /opt/deepgrad/hub/jupyterhub_config.py

The hub runs as root (it starts each user's server as that user). Where things are comes from the environment,
with the recipe's defaults; deploy/hub/try_hub.sh sets them to run the same file in a temporary folder:

    DEEPGRAD_INSTALL     the installation: venv/, course/ (the lessons), assignments/ (released), etc/  (/opt/deepgrad)
    DEEPGRAD_INSTRUCTORS the Unix group whose members get the formgrader              (deepgrad-instructors)
    DEEPGRAD_HUB_URL     where the hub listens; put TLS in front of it (or set ssl_cert/ssl_key) (http://127.0.0.1:8000)
"""
import grp
import os
import pwd
import shutil
import stat

c = get_config()  # noqa: F821 (JupyterHub's config loader provides get_config)

INSTALL = os.environ.get("DEEPGRAD_INSTALL", "/opt/deepgrad")
INSTRUCTORS = os.environ.get("DEEPGRAD_INSTRUCTORS", "deepgrad-instructors")
VENV = os.path.join(INSTALL, "venv")

c.JupyterHub.bind_url = os.environ.get("DEEPGRAD_HUB_URL", "http://127.0.0.1:8000")
c.JupyterHub.cookie_secret_file = os.path.join(INSTALL, "hub", "jupyterhub_cookie_secret")
c.JupyterHub.db_url = "sqlite:///" + os.path.join(INSTALL, "hub", "jupyterhub.sqlite")

# Log in with the machine's passwords (PAM); only the course's two groups may.
c.JupyterHub.authenticator_class = "pam"
c.LocalAuthenticator.allowed_groups = {"deepgrad-students", INSTRUCTORS}

# Each server runs as its user (LocalProcessSpawner), from the installation's venv, in the user's home.
c.JupyterHub.spawner_class = "localprocess"
c.Spawner.cmd = [os.path.join(VENV, "bin", "jupyterhub-singleuser")]
c.Spawner.notebook_dir = "~"
c.Spawner.default_url = "/lab"


def is_instructor(name: str) -> bool:
    try:
        group = grp.getgrnam(INSTRUCTORS)
    except KeyError:
        return False
    return name in group.gr_mem or pwd.getpwnam(name).pw_gid == group.gr_gid


def pre_spawn(spawner):
    """Before each server starts: the user's home is theirs alone, and the server gets its role's Jupyter config.

    Debian and Ubuntu's useradd made homes world-readable (0755) until recently: any student could then read
    another's work, and the instructor's course folder with its solutions/ and its gradebook.
    """
    name = spawner.user.name
    user = pwd.getpwnam(name)
    home = user.pw_dir
    if os.path.isdir(home) and stat.S_IMODE(os.stat(home).st_mode) & 0o077:
        os.chmod(home, 0o700)
    # the lessons, the student's own copy on their first visit (the assignments come through nbgrader's exchange)
    lessons = os.path.join(home, "course")
    if os.path.isdir(home) and not os.path.exists(lessons):
        shutil.copytree(os.path.join(INSTALL, "course"), lessons)
        for folder, _, files in os.walk(lessons):
            for path in [folder, *(os.path.join(folder, f) for f in files)]:
                os.chown(path, user.pw_uid, user.pw_gid)
    role = "instructor" if is_instructor(name) else "student"
    # etc/jupyter-<role>: which of nbgrader's extensions the server loads (and, for instructors, the frame the
    # formgrader's tab needs); the venv's own etc/jupyter (always read) holds nbgrader_config.py, the exchange.
    spawner.environment["JUPYTER_CONFIG_PATH"] = os.path.join(INSTALL, "etc", f"jupyter-{role}")
    # deepgrad, nbgrader and alembic (nbgrader asks it for a new gradebook's revision) from the installation
    spawner.environment["PATH"] = f"{VENV}/bin:/usr/local/bin:/usr/bin:/bin"
    spawner.environment["OMP_NUM_THREADS"] = "1"     # many kernels share the machine's cores


c.Spawner.pre_spawn_hook = pre_spawn
