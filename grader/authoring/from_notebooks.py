"""The questions of a homework from its notebooks: prompts from the template, references from the solution.

The template's numbered questions ("### Q3. Describe ...", "3. Describe ...", under "Part 2")
become rows; each reference answer is what the grader's own answer locator finds in the
solution for that question, so a draft sees the solution exactly as it will see students' work.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path

import nbformat

from grader.authoring.draft import DEFAULT_POINTS, DraftError, QuestionRow, locate_fields
from grader.extract.cells import prose_lines, read_cell
from grader.extract.evidence import gather_evidence
from grader.rubric import Locate, Question, Rubric

_PART = re.compile(r"^\W*part\s+(\d+|[ivx]+|l)\b", re.IGNORECASE)
_QUESTION = re.compile(r"^[#*\s>]*((?:Q(?:uestion)?\s*)?(\d+))\s*[.):]\s*(\S.{8,})$", re.IGNORECASE)
_MARKUP = re.compile(r"\*\*|__|`|^\s*#+\s*|^\s*[-*]\s+", re.MULTILINE)
_ROMAN = {"i": 1, "l": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}


def _read(path: Path):
    try:
        return nbformat.read(path, as_version=4)
    except FileNotFoundError:
        raise DraftError(f"{path}: file not found") from None
    except Exception as exc:
        raise DraftError(f"{path}: not a readable notebook ({exc})") from None


def _part_number(token: str) -> int:
    return int(token) if token.isdigit() else _ROMAN.get(token.lower(), 0)


def template_questions(notebook) -> list[tuple[str, str, int | None, int]]:
    """(label as written, prompt, part, number) for each numbered question of the template's prose."""
    found: list[tuple[str, str, int | None, int]] = []
    part: int | None = None
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") == "code":
            continue
        for line in read_cell(index, cell).text.splitlines():
            line = line.strip().replace("**", "")
            heading = _PART.match(line)
            if heading:
                part = _part_number(heading.group(1)) or part
                continue
            question = _QUESTION.match(line)
            if question:
                found.append(
                    (question.group(1).replace(" ", ""), question.group(3).strip(), part, int(question.group(2)))
                )
    return found


def questions_from_notebooks(solution: Path, template: Path, points: float = DEFAULT_POINTS) -> list[QuestionRow]:
    template_notebook, solution_notebook = _read(template), _read(solution)
    asked = template_questions(template_notebook)
    if not asked:
        raise DraftError(f"{template}: no numbered questions found (expected lines such as '### Q1. ...' or '1. ...')")
    restarts = len({label for label, _, _, _ in asked}) < len(asked)  # "1." in every Part: say "2.1"
    rows = [
        QuestionRow(f"{part}.{number}" if restarts and part is not None else label, prompt, "", points, part, number)
        for label, prompt, part, number in asked
    ]
    probe = Rubric(
        title="draft",
        questions=[
            Question(id=f"q{i}", prompt=row.prompt, points=row.points, locate=Locate(**locate_fields(rows, row)))
            for i, row in enumerate(rows, start=1)
        ],
    )
    answers = gather_evidence(solution_notebook, probe, prose_lines(template_notebook)).answers
    located = []
    for i, row in enumerate(rows, start=1):
        answer = answers.get(f"q{i}")
        located.append(replace(row, reference=_plain(answer.text) if answer else ""))
    if not any(row.reference for row in located):
        raise DraftError(
            f"{solution}: no answers found for the template's questions; is it the solution of this template?"
        )
    return located


def _plain(text: str) -> str:
    """One paragraph without markdown emphasis: what a rubric's ``reference`` holds."""
    return " ".join(_MARKUP.sub("", text).split())
