"""Attacks on the grader's own processes, in every sandbox mode (issue 23).

Without namespaces ("rlimits only": an ordinary user where user namespaces are restricted, or a container that
forbids them) a part runs as the grader's user and sees its parent, the fork server, and the grader. Four
classes of attack on them, each written as a student's answer cell (real system calls through ctypes), each
tried on the fork server and on the grader:

- memory: write into the server (swap NumPy's ``zeros`` for ``ones``, so that every later student's gradient
  is wrong) through /proc/<pid>/mem, process_vm_writev and ptrace, and into the grader (a canary);
- limits: prlimit64 on the server or the grader (a data segment of 8 MB, 8 open files);
- signals: SIGSTOP (and SIGKILL) by kill, killpg, tgkill, rt_sigqueueinfo, a pidfd, and a pid with high bits set;
- scheduling: nice 19, SCHED_IDLE, one CPU, idle I/O priority.

Each batch grades honest students (the solution) before and after every attacker with one job, so that the
server an attacker ran in grades the next student; everyone must get full marks (a refused attack changes
nothing, and the attacker's own answers are right), the grader's canary and its own limits and priorities
must be untouched, and the batch must end in bounded time. The batch runs in a subprocess of its own session:
if an attack got through and stopped the grader, the test fails at its timeout instead of hanging.
``test_the_attacks_work_on_an_unprotected_process`` shows that each attack does what it says on a process
that nothing protects; the grader-side tests at the end stop and change a server from outside, where no
filter applies, and check that it is replaced and that the part in flight is charged the right way.
"""
from __future__ import annotations

import ctypes
import json
import os
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest
from test_adversarial import FULL, _system_python, prepend

from autograder.checks import Part
from autograder.sandbox import ENV, forkserver, isolation_available, run_part

ROOT = Path(__file__).resolve().parent.parent

