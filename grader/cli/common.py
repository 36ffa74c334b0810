"""What the commands share: one console for messages, errors for people, the assignment an
output folder holds, and exports made again after the grades change."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from grader.assignment import AssignmentError, load_assignment
from grader.out_folder import OutFolder

console = Console(stderr=True, soft_wrap=True)  # one message, one line: people grep and paste them


def fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(2)


def open_graded(out: Path, assignment: Optional[Path]):
    """The gradebook in OUT and the assignment graded into it (or the one given)."""
    from grader.gradebook import Gradebook, GradebookError

    try:
        book = Gradebook(out, create=False)
        book.lock()
    except GradebookError as exc:
        fail(str(exc))
    try:
        task = load_assignment(assignment or recalled_assignment(out))
    except AssignmentError as exc:
        book.close()
        fail(str(exc))
    return book, task


def refresh_exports(out: Path, rubric) -> None:
    """Exports made earlier from OUT, made again so none is older than the grades; the ones that fail are named."""
    from grader.export.write import refresh_exports as refresh

    for item in refresh(out, rubric):
        if item.problem:
            files = ", ".join(map(str, item.paths)) or item.format
            console.print(
                f"[yellow]warning:[/] {files}: stale, older than the grades; not made again: {item.problem}",
                highlight=False,
            )
        else:
            console.print(f"refreshed {', '.join(map(str, item.paths))}", highlight=False)


def remember_assignment(out: Path, folder: Path) -> None:
    """So that later commands on OUT (export, rescore) know which assignment it holds."""
    OutFolder(out).assignment_record.write_text(json.dumps({"assignment": str(folder)}), encoding="utf-8")


def recalled_assignment(out: Path) -> Path:
    try:
        return Path(json.loads(OutFolder(out).assignment_record.read_text(encoding="utf-8"))["assignment"])
    except (OSError, ValueError, KeyError):
        raise AssignmentError(f"{out}: no graded assignment recorded here; pass --assignment DIR") from None


SemanticOption = Annotated[
    Optional[bool],
    typer.Option(
        "--semantic/--keywords-only",
        help="Match by meaning too (needs the semantic extra); default: as the rubric says.",
    ),
]


def semantic_matcher(rubric, semantic: Optional[bool]):
    """The rubric's semantic matcher (or None), warning when it was asked for but is not installed."""
    from grader.score.semantic import Unavailable, semantic_for

    matcher = semantic_for(rubric, semantic)
    if isinstance(matcher, Unavailable):
        console.print(f"[yellow]warning:[/] {matcher.reason}", highlight=False)
    return matcher
