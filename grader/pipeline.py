"""One submission through the stages, and the pure steps applied to a class's grades.

ingest -> execute -> extract -> score; manual grades are ``grader.overrides`` and identical
hand-ins ``grader.identical``. ``grader.batch`` maps this over a batch with an executor and the
gradebook. A submission that fails anywhere becomes a graded row with status "error"; the batch goes on.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

from grader.assignment import Assignment
from grader.environment.failures import environment_failures, failure_flags
from grader.extract.evidence import gather_evidence
from grader.extract.internals import reaching_for_internals
from grader.models import Answer, CheckGrade, Evidence, Execution, Grade, QuestionGrade, Submission
from grader.score import placement
from grader.score.checks import DOUBTS, number_flood, run_checks
from grader.score.concepts import is_unread_zero
from grader.score.grounding import ungrounded_flags
from grader.score.questions import score_question
from grader.settings import ExecutionLimits, FastBudget


@dataclass(frozen=True)
class RunOptions:
    run: bool = True
    mode: str = "full"
    threads: int | None = None  # cap on the kernel's thread pools (None: the machine's cores)
    kernel_name: str = "python3"
    confirm_in_full: bool = True  # a fast run whose verdict the budget decided is run again in full (not self-checks)


def execute(
    submission: Submission,
    assignment: Assignment,
    options: RunOptions,
    on_progress: Callable[[str], None] | None = None,
) -> Execution:
    return execute_notebook(
        submission.notebook, assignment.run_inputs(), assignment.limits, options, assignment.budget.fast, on_progress
    )


def execute_notebook(
    notebook: Any,
    datasets: dict[str, Path | None],
    limits: ExecutionLimits,
    options: RunOptions,
    budget: FastBudget | None = None,
    on_progress: Callable[[str], None] | None = None,
) -> Execution:
    """The execute stage on its own inputs (what a worker process or a cluster node receives)."""
    if not options.run:
        return Execution.not_run(notebook)
    from grader.execute.runner import run_notebook

    return run_notebook(
        notebook,
        datasets=datasets,
        limits=limits,
        mode=options.mode,
        budget=budget,
        kernel_name=options.kernel_name,
        threads=options.threads,
        confirm_in_full=options.confirm_in_full,
        on_progress=on_progress,
    )


_SEMANTIC: dict[str, object] = {}


def semantic_matcher(rubric):
    """The rubric's semantic matcher, made once per process (the model loads once per batch)."""
    if not rubric.wants_semantic:
        return None
    key = rubric.fingerprint()
    if key not in _SEMANTIC:
        from grader.score.semantic import semantic_for

        _SEMANTIC[key] = semantic_for(rubric)
    return _SEMANTIC[key]


class Parts:
    """How ``score`` works out the parts of a grade that depend on the notebook; ``grader.batch.memo``
    keeps them in the gradebook so that a rescore works out only what an edit changed."""

    def evidence(self, notebook, rubric, template_lines: frozenset[str]) -> Evidence:
        return gather_evidence(notebook, rubric, template_lines)

    def internals(self, code_cells: tuple[tuple[int, str], ...]) -> list[str]:
        return reaching_for_internals(code_cells)

    def question(self, question, answer: Answer | None, semantic) -> QuestionGrade:
        return score_question(question, answer, semantic)

    def checks(self, checks: list, execution: Execution, evidence: Evidence) -> tuple[CheckGrade, ...]:
        return run_checks(checks, execution.facts, evidence, execution)

    def answered_elsewhere(self, question, questions: list, evidence: Evidence) -> list[str]:
        return placement.shared_answer_flags(question, evidence.answers.get(question.id), questions, evidence.answers)


WORKED_OUT = Parts()


