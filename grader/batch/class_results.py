"""The class's grades: every student's current grade, re-scored from stored runs where needed (no
kernel), with manual grades and identical hand-ins applied; written as reports and grades.json;
and what needs review."""

from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from pathlib import Path

from grader.assignment import Assignment
from grader.atomic import write_atomically
from grader.attention import Attention, attention, class_attention, worst_first
from grader.batch.memo import PartStore
from grader.batch.settings import scoring_fingerprint
from grader.export.grades_json import grade_record
from grader.gradebook import Gradebook
from grader.identical import identical_hand_ins, mark_identical
from grader.models import Execution, Grade, Submission
from grader.out_folder import OutFolder
from grader.overrides import Override, apply_overrides
from grader.pipeline import WORKED_OUT, Parts, failed, score
from grader.stored import Current, NewGrade, StoredOverride, StoredRun, load_execution


def score_safely(
    submission: Submission, execution: Execution, assignment: Assignment, parts: Parts = WORKED_OUT
) -> Grade:
    try:
        return score(submission, execution, assignment, parts)
    except Exception as exc:  # one submission must never stop the batch
        detail = traceback.format_exception_only(type(exc), exc)[-1].strip()
        return failed(submission, assignment, f"the grader failed on this notebook: {detail}")


def new_grade(
    stored_id: int, grade: Grade, rubric: str, how: str, run: int | None, record: dict | None = None
) -> NewGrade:
    """The gradebook row of a grade (its grades.json ``record`` as the details)."""
    details = grade_record(grade) if record is None else record
    return NewGrade(stored_id, rubric, how, grade.status, grade.error, grade.score, grade.max_score, details, run)


@dataclass(frozen=True)
class ClassGrades:
    grades: list[Grade]  # every student in the gradebook, by student, overrides applied
    overrides: dict[str, list[Override]]
    attention: list[Attention]  # what a person should look at (the same list as `grader review`)
    rescored: int = 0


def _overrides(stored: list[StoredOverride], current_sha: str) -> list[Override]:
    return [Override(o.target, o.score, o.by, o.at, o.comment, earlier=o.sha256 != current_sha) for o in stored]


def class_grades(book: Gradebook, assignment: Assignment, fresh: dict[str, Grade], record: str) -> ClassGrades:
    """Every student's current grade: ``fresh`` ones as they are, the others scored again from their stored run.

    ``record``: "all" adds a grade row for every re-scored submission whose grade or rubric
    changed since its last grade (``grader rescore``: a row the same as the last says nothing new);
    "changed" only where the rubric changed.
    """
    rubric = scoring_fingerprint(assignment)
    stored_overrides = book.overrides()
    currents = book.current()
    stale = [c for c in currents if c.submission.student not in fresh]
    again = dict(zip((c.submission.student for c in stale), rescore_many(book, stale, assignment)))
    grades, rows = [], []
    for current in currents:
        student = current.submission.student
        if student in fresh:
            grades.append(fresh[student])
            continue
        grade = again[student]
        if current.grade is not None:
            details = grade_record(grade)
            changed = record == "all" and current.grade.details != json.dumps(details, ensure_ascii=False)
            if changed or current.grade.rubric != rubric:
                rows.append(new_grade(current.submission.id, grade, rubric, "rescore", current.grade.run, details))
        grades.append(grade)
    book.add_grades(rows)
    rescored = len(stale)
    overrides = {
        g.submission.student: _overrides(stored_overrides.get(g.submission.student, []), g.submission.sha256)
        for g in grades
    }
    needs = class_attention(grades, overrides)
    grades = [apply_overrides(g, overrides[g.submission.student]) for g in mark_identical(grades)]
    return ClassGrades(grades, overrides, needs, rescored)