ATTACKS = r'''
import ctypes, fcntl, os, resource, signal, socket, struct
import numpy as np

_libc = ctypes.CDLL(None, use_errno=True)
_NR = {"x86_64": dict(kill=62, tgkill=234, rt_sigqueueinfo=129, prlimit64=302, ioprio_set=251),
       "aarch64": dict(kill=129, tgkill=131, rt_sigqueueinfo=138, prlimit64=261, ioprio_set=30),
       }.get(os.uname().machine, {})


def attempt(fn, *args):
    """One attack: a refusal (OSError) changes nothing, and the student's code carries on."""
    try:
        fn(*args)
        return True
    except OSError:
        return False


def _call(name, *args):
    result = _libc.syscall(_NR[name], *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    if result == -1:
        err = ctypes.get_errno()
        raise OSError(err, f"{name}: {os.strerror(err)}")
    return result


def numpy_swap():
    """Where the target (a fork of the same interpreter: the same addresses) holds NumPy's ``zeros`` in its
    namespace, and what to write there: ``ones``. Found in this process's memory, each candidate tried here."""
    key = next(k for k in vars(np) if k == "zeros")
    pattern, value = struct.pack("<QQ", id(key), id(np.zeros)), struct.pack("<Q", id(np.ones))
    with open("/proc/self/maps") as f:
        regions = [line.split() for line in f]
    fd = os.open("/proc/self/mem", os.O_RDONLY)
    try:
        for r in regions:
            lo, hi = (int(x, 16) for x in r[0].split("-"))
            if not r[1].startswith("rw") or (len(r) > 5 and r[5] != "[heap]") or hi - lo > 1 << 28:
                continue
            for at in range(lo, hi, 1 << 24):
                try:
                    data = os.pread(fd, min((1 << 24) + 15, hi - at), at)
                except OSError:
                    break
                i = data.find(pattern)
                while i >= 0:
                    slot = at + i + 8
                    if slot % 8 == 0:
                        old = ctypes.string_at(slot, 8)
                        ctypes.memmove(slot, value, 8)
                        hit = np.zeros is np.ones
                        ctypes.memmove(slot, old, 8)
                        if hit:
                            return slot, value
                    i = data.find(pattern, i + 1)
    finally:
        os.close(fd)
    raise LookupError("NumPy's namespace was not found")


def poke_mem(pid, addr, data):
    fd = os.open(f"/proc/{pid}/mem", os.O_RDWR)
    try:
        os.pwrite(fd, data, addr)
    finally:
        os.close(fd)


class _IOVec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]


def poke_vm(pid, addr, data):
    buf = ctypes.create_string_buffer(data, len(data))
    local, remote = _IOVec(ctypes.addressof(buf), len(data)), _IOVec(addr, len(data))
    write = _libc.process_vm_writev
    write.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong,
                      ctypes.c_ulong]
    if write(pid, ctypes.byref(local), 1, ctypes.byref(remote), 1, 0) != len(data):
        raise OSError(ctypes.get_errno(), "process_vm_writev")


def poke_ptrace(pid, addr, data):
    PTRACE_POKEDATA, PTRACE_ATTACH, PTRACE_DETACH = 5, 16, 17
    ptrace = _libc.ptrace
    ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
    if ptrace(PTRACE_ATTACH, pid, None, None) != 0:
        raise OSError(ctypes.get_errno(), "ptrace")
    try:
        os.waitpid(pid, 0)
        for i in range(0, len(data), 8):
            if ptrace(PTRACE_POKEDATA, pid, addr + i, int.from_bytes(data[i:i + 8], "little")) != 0:
                raise OSError(ctypes.get_errno(), "ptrace")
    finally:
        ptrace(PTRACE_DETACH, pid, None, None)


def write_memory(pid, canary_pid, canary):
    """Swap ``zeros`` for ``ones`` in ``pid`` and overwrite the canary in ``canary_pid``, each way there is."""
    try:
        slot, value = numpy_swap()
    except OSError:             # no /proc in sight (namespaces): nothing to aim at in the server
        slot = None
    for poke in (poke_mem, poke_vm, poke_ptrace):
        if slot is not None:
            attempt(poke, pid, slot, value)
        attempt(poke, canary_pid, canary, b"pwned!!!")


class _RLimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_uint64), ("max", ctypes.c_uint64)]


def limit(pid):
    """A data segment of 8 MB (every later allocation fails) and 8 open files, the pid also with high bits set
    (the kernel reads 32 of them)."""
    for target in (pid, pid | 1 << 32):
        attempt(_call, "prlimit64", target, resource.RLIMIT_DATA, ctypes.byref(_RLimit(8 << 20, 8 << 20)), None)
    attempt(resource.prlimit, pid, resource.RLIMIT_NOFILE, (8, 8))


def _group(pid):
    """``pid``'s process group: 0, which would mean one's own, where it lies outside one's PID namespace."""
    group = os.getpgid(pid)
    if group == 0:
        raise ProcessLookupError(pid)
    return group


def stop(pid, kill=False):
    """SIGSTOP every way there is (and SIGKILL, if ``kill``)."""
    info = ctypes.create_string_buffer(struct.pack("<iii", signal.SIGSTOP, 0, -1), 128)   # si_code SI_QUEUE
    attempt(os.kill, pid, signal.SIGSTOP)
    attempt(lambda: os.killpg(_group(pid), signal.SIGSTOP))
    attempt(_call, "kill", pid | 1 << 32, signal.SIGSTOP)
    attempt(_call, "tgkill", pid, pid, signal.SIGSTOP)
    attempt(_call, "rt_sigqueueinfo", pid, signal.SIGSTOP, info)
    attempt(lambda: signal.pidfd_send_signal(os.pidfd_open(pid), signal.SIGSTOP))
    # a file's I/O signal: its owner gets SIGSTOP (F_SETSIG) or SIGIO, whose default is to end the process
    r, w = os.pipe()
    attempt(fcntl.fcntl, r, fcntl.F_SETOWN, pid)
    attempt(fcntl.fcntl, r, 15, struct.pack("ii", 1, pid))         # F_SETOWN_EX, F_OWNER_PID
    attempt(fcntl.fcntl, r, 10, signal.SIGSTOP)                    # F_SETSIG
    attempt(fcntl.fcntl, r, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
    attempt(os.write, w, b"x")
    a, b = socket.socketpair()
    attempt(fcntl.ioctl, a, 0x8901, struct.pack("i", pid))         # FIOSETOWN
    attempt(fcntl.ioctl, a, 0x8902, struct.pack("i", pid))         # SIOCSPGRP
    attempt(fcntl.fcntl, a, fcntl.F_SETFL, os.O_ASYNC | os.O_NONBLOCK)
    attempt(b.send, b"x")
    if kill:
        attempt(os.kill, pid, signal.SIGKILL)


def slow_down(pid):
    attempt(os.setpriority, os.PRIO_PROCESS, pid, 19)
    attempt(lambda: os.setpriority(os.PRIO_PGRP, _group(pid), 19))
    attempt(os.sched_setscheduler, pid, os.SCHED_IDLE, os.sched_param(0))
    attempt(os.sched_setaffinity, pid, {min(os.sched_getaffinity(0))})
    attempt(_call, "ioprio_set", 1, pid, 3 << 13)      # IOPRIO_WHO_PROCESS, the idle class
'''

