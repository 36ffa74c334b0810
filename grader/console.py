"""What the command line shows while and after it works: the batch's progress bar and the tables
of grades and of what needs review (rich)."""

from __future__ import annotations

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

from grader.attention import NOT_GRADED, Attention
from grader.batch import BatchResult
from grader.models import Grade
from grader.words import count

PROBLEM_STATUSES = ("timeout", "kernel_died", "error")


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
        table.add_row(str(rank), Text(item.student), score, Text("\n".join(shown)))  # not markup: `files: [wine.csv]`
    return table
