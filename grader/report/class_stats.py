"""The numbers on the class overview, computed once from the grades: plain data for the template."""

from __future__ import annotations

import statistics
from dataclasses import dataclass

from markupsafe import Markup

from grader.attention import Attention
from grader.models import Grade
from grader.report.charts import Bar, bar_chart, histogram
from grader.rubric import Rubric
from grader.words import humanize

BINS = 10


@dataclass(frozen=True)
class StudentRow:
    student: str
    name: str
    score: float
    max_score: float
    percent: float
    written: float
    code: float
    status: str
    notes: tuple[str, ...]
    report: str


@dataclass(frozen=True)
class Spread:
    """Mean, spread and range of one quantity across the graded submissions."""

    id: str
    label: str
    prompt: str
    max_score: float
    mean: float
    std: float
    low: float
    high: float
    answered: int = 0

    @property
    def mean_percent(self) -> float:
        return 100 * self.mean / self.max_score if self.max_score else 0.0


@dataclass(frozen=True)
class Missed:
    question: str  # as people call it ("1.1", "Q1")
    concept: str
    points: float
    missed: int
    answered: int
    hidden: bool

    @property
    def percent(self) -> float:
        return 100 * self.missed / self.answered if self.answered else 0.0


@dataclass(frozen=True)
class PassRate:
    id: str
    description: str
    passed: int
    graded: int
    max_score: float

    @property
    def percent(self) -> float:
        return 100 * self.passed / self.graded if self.graded else 0.0


@dataclass(frozen=True)
class ClassStats:
    by_score: list[StudentRow]
    by_name: list[StudentRow]
    graded: int
    errors: int
    mean: float
    median: float
    std: float
    low: float
    high: float
    bins: list[int]
    bin_labels: list[str]
    questions: list[Spread]
    missed: list[Missed]
    checks: list[PassRate]
    attention: list[Attention]  # grader.attention's list, the same as `grader review`
    reports: dict[str, str]  # student -> their report's href
    histogram_svg: Markup
    questions_svg: Markup
    missed_svg: Markup
    checks_svg: Markup


def class_stats(grades: list[Grade], rubric: Rubric, attention: list[Attention], most_missed: int = 10) -> ClassStats:
    rows = [_row(g) for g in grades]
    graded = [g for g in grades if g.status == "graded"]
    percents = [_percent(g) for g in graded]
    bins, labels = _bins(percents)
    questions = _question_spreads(graded, rubric)
    missed = _most_missed(graded, rubric)[:most_missed]
    checks = _pass_rates(graded, rubric)
    return ClassStats(
        by_score=sorted(rows, key=lambda r: (r.status != "graded", -r.score, r.student.lower())),
        by_name=sorted(rows, key=lambda r: ((r.name or r.student).lower(), r.student)),
        graded=len(graded),
        errors=len(grades) - len(graded),
        mean=statistics.fmean(percents) if percents else 0.0,
        median=statistics.median(percents) if percents else 0.0,
        std=statistics.pstdev(percents) if len(percents) > 1 else 0.0,
        low=min(percents, default=0.0),
        high=max(percents, default=0.0),
        bins=bins,
        bin_labels=labels,
        questions=questions,
        missed=missed,
        checks=checks,
        attention=attention,
        reports={row.student: row.report for row in rows if row.report},
        histogram_svg=_histogram_svg(bins, labels, len(graded)),
        questions_svg=_questions_svg(questions),
        missed_svg=_missed_svg(missed),
        checks_svg=_checks_svg(checks),
    )


def _histogram_svg(bins: list[int], labels: list[str], graded: int) -> Markup:
    return histogram(
        "score-histogram",
        bins,
        labels,
        "Score distribution",
        f"Number of graded submissions in each 10-point band of the percentage score, {graded} in all: "
        + ", ".join(f"{label}%: {count}" for label, count in zip(labels, bins)),
        "score (% of the total)",
    )


def _questions_svg(questions: list[Spread]) -> Markup:
    return bar_chart(
        "question-means",
        [
            Bar(
                s.label,
                s.mean_percent,
                f"{s.mean:.1f} / {s.max_score:g} (range {s.low:g}–{s.high:g})",
                _share(s.low, s.max_score),
                _share(s.high, s.max_score),
            )
            for s in questions
        ],
        "Mean score per question",
        "Mean points per question as a share of its maximum, with the lowest and highest score as a range line: "
        + "; ".join(
            f"{s.label} mean {s.mean:.1f} of {s.max_score:g}, min {s.low:g}, max {s.high:g}" for s in questions
        ),
    )


