"""What an output folder (``--out``) holds, named in one place: the gradebook and its lock, the
executed notebooks, grades.json, the pages, the exports and the assignment graded there. Every
module that reads or writes there asks an ``OutFolder``, so that none rebuilds a path of its own.

    OUT/gradebook.sqlite        the gradebook (grader/gradebook.py; docs/gradebook.md)
    OUT/gradebook.lock          held by the one grader writing here
    OUT/runs/<sha256>-<settings>.ipynb   each executed notebook, as the gradebook's runs name it
    OUT/grades.json             every student's current grade (the contract other tools read)
    OUT/index.html              the class overview
    OUT/reports/<student>.html  each student's page
    OUT/notebooks/<student>.html  each executed notebook's page
    OUT/exports/                LMS files (grader export), with the record of what was made
    OUT/assignment.json         which assignment folder was graded here
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class OutFolder:
    root: Path

    @property
    def gradebook(self) -> Path:
        return self.root / "gradebook.sqlite"

    @property
    def lock(self) -> Path:
        return self.root / "gradebook.lock"

    @property
    def runs(self) -> Path:
        return self.root / "runs"

    def run_notebook(self, sha256: str, settings: str) -> Path:
        return self.runs / f"{sha256}-{settings}.ipynb"

    @property
    def grades_json(self) -> Path:
        return self.root / "grades.json"

    @property
    def index(self) -> Path:
        return self.root / "index.html"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def report(self, student: str) -> Path:
        return self.reports / f"{student}.html"

    @property
    def notebooks(self) -> Path:
        return self.root / "notebooks"

    def notebook_page(self, student: str) -> Path:
        return self.notebooks / f"{student}.html"

    @property
    def exports(self) -> Path:
        return self.root / "exports"

    @property
    def assignment_record(self) -> Path:
        return self.root / "assignment.json"
