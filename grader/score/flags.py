"""Answers a person should look at: flagged for review, never silently penalised."""

from __future__ import annotations

import re
from functools import lru_cache

from grader.rubric import Question
from grader.text import Tokens, tokenize

SHINGLE = 5
COPIED_SHARE = 0.6
STUFFED_MIN_ITEMS = 4
_ITEM_SPLIT = re.compile(r"[,;\n•|]+")


def review_flags(question: Question, tokens: Tokens, concepts_found: int) -> list[str]:
    flags = []
    if concepts_found >= 2 and _is_term_list(tokens.text):
        flags.append("needs review: looks like a list of terms rather than an explanation (keyword stuffing?)")
    if tokens.words >= SHINGLE and _copied_share(tokens, question.prompt) >= COPIED_SHARE:
        flags.append("needs review: the answer mostly repeats the question")
    if question.reference and tokens.words >= 2 * SHINGLE and _copied_share(tokens, question.reference) >= COPIED_SHARE:
        flags.append(
            "needs review: the answer is largely the reference answer, word for word (a sample solution copied?)"
        )
    return flags


def _is_term_list(text: str) -> bool:
    """Many short items and hardly a sentence: "overfitting, L1, L2, penalty, dropout"."""
    items = [item.strip(" -*.#\t") for item in _ITEM_SPLIT.split(text) if item.strip(" -*.#\t")]
    if len(items) < STUFFED_MIN_ITEMS:
        return False
    short = sum(1 for item in items if len(item.split()) <= 3)
    sentences = len(re.findall(r"\w[^.!?]{25,}[.!?]", text))
    return short / len(items) >= 0.7 and sentences <= 1


def _shingles(stems: tuple[str, ...]) -> set[tuple[str, ...]]:
    return {stems[i : i + SHINGLE] for i in range(len(stems) - SHINGLE + 1)}


@lru_cache(maxsize=1024)
def _source_shingles(source: str) -> frozenset[tuple[str, ...]]:
    return frozenset(_shingles(tokenize(source).stems))


def _copied_share(tokens: Tokens, source: str) -> float:
    """Share of the answer's five-word runs that also occur in ``source`` (a prompt or reference)."""
    answer = _shingles(tokens.stems)
    if not answer:
        return 0.0
    return len(answer & _source_shingles(source)) / len(answer)