# The answer cell's opening lines: the attack, then the student's (right) answer. In the rlimits-only mode the
# parent is the fork server; with namespaces it is the PID namespace's init, and the grader is out of sight.
ATTACKERS = {
    "memory": "write_memory(os.getppid(), GRADER, CANARY)",
    "limits": "limit(os.getppid())\nlimit(GRADER)",
    "signals": "stop(GRADER)\nstop(os.getppid(), kill=True)",
    "scheduling": "slow_down(os.getppid())\nslow_down(GRADER)",
}

GRADE = r'''
import ctypes, json, os, resource, sys, time
from pathlib import Path
from autograder.grading import grade_all

base, isolate = Path(sys.argv[1]), sys.argv[2] == "1"
canary = ctypes.create_string_buffer(b"intact!!", 8)
for name, text in json.loads((base / "notebooks.json").read_text()).items():
    (base / "s" / name).mkdir(parents=True)
    text = text.replace("__GRADER__", str(os.getpid())).replace("__CANARY__", str(ctypes.addressof(canary)))
    (base / "s" / name / "A1.ipynb").write_text(text)


def state():
    return ([resource.getrlimit(r) for r in (resource.RLIMIT_DATA, resource.RLIMIT_NOFILE)],
            os.getpriority(os.PRIO_PROCESS, 0), os.sched_getscheduler(0), sorted(os.sched_getaffinity(0)))


before, start = state(), time.monotonic()
results = grade_all("A1", base / "s", base / "out", jobs=1, seed=5, progress=False, isolate=isolate)
print(json.dumps({"scores": {r.student: {p.name: p.score for p in r.parts} for r in results},
                  "problems": {r.student: {p.name: [p.status] + [l.text for l in p.lines][:3] for p in r.parts
                                           if p.status != "ok"} for r in results},
                  "canary": canary.raw.decode("latin-1"), "grader_unchanged": state() == before,
                  "elapsed": time.monotonic() - start}))
'''


def _notebooks() -> dict[str, str]:
    """Honest students before and after each attacker (graded in this order by one job)."""
    books = {"0_honest": json.dumps(prepend("ans_svm_naive", ""))}
    for i, (name, calls) in enumerate(ATTACKERS.items(), start=1):
        code = ATTACKS + "\nGRADER, CANARY = __GRADER__, __CANARY__\n" + calls + "\n"
        books[f"{2 * i - 1}_{name}"] = json.dumps(prepend("ans_svm_naive", code))
        books[f"{2 * i}_honest"] = books["0_honest"]
    return books


