"""Shell escapes and package-manager magics in a code cell, neutralised before the cell runs.

A grading kernel installs nothing and runs no shell: ``!pip install tensorflow`` would be slow at
best. Each such line becomes ``pass  # skipped by grader: ...`` at the same indentation, so the
cell still parses and keeps its line numbers, and the grader lists what it skipped. Only IPython
syntax is touched; Python calls such as ``os.system(...)`` or ``subprocess.run(...)`` are left
to the sandbox.
"""

from __future__ import annotations

import re

from grader.models import SkippedLine

SKIP_MARK = "skipped by grader"

# Cell magics whose body is a shell (or another interpreter's) script: the whole cell is skipped.
_SCRIPT_CELL_MAGICS = {
    "bash", "sh", "script", "system", "!", "sx", "perl", "ruby", "pypy", "python2", "python3",
}  # fmt: skip
# Line magics that run the shell or a package manager.
_SHELL_LINE_MAGICS = {"pip", "conda", "mamba", "micromamba", "system", "sx", "uv"}

_INDENT = re.compile(r"^([ \t]*)(.*)$", re.DOTALL)
_LINE_MAGIC = re.compile(r"^%(?!%)([A-Za-z_][\w]*)")
_CELL_MAGIC = re.compile(r"^%%(!|[A-Za-z_]\w*)")
# ``files = !ls`` and ``out = %sx ls``: IPython assigns the command's output.
_ASSIGNED = re.compile(r"^([A-Za-z_][\w.]*(?:\s*,\s*[A-Za-z_][\w.]*)*)\s*=\s*(!|%(?:sx|system)\b)(.*)$")
# ``pip install x`` with automagic on (IPython's default) runs ``%pip install x``.
_AUTOMAGIC = re.compile(r"^(pip|conda|mamba)\s+(install|uninstall|download)\b")


# ``grader.check()`` in a student's notebook would start a grader inside the grading kernel.
_SELF_CHECK = re.compile(r"^(?:import\s+grader\s*;\s*)?grader\.check\s*\(")

_INSTALLERS = ("pip", "conda", "mamba", "micromamba", "uv", "apt", "apt-get", "python -m pip", "python3 -m pip")


def _reason(kind: str, command: str) -> str:
    if command.startswith(_INSTALLERS) or " install " in f" {command} ":
        return f"{kind}: packages are not installed while grading"
    return f"{kind}: shell commands are not run while grading"


def _classify(body: str) -> tuple[str, str] | None:
    """(replacement statement, reason) for a line that is IPython shell syntax, else None."""
    if body.startswith("!"):
        return "pass", _reason("shell escape", body[1:].strip())
    magic = _LINE_MAGIC.match(body)
    if magic and magic.group(1) in _SHELL_LINE_MAGICS:
        return "pass", _reason(f"%{magic.group(1)} magic", body[1:].strip())
    assigned = _ASSIGNED.match(body)
    if assigned:
        targets = assigned.group(1)
        return f"{targets} = []", _reason("shell output assignment", assigned.group(3).strip())
    if _AUTOMAGIC.match(body):
        return "pass", _reason("pip/conda command (automagic)", body)
    if _SELF_CHECK.match(body):
        return "pass", "the student self-check is not run while grading"
    return None


def _comment(statement: str, original: str) -> str:
    note = " ".join(original.split())
    return f"{statement}  # {SKIP_MARK}: {note}"


def neutralise_shell(source: str, cell: int) -> tuple[str, list[SkippedLine]]:
    """The cell's source with shell lines replaced, and the lines that were replaced.

    Line count and indentation are preserved, so tracebacks still point at the student's lines.
    """
    lines = source.split("\n")
    skipped: list[SkippedLine] = []
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is not None:
        magic = _CELL_MAGIC.match(lines[first].strip())
        if magic and magic.group(1) in _SCRIPT_CELL_MAGICS:
            header = lines[first].strip()
            kept = lines[:first] + [_comment("pass", header)]
            kept += ["# " + line if line.strip() else line for line in lines[first + 1 :]]
            reason = f"%%{magic.group(1)} cell: the whole cell is a shell script and is not run while grading"
            return "\n".join(kept), [SkippedLine(cell=cell, line=header, reason=reason)]

    out: list[str] = []
    continuing = False
    for line in lines:
        indent, body = _INDENT.match(line).groups()
        if continuing:  # the previous skipped line ended with a backslash
            out.append(f"{indent}# {body}" if body.strip() else line)
            continuing = body.rstrip().endswith("\\")
            continue
        found = _classify(body)
        if found is None:
            out.append(line)
            continue
        statement, reason = found
        out.append(indent + _comment(statement, body.rstrip().rstrip("\\")))
        skipped.append(SkippedLine(cell=cell, line=body.strip().rstrip("\\").rstrip(), reason=reason))
        continuing = body.rstrip().endswith("\\")
    return "\n".join(out), skipped
