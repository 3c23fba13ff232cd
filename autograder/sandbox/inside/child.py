"""The program that runs inside the sandbox (never imported by the grader: the fork server compiles its text).

It runs in a fresh fork of the fork server (``inside/server.py``: ``python -I -S`` with NumPy imported, already
in the server's pids cgroup) and receives ``PAYLOAD`` on stdin: the run plan (``sandbox/plan.py``) as JSON, read
here by the plan's field names. Every time in it is final: nothing here derives a limit from another.

Order matters: first confine the process (namespaces, rlimits, capabilities), then install the system-call
filter (no new processes, no memfd, no SysV IPC, no keyring, no reaching another process), and only then run
the student's answer cells, each under its own time budget, then the driver under the part's, then send the
outputs back as an .npz over the results channel (the original stdout). Progress ("cell 3 starts", "cells
done") goes to the grader on a second pipe, so that the grader, on its own clock, knows which cell a killed
process was stuck in. From the moment student code runs nothing in this process is trusted: the grader treats
what comes back as plain data and checks it itself.
"""
import builtins
import ctypes
import io
import json
import os
import resource
import signal
import struct
import sys
import threading
import time
import types

P = PAYLOAD  # noqa: F821  (injected by the bootstrap)
MAGIC = b"DGRESULT1"


# -------------------------- namespaces (root, or any user through a user namespace)
CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID, CLONE_NEWUSER = 0x00020000, 0x40000000, 0x20000000, 0x10000000
CLONE_NEWIPC, CLONE_THREAD = 0x08000000, 0x00010000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18


def _isolate(iso, own, numpy_dirs):
    """New mount, network, IPC and PID namespaces: a private tmpfs for the work dir, the rest read-only, secrets
    hidden, no SysV IPC shared with the host, and no other process in sight (the student's code cannot signal
    the grader or anyone else)."""
    libc = ctypes.CDLL(None, use_errno=True)

    def call(result, what):
        if result != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"{what}: {os.strerror(err)}")

    root = iso["root"]
    uid, gid = os.getuid(), os.getgid()
    # Not root: a user namespace of our own lets us build the others (same user and group ids inside).
    user = CLONE_NEWUSER if uid != 0 else 0
    call(libc.unshare(user | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC), "unshare")
    if user:
        for name, text in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
            with open(f"/proc/self/{name}", "w") as f:
                f.write(text)
    _enter_pid_namespace()
    call(libc.mount(b"none", b"/", None, MS_REC | MS_PRIVATE, None), "make-private /")
    # NumPy may live under the directory about to be covered (a venv in /tmp): hold on to it first
    numpy_fds = {src: os.open(src, os.O_PATH | os.O_DIRECTORY) for src in numpy_dirs}
    _minimal_dev(call, libc, root)
    # A fresh tmpfs over the temporary directory hides the other students' sandboxes and other runs' files;
    # ours is rebuilt in it.
    opts = f"size={iso['tmpfs_bytes']},mode=0700".encode()
    call(libc.mount(b"tmpfs", root.encode(), b"tmpfs", MS_NOSUID | MS_NODEV, opts), "tmpfs")
    for src, fd in numpy_fds.items():
        dst = os.path.join(own, "site", os.path.basename(src))
        os.makedirs(dst)
        call(libc.mount(f"/proc/self/fd/{fd}".encode(), dst.encode(), None, MS_BIND | MS_REC, None), f"bind {src}")
        os.close(fd)
    os.chdir(own)
    with open("/proc/self/mountinfo") as f:
        mounts = [line.split()[4].replace("\\040", " ") for line in f]
    for mp in mounts:
        if mp != root:
            # a user namespace may only add restrictions: keep the mount's own flags, add read-only
            libc.mount(None, mp.encode(), None, MS_REMOUNT | MS_BIND | MS_RDONLY | _locked_flags(mp), None)
    for path in iso["hide"]:
        if os.path.isdir(path):
            call(libc.mount(b"tmpfs", path.encode(), b"tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
                            b"size=4k,mode=0555"), f"hide {path}")
    return libc


