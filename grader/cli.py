"""The `grader` command."""

from __future__ import annotations

import json
import signal
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.console import Console
from rich.table import Table
from rich.text import Text

from grader.assignment import AssignmentError, load_assignment
from grader.authoring.draft import DraftError, draft_rubric, read_questions
from grader.authoring.lint import lint_rubric
from grader.execute.kernels import missing_kernel
from grader.export.grades_json import grade_record
from grader.export.gradescope import run_in_gradescope
from grader.export.write import ExportError, ExportOptions, export_grades
from grader.ingest.files import InputError, read_intake
from grader.ingest.notebooks import read_submission
from grader.ingest.roster import read_roster
from grader.pipeline import RunOptions, grade_submission
from grader.rubric import RubricError, load_rubric, parse_rubric, publish
from grader.score.semantic import SemanticUnavailable
from grader.words import count

app = typer.Typer(help="Grade Jupyter notebook homework.", no_args_is_help=True, add_completion=False)
rubric_app = typer.Typer(help="Write and check rubric files.", no_args_is_help=True)
app.add_typer(rubric_app, name="rubric")
console = Console(stderr=True, soft_wrap=True)  # one message, one line: people grep and paste them


def _fail(message: str) -> None:
    console.print(f"[bold red]error:[/] {message}", markup=True, highlight=False)
    raise typer.Exit(2)


def _warn_readable(task, submissions, out: Path) -> None:
    """Says at the start which files that matter a student's kernel could read on this machine:
    the kernel's view of the file system is not reduced to its run folder, so only permissions hide them."""
    from grader.execute.sandbox import plan, readable_by_kernels

    files = {task.rubric_path, task.solution, out / "gradebook.sqlite"}
    files.update(Path(s.source.split("!", 1)[0]) for s in submissions[:5000])
    contained = task.limits.sandbox
    exposed = readable_by_kernels(sorted(f for f in files if f is not None), plan(contained.network, contained.user))
    if exposed:
        shown = ", ".join(map(str, exposed[:3])) + (f" and {len(exposed) - 3} more" if len(exposed) > 3 else "")
        console.print(
            f"[yellow]warning:[/] a student's kernel could read {shown}: the sandbox cannot hide files others may read"
            " (chmod o-rwx the assignment, submissions and output folders)",
            highlight=False,
        )


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


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
    paths: Annotated[list[Path], typer.Argument(help="Notebooks, folders of notebooks, or LMS .zip downloads.")],
    assignment: Annotated[Path, typer.Option(help="The assignment folder (holds assignment.yaml).")],
    out: Annotated[Path, typer.Option(help="Where grades.json, index.html, reports/ and gradebook.sqlite go.")],
    budget: Annotated[
        Optional[str], typer.Option(help="Execution budget: full or fast (default: the assignment's).")
    ] = None,
    data: Annotated[Optional[list[str]], typer.Option(help="Replace a dataset for this run: NAME=FILE.")] = None,
    no_run: Annotated[bool, typer.Option("--no-run", help="Do not execute; grade the saved notebooks.")] = False,
    audience: Annotated[str, typer.Option(help="Reports for the instructor or the student.")] = "instructor",
    roster: Annotated[Optional[Path], typer.Option(help="Canvas gradebook export or an id,name,email CSV.")] = None,
    jobs: Annotated[Optional[int], typer.Option(min=1, help="Notebooks run at once (default: half the cores).")] = None,
    scheduler: Annotated[
        Optional[str], typer.Option(help="Run the notebooks on a dask.distributed cluster: tcp://HOST:PORT.")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Print only errors.")] = False,
) -> None:
    """Run and grade submissions; write grades.json, reports, a class overview and the gradebook.

    Notebooks already run under the same settings (OUT/gradebook.sqlite) are not run again; an
    interrupted batch continues where it stopped when the same command is given again.
    """
    from grader.batch import BatchError, default_jobs, grade_batch, make_executor, publish, threads_per_kernel
    from grader.console import BatchProgress, summary_line, summary_table
    from grader.gradebook import Gradebook, GradebookError

    if budget is not None and budget not in ("full", "fast"):
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
    from grader.execute.sandbox import sweep_stale

    for left in sweep_stale():
        console.print(f"removed what an earlier grader left behind: {left}", highlight=False)
    submissions = intake.submissions + intake.refused
    if not submissions:
        _fail("no notebooks found in " + ", ".join(map(str, paths)))
    if not no_run:
        _warn_readable(task, submissions, out)
    kernels = jobs or default_jobs()
    options = RunOptions(
        run=not no_run, mode=budget or task.budget.default, threads=None if scheduler else threads_per_kernel(kernels)
    )
    if options.run and not scheduler and (problem := missing_kernel(options.kernel_name)):
        _fail(problem)  # a cluster's workers have kernels of their own
    try:
        book = Gradebook(out)
        book.lock()
        executor = make_executor(kernels, scheduler, task)
    except (GradebookError, BatchError) as exc:
        _fail(str(exc))
    with book:
        book.set_meta("audience", audience)
        remember_assignment(out, task.folder)
        main_thread = threading.current_thread() is threading.main_thread()  # only it may set a handler
        # SIGTERM stops the batch as Ctrl-C does, cleaning up after itself.
        terminate = signal.signal(signal.SIGTERM, _interrupt) if main_thread else None
        try:
            result = grade_batch(submissions, task, options, book, executor, BatchProgress(console, not quiet))
        except KeyboardInterrupt:
            console.print("stopped: every finished result is in the gradebook; give the same command again to finish")
            raise typer.Exit(130) from None
        finally:
            if main_thread:
                signal.signal(signal.SIGTERM, terminate)
            executor.close()
        grades = publish(book, task, out, audience, result.grades, record="changed")
        total = len(grades)
    refresh_exports(out, task.rubric)
    if not quiet:
        batch = [g for g in grades if g.submission.student in result.grades]
        Console().print(summary_table(batch, "Grades"))
        where = scheduler or f"{kernels} at a time"
        Console().print(summary_line(result, total, where), highlight=False)
        Console().print(
            f"Wrote {out / 'grades.json'}, {out / 'index.html'} and {count(total, 'report')} in {out / 'reports'}"
        )


