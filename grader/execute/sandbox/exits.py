"""Why a kernel ended, in the words of the limits it was given, and whether a limit ended it."""

from __future__ import annotations

import signal

from grader.execute.sandbox.enforcement import Enforcement, size_text
from grader.settings import SandboxLimits

_MEMORY_WORDS = ("MemoryError", "bad_alloc", "Cannot allocate memory", "out of memory", "pthread_create")


def _memory_death(number: int, log_tail: str) -> bool:
    return number in (signal.SIGABRT, signal.SIGSEGV, signal.SIGBUS) and any(word in log_tail for word in _MEMORY_WORDS)


def kernel_returncode(returncode: int | None, enforcement: Enforcement) -> int | None:
    """The kernel's own exit status from that of the process the grader started: under bubblewrap
    that is ``bwrap``, which exits with 128 + N when the kernel was killed by signal N (as a shell
    does), and this gives -N back, as ``subprocess`` reports a signal."""
    if enforcement.bubblewrap and returncode is not None and 128 < returncode < 128 + signal.NSIG:
        return 128 - returncode
    return returncode


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
