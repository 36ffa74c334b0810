"""`grader export` (the grades in a format an LMS imports) and `grader gradescope-run` (the
grader as Gradescope's autograder)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from grader.assignment import AssignmentError, load_assignment
from grader.cli.common import console, fail, recalled_assignment
from grader.export.grades_json import grade_record
from grader.export.gradescope import run_in_gradescope
from grader.export.write import ExportError, ExportOptions, export_grades
from grader.ingest.notebooks import read_submission
from grader.pipeline import RunOptions, grade_submission


def export(
    out: Annotated[Path, typer.Option(help="The folder `grader grade` wrote (holds grades.json).")],
    format: Annotated[str, typer.Option("--format", help="canvas, moodle, blackboard, gradescope, csv or json.")],
    assignment: Annotated[
        Optional[Path], typer.Option(help="The assignment folder; by default the one graded into OUT.")
    ] = None,
    assignment_id: Annotated[Optional[str], typer.Option(help="Canvas assignment id / Blackboard column id.")] = None,
    title: Annotated[Optional[str], typer.Option(help="Grade column name (default: the assignment's title).")] = None,
    moodle_id: Annotated[str, typer.Option(help="Moodle identifier column: email or idnumber.")] = "email",
    delimiter: Annotated[str, typer.Option(help="Blackboard file: comma (.csv) or tab (.txt).")] = "comma",
    errors: Annotated[
        str, typer.Option(help="Score for submissions that could not be graded: blank or zero.")
    ] = "blank",
    leave_out: Annotated[
        bool,
        typer.Option(
            "--leave-out",
            help="Moodle: write the file even if graded students lack the identifier (grade them by hand).",
        ),
    ] = False,
) -> None:
    """Write the grades in a format an LMS imports as it is, under OUT/exports/.

    The file is made again by `grader rescore`, `grader override` and `grader grade` into the same OUT.
    """
    if not (out / "grades.json").is_file():
        fail(
            f"{out}: no grades here (no grades.json); run `grader grade ... --out {out}` first, or give the folder it wrote"
        )
    try:
        folder = assignment or recalled_assignment(out)
        rubric = load_assignment(folder).rubric
        options = ExportOptions(assignment_id, title, moodle_id, delimiter, errors, leave_out)
        paths, warnings = export_grades(out, rubric, format, options)
    except (AssignmentError, ExportError) as exc:
        fail(str(exc))
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for path in paths:
        print(path)


def gradescope_run(
    assignment: Annotated[Path, typer.Option(help="The assignment folder inside the autograder image.")],
    submission: Annotated[Path, typer.Option(help="Where Gradescope puts the upload.")] = Path(
        "/autograder/submission"
    ),
    results: Annotated[Path, typer.Option(help="Where Gradescope reads results.json.")] = Path(
        "/autograder/results/results.json"
    ),
    budget: Annotated[str, typer.Option(help="Execution budget: full or fast.")] = "full",
) -> None:
    """Be Gradescope's autograder: grade the uploaded notebook and write results.json."""
    try:
        task = load_assignment(assignment)
    except AssignmentError as exc:
        fail(str(exc))

    def grade_one(path: Path) -> dict:
        return grade_record(grade_submission(read_submission(path), task, RunOptions(mode=budget)))

    run_in_gradescope(submission, results, grade_one, task.rubric)