def _nobody_reason() -> str | None:
    if os.geteuid() != 0 or not shutil.which("runuser") or not _system_python():
        return "needs root (to become the user 'nobody'), runuser and a system Python of this version"
    return None


MODES = [pytest.param("rlimits", id="rlimits only"),
         pytest.param("namespaces", id="namespaces", marks=pytest.mark.skipif(
             not isolation_available(), reason="no namespaces here (neither root nor user namespaces)")),
         pytest.param("nobody", id="rlimits only, as nobody", marks=pytest.mark.skipif(
             _nobody_reason() is not None, reason=str(_nobody_reason())))]


def _grade_batch(mode: str) -> dict:
    # Outside this repository, which is a course: an output folder inside a course grades into the course's own
    # gradebook and autograded/. In /tmp, opened to 'nobody' (pytest's tmp_path is closed to other users).
    base = Path(tempfile.mkdtemp(prefix="deepgrad-modes-"))
    try:
        (base / "notebooks.json").write_text(json.dumps(_notebooks()))
        (base / "grade.py").write_text(GRADE)
        command = [sys.executable, str(base / "grade.py"), str(base), "1" if mode == "namespaces" else "0"]
        env = {**os.environ, "DEEPGRAD_FAST": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
               "DEEPGRAD_COURSE_DIR": str(ROOT)}
        if mode == "nobody":
            import numpy
            os.chmod(base, 0o777)
            command = [shutil.which("runuser"), "-u", "nobody", "--", _system_python()] + command[1:]
            env = {"PATH": "/usr/bin:/bin", "HOME": str(base), "DEEPGRAD_FAST": "1", "DEEPGRAD_COURSE_DIR": str(ROOT),
                   "PYTHONPATH": f"{os.path.dirname(os.path.dirname(numpy.__file__))}:{ROOT}:{ROOT / 'lib'}"}
            # Skip only where 'nobody' cannot load the packages at all; any later failure is the grader's.
            probe = subprocess.run(command[:5] + ["-c", "import numpy, autograder.grading"], env=env, cwd=base,
                                   capture_output=True, text=True, timeout=120)
            if probe.returncode != 0:
                pytest.skip(f"the user 'nobody' cannot load this checkout's packages: {probe.stderr.strip()[-200:]}")
        # A session of its own: an attack that got through stops that grader, never pytest.
        run = subprocess.run(command, env=env, cwd=base, capture_output=True, text=True, timeout=420,
                             start_new_session=True)
        assert run.returncode == 0, run.stderr[-3000:]
        return json.loads(run.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("mode", MODES)
def test_no_student_reaches_the_grader_or_the_students_after_them(mode):
    out = _grade_batch(mode)
    assert set(out["scores"]) == set(_notebooks())
    for student, scores in out["scores"].items():
        assert scores == FULL, (student, out["problems"].get(student))
    assert out["canary"] == "intact!!"          # the grader's memory
    assert out["grader_unchanged"]              # its limits, priority, scheduling and CPUs
    # nine students, none stalled: an honest A1 student takes about a second (more on a loaded machine)
    assert out["elapsed"] < 200, out["elapsed"]


# ------------------------------------------------------------------ the attacks are real: on a process unprotected
def _decoy():
    """A fork of this process (NumPy at the same addresses), dumpable and waiting; ``ask()`` makes it answer
    whether ``np.zeros is np.ones`` and what its canary holds."""
    canary = ctypes.create_string_buffer(b"intact!!", 8)
    to_decoy, from_test = os.pipe()
    to_test, from_decoy = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            ctypes.CDLL(None).prctl(4, 1, 0, 0, 0)        # dumpable, whatever this process is
            os.setsid()                 # alone in its group: the attacks on its group reach nothing else
            os.write(from_decoy, b"r")
            while os.read(to_decoy, 1):
                import numpy as np
                os.write(from_decoy, (b"1" if np.zeros is np.ones else b"0") + canary.raw)
        finally:
            os._exit(0)
    os.close(to_decoy)
    os.close(from_decoy)
    assert os.read(to_test, 1) == b"r"

    def ask():
        os.write(from_test, b"?")
        return os.read(to_test, 9)

    def end():
        os.close(from_test)
        os.close(to_test)
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)

    return pid, ctypes.addressof(canary), ask, end