def _open_graded(out: Path, assignment: Optional[Path]):
    """The gradebook in OUT and the assignment graded into it (or the one given)."""
    from grader.gradebook import Gradebook, GradebookError

    try:
        book = Gradebook(out, create=False)
        book.lock()
    except GradebookError as exc:
        _fail(str(exc))
    try:
        task = load_assignment(assignment or recalled_assignment(out))
    except AssignmentError as exc:
        book.close()
        _fail(str(exc))
    return book, task


@app.command()
def rescore(
    out: Annotated[Path, typer.Option(help="The folder `grader grade` wrote (holds gradebook.sqlite).")],
    assignment: Annotated[
        Optional[Path], typer.Option(help="The assignment folder; by default the one graded into OUT.")
    ] = None,
    quiet: Annotated[bool, typer.Option(help="Print only errors.")] = False,
) -> None:
    """Score every stored submission again under the current rubric (no kernel); rewrite grades.json and reports."""
    import time

    from grader.batch import publish
    from grader.console import summary_table

    started = time.monotonic()
    book, task = _open_graded(out, assignment)
    with book:
        grades = publish(book, task, out, book.get_meta("audience") or "instructor", {}, record="all")
    refresh_exports(out, task.rubric)
    if not quiet:
        Console().print(summary_table(grades, "Grades (rescored)"))
        Console().print(
            f"Rescored {count(len(grades), 'submission')} in {time.monotonic() - started:.1f} s; wrote {out / 'grades.json'}"
        )


@app.command()
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

    book, task = _open_graded(out, assignment)
    with book:
        current = {s.student: s for s in book.current_submissions()}
        if student not in current:
            known = ", ".join(sorted(current)[:20]) or "none"
            _fail(f"{student!r}: no such student in {book.path} (students: {known})")
        maxima = {q.id: q.points for q in task.rubric.questions} | {c.id: c.points for c in task.rubric.checks}
        maxima[TOTAL] = task.rubric.max_score
        if question not in maxima:
            _fail(f"{question!r}: not a question or check of the rubric; use one of {', '.join(maxima)}")
        if score.strip().lower() == "auto":
            points = None
        else:
            try:
                points = float(score)
            except ValueError:
                _fail(f"SCORE {score!r}: a number of points (0 to {maxima[question]:g}), or 'auto'")
            if not 0 <= points <= maxima[question]:
                _fail(f"SCORE {score}: {question} is worth 0 to {maxima[question]:g} points")
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


