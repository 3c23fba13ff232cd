"""Start graded parts fast: a pre-started fork server per grader thread, which forks a fresh child per part.

Starting Python and importing NumPy cost more than most parts' own work. The fork server
(``inside/server.py``) pays that once; each part's child is a fork of it taken before the part's payload exists,
so it has never seen another part's or another student's code (the server never reads payloads: the grader
writes them straight into the child's stdin). The child then confines itself exactly as a freshly started
interpreter would (``inside/child.py``).

:meth:`ForkServer.spawn` on this thread's :func:`server` is the only way ``sandbox`` starts a child. It returns
a :class:`Child`, which answers like a ``subprocess.Popen`` for what the sandbox needs (``pid``, ``stdin``,
``stdout``, ``poll``, ``wait``, ``returncode``).

A server found broken is closed and replaced by a new one: dead, stopped (``T`` in /proc/<pid>/stat), silent
for longer than it may be, or changed (the server checks its own limits, priority, scheduling and cgroup after
each part and before each fork, and says so). Every wait on it is bounded and watches its state, so a stopped
server never stalls the grader. The part in flight when it broke ends with ``Child.server_broke`` saying how
(the sandbox decides whose fault that is); a server found broken between parts costs no part anything.

Where the grader may create cgroups (root), each server sits in a pids cgroup of its own, which every child it
forks starts in: as the server runs one part at a time, that cgroup caps the part's processes and threads
(its limit is the part's plus one, the server), and moving a new process into a cgroup, which costs a
kernel grace period (about 10 ms) per part, never happens. After each part the grader kills whatever of it
is left in the cgroup (``kill_all(spare=(server.pid,))``).
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import weakref
from pathlib import Path

import numpy as np

PROGRAM = (Path(__file__).parent / "inside" / "server.py").read_text()
CHILD_PROGRAM = (Path(__file__).parent / "inside" / "child.py").read_text()
START_S = 30.0                  # for the server to import NumPy and say it is ready (a loaded machine is slow)
ANSWER_S = 10.0                 # for the server to report a part's end, once the part's processes are killed
_ANSWER = struct.Struct("<qqq")  # (pid, value, 1 while the server is as it started)
_SLICE_S = 0.05                 # how often a wait on the server looks at its state
_BROKEN_STATES = ("T", "t", "Z", "X", "x")     # stopped, traced, dead
_local = threading.local()


def python() -> str:
    # The real interpreter, not a venv launcher: with -I -S it needs nothing from the venv.
    return os.path.realpath(sys.executable)


def numpy_dirs() -> list[str]:
    """NumPy's package directory and, for manylinux wheels, the one beside it holding OpenBLAS."""
    pkg = os.path.dirname(os.path.realpath(np.__file__))
    libs = pkg + ".libs"
    return [pkg, libs] if os.path.isdir(libs) else [pkg]


