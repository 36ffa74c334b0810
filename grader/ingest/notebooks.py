"""Reading submitted files into Submissions: bytes, fingerprint, parsed notebook or a clear error."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from pathlib import Path

import nbformat

from grader.ingest.shape import measure, shape_problem
from grader.models import Student, Submission

MAX_NOTEBOOK_BYTES = 100 * 1024 * 1024
MAX_METADATA_BYTES = 1_000_000  # one metadata object (the notebook's or a cell's); never graded
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
        notebook, error, dropped = None, f"the file is {len(raw):,} bytes, over the {MAX_NOTEBOOK_BYTES:,} limit", ()
    else:
        notebook, error, dropped = parse_notebook(raw)
    return Submission(student, source, digest, notebook, error, identity=identity, late=late, notes=(*notes, *dropped))


def parse_notebook(raw: bytes) -> tuple[object | None, str | None, tuple[str, ...]]:
    """(notebook, None, notes) or (None, a message a student would understand, ()).

    The bytes' shape is checked before any parser sees them (``shape.py``), and whatever a parser
    still raises on a hostile file (RecursionError, MemoryError included) is this file's error:
    one notebook never stops a batch. Oversized metadata is dropped, with a note."""
    try:
        return _parse(raw)
    except (RecursionError, MemoryError) as exc:
        return None, f"not a valid notebook: it is too large or too deeply nested to read ({type(exc).__name__})", ()


def _parse(raw: bytes) -> tuple[object | None, str | None, tuple[str, ...]]:
    if not raw.strip():
        return None, "the file is empty", ()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not a notebook: the file is not UTF-8 text (byte {exc.start})", ()
    if problem := shape_problem(measure(raw)):
        return None, f"not graded: {problem}", ()
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return (
            None,
            f"not a valid notebook: the JSON is broken at line {exc.lineno}, column {exc.colno} ({exc.msg})",
            (),
        )
    if not isinstance(data, dict) or "cells" not in data and "worksheets" not in data:
        return None, "not a notebook: the JSON has no cells", ()
    dropped = _drop_large_metadata(data)
    try:
        notebook = nbformat.reads(json.dumps(_with_required_keys(data)), as_version=4)
    except (RecursionError, MemoryError):
        raise
    except Exception as exc:  # nbformat raises many kinds for malformed input
        return None, f"not a valid notebook: {exc}", ()
    return notebook, None, dropped


def _drop_large_metadata(data: dict) -> tuple[str, ...]:
    """Empties each metadata object over MAX_METADATA_BYTES (the grader reads none of it)."""
    cells = data.get("cells") or [
        c for sheet in data.get("worksheets", []) if isinstance(sheet, dict) for c in sheet.get("cells", [])
    ]
    owners = [("the notebook", data)] + [(f"cell {n}", cell) for n, cell in enumerate(cells) if isinstance(cell, dict)]
    notes = []
    for where, owner in owners:
        metadata = owner.get("metadata")
        if metadata and len(json.dumps(metadata)) > MAX_METADATA_BYTES:
            owner["metadata"] = {}
            notes.append(
                f"the metadata of {where} was over {MAX_METADATA_BYTES:,} bytes and was dropped (it is not graded)"
            )
    return tuple(notes[:5]) + ((f"... and {len(notes) - 5} more",) if len(notes) > 5 else ())


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