def _missed_svg(missed: list[Missed]) -> Markup:
    return bar_chart(
        "missed-concepts",
        [
            Bar(f"{m.question} {humanize(m.concept)}", m.percent, f"{m.missed} of {m.answered} ({m.percent:.0f}%)")
            for m in missed
        ],
        "Most-missed concepts",
        "Share of the submissions that answered the question but missed the concept: "
        + "; ".join(f"{m.question} {m.concept}: {m.missed} of {m.answered}" for m in missed),
    )


def _checks_svg(checks: list[PassRate]) -> Markup:
    return bar_chart(
        "check-pass-rates",
        [Bar(humanize(c.id), c.percent, f"{c.passed} of {c.graded} passed ({c.percent:.0f}%)") for c in checks],
        "Code check pass rates",
        "Share of graded submissions that passed each code check: "
        + "; ".join(f"{c.id}: {c.passed} of {c.graded}" for c in checks),
    )


def _percent(grade: Grade) -> float:
    return round(100 * grade.score / grade.max_score, 1) if grade.max_score else 0.0


def _share(value: float, maximum: float) -> float:
    return 100 * value / maximum if maximum else 0.0


def _row(grade: Grade) -> StudentRow:
    identity = grade.submission.identity
    notes = [grade.error] if grade.error else []
    notes += list(grade.flags)
    notes += [f"{q.name}: {flag}" for q in grade.questions for flag in q.flags]
    return StudentRow(
        student=grade.submission.student,
        name=identity.name if identity and identity.name else "",
        score=grade.score,
        max_score=grade.max_score,
        percent=_percent(grade),
        written=round(sum(q.score for q in grade.questions), 2),
        code=round(sum(c.score for c in grade.checks), 2),
        status=grade.status,
        notes=tuple(notes),
        report=f"reports/{grade.report_path.name}" if grade.report_path else "",
    )


def _bins(percents: list[float]) -> tuple[list[int], list[str]]:
    width = 100 // BINS
    counts = [0] * BINS
    for value in percents:
        counts[min(int(value // width), BINS - 1)] += 1
    labels = [f"{i * width}–{i * width + width - 1}" for i in range(BINS - 1)] + [f"{(BINS - 1) * width}–100"]
    return counts, labels


def _question_spreads(graded: list[Grade], rubric: Rubric) -> list[Spread]:
    spreads = []
    for question in rubric.questions:
        scores, answered = [], 0
        for grade in graded:
            result = next((q for q in grade.questions if q.id == question.id), None)
            if result is None:
                continue
            scores.append(result.score)
            answered += bool(result.answer and result.answer.text.strip())
        spreads.append(_spread(question.id, question.name, question.prompt, question.points, scores, answered))
    return spreads


def _spread(ident: str, label: str, prompt: str, maximum: float, scores: list[float], answered: int = 0) -> Spread:
    return Spread(
        id=ident,
        label=label,
        prompt=prompt,
        max_score=maximum,
        mean=statistics.fmean(scores) if scores else 0.0,
        std=statistics.pstdev(scores) if len(scores) > 1 else 0.0,
        low=min(scores, default=0.0),
        high=max(scores, default=0.0),
        answered=answered,
    )


def _most_missed(graded: list[Grade], rubric: Rubric) -> list[Missed]:
    """Concepts missed by the submissions that did answer the question (a blank answer misses all)."""
    missed = []
    for question in rubric.questions:
        results = [
            q
            for g in graded
            for q in g.questions
            if q.id == question.id and q.answer and q.answer.text.strip() and not q.answer.other_question
        ]
        for concept in question.concepts:
            outcomes = [c.found for q in results for c in q.concepts if c.id == concept.id and not c.pending]
            if outcomes:
                missed.append(
                    Missed(
                        question.name, concept.id, concept.points, outcomes.count(False), len(outcomes), concept.hidden
                    )
                )
    return sorted((m for m in missed if m.missed), key=lambda m: (-m.percent, -m.points, -m.missed))


def _pass_rates(graded: list[Grade], rubric: Rubric) -> list[PassRate]:
    rates = []
    for check in rubric.checks:
        results = [c for g in graded for c in g.checks if c.id == check.id]
        rates.append(PassRate(check.id, check.description, sum(c.passed for c in results), len(results), check.points))
    return rates