# The only devices the child sees: what Python and NumPy may open. The host's /dev holds doors that outlive a part
# (a loop device bound to a file stays bound, and every free one can be taken) or reach the machine itself
# (/dev/kvm, /dev/mem, the consoles); none of them is in the child's /dev.
_DEVICES = ("null", "zero", "full", "random", "urandom")
_DEV_LINKS = {"fd": "/proc/self/fd", "stdin": "/proc/self/fd/0", "stdout": "/proc/self/fd/1",
              "stderr": "/proc/self/fd/2"}


def _minimal_dev(call, libc, root):
    """Cover the host's /dev with a small tmpfs holding only ``_DEVICES`` (each bind-mounted from the host's
    node, so no device is created and the tmpfs itself stays nodev), the usual links and an empty ``shm``
    (hidden like before); the later remount of every mount makes it and its nodes read-only."""
    nodes = {}
    for name in _DEVICES:
        try:
            nodes[name] = os.open(f"/dev/{name}", os.O_PATH)
        except OSError:
            pass                        # a host without it: the child goes without it too
    call(libc.mount(b"tmpfs", b"/dev", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=64k,mode=0755"), "tmpfs /dev")
    os.mkdir("/dev/shm")
    if root.startswith("/dev/"):
        os.makedirs(root, exist_ok=True)        # the temporary directory itself lives in /dev (TMPDIR=/dev/shm)
    for name, target in _DEV_LINKS.items():
        os.symlink(target, f"/dev/{name}")
    for name, fd in nodes.items():
        os.close(os.open(f"/dev/{name}", os.O_CREAT | os.O_WRONLY, 0o666))
        call(libc.mount(f"/proc/self/fd/{fd}".encode(), f"/dev/{name}".encode(), None, MS_BIND, None), f"bind /dev/{name}")
        os.close(fd)
    call(libc.mount(None, b"/dev", None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, None),
         "read-only /dev")


def _locked_flags(mount_point) -> int:
    """The mount's nosuid/nodev/noexec/atime flags, as mount(2) wants them back on a remount."""
    try:
        st = os.statvfs(mount_point).f_flag
    except OSError:
        return 0
    pairs = ((os.ST_NOSUID, MS_NOSUID), (os.ST_NODEV, MS_NODEV), (os.ST_NOEXEC, MS_NOEXEC),
             (os.ST_NOATIME, 1024), (os.ST_NODIRATIME, 2048), (os.ST_RELATIME, 1 << 21))
    return sum(ms for st_flag, ms in pairs if st & st_flag)


def _enter_pid_namespace():
    """Only children join a new PID namespace: fork its process 1, a trusted init, which forks the process
    that goes on to run the student's code, and let this process wait.

    The init dies with this process (PR_SET_PDEATHSIG), which the grader kills at the deadline; when the init
    ends the kernel kills everything left in the namespace, so nothing the student starts (setsid() and all)
    outlives the part. The init cannot be signalled from inside its namespace (it installs no handlers), and
    no outside process is visible from within."""
    PR_SET_PDEATHSIG, PR_SET_DUMPABLE = 1, 4
    pid = os.fork()
    if pid:
        _wait_and_exit(pid)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    worker = os.fork()
    if worker:
        _wait_and_exit(worker, reap=True)


def _wait_and_exit(pid, reap=False):
    """Wait for ``pid`` (reaping any other child on the way, as an init must) and exit with its status."""
    while True:
        done, status = os.waitpid(-1 if reap else pid, 0)
        if done == pid:
            break
    os._exit(os.waitstatus_to_exitcode(status) % 256 if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))


def _drop_capabilities(libc):
    PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 24, 38
    for cap in range(64):
        libc.prctl(PR_CAPBSET_DROP, cap, 0, 0, 0)

    class Header(ctypes.Structure):
        _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]

    class Data(ctypes.Structure):
        _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32),
                    ("inheritable", ctypes.c_uint32)]

    if libc.capset(ctypes.byref(Header(0x20080522, 0)), (Data * 2)()) != 0:
        raise OSError(ctypes.get_errno(), "capset")
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


