"""Quiz items written in notebooks: multiple choice, a number with a tolerance, a short answer."""

from __future__ import annotations

import re

from grader.models import Answer, ConceptResult, QuestionGrade
from grader.rubric import Question
from grader.score.concepts import AnswerIndex, match_phrase
from grader.text import tokenize

_NUMBER = re.compile(r"[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?\s*%?")


def chosen_options(question: Question, text: str) -> list[str]:
    """The options a student picked. Single letters count only where they read as a choice."""
    picked = []
    short = len(text.split()) <= 6
    for option in question.options:
        escaped = re.escape(option)
        if len(option) == 1:
            pattern = rf"(?<![A-Za-z0-9])\(?{escaped}\)(?![A-Za-z0-9])|^\s*{escaped}[.):]|(?:answer|option|choice)s?\s*(?:is|:)?\s*\(?{escaped}\b"
            if short:
                pattern = rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
        else:
            pattern = rf"(?<![A-Za-z0-9]){escaped}(?![A-Za-z0-9])"
        if re.search(pattern, text, re.IGNORECASE | re.MULTILINE):
            picked.append(option)
    return picked


def first_number(text: str) -> float | None:
    match = _NUMBER.search(text)
    if not match:
        return None
    literal = match.group().strip()
    value = float(literal.rstrip("%").strip())
    return value / 100 if literal.endswith("%") else value


def score_quiz(question: Question, answer: Answer | None) -> QuestionGrade:
    text = answer.text if answer else ""
    if question.kind == "choice":
        picked = chosen_options(question, text)
        right = [p for p in picked if p in question.answer]
        wrong = [p for p in picked if p not in question.answer]
        share = max(0.0, (len(right) - len(wrong)) / len(question.answer))
        detail = f"chose {', '.join(picked) or 'nothing'}"
        results = (ConceptResult("correct options", question.points, share == 1.0, detail if picked else ""),)
        feedback = "" if share == 1.0 else f"You {detail}; {len(question.answer)} option(s) are correct."
    elif question.kind == "numeric":
        value = first_number(text)
        share = 1.0 if value is not None and abs(value - question.value) <= question.tolerance else 0.0
        shown = "no number" if value is None else f"{value:g} (from the answer)"
        results = (ConceptResult("value", question.points, share == 1.0, shown if value is not None else ""),)
        feedback = "" if share else f"Found {shown}; that is not within the expected range."
    else:
        index = AnswerIndex(tokenize(text))
        hit = next((h for h in (match_phrase(index, p) for p in question.accept) if h and not h.negated), None)
        quote = (
            hit.quote
            if hit
            else next((m.group() for m in (re.search(p, text, re.IGNORECASE) for p in question.accept_regex) if m), "")
        )
        share = 1.0 if quote else 0.0
        results = (ConceptResult("accepted answer", question.points, bool(quote), quote),)
        feedback = "" if share else "This is not one of the accepted answers."
    if not text.strip() and not (question.kind == "numeric" and share):
        feedback = "No answer was found for this question."
    return QuestionGrade(
        id=question.id,
        score=round(question.points * share, 2),
        max_score=question.points,
        concepts=results,
        answer=answer,
        feedback=feedback,
        label=question.label,
    )
