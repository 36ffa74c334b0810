"""What this machine allows (``plan``), found by trying it, and which files a kernel could read
anyway (``readable_by_kernels``). bubblewrap, where it works, is tried last: it adds a view of the
file system to whatever the other layers could enforce."""

from __future__ import annotations

import ctypes
import os
import pwd
import shutil
import stat
import subprocess
import sys
import tempfile
from dataclasses import replace
from functools import lru_cache
from pathlib import Path

from grader.execute.sandbox.cgroups import cgroup_parent
from grader.execute.sandbox.cleanup import release
from grader.execute.sandbox.containment import (
    CLONE_NEWIPC,
    CLONE_NEWNET,
    CLONE_NEWNS,
    CLONE_NEWUSER,
    MS_NODEV,
    MS_NOEXEC,
    MS_NOSUID,
    MS_PRIVATE,
    MS_REC,
    _Libc,
    preexec,
)  # fmt: skip
from grader.execute.sandbox.enforcement import Enforcement, _user_name
from grader.execute.sandbox.users import FRESH_UIDS, hand_over, kernel_user
from grader.execute.sandbox.view import bubblewrap_program, in_view, installation, view_command
from grader.settings import SandboxLimits


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
            return _with_view(_with_cgroup(replace(candidate, notes=tuple(notes))))
        notes.append(f"sandbox: {failure}")  # e.g. seccomp forbids what the first try said worked
    return _with_view(_with_cgroup(replace(candidates[-1], notes=tuple(notes))))


def _with_cgroup(enforcement: Enforcement) -> Enforcement:
    """The plan with a cgroup v2 cap per kernel when the machine has one and a kernel joins its
    group (the smoke test), else the plan as it is and why."""
    parent, why = cgroup_parent()
    if parent is not None and enforcement.user is None:
        why = "the kernel runs as the grader's user"
    elif parent is not None:
        capped = replace(enforcement, cgroup=str(parent))
        failure = _smoke_test(capped)
        if failure is None:
            return capped
        why = f"cgroup v2 fails here: {failure}"
    return replace(enforcement, notes=(*enforcement.notes, f"memory and processes per kernel: {why}"))


def _with_view(enforcement: Enforcement) -> Enforcement:
    """The plan with bubblewrap when it is installed and passes the smoke test (Python runs in
    the kernel's view and does not see a file outside it), else the plan as it is and why."""
    program, why = bubblewrap_program()
    if program is not None:
        viewed = replace(enforcement, bubblewrap=program)
        failure = _smoke_test(viewed)
        if failure is None:
            return viewed
        why = f"bubblewrap fails here: {failure}"
    note = f"file system view: {why}"
    return replace(enforcement, notes=(*enforcement.notes, note))


def kernel_paths() -> list[str]:
    """Folders the kernel's Python reads: its installation and packages (not the grader's own
    source folder, which may hold rubrics), and the temporary folder its run folder is in."""
    paths = installation() | {os.path.realpath(tempfile.gettempdir())}
    return sorted(path for path in paths if os.path.isdir(path))


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
    root = Path(tempfile.mkdtemp(prefix=f"grader-check-{os.getpid()}-"))
    work, outside = root / "work", root / "outside"
    work.mkdir()
    outside.write_text("not for the kernel")
    who = kernel_user(enforcement)
    try:
        if who is not None:
            os.chmod(root, 0o711)
        hand_over(work, who)
        code = "import json, encodings.idna, socket; print('ok')"
        if who is not None and who.group:
            code = (
                f"assert {os.path.basename(who.group)!r} in open('/proc/self/cgroup').read(), 'not in its cgroup'\n"
                + code
            )
        command = [sys.executable, "-I", "-c", code]
        if enforcement.bubblewrap:
            seen = f"import os\nassert not os.path.exists({str(outside)!r}), 'a file outside the view is visible'\n"
            command = view_command(enforcement.bubblewrap, enforcement, SandboxLimits(), [work], work)
            command += [sys.executable, "-I", "-c", seen + code]
        try:
            done = subprocess.run(
                command, cwd=str(work), env={"PATH": os.defpath, "HOME": str(work)},
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
        shutil.rmtree(root, ignore_errors=True)


def readable_by_kernels(paths: list[Path], enforcement: Enforcement) -> list[Path]:
    """Which of ``paths`` (a rubric, a solution, the output folder) a kernel could read anyway:
    files every user on the machine may read. For a warning before a batch: chmod them o-rwx."""
    if enforcement.bubblewrap:
        paths = [path for path in paths if in_view(path)]  # nothing else is in the kernel's view
    if enforcement.user is None:  # the kernel runs as the grader's user: what the grader may read
        return [path for path in paths if os.access(path, os.R_OK)]
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