@app.command()
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
        _fail(str(exc))
    with book:
        items = review_items(book, include_reviewed=all_)
        total = len(book.current_submissions())
    if not items:
        print(f"Nothing to review among {count(total, 'submission')}.")
        return
    Console(width=max(100, Console().width)).print(review_table(items, total))


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


@app.command()
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
        _fail(str(exc))
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


def remember_assignment(out: Path, folder: Path) -> None:
    """So that later commands on OUT (export, rescore) know which assignment it holds."""
    (out / "assignment.json").write_text(json.dumps({"assignment": str(folder)}), encoding="utf-8")


def recalled_assignment(out: Path) -> Path:
    try:
        return Path(json.loads((out / "assignment.json").read_text(encoding="utf-8"))["assignment"])
    except (OSError, ValueError, KeyError):
        raise AssignmentError(f"{out}: no graded assignment recorded here; pass --assignment DIR") from None


@app.command()
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
        _fail(
            f"{out}: no grades here (no grades.json); run `grader grade ... --out {out}` first, or give the folder it wrote"
        )
    try:
        folder = assignment or recalled_assignment(out)
        rubric = load_assignment(folder).rubric
        options = ExportOptions(assignment_id, title, moodle_id, delimiter, errors, leave_out)
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
        _fail(str(exc))

    def grade_one(path: Path) -> dict:
        return grade_record(grade_submission(read_submission(path), task, RunOptions(mode=budget)))

    run_in_gradescope(submission, results, grade_one, task.rubric)


@app.command("check")
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
        _fail(f"{notebook}: no such notebook")
    try:
        folder = assignment or find_assignment(notebook.resolve())
    except NotFound as exc:
        _fail(f"{exc}: pass --assignment DIR, the assignment folder your instructor gave you")
    if question is None and (problem := missing_kernel(RunOptions().kernel_name)):
        _fail(problem)
    try:
        with _progress(f"Checking {notebook.name}") as progress:
            task, result = check_notebook(notebook, folder, question=question, budget=budget, on_progress=progress)
    except (AssignmentError, FileNotFoundError, ValueError) as exc:
        _fail(str(exc))
    out = Console()
    for warning in result.warnings:
        out.print(f"[yellow]warning:[/] {warning}", highlight=False)
    if result.grade.status == "error":
        _fail(f"{notebook}: {result.grade.error}")
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


SemanticOption = Annotated[
    Optional[bool],
    typer.Option(
        "--semantic/--keywords-only",
        help="Match by meaning too (needs the semantic extra); default: as the rubric says.",
    ),
]


def _semantic_matcher(rubric, semantic: Optional[bool]):
    """The rubric's semantic matcher (or None), warning when it was asked for but is not installed."""
    from grader.score.semantic import Unavailable, semantic_for

    matcher = semantic_for(rubric, semantic)
    if isinstance(matcher, Unavailable):
        console.print(f"[yellow]warning:[/] {matcher.reason}", highlight=False)
    return matcher


@app.command("score-answers")
def score_answers_command(
    rubric: Annotated[Path, typer.Option(help="The rubric YAML file.")],
    answers: Annotated[Path, typer.Option(help="CSV with columns question_id, answer_id, text.")],
    out: Annotated[Path, typer.Option(help="Where to write the scores CSV.")],
    semantic: SemanticOption = None,
) -> None:
    """Score written answers from a CSV against a rubric, without notebooks: one row per answer."""
    from grader.score.answers_api import AnswersError, read_answers, score_answers, write_scores

    try:
        parsed = load_rubric(rubric)
        rows = read_answers(answers)
        matcher = _semantic_matcher(parsed, semantic)
        results = score_answers(parsed, rows, matcher)
    except (RubricError, AnswersError) as exc:
        _fail(str(exc))
    try:
        write_scores(out, results)
    except OSError as exc:
        _fail(f"{out}: cannot write the scores: {exc.strerror or exc}")
    mode = "keywords + semantic" if matcher is not None and matcher.active else "keywords only"
    print(f"Wrote {out} ({count(len(results), 'answer')}, {mode})")


