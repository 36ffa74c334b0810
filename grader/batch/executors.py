"""Where jobs run: ``LocalExecutor`` (N kernels on this machine) and ``DaskExecutor`` (a
dask.distributed cluster), both an ``Executor``: the batch only starts jobs, takes results as they
finish, asks who is running, and cancels."""

from __future__ import annotations

import queue
import socket
import threading
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterator, Protocol

from grader.assignment import Assignment
from grader.batch.jobs import Job, run_job


class BatchError(RuntimeError):
    """The batch cannot start (no cluster at that address, dask not installed...); the message says what to do."""


class Executor(Protocol):
    def start(self, jobs: list[Job]) -> None: ...

    def results(self) -> Iterator[tuple[Job, Any]]:
        """(job, ``dump_execution`` data or the exception) as each job finishes."""
        ...

    def running(self) -> list[str]:
        """The students whose notebooks are running now (for the progress display)."""
        ...

    def cancel(self) -> int:
        """Starts nothing new; returns how many notebooks are still running."""
        ...

    def close(self) -> None: ...


class LocalExecutor:
    """Runs ``jobs`` N at once on this machine.

    Each job drives its own kernel process from a daemon thread of this process (nbclient in a
    private event loop); the kernels are told this process's id and exit when it dies, so a
    killed grader leaves nothing running.
    """

    def __init__(self, size: int):
        self.size = max(1, size)
        self._todo: queue.Queue[Job] = queue.Queue()
        self._done: queue.Queue[tuple[Job, Any]] = queue.Queue()
        self._running: dict[str, Job] = {}
        self._outstanding = 0
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self, jobs: list[Job]) -> None:
        for job in jobs:
            self._todo.put(job)
        self._outstanding += len(jobs)
        for index in range(min(self.size, len(jobs))):
            thread = threading.Thread(target=self._work, name=f"grader-kernel-{index}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                job = self._todo.get_nowait()
            except queue.Empty:
                return
            self._running[job.key] = job
            try:
                outcome: Any = run_job(job)
            except BaseException as exc:  # reported for this job; the other jobs go on
                outcome = exc
            finally:
                self._running.pop(job.key, None)
            self._done.put((job, outcome))

    def results(self) -> Iterator[tuple[Job, Any]]:
        """(job, dump_execution data or the exception) as each job finishes."""
        while self._outstanding > 0:
            try:
                item = self._done.get(timeout=0.2)
            except queue.Empty:
                if not any(t.is_alive() for t in self._threads) and self._done.empty():
                    return
                continue
            self._outstanding -= 1
            yield item

    def running(self) -> list[str]:
        return [student for job in list(self._running.values()) for student in job.students]

    def cancel(self) -> int:
        """Starts nothing new; the notebooks already running finish. Returns how many are running."""
        self._stop.set()
        while True:
            try:
                self._todo.get_nowait()
                self._outstanding -= 1
            except queue.Empty:
                break
        return len(self._running)

    def close(self) -> None:
        self.cancel()


def _refuse_closed_port(address: str) -> None:
    """A refused TCP connection is final: say so at once instead of letting dask retry for its whole timeout."""
    scheme, _, rest = address.partition("://")
    host, _, port = rest.rpartition(":")
    if scheme != "tcp" or not port.isdigit():
        return
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=5).close()
    except ConnectionRefusedError as exc:
        raise BatchError(f"--scheduler {address}: no dask scheduler answered there ({exc.strerror})") from None
    except OSError:  # unreachable or slow: dask's own timeout decides
        return


class DaskExecutor:
    """Sends each job to a dask.distributed cluster; results come back here to be scored and stored."""

    def __init__(self, address: str, datasets: dict[str, Path | None]):
        try:
            from distributed import Client
        except ImportError:
            raise BatchError("--scheduler needs dask.distributed: pip install 'notebook-grader[dask]'") from None
        _refuse_closed_port(address)
        try:
            self.client = Client(address, timeout="20s")
        except Exception as exc:  # refused, timed out, a malformed address: all mean no cluster to use
            raise BatchError(f"--scheduler {address}: no dask scheduler answered there ({exc})") from None
        self.address = address
        self._datasets = {name: Path(path) for name, path in datasets.items() if path}
        self._futures: dict[Any, Job] = {}

    def start(self, jobs: list[Job]) -> None:
        if not jobs:
            return
        blobs = None
        if self._datasets:  # the workers may not share this disk: send the files once to each
            blobs = self.client.scatter({n: p.read_bytes() for n, p in self._datasets.items()}, broadcast=True)
        for job in jobs:
            future = self.client.submit(run_job, replace(job, threads=None), blobs,
                                        key=f"grader-run-{job.key}-{uuid.uuid4().hex[:8]}", pure=False)  # fmt: skip
            self._futures[future] = job

    def results(self) -> Iterator[tuple[Job, Any]]:
        from distributed import as_completed

        for future in as_completed(list(self._futures)):
            job = self._futures.pop(future)
            try:
                outcome: Any = future.result()
            except Exception as exc:  # a worker that died or failed: this job's result
                outcome = exc
            yield job, outcome

    def running(self) -> list[str]:
        return []

    def cancel(self) -> int:
        if self._futures:
            self.client.cancel(list(self._futures))
            self._futures.clear()
        return 0

    def close(self) -> None:
        self.cancel()
        self.client.close()


def make_executor(jobs: int, scheduler: str | None, assignment: Assignment) -> Executor:
    if scheduler:
        return DaskExecutor(scheduler, assignment.run_inputs())
    return LocalExecutor(jobs)
