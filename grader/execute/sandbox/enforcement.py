"""What the sandbox enforces on this machine, and who one kernel runs as: the records the other
sandbox modules pass around, and the one line the report header shows."""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass, field

from grader.settings import GiB, MiB, SandboxLimits


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
    cgroup: str | None = None  # the cgroup v2 group under which each kernel gets one capping it (cgroups.py)
    bubblewrap: str | None = None  # the ``bwrap`` program: the kernel sees only its run folder and Python (view.py)
    grader_user: str = field(default_factory=lambda: _user_name(os.geteuid()))
    notes: tuple[str, ...] = ()  # why a layer is not enforced

    @property
    def network_isolated(self) -> bool:
        return self.network == "isolated"

    def note(self, layer: str) -> str | None:
        """Why ``layer`` (``network``, ``user``, ``file system view``...) is not enforced, if a note says."""
        return next((note.removeprefix(layer).lstrip(": ") for note in self.notes if note.startswith(layer)), None)

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
        if self.cgroup:
            parts.append("memory and processes capped per kernel (cgroup)")
        if self.mounts or self.bubblewrap:
            parts.append("other processes and shared memory hidden")
        if self.bubblewrap:
            parts.append("sees only its run folder and Python (bubblewrap)")
        text = "sandbox: " + "; ".join(parts)
        return text + (f" (not enforced: {'; '.join(self.notes)})" if self.notes else "")


@dataclass(frozen=True)
class KernelUser:
    """Who one kernel runs as."""

    uid: int
    gid: int
    name: str
    fresh: bool  # an id of its own: every process and scratch file it owns is removed after the run
    group: str | None = None  # its cgroup, when the plan caps each kernel (cgroups.py)


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)
