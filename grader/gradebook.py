"""The gradebook: ``OUT/gradebook.sqlite``, what was received, what ran, what it earned, and who changed it.

Tables (nothing is ever updated or deleted; a re-grade, a re-run or a new override adds a row):

- ``submissions``: one row per version of a student's hand-in (student, source, sha256, received,
  identity, notes, and the reading error of an unreadable file). A student's current submission is
  their newest row.
- ``settings``: execution settings hash -> the settings it stands for (limits, budget, datasets...).
- ``runs``: one row per execution of a notebook (sha256 + settings hash, status, timings, facts,
  cell errors, skipped lines); the executed notebook is a file, ``OUT/runs/<sha256>-<settings>.ipynb``.
  A notebook whose sha256 and settings already have a run (other than a grader-side ``error``) is
  not run again.
- ``grades``: one row per scoring (submission, run, rubric hash, score, the grades.json record).
- ``overrides``: manual grades (student, question/check id or ``total``, score, by, at, comment).
- ``parts``: what scoring worked out and a rescore need not work out again (a notebook's evidence,
  its answers' places, a question's grade for an answer, a run's checks), JSON under a key that
  hashes every input (``grader.batch.memo``). A cache: deleting its rows loses nothing.

Each result is committed as it lands: the notebook file is written atomically first, then the run
and its grades go in one transaction, so a grader killed at any moment loses nothing finished.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterable

from grader.atomic import write_atomically
from grader.models import Execution, Submission
from grader.out_folder import OutFolder
from grader.stored import Current, NewGrade, StoredGrade, StoredOverride, StoredRun, StoredSubmission, load_run, now

SCHEMA_VERSION = "1"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS submissions (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL,
    source TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    received TEXT NOT NULL,
    identity TEXT NOT NULL,
    late INTEGER NOT NULL DEFAULT 0,
    notes TEXT NOT NULL DEFAULT '[]',
    error TEXT
);
CREATE INDEX IF NOT EXISTS submissions_by_student ON submissions (student, id);
CREATE TABLE IF NOT EXISTS settings (hash TEXT PRIMARY KEY, description TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    sha256 TEXT NOT NULL,
    settings TEXT NOT NULL REFERENCES settings (hash),
    status TEXT NOT NULL,
    mode TEXT NOT NULL,
    message TEXT,
    started TEXT NOT NULL,
    finished TEXT NOT NULL,
    seconds REAL NOT NULL,
    facts TEXT NOT NULL,
    cell_errors TEXT NOT NULL,
    skipped TEXT NOT NULL,
    notebook TEXT NOT NULL,
    worker TEXT NOT NULL DEFAULT '',
    sandbox TEXT,
    tampered INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS runs_by_key ON runs (sha256, settings, id);
CREATE TABLE IF NOT EXISTS grades (
    id INTEGER PRIMARY KEY,
    submission INTEGER NOT NULL REFERENCES submissions (id),
    run INTEGER REFERENCES runs (id),
    rubric TEXT NOT NULL,
    graded TEXT NOT NULL,
    how TEXT NOT NULL,
    status TEXT NOT NULL,
    error TEXT,
    score REAL NOT NULL,
    max_score REAL NOT NULL,
    details TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS grades_by_submission ON grades (submission, id);
CREATE TABLE IF NOT EXISTS overrides (
    id INTEGER PRIMARY KEY,
    student TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    target TEXT NOT NULL,
    score REAL,
    by TEXT NOT NULL,
    at TEXT NOT NULL,
    comment TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS overrides_by_student ON overrides (student, id);
CREATE TABLE IF NOT EXISTS parts (key TEXT PRIMARY KEY, kind TEXT NOT NULL, value TEXT NOT NULL);
"""

# Runs that say nothing about the notebook (the kernel did not start, the grader failed) are kept
# as history but never reused: the next `grader grade` runs that notebook again.
NOT_REUSABLE = ("error",)


