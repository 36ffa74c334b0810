"""A batch: every submission through the pipeline, N kernels at once or on a dask cluster, each
result committed to the gradebook as it lands.

The coordinator (this process) reads the submissions, skips the ones whose notebook already ran
under the same execution settings, hands the rest to an executor as ``Job`` records (plain data),
and for each result that comes back writes the executed notebook and the run + grade rows in one
transaction. Executors only run notebooks: ``LocalExecutor`` drives N kernels from N threads of
this process (each kernel is its own process; the kernels exit by themselves when this process is
killed), ``DaskExecutor`` sends the same ``run_job`` to the workers of a dask.distributed cluster.
Scoring always happens here, on the stored form of the execution, so a fresh grade, a cached one
and a rescore see exactly the same data.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import logging
import os
import pickle
import queue
import socket
import threading
import time
import traceback
import uuid
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from functools import lru_cache
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path
from typing import Any, Iterator

import nbformat
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from grader.assignment import Assignment
from grader.atomic import write_atomically
from grader.attention import NOT_GRADED, Attention, attention, class_attention, worst_first
from grader.export.grades_json import grade_record
from grader.gradebook import (
    Current,
    Gradebook,
    NewGrade,
    StoredOverride,
    StoredRun,
    dump_execution,
    load_execution,
    load_run,
    now,
)
from grader.identical import identical_hand_ins, mark_identical
from grader.machine import available_cores
from grader.models import Execution, Grade, Submission
from grader.overrides import Override, apply_overrides
from grader.pipeline import RunOptions, execute_notebook, failed, score
from grader.settings import ExecutionLimits, FastBudget
from grader.words import count

log = logging.getLogger(__name__)
KERNEL_NAME = "python3"
PROBLEM_STATUSES = ("timeout", "kernel_died", "error")


class BatchError(RuntimeError):
    """The batch cannot start (no cluster at that address, dask not installed...); the message says what to do."""


# --------------------------------------------------------------------------- settings


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
    return f"{version}+execute.{code_digest(Path(__file__).with_name('execute'))}"


def code_digest(folder: Path) -> str:
    """A hash of every Python file under ``folder``, sub-packages (the probe's parts) included."""
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*.py")):
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:10]


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
        from grader.execute import digits

        datasets = {
            name: file_sha256(path) if path else (f"built-in {digits.VERSION}" if name == "mnist" else None)
            for name, path in sorted(assignment.datasets.items())
        }
        description = {
            "mode": options.mode,
            "limits": assignment.limits.model_dump(mode="json"),
            "budget": assignment.budget.fast.model_dump(mode="json") if options.mode == "fast" else None,
            "datasets": datasets,
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


# --------------------------------------------------------------------------- the execution stage, as a job


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
    for name, path in assignment.datasets.items():
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
    options = RunOptions(run=job.run, mode=job.mode, threads=job.threads or _worker_share(), kernel_name=job.kernel_name)
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


# --------------------------------------------------------------------------- executors


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


class DaskExecutor:
    """Sends each job to a dask.distributed cluster; results come back here to be scored and stored."""

    def __init__(self, address: str, datasets: dict[str, Path | None]):
        try:
            from distributed import Client
        except ImportError:
            raise BatchError(
                "--scheduler needs dask.distributed: pip install 'notebook-grader[dask]'"
            ) from None
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


def make_executor(jobs: int, scheduler: str | None, assignment: Assignment) -> LocalExecutor | DaskExecutor:
    if scheduler:
        return DaskExecutor(scheduler, assignment.datasets)
    return LocalExecutor(jobs)


# --------------------------------------------------------------------------- progress


class _RunningColumn(ProgressColumn):
    def __init__(self, executor):
        super().__init__()
        self.executor = executor

    def render(self, task) -> Text:
        names = self.executor.running()
        shown = ", ".join(names[:3]) + (f" +{len(names) - 3}" if len(names) > 3 else "")
        return Text(shown, style="cyan")


class BatchProgress:
    """A progress bar over every submission of the batch (run, cached or unreadable): counts (graded,
    failed, cached), who is running, an ETA."""

    def __init__(self, console: Console, enabled: bool):
        self.console = console
        self.enabled = enabled
        self.graded = self.failed = self.cached = 0
        self._bar: Progress | None = None
        self._task = None

    def start(self, submissions: int, executor) -> None:
        if not self.enabled:
            return
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("running"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            _RunningColumn(executor),
            console=self.console,
            transient=False,
        )
        self._task = self._bar.add_task("grading", total=submissions, counts=self._counts())
        self._bar.start()

    def _counts(self) -> str:
        return f"graded {self.graded} · failed {self.failed} · cached {self.cached}"

    def done(self, grade: Grade, *, cached: bool) -> None:
        execution = grade.execution
        if grade.status == "error" or (execution is not None and execution.status in PROBLEM_STATUSES):
            self.failed += 1
        elif cached:
            self.cached += 1
        else:
            self.graded += 1
        if self._bar is not None:
            self._bar.update(self._task, advance=1, counts=self._counts())

    def say(self, message: str) -> None:
        if self.enabled:
            self.console.print(message, highlight=False)

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None


# --------------------------------------------------------------------------- the batch


@dataclass
class BatchResult:
    grades: dict[str, Grade] = field(default_factory=dict)  # this batch's students
    executed: int = 0  # notebooks run now
    cached: int = 0  # submissions whose run was reused
    seconds: float = 0.0
    interrupted: bool = False


def score_safely(submission: Submission, execution: Execution, assignment: Assignment) -> Grade:
    try:
        return score(submission, execution, assignment)
    except Exception as exc:  # one submission must never stop the batch
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return failed(submission, assignment, f"the grader failed on this notebook: {detail}")


def _new_grade(stored_id: int, grade: Grade, rubric: str, how: str, run: int | None) -> NewGrade:
    return NewGrade(stored_id, rubric, how, grade.status, grade.error, grade.score, grade.max_score, grade_record(grade), run)


def grade_batch(
    submissions: list[Submission],
    assignment: Assignment,
    options: RunOptions,
    book: Gradebook,
    executor,
    progress: BatchProgress,
) -> BatchResult:
    """Grades every submission, running only notebooks without a stored run under these settings.

    Each result is committed as it lands. Ctrl-C starts nothing new, waits for the notebooks
    already running (their results are kept) and then raises KeyboardInterrupt; a second Ctrl-C
    stops at once.
    """
    started = time.monotonic()
    settings, description = execution_settings(assignment, options)
    book.record_settings(settings, description)
    stored = book.record_submissions(submissions)
    rubric = scoring_fingerprint(assignment)
    result = BatchResult()
    pending: dict[str, list[Submission]] = {}
    cached: list[tuple[Submission, StoredRun]] = []
    unreadable: list[Submission] = []
    for submission in submissions:
        if submission.notebook is None:
            unreadable.append(submission)
        elif run := book.find_run(submission.sha256, settings):
            cached.append((submission, run))
        else:
            pending.setdefault(submission.sha256, []).append(submission)

    jobs = [make_job(group, settings, assignment, options) for group in pending.values()]
    executor.start(jobs)
    progress.start(len(submissions), executor)
    try:
        rows = []
        for submission in unreadable:
            grade = failed(submission, assignment, submission.error or "the notebook could not be read")
            rows.append(_new_grade(stored[submission.student].id, grade, rubric, "grade", None))
            result.grades[submission.student] = grade
            progress.done(grade, cached=False)
        for (submission, run), grade in zip(cached, score_runs(book.out, cached, assignment)):
            rows.append(_new_grade(stored[submission.student].id, grade, rubric, "grade", run.id))
            result.grades[submission.student] = grade
            result.cached += 1
            progress.done(grade, cached=True)
        book.add_grades(rows)
        _collect(executor, pending, settings, rubric, stored, assignment, book, progress, result)
    finally:
        progress.stop()
        result.seconds = time.monotonic() - started
    return result


def _collect(executor, pending, settings, rubric, stored, assignment, book, progress, result) -> None:
    interrupted = False
    while True:
        try:
            for job, outcome in executor.results():
                _commit(job, outcome, pending[job.sha256], settings, rubric, stored, assignment, book, progress, result)
            break
        except KeyboardInterrupt:
            if interrupted:
                raise
            interrupted = result.interrupted = True
            running = executor.cancel()
            progress.say(
                f"interrupted: waiting for the {running} notebook(s) already running (their results are kept);"
                " Ctrl-C again to stop now"
            )
    if interrupted:
        raise KeyboardInterrupt


def _commit(job, outcome, submissions, settings, rubric, stored, assignment, book, progress, result) -> None:
    """Stores one result: the executed notebook file, then its run and grades in one transaction."""
    if not isinstance(outcome, BaseException):
        try:
            path = book.save_run_file(job.sha256, settings, outcome)
            execution = load_execution(outcome)  # score exactly what is stored (and what a rescore will load)
        except Exception as exc:  # RecursionError, MemoryError included: a run that cannot be stored is its own error
            outcome = exc
    if isinstance(outcome, BaseException):
        detail = traceback.format_exception_only(type(outcome), outcome)[-1].strip()
        grades = [failed(s, assignment, f"the grader failed while running this notebook: {detail}") for s in submissions]
        book.add_grades(_new_grade(stored[s.student].id, g, rubric, "grade", None) for s, g in zip(submissions, grades))
        for grade in grades:
            result.grades[grade.submission.student] = grade
            progress.done(grade, cached=False)
        return
    grades = [
        score_safely(submission, replace(execution, cached=index > 0), assignment)
        for index, submission in enumerate(submissions)
    ]
    with book.transaction():
        run_id = book.add_run(job.sha256, settings, outcome, path)
        book.add_grades(_new_grade(stored[s.student].id, g, rubric, "grade", run_id) for s, g in zip(submissions, grades))
    result.executed += 1
    result.cached += len(submissions) - 1
    for index, grade in enumerate(grades):
        result.grades[grade.submission.student] = grade
        progress.done(grade, cached=index > 0)


# --------------------------------------------------------------------------- the class's grades


@dataclass(frozen=True)
class ClassGrades:
    grades: list[Grade]  # every student in the gradebook, by student, overrides applied
    overrides: dict[str, list[Override]]
    attention: list[Attention]  # what a person should look at (the same list as `grader review`)
    rescored: int = 0


def _overrides(stored: list[StoredOverride], current_sha: str) -> list[Override]:
    return [Override(o.target, o.score, o.by, o.at, o.comment, earlier=o.sha256 != current_sha) for o in stored]


def class_grades(book: Gradebook, assignment: Assignment, fresh: dict[str, Grade], record: str) -> ClassGrades:
    """Every student's current grade: ``fresh`` ones as they are, the others scored again from their stored run.

    ``record``: "all" adds a grade row for every re-scored submission (``grader rescore``);
    "changed" only where the rubric changed since its last grade.
    """
    rubric = scoring_fingerprint(assignment)
    stored_overrides = book.overrides()
    currents = book.current()
    stale = [c for c in currents if c.submission.student not in fresh]
    again = dict(zip((c.submission.student for c in stale), rescore_many(book.out, stale, assignment)))
    grades, rows = [], []
    for current in currents:
        student = current.submission.student
        if student in fresh:
            grades.append(fresh[student])
            continue
        grade = again[student]
        if current.grade is not None and (record == "all" or current.grade.rubric != rubric):
            rows.append(_new_grade(current.submission.id, grade, rubric, "rescore", current.grade.run))
        grades.append(grade)
    book.add_grades(rows)
    rescored = len(stale)
    overrides = {
        g.submission.student: _overrides(stored_overrides.get(g.submission.student, []), g.submission.sha256)
        for g in grades
    }
    needs = class_attention(grades, overrides)
    grades = [apply_overrides(g, overrides[g.submission.student]) for g in mark_identical(grades)]
    return ClassGrades(grades, overrides, needs, rescored)


PARALLEL_SCORING = 200  # fewer than this: one process is quicker than starting workers


def score_runs(out: Path, pairs: list[tuple[Submission, StoredRun]], assignment: Assignment) -> list[Grade]:
    """Each submission scored from its stored run (no kernel); in worker processes, one per core, when many."""
    workers = available_cores()
    if len(pairs) < PARALLEL_SCORING or workers < 2:
        return [score_stored(out, submission, run, assignment) for submission, run in pairs]
    light = [(replace(submission, notebook=None), run) for submission, run in pairs]  # less to send
    chunk = max(1, len(pairs) // (workers * 8))
    # fork starts a worker in milliseconds, but only a single-threaded process forks safely
    method = "fork" if "fork" in get_all_start_methods() and threading.active_count() == 1 else "spawn"
    try:
        with ProcessPoolExecutor(
            max_workers=workers, mp_context=get_context(method), initializer=_worker_init, initargs=(out, assignment)
        ) as pool:
            grades = list(pool.map(_score_in_worker, light, chunksize=chunk))
    except (BrokenProcessPool, OSError, pickle.PicklingError):
        log.warning("scoring in worker processes failed; scoring here", exc_info=True)
        return [score_stored(out, submission, run, assignment) for submission, run in pairs]
    return [replace(grade, submission=submission) for grade, (submission, _) in zip(grades, pairs)]


_WORKER: dict[str, Any] = {}


def _worker_init(out: Path, assignment: Assignment) -> None:
    _WORKER.update(out=out, assignment=assignment)


def _score_in_worker(pair: tuple[Submission, StoredRun]) -> Grade:
    return score_stored(_WORKER["out"], pair[0], pair[1], _WORKER["assignment"])


def score_stored(out: Path, submission: Submission, run: StoredRun, assignment: Assignment) -> Grade:
    """One submission's grade from its stored run under the current rubric."""
    try:
        execution = load_run(out, run, cached=True)
    except (OSError, ValueError) as exc:
        message = f"the stored run {run.notebook} could not be read ({exc}); run `grader grade` again"
        return failed(submission, assignment, message)
    return score_safely(submission, execution, assignment)


def rescore_many(out: Path, currents: list[Current], assignment: Assignment) -> list[Grade]:
    """The grade of each stored submission under the current rubric, from its stored run: no kernel."""
    grades: dict[int, Grade] = {}
    pairs, where = [], []
    for index, current in enumerate(currents):
        stored = current.submission
        if current.grade is None:
            message = "not graded yet: the batch stopped before this notebook ran; run `grader grade` again"
            grades[index] = failed(stored.submission(), assignment, stored.error or message)
        elif current.run is None:
            message = current.grade.error or stored.error or "could not be graded"
            grades[index] = failed(stored.submission(), assignment, message)
        else:
            pairs.append((stored.submission(), current.run))
            where.append(index)
    grades.update(zip(where, score_runs(out, pairs, assignment)))
    return [grades[index] for index in range(len(currents))]


def write_outputs(view: ClassGrades, assignment: Assignment, out: Path, audience: str) -> list[Grade]:
    """reports/<student>.html, index.html and grades.json (each record with its ``overrides``)."""
    from grader.report.render import write_reports

    grades = write_reports(view.grades, assignment, out, audience, attention=view.attention)
    records = []
    for grade in grades:
        record = grade_record(grade)
        record["overrides"] = [o.record() for o in view.overrides.get(grade.submission.student, [])]
        records.append(record)
    write_atomically(out / "grades.json", json.dumps(records, indent=2, ensure_ascii=False))
    return grades


# --------------------------------------------------------------------------- tables


def _run_text(grade: Grade) -> str:
    execution = grade.execution
    if execution is None:
        return "-"
    text = execution.status.replace("_", " ")
    return text + (" (cached)" if execution.cached else f" {execution.seconds:.1f} s")


def summary_table(grades: list[Grade], title: str) -> Table:
    table = Table(title=title)
    for column in ("student", "score", "status", "run", "flags"):
        table.add_column(column, overflow="fold")
    for grade in grades:
        graded = grade.status == "graded"
        table.add_row(
            grade.submission.student, f"{grade.score:g} / {grade.max_score:g}" if graded else "–",
            "graded" if graded else f"{NOT_GRADED}: {grade.error}", _run_text(grade),
            str(len(grade.flags) + sum(len(q.flags) for q in grade.questions)) or "",
        )  # fmt: skip
    return table


def summary_line(result: BatchResult, total: int, jobs_text: str) -> str:
    failed_count = sum(
        1
        for g in result.grades.values()
        if g.status == "error" or (g.execution is not None and g.execution.status in PROBLEM_STATUSES)
    )
    return (
        f"{count(len(result.grades), 'submission')}: {count(result.executed, 'notebook')} run ({jobs_text}), {result.cached} cached,"
        f" {failed_count} failed or timed out; {result.seconds:.1f} s. The gradebook holds {count(total, 'student')}."
    )


def publish(book: Gradebook, assignment: Assignment, out: Path, audience: str, fresh: dict[str, Grade], record: str) -> list[Grade]:
    """The class's current grades (see ``class_grades``) written as reports, index.html and grades.json."""
    return write_outputs(class_grades(book, assignment, fresh, record), assignment, out, audience)


# --------------------------------------------------------------------------- review


def review_items(book: Gradebook, include_reviewed: bool = False) -> list[Attention]:
    """What a person should look at, worst first (``grader.attention``: the class overview lists the same).

    Read from the gradebook alone (no rubric, no kernel); ``include_reviewed`` keeps what manual
    grades settled.
    """
    overrides = book.overrides()
    currents = book.current()
    identical = identical_hand_ins({c.submission.student: c.submission.sha256 for c in currents})
    items = []
    for current in currents:
        stored = current.submission
        if current.grade is None:
            record = {"student": stored.student, "status": "error", "error": "not graded yet (run `grader grade` again)",
                      "notes": list(stored.notes), "max_score": 0}  # fmt: skip
        else:
            record = current.grade.record()
        mine = _overrides(overrides.get(stored.student, []), stored.sha256)
        items.append(attention(record, mine, identical[stored.student], include_settled=include_reviewed))
    return worst_first(items)


REVIEW_REASONS = 5  # reasons shown per submission; the report has them all


def review_table(items: list[Attention], total: int) -> Table:
    table = Table(title=f"Needs review: {len(items)} of {count(total, 'submission')} (worst first)")
    for column in ("#", "student", "score", "why"):
        table.add_column(column, overflow="fold")
    for rank, item in enumerate(items, 1):
        score = NOT_GRADED if item.score is None else f"{item.score:g} / {item.max_score:g}"
        shown = list(item.reasons[:REVIEW_REASONS])
        if len(item.reasons) > REVIEW_REASONS:
            shown.append(f"... and {len(item.reasons) - REVIEW_REASONS} more (see the report)")
        table.add_row(str(rank), item.student, score, "\n".join(shown))
    return table