def score(submission: Submission, execution: Execution, assignment: Assignment, parts: Parts = WORKED_OUT) -> Grade:
    """Pure: the grade for what ran, under the assignment's rubric."""
    rubric = assignment.rubric
    evidence = parts.evidence(execution.notebook, rubric, assignment.template_lines)
    semantic = semantic_matcher(rubric)
    questions = tuple(
        _with_placement_flags(
            parts.question(q, evidence.answers.get(q.id), semantic),
            evidence,
            parts.answered_elsewhere(q, rubric.questions, evidence),
        )
        for q in rubric.questions
    )
    checks = parts.checks(list(rubric.checks), execution, evidence)
    questions = tuple(
        replace(grade, flags=(*grade.flags, *extra)) if (extra := ungrounded_flags(q, grade, checks)) else grade
        for q, grade in zip(rubric.questions, questions)
    )
    flags = failure_flags(environment_failures(execution))
    doubts = {line for check in checks for line in check.evidence if any(doubt in line for doubt in DOUBTS)}
    flags.extend(f"needs review: {line}" for line in sorted(doubts))
    if tampering := _tampering(execution, evidence, parts.internals(evidence.code_cells)):
        checks = tuple(
            replace(c, passed=False, score=0.0, evidence=(f"no points: {tampering}", *c.evidence)) for c in checks
        )
        flags.append(f"needs review: {tampering}")
    flags += static_credit_flags(checks)
    if execution.status not in ("ok", "not_run"):
        flags.append(f"execution {execution.status.replace('_', ' ')}: {execution.message or ''}".strip(": "))
    elsewhere = [q.id for q in questions if q.answer and q.answer.other_question]
    if len(elsewhere) >= max(2, len(rubric.questions) // 3):
        flags.append(
            f"looks like a different assignment: {len(elsewhere)} answers follow questions that are not this assignment's"
        )
    if execution.status == "not_run":
        flags.append("not executed (--no-run): code checks use only what the saved notebook shows")
    flags += placement.notebook_flags(evidence.answers.values(), evidence.unplaced, len(rubric.questions))
    if placement.unchanged_template(execution.notebook, assignment.template_lines, assignment.template_code, evidence):
        flags.append(placement.UNCHANGED_TEMPLATE)
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


def _tampering(execution: Execution, evidence: Evidence, internals: list[str]) -> str | None:
    """Why no code check may earn points in this run, or None: the runner found the recorders or
    the facts channel tampered with, or the code reaches for the grader's internals."""
    reasons = []
    if execution.tampered:
        reasons.append((execution.message or "the grader's recorders were tampered with")[:600])
    if internals:
        reasons.append("the code reaches for the grader's internals: " + "; ".join(internals))
    if flood := number_flood(
        execution.facts, evidence.outputs, evidence.static if execution.mode == "no-run" else None
    ):
        reasons.append(flood)
    return "tampering: " + "; ".join(reasons) if reasons else None


def _with_placement_flags(grade: QuestionGrade, evidence: Evidence, shared: list[str]) -> QuestionGrade:
    """Where the question's answer may be instead: said in place of "the answer found earns nothing"."""
    extra = placement.question_flags(grade.answer, evidence.unplaced) or shared
    if not extra:
        return grade
    kept = [f for f in grade.flags if not is_unread_zero(f)]
    return replace(grade, flags=(*kept, *extra))


def static_credit_flags(checks) -> list[str]:
    """Points earned by reading the code rather than from a run are for a person to confirm."""
    read = [c for c in checks if c.source == "static" and c.score > 0]
    if not read:
        return []
    points = sum(c.score for c in read)
    return [
        f"needs review: {points:g} points of code checks ({', '.join(c.id for c in read)}) come from reading the code, not from a run"
    ]


def failed(submission: Submission, assignment: Assignment, message: str) -> Grade:
    return Grade(submission=submission, status="error", error=message, score=0.0, max_score=assignment.rubric.max_score)


def grade_submission(
    submission: Submission,
    assignment: Assignment,
    options: RunOptions,
    on_progress: Callable[[str], None] | None = None,
) -> Grade:
    """``on_progress`` hears what is happening (kernel, cells, scoring), for a person waiting."""
    if submission.notebook is None:
        return failed(submission, assignment, submission.error or "the notebook could not be read")
    try:
        execution = execute(submission, assignment, options, on_progress)
        if on_progress is not None:
            on_progress("checking the answers and the code")
        return score(submission, execution, assignment)
    except Exception as exc:  # one submission must never stop the batch
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return failed(submission, assignment, f"the grader failed on this notebook: {detail}")
