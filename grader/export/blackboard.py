"""blackboard.csv / blackboard.txt: a Blackboard Learn Grade Center upload file (Work Offline > Upload).

    "Username","Regularization HW |12345"
    "anunez","7.5"

Blackboard matches students by ``Username`` and the column by the id after ``|``; a column
without an id becomes a new *text* column worth 0 points, hence the warning. Comma files quote
every field (Blackboard requires it); tab files (``delimiter="tab"``, written as
``blackboard.txt``) are what Blackboard recommends and quote the same way its own downloads do.
Only Username and the grade column are written: any other column would become a new column.
"""

from __future__ import annotations

from typing import Literal

from grader.export.common import (
    ErrorPolicy,
    Export,
    by_student,
    csv_bytes,
    duplicate_warnings,
    identity,
    safe_cell,
    total_cell,
)
from grader.rubric import Rubric

Delimiter = Literal["comma", "tab"]


def blackboard_file(
    records: list[dict],
    rubric: Rubric,
    *,
    column_id: str | None = None,
    title: str | None = None,
    delimiter: Delimiter = "comma",
    errors: ErrorPolicy = "blank",
) -> Export:
    if delimiter not in ("comma", "tab"):
        raise ValueError(f"blackboard delimiter {delimiter!r}: use comma or tab")
    title = title or rubric.title
    warnings: list[str] = []
    if column_id:
        column = f"{title} |{column_id}"
    else:
        column = title
        warnings.append(
            f"blackboard: no column id (--assignment-id), so Blackboard will add a new text column "
            f"{title!r} worth 0 points; the id is shown after '|' in a Grade Center download"
        )
    rows = [["Username", _one_line(safe_cell(column))]]
    records = by_student(records)
    for record in records:
        ident = identity(record)
        username = ident["login_id"] or ident["id"]
        if not ident["login_id"]:
            warnings.append(f"blackboard: {ident['id']!r} has no login, so the student id is used as Username")
        rows.append([_one_line(safe_cell(username)), total_cell(record, errors)])
    warnings += duplicate_warnings(records, "blackboard")
    name = "blackboard.txt" if delimiter == "tab" else "blackboard.csv"
    content = csv_bytes(rows, delimiter="\t" if delimiter == "tab" else ",", quote_all=True, line_end="\r\n")
    return Export({name: content}, tuple(warnings))


def _one_line(text: str) -> str:
    """No tab or line break inside a cell: Blackboard's tab parser does not honour quotes around them."""
    return " ".join(text.split()) if any(c in text for c in "\t\r\n") else text
