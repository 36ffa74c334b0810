"""What a student may see of a grade: one policy, applied before any page, check or export a
student reads.

For students a hidden concept keeps its name and points when the answer showed it, and loses its
quote, hint, negation and similarity (they would give its phrases away); a hidden concept the
answer missed is only counted; a flag that names a hidden concept (``Flag.concepts``) is left out;
reference answers and phrases go with the rubric (``visible_rubric``). ``redact`` applies it to a
grade (the student page, "fix first", the self-check); ``redact_record`` to a grades.json record,
for the exports students read (Moodle's feedback, Gradescope's results), which read grades.json
rather than grades. Instructors see everything.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Literal

from grader.models import Grade, QuestionGrade
from grader.rubric import Rubric, publish

Audience = Literal["instructor", "student"]
AUDIENCES = ("instructor", "student")
# What a hidden concept shows a student: every field that could give its phrases away, emptied.
REDACTED = {"evidence": "", "hint": "", "negated": False, "similarity": None, "hidden": True, "redacted": True}


def hidden_concepts(rubric: Rubric) -> set[tuple[str, str]]:
    """(question id, concept id) of every hidden concept."""
    return {(q.id, c.id) for q in rubric.questions for c in q.concepts if c.hidden}


def visible_rubric(rubric: Rubric, audience: str) -> Rubric:
    """The rubric as ``audience`` may see it: for students, ``rubric.publish`` (no hidden phrases,
    no reference answers)."""
    return publish(rubric) if audience == "student" else rubric


def redact(grade: Grade, rubric: Rubric, audience: str) -> Grade:
    """The grade as ``audience`` may see it (see the module's docstring)."""
    if _sees_everything(audience):
        return grade
    hidden = hidden_concepts(rubric)
    return replace(grade, questions=tuple(_redacted_question(q, hidden) for q in grade.questions))


def redact_record(record: dict, rubric: Rubric, audience: str) -> dict:
    """A grades.json record (``export.grades_json.grade_record``) as ``audience`` may see it: the
    policy of ``redact``, for what is made from grades.json. A redacted concept says so
    (``redacted``); a record written before flags kept their concepts (``flag_concepts``) shows a
    student no flag of a question with hidden concepts, since none can be shown safely."""
    if _sees_everything(audience):
        return record
    hidden = hidden_concepts(rubric)
    return {**record, "questions": [_redacted_question_record(q, hidden) for q in record.get("questions", [])]}


def _sees_everything(audience: str) -> bool:
    if audience not in AUDIENCES:
        raise ValueError(f"audience {audience!r}: use instructor or student")
    return audience == "instructor"


def _secret(question_id: str, concepts: Iterable[tuple[str, bool]], hidden: set[tuple[str, str]]) -> set[str]:
    """The ids of a question's concepts a student may not see: hidden in the grade or the rubric."""
    return {concept for concept, is_hidden in concepts if is_hidden or (question_id, concept) in hidden}


def _redacted_question(question: QuestionGrade, hidden: set[tuple[str, str]]) -> QuestionGrade:
    secret = _secret(question.id, ((c.id, c.hidden) for c in question.concepts), hidden)
    if not secret:
        return question
    concepts = tuple(replace(c, **REDACTED) if c.id in secret else c for c in question.concepts)
    flags = tuple(flag for flag in question.flags if not secret.intersection(getattr(flag, "concepts", ())))
    return replace(question, concepts=concepts, flags=flags)


def _redacted_question_record(question: dict, hidden: set[tuple[str, str]]) -> dict:
    concepts = question.get("concepts", [])
    secret = _secret(question["id"], ((c["id"], bool(c.get("hidden"))) for c in concepts), hidden)
    if not secret:
        return question
    flags, named = question.get("flags", []), question.get("flag_concepts")
    kept = (
        [(flag, ids) for flag, ids in zip(flags, named) if not secret.intersection(ids)]
        if isinstance(named, list) and len(named) == len(flags)
        else []
    )
    return {
        **question,
        "concepts": [{**c, **REDACTED} if c["id"] in secret else c for c in concepts],
        "flags": [flag for flag, _ in kept],
        "flag_concepts": [ids for _, ids in kept],
    }