class PidsCgroup:
    """A cgroup (v1 ``pids`` controller or v2 with pids enabled) capping the number of tasks."""

    ROOTS = ("/sys/fs/cgroup/pids", "/sys/fs/cgroup")

    def __init__(self, path: str):
        self.path = path

    @classmethod
    def create(cls, max_pids: int) -> "PidsCgroup | None":
        """A new cgroup allowing ``max_pids`` tasks, or None where this process may not create one."""
        if os.geteuid() != 0:
            return None
        for root in cls.ROOTS:
            if not os.path.isdir(root) or not os.access(root, os.W_OK):
                continue
            path = os.path.join(root, f"deepgrad-{os.getpid()}-{uuid.uuid4().hex[:12]}")  # grader pid: whose it is
            try:
                os.mkdir(path)
            except OSError:
                continue
            try:
                with open(os.path.join(path, "pids.max"), "w") as f:
                    f.write(str(max_pids))
                return cls(path)
            except OSError:
                os.rmdir(path)
        return None

    def pids(self) -> list[int]:
        try:
            with open(os.path.join(self.path, "cgroup.procs")) as f:
                return [int(x) for x in f.read().split()]
        except OSError:
            return []

    def set_max(self, max_pids: int) -> None:
        with open(os.path.join(self.path, "pids.max"), "w") as f:
            f.write(str(max_pids))

    def add(self, pid: int) -> None:
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(pid))

    def kill_all(self, spare: tuple = (), deadline_s: float = 10.0) -> None:
        """Kill every task in the cgroup but ``spare``, and wait (at most ``deadline_s``) until they are gone."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            pids = [p for p in self.pids() if p not in spare]
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        self.kill_all()
        for _ in range(200):
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


class ServerBroken(OSError):
    """The fork server was found dead, stopped, silent or changed before the fork; it has been closed."""


class ForkServer:
    """One fork server process: ``spawn`` a child per part, one part at a time."""

    alive = True
    broken: str | None = None       # how it broke ("was stopped", "ended", ...), once it has been found broken

    def __init__(self, env: dict):
        self.sock, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.errlog = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen([python(), "-I", "-S", "-c", PROGRAM], stdin=subprocess.PIPE,
                                         stdout=subprocess.DEVNULL, stderr=self.errlog, cwd="/", env=env,
                                         start_new_session=True, close_fds=True, pass_fds=(theirs.fileno(),))
            fd = theirs.fileno()
        finally:
            theirs.close()
        config = json.dumps({"program": CHILD_PROGRAM, "grader_pid": os.getpid(), "socket_fd": fd,
                             "numpy_parent": os.path.dirname(numpy_dirs()[0])}).encode()
        self.proc.stdin.write(struct.pack("<Q", len(config)) + config)
        self.proc.stdin.close()
        self.pid, self.cgroup, self.max_pids = self.proc.pid, None, None
        self._resources = [self.proc, self.sock, self.errlog]
        # Closed when the grader thread that owns it ends (its thread-local copy goes), or at exit at the latest.
        self._finalizer = weakref.finalize(self, _stop, self._resources)
        if self._receive(START_S) is None:
            text = ""
            if not self.errlog.closed:
                self.errlog.seek(0)
                text = self.errlog.read()[-2000:].decode("utf-8", errors="replace")
            self.close()
            raise OSError(f"the grader's fork server did not start: {text or 'no message'}")
        cgroup = PidsCgroup.create(2)      # the server alone; raised to the part's limit at each spawn
        if cgroup is not None:
            self._resources.append(cgroup)
            try:
                cgroup.add(self.pid)
                self.cgroup = cgroup
            except OSError:
                pass

    def state(self) -> str | None:
        """The server process's state letter in /proc (``S``, ``R``, ``T`` stopped...), None if unreadable."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as f:
                return f.read().rsplit(b")", 1)[1].split()[0].decode("ascii", "replace")
        except (OSError, IndexError):
            return None

    def healthy(self) -> bool:
        """Alive, not stopped, traced or dead: a cheap look before each part (the server checks the rest)."""
        state = self.state() if self.alive and self.proc.poll() is None else "X"
        if self.alive and state in _BROKEN_STATES:
            self.breakdown("ended" if state in "ZXx" else "was stopped")
        return self.alive

    def breakdown(self, how: str) -> None:
        """Close a server found broken (it is killed: its child, if any, dies with it)."""
        if self.broken is None:
            self.broken = how
        self.close()

    def _receive(self, timeout: float) -> tuple[int, int, int] | None:
        """The server's next (pid, value, as started), or None when it has nothing within ``timeout`` or is
        found broken meanwhile (then it is closed)."""
        end = time.monotonic() + timeout
        while self.alive:
            left = max(0.0, end - time.monotonic())
            if select.select([self.sock], [], [], min(left, _SLICE_S))[0]:
                try:
                    data = self.sock.recv(_ANSWER.size)
                except OSError:
                    data = b""
                if len(data) != _ANSWER.size:     # end of file: the server has gone
                    self.alive, self.broken = False, self.broken or "ended"
                    return None
                return _ANSWER.unpack(data)
            state = self.state()
            if state in _BROKEN_STATES:
                self.breakdown("ended" if state in "ZXx" else "was stopped")
            elif left <= _SLICE_S:
                return None
        return None

    def spawn(self, errlog, pids: int) -> "Child":
        """Fork a child for one part, allowed ``pids`` processes and threads. Its stdin and stdout are pipes
        (``child.stdin`` to write, ``child.stdout`` to read), its stderr goes to ``errlog`` (a file), and
        ``child.progress`` reads its fd 3."""
        if not self.healthy():
            raise ServerBroken(f"the grader's fork server {self.broken}")
        if self.cgroup is not None:
            self.cgroup.kill_all(spare=(self.pid,))    # nothing of the part before may count against this one
            if self.max_pids != pids + 1:
                self.cgroup.set_max(pids + 1)
                self.max_pids = pids + 1
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        progress_r, progress_w = os.pipe()
        try:
            child = self._fork([stdin_r, out_w, errlog.fileno(), progress_w])
        except BaseException:
            for fd in (stdin_w, out_r, progress_r):
                os.close(fd)
            raise
        finally:
            for fd in (stdin_r, out_w, progress_w):
                os.close(fd)
        child.stdin = os.fdopen(stdin_w, "wb")
        child.stdout = os.fdopen(out_r, "rb", buffering=0)
        child.progress = os.fdopen(progress_r, "rb", buffering=0)
        return child

    def _fork(self, fds: list[int]) -> "Child":
        try:
            socket.send_fds(self.sock, [b"fork"], fds)
        except OSError:
            self.alive, self.broken = False, "ended"
        answer = self._receive(START_S) if self.alive else None
        if answer is None or not answer[2]:
            self.breakdown("did not answer" if answer is None else "was changed")
            raise ServerBroken(f"the grader's fork server {self.broken}")
        pid = answer[0]
        if pid < 0:
            raise OSError(-pid, f"fork: {os.strerror(-pid)}")
        return Child(self, pid)

    def close(self):
        self.alive = False
        self._finalizer()


