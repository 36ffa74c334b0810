"""Hand-ins that are the same file (identical bytes) as another student's: flagged for review."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Mapping

from grader.models import Grade


def identical_flag(others: Iterable[str]) -> str:
    return "needs review: the same notebook file (identical bytes) was also handed in by " + ", ".join(sorted(others))


def identical_hand_ins(shas: Mapping[str, str]) -> dict[str, list[str]]:
    """student -> the other students who handed in the same file (by sha256)."""
    by_sha: dict[str, list[str]] = {}
    for student, sha in shas.items():
        if sha:
            by_sha.setdefault(sha, []).append(student)
    return {student: [s for s in by_sha.get(sha, []) if s != student] for student, sha in shas.items()}


def mark_identical(grades: list[Grade]) -> list[Grade]:
    """Flags hand-ins that are byte-for-byte the same file as another student's."""
    identical = identical_hand_ins({g.submission.student: g.submission.sha256 for g in grades})
    return [
        replace(g, flags=(*g.flags, identical_flag(others))) if (others := identical[g.submission.student]) else g
        for g in grades
    ]
