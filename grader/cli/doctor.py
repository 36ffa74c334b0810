"""`grader doctor`: what the grading environment will miss, read from the class's code before
any notebook runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.assignment import AssignmentError, load_assignment
from grader.cli.common import console, fail
from grader.ingest.files import InputError, read_intake


def doctor(
    paths: Annotated[list[Path], typer.Argument(help="Notebooks, folders of notebooks, or LMS .zip downloads.")],
    assignment: Annotated[Path, typer.Option(help="The assignment folder (holds assignment.yaml).")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the findings as JSON.")] = False,
) -> None:
    """Read every submission without running it and say what the grading environment will miss.

    For the whole class: imports that will fail, data files and URLs the code reads, dataset
    loaders that need the network and removed APIs, each with the notebooks affected and the fix.
    """
    from grader.doctor import KIND_TITLES, diagnose, pip_names

    try:
        task = load_assignment(assignment)
        intake = read_intake(paths, None)
    except (AssignmentError, InputError) as exc:
        fail(str(exc))
    findings = diagnose(intake.submissions, task)
    unreadable = [s.student for s in intake.submissions if s.notebook is None]
    if as_json:
        print(json.dumps({"notebooks": len(intake.submissions), "unreadable": unreadable, "install": pip_names(findings),
                          "findings": [f.record() for f in findings]}, indent=2))  # fmt: skip
        return
    for source, reason in intake.skipped:
        console.print(f"skipped {source}: {reason}", highlight=False)
    out = Console(width=max(110, Console().width))
    if not findings:
        out.print(f"{len(intake.submissions)} notebooks read: nothing the grading environment lacks was found.")
    for kind, title in KIND_TITLES.items():
        rows = [f for f in findings if f.kind == kind]
        if not rows:
            continue
        table = Table(title=f"{title[:1].upper()}{title[1:]} ({len(rows)})", title_justify="left")
        for column in ("what", "notebooks", "fix"):
            table.add_column(column, overflow="fold")
        for finding in rows:
            names = ", ".join(finding.students[:3]) + (
                f" and {len(finding.students) - 3} more" if len(finding.students) > 3 else ""
            )
            table.add_row(Text(finding.item), Text(f"{len(finding.students)}: {names}"), Text(finding.fix))
        out.print(table)
    if pip_names(findings):
        out.print(f"To install for the kernel: pip install {' '.join(pip_names(findings))}", highlight=False)
    if unreadable:
        out.print(f"{len(unreadable)} notebooks could not be read: {', '.join(unreadable)}", highlight=False)
    out.print(f"{len(intake.submissions)} notebooks read, {len(findings)} findings.", highlight=False)