# -------------------------- the system-call filter (any user: it needs no privilege)
# Refused with EPERM: new processes (fork, vfork, clone without CLONE_THREAD), exec, memfd files, SysV IPC,
# the kernel keyring, tracing other processes, namespaces and mounts, and a few other kernel doors a graded
# function never needs. clone3 answers ENOSYS, so that the C library falls back to clone for threads.
# One process per part means that the rlimits are the part's limits: no fork gets a fresh address space.
# Allowed on this process only (``_OWN_ONLY``): signals, limits, priorities, scheduling, CPU affinity, page
# placement. Without namespaces the part runs as the grader's user and sees its fork server, the grader and
# the other parts graded beside it: it can signal, stop, limit, slow down or pin none of them.
_OWN_ONLY = (   # (system call, (argument, allowed values)...): all must hold, else EPERM
    ("kill", (0, "group")), ("tgkill", (0, "self")), ("rt_sigqueueinfo", (0, "self")),
    ("rt_tgsigqueueinfo", (0, "self")), ("prlimit64", (0, "self")),
    ("setpriority", (0, (0,)), (1, "self")),            # PRIO_PROCESS only (no group, no user)
    ("ioprio_set", (0, (1,)), (1, "self")),             # IOPRIO_WHO_PROCESS only
    ("sched_setparam", (0, "self")), ("sched_setscheduler", (0, "self")), ("sched_setaffinity", (0, "self")),
    ("sched_setattr", (0, "self")), ("migrate_pages", (0, "self")), ("move_pages", (0, "self")),
)
# Refused for these values of an argument (EPERM), allowed otherwise: an owner for a file's I/O signals
# (fcntl F_SETOWN, F_SETSIG, F_SETOWN_EX; ioctl FIOSETOWN, SIOCSPGRP) would let a write on a pipe or a socket
# send any signal to any process of the grader's user, past every rule above.
_REFUSED_VALUES = (("fcntl", 1, (8, 10, 15)), ("ioctl", 1, (0x8901, 0x8902)))
_BLOCKED = {
    "x86_64": dict(arch=0xC000003E, clone=56, clone3=435, fcntl=72, ioctl=16, own=dict(
        kill=62, tgkill=234, rt_sigqueueinfo=129, rt_tgsigqueueinfo=297, prlimit64=302, setpriority=141,
        ioprio_set=251, sched_setparam=142, sched_setscheduler=144, sched_setaffinity=203, sched_setattr=314,
        migrate_pages=256, move_pages=279), nrs=(
        200, 434, 424, 312, 448,        # tkill pidfd_open pidfd_send_signal kcmp process_mrelease
        57, 58, 59, 322,                # fork vfork execve execveat
        319, 447,                       # memfd_create memfd_secret
        29, 64, 68, 240,                # shmget semget msgget mq_open
        248, 249, 250,                  # add_key request_key keyctl
        101, 310, 311, 438, 440,        # ptrace process_vm_readv/writev pidfd_getfd process_madvise
        272, 308, 165, 166, 155, 161,   # unshare setns mount umount2 pivot_root chroot
        428, 429, 430, 431, 432, 433, 442,  # open_tree move_mount fsopen fsconfig fsmount fspick mount_setattr
        321, 298, 323, 425, 426, 427,   # bpf perf_event_open userfaultfd io_uring_*
        246, 320, 175, 313, 176, 167, 168, 169, 163)),  # kexec_* modules swap reboot acct
    "aarch64": dict(arch=0xC00000B7, clone=220, clone3=435, fcntl=25, ioctl=29, own=dict(
        kill=129, tgkill=131, rt_sigqueueinfo=138, rt_tgsigqueueinfo=240, prlimit64=261, setpriority=140,
        ioprio_set=30, sched_setparam=118, sched_setscheduler=119, sched_setaffinity=122, sched_setattr=274,
        migrate_pages=238, move_pages=239), nrs=(
        130, 434, 424, 272, 448,
        221, 281, 279, 447, 194, 190, 186, 180, 217, 218, 219, 117, 270, 271, 438, 440,
        97, 268, 40, 39, 41, 51, 428, 429, 430, 431, 432, 433, 442, 280, 241, 282, 425, 426, 427,
        104, 294, 105, 273, 106, 224, 225, 142, 89)),
}


