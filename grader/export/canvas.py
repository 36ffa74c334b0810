"""canvas.csv: a Canvas Gradebook import file (Grades > Import).

Same shape as Canvas's own gradebook export, so Canvas reads it as one:

    Student,ID,SIS User ID,SIS Login ID,Section,<Title> (<assignment id>)
        Points Possible,,,,,<max score>
    "Núñez, Ana",1001,S1,anunez,Sec 1,7.5

Canvas matches a row to a student by ID (the Canvas user id, from the submission file names or
the roster), else SIS User ID, else SIS Login ID; rows it cannot match are listed on the import
page for you to match by hand. The assignment is matched by the id in parentheses; without it
Canvas creates a new assignment column. A blank score means "no grade from this file" (used for
submissions that could not be graded), which is safer than a 0 for a broken upload.
"""

from __future__ import annotations

from grader.export.common import (
    ErrorPolicy,
    Export,
    by_student,
    csv_bytes,
    display_name,
    duplicate_warnings,
    identity,
    number,
    safe_cell,
    total_cell,
)
from grader.rubric import Rubric

HEADER = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
POINTS_POSSIBLE = "    Points Possible"  # as in Canvas's own export; the importer skips this row


def canvas_csv(
    records: list[dict],
    rubric: Rubric,
    *,
    assignment_id: str | None = None,
    title: str | None = None,
    errors: ErrorPolicy = "blank",
) -> Export:
    title = title or rubric.title
    column = f"{title} ({assignment_id})" if assignment_id else title
    warnings: list[str] = []
    if not assignment_id:
        warnings.append(
            f"canvas: no assignment id (--assignment-id), so Canvas will create a new assignment "
            f"column {title!r} instead of filling the existing one; the id is the number at the end "
            f"of the assignment's address, .../assignments/<id>"
        )
    rows = [HEADER + [safe_cell(column)], [POINTS_POSSIBLE, "", "", "", "", number(rubric.max_score)]]
    records = by_student(records)
    for record in records:
        ident = identity(record)
        if not (ident["lms_user_id"] or ident["sis_id"] or ident["login_id"]):
            warnings.append(
                f"canvas: {ident['id']!r} has no Canvas user id, SIS User ID or SIS Login ID; "
                f"Canvas will ask you to match this row by hand (add a roster to match automatically)"
            )
        rows.append(
            [
                safe_cell(display_name(record)),
                safe_cell(ident["lms_user_id"]),
                safe_cell(ident["sis_id"]),
                safe_cell(ident["login_id"]),
                safe_cell(ident["section"]),
                total_cell(record, errors),
            ]
        )
    warnings += duplicate_warnings(records, "canvas")
    return Export({"canvas.csv": csv_bytes(rows)}, tuple(warnings))
