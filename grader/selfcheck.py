"""The student's self-check: the instructor's verdicts, before submitting, without the answer key.

`grader check NOTEBOOK` in a terminal, or `import grader; grader.check()` in a notebook cell.
The saved file runs in a fresh kernel (the fast budget by default), scored with the published
rubric: hidden concepts show as "graded after submission", never with their phrases. One
question (`--question q3`, `grader.check("q3")`) is checked from the saved file at once, and
shows only that question: the whole notebook's page and total are left alone.

The assignment is found beside or above the notebook: its ``assignment.yaml``, or a
``grader.yaml`` the instructor ships with the template that says where it is
(``assignment: ../hw3``, relative to that file).
"""

from __future__ import annotations

import html
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

from grader.assignment import Assignment
from grader.atomic import write_atomically
from grader.files import read_yaml
from grader.ingest.notebooks import read_submission
from grader.models import Execution, Grade
from grader.pipeline import RunOptions, grade_submission, score
from grader.redact import redact
from grader.words import humanize, named, sentences

POINTER = "grader.yaml"  # shipped with the template: where the published assignment is


class NotFound(FileNotFoundError):
    """The notebook or the assignment could not be found; callers add how to name it (a flag, an argument)."""


@dataclass(frozen=True)
class SelfCheck:
    grade: Grade
    warnings: tuple[str, ...]
    pending_points: float
    pending_concepts: int
    question: str | None = None  # one question checked: the result shows only that question


def stale_warnings(path: Path, notebook) -> list[str]:
    """What would differ when the instructor grades the file: unsaved work, hidden state."""
    warnings = []
    checkpoint = path.parent / ".ipynb_checkpoints" / f"{path.stem}-checkpoint.ipynb"
    if checkpoint.is_file() and checkpoint.stat().st_mtime > path.stat().st_mtime + 1:
        warnings.append(
            "The notebook's checkpoint is newer than the file: save the notebook (Ctrl+S) so the grader sees your latest work."
        )
    counts = [c.get("execution_count") for c in notebook.get("cells", []) if c.get("cell_type") == "code"]
    counts = [n for n in counts if isinstance(n, int)]
    if any(later <= earlier for earlier, later in zip(counts, counts[1:])):
        warnings.append(
            "Cells were run out of order (execution counts do not increase): outputs may depend on hidden state. "
            "Restart the kernel and run all cells to see what the grader will see."
        )
    return warnings


