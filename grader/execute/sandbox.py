"""Containment for the student's kernel, with what a plain Linux machine offers (no Docker).

Layers, applied in the kernel's process between fork and exec (``preexec``):
- resource limits (setrlimit): address space, CPU seconds, processes, size of a written file,
  no core dumps; everything the kernel starts inherits them;
- no network: a new, empty network namespace (only a loopback that is down), when the grader
  may create one (root, or unprivileged user namespaces); the kernel then talks to the grader
  over Unix sockets, which a network namespace does not cut;
- an unprivileged user: when the grader runs as root, the kernel runs as a user id of its own
  (a fresh one per run, in no group; or a named user such as ``nobody``), so files readable only
  by their owner (the gradebook, a 0o700 output folder) are out of its reach and two kernels
  cannot signal or trace each other;
- a private mount and IPC namespace (root only): System V shared memory and semaphores are the
  kernel's own and vanish with it; ``/proc`` shows the kernel only its own processes (not
  the grader's command line, which names the assignment and output folders), and a folder the
  kernel's user cannot enter (``/root`` holding a pyenv Python) is replaced by an empty one that
  holds only the Python installation the kernel needs.
``plan`` finds what this machine allows by trying it; ``Enforcement.describe`` says it, for the
report header. What each layer does and does not protect is in docs/security.md.
"""

from __future__ import annotations

import atexit
import ctypes
import grp
import os
import pwd
import resource
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from grader.settings import GiB, MiB, SandboxLimits

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
FRESH_UIDS = (1_700_000_000, 100_000_000)  # (first, how many): ids no account on the machine uses
SCRATCH = (
    "/tmp",
    "/var/tmp",
    "/dev/shm",
    "/run/lock",
    "/var/lock",
    "/dev/mqueue",
)  # where world-writable folders usually are
REGISTRY = "grader-kernel-users"  # in the temporary folder: one file per fresh user id in use, naming its grader


