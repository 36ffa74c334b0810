"""grades.json: the contract other tools read (see DESIGN.md). Plain data, one object per submission."""

from __future__ import annotations

from dataclasses import asdict

from grader.models import CheckGrade, Execution, Grade, QuestionGrade


def grade_record(grade: Grade) -> dict:
    """The grades.json object; a submission that could not be graded has no score (null), not 0."""
    graded = grade.status == "graded"
    return {
        "student": grade.submission.student,
        "identity": asdict(grade.submission.identity)
        if grade.submission.identity
        else {"id": grade.submission.student},
        "late": grade.submission.late,
        "notes": list(grade.submission.notes),
        "source": grade.submission.source,
        "sha256": grade.submission.sha256,
        "status": grade.status,
        "error": grade.error,
        "score": grade.score if graded else None,
        "max_score": grade.max_score,
        "percent": (round(100 * grade.score / grade.max_score, 1) if grade.max_score else 0.0) if graded else None,
        "flags": list(grade.flags),
        "questions": [_question_record(q) for q in grade.questions],
        "checks": [_check_record(c) for c in grade.checks],
        "execution": _execution_record(grade.execution),
        "report": grade.report_path.name if grade.report_path else None,
    }


def _question_record(question: QuestionGrade) -> dict:
    return {
        "id": question.id,
        "label": question.name,
        "score": question.score,
        "max_score": question.max_score,
        "concepts": [
            {
                "id": c.id,
                "found": c.found,
                "points": c.points,
                "evidence": c.evidence,
                "negated": c.negated,
                "hidden": c.hidden,
                "pending": c.pending,
                "similarity": c.similarity,
            }
            for c in question.concepts
        ],
        "flags": list(question.flags),
        # The concepts each flag names, as data (``models.Flag``): what ``redact_record`` hides by.
        "flag_concepts": [list(getattr(flag, "concepts", ())) for flag in question.flags],
        "answer_cells": list(question.answer.cells) if question.answer else [],
        "confidence": question.answer.confidence if question.answer else 0.0,
    }


def _check_record(check: CheckGrade) -> dict:
    return {
        "id": check.id,
        "passed": check.passed,
        "score": check.score,
        "max_score": check.max_score,
        "evidence": list(check.evidence),
        "source": check.source,
    }


def _execution_record(execution: Execution | None) -> dict:
    return {
        "mode": execution.mode if execution else None,
        "status": execution.status if execution else None,
        "seconds": round(execution.seconds, 2) if execution else 0.0,
        "cells_failed": [e.cell for e in execution.cell_errors] if execution else [],
        "skipped": [s.line for s in execution.skipped] if execution else [],
        "cached": execution.cached if execution else False,
        "translations": list(execution.facts.translations) if execution else [],
        "served": [f"{d.name}: {d.source}" for d in execution.facts.datasets] if execution else [],
    }


def question_name(question: dict) -> str:
    """A question of a grades.json record as people call it ("1.1", "Q1"); records written before
    labels were kept have only the id."""
    return question.get("label") or question["id"].upper()