def _filter_system_calls():
    """Install the seccomp filter; returns False where this machine's architecture has no table here."""
    table = _BLOCKED.get(os.uname().machine)
    if table is None:
        return False

    class Insn(ctypes.Structure):
        _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte),
                    ("k", ctypes.c_uint32)]

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Insn))]

    LD, JEQ, JGE, JSET, RET = 0x20, 0x15, 0x35, 0x45, 0x06
    ALLOW, KILL, EPERM, ENOSYS = 0x7FFF0000, 0x80000000, 0x00050001, 0x00050026
    prog = [(LD, 0, 0, 4), (JEQ, 1, 0, table["arch"]), (RET, 0, 0, KILL), (LD, 0, 0, 0)]
    if table["arch"] == 0xC000003E:
        prog += [(JGE, 0, 1, 0x40000000), (RET, 0, 0, EPERM)]           # the x32 ABI: none of it
    for nr in table["nrs"]:
        prog += [(JEQ, 0, 1, nr), (RET, 0, 0, EPERM)]
    # A pid argument is an int to the kernel: compare the low 32 bits of the 64 (at 16 + 8 * argument, both
    # tables being little-endian), so that no high bits slip another process's pid past the filter.
    pid, group = os.getpid(), os.getpgrp()     # the group: 0 where it lies outside a PID namespace
    allowed = {"self": {0, pid}, "group": {0, pid} | ({-group & 0xFFFFFFFF} if group > 0 else set())}
    for name, *checks in _OWN_ONLY:
        body = []
        for arg, values in checks:
            values = sorted(allowed[values] if isinstance(values, str) else values)
            body.append((LD, 0, 0, 16 + 8 * arg))
            body += [(JEQ, len(values) - i, 0, v) for i, v in enumerate(values)]    # a match: the next check
            body.append((RET, 0, 0, EPERM))
        body.append((RET, 0, 0, ALLOW))
        prog += [(JEQ, 0, len(body), table["own"][name])] + body
    for name, arg, values in _REFUSED_VALUES:      # the command is an unsigned int: its low 32 bits
        body = [(LD, 0, 0, 16 + 8 * arg)]
        for v in values:
            body += [(JEQ, 0, 1, v), (RET, 0, 0, EPERM)]
        body.append((RET, 0, 0, ALLOW))
        prog += [(JEQ, 0, len(body), table[name])] + body
    prog += [(JEQ, 0, 1, table["clone3"]), (RET, 0, 0, ENOSYS),
             (JEQ, 0, 4, table["clone"]), (LD, 0, 0, 16), (JSET, 0, 1, CLONE_THREAD), (RET, 0, 0, ALLOW),
             (RET, 0, 0, EPERM), (RET, 0, 0, ALLOW)]
    insns = (Insn * len(prog))(*[Insn(*i) for i in prog])
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
    if libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(Prog(len(prog), insns)), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "seccomp")
    return True


def _limits(lim):
    def set_(which, value):
        resource.setrlimit(which, (value, value))

    resource.setrlimit(resource.RLIMIT_CPU, (lim["cpu_s"], lim["cpu_s"] + 1))  # SIGXCPU first, then SIGKILL
    set_(resource.RLIMIT_AS, lim["address_space_bytes"])
    set_(resource.RLIMIT_FSIZE, lim["file_size_bytes"])
    set_(resource.RLIMIT_NOFILE, lim["open_files"])
    set_(resource.RLIMIT_CORE, 0)
    if lim.get("nproc"):
        set_(resource.RLIMIT_NPROC, lim["nproc"])


def _numpy_from_own_site():
    """NumPy was imported by the fork server from its real directory, which the namespaces may hide; what it
    loads lazily from now on comes from the copy in ``own/site`` (a bind mount, or a link without namespaces)."""
    real, site = P["numpy_dirs"][0], os.path.join(P["own"], "site", "numpy")
    for name, module in list(sys.modules.items()):
        paths = getattr(module, "__path__", None) if name.split(".")[0] == "numpy" else None
        if isinstance(paths, list):
            module.__path__ = [site + p[len(real):] if p.startswith(real) else p for p in paths]


