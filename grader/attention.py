"""What a person should look at, worst first: one rule for `grader review` and the class overview.

Both read the same inputs (a grade record as grades.json holds it, before manual grades; the
student's manual grades in force; who else handed in the same file), so both list the same
students for the same reasons. A manual grade settles what it covers: a question's flags once
that question is graded by hand, the whole submission once its total is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Literal, Mapping, Sequence

from grader.environment.failures import FLAG as ENVIRONMENT_FLAG
from grader.export.grades_json import grade_record, question_name
from grader.identical import identical_flag, identical_hand_ins
from grader.models import Grade
from grader.overrides import TOTAL, Override, with_overrides

# the grading environment stopped the code; not graded; flagged; only cells that failed
AttentionKind = Literal["environment", "error", "review", "run"]
NOT_GRADED = "not graded"


@dataclass(frozen=True)
class Attention:
    student: str
    kind: AttentionKind
    severity: int
    reasons: tuple[str, ...]
    score: float | None  # manual grades applied; None when not graded
    max_score: float


def attention(
    record: dict, overrides: Sequence[Override] = (), identical_with: Sequence[str] = (), include_settled: bool = False
) -> Attention | None:
    """Why this submission needs a person, or None. ``include_settled`` keeps what manual grades settled."""
    manual = {o.target: o for o in overrides}
    if TOTAL in manual and not include_settled:
        return None
    reasons: list[str] = []
    severity = 0
    if record.get("status") != "graded":
        reasons.append(
            record.get("error") or "the submission could not be read"
        )  # the badge or column says "not graded"
        severity += 100
    if TOTAL in manual:
        reasons.append(f"settled: total {manual[TOTAL].note()}")
    for note in record.get("notes", []):
        reasons.append(note)
        severity += 3
    for flag in record.get("flags", []):
        reasons.append(flag)
        severity += flag_severity(flag)
    flagged = [q for q in record.get("questions", []) if q.get("flags") and (include_settled or q["id"] not in manual)]
    reasons += _grouped_question_flags(flagged)
    severity += sum(len(q["flags"]) for q in flagged)
    if identical_with:
        reasons.append(identical_flag(identical_with))
        severity += 5
    for target, override in manual.items():
        if override.earlier:
            reasons.append(f"the manual grade for {target} was given for an earlier submission")
            severity += 5
    kind: AttentionKind = "error" if record.get("status") != "graded" else "review"
    if any(flag.startswith(ENVIRONMENT_FLAG) for flag in record.get("flags", [])):
        kind = "environment"
    cells = (record.get("execution") or {}).get("cells_failed") or []
    if cells:
        reasons.append(f"cell{'s' if len(cells) > 1 else ''} {', '.join(map(str, cells))} failed")
        severity += 1
        kind = kind if len(reasons) > 1 else "run"
    if not reasons:
        return None
    shown = with_overrides({**record, "overrides": [o.record() for o in overrides]})
    graded = shown.get("status") == "graded"
    return Attention(
        str(record.get("student", "")), kind, severity, tuple(reasons),
        float(shown.get("score") or 0) if graded else None, float(shown.get("max_score") or 0),
    )  # fmt: skip


def flag_severity(flag: str) -> int:
    """How much a flag weighs: the environment's failures come first (the grade stays wrong until a
    person fixes the environment or grades by hand), then failed runs."""
    if flag.startswith(ENVIRONMENT_FLAG):
        return 1000
    return 10 if flag.startswith("execution") else 1 if flag.startswith("not executed") else 3


def _grouped_question_flags(questions: list[dict]) -> list[str]:
    """One line per kind of question flag: "Q1, Q2, Q3: needs review: this answer follows a different question"."""
    groups: dict[str, list[str]] = {}
    for question in questions:
        for flag in question["flags"]:
            groups.setdefault(flag.split(": “")[0], []).append(question_name(question))
    return [f"{', '.join(ids)}: {reason}" for reason, ids in groups.items()]


def worst_first(items: Iterable[Attention | None]) -> list[Attention]:
    found = [item for item in items if item is not None]

    def share(item: Attention) -> float:
        return (item.score or 0) / item.max_score if item.max_score else 0.0

    return sorted(found, key=lambda item: (-item.severity, share(item), item.student.casefold()))


def class_attention(grades: list[Grade], overrides: Mapping[str, Sequence[Override]] | None = None) -> list[Attention]:
    """The class overview's list, from automatic grades (before manual grades and identical-file flags)."""
    overrides = overrides or {}
    identical = identical_hand_ins({g.submission.student: g.submission.sha256 for g in grades})
    return worst_first(
        attention(grade_record(g), overrides.get(g.submission.student, ()), identical[g.submission.student])
        for g in grades
    )