def size_text(value: int) -> str:
    """``4 GiB``, ``512 MiB``, ``100 kB``: how a size is shown in messages."""
    for unit, scale in (("GiB", GiB), ("MiB", MiB)):
        if value >= scale and value % (scale // 4) == 0:
            return f"{value / scale:g} {unit}"
    if value >= 1_000_000:
        return f"{value / 1_000_000:g} MB"
    return f"{value / 1000:g} kB" if value >= 1000 else f"{value} bytes"


@dataclass(frozen=True)
class Enforcement:
    """What the sandbox enforces on this machine (``plan``)."""

    limits: bool = True
    network: str = "open"  # "isolated" | "allowed" (the assignment allows it) | "open" (could not isolate)
    user: str | None = None  # "auto" (an id of its own per run), a user name, or None (the grader's user)
    mounts: bool = False  # private mount namespace: /proc shows only the kernel's own processes
    expose: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (folder replaced by an empty one, what it keeps)
    userns: bool = False  # not root: the network namespace comes with a user namespace
    grader_user: str = field(default_factory=lambda: _user_name(os.geteuid()))
    notes: tuple[str, ...] = ()  # why a layer is not enforced

    @property
    def network_isolated(self) -> bool:
        return self.network == "isolated"

    def describe(self, limits: SandboxLimits | None = None) -> str:
        """One line for the report header: what held the kernel, and what did not."""
        limits = limits or SandboxLimits()
        processes = f"{limits.processes} processes" if self.user or os.geteuid() != 0 else "no process limit (root)"
        parts = [
            f"{size_text(limits.memory)} memory, {limits.cpu_seconds} s CPU, {processes}, files up to {size_text(limits.file_size)}"
        ]
        parts.append({"isolated": "no network", "allowed": "network allowed by the assignment"}.get(
            self.network, "network NOT isolated"))  # fmt: skip
        if self.user == "auto":
            parts.append("runs as an unprivileged user of its own")
        elif self.user:
            parts.append(f"runs as {self.user}")
        else:
            parts.append(f"runs as the grader's user ({self.grader_user})")
        if self.mounts:
            parts.append("other processes and shared memory hidden")
        text = "sandbox: " + "; ".join(parts)
        return text + (f" (not enforced: {'; '.join(self.notes)})" if self.notes else "")


@dataclass(frozen=True)
class KernelUser:
    """Who one kernel runs as."""

    uid: int
    gid: int
    name: str
    fresh: bool  # an id of its own: every process and scratch file it owns is removed after the run


# ---------------------------------------------------------------------------------------------
# What this machine allows


@lru_cache(maxsize=8)
def plan(network_allowed: bool = False, user: str = "auto") -> Enforcement:
    """What can be enforced here, found by trying it (in a throwaway child process, then by
    running Python inside the planned sandbox once). Cached: once per grader process."""
    as_root = os.geteuid() == 0
    if not sys.platform.startswith("linux"):
        return Enforcement(
            network="allowed" if network_allowed else "open",
            notes=("network, user and /proc: this is not Linux; only the resource limits apply",),
        )
    try:
        works = _try_namespaces(as_root, not network_allowed)
    except OSError as exc:
        works = {"net": False, "net_error": f"could not try: {exc}", "mounts": False}
    notes = []
    network = "allowed" if network_allowed else "open"
    if not network_allowed:
        if works["net"]:
            network = "isolated"
        else:
            notes.append(f"network ({works['net_error'] or 'a new network namespace is not allowed here'})")
    mounts = as_root and works["mounts"]
    target, expose = None, ()
    if as_root:
        target, note = _target_user(user)
        if note:
            notes.append(note)
        if target is not None:
            uid, gids = _ids_of(target)
            blocked = [path for path in kernel_paths() if not _reachable(path, uid, gids)]
            if blocked and mounts:
                expose = _exposures(blocked, uid, gids)
            elif blocked:
                notes.append(
                    f"user: {target if target != 'auto' else 'an unprivileged user'} cannot reach the kernel's Python at"
                    f" {blocked[0]} and the grader may not remount it, so the kernel runs as root"
                )
                target = None
    else:
        notes.append(f"user: the grader is not root, so the kernel runs as its user ({_user_name(os.geteuid())})")
    candidates = [
        Enforcement(network=network, user=target, mounts=mounts, expose=expose, userns=not as_root and network == "isolated"),
        Enforcement(network=network, userns=not as_root and network == "isolated"),  # without the user and /proc
        Enforcement(network="open" if network == "isolated" else network),  # only the resource limits
    ]  # fmt: skip
    for candidate in candidates:
        failure = _smoke_test(candidate) if candidate.user or candidate.mounts or candidate.network_isolated else None
        if failure is None:
            return replace(candidate, notes=tuple(notes))
        notes.append(f"sandbox: {failure}")  # e.g. seccomp forbids what the first try said worked
    return replace(candidates[-1], notes=tuple(notes))


def kernel_paths() -> list[str]:
    """Folders the kernel's Python reads: its installation and packages (not the grader's own
    source folder, which may hold rubrics), and the temporary folder its run folder is in."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    paths.add(tempfile.gettempdir())
    return sorted(os.path.realpath(path) for path in paths if os.path.isdir(path))


def _try_namespaces(as_root: bool, network: bool) -> dict:
    """Forks a child that tries each namespace; its exit code's bits say what worked."""
    libc = _Libc()
    scratch = tempfile.gettempdir().encode()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child only reports through its exit code and the pipe
        code = 0
        try:
            os.close(read)
            if network:
                flags = CLONE_NEWNET if as_root else CLONE_NEWUSER | CLONE_NEWNET
                if libc.unshare(flags) == 0:
                    code |= 1
                else:
                    os.write(write, os.strerror(ctypes.get_errno()).encode()[:200])
            if (
                as_root
                and libc.unshare(CLONE_NEWNS | CLONE_NEWIPC) == 0
                and libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None) == 0
            ):
                proc = libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"hidepid=invisible")
                tmpfs = libc.mount(b"tmpfs", scratch, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=0755")
                if proc == 0 and tmpfs == 0:
                    code |= 2
        finally:
            os._exit(code)
    os.close(write)
    with os.fdopen(read, "rb") as stream:
        message = stream.read().decode(errors="replace")
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    code = code if code >= 0 else 0
    return {"net": bool(code & 1), "net_error": message, "mounts": bool(code & 2)}


def _target_user(user: str) -> tuple[str | None, str | None]:
    if user == "auto":
        return "auto", None
    if user == "root":
        return None, "user: the assignment runs kernels as root (sandbox.user: root)"
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None, f"user: there is no user {user!r} on this machine, so the kernel runs as root"
    if entry.pw_uid == 0:
        return None, f"user: {user!r} is root"
    return user, None


def _ids_of(target: str) -> tuple[int, set[int]]:
    if target == "auto":
        return FRESH_UIDS[0], set()
    entry = pwd.getpwnam(target)
    return entry.pw_uid, {entry.pw_gid}


def _reachable(path: str, uid: int, gids: set[int]) -> bool:
    """Whether ``uid`` (in groups ``gids``) may enter every folder on the way to ``path`` (mode bits)."""
    current = Path("/")
    for part in Path(path).parts[1:]:
        current = current / part
        try:
            info = os.stat(current)
        except OSError:
            return True  # not there: nothing to expose
        if not stat.S_ISDIR(info.st_mode):
            break
        if info.st_uid == uid:
            bit = stat.S_IXUSR
        elif info.st_gid in gids:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _exposures(blocked: list[str], uid: int, gids: set[int]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """For each closed folder on the way to a blocked path: (that folder, the paths kept inside)."""
    found: dict[str, set[str]] = {}
    for path in blocked:
        current = Path("/")
        for part in Path(path).parts[1:]:
            current = current / part
            if not _reachable(str(current), uid, gids):
                found.setdefault(str(current), set()).add(path)
                break
    outer = sorted(found)
    kept = [
        folder for folder in outer if not any(folder.startswith(other + os.sep) for other in outer if other != folder)
    ]
    result = []
    for folder in kept:
        paths = sorted(found[folder])
        paths = [path for path in paths if not any(path.startswith(other + os.sep) for other in paths if other != path)]
        result.append((folder, tuple(paths)))
    return tuple(result)


def _smoke_test(enforcement: Enforcement) -> str | None:
    """Runs ``python -c`` once in the planned sandbox; the reason it failed, or None."""
    work = Path(tempfile.mkdtemp(prefix=f"grader-check-{os.getpid()}-"))
    who = kernel_user(enforcement)
    try:
        if who is not None:
            os.chmod(work, 0o711)
        code = "import json, encodings.idna, socket; print('ok')"
        try:
            done = subprocess.run(
                [sys.executable, "-I", "-c", code], cwd=str(work), env={"PATH": os.defpath, "HOME": str(work)},
                capture_output=True, timeout=60, preexec_fn=preexec(SandboxLimits(), enforcement, who),
            )  # fmt: skip
        except (OSError, subprocess.SubprocessError) as exc:
            return f"could not start Python in the sandbox: {exc}"
        if done.returncode != 0 or b"ok" not in done.stdout:
            detail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [f"exit code {done.returncode}"]
            return f"Python does not run in the sandbox: {detail[0][:200]}"
        return None
    finally:
        release(who)
        shutil.rmtree(work, ignore_errors=True)


def readable_by_kernels(paths: list[Path], enforcement: Enforcement) -> list[Path]:
    """Which of ``paths`` (a rubric, a solution, the output folder) a kernel could read anyway:
    files every user on the machine may read. For a warning before a batch: chmod them o-rwx."""
    if enforcement.user is None:
        return [path for path in paths if path.exists()]  # the kernel runs as the grader's user
    uid, gids = _ids_of(enforcement.user)
    found = []
    for path in paths:
        try:
            info = path.stat()
        except OSError:
            continue
        bit = stat.S_IRUSR if info.st_uid == uid else stat.S_IRGRP if info.st_gid in gids else stat.S_IROTH
        if info.st_mode & bit and _reachable(str(path.parent), uid, gids):
            found.append(path)
    return found


# ---------------------------------------------------------------------------------------------
# One kernel: its user, its containment, the cleanup after it


_fresh_in_use: set[int] = set()
_fresh_lock = threading.Lock()


def kernel_user(enforcement: Enforcement) -> KernelUser | None:
    """The user one kernel runs as (a fresh id per call with ``user: auto``); None: the grader's."""
    if enforcement.user is None:
        return None
    if enforcement.user != "auto":
        entry = pwd.getpwnam(enforcement.user)
        return KernelUser(entry.pw_uid, entry.pw_gid, enforcement.user, fresh=False)
    first, count = FRESH_UIDS
    with _fresh_lock:
        while True:
            uid = first + secrets.randbelow(count)
            if uid in _fresh_in_use or _account_exists(uid):
                continue
            _fresh_in_use.add(uid)
            _register(uid)
            return KernelUser(uid, uid, "grader-kernel", fresh=True)


def _account_exists(uid: int) -> bool:
    try:
        pwd.getpwuid(uid)
        return True
    except KeyError:
        pass
    try:
        grp.getgrgid(uid)
        return True
    except KeyError:
        return False


def hand_over(path: Path, who: KernelUser | None) -> None:
    """Gives ``path`` (a folder of the run, and what it holds) to the kernel's user."""
    if who is None:
        return
    for folder, dirs, files in os.walk(path):
        os.chown(folder, who.uid, who.gid)
        for name in files:
            os.chown(os.path.join(folder, name), who.uid, who.gid, follow_symlinks=False)


def process_allowance(limits: SandboxLimits, who: KernelUser | None) -> int:
    """RLIMIT_NPROC for the kernel. The limit counts every process and thread of the kernel's user:
    a fresh user starts at zero, a shared one (``nobody``, the grader's own) at what it already runs."""
    if who is not None and who.fresh:
        return limits.processes
    return limits.processes + _tasks_of(who.uid if who is not None else os.getuid())


def _tasks_of(uid: int) -> int:
    count = 0
    if not os.path.isdir("/proc"):
        return 0
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid == uid:
                count += len(os.listdir(f"/proc/{entry.name}/task"))
        except OSError:
            continue
    return count


def preexec(
    limits: SandboxLimits,
    enforcement: Enforcement,
    who: KernelUser | None,
    processes: int | None = None,
    die_with_parent: bool = True,
):
    """The function run in the kernel's process between fork and exec. ``die_with_parent``: the
    process gets SIGKILL when the grader thread that started it ends (a kernel: its run's thread).

    Everything it needs is prepared here, in the grader: the child only makes system calls (no
    imports, no locks), as a child forked from a threaded process must.
    """
    libc = _Libc()
    # Each limit at most what the grader itself may have (a limit above one's own hard limit fails).
    nproc = _within(resource.RLIMIT_NPROC, processes or limits.processes)
    memory, size = (
        _within(resource.RLIMIT_AS, int(limits.memory)),
        _within(resource.RLIMIT_FSIZE, int(limits.file_size)),
    )
    cpu, cpu_hard = (
        _within(resource.RLIMIT_CPU, int(limits.cpu_seconds)),
        _within(resource.RLIMIT_CPU, int(limits.cpu_seconds) + 5),
    )
    as_root = os.geteuid() == 0
    unshare = 0
    if enforcement.network == "isolated":
        unshare |= CLONE_NEWNET if as_root else CLONE_NEWUSER | CLONE_NEWNET
    if enforcement.mounts:
        unshare |= CLONE_NEWNS | CLONE_NEWIPC  # a private System V IPC: no shared memory outlives the run
    maps = None
    if unshare & CLONE_NEWUSER:  # the kernel keeps its own ids inside the new user namespace
        uid, gid = os.getuid(), os.getgid()
        maps = (f"{uid} {uid} 1".encode(), f"{gid} {gid} 1".encode())
    exposures = [
        (folder.encode(), [(path, path.encode()) for path in paths]) for folder, paths in enforcement.expose
    ]  # fmt: skip

    def contain() -> None:  # pragma: no cover - runs in the child process
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu_hard))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if unshare:
            _check(libc.unshare(unshare), "unshare")
        if maps is not None:
            _write("/proc/self/setgroups", b"deny")
            _write("/proc/self/uid_map", maps[0])
            _write("/proc/self/gid_map", maps[1])
        if enforcement.mounts:
            _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
            for folder, paths in exposures:
                handles = [os.open(path, os.O_PATH | os.O_DIRECTORY) for path, _ in paths]
                _check(
                    libc.mount(b"tmpfs", folder, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=0755"), "mount tmpfs"
                )
                for (path, raw), handle in zip(paths, handles):
                    os.makedirs(path, mode=0o755, exist_ok=True)
                    source = b"/proc/self/fd/%d" % handle
                    _check(libc.mount(source, raw, None, MS_BIND | MS_REC, None), "mount --bind")
                    os.close(handle)
            flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
            _check(libc.mount(b"proc", b"/proc", b"proc", flags, b"hidepid=invisible"), "mount proc")
        if who is not None:
            os.setgroups([])
            os.setgid(who.gid)
            os.setuid(who.uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid programs (sudo, su) gain nothing
        if die_with_parent:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the grader's death ends the kernel

    return contain


def _within(limit: int, value: int) -> int:
    hard = resource.getrlimit(limit)[1]
    return value if hard == resource.RLIM_INFINITY else min(value, hard)


def _check(result: int, what: str) -> None:  # pragma: no cover - runs in the child process
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{what}: {os.strerror(number)}")


def _write(path: str, data: bytes) -> None:  # pragma: no cover - runs in the child process
    handle = os.open(path, os.O_WRONLY)
    try:
        os.write(handle, data)
    finally:
        os.close(handle)


def release(who: KernelUser | None) -> None:
    """After the run: a fresh user's processes are killed and its files in every world-writable
    folder removed (nothing it started survives the run); then its id is free again."""
    if who is None or not who.fresh:
        return
    try:
        _clear_user(who.uid)
    finally:
        with _fresh_lock:
            _fresh_in_use.discard(who.uid)
        _registry().joinpath(str(who.uid)).unlink(missing_ok=True)


def _clear_user(uid: int) -> None:
    _kill_all(uid)
    for folder in world_writable():
        _remove_owned(Path(folder), uid)


@lru_cache(maxsize=1)
def world_writable() -> tuple[str, ...]:
    """Folders any user may write in: the usual ones, and any other directly under /, /var, /run
    and /dev (found once per grader process)."""
    found = set()
    candidates = list(SCRATCH) + [tempfile.gettempdir()]
    for parent in ("/", "/var", "/run", "/dev"):
        try:
            candidates += [entry.path for entry in os.scandir(parent) if entry.is_dir(follow_symlinks=False)]
        except OSError:
            continue
    for path in candidates:
        try:
            info = os.stat(path, follow_symlinks=False)
        except OSError:
            continue
        if stat.S_ISDIR(info.st_mode) and info.st_mode & stat.S_IWOTH:
            found.add(os.path.realpath(path))
    return tuple(sorted(found))


def _registry() -> Path:
    return Path(tempfile.gettempdir()) / REGISTRY


def _register(uid: int) -> None:
    """Notes which grader process holds ``uid`` (its pid and start time), for ``sweep_stale``."""
    if os.geteuid() != 0:
        return
    folder = _registry()
    folder.mkdir(mode=0o700, exist_ok=True)
    folder.joinpath(str(uid)).write_text(f"{os.getpid()} {_started(os.getpid())}", encoding="utf-8")


def _started(pid: int) -> str:
    """A process's start time (clock ticks after boot): with the pid, names one process for good."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stream:
            return stream.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _alive_process(pid: int, started: str) -> bool:
    return bool(started) and _started(pid) == started


@atexit.register
def _release_all() -> None:
    """At the grader's exit (a second Ctrl-C, SIGTERM turned into one): the kernel users still in
    use and this process's run folders go, though their runs never reached their own cleanup."""
    for uid in list(_fresh_in_use):
        _clear_user(uid)
        _registry().joinpath(str(uid)).unlink(missing_ok=True)
    for folder in Path(tempfile.gettempdir()).glob(f"grader-*-{os.getpid()}-*"):
        shutil.rmtree(folder, ignore_errors=True)


def sweep_stale() -> list[str]:
    """What earlier graders left when they were killed: every process and file of a fresh kernel
    user whose grader is gone, and their run folders. Run at the start of a batch; returns what
    was removed, for the console."""
    swept = []
    folder = _registry()
    for entry in sorted(folder.glob("*")) if folder.is_dir() else []:
        try:
            pid, started = entry.read_text(encoding="utf-8").split()
            uid = int(entry.name)
        except (OSError, ValueError):
            continue
        if _alive_process(int(pid), started) or not FRESH_UIDS[0] <= uid < sum(FRESH_UIDS):
            continue
        _clear_user(uid)
        entry.unlink(missing_ok=True)
        swept.append(f"kernel user {uid} of grader process {pid}")
    for stale in Path(tempfile.gettempdir()).glob("grader-*-*-*"):
        pid = stale.name.split("-")[2]
        if stale.is_dir() and pid.isdigit() and not Path(f"/proc/{pid}").exists():
            shutil.rmtree(stale, ignore_errors=True)
            swept.append(str(stale))
    return swept


def _kill_all(uid: int) -> None:
    """SIGKILL to every process of ``uid``, sent as ``uid`` (so no other process can be hit, even
    if a process id is reused meanwhile), repeated while any is left: a fork bomb may be forking
    while the first round lands."""
    for _ in range(100):
        if not _alive(uid):
            return
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child only signals and exits
            try:
                os.setgroups([])
                os.setgid(uid)
                os.setuid(uid)
                os.kill(-1, signal.SIGKILL)  # every process this user may signal: its own
            finally:
                os._exit(0)
        os.waitpid(pid, 0)
        time.sleep(0.01)


def _alive(uid: int) -> bool:
    """Whether a process (not a zombie) of ``uid`` is running."""
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            with open(f"/proc/{entry.name}/stat", "rb") as stream:
                state = stream.read().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != b"Z":
            return True
    return False


def _remove_owned(folder: Path, uid: int) -> None:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
            if info.st_uid != uid:
                continue
            if stat.S_ISDIR(info.st_mode):
                shutil.rmtree(entry.path, ignore_errors=True)
            else:
                os.unlink(entry.path)
        except OSError:
            continue


# ---------------------------------------------------------------------------------------------


class _Libc:
    """The C library functions the sandbox calls, looked up once in the grader (never in a child)."""

    _functions = None

    def __init__(self) -> None:
        if _Libc._functions is None:
            libc = ctypes.CDLL(None, use_errno=True)
            unshare, mount, prctl = (getattr(libc, name, None) for name in ("unshare", "mount", "prctl"))
            if mount is not None:
                mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
            if prctl is not None:
                prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
            else:
                prctl = lambda *args: 0  # noqa: E731 - not Linux: nothing to set
            _Libc._functions = (unshare, mount, prctl)
        self.unshare, self.mount, self.prctl = _Libc._functions


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


_MEMORY_WORDS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory", "pthread_create")


def _memory_death(number: int, log_tail: str) -> bool:
    return number in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS) and any(word in log_tail for word in _MEMORY_WORDS)


def limit_ended(returncode: int | None, log_tail: str = "") -> bool:
    """Whether a kernel's end is one of the limits the grader set (CPU time, file size, memory).

    A notebook can send itself these signals and print these words, so facts saved before such an
    end are still flagged for review; an exit code, SIGKILL or SIGTERM never counts."""
    if returncode is None or returncode >= 0:
        return False
    number = -returncode
    return number in (signal.SIGXCPU, signal.SIGXFSZ) or _memory_death(number, log_tail)


def exit_reason(returncode: int | None, limits: SandboxLimits, log_tail: str = "") -> str:
    """Why a kernel process ended, in the words of the limits it was given."""
    if returncode is None:
        return "it stopped answering"
    if returncode >= 0:
        return f"the kernel process exited with code {returncode} (the notebook ended it, e.g. os._exit or exit())"
    number = -returncode
    try:
        name = signal.Signals(number).name
    except ValueError:
        name = f"signal {number}"
    if any(word in log_tail for word in _MEMORY_WORDS):
        return f"it exceeded the {size_text(limits.memory)} memory limit ({name})"
    if number == signal.SIGXCPU:
        return f"it used up its {limits.cpu_seconds} s of CPU time ({name})"
    if number == signal.SIGXFSZ:
        return f"it wrote a file larger than the {size_text(limits.file_size)} limit ({name})"
    if number == signal.SIGKILL:
        return f"it was killed ({name}): the machine ran out of memory, or it went past its CPU time limit"
    if number in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS):
        return f"it crashed ({name}); a library that cannot get memory under the {size_text(limits.memory)} limit crashes this way"
    return f"it was stopped by {name}"


__all__ = [
    "Enforcement", "KernelUser", "SandboxLimits", "exit_reason", "hand_over", "kernel_user", "limit_ended", "plan", "preexec",
    "process_allowance", "readable_by_kernels", "release", "size_text", "sweep_stale", "world_writable",
]  # fmt: skip
