"""What to fix first: the missed concepts and checks that cost the most points, biggest first."""

from __future__ import annotations

from dataclasses import dataclass

from grader.models import Grade, QuestionGrade
from grader.words import humanize


@dataclass(frozen=True)
class Fix:
    points: float
    where: str  # anchor id on the report page
    label: str
    advice: str


def fixes(grade: Grade, limit: int = 5) -> list[Fix]:
    """The points lost, grouped as a reader can act on them, largest first (ties keep page order).

    A question with no answer is one item, not one per concept. Redacted concepts (hidden from
    students, ``grader.redact``) are left out: their names and hints are not shown before release.
    """
    found: list[tuple[float, int, Fix]] = []
    order = 0
    for question in grade.questions:
        for fix in _question_fixes(question):
            found.append((fix.points, order, fix))
            order += 1
    for check in grade.checks:
        lost = check.max_score - check.score
        if lost > 0:
            advice = check.hint or check.description
            found.append((lost, order, Fix(lost, f"check-{check.id}", f"Code check: {humanize(check.id)}", advice)))
            order += 1
    found.sort(key=lambda item: (-item[0], item[1]))
    return [fix for _, _, fix in found[:limit]]


def _question_fixes(question: QuestionGrade) -> list[Fix]:
    name = question.name
    if question.answer is None or not question.answer.text.strip():
        if question.max_score <= 0:
            return []
        return [Fix(question.max_score, question.id, f"{name}: no answer found", "Write an answer to this question.")]
    if question.answer.other_question:
        return [
            Fix(
                question.max_score,
                question.id,
                f"{name}: answers a different question",
                "Answer the question this assignment asks.",
            )
        ]
    result = []
    for concept in question.concepts:
        if concept.found or concept.pending or concept.redacted:
            continue
        advice = concept.hint or "This idea is missing from the answer."
        if concept.negated:
            advice = "It appears only in a negated form. " + advice
        result.append(Fix(concept.points, question.id, f"{name}: {humanize(concept.id)}", advice))
    earned = min(question.max_score, sum(c.points for c in question.concepts if c.found))
    capped = round(earned - question.score, 2)
    if capped > 0:
        result.append(
            Fix(capped, question.id, f"{name}: answer too short", question.feedback or "Write a fuller answer.")
        )
    return result
