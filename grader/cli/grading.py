"""`grader grade` and `grader rescore`: a class's submissions run, scored and published into an
output folder (its gradebook, grades.json, reports), and scored again without a kernel."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from grader.assignment import AssignmentError, load_assignment
from grader.cli.common import console, fail, open_graded, refresh_exports, remember_assignment
from grader.execute.kernels import missing_kernel
from grader.ingest.files import InputError, read_intake
from grader.ingest.roster import read_roster
from grader.pipeline import RunOptions
from grader.words import count


def _warn_readable(task, submissions, out: Path, quiet: bool) -> None:
    """Says at the start what a student's kernel sees of the file system: with bubblewrap only its
    run folder and Python; without it, which files that matter it could read (only their
    permissions hide them)."""
    from grader.execute.sandbox import plan, readable_by_kernels

    contained = task.limits.sandbox
    enforcement = plan(contained.network, contained.user)
    if enforcement.bubblewrap:
        if not quiet:
            console.print("Kernels see only their run folder and Python (bubblewrap).", highlight=False)
        return
    files = {task.rubric_path, task.solution, out / "gradebook.sqlite"}
    files.update(Path(s.source.split("!", 1)[0]) for s in submissions[:5000])
    exposed = readable_by_kernels(sorted(f for f in files if f is not None), enforcement)
    why = enforcement.note("file system view") or "bubblewrap is not used"
    if exposed:
        shown = ", ".join(map(str, exposed[:3])) + (f" and {len(exposed) - 3} more" if len(exposed) > 3 else "")
        console.print(
            f"[yellow]warning:[/] a student's kernel could read {shown}: {why}, {_unhidden(enforcement)}",
            highlight=False,
        )
    elif not quiet:
        console.print(
            f"Kernels see the whole file system ({why}); permissions hide this batch's files.", highlight=False
        )


def _unhidden(enforcement) -> str:
    """Why permissions do not keep a kernel without bubblewrap from those files, and the fix."""
    if enforcement.user is not None:
        return (
            "and the other layers cannot hide files others may read (install bubblewrap, or chmod o-rwx the"
            " assignment, submissions and output folders)"
        )
    if os.geteuid() == 0:
        return "and the kernel runs as root, whom no permission stops (install bubblewrap, or let kernels run as a user of their own)"
    return (
        "and the kernel runs as the grader's own user, whom no permission of the grader's files stops (install"
        " bubblewrap where unprivileged user namespaces are allowed, or run the grader as root)"
    )


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def _parse_data(values: list[str]) -> dict[str, Path]:
    parsed = {}
    for value in values:
        name, sep, file = value.partition("=")
        if not sep or not name or not file:
            fail(f"--data {value!r}: expected NAME=FILE, e.g. --data mnist=mnist.npz")
        parsed[name] = Path(file)
    return parsed


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
    from grader.batch import default_jobs, threads_per_kernel

    if budget is not None and budget not in ("full", "fast"):
        fail(f"--budget {budget!r}: use full or fast")
    if audience not in ("instructor", "student"):
        fail(f"--audience {audience!r}: use instructor or student")
    task, submissions = _read_class(paths, assignment, data or [], roster)
    if not no_run:
        _warn_readable(task, submissions, out, quiet)
    kernels = jobs or default_jobs()
    options = RunOptions(
        run=not no_run, mode=budget or task.budget.default, threads=None if scheduler else threads_per_kernel(kernels)
    )
    if options.run and not scheduler and (problem := missing_kernel(options.kernel_name)):
        fail(problem)  # a cluster's workers have kernels of their own
    result, grades = _grade_into(out, task, submissions, options, audience=audience, kernels=kernels,
                                 scheduler=scheduler, quiet=quiet)  # fmt: skip
    refresh_exports(out, task.rubric)
    if not quiet:
        _print_summary(out, grades, result, where=scheduler or f"{kernels} at a time")


def _read_class(paths: list[Path], assignment: Path, data: list[str], roster: Optional[Path]):
    """The assignment (with the datasets replaced for this run) and every submission to grade,
    naming what was skipped and who on the roster handed nothing in."""
    from grader.execute.sandbox import sweep_stale

    try:
        task = load_assignment(assignment).with_data(_parse_data(data))
        intake = read_intake(paths, read_roster(roster) if roster else None)
    except (AssignmentError, InputError) as exc:
        fail(str(exc))
    for source, reason in intake.skipped:
        console.print(f"skipped {source}: {reason}", highlight=False)
    for student in intake.missing:
        console.print(f"no submission from {student.name or student.id} (on the roster)", highlight=False)
    for left in sweep_stale():
        console.print(f"removed what an earlier grader left behind: {left}", highlight=False)
    submissions = intake.submissions + intake.refused
    if not submissions:
        fail("no notebooks found in " + ", ".join(map(str, paths)))
    return task, submissions


def _grade_into(out: Path, task, submissions, options: RunOptions, *, audience: str, kernels: int,
                scheduler: Optional[str], quiet: bool):  # fmt: skip
    """Runs the batch into OUT's gradebook and publishes the class's grades; Ctrl-C or SIGTERM
    stops it with every finished result kept."""
    from grader.batch import BatchError, grade_batch, make_executor, publish
    from grader.console import BatchProgress
    from grader.gradebook import Gradebook, GradebookError

    try:
        book = Gradebook(out)
        book.lock()
        executor = make_executor(kernels, scheduler, task)
    except (GradebookError, BatchError) as exc:
        fail(str(exc))
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
    return result, grades


def _print_summary(out: Path, grades, result, where: str) -> None:
    from grader.console import summary_line, summary_table

    total = len(grades)
    batch = [g for g in grades if g.submission.student in result.grades]
    Console().print(summary_table(batch, "Grades"))
    Console().print(summary_line(result, total, where), highlight=False)
    Console().print(
        f"Wrote {out / 'grades.json'}, {out / 'index.html'} and {count(total, 'report')} in {out / 'reports'}"
    )


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
    book, task = open_graded(out, assignment)
    with book:
        grades = publish(book, task, out, book.get_meta("audience") or "instructor", {}, record="all")
    refresh_exports(out, task.rubric)
    if not quiet:
        Console().print(summary_table(grades, "Grades (rescored)"))
        Console().print(
            f"Rescored {count(len(grades), 'submission')} in {time.monotonic() - started:.1f} s; wrote {out / 'grades.json'}"
        )
