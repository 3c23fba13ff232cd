"""Run one graded part of one student's code in a confined subprocess and bring back plain arrays.

The child (``inside/child.py``) is a fresh fork of this grader thread's fork server (``forkserver``: ``python -I -S``
that has imported NumPy and never sees a payload), in its own session, with:

* a time budget per answer cell and one for the part's call, enforced by the child's alarm and, on the
  grader's own clock, by deadlines after which the whole process group (and its pids cgroup) is killed;
  whatever arrives after the deadline is dropped (late results earn nothing);
* rlimits on CPU time, address space, file size and open files; a pids cgroup (root) or RLIMIT_NPROC
  (other users) against fork bombs;
* a system-call filter (seccomp, any user): no fork, exec, memfd, SysV IPC or keyring, so the part is one
  process and its rlimits are the part's limits; no tracing, signalling, limiting or re-scheduling of any
  process but itself;
* without namespaces (the part runs as this user and sees the grader's processes): the fork server and this
  process are not dumpable (no /proc/<pid>/mem or /fd for the part), the part holds no capability, a fork
  server found stopped, silent or changed is replaced, and the part during which that happened gets nothing;
* a temporary working directory holding only the inputs, a scrubbed environment, one BLAS thread,
  ``sys.path`` limited to the standard library and NumPy, so ``import deepgrad`` fails;
* where Linux namespaces are available (root, or a user namespace for any user): private mount, network,
  IPC and PID namespaces in which every file system is read-only, the work dir is a small private tmpfs,
  the course directory, submissions, output, other sandboxes, /proc and /sys are hidden, and all
  capabilities are dropped.

What to run and under which limits reaches the child as the run plan (``plan.make_plan``, sent as JSON on its
stdin; every time, the grader's deadlines included, is derived there once); the inputs follow once its cells
are done.
Outputs come back over a pipe as an .npz (read with ``allow_pickle=False``, numeric/bool dtypes only,
size-capped) plus a small JSON of messages. Nothing in them is trusted beyond being data: every field is
checked for type and size before use.
"""
from __future__ import annotations

import ctypes
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
import zipfile
from dataclasses import dataclass, field

import numpy as np

from . import forkserver
from .forkserver import numpy_dirs, python
from .plan import Limits, make_plan

MAGIC = b"DGRESULT1"
MAX_RESULT_BYTES = 96 * 2**20       # what we read from the results pipe at most
MAX_ELEMENTS = 10_000_000           # numbers in all outputs of one part


@dataclass
class RunResult:
    status: str                     # ok | error | timeout | memory | crashed | missing
    outputs: dict = field(default_factory=dict)
    error: str | None = None        # exception text from the driver / call (HTML-unsafe: escape it)
    cell_errors: list = field(default_factory=list)   # [(cell number, text)]
    cell_timeouts: list = field(default_factory=list) # cell numbers interrupted at their budget
    stuck_cell: int | None = None   # the cell the process was in when it was killed or died (grader's view)
    missing: list = field(default_factory=list)
    defined: list = field(default_factory=list)
    conversion: list = field(default_factory=list)    # [(key, text)] values that were not plain numbers
    detail: str = ""                # what the grader saw (signal, limits), in words
    wall_s: float = 0.0
    phases: dict = field(default_factory=dict)        # seconds per phase on the grader's clock (PHASES)


# Where a part's time goes, in order: inputs and limits made ready; fork and confinement until the first cell
# starts; the answer cells; the call (inputs sent, driver run); results sent and read; processes and files
# cleaned up. From the child's progress tokens, timed on the grader's clock: a profile, never a verdict.
PHASES = ("prepare", "start", "cells", "call", "send", "clean up")


def _phases(t0, start, seen, exited, end) -> dict:
    marks = [t0, start, seen.get("c"), seen.get("C"), seen.get("D"), exited, end]
    for i in range(len(marks) - 1, 0, -1):     # a phase that never came takes no time: fill from the next mark
        if marks[i - 1] is None:
            marks[i - 1] = marks[i]
    return {name: max(0.0, b - a) for name, a, b in zip(PHASES, marks[:-1], marks[1:], strict=True)}


# --------------------------------------------------------------------------- environment facts
# The environment of the fork server and so of every child (each child sets its own HOME and TMPDIR).
ENV = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "OPENBLAS_NUM_THREADS": "1",
       "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1",
       "PYTHONHASHSEED": "0", "PYTHONDONTWRITEBYTECODE": "1"}