@rubric_app.command("publish")
def rubric_publish(
    rubric: Annotated[Path, typer.Argument(help="The full rubric.")],
    out: Annotated[Path, typer.Option(help="Where to write the student-safe rubric.")],
) -> None:
    """Write a rubric students may see: hidden concepts keep id, points and hint, lose their phrases."""
    try:
        public = publish(load_rubric(rubric))
    except RubricError as exc:
        _fail(str(exc))
    data = public.model_dump(mode="json", exclude_defaults=True)
    out.write_text(
        f"# Published from {rubric.name} by `grader rubric publish`: safe to give to students.\n"
        + yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100),
        encoding="utf-8",
    )
    print(f"Wrote {out}")


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
    print(
        f"{file}: {'OK' if not findings else count(len(findings), 'warning')} "
        f"({count(len(rubric.questions), 'question')}, {count(len(rubric.checks), 'check')}, {count(rubric.max_score, 'point')})"
    )
    if findings and strict:
        raise typer.Exit(1)


@rubric_app.command("try")
def rubric_try(
    rubric: Annotated[Path, typer.Argument(help="The rubric YAML file.")],
    notebooks: Annotated[list[Path], typer.Argument(help="A few saved notebooks (not run).")],
    out: Annotated[Path, typer.Option(help="Where to write the page.")] = Path("rubric-try.html"),
    template: Annotated[
        Optional[Path], typer.Option(help="The template notebook: its text is never taken for an answer.")
    ] = None,
    semantic: SemanticOption = None,
) -> None:
    """Score a few notebooks without running them; per concept, the sentence that matched or the nearest miss."""
    import nbformat

    from grader.authoring.try_rubric import render_html, render_terminal, try_rubric
    from grader.extract.cells import prose_lines

    try:
        parsed = load_rubric(rubric)
    except RubricError as exc:
        _fail(str(exc))
    template_lines: frozenset[str] = frozenset()
    if template is not None:
        try:
            template_lines = prose_lines(nbformat.read(template, as_version=4))
        except Exception as exc:
            _fail(f"{template}: not a readable notebook ({exc})")
    missing = [str(p) for p in notebooks if not p.is_file()]
    if missing:
        _fail(f"not found: {', '.join(missing)}")
    results = try_rubric(parsed, notebooks, template_lines, _semantic_matcher(parsed, semantic))
    for line in render_terminal(results):
        print(line)
    try:
        out.write_text(render_html(parsed, results), encoding="utf-8")
    except OSError as exc:
        _fail(f"{out}: cannot write the page: {exc.strerror or exc}")
    print(f"Wrote {out}")


@rubric_app.command("draft")
def rubric_draft(
    out: Annotated[Path, typer.Option(help="Where to write the rubric YAML.")],
    questions: Annotated[
        Optional[Path], typer.Option(help="CSV with question_id,prompt,reference[,points,part,number].")
    ] = None,
    solution: Annotated[
        Optional[Path], typer.Option(help="The solution notebook (with --template): references from its answers.")
    ] = None,
    template: Annotated[
        Optional[Path], typer.Option(help="The template notebook students get: its numbered questions.")
    ] = None,
    points: Annotated[float, typer.Option(help="Points per question drafted from notebooks.")] = 10.0,
    title: Annotated[str, typer.Option(help="The rubric's title.")] = "Draft rubric",
    semantic: Annotated[
        Optional[bool],
        typer.Option(
            "--semantic/--keywords-only",
            help="Group synonyms and add a reference share (needs the semantic extra); default: when installed.",
        ),
    ] = None,
) -> None:
    """Propose a rubric from reference answers (a CSV, or a solution notebook and its template): a draft to edit."""
    from grader.authoring.from_notebooks import questions_from_notebooks

    if (questions is None) == (solution is None and template is None) or (
        questions is None and None in (solution, template)
    ):
        _fail("give either --questions CSV, or both --solution and --template notebooks")
    try:
        if questions is not None:
            rows, source = read_questions(questions), questions.name
        else:
            rows, source = questions_from_notebooks(solution, template, points), f"{solution.name} and {template.name}"
        draft = draft_rubric(rows, title, semantic)
        parse_rubric(draft.rubric, str(out))
    except (DraftError, RubricError, SemanticUnavailable) as exc:
        _fail(str(exc))
    try:
        out.write_text(draft.to_yaml(source), encoding="utf-8")
    except OSError as exc:
        _fail(f"{out}: cannot write the rubric: {exc.strerror or exc}")
    print(
        f"Wrote {out} ({count(len(rows), 'question')}); check it with `grader rubric lint {out}` and `grader rubric try {out} NOTEBOOK`"
    )


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(app())
