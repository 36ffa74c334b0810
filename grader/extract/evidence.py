"""Everything the scorers need from an executed (or saved) notebook, gathered once: what the
notebook shows whatever the rubric (``read_evidence``) and where its answers are (``place_answers``,
which reads the questions' locating fields, ``LOCATING_FIELDS``)."""

from __future__ import annotations

from dataclasses import replace

from grader.execute.outputs import saved_text
from grader.extract.answers import Placement, locate_answers
from grader.extract.cells import read_cell, source_of
from grader.extract.static import static_facts
from grader.models import Evidence
from grader.rubric import Question, Rubric

_TEXT_OUTPUTS = ("text/plain", "text/markdown")


def gather_evidence(notebook, rubric: Rubric, template_lines: frozenset[str] = frozenset()) -> Evidence:
    placement = place_answers(notebook, rubric, template_lines)
    return replace(read_evidence(notebook), answers=placement.answers, unplaced=placement.unplaced)


def read_evidence(notebook) -> Evidence:
    """The outputs, code and static facts of a notebook, without answers: the part no rubric changes."""
    outputs: list[tuple[int, str]] = []
    images: list[int] = []
    code: list[tuple[int, str]] = []
    saved: list[tuple[int, str]] = []
    for index, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        code.append((index, source_of(cell)))
        if saved_text(cell):
            saved.append((index, saved_text(cell)))
        shown = []
        for output in cell.get("outputs", []) or []:
            if output.get("output_type") == "stream":
                shown.append(_joined(output.get("text", "")))
            data = output.get("data", {}) or {}
            shown.extend(_joined(data[kind]) for kind in _TEXT_OUTPUTS if kind in data)
            if any(kind.startswith("image/") for kind in data):
                images.append(index)
        if shown:
            outputs.append((index, "\n".join(shown)))
    return Evidence(
        answers={},
        outputs=tuple(outputs),
        images=tuple(images),
        code_cells=tuple(code),
        saved_outputs=tuple(saved),
        static=static_facts(notebook),
    )


# What placing answers reads of each question (and the rubric's title); a rubric edit elsewhere (points, hints, concept
# patterns other than `any`) leaves every placement as it was, so a rescore need not place again.
LOCATING_FIELDS = ("id", "prompt", "locate", "reference")


def locating_part(question: Question) -> dict:
    """The part of a question that ``place_answers`` reads."""
    part = question.model_dump(mode="json", include=set(LOCATING_FIELDS))
    part["concept_phrases"] = [concept.any for concept in question.concepts]
    return part


def place_answers(notebook, rubric: Rubric, template_lines: frozenset[str] = frozenset()) -> Placement:
    texts = [read_cell(index, cell) for index, cell in enumerate(notebook.get("cells", []))]
    return locate_answers(texts, list(rubric.questions), template_lines, title=rubric.title)


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)