def _is_root() -> bool:
    return os.geteuid() == 0


_ISOLATION_OK: bool | None = None


def isolation_available() -> bool:
    """True where the child can build its own mount, network, PID and IPC namespaces: as root, or as any user
    where the kernel allows unprivileged user namespaces (Linux)."""
    global _ISOLATION_OK
    if _ISOLATION_OK is None:
        _ISOLATION_OK = False
        if sys.platform.startswith("linux"):
            user = 0 if _is_root() else 0x10000000   # CLONE_NEWUSER
            code = ("import ctypes,os,sys;l=ctypes.CDLL(None,use_errno=True);"
                    f"sys.exit(0 if l.unshare({user}|0x00020000|0x40000000|0x20000000|0x08000000)==0 and "
                    "l.mount(b'none',b'/',None,16384|(1<<18),None)==0 and "
                    "os.waitstatus_to_exitcode(os.waitpid(os.fork() or os._exit(0),0)[1])==0 else 1)")
            try:
                _ISOLATION_OK = subprocess.run([python(), "-I", "-S", "-c", code], timeout=20,
                                               capture_output=True).returncode == 0
            except (OSError, subprocess.SubprocessError):
                _ISOLATION_OK = False
    return _ISOLATION_OK


def _isolated(isolate: bool | None) -> bool:
    """Whether a run asked for ``isolate`` (None: where available) gets namespaces: never where there are none."""
    return isolation_available() if isolate is None else bool(isolate and isolation_available())


def mode(isolate: bool | None = None) -> str:
    """The sandbox mode a run with ``isolate`` is in, in the words every report uses."""
    return "namespaces + rlimits" if _isolated(isolate) else "rlimits only"


# What "rlimits only" cannot promise, said before grading starts (autograder/README.md, "Security model").
RLIMITS_ONLY_WARNING = (
    "warning: Linux namespaces are not available here, so the sandbox runs in 'rlimits only' mode: a student's "
    "code can read and write every file this user can (the output folder and its gradebook, the other "
    "submissions, the course). Grade as a separate user that owns nothing but a copy of the submissions, or on "
    "a machine that allows namespaces (see autograder/README.md, 'Security model').")


def _user_process_count() -> int:
    uid, n = os.getuid(), 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                owner = os.stat(f"/proc/{entry}").st_uid
                if owner == 0 != uid:       # a process that is not dumpable (ours are not) shows as root's
                    owner = _real_uid(entry)
                if owner == uid:
                    n += 1
            except OSError:
                pass
    return n


def _real_uid(pid: str) -> int | None:
    with open(f"/proc/{pid}/status", "rb") as f:
        for line in f:
            if line.startswith(b"Uid:"):
                return int(line.split()[1])
    return None


_OUT_OF_REACH = False


def _keep_out_of_reach() -> None:
    """Make this process not dumpable: without namespaces a part runs as this user and can see it, and could
    otherwise read or write its memory and open its pipes (/proc/<pid>/mem, /proc/<pid>/fd: another part's
    results) or read its environment. Once per process; no core dumps from it afterwards."""
    global _OUT_OF_REACH
    if not _OUT_OF_REACH and sys.platform.startswith("linux"):
        PR_SET_DUMPABLE = 4
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
        _OUT_OF_REACH = True


# --------------------------------------------------------------------------- the run
class _Channel:
    """One pipe from the child, read on a thread until EOF or until the grader closes it at the deadline.

    Bytes read after ``close()`` are discarded: results that arrive late earn nothing. At most ``cap`` bytes
    are kept; the rest is drained and dropped so that the child never blocks on a full pipe."""

    def __init__(self, stream, cap: int, on_line=None):
        self.data, self.cap, self.on_line, self.open = bytearray(), cap, on_line, True
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream):
        while True:
            chunk = os.read(stream.fileno(), 1 << 16) if not stream.closed else b""
            if not chunk:
                return
            if self.open and len(self.data) < self.cap:
                before = len(self.data)
                self.data.extend(chunk[: self.cap - len(self.data)])
                if self.on_line and b"\n" in self.data[before:]:
                    self.on_line(time.monotonic())

    def close(self):
        self.open = False


