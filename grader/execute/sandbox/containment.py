"""The kernel's containment, applied in its process between fork and exec (``preexec``): resource
limits, namespaces, private mounts, the user switch."""

from __future__ import annotations

import ctypes
import os
import resource
import signal

from grader.execute.sandbox.cgroups import set_limits
from grader.execute.sandbox.enforcement import Enforcement, KernelUser
from grader.settings import GiB, SandboxLimits

CLONE_NEWNS = 0x00020000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x2, 0x4, 0x8
MS_BIND, MS_REC, MS_PRIVATE = 0x1000, 0x4000, 0x40000
PR_SET_PDEATHSIG, PR_SET_NO_NEW_PRIVS = 1, 38
ADDRESS_ROOM = 8 * GiB  # address space beyond ``memory`` for libraries' code: TensorFlow with CUDA PyTorch maps 4.2 GiB
SIG_IGN = 1  # the C library's handler value for an ignored signal, inherited across exec


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
    nproc = _within(resource.RLIMIT_NPROC, processes or limits.processes)
    if who is not None and who.group:
        set_limits(who.group, limits, limits.processes)
    joins = f"{who.group}/cgroup.procs" if who is not None and who.group else None
    rlimits = _rlimits(limits)
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
        if joins is not None:
            _write(joins, b"0")  # into the kernel's cgroup, while still root
        for which, soft, hard in rlimits:
            resource.setrlimit(which, (soft, hard))
        if unshare:
            _check(libc.unshare(unshare), "unshare")
        if maps is not None:
            _write("/proc/self/setgroups", b"deny")
            _write("/proc/self/uid_map", maps[0])
            _write("/proc/self/gid_map", maps[1])
        if enforcement.mounts:
            _mount_private(libc, exposures)
        if who is not None:
            os.setgroups([])
            os.setgid(who.gid)
            os.setuid(who.uid)
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)  # setuid programs (sudo, su) gain nothing
        if die_with_parent:
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # the grader's death ends the kernel
        if enforcement.bubblewrap:  # bwrap outlives an interrupt sent to the process group; the kernel handles it
            libc.signal(signal.SIGINT, SIG_IGN)

    return contain


def _rlimits(limits: SandboxLimits) -> list[tuple[int, int, int]]:
    """(limit, soft, hard) for the kernel, set before it drops its privileges; each at most what the
    grader itself may have (a limit above one's own hard limit fails).

    ``memory`` caps the memory the kernel writes (RLIMIT_DATA: heap, arrays, tensors, thread stacks),
    not its address space: a library's code and reserved ranges use no memory, yet PyTorch's CUDA
    build maps 3.4 GiB of them on a machine without a GPU. Shared mappings escape RLIMIT_DATA, so the
    address space stays capped ``ADDRESS_ROOM`` above it."""
    memory = _within(resource.RLIMIT_DATA, int(limits.memory))
    address = _within(resource.RLIMIT_AS, int(limits.memory) + ADDRESS_ROOM)
    size = _within(resource.RLIMIT_FSIZE, int(limits.file_size))
    cpu = _within(resource.RLIMIT_CPU, int(limits.cpu_seconds))
    cpu_hard = _within(resource.RLIMIT_CPU, int(limits.cpu_seconds) + 5)
    return [
        (resource.RLIMIT_DATA, memory, memory),
        (resource.RLIMIT_AS, address, address),
        (resource.RLIMIT_CPU, cpu, cpu_hard),
        (resource.RLIMIT_FSIZE, size, size),
        (resource.RLIMIT_CORE, 0, 0),
    ]


def _mount_private(libc: _Libc, exposures: list[tuple[bytes, list[tuple[str, bytes]]]]) -> None:  # pragma: no cover
    """In the child, in its new mount namespace: each closed folder replaced by an empty one that
    holds only what the kernel needs of it, and a ``/proc`` that shows only its own processes."""
    _check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount --make-rprivate /")
    for folder, paths in exposures:
        handles = [os.open(path, os.O_PATH | os.O_DIRECTORY) for path, _ in paths]
        _check(libc.mount(b"tmpfs", folder, b"tmpfs", MS_NOSUID | MS_NODEV, b"size=64k,mode=0755"), "mount tmpfs")
        for (path, raw), handle in zip(paths, handles):
            os.makedirs(path, mode=0o755, exist_ok=True)
            source = b"/proc/self/fd/%d" % handle
            _check(libc.mount(source, raw, None, MS_BIND | MS_REC, None), "mount --bind")
            os.close(handle)
    flags = MS_NOSUID | MS_NODEV | MS_NOEXEC
    _check(libc.mount(b"proc", b"/proc", b"proc", flags, b"hidepid=invisible"), "mount proc")


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


class _Libc:
    """The C library functions the sandbox calls, looked up once in the grader (never in a child)."""

    _functions = None

    def __init__(self) -> None:
        if _Libc._functions is None:
            libc = ctypes.CDLL(None, use_errno=True)
            unshare, mount, prctl, handler = (
                getattr(libc, name, None) for name in ("unshare", "mount", "prctl", "signal")
            )  # fmt: skip
            if handler is not None:
                handler.argtypes, handler.restype = (ctypes.c_int, ctypes.c_void_p), ctypes.c_void_p
            if mount is not None:
                mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p)
            if prctl is not None:
                prctl.argtypes = (ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong)
            else:
                prctl = lambda *args: 0  # noqa: E731 - not Linux: nothing to set
            _Libc._functions = (unshare, mount, prctl, handler)
        self.unshare, self.mount, self.prctl, self.signal = _Libc._functions
