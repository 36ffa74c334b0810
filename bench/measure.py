"""Time one command as a user sees it, with what else the machine was doing meanwhile.

``run_measured`` starts the command as a subprocess (optionally under ``taskset``), samples its
whole process tree every 0.2 s (resident memory summed over the tree, via psutil) and returns a
``Sample``: wall time, peak tree memory, the CPU time the tree used and the load the *other*
processes of the machine put on the cores meanwhile (busy time in /proc/stat minus the tree's own
CPU time). The tree's CPU time is the larger of two undercounts: ``getrusage`` of waited-for
children (it misses a process whose parent was killed before reaping it: a kernel under
bubblewrap, whose ``bwrap`` the grader kills) and the sum over every process seen in the samples
of its CPU time at its last sample (it misses at most a sample's worth of each).
"""

from __future__ import annotations

import os
import resource
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

SAMPLE_EVERY = 0.2  # seconds between samples of the process tree


class CommandFailed(RuntimeError):
    """A measured command exited non-zero; the message holds the end of its log."""


@dataclass
class Sample:
    name: str
    wall: float  # seconds, from start to exit
    peak_rss: int  # bytes, the largest sum of RSS over the process tree seen in one sample
    cpu: float  # seconds of CPU (user + system) used by the tree
    others: float  # average cores kept busy by other processes during the run
    load_start: float  # 1-minute load average when the command started
    load_end: float
    peak_processes: int = 1
    log: Path | None = None
    extra: dict = field(default_factory=dict)


def cpu_prefix(cpus: str | None) -> list[str]:
    """``taskset -c CPUS`` when asked (and available), else nothing."""
    if not cpus:
        return []
    return ["taskset", "-c", cpus]


def _busy_ticks() -> tuple[int, int]:
    """(busy, total) jiffies of all cores since boot, from /proc/stat."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            values = [int(v) for v in stat.readline().split()[1:]]
    except OSError:
        return 0, 0
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    total = sum(values[:8])  # guest time is already counted in user
    return total - idle, total


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def sample_tree(process: psutil.Process, cpu_seen: dict[tuple[int, float], float]) -> tuple[int, int]:
    """(summed RSS in bytes, number of processes) of ``process`` and all its descendants; records
    each one's CPU seconds so far in ``cpu_seen`` (by pid and start time)."""
    total, count = 0, 0
    try:
        members = [process, *process.children(recursive=True)]
    except psutil.Error:
        return 0, 0
    for member in members:
        try:
            with member.oneshot():
                total += member.memory_info().rss
                times = member.cpu_times()
                cpu_seen[(member.pid, member.create_time())] = times.user + times.system
            count += 1
        except psutil.Error:
            continue
    return total, count


def run_measured(
    name: str,
    command: list[str],
    *,
    log: Path,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
    cpus: str | None = None,
    timeout: float | None = None,
    check: bool = True,
) -> Sample:
    """Runs ``command`` to completion and measures it (see the module docstring)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    ticks_per_second = os.sysconf("SC_CLK_TCK")
    load_start = os.getloadavg()[0]
    busy0, _ = _busy_ticks()
    cpu0 = _children_cpu()
    started = time.perf_counter()
    peak, peak_count, cpu_seen = 0, 1, {}
    with open(log, "wb") as output:
        output.write(("$ " + " ".join(map(str, [*cpu_prefix(cpus), *command])) + "\n").encode())
        output.flush()
        child = subprocess.Popen(
            [*cpu_prefix(cpus), *command], cwd=cwd, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        tree = psutil.Process(child.pid)
        try:
            while True:
                rss, count = sample_tree(tree, cpu_seen)
                if rss > peak:
                    peak = rss
                peak_count = max(peak_count, count)
                try:
                    child.wait(timeout=SAMPLE_EVERY)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if timeout is not None and time.perf_counter() - started > timeout:
                    child.kill()
                    child.wait()
                    raise CommandFailed(f"{name}: still running after {timeout:g} s; killed (log: {log})")
        except BaseException:
            if child.poll() is None:
                child.kill()
                child.wait()
            raise
    wall = time.perf_counter() - started
    cpu = max(_children_cpu() - cpu0, sum(cpu_seen.values()))
    busy1, _ = _busy_ticks()
    machine = (busy1 - busy0) / ticks_per_second / wall if wall > 0 else 0.0
    sample = Sample(
        name=name, wall=wall, peak_rss=peak, cpu=cpu, others=max(0.0, machine - cpu / wall if wall else 0.0),
        load_start=load_start, load_end=os.getloadavg()[0], peak_processes=peak_count, log=log,
    )  # fmt: skip
    if check and child.returncode != 0:
        raise CommandFailed(f"{name}: exit status {child.returncode}\n{tail(log)}")
    sample.extra["returncode"] = child.returncode
    return sample


def tail(path: Path, lines: int = 15) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])
