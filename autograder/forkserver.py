"""Start graded parts fast: a pre-started fork server per grader thread, which forks a fresh child per part.

Starting Python and importing NumPy cost more than most parts' own work. The fork server
(``_forkserver.py``) pays that once; each part's child is a fork of it taken before the part's payload exists,
so it has never seen another part's or another student's code (the server never reads payloads: the grader
writes them straight into the child's stdin). The child then confines itself exactly as a freshly started
interpreter would (``_child.py``).

:func:`spawn` is the only way ``sandbox`` starts a child. It returns a :class:`Child`, which answers like a
``subprocess.Popen`` for what the sandbox needs (``pid``, ``stdin``, ``stdout``, ``poll``, ``wait``,
``returncode``). A server that died (a child in the rlimits-only mode can signal it) is replaced by a new one
at the next part; the part in flight is reported as killed.
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
from pathlib import Path

import numpy as np

PROGRAM = (Path(__file__).with_name("_forkserver.py")).read_text()
CHILD_PROGRAM = (Path(__file__).with_name("_child.py")).read_text()
START_S = 30.0                  # for the server to import NumPy and say it is ready (a loaded machine is slow)
_PAIR = struct.Struct("<qq")
_local = threading.local()


def python() -> str:
    # The real interpreter, not a venv launcher: with -I -S it needs nothing from the venv.
    return os.path.realpath(sys.executable)


def numpy_dirs() -> list[str]:
    """NumPy's package directory and, for manylinux wheels, the one beside it holding OpenBLAS."""
    pkg = os.path.dirname(os.path.realpath(np.__file__))
    libs = pkg + ".libs"
    return [pkg, libs] if os.path.isdir(libs) else [pkg]


class ForkServer:
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
        if self._receive(START_S) is None:
            self.errlog.seek(0)
            text = self.errlog.read()[-2000:].decode("utf-8", errors="replace")
            self.close()
            raise OSError(f"the grader's fork server did not start: {text or 'no message'}")

    def _receive(self, timeout: float | None) -> tuple[int, int] | None:
        """The server's next (pid, value), or None when it has nothing within ``timeout`` or has gone."""
        if not select.select([self.sock], [], [], timeout)[0]:
            return None
        data = self.sock.recv(_PAIR.size)
        if len(data) != _PAIR.size:
            self.alive = False
            return None
        return _PAIR.unpack(data)

    alive = True

    def fork(self, fds: list[int]) -> "Child":
        socket.send_fds(self.sock, [b"fork"], fds)
        answer = self._receive(START_S)
        if answer is None:
            self.alive = False
            raise OSError("the grader's fork server did not answer")
        pid, _ = answer
        if pid < 0:
            raise OSError(-pid, f"fork: {os.strerror(-pid)}")
        return Child(self, pid)

    def close(self):
        self.alive = False
        self.sock.close()
        self.errlog.close()
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


class Child:
    """A part's process, forked by the server: its pid, pipes and (once it has ended) exit code."""

    def __init__(self, server: ForkServer, pid: int):
        self.server, self.pid, self.returncode = server, pid, None
        self.stdin = self.stdout = None

    def poll(self) -> int | None:
        return self.wait(0.0)

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, waiting at most ``timeout`` seconds for it (None: still running)."""
        if self.returncode is None:
            end = None if timeout is None else time.monotonic() + timeout
            while self.returncode is None:
                left = None if end is None else max(0.0, end - time.monotonic())
                answer = self.server._receive(left)
                if answer is not None and answer[0] == self.pid:
                    self.returncode = answer[1]
                elif not self.server.alive:
                    self.returncode = -signal.SIGKILL   # the server died, and its children with it
                elif answer is None:
                    break
        return self.returncode


def _server(env: dict) -> ForkServer:
    server = getattr(_local, "server", None)
    if server is None or not server.alive or server.proc.poll() is not None:
        if server is not None:
            server.close()
        server = _local.server = ForkServer(env)
    return server


def spawn(env: dict, errlog) -> Child:
    """Fork a child for one part. Its stdin and stdout are pipes (``child.stdin`` to write, ``child.stdout``
    to read), its stderr goes to ``errlog`` (a file), and ``child.progress`` is the read end of its fd 3."""
    stdin_r, stdin_w = os.pipe()
    out_r, out_w = os.pipe()
    progress_r, progress_w = os.pipe()
    try:
        child = _server(env).fork([stdin_r, out_w, errlog.fileno(), progress_w])
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