class _Progress:
    """The child's progress tokens (``c3``: cell 3 starts, ``C``: cells done, ``D``: results being sent), with
    the grader's clock time at which each kind was first seen (``seen_at``: "c", "C", "D"). Tokens are the
    child's word, used only against itself and for the time profile."""

    def __init__(self):
        self.seen_at = {}
        self.channel = None
        self.cells_done = threading.Event()

    @property
    def cells_done_at(self):
        return self.seen_at.get("C")

    def seen(self, now):
        tokens = set(bytes(self.channel.data).split(b"\n"))
        for kind, present in (("c", any(t[:1] == b"c" for t in tokens)), ("C", b"C" in tokens),
                              ("D", b"D" in tokens)):
            if present:
                self.seen_at.setdefault(kind, now)
        if "C" in self.seen_at:
            self.cells_done.set()

    def last_cell(self) -> int | None:
        """The last cell the child said it started, unless it then said the cells were done."""
        tokens = bytes(self.channel.data).split(b"\n")
        if b"C" in tokens:
            return None
        cells = [t[1:] for t in tokens if t[:1] == b"c" and t[1:].isdigit() and len(t) < 8]
        return int(cells[-1]) if cells else None


def _write(stream, data: bytes, close: bool = False) -> None:
    try:
        stream.write(data)
        stream.flush()
        if close:
            stream.close()
    except (BrokenPipeError, OSError, ValueError):
        pass


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _parse(blob: bytes) -> tuple[dict, dict]:
    """Split the child's message into (arrays, messages); raises ValueError for anything malformed."""
    head = len(MAGIC) + 16
    if len(blob) < head or not blob.startswith(MAGIC):
        raise ValueError("no results came back")
    n_npz, n_json = struct.unpack("<QQ", blob[len(MAGIC):head])
    if head + n_npz + n_json != len(blob):
        raise ValueError("the results were cut short or padded")
    npz, text = blob[head:head + n_npz], blob[head + n_npz:]
    if len(text) > 2**20:
        raise ValueError("the messages are too long")
    messages = _messages(json.loads(text.decode("utf-8", errors="replace")))
    with zipfile.ZipFile(io.BytesIO(npz)) as zf:   # refuse zip bombs before NumPy inflates anything
        if sum(info.file_size for info in zf.infolist()) > MAX_RESULT_BYTES * 2:
            raise ValueError("the outputs are too large")
    arrays, total = {}, 0
    with np.load(io.BytesIO(npz), allow_pickle=False) as f:
        for key in f.files[:1000]:
            a = f[key]
            if a.dtype.kind not in "biuf":
                raise ValueError(f"output {key!r} has dtype {a.dtype}, expected numbers")
            total += a.size
            if total > MAX_ELEMENTS:
                raise ValueError(f"the outputs hold more than {MAX_ELEMENTS} numbers")
            arrays[key[:200]] = a
    return arrays, messages


def _text(x, limit: int = 500) -> str:
    s = str(x)
    return s if len(s) <= limit else s[:limit] + "..."


def run_part(cells: list[str], spec: dict, inputs: dict, limits: Limits | None = None, *,
             hide: list[str] = (), isolate: bool | None = None, workroot: str | None = None,
             skip: tuple = (), short: tuple = ()) -> RunResult:
    """Run ``cells`` (the student's answer cells) and then the part's driver on ``inputs`` in a sandbox.

    Inputs:
    - cells: source strings of the answer cells, in notebook order
    - spec: the part's call description (see ``autograder.checks.Part.spec``)
    - inputs: name -> array / scalar / str, sent to the child as an .npz once its answer cells are done
    - limits: resource limits
    - hide: directories the child must not see (course root, submissions, output); root + namespaces only
    - isolate: force namespaces on/off (default: on where available)
    - workroot: where the sandbox directories are created (default: a fresh temporary directory)
    - skip: numbers (from 1) of answer cells not to run (they ended the process or defeated their budget)
    - short: numbers of answer cells to run under SHORT_BUDGET_S (they were interrupted at their budget before)

    Returns a RunResult.
    """
    limits = limits or Limits()
    isolate = _isolated(isolate)
    root = tempfile.mkdtemp(prefix="deepgrad-sbx-", dir=workroot)
    own = os.path.join(root, "s")
    os.makedirs(own, mode=0o700)
    try:
        return _run(cells, spec, inputs, limits, hide, isolate, root, own, sorted(set(skip)),
                    sorted(set(short) - set(skip)))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _covered(root, own, hide) -> tuple[str, list[str]]:
    """What the child's namespaces cover: the directory under its own tmpfs, and the directories it hides."""
    safe_hide = [os.path.realpath(h) for h in hide if h]
    safe_hide = [h for h in safe_hide if not (own + "/").startswith(h.rstrip("/") + "/")]
    # Cover the whole temporary directory (other runs' outputs, other sandboxes) with the child's own
    # tmpfs, unless Python's standard library lives there; then cover only the root of the sandboxes.
    tmp = os.path.realpath(tempfile.gettempdir())
    stdlib = os.path.realpath(sysconfig.get_paths()["stdlib"])
    cover = tmp if (root + "/").startswith(tmp.rstrip("/") + "/") and tmp != "/" \
        and not (stdlib + "/").startswith(tmp.rstrip("/") + "/") else root
    extra = [d for d in ("/dev/shm", "/var/tmp", "/proc", "/sys") if os.path.isdir(d) and d != cover]
    return cover, sorted(set(safe_hide)) + extra


