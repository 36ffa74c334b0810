"""HTML pages: one per student, the executed notebook beside it, and one class overview.

The page functions are pure (grades in, an HTML string out); ``write_reports`` is the only one
that writes files. Everything a student wrote or a notebook printed is escaped, or sanitised
when it is the notebook's own HTML. The pages carry a Content-Security-Policy with no
``script-src`` at all, so even a sanitiser mistake could not run script.

Two audiences: ``instructor`` sees everything; ``student`` (released feedback) does not see a
hidden concept's phrases, hints or evidence, nor the reference answers.
"""

from __future__ import annotations

import hashlib
import html
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

from jinja2 import Environment, PackageLoader, select_autoescape
from markupsafe import Markup

from grader.assignment import Assignment
from grader.attention import Attention, class_attention
from grader.code_version import page_code
from grader.export.grades_json import grade_record
from grader.models import Grade, QuestionGrade
from grader.out_folder import OutFolder
from grader.redact import Audience, redact, visible_rubric
from grader.report.answer_html import render_answer
from grader.report.class_stats import class_stats
from grader.report.code_evidence import cells_shown, code_question, models_seen
from grader.report.csp import CSP
from grader.report.fix_first import fixes
from grader.report.images import output_images
from grader.report.notebook_html import unrendered_page
from grader.report.page_process import RenderFailed, render_page
from grader.rubric import Rubric
from grader.words import humanize, named

_ENV = Environment(loader=PackageLoader("grader", "report/templates"), autoescape=select_autoescape(["html"]))
_ENV.globals.update(csp=CSP, humanize=humanize, named=named, zip=zip)
_ENV.filters["num"] = lambda value: f"{value:g}"


@dataclass(frozen=True)
class ConceptView:
    name: str
    points: float
    found: bool
    evidence: str = ""
    hint: str = ""
    negated: bool = False
    hidden: bool = False
    pending: bool = False
    quoted: bool = True  # the evidence is words from the answer (not, say, a quiz's "chose B")
    similarity: float | None = None  # set when the sentence showed the concept by meaning


@dataclass(frozen=True)
class QuestionView:
    grade: QuestionGrade
    prompt: str
    answer_html: Markup | None
    concepts: list[ConceptView]
    hidden_missed: int
    flags: list[str] = field(default_factory=list)
    reference: str = ""
    has_checks: bool = False
    images: tuple[str, ...] = ()  # plots drawn by the answer's own cells (data: URIs)


@dataclass(frozen=True)
class Totals:
    written: float = 0.0
    written_max: float = 0.0
    code: float = 0.0
    code_max: float = 0.0
    flags: list[tuple[tuple[str, str], str]] = field(default_factory=list)  # ((anchor, question name), flag)


def highlight(question: QuestionGrade) -> Markup:
    """The answer as rendered markdown (no raw HTML), the words that earned points marked.

    Redacted concepts' words are not marked: the marks would give their phrases away.
    """
    text = question.answer.text if question.answer else ""
    quotes = [
        quote
        for concept in question.concepts
        if concept.found and not concept.redacted
        for quote in concept.evidence.split(" … ")
    ]
    return render_answer(text, quotes)


def _concepts(question: QuestionGrade) -> tuple[list[ConceptView], int]:
    views, hidden_missed = [], 0
    text = question.answer.text if question.answer else ""
    for concept in question.concepts:
        secret = concept.redacted
        if (secret or concept.pending) and not concept.found:
            hidden_missed += 1
            continue
        views.append(
            ConceptView(
                name=humanize(concept.id),
                points=concept.points,
                found=concept.found,
                evidence="" if secret else concept.evidence,
                hint="" if secret else concept.hint,
                negated=concept.negated and not secret,
                hidden=concept.hidden,
                pending=concept.pending,
                quoted=all(part in text for part in concept.evidence.split(" … ")),
                similarity=None if secret else concept.similarity,
            )
        )
    return views, hidden_missed


def _question_views(grade: Grade, rubric: Rubric) -> list[QuestionView]:
    checks_at = code_question(rubric) if grade.checks else None
    views = []
    for question in grade.questions:
        spec = next((q for q in rubric.questions if q.id == question.id), None)
        concepts, hidden_missed = _concepts(question)
        has_text = bool(question.answer and question.answer.text.strip())
        views.append(
            QuestionView(
                grade=question,
                prompt=spec.prompt if spec else "",
                answer_html=highlight(question) if has_text else None,
                concepts=concepts,
                hidden_missed=hidden_missed,
                flags=list(question.flags),
                reference=spec.reference if spec else "",
                has_checks=question.id == checks_at,
                images=_answer_images(grade, question),
            )
        )
    return views


