"""Reading submitted files into Submissions: bytes, fingerprint, parsed notebook or a clear error."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

import nbformat

from grader.models import Submission

MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024


def student_id_for(path: Path) -> str:
    """A file-name-safe id for the student, from the submission's file name."""
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", path.stem).strip("._") or "student"
    return cleaned[:80]


def read_submission(path: Path, student: str | None = None) -> Submission:
    student = student or student_id_for(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return Submission(student, str(path), "", None, f"cannot read the file: {exc.strerror}")
    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) > MAX_NOTEBOOK_BYTES:
        return Submission(student, str(path), digest, None, f"the file is {len(raw):,} bytes, over the {MAX_NOTEBOOK_BYTES:,} limit")
    return Submission(student, str(path), digest, *parse_notebook(raw))


def parse_notebook(raw: bytes):
    """(notebook, None) or (None, a message a student would understand)."""
    if not raw.strip():
        return None, "the file is empty"
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not a notebook: the file is not UTF-8 text (byte {exc.start})"
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not a valid notebook: the JSON is broken at line {exc.lineno}, column {exc.colno} ({exc.msg})"
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        return None, "not a notebook: the JSON has no cells"
    try:
        notebook = nbformat.reads(text, as_version=4)
    except Exception as exc:  # nbformat raises many kinds for malformed input
        return None, f"not a valid notebook: {exc}"
    return notebook, None
