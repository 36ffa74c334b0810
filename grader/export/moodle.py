"""moodle.csv: for Moodle's gradebook import (Grades > Import > CSV file).

    Email address,Full name,<Title>,Feedback
    anunez@example.edu,"Núñez, Ana",7.5,"Score: 7.5 / 12
    q1: ..."

On Moodle's mapping page "Identify user by" maps the identifier column (``Email address`` or
``ID number``, chosen with ``identifier``) to the user field of the same name; the grade column
is mapped to the assignment's grade item and ``Feedback`` to "Feedback for <that item>";
``Full name`` is for people and is left as "Ignore".

Moodle aborts the whole import when one row's user is not found, and a row with an empty
identifier is credited to the row before it, so rows without the chosen identifier are left out.
That is refused (ExportError, nothing written) when a left-out student has a grade, since the
file would look complete and lose it; the message names the identifier that would work
(``leave_out`` writes the file anyway, with a warning per row). Ungraded rows without the
identifier are left out with a warning. An empty grade is "no grade" in Moodle; submissions that could not be graded
get one (or 0 with ``errors="zero"``) and the error as feedback.
"""

from __future__ import annotations

from typing import Literal

from grader.export.common import (
    ErrorPolicy,
    Export,
    ExportError,
    by_student,
    csv_bytes,
    display_name,
    duplicate_warnings,
    feedback_text,
    identity,
    is_graded,
    safe_cell,
    total_cell,
)
from grader.rubric import Rubric
from grader.words import count

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
    leave_out: bool = False,
) -> Export:
    if identifier not in IDENTIFIER_COLUMNS:
        raise ValueError(f"moodle identifier {identifier!r}: use email or idnumber")
    header, field = IDENTIFIER_COLUMNS[identifier]
    rows = [[header, "Full name", safe_cell(title or rubric.title), "Feedback"]]
    warnings: list[str] = []
    records = by_student(records)
    if not leave_out:
        _refuse_to_lose_grades(records, identifier)
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


def _refuse_to_lose_grades(records: list[dict], identifier: MoodleIdentifier) -> None:
    """ExportError when a graded student lacks the identifier; names what would work instead."""
    header, field = IDENTIFIER_COLUMNS[identifier]
    graded = [identity(r) for r in records if is_graded(r)]
    lost = [ident["id"] for ident in graded if not ident[field]]
    if not lost:
        return
    other = "idnumber" if identifier == "email" else "email"
    other_field = IDENTIFIER_COLUMNS[other][1]
    if all(ident[other_field] for ident in graded):
        fix = f"use --moodle-id {other}"
    else:
        wanted = {"email": "an email column", "idnumber": "an ID number column"}[identifier]
        fix = f"grade again with --roster FILE holding {wanted} (see docs/lms.md) and export again, or --leave-out to grade them in Moodle by hand"
    shown = ", ".join(lost[:5]) + (f" and {len(lost) - 5} more" if len(lost) > 5 else "")
    raise ExportError(
        f"moodle: {len(lost)} of {count(len(graded), 'graded student')} {'has' if len(lost) == 1 else 'have'} no {header.lower()} ({shown}); "
        f"their grades would be left out of moodle.csv, so nothing was written: {fix}"
    )