os.environ.update(P["environ"])
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a file over the size limit raises OSError instead of killing us
_libc = _isolate(P["isolate"], P["own"], P["numpy_dirs"]) if P.get("isolate") else None
if not P.get("isolate"):
    os.chdir(P["own"])
_limits(P["limits"])
# With namespaces or without: a root grader's part keeps user id 0 but not the privileges that pass the owner
# checks (tracing a process that is not dumpable, signalling anyone, raising limits, moving files' owners).
_drop_capabilities(_libc or ctypes.CDLL(None, use_errno=True))

# The results channel is the original stdout; the student's prints go nowhere.
_results = os.dup(1)
_progress = P["progress_fd"]
_devnull = os.open(os.devnull, os.O_WRONLY)
os.dup2(_devnull, 1)
sys.stdout = open(1, "w", closefd=False)
sys.path[:0] = [os.path.join(P["own"], "site")]
sys.dont_write_bytecode = True
_numpy_from_own_site()

import numpy as np  # noqa: E402  (imported by the fork server, before any student code was in the process)

FILTERED = _filter_system_calls()
MAX_TEXT = 500
messages = {"cell_errors": [], "cell_timeouts": [], "skipped": [], "error": None, "missing": [], "defined": [],
            "conversion": [], "timed_out": False, "filtered": FILTERED}


class Interrupted(BaseException):
    """Raised by the alarm when a cell or the call runs past its budget (not an Exception: plain
    ``except Exception`` in student code does not swallow it)."""


def _on_alarm(signum, frame):
    raise Interrupted()


signal.signal(signal.SIGALRM, _on_alarm)


def budget(seconds):
    signal.setitimer(signal.ITIMER_REAL, max(0.0, float(seconds)))


def progress(token):
    try:
        os.write(_progress, token.encode() + b"\n")
    except OSError:
        pass


def describe(exc):
    text = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return text if len(text) <= MAX_TEXT else text[:MAX_TEXT] + "..."


_sending = threading.Lock()


def send(out):
    """Send the outputs once (the main thread at the end, or the watchdog at the deadline, whichever comes
    first); False when the other one is already sending."""
    if not _sending.acquire(blocking=False):
        return False
    arrays = {}
    for key, value in out.items():
        try:
            arr = np.asarray(value)
            if arr.dtype.kind not in "biuf":
                raise TypeError(f"expected numbers, got {type(value).__name__} (dtype {arr.dtype})")
            arrays[str(key)] = np.array(arr, dtype=arr.dtype, copy=True)
        except BaseException as exc:
            messages["conversion"].append([str(key)[:100], describe(exc)])
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    blob, text = buf.getvalue(), json.dumps(messages, default=str).encode()
    data = MAGIC + struct.pack("<QQ", len(blob), len(text)) + blob + text
    view = memoryview(data)
    while view:
        view = view[os.write(_results, view):]
    return True


def load_inputs():
    """The part's inputs, which the grader sends on stdin only once the cells are done (so that no cell can
    read them: work done at the top level never sees the data it is judged on)."""
    head = _read_exactly(0, 8)
    blob = _read_exactly(0, struct.unpack("<Q", head)[0])
    inp = {}
    with np.load(io.BytesIO(blob), allow_pickle=False) as f:
        for key in f.files:
            a = f[key]
            inp[key] = a.item() if a.ndim == 0 else a  # 0-d arrays become Python scalars (or str)
    return inp


def _read_exactly(fd, n):
    parts = []
    while n:
        chunk = os.read(fd, min(n, 1 << 20))
        if not chunk:
            raise EOFError("the grader sent no inputs")
        parts.append(chunk)
        n -= len(chunk)
    return b"".join(parts)


