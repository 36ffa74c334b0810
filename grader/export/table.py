"""grades.csv and grades.json: one row per student, one column per question and per check.

For a spreadsheet or a script, not for an LMS. Check columns are named ``check:<id>`` so they
never collide with a question id. grades.csv starts with a UTF-8 byte-order mark and ends lines
with CRLF, so Excel opens accented names correctly; grades.json is the same table as a list of
flat objects (null where the CSV is blank).
"""

from __future__ import annotations

import json

from grader.export.common import ErrorPolicy, Export, by_student, csv_bytes, identity, is_graded, number, safe_cell
from grader.rubric import Rubric

IDENTITY_COLUMNS = ["student", "name", "email", "lms_user_id", "sis_id", "login_id", "section"]


def table_rows(records: list[dict], rubric: Rubric, *, errors: ErrorPolicy = "blank") -> list[dict]:
    """The table as plain values (numbers, strings, None), one dict per student."""
    rows = []
    for record in by_student(records):
        ident = identity(record)
        graded = is_graded(record)
        ungraded_value = 0.0 if errors == "zero" else None
        row: dict = {"student": ident["id"], **{c: ident[c] for c in IDENTITY_COLUMNS[1:]}}
        row["status"] = record.get("status")
        row["score"] = float(record["score"]) if graded else ungraded_value
        row["max_score"] = float(record["max_score"])
        row["percent"] = float(record["percent"]) if graded else ungraded_value
        scores = {q["id"]: q["score"] for q in record.get("questions", [])}
        for question in rubric.questions:
            row[question.id] = (
                float(scores[question.id]) if question.id in scores else (ungraded_value if not graded else None)
            )
        checks = {c["id"]: c["score"] for c in record.get("checks", [])}
        for check in rubric.checks:
            key = f"check:{check.id}"
            row[key] = float(checks[check.id]) if check.id in checks else (ungraded_value if not graded else None)
        row["late"] = bool(record.get("late"))
        row["flags"] = "; ".join(record.get("flags") or [])
        row["error"] = record.get("error") or ""
        rows.append(row)
    return rows


def columns(rubric: Rubric) -> list[str]:
    return (
        IDENTITY_COLUMNS
        + ["status", "score", "max_score", "percent"]
        + [q.id for q in rubric.questions]
        + [f"check:{c.id}" for c in rubric.checks]
        + ["late", "flags", "error"]
    )


def grades_csv(records: list[dict], rubric: Rubric, *, errors: ErrorPolicy = "blank") -> Export:
    header = columns(rubric)
    lines = [header]
    for row in table_rows(records, rubric, errors=errors):
        lines.append([_cell(row[column]) for column in header])
    return Export({"grades.csv": csv_bytes(lines, line_end="\r\n", bom=True)})


def grades_table_json(records: list[dict], rubric: Rubric, *, errors: ErrorPolicy = "blank") -> Export:
    rows = table_rows(records, rubric, errors=errors)
    text = json.dumps(rows, indent=2, ensure_ascii=False) + "\n"
    return Export({"grades.json": text.encode("utf-8")})


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return number(value)
    return safe_cell(value)