def score_runs(book: Gradebook, pairs: list[tuple[Submission, StoredRun]], assignment: Assignment) -> list[Grade]:
    """Each submission scored from its stored run (no kernel), with the parts kept in the gradebook.

    One process: with the parts kept, a stored run takes a few milliseconds, less than sending its
    grade back from a worker process would (bench/rescore.py).
    """
    store = PartStore(book)
    grades = [score_stored(book.out, submission, run, assignment, store) for submission, run in pairs]
    store.save()
    return grades


def score_stored(
    out: Path, submission: Submission, run: StoredRun, assignment: Assignment, store: PartStore | None = None
) -> Grade:
    """One submission's grade from its stored run under the current rubric (with the parts ``store`` kept)."""
    try:
        text = (out / run.notebook).read_text(encoding="utf-8")
        execution = load_execution(run.payload, text, cached=True)
    except (OSError, ValueError) as exc:
        message = f"the stored run {run.notebook} could not be read ({exc}); run `grader grade` again"
        return failed(submission, assignment, message)
    parts = store.for_run(text, run.payload) if store is not None else WORKED_OUT
    return score_safely(submission, execution, assignment, parts)


def rescore_many(book: Gradebook, currents: list[Current], assignment: Assignment) -> list[Grade]:
    """The grade of each stored submission under the current rubric, from its stored run: no kernel."""
    grades: dict[int, Grade] = {}
    pairs, where = [], []
    for index, current in enumerate(currents):
        stored = current.submission
        if current.grade is None:
            message = "not graded yet: the batch stopped before this notebook ran; run `grader grade` again"
            grades[index] = failed(stored.submission(), assignment, stored.error or message)
        elif current.run is None:
            message = current.grade.error or stored.error or "could not be graded"
            grades[index] = failed(stored.submission(), assignment, message)
        else:
            pairs.append((stored.submission(), current.run))
            where.append(index)
    grades.update(zip(where, score_runs(book, pairs, assignment)))
    return [grades[index] for index in range(len(currents))]


def write_outputs(view: ClassGrades, assignment: Assignment, out: Path, audience: str) -> list[Grade]:
    """reports/<student>.html, index.html and grades.json (each record with its ``overrides``)."""
    from grader.report.render import write_reports

    grades = write_reports(view.grades, assignment, out, audience, attention=view.attention)
    records = []
    for grade in grades:
        record = grade_record(grade)
        record["overrides"] = [o.record() for o in view.overrides.get(grade.submission.student, [])]
        records.append(record)
    # One record a line: Python's JSON encoder is three times slower with indent (a second for 1,000)
    lines = ",\n".join(json.dumps(record, ensure_ascii=False) for record in records)
    write_atomically(OutFolder(out).grades_json, f"[\n{lines}\n]\n" if records else "[]\n")
    return grades


def publish(
    book: Gradebook, assignment: Assignment, out: Path, audience: str, fresh: dict[str, Grade], record: str
) -> list[Grade]:
    """The class's current grades (see ``class_grades``) written as reports, index.html and grades.json."""
    return write_outputs(class_grades(book, assignment, fresh, record), assignment, out, audience)


def review_items(book: Gradebook, include_reviewed: bool = False) -> list[Attention]:
    """What a person should look at, worst first (``grader.attention``: the class overview lists the same).

    Read from the gradebook alone (no rubric, no kernel); ``include_reviewed`` keeps what manual
    grades settled.
    """
    overrides = book.overrides()
    currents = book.current()
    identical = identical_hand_ins({c.submission.student: c.submission.sha256 for c in currents})
    items = []
    for current in currents:
        stored = current.submission
        if current.grade is None:
            record = {"student": stored.student, "status": "error", "error": "not graded yet (run `grader grade` again)",
                      "notes": list(stored.notes), "max_score": 0}  # fmt: skip
        else:
            record = current.grade.record()
        mine = _overrides(overrides.get(stored.student, []), stored.sha256)
        items.append(attention(record, mine, identical[stored.student], include_settled=include_reviewed))
    return worst_first(items)
