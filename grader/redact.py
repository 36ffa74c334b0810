"""What a student may see of a grade: one policy, applied before any page, check or export a
student reads.

For students a hidden concept keeps its name and points when the answer showed it, and loses its
quote, hint, negation and similarity (they would give its phrases away); a hidden concept the
answer missed is only counted; a flag that names a hidden concept (``Flag.concepts``) is left out;
reference answers and phrases go with the rubric (``visible_rubric``). Exports, which read
grades.json rather than grades, name no concept of ``hidden_concepts`` that an answer missed.
Instructors see everything.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Literal

from grader.models import ConceptResult, Grade, QuestionGrade
from grader.rubric import Rubric, publish

Audience = Literal["instructor", "student"]
AUDIENCES = ("instructor", "student")


def hidden_concepts(rubric: Rubric) -> set[tuple[str, str]]:
    """(question id, concept id) of every hidden concept."""
    return {(q.id, c.id) for q in rubric.questions for c in q.concepts if c.hidden}


def visible_rubric(rubric: Rubric, audience: str) -> Rubric:
    """The rubric as ``audience`` may see it: for students, ``rubric.publish`` (no hidden phrases,
    no reference answers)."""
    return publish(rubric) if audience == "student" else rubric


def redact(grade: Grade, rubric: Rubric, audience: str) -> Grade:
    """The grade as ``audience`` may see it (see the module's docstring)."""
    if audience not in AUDIENCES:
        raise ValueError(f"audience {audience!r}: use instructor or student")
    if audience == "instructor":
        return grade
    hidden = hidden_concepts(rubric)
    return replace(grade, questions=tuple(_redacted_question(q, hidden) for q in grade.questions))


def _redacted_question(question: QuestionGrade, hidden: set[tuple[str, str]]) -> QuestionGrade:
    secret = {c.id for c in question.concepts if c.hidden or (question.id, c.id) in hidden}
    if not secret:
        return question
    concepts = tuple(_redacted_concept(c) if c.id in secret else c for c in question.concepts)
    flags = tuple(flag for flag in question.flags if not secret.intersection(getattr(flag, "concepts", ())))
    return replace(question, concepts=concepts, flags=flags)


def _redacted_concept(concept: ConceptResult) -> ConceptResult:
    return replace(concept, evidence="", hint="", negated=False, similarity=None, hidden=True, redacted=True)
