"""Which version of the grader's own code a kept result came from: hashes of its source files.

A result kept for later (a stored run, a grade's parts, a written page) is used again only when
the code that made it is unchanged, so a fix to the grader never leaves an old result in place.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

GRADER = Path(__file__).resolve().parent
SOURCES = (".py",)
PAGE_SOURCES = (".py", ".html", ".css", ".js")  # pages come from templates too

# What scoring cannot depend on: the layers above it (tests/test_layering.py keeps it so).
_ABOVE_SCORING = ("report", "export", "authoring", "attention.py", "cli", "console.py")


def code_digest(folder: Path, leave_out: tuple[str, ...] = (), suffixes: tuple[str, ...] = SOURCES) -> str:
    """A hash of every source file under ``folder`` (sub-packages included) but those under the
    paths ``leave_out`` names (relative to ``folder``)."""
    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*")):
        name = file.relative_to(folder).as_posix()
        if file.suffix not in suffixes or "__pycache__" in file.parts:
            continue
        if not any(name == path or name.startswith(path + "/") for path in leave_out):
            digest.update(name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:10]


@lru_cache(maxsize=1)
def scoring_code() -> str:
    """The code a grade's parts come from: every module below the reports."""
    return code_digest(GRADER, leave_out=_ABOVE_SCORING)


@lru_cache(maxsize=1)
def page_code() -> str:
    """The code a report page comes from: the whole grader, templates included."""
    return code_digest(GRADER, suffixes=PAGE_SOURCES)
