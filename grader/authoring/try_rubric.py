"""`grader rubric try`: a rubric on a few saved notebooks, concept by concept, to tune it in minutes.

Nothing runs: each notebook's written answers are located as grading would locate them, and each
concept shows the sentence that earned it, or, when missed, the sentence that came nearest (the
most of one phrase's words), so the instructor sees which phrase to add or tighten.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import nbformat

from grader.extract.evidence import gather_evidence
from grader.models import ConceptResult
from grader.rubric import Concept, Rubric
from grader.score.concepts import AnswerIndex, score_answer
from grader.score.semantic import SemanticScorer, Sentence, Unavailable, split_sentences
from grader.text import phrase_stems


class TryError(ValueError):
    pass


@dataclass(frozen=True)
class ConceptTry:
    id: str
    points: float
    earned: bool
    sentence: str  # the sentence that earned it, or the nearest miss ("" when nothing came close)
    note: str  # how it matched, or what the nearest miss lacks


@dataclass(frozen=True)
class QuestionTry:
    id: str
    label: str
    score: float
    max_score: float
    answer_words: int
    concepts: tuple[ConceptTry, ...]
    flags: tuple[str, ...]


@dataclass(frozen=True)
class NotebookTry:
    name: str
    score: float
    max_score: float
    questions: tuple[QuestionTry, ...]
    error: str = ""


def try_rubric(
    rubric: Rubric,
    paths: list[Path],
    template_lines: frozenset[str] = frozenset(),
    semantic: SemanticScorer | Unavailable | None = None,
) -> list[NotebookTry]:
    return [_try_one(rubric, path, template_lines, semantic) for path in paths]


def _try_one(rubric: Rubric, path: Path, template_lines: frozenset[str], semantic) -> NotebookTry:
    try:
        notebook = nbformat.read(path, as_version=4)
    except Exception as exc:  # a bad file is one row of the result, never the end of the run
        return NotebookTry(path.name, 0.0, 0.0, (), f"{path}: not a readable notebook ({exc})")
    answers = gather_evidence(notebook, rubric, template_lines).answers
    questions = []
    for question in rubric.questions:
        if question.kind != "text":
            continue
        answer = answers.get(question.id)
        grade = score_answer(question, answer, semantic)
        text = answer.text if answer else ""
        sentences = split_sentences(text) if text.strip() else []
        by_id = {c.id: c for c in question.concepts}
        concepts = tuple(_concept_try(result, by_id.get(result.id), sentences) for result in grade.concepts)
        questions.append(
            QuestionTry(
                question.id,
                question.label or question.id,
                grade.score,
                grade.max_score,
                len(text.split()),
                concepts,
                grade.flags,
            )
        )
    return NotebookTry(
        path.name, round(sum(q.score for q in questions), 2), sum(q.max_score for q in questions), tuple(questions)
    )


def _concept_try(result: ConceptResult, concept: Concept | None, sentences: list[Sentence]) -> ConceptTry:
    if result.found:
        how = f"by meaning, similarity {result.similarity:.2f}" if result.similarity is not None else "by its phrases"
        return ConceptTry(
            result.id,
            result.points,
            True,
            _sentence_of(result.evidence, sentences),
            f"matched {how}: {result.evidence}",
        )
    if result.negated:
        return ConceptTry(result.id, result.points, False, "", "only in negated form")
    if concept is None or not sentences:
        return ConceptTry(result.id, result.points, False, "", "no answer" if not sentences else "")
    sentence, note = nearest_miss(concept, sentences)
    return ConceptTry(result.id, result.points, False, sentence, note)


def _sentence_of(evidence: str, sentences: list[Sentence]) -> str:
    first = evidence.split(" … ")[0]
    if not first:
        return ""
    within = re.compile(rf"(?<!\w){re.escape(first)}(?!\w)")
    return next((s.text for s in sentences if within.search(s.text)), first)


def nearest_miss(concept: Concept, sentences: list[Sentence]) -> tuple[str, str]:
    """The sentence that came nearest, and what it lacks: the most words of one phrase, or for an
    ``all`` concept the most of its entries."""
    best: tuple[float, str, str] = (0.0, "", "")
    for sentence in sentences:
        index = AnswerIndex(sentence.tokens)
        for share, note in _misses(concept, index):
            if share > best[0]:
                best = (share, sentence.text, note)
    if not best[1]:
        return "", "no sentence uses any of its words"
    return best[1], best[2]


def _misses(concept: Concept, index: AnswerIndex) -> Iterator[tuple[float, str]]:
    for phrase in concept.any:
        stems = phrase_stems(phrase)
        present = [s for s in stems if index.where(s)]
        if not present:
            continue
        if len(present) < len(stems):
            missing = [w for w, s in zip(phrase.split(), stems) if s not in present] or phrase.split()
            yield len(present) / len(stems), f"nearest to {phrase!r}: lacks {' '.join(missing)!r}"
        else:
            yield 1.0, f"has the words of {phrase!r}, but not in order within one clause"
    groups = concept.all_groups()
    if groups:
        shown = [any(all(index.where(s) for s in phrase_stems(p)) for p in group) for group in groups]
        if any(shown):
            lacking = " and ".join(" / ".join(group) for group, ok in zip(groups, shown) if not ok)
            note = (
                f"lacks {lacking!r}"
                if lacking
                else "has every part, but not together" + (" in one clause" if concept.same_clause else "")
            )
            yield sum(shown) / len(groups), note


def render_terminal(results: list[NotebookTry]) -> list[str]:
    """Plain lines for the terminal: one block per notebook, one line per concept."""
    lines = []
    for notebook in results:
        if notebook.error:
            lines.append(f"{notebook.name}: {notebook.error}")
            continue
        lines.append(f"{notebook.name}: {notebook.score:g} / {notebook.max_score:g}")
        for question in notebook.questions:
            lines.append(
                f"  {question.label}: {question.score:g} / {question.max_score:g} ({question.answer_words} words)"
            )
            for concept in question.concepts:
                mark = "+" if concept.earned else "-"
                quote = f' "{_short(concept.sentence)}"' if concept.sentence else ""
                lines.append(f"    {mark} {concept.id} ({concept.points:g}): {concept.note}{quote}")
            lines.extend(f"    ! {flag}" for flag in question.flags)
    return lines


def _short(text: str, limit: int = 140) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def render_html(rubric: Rubric, results: list[NotebookTry]) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    from grader.report.csp import CSP

    env = Environment(loader=PackageLoader("grader", "authoring/templates"), autoescape=select_autoescape(["html"]))
    return env.get_template("try.html").render(rubric=rubric, results=results, csp=CSP)
