"""`grader check`: a student's own check of a saved notebook, the grader's verdicts without the
answer key."""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from grader.assignment import AssignmentError
from grader.cli.common import console, fail
from grader.execute.kernels import missing_kernel
from grader.pipeline import RunOptions


def check_command(
    notebook: Annotated[Path, typer.Argument(help="Your saved notebook.")],
    assignment: Annotated[
        Optional[Path],
        typer.Option(
            help="The assignment folder (default: beside or above the notebook, or named by a grader.yaml there)."
        ),
    ] = None,
    question: Annotated[
        Optional[str], typer.Option(help="Check one question only, e.g. q3 (at once, no kernel for a written answer).")
    ] = None,
    budget: Annotated[str, typer.Option(help="fast (seconds) or full (as long as your training takes).")] = "fast",
    report: Annotated[
        Optional[Path], typer.Option(help="Where to write the HTML feedback (the whole notebook's check).")
    ] = None,
    open_report: Annotated[bool, typer.Option("--open", help="Open the feedback in a browser.")] = False,
) -> None:
    """Check your notebook before you submit: the grader's verdicts, without the answer key."""
    from grader.selfcheck import NotFound, check_notebook, find_assignment, summary_rows, total_line, write_feedback

    if not notebook.is_file():
        fail(f"{notebook}: no such notebook")
    try:
        folder = assignment or find_assignment(notebook.resolve())
    except NotFound as exc:
        fail(f"{exc}: pass --assignment DIR, the assignment folder your instructor gave you")
    if question is None and (problem := missing_kernel(RunOptions().kernel_name)):
        fail(problem)
    try:
        with _progress(f"Checking {notebook.name}") as progress:
            task, result = check_notebook(notebook, folder, question=question, budget=budget, on_progress=progress)
    except (AssignmentError, FileNotFoundError, ValueError) as exc:
        fail(str(exc))
    out = Console()
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if result.grade.status == "error":
        fail(f"{notebook}: {result.grade.error}")
    table = Table(title=f"{task.title}: {notebook.name}" + (f", {question} only" if question else ""))
    for column in ("question", "points", "what to do"):
        table.add_column(column, overflow="fold")
    for row in summary_rows(result):
        table.add_row(*row)
    out.print(table)
    path = None
    if question is None:
        path = write_feedback(result, task, notebook, report)
        out.print(f"Feedback: {path}", highlight=False)
    print(total_line(result))
    if open_report and path is not None:
        import webbrowser

        webbrowser.open(path.resolve().as_uri())


@contextmanager
def _progress(title: str):
    """Tells a waiting person what is happening: a spinner in a terminal, one line per step otherwise."""
    if console.is_terminal:
        with console.status(title) as status:
            yield lambda message: status.update(f"{title}: {message}")
    else:
        yield lambda message: console.print(f"{title}: {message}", highlight=False)
