"""Containment for the student's kernel, with what a plain Linux machine offers (no Docker).

Layers, applied in the kernel's process between fork and exec (``preexec``):
- resource limits (setrlimit): memory written (and address space), CPU seconds, processes, size of a written file,
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
On top of them, where ``bwrap`` is installed and works, the kernel starts inside bubblewrap
(``view``): it sees only its run folders, its Python and the system's libraries, with private
``/tmp`` and ``/dev/shm`` and its own process and IPC namespaces.
``plan`` finds what this machine allows by trying it; ``Enforcement.describe`` says it, for the
report header. What each layer does and does not protect is in docs/security.md.

The package's modules: ``planning`` (what this machine allows), ``containment`` (the child's
side), ``users`` (who a kernel runs as), ``cleanup`` (nothing outlives a run), ``exits`` (why a
kernel ended), ``view`` (bubblewrap: what the kernel sees of the file system), ``enforcement`` (the records they share).
"""

from grader.execute.sandbox.cleanup import release, sweep_stale, world_writable
from grader.execute.sandbox.containment import preexec
from grader.execute.sandbox.enforcement import Enforcement, KernelUser, size_text
from grader.execute.sandbox.exits import exit_reason, kernel_returncode, limit_ended
from grader.execute.sandbox.planning import plan, readable_by_kernels
from grader.execute.sandbox.users import FRESH_UIDS, REGISTRY, hand_over, kernel_user, process_allowance
from grader.execute.sandbox.view import confine
from grader.settings import SandboxLimits

__all__ = [
    "FRESH_UIDS", "REGISTRY", "Enforcement", "KernelUser", "SandboxLimits", "confine", "exit_reason", "hand_over", "kernel_returncode", "kernel_user", "limit_ended", "plan", "preexec",
    "process_allowance", "readable_by_kernels", "release", "size_text", "sweep_stale", "world_writable",
]  # fmt: skip
