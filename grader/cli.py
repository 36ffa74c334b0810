"""The `grader` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.console import Console
from rich.table import Table

from grader.assignment import AssignmentError, load_assignment
from grader.export.grades_json import grade_record, write_grades_json
from grader.export.gradescope import run_in_gradescope
from grader.export.write import ExportError, ExportOptions, export_grades
from grader.ingest.files import InputError, read_intake
from grader.ingest.roster import read_roster
from grader.ingest.notebooks import read_submission
from grader.pipeline import RunOptions, grade_all, grade_submission
from grader.report.render import write_reports
from grader.authoring.draft import DraftError, draft_rubric, read_questions
from grader.authoring.lint import lint_rubric
from grader.rubric import RubricError, load_rubric, parse_rubric

app = typer.Typer(help="Grade Jupyter notebook homework.", no_args_is_help=True, add_completion=False)
rubric_app = typer.Typer(help="Write and check rubric files.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")
console = Console(stderr=True)


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(2)


def _parse_data(values: list[str]) -> dict[str, Path]:
    parsed = {}
    for value in values:
        name, sep, file = value.partition("=")
        if not sep or not name or not file:
            _fail(f"--data {value!r}: expected NAME=FILE, e.g. --data mnist=mnist.npz")
        parsed[name] = Path(file)
    return parsed


@app.command()
def grade(
    paths: Annotated[list[Path], typer.Argument(help="Notebooks or folders of notebooks.")],
    assignment: Annotated[Path, typer.Option(help="The assignment folder (holds assignment.yaml).")],
    out: Annotated[Path, typer.Option(help="Where grades.json, index.html and reports/ go.")],
    budget: Annotated[str, typer.Option(help="Execution budget: full or fast.")] = "full",
    data: Annotated[Optional[list[str]], typer.Option(help="Replace a dataset for this run: NAME=FILE.")] = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not execute; grade the saved notebooks.")] = False,
    audience: Annotated[str, typer.Option(help="Reports for the instructor or the student.")] = "instructor",
    roster: Annotated[Optional[Path], typer.Option(help="Canvas gradebook export or an id,name,email CSV.")] = None,
    quiet: Annotated[bool, typer.Option(help="Print only errors.")] = False,
) -> None:
    """Run and grade submissions; write grades.json, reports and a class overview."""
    if budget not in ("full", "fast"):
        _fail(f"--budget {budget!r}: use full or fast")
    if audience not in ("instructor", "student"):
        _fail(f"--audience {audience!r}: use instructor or student")
    try:
        task = load_assignment(assignment).with_data(_parse_data(data or []))
        intake = read_intake(paths, read_roster(roster) if roster else None)
    except (AssignmentError, InputError) as exc:
        _fail(str(exc))
    for source, reason in intake.skipped:
        console.print(f"skipped {source}: {reason}", highlight=False)
    for student in intake.missing:
        console.print(f"no submission from {student.name or student.id} (on the roster)", highlight=False)
    submissions = intake.submissions
    if not submissions:
        _fail("no notebooks found in " + ", ".join(map(str, paths)))
    out.mkdir(parents=True, exist_ok=True)

    def progress(grade) -> None:
        if not quiet:
            status = f"{grade.score:g}/{grade.max_score:g}" if grade.status == "graded" else f"error: {grade.error}"
            console.print(f"graded {grade.submission.student}: {status}", highlight=False)

    grades = grade_all(submissions, task, RunOptions(run=not no_run, mode=budget), on_done=progress)
    grades = write_reports(grades, task, out, audience)
    write_grades_json(grades, out / "grades.json")
    remember_assignment(out, task.folder)
    if not quiet:
        _print_summary(grades, out)


def remember_assignment(out: Path, folder: Path) -> None:
    """So that later commands on OUT (export, rescore) know which assignment it holds."""
    (out / "assignment.json").write_text(json.dumps({"assignment": str(folder)}), encoding="utf-8")


def recalled_assignment(out: Path) -> Path:
    try:
        return Path(json.loads((out / "assignment.json").read_text(encoding="utf-8"))["assignment"])
    except (OSError, ValueError, KeyError):
        raise AssignmentError(f"{out}: no graded assignment recorded here; pass --assignment DIR") from None


def _print_summary(grades, out: Path) -> None:
    table = Table(title="Grades")
    for column in ("student", "score", "status"):
        table.add_column(column)
    for grade in grades:
        table.add_row(grade.submission.student, f"{grade.score:g} / {grade.max_score:g}", grade.error or grade.status)
    Console().print(table)
    Console().print(f"Wrote {out / 'grades.json'}, {out / 'index.html'} and {len(grades)} reports in {out / 'reports'}")


@app.command()
def export(
    out: Annotated[Path, typer.Option(help="The folder `grader grade` wrote (holds grades.json).")],
    format: Annotated[str, typer.Option("--format", help="canvas, moodle, blackboard, gradescope, csv or json.")],
    assignment: Annotated[Optional[Path], typer.Option(help="The assignment folder; by default the one graded into OUT.")] = None,
    assignment_id: Annotated[Optional[str], typer.Option(help="Canvas assignment id / Blackboard column id.")] = None,
    title: Annotated[Optional[str], typer.Option(help="Grade column name (default: the assignment's title).")] = None,
    moodle_id: Annotated[str, typer.Option(help="Moodle identifier column: email or idnumber.")] = "email",
    delimiter: Annotated[str, typer.Option(help="Blackboard file: comma (.csv) or tab (.txt).")] = "comma",
    errors: Annotated[str, typer.Option(help="Score for submissions that could not be graded: blank or zero.")] = "blank",
) -> None:
    """Write the grades in a format an LMS imports as it is, under OUT/exports/."""
    try:
        folder = assignment or recalled_assignment(out)
        rubric = load_assignment(folder).rubric
        options = ExportOptions(assignment_id, title, moodle_id, delimiter, errors)
        paths, warnings = export_grades(out, rubric, format, options)
    except (AssignmentError, ExportError) as exc:
        _fail(str(exc))
    for warning in warnings:
        console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for path in paths:
        print(path)


@app.command("gradescope-run")
def gradescope_run(
    assignment: Annotated[Path, typer.Option(help="The assignment folder inside the autograder image.")],
    submission: Annotated[Path, typer.Option(help="Where Gradescope puts the upload.")] = Path("/autograder/submission"),
    results: Annotated[Path, typer.Option(help="Where Gradescope reads results.json.")] = Path("/autograder/results/results.json"),
    budget: Annotated[str, typer.Option(help="Execution budget: full or fast.")] = "full",
) -> None:
    """Be Gradescope's autograder: grade the uploaded notebook and write results.json."""
    try:
        task = load_assignment(assignment)
    except AssignmentError as exc:
        _fail(str(exc))

    def grade_one(path: Path) -> dict:
        return grade_record(grade_submission(read_submission(path), task, RunOptions(mode=budget)))

    run_in_gradescope(submission, results, grade_one, task.rubric)


