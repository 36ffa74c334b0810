"""Everything the scorers need from an executed (or saved) notebook, gathered once."""

from __future__ import annotations

from grader.execute.outputs import saved_text
from grader.extract.answers import locate_answers
from grader.extract.cells import read_cell, source_of
from grader.extract.static import static_facts
from grader.models import Evidence
from grader.rubric import Rubric

_TEXT_OUTPUTS = ("text/plain", "text/markdown")


def gather_evidence(notebook, rubric: Rubric, template_lines: frozenset[str] = frozenset()) -> Evidence:
    cells = list(notebook.get("cells", []))
    texts = [read_cell(index, cell) for index, cell in enumerate(cells)]
    outputs: list[tuple[int, str]] = []
    images: list[int] = []
    code: list[tuple[int, str]] = []
    saved: list[tuple[int, str]] = []
    for index, cell in enumerate(cells):
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
    placement = locate_answers(texts, list(rubric.questions), template_lines)
    return Evidence(
        answers=placement.answers,
        unplaced=placement.unplaced,
        outputs=tuple(outputs),
        images=tuple(images),
        code_cells=tuple(code),
        saved_outputs=tuple(saved),
        static=static_facts(notebook),
    )


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)
