"""The execute stage as a job: plain data that can travel to a worker process or a cluster node,
and ``run_job``, what runs it there."""

from __future__ import annotations

import json
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nbformat

from grader.assignment import Assignment
from grader.atomic import write_atomically
from grader.batch.settings import file_sha256
from grader.machine import available_cores
from grader.models import Submission
from grader.pipeline import RunOptions, execute_notebook
from grader.settings import ExecutionLimits, FastBudget
from grader.stored import dump_execution, now


@dataclass(frozen=True)
class Job:
    """One notebook to run: plain data, so that it can travel to a cluster worker."""

    key: str  # "<sha256>-<settings>"
    sha256: str
    students: tuple[str, ...]  # who handed this notebook in (for the progress display)
    notebook: str  # the submitted notebook's JSON text
    limits: dict
    budget: dict | None  # the fast budget's caps (mode "fast")
    datasets: dict  # name -> {"path": str | None, "sha256": str | None, "name": file name}
    run: bool
    mode: str
    kernel_name: str
    threads: int | None  # None: the worker's share of its cores


def make_job(submissions: list[Submission], settings: str, assignment: Assignment, options: RunOptions) -> Job:
    first = submissions[0]
    datasets = {}
    for name, path in assignment.run_inputs().items():
        datasets[name] = {"path": str(path) if path else None, "sha256": file_sha256(path) if path else None,
                          "name": Path(path).name if path else None}  # fmt: skip
    return Job(
        key=f"{first.sha256}-{settings}",
        sha256=first.sha256,
        students=tuple(s.student for s in submissions),
        notebook=json.dumps(first.notebook, ensure_ascii=False),
        limits=assignment.limits.model_dump(mode="json"),
        budget=assignment.budget.fast.model_dump(mode="json") if options.mode == "fast" else None,
        datasets=datasets,
        run=options.run,
        mode=options.mode,
        kernel_name=options.kernel_name,
        threads=options.threads,
    )


def run_job(job: Job, blobs: dict[str, bytes] | None = None) -> dict[str, Any]:
    """The execute stage for one job, wherever it runs; returns the Execution as ``dump_execution`` data.

    ``blobs``: the dataset files' bytes, sent by the coordinator to cluster workers that do not
    share its disk; they are written once per worker machine into the cache folder.
    """
    started = now()
    notebook = nbformat.from_dict(json.loads(job.notebook))
    datasets = _datasets_here(job.datasets, blobs)
    options = RunOptions(
        run=job.run, mode=job.mode, threads=job.threads or _worker_share(), kernel_name=job.kernel_name
    )
    budget = FastBudget(**job.budget) if job.budget else None
    execution = execute_notebook(notebook, datasets, ExecutionLimits(**job.limits), options, budget)
    payload = dump_execution(execution)
    payload.update(started=started, finished=now(), worker=f"{socket.gethostname()}:{os.getpid()}")
    return payload


def _datasets_here(refs: dict, blobs: dict[str, bytes] | None) -> dict[str, Path | None]:
    found: dict[str, Path | None] = {}
    for name, ref in refs.items():
        if ref["path"] is None:
            found[name] = None
        elif blobs is None or name not in blobs:
            found[name] = Path(ref["path"])
        else:
            from grader.execute.digits import default_cache_dir

            target = default_cache_dir() / "datasets" / ref["sha256"] / ref["name"]
            if not target.is_file():
                write_atomically(target, blobs[name])
            found[name] = target
    return found


def _worker_share() -> int:
    """On a dask worker: the machine's cores divided among the worker's task threads."""
    try:
        from distributed import get_worker

        return max(1, available_cores() // max(1, get_worker().state.nthreads))
    except (ImportError, ValueError, AttributeError):
        return available_cores()