@rubric_app.command("lint")
def rubric_lint(
    file: Annotated[Path, typer.Argument(help="The rubric YAML file.")],
    strict: Annotated[bool, typer.Option(help="Exit 1 when there are warnings.")] = False,
) -> None:
    """Check a rubric: schema errors with the path of each bad field, then what would grade badly."""
    try:
        rubric = load_rubric(file)
    except RubricError as exc:
        _fail(str(exc))
    findings = lint_rubric(rubric)
    for finding in findings:
        print(f"{file}: {finding.where}: {finding.message}")
    print(f"{file}: {'OK' if not findings else f'{len(findings)} warning(s)'} "
          f"({len(rubric.questions)} questions, {len(rubric.checks)} checks, {rubric.max_score:g} points)")
    if findings and strict:
        raise typer.Exit(1)


@rubric_app.command("draft")
def rubric_draft(
    questions: Annotated[Path, typer.Option(help="CSV with question_id,prompt,reference[,points].")],
    out: Annotated[Path, typer.Option(help="Where to write the rubric YAML.")],
    title: Annotated[str, typer.Option(help="The rubric's title.")] = "Draft rubric",
) -> None:
    """Propose concepts and phrases from reference answers: a complete rubric to edit."""
    try:
        draft = draft_rubric(read_questions(questions), title)
        parse_rubric(draft, str(out))
    except (DraftError, RubricError) as exc:
        _fail(str(exc))
    out.write_text(
        "# Drafted by `grader rubric draft` from " + questions.name + ": edit the phrases, points and hints.\n"
        + yaml.safe_dump(draft, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    print(f"Wrote {out} ({len(draft['questions'])} questions)")


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
