"""Finding submissions among the paths an instructor names."""

from __future__ import annotations

from pathlib import Path

from grader.ingest.notebooks import read_submission, student_id_for
from grader.models import Submission


class InputError(ValueError):
    pass


def notebook_paths(paths: list[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                p for p in sorted(path.rglob("*.ipynb")) if ".ipynb_checkpoints" not in p.parts and p.is_file()
            )
        elif path.is_file():
            found.append(path)
        else:
            raise InputError(f"{path}: no such file or folder")
    return found


def read_submissions(paths: list[Path]) -> list[Submission]:
    """One Submission per notebook; students with the same file name get distinct ids."""
    submissions, taken = [], set()
    for path in notebook_paths(paths):
        student = student_id_for(path)
        candidate, suffix = student, 2
        while candidate in taken:
            candidate, suffix = f"{student}-{suffix}", suffix + 1
        taken.add(candidate)
        submissions.append(read_submission(path, candidate))
    return submissions