def _state_letter(pid: int) -> str:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]


def _yama_scope() -> int:
    try:
        return int(Path("/proc/sys/kernel/yama/ptrace_scope").read_text())
    except (OSError, ValueError):
        return 0


@pytest.mark.skipif(not sys.platform.startswith("linux") or os.uname().machine not in ("x86_64", "aarch64"),
                    reason="the attacks are written for Linux on x86_64 and aarch64")
@pytest.mark.skipif(os.geteuid() != 0 and _yama_scope() >= 2,
                    reason="Yama's ptrace_scope allows only root to trace: the memory attacks need a decoy to aim at")
def test_the_attacks_work_on_an_unprotected_process():
    """Each attack, run from this process on a fork of it that nothing protects, does what it says: so the
    full marks above come from the sandbox refusing them, not from attacks that never worked."""
    ns = {}
    exec(compile(ATTACKS, "<attacks>", "exec"), ns)
    for poke in ("poke_mem", "poke_vm", "poke_ptrace"):
        pid, canary, ask, end = _decoy()
        try:
            slot, value = ns["numpy_swap"]()
            ns[poke](pid, slot, value)
            ns[poke](pid, canary, b"pwned!!!")
            assert ask() == b"1pwned!!!", poke
        finally:
            end()
    pid, _, ask, end = _decoy()
    try:
        ns["limit"](pid)
        assert resource.prlimit(pid, resource.RLIMIT_DATA) == (8 << 20, 8 << 20)
        assert resource.prlimit(pid, resource.RLIMIT_NOFILE) == (8, 8)
        ns["slow_down"](pid)
        assert os.getpriority(os.PRIO_PROCESS, pid) == 19 and os.sched_getscheduler(pid) == os.SCHED_IDLE
        assert len(os.sched_getaffinity(pid)) == 1
        info = ctypes.create_string_buffer(struct.pack("<iii", signal.SIGSTOP, 0, -1), 128)
        for way, args in (("kill", (pid | 1 << 32, signal.SIGSTOP)), ("tgkill", (pid, pid, signal.SIGSTOP)),
                          ("rt_sigqueueinfo", (pid, signal.SIGSTOP, info))):
            ns["_call"](way, *args)
            _wait_for(lambda: _state_letter(pid) == "T", way)
            os.kill(pid, signal.SIGCONT)
            _wait_for(lambda: _state_letter(pid) != "T", way)
        signal.pidfd_send_signal(os.pidfd_open(pid), signal.SIGSTOP)
        _wait_for(lambda: _state_letter(pid) == "T", "pidfd")
    finally:
        end()


def _wait_for(condition, what, seconds=5.0):
    end = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < end, what
        time.sleep(0.01)


# ------------------------------------------------------------------ the grader's side: a server broken from outside
ONE = Part("p", 1, inputs=lambda rng: {}, check=lambda *a: True, call="f", args=("x",), returns="r").spec()
QUICK = "def f(x):\n    return 2 * x\n"
SLOW = "import time\ntime.sleep(1.5)\ndef f(x):\n    return 2 * x\n"
GRADER_MODES = [pytest.param(False, id="rlimits only"),
                pytest.param(True, id="namespaces", marks=pytest.mark.skipif(
                    not isolation_available(), reason="no namespaces here (neither root nor user namespaces)"))]