def self_check(
    path: Path,
    assignment: Assignment,
    *,
    budget: str = "fast",
    question: str | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> SelfCheck:
    """``on_progress`` hears what the check is doing (the kernel, each cell) while the student waits."""
    submission = read_submission(path, path.stem)
    if submission.notebook is None:
        grade = grade_submission(submission, assignment, RunOptions())
        return SelfCheck(grade, (), 0.0, 0)
    warnings = stale_warnings(path, submission.notebook)
    if question and _needs_no_kernel(assignment, question):
        execution = Execution.not_run(submission.notebook)
        grade = score(submission, execution, assignment)
    else:
        grade = grade_submission(submission, assignment, RunOptions(mode=budget, confirm_in_full=False), on_progress)
    if question:
        mine = tuple(q for q in grade.questions if question in (q.id, q.label))
        grade = replace(grade, questions=mine, checks=(), flags=(), score=sum(q.score for q in mine),
                        max_score=sum(q.max_score for q in mine))  # fmt: skip
    if grade.execution and grade.execution.cell_errors:
        cells = ", ".join(str(e.cell) for e in grade.execution.cell_errors)
        warnings.append(
            f"Cells {cells} raise errors when the notebook runs from the top: the grader will see the same."
        )
    pending = [c for q in grade.questions for c in q.concepts if c.pending]
    return SelfCheck(grade, tuple(warnings), sum(c.points for c in pending), len(pending), question)


def check_notebook(
    notebook: Path,
    folder: Path,
    *,
    question: str | None = None,
    budget: str = "fast",
    on_progress: Callable[[str], None] | None = None,
) -> tuple[Assignment, SelfCheck]:
    """What ``grader check`` and ``grader.check()`` both do: the assignment as students see it
    (published rubric), then the check of the saved notebook, its grade as students see it
    (``grader.redact``)."""
    from grader.assignment import load_assignment

    task = load_assignment(folder, audience="student")
    result = self_check(notebook, task, budget=budget, question=question, on_progress=on_progress)
    return task, replace(result, grade=redact(result.grade, task.rubric, "student"))


def write_feedback(result: SelfCheck, task: Assignment, notebook: Path, report: Path | None = None) -> Path:
    """The whole notebook's feedback page, as students see it, beside the notebook (or at ``report``)."""
    from grader.report.render import student_page

    path = report or notebook.with_name(f"{notebook.stem}-feedback.html")
    write_atomically(path, student_page(result.grade, task, "student"))
    return path


def _needs_no_kernel(assignment: Assignment, question: str) -> bool:
    ids = {q.id for q in assignment.rubric.questions} | {q.label for q in assignment.rubric.questions if q.label}
    if question not in ids:
        shown = (q.label or q.id for q in assignment.rubric.questions)
        raise ValueError(f"no question {question!r} in this assignment (questions: {', '.join(shown)})")
    return assignment.rubric.question(question).kind == "text"


def total_line(result: SelfCheck) -> str:
    grade = result.grade
    points = result.pending_points
    later = (
        f" ({points:g} more point{'' if points == 1 else 's'} {'is' if points == 1 else 'are'} graded after submission)"
        if points
        else ""
    )
    label = result.grade.questions[0].name if result.question and result.grade.questions else "Total"
    return f"{label}: {grade.score:g} / {grade.max_score:g}{later}"


def summary_rows(result: SelfCheck) -> list[tuple[str, str, str]]:
    """(item, points, what to do) for every question and check."""
    rows = []
    for question in result.grade.questions:
        missing = [c for c in question.concepts if not (c.found or c.pending or c.redacted)]
        pending = sum(1 for c in question.concepts if c.pending)
        advice = (
            sentences(c.hint or f"Show: {humanize(c.id)}" for c in missing)
            or question.feedback
            or "all visible concepts found"
        )
        if pending:
            advice += f" ({pending} more concept{'s' if pending > 1 else ''} graded after submission)"
        rows.append((question.name, f"{question.score:g} / {question.max_score:g}", advice))
    for check in result.grade.checks:
        ids = [c.id for c in result.grade.checks]
        why = [named(line, ids) for line in check.evidence]
        advice = "passed" if check.passed else "\n".join([*why, *([f"Hint: {check.hint}"] if check.hint else [])])
        rows.append((humanize(check.id), f"{check.score:g} / {check.max_score:g}", advice))
    return rows


def summary_html(result: SelfCheck, report: Path | None = None) -> str:
    """The inline feedback shown under `grader.check()` in a notebook."""
    grade = result.grade
    if grade.status == "error":
        return f"<p><strong>The notebook could not be checked:</strong> {html.escape(grade.error or '')}</p>"
    rows = "".join(
        f"<tr><td>{html.escape(item)}</td><td style='text-align:right'>{html.escape(points)}</td>"
        f"<td>{html.escape(advice).replace(chr(10), '<br>')}</td></tr>"
        for item, points, advice in summary_rows(result)
    )
    warnings = "".join(f"<p>⚠ {html.escape(w)}</p>" for w in result.warnings)
    link = f"<p>Full report: <code>{html.escape(str(report))}</code></p>" if report else ""
    return (
        f"{warnings}<table class='grader-check'><thead><tr><th>Question</th><th>Points</th><th>What to do</th></tr></thead>"
        f"<tbody>{rows}</tbody></table><p><strong>{html.escape(total_line(result))}</strong></p>{link}"
    )


def find_notebook() -> Path:
    """The notebook this kernel runs, as Jupyter tells it: JupyterLab and Notebook 7 set the session's
    path (``JPY_SESSION_NAME``, also ``__session__``), VS Code sets ``__vsc_ipynb_file__``."""
    candidates = [os.environ.get("JPY_SESSION_NAME")]
    try:
        from IPython import get_ipython

        shell = get_ipython()
        if shell is not None:
            candidates += [shell.user_ns.get("__session__"), shell.user_ns.get("__vsc_ipynb_file__")]
    except ImportError:
        pass
    for candidate in filter(None, candidates):
        path = Path(str(candidate)).expanduser()
        # a path relative to the server's root: the kernel runs in the notebook's own folder
        for found in (path, Path.cwd() / path.name):
            if found.suffix == ".ipynb" and found.is_file():
                return found
    raise NotFound("cannot tell which notebook this kernel runs (classic Notebook and some editors do not say)")


def find_assignment(notebook: Path) -> Path:
    """The assignment folder: holding ``assignment.yaml`` beside the notebook or above it, or named
    by a ``grader.yaml`` there."""
    for folder in [notebook.parent, *notebook.parent.parents]:
        if (folder / "assignment.yaml").is_file():
            return folder
        if (folder / POINTER).is_file():
            return _pointed_to(folder / POINTER)
    raise NotFound(f"no assignment.yaml (nor a {POINTER} saying where it is) beside {notebook} or above it")


def _pointed_to(pointer: Path) -> Path:
    data = read_yaml(pointer, NotFound)
    target = data.get("assignment") if isinstance(data, dict) else None
    if not isinstance(target, str) or not target.strip():
        raise NotFound(f"{pointer}: expected a line `assignment: PATH` (the assignment folder, relative to this file)")
    folder = (pointer.parent / Path(target.strip()).expanduser()).resolve()
    if not (folder / "assignment.yaml").is_file():
        raise NotFound(f"{pointer}: assignment {target!r} -> {folder} holds no assignment.yaml")
    return folder


def check(question: str | None = None, *, notebook: str | Path | None = None, assignment: str | Path | None = None):
    """Check the saved notebook as the grader will, and show the feedback in the notebook.

    The whole notebook's feedback page is written beside it; one question shows only that question."""
    from IPython.display import HTML, display

    try:
        path = Path(notebook) if notebook else find_notebook()
    except NotFound as exc:
        raise NotFound(f"{exc}: name it, e.g. grader.check(notebook='my_homework.ipynb')") from None
    try:
        folder = Path(assignment) if assignment else find_assignment(path.resolve())
    except NotFound as exc:
        raise NotFound(f"{exc}: name it, e.g. grader.check(assignment='path/to/assignment')") from None
    status = display(HTML(f"<p>Checking <code>{html.escape(path.name)}</code>…</p>"), display_id=True)

    def progress(message: str) -> None:
        if status is not None:
            status.update(HTML(f"<p>Checking <code>{html.escape(path.name)}</code>: {html.escape(message)}…</p>"))

    task, result = check_notebook(path, folder, question=question, on_progress=progress)
    report = write_feedback(result, task, path) if question is None else None
    if status is not None:
        status.update(HTML(f"<p>Checked <code>{html.escape(path.name)}</code>.</p>"))
    return HTML(summary_html(result, report))
