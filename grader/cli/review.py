"""`grader review` and `grader override`: what a person should look at, and the manual grades
they give (kept in the gradebook; they survive rescoring and re-grading)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from grader.cli.common import fail, open_graded, refresh_exports
from grader.words import count


def override(
    student: Annotated[str, typer.Argument(help="The student's id, as in grades.json.")],
    question: Annotated[str, typer.Argument(help="A question id, a check id, or 'total'.")],
    score: Annotated[str, typer.Argument(help="The points to give, or 'auto' to withdraw the manual grade.")],
    out: Annotated[Path, typer.Option(help="The folder `grader grade` wrote (holds gradebook.sqlite).")],
    comment: Annotated[str, typer.Option(help="Why: shown in the report and kept in the gradebook.")] = "",
    by: Annotated[Optional[str], typer.Option(help="Who grades (default: your user name).")] = None,
    assignment: Annotated[
        Optional[Path], typer.Option(help="The assignment folder; by default the one graded into OUT.")
    ] = None,
) -> None:
    """Give a manual grade for one question or check (or the total); it survives rescoring and re-grading."""
    from grader.batch import publish
    from grader.overrides import TOTAL

    book, task = open_graded(out, assignment)
    with book:
        current = {s.student: s for s in book.current_submissions()}
        if student not in current:
            known = ", ".join(sorted(current)[:20]) or "none"
            fail(f"{student!r}: no such student in {book.path} (students: {known})")
        maxima = {q.id: q.points for q in task.rubric.questions} | {c.id: c.points for c in task.rubric.checks}
        maxima[TOTAL] = task.rubric.max_score
        if question not in maxima:
            fail(f"{question!r}: not a question or check of the rubric; use one of {', '.join(maxima)}")
        if score.strip().lower() == "auto":
            points = None
        else:
            try:
                points = float(score)
            except ValueError:
                fail(f"SCORE {score!r}: a number of points (0 to {maxima[question]:g}), or 'auto'")
            if not 0 <= points <= maxima[question]:
                fail(f"SCORE {score}: {question} is worth 0 to {maxima[question]:g} points")
        who = by or _user_name()
        book.add_override(student, current[student].sha256, question, points, who, comment)
        publish(book, task, out, book.get_meta("audience") or "instructor", {}, record="changed")
    refresh_exports(out, task.rubric)
    if points is None:
        print(f"{student} {question}: manual grade withdrawn; the automatic score applies")
    else:
        print(f"{student} {question}: {points:g} / {maxima[question]:g}, manually graded by {who}")


def _user_name() -> str:
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def review(
    out: Annotated[Path, typer.Option(help="The folder `grader grade` wrote (holds gradebook.sqlite).")],
    all_: Annotated[bool, typer.Option("--all", help="Also list what a manual grade already settled.")] = False,
) -> None:
    """List the submissions a person should look at, worst first."""
    from grader.batch import review_items
    from grader.console import review_table
    from grader.gradebook import Gradebook, GradebookError

    try:
        book = Gradebook(out, create=False)
    except GradebookError as exc:
        fail(str(exc))
    with book:
        items = review_items(book, include_reviewed=all_)
        total = len(book.current_submissions())
    if not items:
        print(f"Nothing to review among {count(total, 'submission')}.")
        return
    Console(width=max(100, Console().width)).print(review_table(items, total))
