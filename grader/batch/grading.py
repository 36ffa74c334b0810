"""One batch: every submission graded, only the notebooks without a stored run under these
settings run (by an ``Executor``), each result committed to the gradebook as it lands."""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from grader.assignment import Assignment
from grader.batch.class_results import new_grade, score_runs, score_safely
from grader.batch.executors import Executor
from grader.batch.jobs import Job, make_job
from grader.batch.memo import PartStore
from grader.batch.settings import execution_settings, scoring_fingerprint
from grader.gradebook import Gradebook
from grader.models import Grade, Submission
from grader.pipeline import RunOptions, failed
from grader.report.page_process import warm_up
from grader.stored import NewGrade, StoredRun, StoredSubmission, load_execution


class Progress(Protocol):
    """What the batch tells whoever shows its progress (``grader.console.BatchProgress``)."""

    def start(self, submissions: int, executor: Executor) -> None: ...

    def done(self, grade: Grade, *, cached: bool) -> None: ...

    def say(self, message: str) -> None: ...

    def stop(self) -> None: ...


@dataclass
class BatchResult:
    grades: dict[str, Grade] = field(default_factory=dict)  # this batch's students
    executed: int = 0  # notebooks run now
    cached: int = 0  # submissions whose run was reused
    seconds: float = 0.0
    interrupted: bool = False


@dataclass
class _Batch:
    """What every step of one batch shares: where results go and under which settings and rubric."""

    assignment: Assignment
    book: Gradebook
    progress: Progress
    settings: str  # the execution settings' hash
    rubric: str  # the scoring fingerprint
    stored: dict[str, StoredSubmission]  # student -> the gradebook's row of this hand-in
    pending: dict[str, list[Submission]]  # sha256 -> who handed that notebook in, not run yet
    parts: PartStore  # what scoring works out, kept for the next rescore (grader.batch.memo)
    result: BatchResult = field(default_factory=BatchResult)

    def row(self, grade: Grade, run: int | None) -> NewGrade:
        """The gradebook row of one grade of this batch."""
        return new_grade(self.stored[grade.submission.student].id, grade, self.rubric, "grade", run)

    def graded(self, grade: Grade, *, cached: bool) -> None:
        self.result.grades[grade.submission.student] = grade
        self.progress.done(grade, cached=cached)

    def collect(self, executor: Executor) -> None:
        """Commits each result as it lands. Ctrl-C starts nothing new and waits for the notebooks
        already running; a second Ctrl-C stops at once."""
        interrupted = False
        while True:
            try:
                for job, outcome in executor.results():
                    self.commit(job, outcome)
                break
            except KeyboardInterrupt:
                if interrupted:
                    raise
                interrupted = self.result.interrupted = True
                running = executor.cancel()
                self.progress.say(
                    f"interrupted: waiting for the {running} notebook(s) already running (their results are kept);"
                    " Ctrl-C again to stop now"
                )
        if interrupted:
            raise KeyboardInterrupt

    def commit(self, job: Job, outcome: Any) -> None:
        """Stores one result: the executed notebook file, then its run and grades in one transaction."""
        submissions = self.pending[job.sha256]
        if not isinstance(outcome, BaseException):
            try:
                path = self.book.save_run_file(job.sha256, self.settings, outcome)
                execution = load_execution(outcome)  # score exactly what is stored (and what a rescore will load)
            except (
                Exception
            ) as exc:  # RecursionError, MemoryError included: a run that cannot be stored is its own error
                outcome = exc
        if isinstance(outcome, BaseException):
            detail = traceback.format_exception_only(type(outcome), outcome)[-1].strip()
            message = f"the grader failed while running this notebook: {detail}"
            grades = [failed(s, self.assignment, message) for s in submissions]
            self.book.add_grades([self.row(grade, None) for grade in grades])
            for grade in grades:
                self.graded(grade, cached=False)
            return
        parts = self.parts.for_run(outcome["notebook"], outcome)
        grades = [
            score_safely(submission, replace(execution, cached=index > 0), self.assignment, parts)
            for index, submission in enumerate(submissions)
        ]
        with self.book.transaction():
            run_id = self.book.add_run(job.sha256, self.settings, outcome, path)
            self.book.add_grades([self.row(grade, run_id) for grade in grades])
            self.parts.save()
        self.result.executed += 1
        self.result.cached += len(submissions) - 1
        for index, grade in enumerate(grades):
            self.graded(grade, cached=index > 0)


def grade_batch(
    submissions: list[Submission],
    assignment: Assignment,
    options: RunOptions,
    book: Gradebook,
    executor: Executor,
    progress: Progress,
) -> BatchResult:
    """Grades every submission, running only notebooks without a stored run under these settings.

    Each result is committed as it lands. Ctrl-C starts nothing new, waits for the notebooks
    already running (their results are kept) and then raises KeyboardInterrupt; a second Ctrl-C
    stops at once.
    """
    started = time.monotonic()
    settings, description = execution_settings(assignment, options)
    book.record_settings(settings, description)
    batch = _Batch(
        assignment, book, progress, settings, scoring_fingerprint(assignment), book.record_submissions(submissions), {},
        PartStore(book),
    )  # fmt: skip
    cached: list[tuple[Submission, StoredRun]] = []
    unreadable: list[Submission] = []
    for submission in submissions:
        if submission.notebook is None:
            unreadable.append(submission)
        elif run := book.find_run(submission.sha256, settings):
            cached.append((submission, run))
        else:
            batch.pending.setdefault(submission.sha256, []).append(submission)

    if batch.pending:
        warm_up()  # the executed notebooks' pages come when the kernels end
    executor.start([make_job(group, settings, assignment, options) for group in batch.pending.values()])
    progress.start(len(submissions), executor)
    try:
        rows = []
        for submission in unreadable:
            grade = failed(submission, assignment, submission.error or "the notebook could not be read")
            rows.append(batch.row(grade, None))
            batch.graded(grade, cached=False)
        for (submission, run), grade in zip(cached, score_runs(book, cached, assignment)):
            rows.append(batch.row(grade, run.id))
            batch.result.cached += 1
            batch.graded(grade, cached=True)
        book.add_grades(rows)
        batch.collect(executor)
    finally:
        progress.stop()
        batch.result.seconds = time.monotonic() - started
    return batch.result
