"""A per-kernel cap on memory and processes with cgroup v2, where the machine has it.

The resource limits are per process: a notebook that forks can use ``processes x memory`` in
all, and its ``/dev/shm`` and tmpfs pages count for no process. A cgroup of its own counts every
process the kernel starts and every page they use: ``memory.max`` is the sandbox's ``memory``
for the whole kernel (no swap), ``pids.max`` its ``processes``; after the run ``cgroup.kill``
ends whatever is left in it. Kernels' groups sit in one group, ``grader-kernels``, at the root
of the cgroup v2 hierarchy (the root is the one group that may hold processes and hand
controllers to its children). Needs root; machines with cgroup v1 only (or a container that
cannot hand the controllers on) go without, and the report says why.
"""

from __future__ import annotations

import os
import secrets
import time
from pathlib import Path

from grader.settings import SandboxLimits

HIERARCHY = Path("/sys/fs/cgroup")
PARENT = "grader-kernels"
CONTROLLERS = ("memory", "pids")


def cgroup_parent(hierarchy: Path = HIERARCHY) -> tuple[Path | None, str]:
    """The group that holds the kernels' groups (made, with the memory and process controllers
    handed to its children), or None and why not."""
    if os.geteuid() != 0:
        return None, "the grader is not root"
    if not (hierarchy / "cgroup.controllers").is_file():
        v1 = " (this machine has cgroup v1 only)" if (hierarchy / "memory").is_dir() else ""
        return None, f"cgroup v2 is not mounted at {hierarchy}{v1}"
    available = (hierarchy / "cgroup.controllers").read_text().split()
    missing = [name for name in CONTROLLERS if name not in available]
    if missing:
        return None, f"cgroup v2 here has no {' or '.join(missing)} controller"
    parent = hierarchy / PARENT
    enable = " ".join(f"+{name}" for name in CONTROLLERS)
    try:
        (hierarchy / "cgroup.subtree_control").write_text(enable)
        parent.mkdir(exist_ok=True)
        (parent / "cgroup.subtree_control").write_text(enable)
    except OSError as exc:
        return None, f"cgroup v2: cannot hand the memory and process controllers to {parent}: {exc.strerror or exc}"
    return parent, ""


def new_group(parent: str) -> str:
    """A group for one kernel, named after this grader process (for ``sweep_groups``)."""
    group = Path(parent) / f"kernel-{os.getpid()}-{secrets.token_hex(4)}"
    group.mkdir()
    return str(group)


def set_limits(group: str, limits: SandboxLimits, processes: int) -> None:
    """The kernel's caps, written before it starts: all its memory, no swap, all its tasks."""
    folder = Path(group)
    (folder / "memory.max").write_text(str(int(limits.memory)))
    if (folder / "memory.swap.max").exists():
        (folder / "memory.swap.max").write_text("0")
    (folder / "pids.max").write_text(str(processes))


def end_group(group: str | None) -> None:
    """After the run: every process left in the group killed, and the group removed."""
    if not group:
        return
    folder = Path(group)
    try:
        if (folder / "cgroup.kill").exists():
            (folder / "cgroup.kill").write_text("1")
    except OSError:
        pass
    for _ in range(50):  # its processes may still be on their way out
        try:
            folder.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.01)  # still busy: a later sweep removes it


def sweep_groups(hierarchy: Path = HIERARCHY) -> list[str]:
    """Kernels' groups of grader processes that are gone (killed before their cleanup)."""
    swept = []
    for group in sorted((hierarchy / PARENT).glob("kernel-*-*")):
        pid = group.name.split("-")[1]
        if pid.isdigit() and not Path(f"/proc/{pid}").exists():
            end_group(str(group))
            swept.append(str(group))
    return swept