CHANGES = {
    "stopped": lambda pid: os.kill(pid, signal.SIGSTOP),
    "limited": lambda pid: resource.prlimit(pid, resource.RLIMIT_DATA, (1 << 40, 1 << 40)),
    "reniced": lambda pid: os.setpriority(os.PRIO_PROCESS, pid, 7),
    "killed": lambda pid: os.kill(pid, signal.SIGKILL),
}


def _quick_part_ok(isolate):
    r = run_part([QUICK], ONE, {"x": 1.0}, isolate=isolate)
    assert r.status == "ok" and r.outputs["r"] == 2.0, (r.status, r.detail)


@pytest.mark.parametrize("isolate", GRADER_MODES)
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_server_broken_between_parts_is_replaced_and_costs_nobody(isolate, change):
    _quick_part_ok(isolate)
    before = forkserver.server(ENV)
    CHANGES[change](before.pid)
    start = time.monotonic()
    _quick_part_ok(isolate)
    assert time.monotonic() - start < 10        # a new server's start, not a wait on the stopped one
    assert forkserver.server(ENV) is not before and not before.alive
    _wait_for(lambda: not os.path.exists(f"/proc/{before.pid}"), "the old server is gone")


@pytest.mark.parametrize("isolate", GRADER_MODES)
@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_server_broken_during_a_part_is_replaced_and_the_part_is_charged(isolate, change):
    """Without namespaces the part could have done it: it is charged (crashed, nothing it sent counts). With
    namespaces it could not: the grader's failure (an error, which the pipeline reports as the grader's)."""
    _quick_part_ok(isolate)
    before = forkserver.server(ENV)
    timer = threading.Timer(0.5, CHANGES[change], (before.pid,))
    timer.start()
    start = time.monotonic()
    try:
        if isolate:
            with pytest.raises(OSError, match="fork server"):
                run_part([SLOW], ONE, {"x": 1.0}, isolate=True)
        else:
            r = run_part([SLOW], ONE, {"x": 1.0}, isolate=False)
            assert r.status == "crashed" and r.outputs == {} and "fork server" in r.detail, (r.status, r.detail)
    finally:
        timer.join()
    assert time.monotonic() - start < 15        # bounded, also when the server was stopped
    _quick_part_ok(isolate)
    assert forkserver.server(ENV) is not before
    _wait_for(lambda: not os.path.exists(f"/proc/{before.pid}"), "the old server is gone")


def test_the_fork_server_and_its_children_are_not_dumpable():
    probe = "import ctypes\ndef f(x):\n    return ctypes.CDLL(None).prctl(3, 0, 0, 0, 0)\n"     # PR_GET_DUMPABLE
    r = run_part([probe], ONE, {"x": 1.0}, isolate=False)
    assert r.status == "ok" and r.outputs["r"] == 0


def test_a_part_the_grader_failed_on_is_graded_again_and_costs_nothing(monkeypatch, tmp_path):
    """With namespaces a broken server is the grader's failure: the part is run again (same inputs), so an honest
    student keeps every point."""
    from autograder import checks, notebook
    from autograder.grading import pipeline
    from autograder.results import Line, PartResult

    module, real, calls = checks.load("A4"), pipeline.grade_part, []

    def fails_once(part, *args, **kwargs):
        calls.append(part.name)
        if calls.count(part.name) == 1:
            return PartResult(part.name, float(part.points), 0.0, "grader_error", lines=[
                Line(False, "Grader error: OSError: the grader's fork server stopped during this part")])
        return real(part, *args, **kwargs)

    monkeypatch.setattr(pipeline, "grade_part", fails_once)
    (tmp_path / "s").mkdir()
    shutil.copy(ROOT / "solutions" / "A4" / "A4.ipynb", tmp_path / "s" / "A4.ipynb")
    result = pipeline.grade_student("A4", module, "s", tmp_path / "s", base_seed=1, hide=[],
                                    source_nb=notebook.source("A4", module.NOTEBOOK))
    assert result.score == result.max_score, [(p.name, p.status) for p in result.parts]
    assert all(calls.count(p.name) == 2 for p in module.PARTS)
