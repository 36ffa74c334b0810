"""What every export shares: the Export record, safe spreadsheet cells, numbers, identities, feedback.

Exports read grade records (the objects of grades.json, see ``grades_json.grade_record``), never
Grade dataclasses, so they can run long after grading, from the file alone.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Literal

from grader.export.grades_json import question_name
from grader.overrides import with_overrides
from grader.redact import redact_record, visible_rubric
from grader.rubric import Rubric
from grader.words import humanize

ErrorPolicy = Literal["blank", "zero"]

# A spreadsheet treats a cell starting with one of these as a formula (OWASP "CSV injection").
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class ExportError(ValueError):
    """An export that cannot be made, said so a person can fix it."""


@dataclass(frozen=True)
class Export:
    """File contents keyed by their path under ``OUT/exports/``, and what the instructor should know."""

    files: dict[str, bytes]
    warnings: tuple[str, ...] = ()


def safe_cell(value: object) -> str:
    """Text for one CSV cell: a leading ``=``, ``+``, ``-``, ``@`` (or tab, CR) gets a ``'`` so no formula runs."""
    if value is None:
        return ""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def number(value: float | None) -> str:
    """A score as the LMS wants it: at most two decimals, no trailing zeros (7.5, 10, 3.33)."""
    if value is None:
        return ""
    text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def csv_bytes(
    rows: Iterable[list[str]],
    *,
    delimiter: str = ",",
    quote_all: bool = False,
    line_end: str = "\n",
    bom: bool = False,
) -> bytes:
    """UTF-8 CSV written by the csv module; cells must already be strings (``safe_cell``/``number``)."""
    buffer = io.StringIO()
    writer = csv.writer(
        buffer,
        delimiter=delimiter,
        quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL,
        lineterminator=line_end,
    )
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode("utf-8")


def identity(record: dict) -> dict[str, str]:
    """The student's identity fields, every one a string ('' when unknown)."""
    found = record.get("identity") or {}
    fields = ("name", "email", "lms_user_id", "sis_id", "login_id", "section")
    ident = {field: str(found.get(field) or "") for field in fields}
    ident["id"] = str(found.get("id") or record.get("student") or "")
    return ident


def display_name(record: dict) -> str:
    ident = identity(record)
    return ident["name"] or ident["id"]


def is_graded(record: dict) -> bool:
    return record.get("status") == "graded"


def total_cell(record: dict, errors: ErrorPolicy) -> str:
    """The score cell of an LMS file: the total, or for an ungraded submission blank (default) or 0."""
    if is_graded(record):
        return number(record.get("score"))
    return "0" if errors == "zero" else ""


def by_student(records: Iterable[dict]) -> list[dict]:
    """Records in a stable order (by student id), with manual overrides applied."""
    return sorted((with_overrides(r) for r in records), key=lambda r: str(r.get("student", "")))


def duplicate_warnings(records: list[dict], target: str) -> list[str]:
    seen: dict[str, int] = {}
    for record in records:
        seen[record.get("student", "")] = seen.get(record.get("student", ""), 0) + 1
    return [
        f"{target}: student {student!r} has {count} rows (several submissions in grades.json); "
        f"the LMS keeps the last one it reads"
        for student, count in seen.items()
        if count > 1
    ]


def feedback_text(record: dict, rubric: Rubric) -> str:
    """A plain-text summary for the student: totals, what each answer missed, which checks failed.

    Made from the student's view of the record and rubric (``grader.redact``): a hidden concept
    that was missed is never named (that would publish the hidden rubric).
    """
    if not is_graded(record):
        return f"Not graded: {record.get('error') or 'the submission could not be graded'}"
    record, rubric = redact_record(record, rubric, "student"), visible_rubric(rubric, "student")
    concept_hints = {(q.id, c.id): c.hint for q in rubric.questions for c in q.concepts}
    hints = {c.id: c.hint for c in rubric.checks}
    min_words = {q.id: q.min_words for q in rubric.questions}
    lines = [f"Score: {number(record.get('score'))} / {number(record.get('max_score'))}"]
    for question in record.get("questions", []):
        line = f"{question_name(question)}: {number(question['score'])} / {number(question['max_score'])}"
        missing = []
        for concept in question.get("concepts", []):
            hint = concept_hints.get((question["id"], concept["id"]), "")
            if not concept.get("found") and not concept.get("redacted"):
                missing.append(f"{humanize(concept['id'])} ({hint})" if hint else humanize(concept["id"]))
        if missing:
            line += ". Missing: " + "; ".join(missing)
        found_points = sum(float(c.get("points") or 0) for c in question.get("concepts", []) if c.get("found"))
        if float(question["score"]) < min(float(question["max_score"]), found_points):
            words = min_words.get(question["id"])
            line += f". Capped: a full answer needs about {words} words" if words else ". Capped"
        lines.append(line)
    for check in record.get("checks", []):
        verdict = "passed" if check.get("passed") else "not passed"
        line = f"{humanize(check['id'])}: {verdict}, {number(check['score'])} / {number(check['max_score'])}"
        if not check.get("passed") and hints.get(check["id"]):
            line += f" ({hints[check['id']]})"
        lines.append(line)
    return "\n".join(lines)


_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(1, 10)), *(f"lpt{i}" for i in range(1, 10))}


def safe_dirname(name: str, taken: set[str]) -> str:
    """A folder name from a student id: ASCII letters, digits, ``._-``; never ``..``, never reused."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", ascii_name).strip("._")[:80] or "student"
    if cleaned.lower().split(".")[0] in _RESERVED:
        cleaned = "_" + cleaned
    candidate, n = cleaned, 2
    while candidate.lower() in taken:
        candidate, n = f"{cleaned}-{n}", n + 1
    taken.add(candidate.lower())
    return candidate