def _stop(resources) -> None:
    """End a server: its socket, its process (its children die with it), its log and its cgroup."""
    for r in resources:
        if isinstance(r, subprocess.Popen):
            if r.poll() is None:
                r.kill()
            r.wait()
        elif isinstance(r, PidsCgroup):
            r.remove()
        else:
            r.close()


class Child:
    """A part's process, forked by the server: its pid, pipes and (once it has ended) exit code."""

    def __init__(self, server: ForkServer, pid: int):
        self.server, self.pid, self.returncode = server, pid, None
        self.stdin = self.stdout = None
        self.server_broke: str | None = None    # how the server broke while this part ran ("was stopped"...)

    def poll(self) -> int | None:
        return self.wait(0.0)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, waiting at most ``timeout`` seconds for it (None: still running). With no timeout,
        at most ``ANSWER_S``: a server that stays silent longer is taken as broken, and closed."""
        if self.returncode is None:
            end = time.monotonic() + (ANSWER_S if timeout is None else timeout)
            while self.returncode is None:
                answer = self.server._receive(max(0.0, end - time.monotonic()))
                if answer is not None and answer[0] == self.pid:
                    self.returncode = answer[1]
                    if not answer[2]:          # the server changed while this part ran: it ends now
                        self.server.breakdown("was changed")
                        self.server_broke = self.server.broken
                elif not self.server.alive:
                    self.returncode = -signal.SIGKILL   # the server was closed, and its children died with it
                    self.server_broke = self.server.broken or "ended"
                elif answer is None:
                    if timeout is None:
                        self.server.breakdown("did not answer")
                        continue
                    break
        return self.returncode


def server(env: dict) -> ForkServer:
    """This thread's fork server (started with ``env`` the first time, or again if it has died)."""
    current = getattr(_local, "server", None)
    if current is None or not current.healthy():
        if current is not None:
            current.close()
        current = _local.server = ForkServer(env)
    return current