def _run(cells, spec, inputs, limits, hide, isolate, root, own, skip, short) -> RunResult:
    t0 = time.monotonic()
    buf = io.BytesIO()
    np.savez(buf, **{k: np.asarray(v) for k, v in inputs.items()})
    inputs_blob = buf.getvalue()
    site = os.path.join(own, "site")
    if not isolate:
        _keep_out_of_reach()
        os.makedirs(site)
        for src in numpy_dirs():
            os.symlink(src, os.path.join(site, os.path.basename(src)))
    server = forkserver.server(ENV)
    # RLIMIT_NPROC counts all of this user's tasks: where no pids cgroup caps the part, count them now
    user_tasks = _user_process_count() if server.cgroup is None and hasattr(os, "getuid") and os.getuid() != 0 \
        else None
    cover, hidden = _covered(root, own, hide) if isolate else (None, [])
    plan = make_plan(cells, spec, limits, skip=skip, short=short, own=own, numpy_dirs=numpy_dirs(),
                     user_tasks=user_tasks, cover=cover, hide=hidden)
    program = plan.to_json().encode()
    errlog = tempfile.TemporaryFile()
    start = time.monotonic()
    try:
        proc = server.spawn(errlog, limits.pids)
    except forkserver.ServerBroken:     # found broken before this part began: a new one, and no one is charged
        server = forkserver.server(ENV)
        proc = server.spawn(errlog, limits.pids)
    cgroup = server.cgroup          # the server's own, which every child it forks starts in
    progress_stream = proc.progress
    progress = _Progress()
    progress.channel = _Channel(progress_stream, 64 * 1024, on_line=progress.seen)
    results = _Channel(proc.stdout, MAX_RESULT_BYTES)
    # Deadlines on the grader's clock: the cells' budgets first, then, from the moment the child says the
    # cells are done, the part's own time limit.
    cells_deadline = start + plan.times.cells_deadline_s
    timed_out = False
    # The program now; the inputs only when the child says its cells are done (the progress reader's signal).
    # Written from a thread, so that a child that stops reading cannot block the grader.
    over = threading.Event()

    def feed():
        _write(proc.stdin, struct.pack("<Q", len(program)) + program)
        progress.cells_done.wait()
        if not over.is_set():
            _write(proc.stdin, struct.pack("<Q", len(inputs_blob)) + inputs_blob, True)

    writer = threading.Thread(target=feed, daemon=True)
    writer.start()
    deadline, exited = cells_deadline, None
    try:
        while proc.poll() is None:
            done_at = progress.cells_done_at
            # strict: what has not arrived when the part's time is up does not count
            deadline = cells_deadline if done_at is None else done_at + plan.times.call_deadline_s
            if time.monotonic() > deadline:
                timed_out = True
                break
            proc.wait(timeout=0.02)
        if not timed_out:
            # The child has exited, but what it wrote may still sit in the pipe, unread by a reader thread that
            # a loaded machine has not yet scheduled: read to EOF, within the part's time (a descendant that
            # holds the pipe open cannot stretch it), before closing the channel.
            results.thread.join(timeout=max(0.0, deadline - time.monotonic()))
        exited = time.monotonic()
    finally:
        results.close()           # from here on, nothing more counts
        over.set()
        progress.cells_done.set()   # the writer, if still waiting, ends
        _kill_group(proc.pid)
        try:
            proc.stdin.close()
        except (OSError, ValueError):
            pass
        if cgroup:
            cgroup.kill_all(spare=(server.pid,))
        proc.wait()                 # bounded: a server that does not report the part's end is replaced
        for ch in (results, progress.channel):
            ch.thread.join(timeout=1)
        proc.stdout.close()
        progress_stream.close()
    wall = time.monotonic() - start
    errlog.seek(0)
    stderr_tail = errlog.read()[-2000:].decode("utf-8", errors="replace")
    errlog.close()
    if proc.server_broke and isolate:
        # Out of the part's sight (PID namespace, no capability): not the student's doing.
        raise OSError(f"the grader's fork server {proc.server_broke} during this part (a new one starts for the "
                      f"next part)")
    res = _interpret(proc.returncode, timed_out, bytes(results.data), stderr_tail, limits, wall)
    if proc.server_broke:
        # Without namespaces the part could reach the server (and nothing else ran beside it in that server):
        # what it sent does not count, and the part, not a later student, pays for the new server.
        res.status, res.outputs = "crashed", {}
        res.detail = (f"the grader's fork server (the process that starts each part) {proc.server_broke} while "
                      f"this part ran; it was replaced, and nothing this part sent counts")
    end = time.monotonic()
    res.phases = _phases(t0, start, progress.seen_at, exited or end, end)
    if res.status in ("timeout", "crashed") and progress.cells_done_at is None:
        res.stuck_cell = progress.last_cell()
        if res.stuck_cell is not None:
            how = "did not finish in time" if res.status == "timeout" else "ended the process"
            res.detail = f"answer cell {res.stuck_cell} {how}; " + res.detail
    return res


