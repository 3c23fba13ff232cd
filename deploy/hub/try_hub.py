"""Rehearse the JupyterHub recipe (deploy/hub/) on this machine: a real hub on 127.0.0.1, an instructor and two
students as Unix users of their own, a term's assignment from release to the student's feedback page.

    sudo .venv/bin/python deploy/hub/try_hub.py [--keep]

It installs what is missing (jupyterhub into this venv, configurable-http-proxy with npm, node and npm with
apt-get), then builds the installation the recipe describes in /var/tmp/deepgrad-hub (a venv of the system's
Python with this repository installed, not editable, and JupyterHub; the lessons; the released assignments;
nbgrader's configuration), starts deploy/hub/jupyterhub_config.py with two changes (DummyAuthenticator instead of
PAM, so no passwords are set; a service token for this script) and drives the term through the hub's REST API
and the users' servers' APIs, each user with a token of their own:

  the instructor's course is a clone of this repository in their home; they release A1 with the formgrader;
  student 1 fetches it, fills in the reference answers and submits; student 2 submits the stub;
  the instructor collects (formgrader), runs `deepgrad grade` (in a kernel of their server), scores a written
  answer and comments on it (the formgrader's API), runs `deepgrad return --layout nbgrader` and releases the
  feedback (formgrader); student 1 fetches it and the page must show every part, the comment and the total that
  `deepgrad export` sends to the LMS.

Each step prints a line; any failure ends the run with a non-zero status (77: the hub cannot run here, e.g. not
root; the line says why). Users, group and folders are removed at the end unless --keep.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import fcntl
import hashlib
import io
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HUB = REPO / "deploy" / "hub"
INSTALL = Path("/var/tmp/deepgrad-hub")          # the recipe's /opt/deepgrad, kept between runs (the venv is slow)
PREFIX = "dgtry"                                 # users dgtry-teach, dgtry-s1, dgtry-s2; group dgtry-instructors
TEACHER, STUDENTS = f"{PREFIX}-teach", [f"{PREFIX}-s1", f"{PREFIX}-s2"]
GROUP = f"{PREFIX}-instructors"
COURSE_ID = "deepgrad"
SKIP = 77


class Failed(Exception):
    pass


def step(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", flush=True)


def check(ok: bool, text: str) -> None:
    if not ok:
        raise Failed(text)


def run(*cmd, **kw) -> subprocess.CompletedProcess:
    done = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if done.returncode:
        raise Failed(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
    return done


def why_not() -> str | None:
    """Why the hub cannot run here (None: it can)."""
    if os.geteuid() != 0:
        return "the hub starts each user's server as that user, and this script adds the users: it needs root"
    for tool in ("useradd", "userdel", "groupadd", "groupdel"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed"
    if system_python() is None:
        return f"no system Python {sys.version_info.major}.{sys.version_info.minor} with venv for the installation"
    return None


def system_python() -> str | None:
    """A Python every user may run (this one may sit in a home only root enters, as pyenv's in /root)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    python = shutil.which(version, path="/usr/local/bin:/usr/bin:/bin")
    if python and subprocess.run([python, "-c", "import venv, ensurepip"], capture_output=True).returncode == 0:
        return python
    return None


def install_tools() -> None:
    """jupyterhub in this venv, configurable-http-proxy on PATH (with node and npm from Debian if absent)."""
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        step("installing jupyterhub into this venv (pip)")
        run(sys.executable, "-m", "pip", "install", "--quiet", "jupyterhub")
    if shutil.which("configurable-http-proxy") is None:
        if shutil.which("npm") is None:
            step("installing node and npm (apt-get)")
            run("apt-get", "update", "-q")
            run("apt-get", "install", "-y", "-q", "nodejs", "npm", env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        step("installing configurable-http-proxy (npm)")
        run("npm", "install", "-g", "configurable-http-proxy")


def source_digest(src: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in src.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(src)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def build_installation() -> None:
    """The recipe's installation (deploy/README.md): a world-readable venv with the course package (not editable,
    so no path leads back to this clone) and JupyterHub, the lessons, the released assignments, the configs."""
    import jupyterhub
    src = INSTALL / "src"              # what `pip install` reads: the package's files only, never solutions/
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    for name in ("lib", "autograder"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    venv, stamp = INSTALL / "venv", INSTALL / "venv.stamp"
    digest = source_digest(src) + jupyterhub.__version__
    if not (venv / "bin" / "jupyterhub-singleuser").exists():
        step(f"installing the course and jupyterhub=={jupyterhub.__version__} into {venv} (pip; the first time "
             "takes a few minutes)")
        shutil.rmtree(venv, ignore_errors=True)
        run(system_python(), "-m", "venv", venv)
        run(venv / "bin" / "pip", "install", "--quiet", src, f"jupyterhub=={jupyterhub.__version__}")
    elif not stamp.exists() or stamp.read_text() != digest:
        step(f"reinstalling the course package into {venv} (its sources changed)")
        run(venv / "bin" / "pip", "install", "--quiet", "--no-deps", "--force-reinstall", src)
        run(venv / "bin" / "pip", "install", "--quiet", src)           # any dependency it gained
    stamp.write_text(digest)
    shutil.rmtree(src)
    for name in ("course", "assignments"):
        shutil.rmtree(INSTALL / name, ignore_errors=True)
        shutil.copytree(REPO / name, INSTALL / name, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    shutil.rmtree(INSTALL / "etc", ignore_errors=True)
    shutil.copytree(HUB / "etc", INSTALL / "etc")
    shutil.rmtree(INSTALL / "hub", ignore_errors=True)
    (INSTALL / "hub").mkdir(mode=0o700)
    subprocess.run(["chmod", "-R", "a+rX", INSTALL / "venv", INSTALL / "course", INSTALL / "assignments",
                    INSTALL / "etc"], check=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Hub:
    """The running hub, and the REST calls this script makes as its service and as each user."""

    def __init__(self, base: Path, exchange: Path):
        import requests
        self.requests = requests
        self.port, self.token = free_port(), secrets.token_hex(32)
        self.url = f"http://127.0.0.1:{self.port}"
        self.user_tokens: dict[str, str] = {}
        # the recipe's config, loaded as is, then what a rehearsal changes
        system_config = base / "nbgrader_config.py"
        config = base / "jupyterhub_config.py"
        config.write_text(f"""
c = get_config()
load_subconfig({str(HUB / 'jupyterhub_config.py')!r})
c.JupyterHub.authenticator_class = "dummy"          # no passwords to set; the users are real Unix users still
c.Authenticator.allowed_users = {set([TEACHER, *STUDENTS])!r}
c.JupyterHub.hub_bind_url = "http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{free_port()}"
c.ConfigurableHTTPProxy.pid_file = {str(base / 'proxy.pid')!r}
c.Spawner.start_timeout = c.Spawner.http_timeout = 180
c.JupyterHub.services = [{{"name": "try-hub", "api_token": {self.token!r}}}]
c.JupyterHub.load_roles = [{{"name": "try-hub", "services": ["try-hub"],
                            "scopes": ["admin:users", "admin:servers", "tokens"]}}]
""")
        # the system-wide nbgrader_config.py, with this rehearsal's exchange
        text = (HUB / "nbgrader_config.py").read_text()
        check('"/srv/nbgrader/exchange"' in text, "deploy/hub/nbgrader_config.py no longer names /srv/nbgrader/exchange")
        system_config.write_text(text.replace('"/srv/nbgrader/exchange"', repr(str(exchange))))
        shutil.copy(system_config, INSTALL / "venv" / "etc" / "jupyter" / "nbgrader_config.py")
        os.chmod(INSTALL / "venv" / "etc" / "jupyter" / "nbgrader_config.py", 0o644)
        env = {**os.environ, "DEEPGRAD_INSTALL": str(INSTALL), "DEEPGRAD_INSTRUCTORS": GROUP,
               "DEEPGRAD_HUB_URL": self.url, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
        self.log = open(base / "hub.log", "w")
        self.process = subprocess.Popen([Path(sys.executable).parent / "jupyterhub", "-f", config], cwd=base, env=env,
                                        stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            check(self.process.poll() is None, f"the hub exited ({self.process.returncode}); see {base / 'hub.log'}")
            with contextlib.suppress(requests.ConnectionError):
                if self.requests.get(f"{self.url}/hub/api/", timeout=5).ok:
                    return
            time.sleep(1)
        raise Failed(f"the hub did not answer within 120 s; see {base / 'hub.log'}")

    def api(self, method: str, path: str, token: str | None = None, **kw):
        reply = self.requests.request(method, self.url + path, timeout=300,
                                      headers={"Authorization": f"token {token or self.token}"}, **kw)
        check(reply.status_code < 400, f"{method} {path}: {reply.status_code} {reply.text[:1000]}")
        return reply

    def start_server(self, name: str) -> None:
        self.api("POST", f"/hub/api/users/{name}/server")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            user = self.api("GET", f"/hub/api/users/{name}").json()
            if user["servers"].get("", {}).get("ready"):
                self.user_tokens[name] = self.api("POST", f"/hub/api/users/{name}/tokens",
                                                  json={"note": "try_hub"}).json()["token"]
                return
            time.sleep(1)
        raise Failed(f"{name}'s server was not ready within 180 s")

    def user(self, method: str, name: str, path: str, **kw):
        """A call to ``name``'s own server, with ``name``'s own token."""
        return self.api(method, f"/user/{name}{path}", token=self.user_tokens[name], **kw)

    def nbgrader(self, name: str, action: str) -> None:
        """A student's nbgrader button (the assignment list's server extension)."""
        reply = self.user("POST", name, f"/assignments/{action}",
                          data={"assignment_id": "A1", "course_id": COURSE_ID}).json()
        check(not (isinstance(reply, dict) and reply.get("success") is False), f"{action} as {name}: {reply}")

    def formgrader(self, path: str, method: str = "POST", **kw):
        reply = self.user(method, TEACHER, f"/formgrader/api/{path}", **kw).json()
        check(not (isinstance(reply, dict) and reply.get("success") is False),
              f"formgrader {path}: {reply.get('error') if isinstance(reply, dict) else reply}")
        return reply

    def shell(self, name: str, command: str, cwd: str) -> str:
        """``command`` in a kernel of ``name``'s server (as a terminal in their lab would run it); its output."""
        import websocket
        kernel = self.user("POST", name, "/api/kernels", json={"name": "python3"}).json()["id"]
        ws = websocket.create_connection(f"ws://127.0.0.1:{self.port}/user/{name}/api/kernels/{kernel}/channels",
                                         header=[f"Authorization: token {self.user_tokens[name]}"], timeout=600)
        code = (f"import subprocess\nr = subprocess.run({command!r}, shell=True, cwd={cwd!r}, text=True, "
                "stdout=subprocess.PIPE, stderr=subprocess.STDOUT)\nprint(r.stdout)\nprint('exit status', r.returncode)")
        msg_id = uuid.uuid4().hex
        ws.send(json.dumps({"header": {"msg_id": msg_id, "username": name, "session": uuid.uuid4().hex,
                                       "msg_type": "execute_request", "version": "5.3"},
                            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                            "content": {"code": code, "silent": False, "store_history": False,
                                        "user_expressions": {}, "allow_stdin": False, "stop_on_error": True}}))
        out = io.StringIO()
        while True:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            if kind == "stream":
                out.write(msg["content"]["text"])
            elif kind == "error":
                out.write("\n".join(msg["content"]["traceback"]))
            elif kind == "status" and msg["content"]["execution_state"] == "idle":
                break
        ws.close()
        self.user("DELETE", name, f"/api/kernels/{kernel}")
        text = out.getvalue()
        status = re.search(r"exit status (\d+)\s*$", text)
        check(status is not None, f"{command!r} as {name} did not finish:\n{text[-3000:]}")
        return text, int(status.group(1))

    def read(self, name: str, path: str):
        return self.user("GET", name, f"/api/contents/{path}", params={"content": "1"}).json()

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)     # the hub stops the users' servers as it exits
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
        self.log.close()


def add_users(base: Path) -> None:
    remove_users()                    # what a run killed before its end left behind (the names are this script's)
    run("groupadd", GROUP)
    for name in [TEACHER, *STUDENTS]:
        # homes as Debian's useradd makes them (world-readable until Debian 12's HOME_MODE): the hub must close them
        run("useradd", "--create-home", "--home-dir", base / "home" / name, "--shell", "/bin/bash",
            *(["--groups", GROUP] if name == TEACHER else []), name)
        os.chmod(base / "home" / name, 0o755)


def remove_users() -> None:
    for name in [TEACHER, *STUDENTS]:
        subprocess.run(["userdel", name], capture_output=True)
    subprocess.run(["groupdel", GROUP], capture_output=True)


def fill_in_answers(stub: dict, solution: dict) -> dict:
    """The released notebook with every answer cell (nbgrader's solution cells) taken from the reference."""
    answers = {c["metadata"]["nbgrader"]["grade_id"]: c["source"] for c in solution["cells"]
               if c.get("metadata", {}).get("nbgrader", {}).get("solution")}
    for cell in stub["cells"]:
        grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell["source"] = answers[grade_id]
    return stub


CHROMIUM = "/usr/bin/chromium"


def formgrader_in_the_lab(hub: Hub) -> None:
    """The instructor logs in with Chromium and opens the formgrader's tab in JupyterLab: its frame must load
    (where Playwright and Chromium are installed; the header check above holds everywhere)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        step("(no browser check: Playwright is not installed)")
        return
    if not os.path.exists(CHROMIUM):
        step(f"(no browser check: no Chromium at {CHROMIUM})")
        return
    step("the instructor logs in with Chromium and opens Nbgrader > Formgrader in JupyterLab")
    refused = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                             args=["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"])
        try:
            page = browser.new_page()
            page.on("console", lambda m: refused.append(m.text) if "frame-ancestors" in m.text else None)
            page.goto(f"{hub.url}/hub/login?next=/user/{TEACHER}/lab")
            page.fill("#username_input", TEACHER)
            page.fill("#password_input", "any: DummyAuthenticator")
            page.click("#login_submit")
            page.wait_for_url(f"**/user/{TEACHER}/lab**", timeout=120_000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click(timeout=120_000)
            page.locator(".lm-Menu-itemLabel", has_text=re.compile("^Formgrader$")).click()
            page.frame_locator("iframe").get_by_text("Manage Assignments").first.wait_for(timeout=60_000)
        except Exception as error:     # Playwright's timeouts: say what the page showed
            raise Failed(f"the formgrader's tab did not load in the lab: {error}; refused: {refused}") from error
        finally:
            browser.close()
    check(not refused, f"the browser refused the formgrader's frame: {refused}")
    step("    the formgrader's tab shows Manage Assignments (its frame allowed)")


def term(hub: Hub, base: Path, exchange: Path) -> None:
    teach_home = base / "home" / TEACHER
    course = teach_home / "deepgrad"

    for name in [TEACHER, *STUDENTS]:
        step(f"starting {name}'s server through the hub (POST /hub/api/users/{name}/server)")
        hub.start_server(name)
        mode = (base / "home" / name).stat().st_mode & 0o777
        check(mode == 0o700, f"{name}'s home is {oct(mode)} after the hub started their server, not 0o700")
    step("every home is 0700 now (they were 0755): no student reads another's work or the instructor's course")

    step("the instructor's course folder: a clone of the course repository in their home (~/deepgrad)")
    tracked = run("git", "-C", REPO, "ls-files", "-z").stdout.split("\0")
    for name in filter(None, tracked):
        if (REPO / name).is_file():
            (course / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, course / name)
    run("chown", "-R", f"{TEACHER}:{TEACHER}", course)
    step("the instructor points nbgrader at it and at the exchange (~/.jupyter/nbgrader_config.py, in a kernel)")
    out, status = hub.shell(TEACHER, "mkdir -p .jupyter && cp "
                            f"{INSTALL / 'etc' / 'instructor_nbgrader_config.py'} .jupyter/nbgrader_config.py",
                            cwd=str(teach_home))
    check(status == 0, f"the instructor's configuration could not be copied:\n{out}")
    # the formgrader reads its configuration when the server starts: restart the instructor's server
    hub.api("DELETE", f"/hub/api/users/{TEACHER}/server")
    while hub.api("GET", f"/hub/api/users/{TEACHER}").json()["servers"]:
        time.sleep(1)
    hub.start_server(TEACHER)

    for name in STUDENTS:
        denied = subprocess.run(["cat", course / "solutions" / "A1" / "A1.ipynb"], user=name, capture_output=True)
        check(denied.returncode != 0, f"{name} can read the instructor's solutions/")
    leaks = [str(p) for p in INSTALL.rglob("solutions")]
    check(not leaks, f"the installation holds solutions/: {leaks}")
    step("the students cannot read the instructor's solutions/, and the installation holds none")

    page = hub.user("GET", TEACHER, "/formgrader")
    check("frame-ancestors 'self'" in page.headers.get("Content-Security-Policy", ""),
          f"the formgrader may not be framed by the lab: {page.headers.get('Content-Security-Policy')}")
    reply = hub.requests.get(f"{hub.url}/user/{STUDENTS[0]}/formgrader", timeout=60,
                             headers={"Authorization": f"token {hub.user_tokens[STUDENTS[0]]}"})
    check(reply.status_code == 404, f"a student's server serves the formgrader ({reply.status_code})")
    step("the instructor's formgrader answers with frame-ancestors 'self' (its lab tab); students' servers have none")

    formgrader_in_the_lab(hub)

    step("the instructor releases A1 (formgrader: POST /formgrader/api/assignment/A1/release)")
    hub.formgrader("assignment/A1/release")
    mode = exchange.stat().st_mode & 0o7777
    check(mode == 0o1777, f"the exchange is {oct(mode)}, not 0o1777")

    solution = json.loads((REPO / "solutions" / "A1" / "A1.ipynb").read_text())
    for i, name in enumerate(STUDENTS):
        step(f"{name} fetches A1 (POST /user/{name}/assignments/fetch)")
        hub.nbgrader(name, "fetch")
        stub = hub.read(name, "A1/A1.ipynb")["content"]
        check("NotImplementedError" in json.dumps(stub), f"{name} fetched no stub")
        if i == 0:
            step(f"{name} fills in the reference answers and saves (PUT /user/{name}/api/contents/A1/A1.ipynb)")
            hub.user("PUT", name, "/api/contents/A1/A1.ipynb",
                     json={"type": "notebook", "format": "json", "content": fill_in_answers(stub, solution)})
        step(f"{name} submits (POST /user/{name}/assignments/submit)")
        hub.nbgrader(name, "submit")

    step("the instructor collects (formgrader: POST /formgrader/api/assignment/A1/collect)")
    hub.formgrader("assignment/A1/collect")
    for name in STUDENTS:
        check((course / "submitted" / name / "A1" / "timestamp.txt").exists(), f"{name}'s submission not collected")

    step("the instructor grades: `deepgrad grade A1 submitted --output grading/A1` in their course folder")
    out, status = hub.shell(TEACHER, "deepgrad grade A1 submitted --output grading/A1 --no-progress", cwd=str(course))
    check(status in (0, 1), f"deepgrad grade failed ({status}):\n{out}")
    summary = [line for line in out.splitlines() if line.startswith("graded ")]
    step(f"    {summary[-1] if summary else out.strip().splitlines()[-2]}")
    grades = {r["student_id"]: r for r in csv.DictReader(open(course / "grading" / "A1" / "grades.csv"))}
    check(set(grades) == set(STUDENTS), f"grades.csv holds {sorted(grades)}")

    step("the instructor scores a written answer and comments on it (formgrader: PUT /formgrader/api/grade/<id>)")
    listed = hub.formgrader("submitted_notebooks/A1/A1", method="GET")
    submission = next(s for s in listed if s["student"] == STUDENTS[0])
    written = [g for g in hub.formgrader(f"grades?submission_id={submission['id']}", method="GET")
               if g["needs_manual_grade"] and g["max_score"]]
    check(written, f"the formgrader lists no written answer to grade for {STUDENTS[0]}")
    # the formgrader's grading page shows the autograded copy, which `deepgrad grade` left where it looks
    page = hub.user("GET", TEACHER, f"/formgrader/submissions/{submission['id']}/").text
    check(written[0]["name"] in page, f"the formgrader's page for {STUDENTS[0]}'s A1 shows no written answer")
    grade, comment_text = written[0], "Right idea; now say why the loss starts at log(C)."
    score = grade["max_score"] / 2
    hub.formgrader(f"grade/{grade['id']}", method="PUT", json={"manual_score": score})
    comment = next(c for c in hub.formgrader(f"comments?submission_id={submission['id']}", method="GET")
                   if c["name"] == grade["name"])
    hub.formgrader(f"comment/{comment['id']}", method="PUT", json={"manual_comment": comment_text})
    step(f"    {grade['name']}: {score:g} / {grade['max_score']:g}, with a comment")

    step("the instructor returns the feedback: `deepgrad return A1 grading/A1 --to . --layout nbgrader`, and the "
         "LMS export")
    (course / "roster.csv").write_text("Student,ID,SIS Login ID\n" +
                                       "".join(f"S{i},{1000 + i},{s}\n" for i, s in enumerate(STUDENTS)))
    os.chown(course / "roster.csv", pwd.getpwnam(TEACHER).pw_uid, pwd.getpwnam(TEACHER).pw_gid)
    out, status = hub.shell(TEACHER, "deepgrad return A1 grading/A1 --to . --layout nbgrader && deepgrad export A1 "
                            "grading/A1 --roster roster.csv --match 'SIS Login ID' --to canvas.csv", cwd=str(course))
    check(status == 0, f"return or export failed:\n{out}")
    exported = {r["SIS Login ID"]: r for r in csv.DictReader(open(course / "canvas.csv")) if r.get("SIS Login ID")}
    final = float(list(exported[STUDENTS[0]].values())[-1])

    step("the instructor releases the feedback (formgrader: POST /formgrader/api/assignment/A1/release_feedback)")
    hub.formgrader("assignment/A1/release_feedback")

    name = STUDENTS[0]
    step(f"{name} fetches the feedback (POST /user/{name}/assignments/fetch_feedback) and reads the page")
    hub.nbgrader(name, "fetch_feedback")
    stamps = hub.read(name, "A1/feedback")["content"]
    check(len(stamps) == 1, f"{name} has {len(stamps)} feedback folders")
    page = hub.read(name, f"A1/feedback/{stamps[0]['name']}/A1.html")["content"]
    total = re.search(r"Total: <b class=\"\w+\">([\d.]+) / ([\d.]+)</b>", page)
    check(total is not None, "the feedback page shows no total")
    check(float(total.group(1)) == final, f"the page's total {total.group(1)} is not the export's {final:g}")
    check(comment_text in page.replace("&#x27;", "'"), "the grader's comment is not on the page")
    check(f"{score:g} / {grade['max_score']:g}" in page, "the written answer's score is not on the page")
    parts = re.findall(r"<h2>([^<]+)</h2>", page)
    check(set(parts) >= {g["name"] for g in written}, f"the page shows {parts}, not every written answer")
    check(len(written) == 1 or "not graded yet" in page, "the page does not say which written answers wait")
    step(f"    {name}'s page: total {total.group(1)} / {total.group(2)} (the export's {final:g}), {len(parts)} parts, "
         f"the written score and comment")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="leave the users, their homes and the hub's log")
    args = parser.parse_args(argv)
    reason = why_not()
    if reason:
        print(f"try_hub: cannot run the hub here: {reason}", file=sys.stderr)
        return SKIP
    INSTALL.mkdir(mode=0o755, exist_ok=True)
    lock = open(INSTALL / ".lock", "w")
    try:                              # one rehearsal at a time: they share the installation and the user names
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        print(f"try_hub: another rehearsal is running (it holds {INSTALL / '.lock'})", file=sys.stderr)
        return 1
    started = time.monotonic()
    base = Path(tempfile.mkdtemp(prefix="deepgrad-hub-"))
    os.chmod(base, 0o755)             # the users' homes are inside
    exchange = base / "exchange"
    hub = None
    try:
        install_tools()
        build_installation()
        shutil.copy(HUB / "instructor_nbgrader_config.py", INSTALL / "etc")
        text = (INSTALL / "etc" / "instructor_nbgrader_config.py").read_text()
        (INSTALL / "etc" / "instructor_nbgrader_config.py").write_text(
            text.replace('"/srv/nbgrader/exchange"', repr(str(exchange))))
        os.chmod(INSTALL / "etc" / "instructor_nbgrader_config.py", 0o644)
        exchange.mkdir()
        os.chmod(exchange, 0o1777)    # the recipe's: world-writable with the sticky bit
        add_users(base)
        step(f"users {TEACHER} (group {GROUP}), {', '.join(STUDENTS)}; exchange {exchange}")
        hub = Hub(base, exchange)
        step(f"JupyterHub {__import__('jupyterhub').__version__} answers on {hub.url} "
             "(deploy/hub/jupyterhub_config.py; DummyAuthenticator, LocalProcessSpawner)")
        term(hub, base, exchange)
    except Failed as failure:
        print(f"try_hub: FAILED: {failure}", file=sys.stderr)
        if hub is not None:
            print(f"(the hub's log: {base / 'hub.log' if args.keep else INSTALL / 'last-hub.log'})", file=sys.stderr)
        return 1
    finally:
        if hub is not None:
            hub.stop()
        if not args.keep:
            remove_users()
            if hub is not None:
                shutil.copy(base / "hub.log", INSTALL / "last-hub.log")
            shutil.rmtree(base, ignore_errors=True)
    step(f"done: the term ran through the hub in {time.monotonic() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
