"""One submission through the stages, and a batch of them.

ingest -> execute -> extract -> score; the batch writes grades.json and the reports at the end.
A submission that fails anywhere becomes a graded row with status "error"; the batch goes on.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from typing import Callable, Iterable

from grader.assignment import Assignment
from grader.execute.facts import Facts
from grader.extract.evidence import gather_evidence
from grader.models import Execution, Grade, Submission
from grader.score.checks import run_checks
from grader.score.concepts import score_answer
from grader.score.quiz import score_quiz


@dataclass(frozen=True)
class RunOptions:
    run: bool = True
    mode: str = "full"


def execute(submission: Submission, assignment: Assignment, options: RunOptions) -> Execution:
    if not options.run:
        return Execution(notebook=submission.notebook, facts=Facts(), status="not_run", mode="no-run")
    from grader.execute.runner import run_notebook

    return run_notebook(
        submission.notebook, datasets=assignment.datasets, limits=assignment.limits, mode=options.mode
    )


def score(submission: Submission, execution: Execution, assignment: Assignment) -> Grade:
    """Pure: the grade for what ran, under the assignment's rubric."""
    rubric = assignment.rubric
    evidence = gather_evidence(execution.notebook, rubric, assignment.template_lines)
    questions = tuple(
        score_answer(q, evidence.answers.get(q.id))
        if q.kind == "text"
        else score_quiz(q, evidence.answers.get(q.id), execution.facts.variables)
        for q in rubric.questions
    )
    checks = run_checks(list(rubric.checks), execution.facts, evidence, execution)
    flags = []
    if execution.status not in ("ok", "not_run"):
        flags.append(f"execution {execution.status.replace('_', ' ')}: {execution.message or ''}".strip(": "))
    elsewhere = [q.id for q in questions if q.answer and q.answer.other_question]
    if len(elsewhere) >= max(2, len(rubric.questions) // 3):
        flags.append(
            f"looks like a different assignment: {len(elsewhere)} answers follow questions that are not this assignment's"
        )
    if execution.status == "not_run":
        flags.append("not executed (--no-run): code checks use only what the saved notebook shows")
    total = sum(q.score for q in questions) + sum(c.score for c in checks)
    return Grade(
        submission=submission,
        status="graded",
        error=None,
        score=round(total, 2),
        max_score=rubric.max_score,
        questions=questions,
        checks=checks,
        execution=execution,
        flags=tuple(flags),
    )


def failed(submission: Submission, assignment: Assignment, message: str) -> Grade:
    return Grade(submission=submission, status="error", error=message, score=0.0, max_score=assignment.rubric.max_score)


def grade_submission(submission: Submission, assignment: Assignment, options: RunOptions) -> Grade:
    if submission.notebook is None:
        return failed(submission, assignment, submission.error or "the notebook could not be read")
    try:
        execution = execute(submission, assignment, options)
        return score(submission, execution, assignment)
    except Exception as exc:  # one submission must never stop the batch
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return failed(submission, assignment, f"the grader failed on this notebook: {detail}")


def grade_all(
    submissions: Iterable[Submission],
    assignment: Assignment,
    options: RunOptions,
    on_done: Callable[[Grade], None] = lambda grade: None,
) -> list[Grade]:
    grades = []
    for submission in submissions:
        grade = grade_submission(submission, assignment, options)
        on_done(grade)
        grades.append(grade)
    return grades


def with_report(grade: Grade, path) -> Grade:
    return replace(grade, report_path=path)
