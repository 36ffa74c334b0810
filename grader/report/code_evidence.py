"""What the report shows under the code checks: the models the run saw and the cells they came from."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.facts import Evaluation, Facts
from grader.models import Grade
from grader.report.images import output_images
from grader.report.notebook_html import cut, merged_streams, strip_ansi
from grader.rubric import Rubric
from grader.score.checks import HELD_OUT_OVERLAP, describe_model

MAX_CELLS = 6
_CELL_MENTION = re.compile(r"\bcells? (\d+)")
_PROGRESS = re.compile(r"^\s*\d+/\d+\s+(\[|━|-\s)")
_CODE_PROMPT = re.compile(r"^\s*(implement|write (the |some )?code|code|train|build)\b", re.IGNORECASE)


@dataclass(frozen=True)
class ModelRow:
    name: str
    framework: str
    layers: str
    params: str
    training: str
    evaluations: tuple[str, ...]


@dataclass(frozen=True)
class CellShown:
    index: int
    code: str
    output: str
    error: str = ""
    images: tuple[str, ...] = ()  # data: URIs of the plots it drew


def code_question(rubric: Rubric) -> str | None:
    """The question the code checks belong to: the one whose prompt asks for code (Q8 here)."""
    return next((q.id for q in rubric.questions if _CODE_PROMPT.search(q.prompt)), None)


def models_seen(facts: Facts) -> list[ModelRow]:
    rows = []
    for model in facts.models:
        fits = [f for f in facts.fits if f.model == model.id]
        evaluations = [e for e in facts.evaluations if e.model == model.id]
        if not fits and not evaluations and not model.layers:
            continue
        name, _, layers = describe_model(model).partition(": ")
        rows.append(
            ModelRow(
                name=name,
                framework=model.framework,
                layers=layers,
                params=f"{model.params:,}" if model.params else "",
                training=_training(fits),
                evaluations=tuple(_evaluation(e) for e in evaluations[:4]),
            )
        )
    return rows


def _training(fits) -> str:
    if not fits:
        return "not trained"
    epochs = sum(f.epochs_run for f in fits)
    samples = max((f.samples or 0 for f in fits), default=0)
    text = f"{epochs} epoch{'s' if epochs != 1 else ''}"
    if samples:
        text += f" on {samples:,} samples"
    validation = {f.validation for f in fits} - {"none"}
    if validation:
        text += ", with validation " + ("split" if validation == {"split"} else "data")
    if any(f.budgeted for f in fits):
        text += " (budgeted run)"
    errors = [f.error for f in fits if f.error]
    if errors:
        text += f"; fit failed: {errors[0]}"
    return text


def _evaluation(evaluation: Evaluation) -> str:
    size = f"{evaluation.samples:,} samples" if evaluation.samples else "samples"
    overlap = evaluation.overlap_with_training
    if (overlap is not None and overlap <= HELD_OUT_OVERLAP) or evaluation.dataset_split == "test":
        where = "held-out"
    elif overlap is not None:
        where = f"{overlap:.0%} training data"
    else:
        where = "unknown overlap with training"
    metrics = ", ".join(f"{name} {value:.4f}" for name, value in evaluation.metrics.items()) or "no metrics"
    cell = f" (cell {evaluation.cell})" if evaluation.cell is not None else ""
    return f"{evaluation.kind} on {size}, {where}: {metrics}{cell}"


def referenced_cells(grade: Grade) -> list[int]:
    """Cells where the models were trained or evaluated, and cells the checks' evidence names."""
    cells: set[int] = set()
    if grade.execution is not None:
        facts = grade.execution.facts
        cells.update(f.cell for f in facts.fits if f.cell is not None)
        cells.update(e.cell for e in facts.evaluations if e.cell is not None)
    for check in grade.checks:
        for line in check.evidence:
            cells.update(int(n) for n in _CELL_MENTION.findall(line))
    return sorted(cells)


def cells_shown(grade: Grade, max_cells: int = MAX_CELLS) -> list[CellShown]:
    """The referenced cells' code and text outputs, shortened, in notebook order."""
    if grade.execution is None or grade.execution.notebook is None:
        return []
    notebook_cells = list(grade.execution.notebook.get("cells", []))
    errors = {e.cell: e for e in grade.execution.cell_errors}
    shown = []
    for index in referenced_cells(grade):
        if not 0 <= index < len(notebook_cells) or notebook_cells[index].get("cell_type") != "code":
            continue
        cell = notebook_cells[index]
        error = errors.get(index)
        shown.append(
            CellShown(
                index=index,
                code=cut(_joined(cell.get("source", "")), 4000, 60),
                output=cut(text_outputs(cell), 3000, 30),
                error=f"{error.ename}: {error.evalue}" + (f" at {error.line}" if error.line else "") if error else "",
                images=output_images(cell),
            )
        )
    return shown[:max_cells]


def text_outputs(cell: dict) -> str:
    """What the cell printed to stdout, its text results and error names (stderr's log noise left out);
    images are shown as images (``output_images``), so their text stand-ins are left out."""
    shown = []
    for output in merged_streams(cell.get("outputs", []) or []):
        kind = output.get("output_type")
        if kind == "stream" and output.get("name") != "stderr":
            shown.append(_joined(output.get("text", "")))
        elif kind in ("execute_result", "display_data"):
            data = output.get("data", {}) or {}
            plain = _joined(data.get("text/plain", "")).strip()
            if any(k.startswith("image/") for k in data):
                continue
            if plain:
                shown.append(plain)
        elif kind == "error":
            shown.append(f"{output.get('ename', 'Error')}: {output.get('evalue', '')}")
    return _settle("\n".join(s.rstrip("\n") for s in shown))


def _settle(text: str) -> str:
    """Output without colour codes, and only the last line of a progress bar printed line by line."""
    lines: list[str] = []
    for line in strip_ansi(text).split("\n"):
        if lines and _PROGRESS.match(line) and _PROGRESS.match(lines[-1]):
            lines[-1] = line
        else:
            lines.append(line)
    return "\n".join(lines).strip("\n")


def _joined(value) -> str:
    return "".join(value) if isinstance(value, list) else str(value)
