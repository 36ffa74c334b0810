"""The `grader` command: each group of commands in a module of its own, registered here in the
order `grader --help` lists them."""

from __future__ import annotations

import typer

from grader.cli.check import check_command
from grader.cli.doctor import doctor
from grader.cli.exports import export, gradescope_run
from grader.cli.grading import grade, rescore
from grader.cli.review import override, review
from grader.cli.rubric import rubric_draft, rubric_lint, rubric_publish, rubric_try, score_answers_command

app = typer.Typer(help="Grade Jupyter notebook homework.", no_args_is_help=True, add_completion=False)
rubric_app = typer.Typer(help="Write and check rubric files.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")

app.command()(grade)
app.command()(rescore)
app.command()(override)
app.command()(review)
app.command()(doctor)
app.command()(export)
app.command("gradescope-run")(gradescope_run)
app.command("check")(check_command)
app.command("score-answers")(score_answers_command)
rubric_app.command("publish")(rubric_publish)
rubric_app.command("lint")(rubric_lint)
rubric_app.command("try")(rubric_try)
rubric_app.command("draft")(rubric_draft)
