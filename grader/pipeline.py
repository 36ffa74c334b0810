"""One submission through the stages, and the pure steps applied to a class's grades.

ingest -> execute -> extract -> score; then manual grades (``apply_overrides``) and identical
hand-ins (``mark_identical``). ``grader.batch`` maps this over a batch with an executor and the
gradebook. A submission that fails anywhere becomes a graded row with status "error"; the batch goes on.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

from grader.assignment import Assignment, ExecutionLimits, FastBudget
from grader.execute.facts import Facts
from grader.extract.evidence import gather_evidence
from grader.extract.internals import reaching_for_internals
from grader.models import Evidence, Execution, Grade, QuestionGrade, Submission
from grader.score import placement
from grader.score.checks import run_checks
from grader.score.concepts import score_answer
from grader.score.quiz import score_quiz


@dataclass(frozen=True)
class RunOptions:
    run: bool = True
    mode: str = "full"
    threads: int | None = None  # cap on the kernel's thread pools (None: the machine's cores)
    kernel_name: str = "python3"


def execute(
    submission: Submission, assignment: Assignment, options: RunOptions, on_progress: Callable[[str], None] | None = None
) -> Execution:
    return execute_notebook(
        submission.notebook, assignment.datasets, assignment.limits, options, assignment.budget.fast, on_progress
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
        return Execution(notebook=notebook, facts=Facts(), status="not_run", mode="no-run")
    from grader.execute.runner import run_notebook

    return run_notebook(
        notebook,
        datasets=datasets,
        limits=limits,
        mode=options.mode,
        budget=budget,
        kernel_name=options.kernel_name,
        threads=options.threads,
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


def score(submission: Submission, execution: Execution, assignment: Assignment) -> Grade:
    """Pure: the grade for what ran, under the assignment's rubric."""
    rubric = assignment.rubric
    evidence = gather_evidence(execution.notebook, rubric, assignment.template_lines)
    semantic = semantic_matcher(rubric)
    questions = tuple(
        _with_placement_flags(
            score_answer(q, evidence.answers.get(q.id), semantic)
            if q.kind == "text"
            else score_quiz(q, evidence.answers.get(q.id), execution.facts.variables),
            evidence,
        )
        for q in rubric.questions
    )
    checks = run_checks(list(rubric.checks), execution.facts, evidence, execution)
    flags = []
    if tampering := _tampering(execution, evidence):
        checks = tuple(
            replace(c, passed=False, score=0.0, evidence=(f"no points: {tampering}", *c.evidence)) for c in checks
        )
        flags.append(f"needs review: {tampering}")
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
    if submission.notebook is not None and placement.unchanged_template(
        submission.notebook, assignment.template_lines, evidence.answers
    ):
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


def _tampering(execution: Execution, evidence) -> str | None:
    """Why no code check may earn points in this run, or None: the runner found the recorders or
    the facts channel tampered with, or the code reaches for the grader's internals."""
    reasons = []
    if execution.tampered:
        reasons.append((execution.message or "the grader's recorders were tampered with")[:600])
    if found := reaching_for_internals(evidence.code_cells):
        reasons.append("the code reaches for the grader's internals: " + "; ".join(found))
    return "tampering: " + "; ".join(reasons) if reasons else None


def _with_placement_flags(grade: QuestionGrade, evidence: Evidence) -> QuestionGrade:
    extra = placement.question_flags(grade.answer, evidence.unplaced)
    return replace(grade, flags=(*grade.flags, *extra)) if extra else grade


def failed(submission: Submission, assignment: Assignment, message: str) -> Grade:
    return Grade(submission=submission, status="error", error=message, score=0.0, max_score=assignment.rubric.max_score)


def grade_submission(
    submission: Submission, assignment: Assignment, options: RunOptions, on_progress: Callable[[str], None] | None = None
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


# --------------------------------------------------------------------------- manual grades

TOTAL = "total"


@dataclass(frozen=True)
class Override:
    """A manual grade for one question, one check or the ``total``: who, when and why."""

    target: str
    score: float
    by: str
    at: str
    comment: str
    earlier: bool = False  # given for an earlier submission of this student

    def note(self) -> str:
        text = f"manually graded by {self.by}: {self.comment}" if self.comment else f"manually graded by {self.by}"
        return text + (" (given for an earlier submission)" if self.earlier else "")

    def record(self) -> dict:
        """The shape grades.json and the exports read."""
        return {"id": self.target, "score": self.score, "by": self.by, "at": self.at, "comment": self.comment}


def apply_overrides(grade: Grade, overrides: Iterable[Override]) -> Grade:
    """The grade with manual scores in place of the automatic ones, each flagged with who and why.

    A question or check override replaces that item's score (a check counts as passed when it has
    full marks) and the total changes by the difference; a ``total`` override sets the total and
    makes an ungradable submission graded. The same scores as ``grader.export.common.with_overrides``
    gives from grades.json (where the total is the sum of the items).
    """
    overrides = list(overrides)
    if not overrides:
        return grade
    by_target = {o.target: o for o in overrides}
    questions = tuple(
        replace(q, score=float(o.score), flags=(*q.flags, o.note())) if (o := by_target.get(q.id)) else q
        for q in grade.questions
    )
    checks = tuple(
        replace(c, score=float(o.score), passed=float(o.score) >= float(c.max_score), evidence=(o.note(), *c.evidence))
        if (o := by_target.get(c.id))
        else c
        for c in grade.checks
    )
    status, error, flags = grade.status, grade.error, list(grade.flags)
    changed = [(new.score, old.score) for new, old in zip((*questions, *checks), (*grade.questions, *grade.checks))]
    total = round(grade.score + sum(new - old for new, old in changed), 2)
    if whole := by_target.get(TOTAL):
        total, status, error = round(float(whole.score), 2), "graded", None
        flags.append(f"total {whole.note()}")
    return replace(grade, questions=questions, checks=checks, score=total, status=status, error=error, flags=tuple(flags))


def identical_flag(others: Iterable[str]) -> str:
    return "needs review: the same notebook file (identical bytes) was also handed in by " + ", ".join(sorted(others))


def mark_identical(grades: list[Grade]) -> list[Grade]:
    """Flags hand-ins that are byte-for-byte the same file as another student's."""
    students_by_sha: dict[str, list[str]] = {}
    for grade in grades:
        if grade.submission.sha256:
            students_by_sha.setdefault(grade.submission.sha256, []).append(grade.submission.student)
    marked = []
    for grade in grades:
        others = [s for s in students_by_sha.get(grade.submission.sha256, []) if s != grade.submission.student]
        marked.append(replace(grade, flags=(*grade.flags, identical_flag(others))) if others else grade)
    return marked