class GradebookError(ValueError):
    """A gradebook that cannot be used; the message says which file and what to do."""


_SUBMISSION_COLUMNS = "id, student, source, sha256, received, identity, late, notes, error"
_RUN_COLUMNS = (
    "id, sha256, settings, status, mode, message, seconds, facts, cell_errors, skipped, notebook, sandbox, tampered"
)
_GRADE_COLUMNS = "id, submission, run, rubric, graded, how, status, error, score, max_score, details"


# The rows of the queries that build the current grades: each student's newest submission, its
# newest grade, and the run that grade used (only those runs are read, never the whole table).
_CURRENT = (
    "WITH newest_submissions AS (SELECT MAX(id) AS id FROM submissions GROUP BY student),"
    " newest_grades AS (SELECT MAX(id) AS id FROM grades WHERE submission IN (SELECT id FROM newest_submissions)"
    " GROUP BY submission) "
)


def _submission_row(row: sqlite3.Row) -> StoredSubmission:
    return StoredSubmission(
        row["id"], row["student"], row["source"], row["sha256"], row["received"], json.loads(row["identity"]),
        bool(row["late"]), tuple(json.loads(row["notes"])), row["error"],
    )  # fmt: skip


def _run_row(row: sqlite3.Row) -> StoredRun:
    payload = {
        key: row[key] for key in ("status", "mode", "message", "seconds", "facts", "cell_errors", "skipped", "sandbox")
    }
    payload["tampered"] = bool(row["tampered"])
    return StoredRun(row["id"], row["sha256"], row["settings"], row["status"], row["notebook"], payload)


def _grade_row(row: sqlite3.Row) -> StoredGrade:
    return StoredGrade(**{name: row[name] for name in row.keys()})


# --------------------------------------------------------------------------- the store


