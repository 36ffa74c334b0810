"""Scoring plain answers, outside notebooks: the same scorer as grading, on rows of a CSV.

``score_answers(rubric, rows)`` takes rows with ``question_id``, ``answer_id`` and ``text`` and
returns one row per answer: ``answer_id``, ``question_id``, ``score``, ``max_score``, the concepts
found (with the similarity of those found by meaning), the evidence quoted for each, and flags.
``grader score-answers`` wraps it; ``bench/agreement.py`` measures it against human judgements.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

from grader.atomic import write_atomically
from grader.models import Answer, QuestionGrade
from grader.rubric import Rubric
from grader.score.questions import score_question
from grader.score.semantic import SemanticScorer, Unavailable

COLUMNS = ("question_id", "answer_id", "text")
OUTPUT_COLUMNS = (
    "answer_id",
    "question_id",
    "score",
    "max_score",
    "matched_concepts",
    "missed_concepts",
    "evidence",
    "flags",
)


class AnswersError(ValueError):
    """An answers file or row that cannot be scored, said for a person."""


@dataclass(frozen=True)
class AnswerRow:
    question_id: str
    answer_id: str
    text: str
    where: str = ""  # "answers.csv, line 4", for messages


def read_answers(path: Path) -> list[AnswerRow]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = set(COLUMNS) - set(reader.fieldnames or [])
            if missing:
                raise AnswersError(
                    f"{path}: missing column(s) {', '.join(sorted(missing))}; expected {','.join(COLUMNS)}"
                )
            rows = [
                AnswerRow(
                    (r["question_id"] or "").strip(),
                    (r["answer_id"] or "").strip(),
                    r["text"] or "",
                    f"{path}, line {line}",
                )
                for line, r in enumerate(reader, start=2)
            ]
    except FileNotFoundError:
        raise AnswersError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise AnswersError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as CSV UTF-8") from None
    if not rows:
        raise AnswersError(f"{path}: no answers")
    return rows


def _as_row(row: AnswerRow | Mapping[str, str], number: int) -> AnswerRow:
    if isinstance(row, AnswerRow):
        return row
    try:
        return AnswerRow(
            str(row["question_id"]).strip(), str(row["answer_id"]).strip(), str(row["text"] or ""), f"row {number}"
        )
    except KeyError as exc:
        raise AnswersError(f"row {number}: no {exc.args[0]!r}; each row needs {', '.join(COLUMNS)}") from None


def grade_answers(
    rubric: Rubric, rows: Iterable[AnswerRow | Mapping[str, str]], semantic: SemanticScorer | Unavailable | None = None
) -> list[tuple[AnswerRow, QuestionGrade]]:
    """Each answer's QuestionGrade. With a SemanticScorer, all sentences are embedded in one batch first."""
    rows = [_as_row(row, number) for number, row in enumerate(rows, start=1)]
    questions = {q.label: q for q in rubric.questions if q.label} | {q.id: q for q in rubric.questions}
    for row in rows:
        if row.question_id not in questions:
            known = ", ".join(q.label or q.id for q in rubric.questions[:20])
            raise AnswersError(
                f"{row.where}: question {row.question_id!r} is not in the rubric (its questions: {known})"
            )
        if not row.answer_id:
            raise AnswersError(f"{row.where}: empty answer_id")
    if isinstance(semantic, SemanticScorer):
        semantic.prepare(row.text for row in rows if questions[row.question_id].kind == "text")
    graded = []
    for row in rows:
        question = questions[row.question_id]
        answer = Answer(question.id, row.text, (), 1.0, "answers file")
        graded.append((row, score_question(question, answer, semantic)))
    return graded


def score_answers(
    rubric: Rubric, rows: Iterable[AnswerRow | Mapping[str, str]], semantic: SemanticScorer | Unavailable | None = None
) -> list[dict[str, object]]:
    """One output row per answer (see OUTPUT_COLUMNS). ``semantic``: from ``semantic_for(rubric)``, or None for keywords only."""
    return [result_row(row, grade) for row, grade in grade_answers(rubric, rows, semantic)]


def result_row(row: AnswerRow, grade: QuestionGrade) -> dict[str, object]:
    matched, missed, evidence = [], [], []
    for concept in grade.concepts:
        if concept.pending:
            continue
        if not concept.found:
            missed.append(concept.id)
            continue
        how = f" (similarity {concept.similarity:.2f})" if concept.similarity is not None else ""
        matched.append(concept.id + how)
        if concept.evidence:
            evidence.append(f"{concept.id}: {concept.evidence}")
    flags = list(grade.flags) + ([grade.feedback] if grade.feedback else [])
    return {
        "answer_id": row.answer_id,
        "question_id": row.question_id,
        "score": grade.score,
        "max_score": grade.max_score,
        "matched_concepts": "; ".join(matched),
        "missed_concepts": "; ".join(missed),
        "evidence": " | ".join(evidence),
        "flags": " | ".join(flags),
    }


def write_scores(path: Path, results: list[dict[str, object]]) -> None:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=OUTPUT_COLUMNS)
    writer.writeheader()
    writer.writerows(results)
    write_atomically(path, text.getvalue())
