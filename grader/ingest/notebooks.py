"""Reading submitted files into Submissions: bytes, fingerprint, parsed notebook or a clear error."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path

import nbformat

from grader.models import Student, Submission

MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
WINDOWS_RESERVED = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def safe_id(text: str, fallback: str = "student") -> str:
    """A file-name-safe id (reports are saved as ``<id>.html``): ASCII letters, digits, ``_.-``; no ``/``, no ``..``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", ascii_text)
    cleaned = re.sub(r"\.{2,}", ".", cleaned).strip("._-")[:80].strip("._-")
    if not cleaned:
        return fallback
    if cleaned.split(".")[0].casefold() in WINDOWS_RESERVED:
        cleaned = f"{cleaned}_"
    return cleaned


def student_id_for(path: Path) -> str:
    """A file-name-safe id for the student, from the submission's file name."""
    return safe_id(path.stem)


def read_submission(path: Path, student: str | None = None) -> Submission:
    student = student or student_id_for(path)
    try:
        size = path.stat().st_size
        if size > MAX_NOTEBOOK_BYTES:
            error = f"the file is {size:,} bytes, over the {MAX_NOTEBOOK_BYTES:,} limit"
            return Submission(student, str(path), "", None, error)
        raw = path.read_bytes()
    except OSError as exc:
        return Submission(student, str(path), "", None, f"cannot read the file: {exc.strerror}")
    return read_submission_bytes(raw, str(path), student)


def read_submission_bytes(
    raw: bytes,
    source: str,
    student: str,
    *,
    identity: Student | None = None,
    late: bool = False,
    notes: tuple[str, ...] = (),
) -> Submission:
    """A Submission from bytes already in memory (a zip member, or a file read by the caller)."""
    digest = hashlib.sha256(raw).hexdigest()
    if len(raw) > MAX_NOTEBOOK_BYTES:
        notebook, error = None, f"the file is {len(raw):,} bytes, over the {MAX_NOTEBOOK_BYTES:,} limit"
    else:
        notebook, error = parse_notebook(raw)
    return Submission(student, source, digest, notebook, error, identity=identity, late=late, notes=notes)


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
        notebook = nbformat.reads(json.dumps(_with_required_keys(data)), as_version=4)
    except Exception as exc:  # nbformat raises many kinds for malformed input
        return None, f"not a valid notebook: {exc}"
    return notebook, None


def _with_required_keys(data: dict) -> dict:
    """Editors and scripts drop keys nbformat insists on; an empty one loses nothing."""
    data.setdefault("metadata", {})
    data.setdefault("nbformat", 4)
    data.setdefault("nbformat_minor", 0)
    cells = data.get("cells") or [c for sheet in data.get("worksheets", []) for c in sheet.get("cells", [])]
    for cell in cells:
        if isinstance(cell, dict):
            cell.setdefault("metadata", {})
            cell.setdefault("source" if "input" not in cell else "input", "")
            if cell.get("cell_type") == "code":
                cell.setdefault("outputs", [])
                cell.setdefault("execution_count", None)
    return data
