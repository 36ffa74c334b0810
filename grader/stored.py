"""What the gradebook keeps, as records: its rows (a stored submission, run, grade, override, a
grade to add) and the stored form of an execution (``dump_execution``: what a worker sends back and
what a run row and its notebook file hold; ``load_execution`` and ``load_run`` read it back)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from grader.facts import Facts
from grader.models import CellError, Execution, SkippedLine, Student, Submission


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def dump_execution(execution: Execution) -> dict[str, Any]:
    """An Execution as plain JSON-able data (what a worker sends back and what the gradebook keeps).

    The notebook is its JSON text (``json.dumps``: exact, no re-validation of a student's
    malformed notebook); facts are ``model_dump_json``; cell errors and skipped lines JSON lists.
    """
    return {
        "notebook": json.dumps(execution.notebook, ensure_ascii=False),
        "facts": execution.facts.model_dump_json(),
        "status": execution.status,
        "mode": execution.mode,
        "seconds": float(execution.seconds),
        "cell_errors": json.dumps([asdict(e) for e in execution.cell_errors], ensure_ascii=False),
        "skipped": json.dumps([asdict(s) for s in execution.skipped], ensure_ascii=False),
        "message": execution.message,
        "sandbox": execution.sandbox,
        "tampered": execution.tampered,
    }


def load_execution(payload: dict[str, Any], notebook_text: str | None = None, cached: bool = False) -> Execution:
    """The Execution back from ``dump_execution``'s data (``notebook_text`` when the notebook is a stored file)."""
    text = payload["notebook"] if notebook_text is None else notebook_text
    return Execution(
        notebook=json.loads(text, object_hook=NotebookNode),  # nbformat.from_dict's result, in half the time
        facts=Facts.model_validate_json(payload["facts"]),
        status=payload["status"],
        mode=payload["mode"],
        seconds=float(payload["seconds"]),
        cell_errors=tuple(CellError(**e) for e in json.loads(payload["cell_errors"])),
        skipped=tuple(SkippedLine(**s) for s in json.loads(payload["skipped"])),
        message=payload.get("message"),
        cached=cached,
        sandbox=payload.get("sandbox"),
        tampered=bool(payload.get("tampered", False)),
    )


def load_run(out: Path, run: StoredRun, cached: bool = True) -> Execution:
    """A stored run's Execution: its row's fields and its notebook file under ``out``."""
    text = (Path(out) / run.notebook).read_text(encoding="utf-8")
    return load_execution(run.payload, text, cached=cached)


@dataclass(frozen=True)
class StoredSubmission:
    id: int
    student: str
    source: str
    sha256: str
    received: str
    identity: dict
    late: bool
    notes: tuple[str, ...]
    error: str | None

    def submission(self, notebook: Any = None) -> Submission:
        return Submission(
            student=self.student,
            source=self.source,
            sha256=self.sha256,
            notebook=notebook,
            error=self.error,
            identity=Student(**self.identity) if self.identity else None,
            late=self.late,
            notes=self.notes,
        )


@dataclass(frozen=True)
class StoredRun:
    id: int
    sha256: str
    settings: str
    status: str
    notebook: str  # path under OUT
    payload: dict[str, Any]  # dump_execution's fields, without the notebook


@dataclass(frozen=True)
class StoredGrade:
    id: int
    submission: int
    run: int | None
    rubric: str
    graded: str
    how: str
    status: str
    error: str | None
    score: float
    max_score: float
    details: str  # JSON: the grades.json record of the automatic grade

    def record(self) -> dict:
        return json.loads(self.details)


@dataclass(frozen=True)
class Current:
    """A student's newest submission, its newest grade and the run that grade used."""

    submission: StoredSubmission
    grade: StoredGrade | None
    run: StoredRun | None


@dataclass(frozen=True)
class StoredOverride:
    id: int
    student: str
    sha256: str
    target: str
    score: float | None
    by: str
    at: str
    comment: str


@dataclass(frozen=True)
class NewGrade:
    """A grade to record: for which stored submission, from which run, under which rubric."""

    submission: int
    rubric: str
    how: str  # "grade" (a batch) or "rescore"
    status: str
    error: str | None
    score: float
    max_score: float
    details: dict
    run: int | None = None
