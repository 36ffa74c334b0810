"""grades.csv and grades.json: one row per student, one column per question and per check.

For a spreadsheet or a script, not for an LMS. A question's column is named as people see the
question: its label ("1.1", "Q1a") when the rubric gives one, else its id ("q1"); a label a
spreadsheet would turn into a number or a date ("1.10" shown as 1.1) gets a ``Q`` in front
("Q1.10"). Check columns are named ``check:<id>`` so they never collide with a question.
grades.csv starts with a UTF-8 byte-order mark and ends lines with CRLF, so Excel opens accented
names correctly; grades.json is the same table as a list of flat objects (null where the CSV is
blank).
"""

from __future__ import annotations

import json
import re

from grader.export.common import ErrorPolicy, Export, by_student, csv_bytes, identity, is_graded, number, safe_cell
from grader.rubric import Rubric

IDENTITY_COLUMNS = ["student", "name", "email", "lms_user_id", "sis_id", "login_id", "section"]
TOTAL_COLUMNS = ["status", "score", "max_score", "percent"]
TRAILING_COLUMNS = ["late", "flags", "error"]
_READ_AS_NUMBER = re.compile(r"[\d.,:/ -]+")


def question_columns(rubric: Rubric) -> dict[str, str]:
    """Each question's column name, by question id: its label as people see it, else its id. A label
    that would collide with another column (or another question's) keeps the id, so no column is lost."""
    wanted = {q.id: _column_label(q.label) if q.label else q.id for q in rubric.questions}
    reserved = {c.lower() for c in IDENTITY_COLUMNS + TOTAL_COLUMNS + TRAILING_COLUMNS}
    columns = {}
    for ident, name in wanted.items():
        others = {n.lower() for other, wants in wanted.items() if other != ident for n in (other, wants)}
        clashes = name.lower() in reserved | others or name.lower().startswith("check:")
        columns[ident] = ident if name != ident and clashes else name
    return columns


def _column_label(label: str) -> str:
    return "Q" + label if _READ_AS_NUMBER.fullmatch(label) else label


def table_rows(records: list[dict], rubric: Rubric, *, errors: ErrorPolicy = "blank") -> list[dict]:
    """The table as plain values (numbers, strings, None), one dict per student."""
    rows = []
    named = question_columns(rubric)
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
            row[named[question.id]] = (
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
        + TOTAL_COLUMNS
        + list(question_columns(rubric).values())
        + [f"check:{c.id}" for c in rubric.checks]
        + TRAILING_COLUMNS
    )


def grades_csv(records: list[dict], rubric: Rubric, *, errors: ErrorPolicy = "blank") -> Export:
    header = columns(rubric)
    lines = [[safe_cell(column) for column in header]]
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
