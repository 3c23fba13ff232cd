"""The fork server: a trusted process that has imported NumPy once and forks a fresh child for every part.

Never imported by the grader: ``sandbox/forkserver.py`` starts it as ``python -I -S -c <this text>`` with a scrubbed
environment, sends its configuration on stdin (the child program, where NumPy lives, the grader's pid) and
then talks to it over a Unix socket. Each request carries four file descriptors (the child's stdin,
its results pipe, its error log, its progress pipe) and nothing else: the fork server never reads a payload,
so no student's code or inputs ever pass through it, and every child starts from the same clean state.

For each request the server forks; the child takes the four descriptors as fds 0-3, closes everything else,
starts its own session (the grader kills its process group) and runs the child program (``inside/child.py``), which
reads the part's payload from its stdin, confines itself and only then runs student code. The server answers
with the child's pid, waits for it, and answers with its exit code (negative: the signal that ended it).
One request at a time: a grader thread owns its server. The server dies with the grader (its parent-death
signal, and end of file on the socket); every child dies with the server.

Without namespaces a child runs as the same user and sees the server (its parent), so the server guards what a
child could change from outside: it is not dumpable (no other process of the user may trace it, or read or
write its memory or descriptors through /proc; its children inherit that), and it checks its own state (limits,
priority, scheduling, cgroup, dumpability) after each part and before each fork. Every answer
carries that verdict: a server that finds itself changed says so and exits, and the grader starts a new one.
"""
import ctypes
import json
import os
import resource
import signal
import socket
import struct
import sys

PR_SET_PDEATHSIG, PR_GET_DUMPABLE, PR_SET_DUMPABLE = 1, 3, 4
_libc = ctypes.CDLL(None, use_errno=True)
_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
_libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)

_n = struct.unpack("<Q", sys.stdin.buffer.read(8))[0]
CONFIG = json.loads(sys.stdin.buffer.read(_n))
if os.getppid() != CONFIG["grader_pid"]:
    os._exit(0)                 # the grader died before the parent-death signal was set
_null = os.open(os.devnull, os.O_RDWR)
os.dup2(_null, 0)               # fds 0-2 stay taken, so that received descriptors never land on them
os.close(_null)

# NumPy from its own directory only (not the rest of site-packages), then the standard library alone again.
# The submodules NumPy loads lazily are loaded now, once, instead of in every child.
_stdlib = list(sys.path)
sys.path[:0] = [CONFIG["numpy_parent"]]
import numpy  # noqa: E402
import numpy.fft  # noqa: E402
import numpy.linalg  # noqa: E402
import numpy.polynomial  # noqa: E402
import numpy.random  # noqa: E402
sys.path[:] = _stdlib
# What the child program imports, so that a child pays for none of it.
import builtins, io, threading, time, types, zipfile  # noqa: E401,E402,F401  (resource: above)

PROGRAM = compile(CONFIG["program"], "<grader>", "exec")
SOCKET = socket.socket(fileno=CONFIG["socket_fd"])
ANSWER = struct.Struct("<qqq")  # (pid, value, 1 if this server is still as it started, else 0)
_RLIMITS = sorted(getattr(resource, name) for name in dir(resource) if name.startswith("RLIMIT_"))


def _read(path):
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:
        return None


def _state():
    """What another process of this user could change in this one from outside, and every child inherits."""
    # (Not the CPU affinity: a container's cpuset may change under it, and pinning costs only speed.)
    return ([resource.getrlimit(r) for r in _RLIMITS], os.getpriority(os.PRIO_PROCESS, 0),
            os.sched_getscheduler(0), tuple(os.sched_getparam(0)), _libc.prctl(PR_GET_DUMPABLE, 0, 0, 0, 0),
            _read("/proc/self/cgroup"), _read("/proc/self/oom_score_adj"), os.getppid())


def _child(fds):
    """In the forked child: fds 0-3 are the request's, nothing else is open, then the child program runs."""
    SOCKET.detach()
    os.setsid()
    _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    for target, fd in enumerate(fds):
        # Safe in this order: no received fd is 0-2 (taken when it arrived), and 3 is the last target.
        os.dup2(fd, target)
    os.closerange(4, 1 << 16)
    numpy.random.seed()         # a fresh process would draw fresh entropy: so does each child
    n = struct.unpack("<Q", os.read(0, 8))[0]
    data = b""
    while len(data) < n:
        chunk = os.read(0, n - len(data))
        if not chunk:
            os._exit(70)
        data += chunk
    payload = json.loads(data)
    if payload.get("isolate") and os.getuid() != 0:
        # Only a dumpable process may write its own uid_map (user namespaces, for an ordinary user). Student code
        # never runs in this process: it runs under the PID namespace's init, which is not dumpable again.
        _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    exec(PROGRAM, {"PAYLOAD": payload, "__name__": "__grader__"})
    os._exit(0)


SOCKET.send(ANSWER.pack(0, 0, 1))   # ready
AS_STARTED = None               # taken at the first request, once the grader has put this server in its cgroup
while True:
    try:
        _msg, fds, _flags, _addr = socket.recv_fds(SOCKET, 16, 4)
    except OSError:
        os._exit(0)
    if len(fds) != 4:
        os._exit(0)             # end of file: the grader has gone
    AS_STARTED = AS_STARTED or _state()
    if _state() != AS_STARTED:  # changed between parts: fork nothing more
        SOCKET.send(ANSWER.pack(0, 0, 0))
        os._exit(0)
    try:
        pid = os.fork()
    except OSError as exc:
        pid = -exc.errno
    if pid == 0:
        try:
            _child(fds)
        finally:
            os._exit(70)
    for fd in fds:
        os.close(fd)            # the child holds them now: the grader sees end of file when the child ends
    SOCKET.send(ANSWER.pack(pid, 0, 1))
    if pid > 0:
        _, status = os.waitpid(pid, 0)
        same = _state() == AS_STARTED   # changed while the part ran: the part is to blame, and this server ends
        SOCKET.send(ANSWER.pack(pid, os.waitstatus_to_exitcode(status), int(same)))
        if not same:
            os._exit(0)