def _interpret(rc, timed_out, blob, stderr_tail, limits, wall) -> RunResult:
    res = RunResult(status="ok", wall_s=wall)
    parse_error = ""
    try:
        arrays, messages = _parse(blob)
    except Exception as exc:
        arrays, messages = {}, None
        parse_error = _text(exc)
    if messages is not None:
        res.outputs = arrays
        res.error = _text(messages["error"]) if messages["error"] else None
        res.cell_errors, res.cell_timeouts = messages["cell_errors"], messages["cell_timeouts"]
        res.missing, res.defined, res.conversion = messages["missing"], messages["defined"], messages["conversion"]
    if timed_out or (messages is not None and messages["timed_out"]):
        res.status, res.detail = "timeout", f"stopped at the time limit of {limits.timeout:g} s"
    elif rc is not None and rc < 0 and -rc in (signal.SIGXCPU,):
        res.status, res.detail = "timeout", f"stopped at the CPU-time limit ({limits.timeout:g} s)"
    elif messages is None:
        if "MemoryError" in stderr_tail or (rc is not None and -rc in (signal.SIGKILL, signal.SIGSEGV)
                                            and "Cannot allocate" in stderr_tail):
            res.status, res.detail = "memory", f"ran out of memory (limit {limits.memory_mb} MB)"
        else:
            how = f"killed by signal {signal.Signals(-rc).name}" if rc and rc < 0 and -rc in \
                signal.valid_signals() else f"exit status {rc}"
            res.status, res.detail = "crashed", f"the process ended without results ({how}; {parse_error})"
    elif res.missing:
        res.status = "missing"
    elif res.error and res.error.startswith("MemoryError"):
        res.status, res.detail = "memory", f"ran out of memory (limit {limits.memory_mb} MB)"
    elif res.error:
        res.status = "error"
    return res


def _messages(raw) -> dict:
    """The child's messages, every field checked for type and cut to size (a forged message is the child's
    fault: it becomes ValueError, never a grader crash)."""
    if not isinstance(raw, dict):
        raise ValueError("malformed messages")

    def texts(key, limit, count):
        value = raw.get(key, [])
        return [_text(v, limit) for v in value[:count]] if isinstance(value, list) else []

    def numbered(key):
        value = raw.get(key, [])
        pairs = [v for v in value[:50] if isinstance(v, list) and len(v) == 2] if isinstance(value, list) else []
        return [(v[0], _text(v[1])) for v in pairs if type(v[0]) is int and 0 < v[0] < 10**6]

    def numbers(key):
        value = raw.get(key, [])
        return [v for v in value[:50] if type(v) is int and 0 < v < 10**6] if isinstance(value, list) else []

    conversion = raw.get("conversion", [])
    conversion = [(_text(v[0], 100), _text(v[1])) for v in conversion[:50] if isinstance(v, list) and len(v) == 2] \
        if isinstance(conversion, list) else []
    error = raw.get("error")
    return {"error": _text(error) if isinstance(error, str) and error else None,
            "cell_errors": numbered("cell_errors"), "cell_timeouts": numbers("cell_timeouts"),
            "missing": texts("missing", 100, 50), "defined": texts("defined", 100, 100), "conversion": conversion,
            "timed_out": raw.get("timed_out") is True}
