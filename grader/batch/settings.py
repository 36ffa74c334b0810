"""What decides whether a stored run can be reused (the execution settings and the grader's code)
and whether a grade is current (the rubric's fingerprint); how many kernels run at once."""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
from functools import lru_cache
from pathlib import Path

from grader.assignment import Assignment
from grader.code_version import code_digest
from grader.machine import available_cores
from grader.pipeline import RunOptions


def default_jobs() -> int:
    """Kernels at once: half the cores (TensorFlow wants two threads), at least one."""
    return max(1, available_cores() // 2)


def threads_per_kernel(jobs: int) -> int:
    """Each kernel's share of the cores, so that N kernels do not fight over them."""
    return max(1, available_cores() // max(1, jobs))


@lru_cache(maxsize=1)
def grader_version() -> str:
    """The package version plus a hash of the execute stage's code: a changed probe means new runs."""
    try:
        version = importlib.metadata.version("notebook-grader")
    except importlib.metadata.PackageNotFoundError:
        version = "unknown"
    return f"{version}+execute.{code_digest(Path(__file__).parents[1] / 'execute')}"


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def execution_settings(assignment: Assignment, options: RunOptions) -> tuple[str, dict]:
    """(hash, description) of everything that changes what running a notebook produces.

    Limits, budget mode and its caps, the dataset files' hashes, the kernel and the grader's
    version; not the number of kernels or threads (results do not depend on them).
    """
    if options.run:
        from grader.execute import digits, standins

        datasets = {
            name: file_sha256(path)
            if path
            else (f"built-in {digits.VERSION}" if name == "mnist" else f"built-in {standins.VERSION}")
            for name, path in sorted(assignment.run_inputs().items())
        }
        description = {
            "mode": options.mode,
            "limits": assignment.limits.model_dump(mode="json"),
            "budget": assignment.budget.fast.model_dump(mode="json") if options.mode == "fast" else None,
            "datasets": datasets,
            "standins": standins.VERSION,  # served to notebooks that mention them, named or not
            "kernel": options.kernel_name,
        }
    else:
        description = {"mode": "no-run"}
    description["grader"] = grader_version()
    digest = hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()[:16]
    return digest, description


def scoring_fingerprint(assignment: Assignment) -> str:
    """The rubric hash stored with each grade: the rubric's content and the template's prose and code."""
    digest = hashlib.sha256(assignment.rubric.fingerprint().encode())
    for line in sorted(assignment.template_lines) + sorted(assignment.template_code):
        digest.update(b"\0" + line.encode())
    return digest.hexdigest()[:16]
