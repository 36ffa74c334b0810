"""HTML pages: one per student, one class overview. Everything the student wrote is escaped."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup, escape

from grader.assignment import Assignment
from grader.models import Grade, QuestionGrade

_ENV = Environment(loader=PackageLoader("grader", "report/templates"), autoescape=select_autoescape(["html"]))


def highlight(question: QuestionGrade) -> Markup:
    """The answer, escaped, with the words that earned points marked."""
    text = question.answer.text if question.answer else ""
    spans: list[tuple[int, int]] = []
    for concept in question.concepts:
        for quote in concept.evidence.split(" … ") if concept.found else []:
            start = text.find(quote)
            if quote and start >= 0:
                spans.append((start, start + len(quote)))
    pieces, position = [], 0
    for start, end in sorted(spans):
        if start < position:
            continue
        pieces.append(escape(text[position:start]))
        pieces.append(Markup("<mark>") + escape(text[start:end]) + Markup("</mark>"))
        position = end
    pieces.append(escape(text[position:]))
    return Markup("").join(pieces)


def student_page(grade: Grade, assignment: Assignment, audience: str = "instructor") -> str:
    prompts = {q.id: q.prompt for q in assignment.rubric.questions}
    return _ENV.get_template("student.html").render(
        grade=grade,
        title=assignment.title,
        prompts=prompts,
        audience=audience,
        highlight=highlight,
        percent=_percent(grade),
    )


def overview_page(grades: list[Grade], assignment: Assignment) -> str:
    ranked = sorted(grades, key=lambda g: (g.status != "graded", -g.score, g.submission.student))
    return _ENV.get_template("index.html").render(
        grades=ranked, title=assignment.title, percent=_percent, max_score=assignment.rubric.max_score
    )


def _percent(grade: Grade) -> float:
    return round(100 * grade.score / grade.max_score, 1) if grade.max_score else 0.0


def write_reports(grades: list[Grade], assignment: Assignment, out: Path, audience: str = "instructor") -> list[Grade]:
    from grader.pipeline import with_report

    reports = out / "reports"
    reports.mkdir(parents=True, exist_ok=True)
    written = []
    for grade in grades:
        path = reports / f"{grade.submission.student}.html"
        path.write_text(student_page(grade, assignment, audience), encoding="utf-8")
        written.append(with_report(grade, path))
    (out / "index.html").write_text(overview_page(written, assignment), encoding="utf-8")
    return written