def _answer_images(grade: Grade, question: QuestionGrade) -> tuple[str, ...]:
    if question.answer is None or grade.execution is None or grade.execution.notebook is None:
        return ()
    cells = list(grade.execution.notebook.get("cells", []))
    return tuple(
        uri for index in question.answer.cells if 0 <= index < len(cells) for uri in output_images(cells[index])
    )


def _totals(grade: Grade) -> Totals:
    flags = [(("", ""), flag) for flag in grade.flags]
    flags += [((q.id, q.name), flag) for q in grade.questions for flag in q.flags]
    return Totals(
        written=round(sum(q.score for q in grade.questions), 2),
        written_max=sum(q.max_score for q in grade.questions),
        code=round(sum(c.score for c in grade.checks), 2),
        code_max=sum(c.max_score for c in grade.checks),
        flags=flags,
    )


def student_page(
    grade: Grade,
    assignment: Assignment,
    audience: Audience = "student",
    notebook_href: str | None = None,
    overview_href: str | None = None,
) -> str:
    """One student's feedback page, as ``audience`` may see it (``grader.redact``). Links go to the
    executed notebook and, for instructors, the overview."""
    grade = redact(grade, assignment.rubric, audience)
    questions = _question_views(grade, visible_rubric(assignment.rubric, audience))
    return _ENV.get_template("student.html").render(
        grade=grade,
        title=assignment.title,
        audience=audience,
        percent=_percent(grade),
        totals=_totals(grade),
        fixes=fixes(grade),
        questions=questions,
        checks_placed=any(q.has_checks for q in questions),
        models=models_seen(grade.execution.facts) if grade.execution else [],
        cells=cells_shown(grade),
        notebook_href=notebook_href,
        overview_href=overview_href if audience == "instructor" else None,
    )


def overview_page(
    grades: list[Grade],
    assignment: Assignment,
    notebooks: dict[str, str] | None = None,
    attention: list[Attention] | None = None,
) -> str:
    """The class at a glance (for instructors). ``notebooks`` maps a student to their notebook page's href;
    ``attention`` is the batch's review list (by default, that of these grades without manual grades)."""
    stats = class_stats(grades, assignment.rubric, class_attention(grades) if attention is None else attention)
    return _ENV.get_template("index.html").render(
        title=assignment.title, stats=stats, notebooks=notebooks or {}, max_score=assignment.rubric.max_score
    )


def executed_notebook_page(grade: Grade, assignment: Assignment, report_href: str = "") -> str | None:
    """The notebook as the grader ran it (or as saved, with --no-run), rendered in a child process
    with time and memory limits; None when there is none. A page that could not be rendered
    within them says why, and ``RenderFailed`` is raised with it as ``page``."""
    execution = grade.execution
    if execution is None or execution.notebook is None:
        return None
    if execution.mode == "no-run":
        subtitle = (
            "As submitted: the grader did not run this notebook (--no-run), so the outputs are the student's own."
        )
    else:
        state = execution.status.replace("_", " ")
        subtitle = f"As the grader ran it: {execution.mode} run, {state}, {execution.seconds:.1f} s."
        if execution.message:
            subtitle += f" {execution.message}"
    page = {
        "student": grade.submission.student,
        "title": assignment.title,
        "subtitle": subtitle,
        "report_href": report_href,
    }
    try:
        return render_page(execution.notebook, **page)
    except RenderFailed as exc:
        exc.page = unrendered_page(str(exc), **page)
        raise


def _percent(grade: Grade) -> float:
    return round(100 * grade.score / grade.max_score, 1) if grade.max_score else 0.0


def _write_notebook_page(grade: Grade, assignment: Assignment, path: Path) -> bool:
    """The executed notebook's page, rendered again only when the run behind it changed:
    a rescore or a manual grade leaves every run as it was, so nbconvert does not run again."""
    execution = grade.execution
    if execution is None:
        return False
    stamp = f"<!-- run {grade.submission.sha256} {execution.mode} {execution.status} {execution.seconds:.3f} -->\n"
    try:
        with path.open(encoding="utf-8") as existing:
            if existing.readline() == stamp:
                return True
    except OSError:
        pass
    path.parent.mkdir(exist_ok=True)
    try:
        page = executed_notebook_page(grade, assignment, f"../reports/{grade.submission.student}.html")
    except RenderFailed as exc:  # the plain page, without the stamp: the next report tries again
        path.write_text(exc.page, encoding="utf-8")
        raise
    if page is None:
        return False
    path.write_text(stamp + page, encoding="utf-8")
    return True


