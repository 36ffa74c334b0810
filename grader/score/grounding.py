"""Written answers that discuss an experiment's results, read beside the checks of that experiment: an
answer that earns points describing results while none of the checks it discusses passed may describe
what might happen, or what the student expected, rather than what ran."""

from __future__ import annotations

from collections.abc import Sequence

from grader.models import CheckGrade, QuestionGrade
from grader.rubric import Question


def ungrounded_flags(question: Question, grade: QuestionGrade, checks: Sequence[CheckGrade]) -> list[str]:
    """The flag for a question (``discusses:`` in the rubric) that earns points while no check it
    discusses passed, or nothing."""
    discussed = [c for c in checks if c.id in question.discusses]
    if grade.score <= 0 or not discussed or any(c.passed for c in discussed):
        return []
    return [
        f"needs review: {question.name} earns {grade.score:g} of {grade.max_score:g} points discussing results, "
        f"but none of the checks it discusses passed ({', '.join(c.id for c in discussed)}): "
        "it may describe what might happen rather than what ran"
    ]
