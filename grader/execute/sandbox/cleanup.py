"""Nothing of a kernel outlives its run: its fresh user's processes killed and its scratch files
removed after the run, at the grader's exit, and (``sweep_stale``) what a killed grader left."""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import stat
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from grader.execute.sandbox.cgroups import end_group, sweep_groups
from grader.execute.sandbox.enforcement import KernelUser
from grader.execute.sandbox.users import FRESH_UIDS, _alive_process, _fresh_in_use, _fresh_lock, _registry

SCRATCH = (
    "/tmp",
    "/var/tmp",
    "/dev/shm",
    "/run/lock",
    "/var/lock",
    "/dev/mqueue",
)  # where world-writable folders usually are


def release(who: KernelUser | None) -> None:
    """After the run: a fresh user's processes are killed and its files in every world-writable
    folder removed (nothing it started survives the run); then its id is free again. A kernel's
    cgroup (any user) ends with every process still in it."""
    if who is None:
        return
    try:
        if who.fresh:
            _clear_user(who.uid)
    finally:
        end_group(who.group)
        if who.fresh:
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
    return swept + sweep_groups()


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
