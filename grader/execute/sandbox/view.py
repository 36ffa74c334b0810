"""The kernel's view of the file system, with bubblewrap (``bwrap``, Debian package ``bubblewrap``).

Inside it the kernel sees its run folders (read-write), the Python it runs (the venv, the
interpreter it was made from, every folder on its import path) and the system's programs and
libraries (read-only), and private, size-limited ``/tmp``, ``/var/tmp`` and ``/dev/shm``: nothing
else, whatever the permissions of the rest (the assignment folder, the rubric, the solution,
the other submissions, the output folder, the grader's own checkout). bubblewrap runs after the
other layers (``containment.preexec``: limits, the user switch, the namespaces), as the kernel's
user, so it adds to them and replaces none.

``GRADER_BUBBLEWRAP=0`` turns it off (the other layers alone, as on a machine without it).
"""

from __future__ import annotations

import os
import shutil
import sys
import sysconfig
import tempfile
from functools import lru_cache
from pathlib import Path

from grader.execute.sandbox.enforcement import Enforcement
from grader.settings import SandboxLimits

SWITCH = "GRADER_BUBBLEWRAP"  # "0" (or off, no, false): the kernel runs without bubblewrap
SYSTEM = ("/usr",)  # read-only: programs and libraries
SYSTEM_LINKS = ("/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")  # symbolic links into /usr on most systems
ETC = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "localtime", "timezone", "passwd", "group", "nsswitch.conf",
    "hosts", "host.conf", "resolv.conf", "gai.conf", "protocols", "services", "ssl", "ca-certificates",
    "ca-certificates.conf", "fonts", "mime.types", "alternatives", "os-release", "matplotlibrc",
)  # fmt: skip  # what libraries read of /etc (the dynamic linker, time zone, certificates, fonts)
HARDWARE = ("/sys/devices/system/cpu",)  # how many cores: numpy, TensorFlow and PyTorch size their pools by it
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")  # private to the kernel, each at most ``file_size``


def bubblewrap_program() -> tuple[str | None, str]:
    """The ``bwrap`` program to use, or None and why not."""
    if os.environ.get(SWITCH, "").strip().lower() in ("0", "off", "no", "false"):
        return None, f"bubblewrap is turned off ({SWITCH}={os.environ[SWITCH]})"
    program = shutil.which("bwrap")
    if program is None:
        return None, "bubblewrap is not installed (apt-get install bubblewrap)"
    return program, ""


def installation() -> set[str]:
    """The Python the kernel runs (real paths): the venv, the interpreter it was made from, their
    standard library and packages."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(sysconfig.get_paths()[key] for key in ("stdlib", "platstdlib", "purelib", "platlib"))
    return {os.path.realpath(path) for path in paths}


@lru_cache(maxsize=1)
def python_paths() -> tuple[str, ...]:
    """The folders of the kernel's Python: its installation, the one it was made from, and every
    folder on its import path (a ``.pth`` file may add another environment's packages), but
    nothing of the grader's own checkout (its rubrics, assignments and tests) except a venv inside
    it, and nothing of the temporary folder (the run folders of other kernels) but the installation
    itself (a venv made under /tmp)."""
    installed = installation()
    paths = installed | {os.path.realpath(entry) for entry in sys.path if entry and os.path.isabs(entry)}
    source = Path(__file__).resolve().parents[3]  # the folder that holds the ``grader`` package
    checkout = str(source) if (source / "pyproject.toml").is_file() else None  # not an installed package
    scratch = os.path.realpath(tempfile.gettempdir())
    kept = set()
    for path in paths:
        if not os.path.isdir(path) or _within(path, scratch) and not _inside_any(path, installed):
            continue
        if checkout and (_within(checkout, path) or _within(path, checkout) and not _inside_any(path, installed)):
            continue
        kept.add(path)
    return tuple(sorted(path for path in kept if not _inside_any(path, kept - {path})))


def in_view(path: Path) -> bool:
    """Whether ``path`` is inside what bubblewrap shows the kernel read-only."""
    real = os.path.realpath(path)
    shown = [*SYSTEM, *python_paths(), *(f"/etc/{name}" for name in ETC)]
    return any(_within(real, folder) for folder in shown)


def view_command(
    program: str, enforcement: Enforcement, limits: SandboxLimits, writable: list[Path], workdir: Path,
    read_only: tuple[str, ...] = (), die_with_parent: bool = True,
) -> list[str]:  # fmt: skip
    """The ``bwrap`` command line (ending in ``--``) that runs a program in the kernel's view:
    ``writable`` (its run folders) read-write, ``read_only`` besides the system and Python.
    ``die_with_parent``: it ends with the grader thread that starts it (a kernel: its run's)."""
    args = [program]
    for folder in SYSTEM:
        args += ["--ro-bind", folder, folder]
    for link in SYSTEM_LINKS:
        if os.path.islink(link):
            args += ["--symlink", os.readlink(link), link]
        elif os.path.isdir(link):
            args += ["--ro-bind", link, link]
    shown = [*SYSTEM, *python_paths()]
    extra = [path for path in map(os.path.realpath, read_only) if not any(_within(path, done) for done in shown)]
    in_scratch = [path for path in python_paths() if any(_within(path, folder) for folder in SCRATCH)]
    for path in [*(f"/etc/{name}" for name in ETC), *HARDWARE, *(p for p in python_paths() if p not in in_scratch)]:
        args += ["--ro-bind-try", path, path]
    args += ["--proc", "/proc", "--dev", "/dev"]
    for folder in SCRATCH:
        args += ["--size", str(int(limits.file_size)), "--perms", "1777", "--tmpfs", folder]
    for path in [*in_scratch, *extra]:  # after the private /tmp, which would hide one inside it
        args += ["--ro-bind-try", path, path]
    for folder in writable:
        args += ["--bind", str(folder), str(folder)]
    # In its own process namespace the kernel's parent is bubblewrap's pid 1, which ipykernel takes
    # for its parent's exit: no parent polling; bubblewrap and the grader end it (--die-with-parent).
    args += ["--unsetenv", "JPY_PARENT_PID", "--chdir", str(workdir)]
    if die_with_parent:
        args.append("--die-with-parent")
    args += ["--unshare-ipc", "--unshare-pid", "--cap-drop", "ALL"]
    # A user namespace of its own in which no further one may be made (the usual way in to a
    # kernel exploit); outside it the kernel is still its own user.
    args += ["--unshare-user", "--disable-userns"]
    if enforcement.network_isolated:
        args.append("--unshare-net")
    return args + ["--"]


def confine(km, enforcement: Enforcement, limits: SandboxLimits, writable: list[Path], workdir: Path) -> None:
    """Makes the kernel manager ``km`` start its kernel in the kernel's view, when the plan uses
    bubblewrap: its command is prefixed with ``bwrap`` (the kernel spec's folder also shown). A
    kernel spec that names a Python other than the grader's finds it missing in the view and says
    so when the kernel does not start: its folder could be anything, a course folder included."""
    if enforcement.bubblewrap is None:
        return
    spec = km.kernel_spec.resource_dir
    prefix = view_command(enforcement.bubblewrap, enforcement, limits, writable, workdir, (spec,) if spec else ())
    command = km.format_kernel_cmd
    km.format_kernel_cmd = lambda extra_arguments=None: prefix + command(extra_arguments)


def _within(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def _inside_any(path: str, folders) -> bool:
    return any(_within(path, folder) for folder in folders)
