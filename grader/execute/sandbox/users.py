"""Who a kernel runs as: a fresh user id per run (drawn from ids no account uses, noted in a
registry so a later grader can sweep what a killed one left), or a named user; the folders
handed to it, and how many processes it may start."""

from __future__ import annotations

import grp
import os
import pwd
import secrets
import tempfile
import threading
from pathlib import Path

from grader.execute.sandbox.cgroups import new_group
from grader.execute.sandbox.enforcement import Enforcement, KernelUser
from grader.settings import SandboxLimits

FRESH_UIDS = (1_700_000_000, 100_000_000)  # (first, how many): ids no account on the machine uses

REGISTRY = "grader-kernel-users"  # in the temporary folder: one file per fresh user id in use, naming its grader


_fresh_in_use: set[int] = set()
_fresh_lock = threading.Lock()


def kernel_user(enforcement: Enforcement) -> KernelUser | None:
    """The user one kernel runs as (a fresh id per call with ``user: auto``), with a cgroup of its
    own when the plan caps each kernel; None: the grader's."""
    if enforcement.user is None:
        return None
    group = new_group(enforcement.cgroup) if enforcement.cgroup else None
    if enforcement.user != "auto":
        entry = pwd.getpwnam(enforcement.user)
        return KernelUser(entry.pw_uid, entry.pw_gid, enforcement.user, fresh=False, group=group)
    first, count = FRESH_UIDS
    with _fresh_lock:
        while True:
            uid = first + secrets.randbelow(count)
            if uid in _fresh_in_use or _account_exists(uid):
                continue
            _fresh_in_use.add(uid)
            _register(uid)
            return KernelUser(uid, uid, "grader-kernel", fresh=True, group=group)


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
