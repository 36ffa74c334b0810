"""The prose in each cell, wherever the student typed it.

Markdown and raw cells are prose. A code cell is prose when it holds only comments and
strings (a comment-only answer) or when it is not Python at all (an answer typed into a code
cell, which fails when run). Real code is kept apart: it is evidence for the code checks.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from typing import Literal

_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)|<img\b[^>]*>", re.IGNORECASE)
_HTML_TAG = re.compile(r"</?(?:br|p|div|span|b|i|u|strong|em|font|center|h[1-6])\b[^>]*>", re.IGNORECASE)
# IPython lines that are not Python: shell escapes, magics, and pip/conda commands IPython's automagic runs.
_IPYTHON_LINE = re.compile(r"^\s*(?:[!%]|(?:pip3?|conda|mamba)\s+(?:install|uninstall|download)\b)")
WRITTEN_WORDS = 15  # a string in running code this long is written prose, not a program's message


@dataclass(frozen=True)
class CellText:
    index: int
    kind: Literal["prose", "code", "empty"]
    text: str
    code: str = ""


def source_of(cell) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source or "")


def read_cell(index: int, cell) -> CellText:
    source = source_of(cell)
    if not source.strip():
        return CellText(index, "empty", "")
    if cell.get("cell_type") in ("markdown", "raw"):
        return CellText(index, "prose", clean_markdown(source))
    return _read_code(index, source)


def clean_markdown(source: str) -> str:
    return _HTML_TAG.sub(" ", _IMAGE.sub(" ", source))


def is_ipython_line(line: str) -> bool:
    return bool(_IPYTHON_LINE.match(line))


def python_source(source: str) -> str:
    """A code cell's source with its IPython lines blanked (line numbers kept), for ``ast.parse``."""
    return "\n".join("" if is_ipython_line(line) else line for line in source.splitlines())


def _read_code(index: int, source: str) -> CellText:
    runnable = python_source(source)
    try:
        tree = ast.parse(runnable)
    except SyntaxError:
        return CellText(index, "prose", source) if _looks_like_prose(source) else CellText(index, "code", "", source)
    comments = _comments(runnable)
    strings = [
        node.value.value
        for node in tree.body
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant) and isinstance(node.value.value, str)
    ]
    has_code = any(
        not (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)) and not isinstance(node, ast.Pass)
        for node in tree.body
    )
    if has_code:
        return CellText(index, "code", "\n".join(_written(tree)), source)
    prose = "\n".join(comments + strings)
    return CellText(index, "prose" if prose.strip() else "empty", prose)


def _written(tree: ast.Module) -> list[str]:
    """Prose a student wrote into running code: strings printed, or kept in a variable or on their own at the top
    of the cell, long enough to be an answer (a program's own messages and code comments are not)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "print":
            found += [arg.value for arg in node.args if isinstance(arg, ast.Constant)]
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign, ast.Expr)) and isinstance(node.value, ast.Constant):
            found.append(node.value.value)
    return [
        text
        for text in found
        if isinstance(text, str) and len(text.split()) >= WRITTEN_WORDS and _looks_like_prose(text)
    ]


def _comments(source: str) -> list[str]:
    lines: list[str] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type == tokenize.COMMENT:
                lines.append(token.string.lstrip("#").strip())
    except (tokenize.TokenError, IndentationError, SyntaxError):
        pass
    return lines


def _looks_like_prose(source: str) -> bool:
    words = re.findall(r"[A-Za-z]{2,}", source)
    symbols = re.findall(r"[(){}\[\]=]", source)
    return len(words) >= 4 and len(symbols) <= len(words) // 2


def prose_lines(notebook) -> frozenset[str]:
    """Every line of prose in a notebook, normalised: the template's text is not a student's answer."""
    lines = set()
    for index, cell in enumerate(notebook.get("cells", [])):
        for line in read_cell(index, cell).text.splitlines():
            normalised = normalise_line(line)
            if len(normalised.split()) >= 2:
                lines.add(normalised)
    return frozenset(lines)


def code_lines(notebook) -> frozenset[str]:
    """Every line of code in a notebook, blanks and indentation aside: what a template hands out."""
    return frozenset(
        " ".join(line.split())
        for cell in notebook.get("cells", [])
        if cell.get("cell_type") == "code"
        for line in source_of(cell).splitlines()
        if line.strip()
    )


def normalise_line(line: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"[^a-z0-9 ]+", " ", line.lower())).strip()
