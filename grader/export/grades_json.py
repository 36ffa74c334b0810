"""grades.json: the contract other tools read (see DESIGN.md). Plain data, one object per submission."""

from __future__ import annotations

from dataclasses import asdict

from grader.models import Grade


def grade_record(grade: Grade) -> dict:
    """The grades.json object; a submission that could not be graded has no score (null), not 0."""
    execution = grade.execution
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
        "questions": [
            {
                "id": q.id,
                "label": q.name,
                "score": q.score,
                "max_score": q.max_score,
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
                    for c in q.concepts
                ],
                "flags": list(q.flags),
                "answer_cells": list(q.answer.cells) if q.answer else [],
                "confidence": q.answer.confidence if q.answer else 0.0,
            }
            for q in grade.questions
        ],
        "checks": [
            {
                "id": c.id,
                "passed": c.passed,
                "score": c.score,
                "max_score": c.max_score,
                "evidence": list(c.evidence),
                "source": c.source,
            }
            for c in grade.checks
        ],
        "execution": {
            "mode": execution.mode if execution else None,
            "status": execution.status if execution else None,
            "seconds": round(execution.seconds, 2) if execution else 0.0,
            "cells_failed": [e.cell for e in execution.cell_errors] if execution else [],
            "skipped": [s.line for s in execution.skipped] if execution else [],
            "cached": execution.cached if execution else False,
            "translations": list(execution.facts.translations) if execution else [],
            "served": [f"{d.name}: {d.source}" for d in execution.facts.datasets] if execution else [],
        },
        "report": grade.report_path.name if grade.report_path else None,
    }


def question_name(question: dict) -> str:
    """A question of a grades.json record as people call it ("1.1", "Q1"); records written before
    labels were kept have only the id."""
    return question.get("label") or question["id"].upper()