class Gradebook:
    """``OUT/gradebook.sqlite`` and the executed notebooks under ``OUT/runs/``. One writer: the coordinator."""

    def __init__(self, out: Path, *, create: bool = True):
        self.out = Path(out)
        self.folder = OutFolder(self.out)
        self.path = self.folder.gradebook
        if not create and not self.path.is_file():
            raise GradebookError(f"{self.path}: no gradebook here; run `grader grade ... --out {self.out}` first")
        self.out.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(OSError):  # kernels run as other users: the gradebook is not theirs to read
            self.out.chmod(0o700)
        try:
            self.db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            self.db.row_factory = sqlite3.Row  # columns by name
            self.db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a committed transaction survives the process being killed (not a power cut).
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.execute("PRAGMA foreign_keys=ON")
            with self.transaction():
                for statement in _statements(SCHEMA):
                    self.db.execute(statement)
                found = self.db.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone()
                if found is None:
                    self.db.execute("INSERT INTO meta (key, value) VALUES ('schema', ?)", (SCHEMA_VERSION,))
                elif found[0] != SCHEMA_VERSION:
                    raise GradebookError(
                        f"{self.path}: gradebook schema {found[0]}, this grader reads {SCHEMA_VERSION}; "
                        "grade into a new --out folder"
                    )
        except sqlite3.DatabaseError as exc:
            raise GradebookError(f"{self.path}: not a usable gradebook ({exc})") from None

    def lock(self) -> None:
        """Claims OUT for this process until it ends (or ``close``): one grader writes to a gradebook at a time."""
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; SQLite still keeps each transaction whole
            return
        handle = open(self.folder.lock, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise GradebookError(
                f"{self.out}: another grader ({holder}) is writing here; wait for it to finish or use another --out"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"pid {os.getpid()}")
        handle.flush()
        self._lock = handle

    def close(self) -> None:
        self.db.close()
        if getattr(self, "_lock", None) is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> "Gradebook":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def transaction(self):
        return _Transaction(self.db)

    # -- meta

    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction():
            self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    # -- submissions

    def record_submissions(self, submissions: Iterable[Submission]) -> dict[str, StoredSubmission]:
        """Each submission's row: the student's newest row if it is the same hand-in, else a new row."""
        latest = {s.student: s for s in self.current_submissions()}
        stored = {}
        with self.transaction():
            for submission in submissions:
                identity = asdict(submission.identity) if submission.identity else {}
                notes = list(submission.notes)
                old = latest.get(submission.student)
                same = old is not None and (
                    (old.sha256, old.source, old.identity, old.late, list(old.notes), old.error)
                    == (submission.sha256, submission.source, identity, submission.late, notes, submission.error)
                )
                if same:
                    stored[submission.student] = old
                    continue
                values = (
                    submission.student, submission.source, submission.sha256, now(),
                    json.dumps(identity, ensure_ascii=False), int(submission.late),
                    json.dumps(notes, ensure_ascii=False), submission.error,
                )  # fmt: skip
                cursor = self.db.execute(
                    "INSERT INTO submissions (student, source, sha256, received, identity, late, notes, error)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    values,
                )
                stored[submission.student] = StoredSubmission(
                    cursor.lastrowid, submission.student, submission.source, submission.sha256, values[3], identity,
                    bool(submission.late), tuple(notes), submission.error,
                )  # fmt: skip
        return stored

    def current_submissions(self) -> list[StoredSubmission]:
        rows = self.db.execute(
            f"SELECT {_SUBMISSION_COLUMNS} FROM submissions"
            " WHERE id IN (SELECT MAX(id) FROM submissions GROUP BY student) ORDER BY student"
        ).fetchall()
        return [_submission_row(row) for row in rows]

    # -- runs

    def record_settings(self, settings: str, description: dict) -> None:
        with self.transaction():
            self.db.execute(
                "INSERT OR IGNORE INTO settings (hash, description) VALUES (?, ?)",
                (settings, json.dumps(description, sort_keys=True)),
            )

    def find_run(self, sha256: str, settings: str) -> StoredRun | None:
        """The newest reusable run of this notebook under these settings whose notebook file is still there."""
        rows = self.db.execute(
            f"SELECT {_RUN_COLUMNS} FROM runs WHERE sha256 = ? AND settings = ?"
            f" AND status NOT IN ({','.join('?' * len(NOT_REUSABLE))}) ORDER BY id DESC",
            (sha256, settings, *NOT_REUSABLE),
        ).fetchall()
        for row in rows:
            run = _run_row(row)
            if (self.out / run.notebook).is_file():
                return run
        return None

    def run_notebook_path(self, sha256: str, settings: str) -> Path:
        return self.folder.run_notebook(sha256, settings)

    def load_run(self, run: StoredRun, cached: bool = True) -> Execution:
        return load_run(self.out, run, cached)

    def save_run_file(self, sha256: str, settings: str, payload: dict[str, Any]) -> str:
        """Writes the executed notebook (atomically); returns its path under OUT for ``add_run``."""
        path = self.run_notebook_path(sha256, settings)
        write_atomically(path, payload["notebook"])
        return path.relative_to(self.out).as_posix()

    def add_run(self, sha256: str, settings: str, payload: dict[str, Any], notebook: str) -> int:
        """Inserts the run row; call inside ``transaction()`` together with its grades."""
        cursor = self.db.execute(
            "INSERT INTO runs (sha256, settings, status, mode, message, started, finished, seconds, facts,"
            " cell_errors, skipped, notebook, worker, sandbox, tampered) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                sha256, settings, payload["status"], payload["mode"], payload.get("message"),
                payload.get("started") or now(), payload.get("finished") or now(), float(payload["seconds"]),
                payload["facts"], payload["cell_errors"], payload["skipped"], notebook, payload.get("worker", ""),
                payload.get("sandbox"), int(bool(payload.get("tampered"))),
            ),
        )  # fmt: skip
        return cursor.lastrowid

    # -- grades

    def add_grades(self, grades: Iterable[NewGrade]) -> None:
        """Inserts grade rows; call inside ``transaction()`` (or it is its own)."""
        rows = [
            (
                g.submission, g.run, g.rubric, now(), g.how, g.status, g.error, g.score, g.max_score,
                json.dumps(g.details, ensure_ascii=False),
            )
            for g in grades
        ]  # fmt: skip
        with self.transaction():
            self.db.executemany(
                "INSERT INTO grades (submission, run, rubric, graded, how, status, error, score, max_score, details)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )

    def current(self) -> list[Current]:
        """Every student's newest submission with its newest grade and that grade's run, by student."""
        submissions = self.current_submissions()
        grades = {
            row["submission"]: _grade_row(row)
            for row in self.db.execute(
                f"{_CURRENT}SELECT {_GRADE_COLUMNS} FROM grades WHERE id IN (SELECT id FROM newest_grades)"
            )
        }
        runs = {
            row["id"]: _run_row(row)
            for row in self.db.execute(
                f"{_CURRENT}SELECT {_RUN_COLUMNS} FROM runs"
                " WHERE id IN (SELECT run FROM grades WHERE id IN (SELECT id FROM newest_grades))"
            )
        }
        result = []
        for submission in submissions:
            grade = grades.get(submission.id)
            run = runs.get(grade.run) if grade and grade.run is not None else None
            result.append(Current(submission, grade, run))
        return result

    def history(self, student: str) -> list[tuple[StoredSubmission, StoredGrade]]:
        submissions = {
            row["id"]: _submission_row(row)
            for row in self.db.execute(f"SELECT {_SUBMISSION_COLUMNS} FROM submissions WHERE student = ?", (student,))
        }
        grades = self.db.execute(
            f"SELECT {_GRADE_COLUMNS} FROM grades WHERE submission IN (SELECT id FROM submissions WHERE student = ?)"
            " ORDER BY id",
            (student,),
        )
        return [(submissions[row["submission"]], _grade_row(row)) for row in grades]

    def count(self, table: str) -> int:
        if table not in ("submissions", "runs", "grades", "overrides", "settings", "parts"):
            raise ValueError(table)
        return self.db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]

    # -- parts (grader.batch.memo)

    def part(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM parts WHERE key = ?", (key,)).fetchone()
        return row["value"] if row else None

    def add_parts(self, parts: Iterable[tuple[str, str, str]]) -> None:
        """(key, kind, JSON value) rows; a key already there keeps its value (same key, same inputs)."""
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO parts (key, kind, value) VALUES (?, ?, ?)", parts)

    # -- overrides

    def add_override(
        self, student: str, sha256: str, target: str, score: float | None, by: str, comment: str
    ) -> StoredOverride:
        at = now()
        with self.transaction():
            cursor = self.db.execute(
                "INSERT INTO overrides (student, sha256, target, score, by, at, comment) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (student, sha256, target, score, by, at, comment),
            )
        return StoredOverride(cursor.lastrowid, student, sha256, target, score, by, at, comment)

    def overrides(self) -> dict[str, list[StoredOverride]]:
        """Each student's manual grades in force: the newest per target, withdrawn ones (score NULL) left out."""
        latest: dict[tuple[str, str], StoredOverride] = {}
        for row in self.db.execute(
            "SELECT id, student, sha256, target, score, by, at, comment FROM overrides ORDER BY id"
        ):
            override = StoredOverride(**{name: row[name] for name in row.keys()})
            latest[(override.student, override.target)] = override
        result: dict[str, list[StoredOverride]] = {}
        for override in latest.values():
            if override.score is not None:
                result.setdefault(override.student, []).append(override)
        return result


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


class _Transaction:
    """``with book.transaction():`` BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error); nests as a no-op."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        self.outer = False

    def __enter__(self):
        if not self.db.in_transaction:
            self.db.execute("BEGIN IMMEDIATE")
            self.outer = True
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.db.execute("COMMIT")
        else:
            self.db.execute("ROLLBACK")
