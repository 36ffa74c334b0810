"""Where the seconds of one `grader grade` go: a timeline of its stages, by timestamps.

    .venv/bin/python bench/profile_fast.py NOTEBOOK --assignment DIR --out DIR [--data mnist=FILE]
        [--budget fast] [--launched EPOCH_SECONDS] [--json FILE]

Runs the real command (``grader.cli.app``, the same code path as ``grader grade ... --jobs 1``) in
this process, with thin timing wrappers around the grader's stage functions (nothing else changes;
the wrappers only record when each call started and ended). The kernel's side is seen through the
time each notebook cell took, labelled by what the cell does (TensorFlow import, data loading,
training, evaluation). ``--launched`` is when the parent started this process (``time.time()``), so
that interpreter start-up is counted too; the parent adds the time from the JSON's ``ended`` to the
process exit (interpreter shutdown).
"""

from __future__ import annotations

import time

IMPORTED = time.time()  # before anything heavy is imported

import argparse  # noqa: E402
import functools  # noqa: E402
import inspect  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import threading  # noqa: E402
from pathlib import Path  # noqa: E402

EVENTS: list[dict] = []
MISSING: list[str] = []  # wrapped names the grader no longer has (it changes; the profile says so and goes on)
_LOCK = threading.Lock()


def record(label: str, start: float, end: float, **details) -> None:
    with _LOCK:
        EVENTS.append(
            {"label": label, "start": start, "end": end, "thread": threading.current_thread().name, **details}
        )


def wrap(owner, attribute: str, label: str, describe=None) -> None:
    """Replaces ``owner.attribute`` with a version that records each call's interval."""
    original = getattr(owner, attribute, None)
    if original is None:
        MISSING.append(f"{getattr(owner, '__name__', owner)}.{attribute}")
        return
    if inspect.iscoroutinefunction(original):

        @functools.wraps(original)
        async def timed(*args, **kwargs):
            start = time.time()
            try:
                return await original(*args, **kwargs)
            finally:
                record(label, start, time.time(), **(describe(*args, **kwargs) if describe else {}))

    else:

        @functools.wraps(original)
        def timed(*args, **kwargs):
            start = time.time()
            try:
                return original(*args, **kwargs)
            finally:
                record(label, start, time.time(), **(describe(*args, **kwargs) if describe else {}))

    setattr(owner, attribute, timed)


CELL_KINDS = (  # first match wins: what a cell mostly does, for the profile's labels
    ("training (fit)", re.compile(r"\.fit\s*\(|\.train_on_batch\s*\(|optimizer\.step\s*\(")),
    ("evaluation", re.compile(r"\.evaluate\s*\(|\.predict\s*\(")),
    ("data loading", re.compile(r"load_data\s*\(|np\.load\s*\(|read_csv\s*\(")),
    ("TensorFlow/Keras import", re.compile(r"^\s*(import|from)\s+(tensorflow|keras)\b", re.M)),
)


def cell_kind(source: str) -> str:
    for kind, pattern in CELL_KINDS:
        if pattern.search(source):
            return kind
    return "other cells"


def install_wrappers() -> None:
    """Timing wrappers on the stage functions, at the names the callers look them up by."""
    import nbclient

    import grader.batch.class_results as class_results
    import grader.batch.executors as executors
    import grader.batch.grading as grading
    import grader.batch.jobs as jobs
    import grader.cli.grading as cli
    import grader.execute.runner as runner
    import grader.gradebook as gradebook
    import grader.report.render as render

    wrap(cli, "load_assignment", "read the assignment and rubric")
    wrap(cli, "read_intake", "read the submissions")
    wrap(gradebook.Gradebook, "__init__", "open the gradebook")
    wrap(grading, "execution_settings", "settings hash (hashes the data files)")
    wrap(grading, "make_job", "make the job (hashes the data files)")
    wrap(executors, "run_job", "run_job (whole execute stage)")
    wrap(runner, "stage_datasets", "stage the data files (copy)")
    wrap(runner, "execute", "nbclient session")
    wrap(runner, "shutdown", "kernel shutdown")
    wrap(runner, "collect_facts", "facts report from the probe")

    def describe_cell(client, cell, cell_index, **_):
        source = cell.get("source", "")
        source = "".join(source) if isinstance(source, list) else str(source)
        return {
            "cell": int(cell_index),
            "kind": cell_kind(source),
            "first_line": source.strip().splitlines()[0][:60] if source.strip() else "",
        }

    wrap(nbclient.NotebookClient, "async_execute_cell", "cell", describe_cell)
    wrap(jobs, "dump_execution", "serialise the execution")
    wrap(gradebook.Gradebook, "save_run_file", "store the executed notebook")
    wrap(grading, "load_execution", "load the stored execution")
    wrap(grading, "score_safely", "score (answers + checks)")
    wrap(class_results, "score_safely", "score (answers + checks)")
    wrap(gradebook.Gradebook, "add_run", "gradebook rows")
    wrap(gradebook.Gradebook, "add_grades", "gradebook rows")
    wrap(class_results, "class_grades", "class grades (rescore others, overrides)")
    wrap(render, "executed_notebook_page", "report: executed notebook page (nbconvert)")
    wrap(render, "student_page", "report: student page")
    wrap(render, "overview_page", "report: class overview")
    wrap(class_results, "write_atomically", "write grades.json")

    original_start = getattr(runner, "start_kernel", None)
    if original_start is None:
        MISSING.append("runner.start_kernel")
        return

    async def start_kernel(run):
        ok = await original_start(run)
        end = time.time()
        kernel, probe = run.timings.get("kernel_start"), run.timings.get("probe")
        if probe is not None:
            record("probe install (in the kernel)", end - probe, end)
        if kernel is not None:
            record("kernel start (process + ipykernel ready)", end - (probe or 0) - kernel, end - (probe or 0))
        return ok

    runner.start_kernel = start_kernel


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebook")
    parser.add_argument("--assignment", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--data", action="append", default=[])
    parser.add_argument("--budget", default="fast")
    parser.add_argument("--launched", type=float, default=None)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    started = time.time()
    import grader.cli  # noqa: F401  (the command's own imports, timed)

    imported = time.time()
    install_wrappers()
    command = ["grade", args.notebook, "--assignment", args.assignment, "--out", args.out,
               "--budget", args.budget, "--jobs", "1", "--quiet"]  # fmt: skip
    for data in args.data:
        command += ["--data", data]
    wrapped = time.time()
    try:
        grader.cli.app(command, standalone_mode=False)
    finally:
        ended = time.time()
        result = {
            "launched": args.launched,
            "main": IMPORTED,
            "cli_imported": imported,
            "command_started": wrapped,
            "ended": ended,
            "import_seconds": imported - started,
            "lazy_import_seconds": wrapped
            - imported,  # grader.batch, gradebook, report, nbclient (`grade` imports them lazily)
            "events": EVENTS,
            "missing": MISSING,
        }
        text = json.dumps(result, indent=1)
        if args.json:
            args.json.write_text(text, encoding="utf-8")
        else:
            sys.stdout.write(text + "\n")


if __name__ == "__main__":
    main()