def _page_stamp(grade: Grade, made_with: list, notebook_href: str | None) -> str:
    """What a student's page is made of, hashed: its grade (the grades.json record, the answers'
    text, the run as the notebook page identifies it), the links, and what every page is ``made_with``
    (the assignment, the audience, the grader's code). A page whose stamp is unchanged is not rendered again (a rescore that changed
    nothing for this student, a manual grade for another)."""
    execution = grade.execution
    run = None
    if execution is not None:
        run = [execution.mode, execution.status, execution.seconds, execution.message, execution.sandbox,
               execution.facts.model_dump_json()]  # fmt: skip
    answers = [q.answer.text if q.answer else None for q in grade.questions]
    content = [grade_record(grade), answers, run, notebook_href, made_with]
    digest = hashlib.sha256(json.dumps(content, ensure_ascii=False, default=str).encode()).hexdigest()
    return f"<!-- page {digest} -->\n"


def _unchanged(path: Path, stamp: str) -> bool:
    try:
        with path.open(encoding="utf-8") as existing:
            return existing.readline() == stamp
    except OSError:
        return False


def write_reports(
    grades: list[Grade],
    assignment: Assignment,
    out: Path,
    audience: str = "instructor",
    *,
    notebooks: bool = True,
    attention: list[Attention] | None = None,
) -> list[Grade]:
    """Write OUT/reports/<student>.html, OUT/notebooks/<student>.html and OUT/index.html.

    Returns the grades with ``report_path`` set. The executed notebooks go in their own folder,
    next to reports/, so that reports/ holds exactly one page per student; ``notebooks=False``
    skips them (nbconvert takes a fraction of a second per notebook).
    """
    folder = OutFolder(out)
    folder.reports.mkdir(parents=True, exist_ok=True)
    written, notebook_links = [], {}
    made_with = [assignment.title, assignment.rubric.fingerprint(), audience, page_code()]
    for grade in grades:
        student = grade.submission.student
        notebook_href = None
        page_href = f"../{folder.notebook_page(student).relative_to(out).as_posix()}"
        try:
            if notebooks and _write_notebook_page(grade, assignment, folder.notebook_page(student)):
                notebook_href = page_href
        except RenderFailed as exc:  # linked all the same: the plain page says why
            notebook_href = page_href
            grade = replace(grade, flags=(*grade.flags, f"the executed notebook page could not be rendered: {exc}"))
        except Exception as exc:  # RecursionError, MemoryError included: one notebook never stops the reports
            grade = replace(
                grade, flags=(*grade.flags, f"the executed notebook page could not be rendered: {_failure(exc)}")
            )
        if notebook_href:
            notebook_links[student] = notebook_href.removeprefix("../")
        path = folder.report(student)
        stamp = _page_stamp(grade, made_with, notebook_href)
        if not _unchanged(path, stamp):
            try:
                page = stamp + student_page(
                    grade, assignment, audience, notebook_href=notebook_href, overview_href="../index.html"
                )
            except Exception as exc:  # as above: this student's report says what failed, the others are written
                grade = replace(grade, flags=(*grade.flags, f"the report could not be rendered: {_failure(exc)}"))
                page = _plain_page(grade)
            path.write_text(page, encoding="utf-8")
        written.append(replace(grade, report_path=path))
    folder.index.write_text(overview_page(written, assignment, notebook_links, attention), encoding="utf-8")
    return written


def _failure(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc)[:200]}"


def _plain_page(grade: Grade) -> str:
    """A page for a grade whose report could not be rendered: the totals and the flags, escaped."""
    lines = [f"<li>{html.escape(flag)}</li>" for flag in grade.flags]
    return (
        f'<!doctype html><meta charset="utf-8"><meta http-equiv="Content-Security-Policy" content="{html.escape(CSP)}">'
        f"<title>{html.escape(grade.submission.student)}</title><h1>{html.escape(grade.submission.student)}:"
        f" {grade.score:g} / {grade.max_score:g}</h1><ul>{''.join(lines)}</ul>"
    )