def simple_driver(ns, inp, out, spec):
    fn = ns[spec["call"]]
    result = fn(*[inp[a] for a in spec["args"]], **{p: inp[k] for p, k in spec["kwargs"].items()})
    returns = spec["returns"]
    if isinstance(returns, list):
        if not isinstance(result, (tuple, list)) or len(result) != len(returns):
            got = f"{len(result)} values" if isinstance(result, (tuple, list)) else f"a {type(result).__name__}"
            raise ValueError(f"{spec['call']} returned {got}; expected a tuple of {len(returns)}: "
                             f"({', '.join(returns)})")
        for name, value in zip(returns, result, strict=True):
            store(out, name, value)
    else:
        store(out, returns, result)


def store(out, name, value):
    if isinstance(value, dict):
        for k, v in value.items():
            out[f"{name}/{k}"] = v
    else:
        out[name] = value


def count_calls(ns, counts):
    """Wrap the student's own functions so that the grader can see how often each one ran."""
    def wrap(name, fn):
        def wrapper(*args, **kwargs):
            counts[name] = counts.get(name, 0) + 1
            return fn(*args, **kwargs)
        wrapper.__name__, wrapper.__doc__, wrapper.__wrapped__ = fn.__name__, fn.__doc__, fn
        return wrapper

    for name, value in list(ns.items()):
        if isinstance(value, types.FunctionType) and value.__globals__ is ns:
            counts[name] = 0
            ns[name] = wrap(name, value)


def watchdog(out, counts, seconds):
    """When the call is still running just before the deadline (stuck in one long NumPy operation, which the
    alarm cannot interrupt), send what the driver has put in ``out`` so far and end the process."""
    time.sleep(seconds)
    if _sending.locked():
        return                  # the call has just finished and its results are on their way
    messages["timed_out"] = True
    for name, n in list(counts.items()):
        out[f"calls/{name}"] = n
    if send(dict(out)):
        os._exit(0)


def run_cells(ns):
    """Each answer cell under its own budget: one that raises or runs too long is reported and skipped, as
    Jupyter would interrupt it, and the next cell runs."""
    part, times = P["part"], P["times"]
    skip, short = set(part["skip"]), set(part["short"])
    for i, src in enumerate(part["cells"], start=1):
        if i in skip:
            messages["skipped"].append(i)
            continue
        progress(f"c{i}")
        try:
            budget(times["short_budget_s"] if i in short else times["cell_budget_s"])
            exec(compile(src, f"<answer cell {i}>", "exec"), ns)
            budget(0)
        except Interrupted:
            messages["cell_timeouts"].append(i)
        except BaseException as exc:
            budget(0)
            messages["cell_errors"].append([i, describe(exc)])
    budget(0)
    progress("C")


def main():
    spec, times = P["part"]["spec"], P["times"]
    out, counts = {}, {}
    try:
        ns = {"__name__": "__main__", "__builtins__": builtins, "np": np, "numpy": np}
        run_cells(ns)
        inp = load_inputs()
        messages["defined"] = sorted(k for k, v in ns.items()
                                     if not k.startswith("_") and callable(v) and k not in ("np", "numpy"))
        messages["missing"] = [n for n in spec["needs"] if n not in ns]
        if messages["missing"]:
            return
        if spec["count_calls"]:
            count_calls(ns, counts)
        budget(times["call_alarm_s"])    # short of the deadline: time left to send what came back by then
        threading.Thread(target=watchdog, args=(out, counts, times["watchdog_s"]), daemon=True).start()
        if spec["driver_src"]:
            env = {"np": np, "__builtins__": builtins, "__name__": "__driver__"}
            for src in spec["helpers_src"] + [spec["driver_src"]]:
                exec(compile(src, "<driver>", "exec"), env)
            env[spec["driver_name"]](ns, inp, out)
        else:
            simple_driver(ns, inp, out, spec)
        budget(0)
    except Interrupted:
        messages["timed_out"] = True
    except BaseException as exc:
        budget(0)
        messages["error"] = describe(exc)
    finally:
        budget(0)
        for name, n in counts.items():
            out[f"calls/{name}"] = n
        progress("D")
        if not send(out):
            # the watchdog is sending at the deadline: wait for it, it ends the process once its results are
            # out (returning here would reach os._exit below and cut its write short: "no results came back")
            _sending.acquire()


main()
os._exit(0)  # skip the student's atexit handlers and finalisers
