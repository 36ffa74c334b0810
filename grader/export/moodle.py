"""moodle.csv: for Moodle's gradebook import (Grades > Import > CSV file).

    Email address,Full name,<Title>,Feedback
    anunez@example.edu,"Núñez, Ana",7.5,"Score: 7.5 / 12
    q1: ..."

On Moodle's mapping page "Identify user by" maps the identifier column (``Email address`` or
``ID number``, chosen with ``identifier``) to the user field of the same name; the grade column
is mapped to the assignment's grade item and ``Feedback`` to "Feedback for <that item>";
``Full name`` is for people and is left as "Ignore".

Moodle aborts the whole import when one row's user is not found, and a row with an empty
identifier is credited to the row before it, so rows without the chosen identifier are left out
(with a warning). An empty grade is "no grade" in Moodle; submissions that could not be graded
get one (or 0 with ``errors="zero"``) and the error as feedback.
"""

from __future__ import annotations

from typing import Literal

from grader.export.common import (
    ErrorPolicy,
    Export,
    by_student,
    csv_bytes,
    display_name,
    duplicate_warnings,
    feedback_text,
    identity,
    safe_cell,
    total_cell,
)
from grader.rubric import Rubric

MoodleIdentifier = Literal["email", "idnumber"]

# Header names as in Moodle's own grade export, and where each comes from in the identity.
IDENTIFIER_COLUMNS = {"email": ("Email address", "email"), "idnumber": ("ID number", "sis_id")}


def moodle_csv(
    records: list[dict],
    rubric: Rubric,
    *,
    identifier: MoodleIdentifier = "email",
    title: str | None = None,
    errors: ErrorPolicy = "blank",
) -> Export:
    if identifier not in IDENTIFIER_COLUMNS:
        raise ValueError(f"moodle identifier {identifier!r}: use email or idnumber")
    header, field = IDENTIFIER_COLUMNS[identifier]
    rows = [[header, "Full name", safe_cell(title or rubric.title), "Feedback"]]
    warnings: list[str] = []
    records = by_student(records)
    for record in records:
        ident = identity(record)
        if not ident[field]:
            warnings.append(
                f"moodle: {ident['id']!r} has no {header.lower()}, so the row is left out "
                f"(Moodle would reject the whole file); add a roster with that column or grade them by hand"
            )
            continue
        rows.append(
            [
                safe_cell(ident[field]),
                safe_cell(display_name(record)),
                total_cell(record, errors),
                safe_cell(feedback_text(record, rubric)),
            ]
        )
    warnings += duplicate_warnings(records, "moodle")
    return Export({"moodle.csv": csv_bytes(rows)}, tuple(warnings))
