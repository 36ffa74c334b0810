"""Manual grades (``grader override``): one rule for what they do to a grade, whether the grade is
a record in memory (``apply_overrides``) or a row of grades.json (``with_overrides``).

A question or check override replaces that item's score (a check counts as passed when it has
full marks) and moves the total by the difference; a ``total`` override sets the total and makes
an ungradable submission graded.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Iterable, Mapping

from grader.models import Grade

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


def overridden(
    scores: Mapping[str, float], total: float | None, given: Mapping[str, float]
) -> tuple[dict[str, float], float | None]:
    """(the items' new scores, the new total) under the manual scores ``given`` by target; the
    items not given keep theirs. A total of None (never graded) starts from the items' sum."""
    changed = {item: float(given[item]) for item in scores if item in given}
    if TOTAL in given:
        return changed, round(float(given[TOTAL]), 2)
    if not changed:
        return changed, total
    start = sum(scores.values()) if total is None else total
    return changed, round(start + sum(score - scores[item] for item, score in changed.items()), 2)


def apply_overrides(grade: Grade, overrides: Iterable[Override]) -> Grade:
    """The grade with manual scores in place of the automatic ones, each flagged with who and why."""
    by_target = {o.target: o for o in overrides}
    if not by_target:
        return grade
    items = {item.id: item.score for item in (*grade.questions, *grade.checks)}
    changed, total = overridden(items, grade.score, {target: o.score for target, o in by_target.items()})
    questions = tuple(
        replace(q, score=changed[q.id], flags=(*q.flags, by_target[q.id].note())) if q.id in changed else q
        for q in grade.questions
    )
    checks = tuple(
        replace(
            c,
            score=changed[c.id],
            passed=changed[c.id] >= float(c.max_score),
            evidence=(by_target[c.id].note(), *c.evidence),
        )
        if c.id in changed
        else c
        for c in grade.checks
    )
    status, error, flags = grade.status, grade.error, list(grade.flags)
    if whole := by_target.get(TOTAL):
        status, error = "graded", None
        flags.append(f"total {whole.note()}")
    return replace(
        grade, questions=questions, checks=checks, score=total, status=status, error=error, flags=tuple(flags)
    )


def with_overrides(record: dict) -> dict:
    """A grades.json record with its ``overrides`` applied (a new record; the same one when it has none).

    An override is ``{"id": <question id | check id | "total">, "score": <points>, ...}`` (other keys
    such as who, when and why are kept but not read); one without a score is ignored.
    """
    given = {o.get("id"): o.get("score") for o in record.get("overrides") or [] if o.get("score") is not None}
    if not given:
        return record
    result = copy.deepcopy(record)
    items = {item["id"]: item for item in result.get("questions", []) + result.get("checks", [])}
    scores = {target: float(item.get("score") or 0) for target, item in items.items()}
    changed, total = overridden(scores, result.get("score"), given)
    for target, score in changed.items():
        items[target]["score"] = score
        if "passed" in items[target]:
            items[target]["passed"] = score >= float(items[target].get("max_score") or 0)
    if TOTAL in given:
        result["status"], result["error"] = "graded", None
    if TOTAL not in given and not changed:
        return result
    result["score"] = total
    max_score = result.get("max_score") or 0
    result["percent"] = round(100 * result["score"] / max_score, 1) if max_score else 0.0
    return result
