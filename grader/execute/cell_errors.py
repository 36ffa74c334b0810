"""The errors an executed notebook shows, one record per error output, with the student's line.

Read from the notebook as it ran: IPython's tracebacks are coloured and framed; what a teacher
needs is the exception and the line of the student's own code that raised it.
"""

from __future__ import annotations

import re
from typing import Any

from grader.models import CellError

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")
_CELL_FRAME = re.compile(r"^\s*(?:Cell In ?\[[^\]]*\]|Input In ?\[[^\]]*\]|File <ipython-input-[^>]*>), line \d+")
_ARROW = re.compile(r"^-*>\s*\d*\s?")


def collect_cell_errors(nb: Any, ignore_interrupts: frozenset[int] | set[int] = frozenset()) -> list[CellError]:
    """One CellError per error output of each code cell, with the student's line that raised.

    ``ignore_interrupts``: cells the grader interrupted, whose KeyboardInterrupt is its own doing.
    """
    errors = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        for output in cell.get("outputs", []):
            if output.get("output_type") != "error":
                continue
            ename = str(output.get("ename", ""))
            if ename == "KeyboardInterrupt" and index in ignore_interrupts:
                continue
            line = student_line(output.get("traceback", []))
            evalue = _strip_ansi(str(output.get("evalue", "")))
            errors.append(CellError(cell=index, ename=ename, evalue=evalue, line=line))
    return errors


def student_line(traceback: list[str]) -> str:
    """The last line of the student's own code in an IPython traceback (ANSI colours removed)."""
    lines = _strip_ansi("\n".join(traceback)).splitlines()
    headers = [i for i, line in enumerate(lines) if _CELL_FRAME.match(line)]
    if not headers:
        return ""
    block = lines[headers[-1] + 1 :]
    for line in block:
        if line.lstrip().startswith("-") and ">" in line.split()[0]:
            return _ARROW.sub("", line.strip()).strip()
    for line in block:  # a SyntaxError shows the line without an arrow
        if line.strip():
            return line.strip()
    return ""


def _strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)
