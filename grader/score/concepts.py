"""Scoring a written answer against a question's concepts, with the words that showed each.

Pure: text and a rubric question in, a QuestionGrade out. A phrase matches on word stems, in
order, with at most ``MAX_GAP`` other words between its words, tolerating one-letter typos in
words of ``FUZZY_MIN_LENGTH`` letters or more; a match right after "not", "no", "never"... in
the same sentence is a negated match and earns nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Callable, Iterator

from rapidfuzz import process
from rapidfuzz.distance import Levenshtein

from grader.extract.answers import LOW_CONFIDENCE
from grader.models import Answer, ConceptResult, Flag, QuestionGrade
from grader.rubric import Concept, Question
from grader.score.flags import review_flags
from grader.text import NEGATORS, Tokens, is_symbolic, phrase_stems, squash, tokenize

if TYPE_CHECKING:  # pragma: no cover
    from grader.score.semantic import SemanticScorer, Unavailable

MAX_GAP = 2
FUZZY_MIN_LENGTH = 6
NEGATION_WINDOW = 3


@dataclass(frozen=True)
class Match:
    first: int
    last: int
    negated: bool


class AnswerIndex:
    """Where each stem occurs in one answer, with one-letter typos folded onto rubric stems."""

    def __init__(self, tokens: Tokens):
        self.tokens = tokens
        self.positions: dict[str, list[int]] = {}
        for position, token in enumerate(tokens.stems):
            self.positions.setdefault(token, []).append(position)
        self._long_vocabulary = [w for w in self.positions if len(w) >= FUZZY_MIN_LENGTH - 1]
        self._squashed: str | None = None
        self._fuzzy_cache: dict[str, list[int]] = {}

    def where(self, stem: str) -> list[int]:
        exact = self.positions.get(stem, [])
        if len(stem) < FUZZY_MIN_LENGTH - 1:
            return exact
        if stem not in self._fuzzy_cache:
            near = process.extract(stem, self._long_vocabulary, scorer=Levenshtein.distance, score_cutoff=1, limit=None)
            found = sorted({p for word, _, _ in near for p in self.positions[word]})
            self._fuzzy_cache[stem] = found
        return self._fuzzy_cache[stem]

    @property
    def squashed(self) -> str:
        if self._squashed is None:
            self._squashed = squash(self.tokens.text)
        return self._squashed


def iter_matches(index: AnswerIndex, stems: tuple[str, ...]) -> Iterator[Match]:
    """Every occurrence of the phrase, in order; its words lie in one clause ("variance. Bias
    reduction" is not a "variance reduction", nor "reduce the bias but increase" a "bias increase")."""
    if not stems:
        return
    candidates = [index.where(s) for s in stems]
    if any(not c for c in candidates):
        return
    clauses = index.tokens.clauses
    for start in candidates[0]:
        last = start
        for following in candidates[1:]:
            last = next((p for p in following if last < p <= last + MAX_GAP + 1 and clauses[p] == clauses[start]), -1)
            if last < 0:
                break
        if last >= 0:
            yield Match(start, last, _is_negated(index.tokens, start, last, stems))


def find_phrase(
    index: AnswerIndex, stems: tuple[str, ...], accept: Callable[[Match], bool] | None = None
) -> Match | None:
    """The first non-negated occurrence of the phrase that ``accept`` allows, else the first negated one."""
    negated_match: Match | None = None
    for match in iter_matches(index, stems):
        if accept is not None and not accept(match):
            continue
        if not match.negated:
            return match
        negated_match = negated_match or match
    return negated_match


def _is_negated(tokens: Tokens, first: int, last: int, phrase: tuple[str, ...]) -> bool:
    """A negator shortly before the phrase, or between its words, in the same sentence."""
    sentence = tokens.sentences[first]
    for position in range(max(0, first - NEGATION_WINDOW), last + 1):
        word = tokens.stems[position]
        if word not in NEGATORS or word in phrase or tokens.sentences[position] != sentence:
            continue
        if position + 1 < len(tokens.stems) and tokens.stems[position + 1] == "onli":
            continue
        return True
    return False


@dataclass(frozen=True)
class PhraseHit:
    phrase: str
    quote: str
    negated: bool
    first: int = -1  # the token where the match starts (-1: a symbolic phrase, matched as written)


def match_phrase(index: AnswerIndex, phrase: str, accept: Callable[[Match], bool] | None = None) -> PhraseHit | None:
    if is_symbolic(phrase):
        if squash(phrase) in index.squashed:
            return PhraseHit(phrase, phrase, False)
        return None
    match = find_phrase(index, _compiled(phrase), accept)
    if match is None:
        return None
    return PhraseHit(phrase, index.tokens.quote(match.first, match.last), match.negated, match.first)


@lru_cache(maxsize=8192)
def _compiled(phrase: str) -> tuple[str, ...]:
    return phrase_stems(phrase)


def match_concept(index: AnswerIndex, concept: Concept) -> ConceptResult:
    if concept.published:
        return ConceptResult(concept.id, concept.points, False, hint=concept.hint, hidden=True, pending=True)
    allowed = _not_cancelled(index, concept.not_with)
    hits: list[PhraseHit] = []
    negated: list[PhraseHit] = []
    alternatives_found = not (concept.any or concept.regex)
    for phrase in concept.any:
        hit = match_phrase(index, phrase, allowed)
        if hit is None:
            continue
        if hit.negated and not concept.any_polarity:
            negated.append(hit)
            continue
        hits.append(hit)
        alternatives_found = True
        break
    if not alternatives_found:
        for pattern in concept.regex:
            found = re.search(pattern, index.tokens.text, re.IGNORECASE)
            if found:
                hits.append(PhraseHit(pattern, found.group(), False))
                alternatives_found = True
                break
    group_hits, group_negated = _all_groups(index, concept, allowed)
    hits.extend(group_hits or [])
    negated.extend(group_negated)
    by_words = bool(
        concept.any or concept.regex or concept.all
    )  # a concept of `examples` only is shown by meaning alone
    found = by_words and alternatives_found and group_hits is not None
    return ConceptResult(
        id=concept.id,
        points=concept.points,
        found=found,
        evidence=" … ".join(h.quote for h in hits) if found else "",
        hint=concept.hint,
        hidden=concept.hidden,
        negated=not found and bool(negated),
    )


def _not_cancelled(index: AnswerIndex, not_with: list[str]) -> Callable[[Match], bool] | None:
    """A match is cancelled by a ``not_with`` phrase in its sentence: "noise" in a sentence about
    fitting the noise of the data is not the noise of mini-batch statistics."""
    if not not_with:
        return None
    sentences = index.tokens.sentences
    spoiled = {sentences[m.first] for phrase in not_with for m in iter_matches(index, _compiled(phrase))}
    return lambda match: sentences[match.first] not in spoiled


def _all_groups(index: AnswerIndex, concept: Concept, allowed) -> tuple[list[PhraseHit] | None, list[PhraseHit]]:
    """One positive hit per ``all`` entry (None when an entry is missing), and the negated hits seen.
    With ``same_clause`` every entry must be shown in one clause: the relation, not only the words."""
    groups = concept.all_groups()
    if not groups:
        return [], []
    clauses = index.tokens.clauses
    places: list[int | None] = [None]
    if concept.same_clause:
        first = [m for p in groups[0] for m in _positive(index, p, allowed, concept.any_polarity)]
        places = list(dict.fromkeys(clauses[m.first] for m in first))
    negated: list[PhraseHit] = []
    for place in places:
        accept = allowed if place is None else _within(clauses, place, allowed)
        hits: list[PhraseHit] = []
        for group in groups:
            found = [h for h in (match_phrase(index, p, accept) for p in group) if h is not None]
            positive = next((h for h in found if concept.any_polarity or not h.negated), None)
            if positive is None:
                negated.extend(found)
                break
            hits.append(positive)
        else:
            return hits, negated
    return None, negated


def _positive(index: AnswerIndex, phrase: str, allowed, any_polarity: bool) -> list[Match]:
    return [
        m
        for m in iter_matches(index, _compiled(phrase))
        if (any_polarity or not m.negated) and (allowed is None or allowed(m))
    ]


def _within(clauses: tuple[int, ...], place: int, allowed) -> Callable[[Match], bool]:
    return lambda match: clauses[match.first] == place and (allowed is None or allowed(match))


# A located answer of this many words or more ("N/A", "see above" are fewer) that earns nothing is read by a
# person rather than left a silent zero (on the regularization corpus it fired twice, both answers a reader
# marked 3 and 5 of 5).
UNREAD_ZERO_WORDS = 5
_UNREAD_ZERO_WHY = "earns none of this question's points; it may say them in words the rubric does not list"


def unread_zero_flag(words: int) -> str:
    return f"needs review: the answer found ({words} words) {_UNREAD_ZERO_WHY}"


def is_unread_zero(flag: str) -> bool:
    """``flag`` is ``unread_zero_flag``'s (which a flag saying where the answer may be replaces)."""
    return str(flag).endswith(_UNREAD_ZERO_WHY)


def score_answer(
    question: Question, answer: Answer | None, semantic: "SemanticScorer | Unavailable | None" = None
) -> QuestionGrade:
    """The question's grade from its concepts' phrases; with ``semantic`` (grader.score.semantic.semantic_for)
    also from sentences close in meaning to a concept, and from similarity to the reference answer."""
    if answer and answer.other_question:
        return _answers_another_question(question, answer)
    text = answer.text if answer else ""
    tokens = tokenize(text)
    index = AnswerIndex(tokens)
    results = tuple(match_concept(index, concept) for concept in question.concepts)
    earned = min(question.points, sum(r.points for r in results if r.found))
    flags: list[str] = []
    if semantic is not None and semantic.active:
        concept_share = 1 - question.reference_weight
        results, reference = semantic.complete(question, text, results)
        earned = concept_share * min(
            question.points, sum(c.points for c, r in zip(question.concepts, results) if r.found)
        )
        if reference is not None:
            earned += reference.points if reference.found else 0.0
            results = results + (reference,)
        earned = min(question.points, earned)
    elif semantic is not None and _uses_semantic(question):
        flags.append(semantic.reason)
    feedback = ""
    if not text.strip():
        feedback = "No answer was found for this question."
    elif question.min_words and tokens.words < question.min_words:
        capped = question.points / 2
        if earned > capped:
            earned = capped
        feedback = (
            f"This answer has {tokens.words} words; a full answer needs about {question.min_words}, "
            f"so it can earn at most half the points."
        )
    if answer and answer.text and answer.confidence < LOW_CONFIDENCE:
        flags.append(f"needs review: the answer was located with low confidence ({answer.how})")
    if text.strip():
        flags.extend(review_flags(question, tokens, sum(r.found for r in results[: len(question.concepts)])))
    for result in results:
        if result.negated:
            flags.append(Flag(f"concept {result.id} appears only in negated form", (result.id,)))
    if earned == 0 and tokens.words >= UNREAD_ZERO_WORDS and not flags:
        flags.append(unread_zero_flag(tokens.words))
    return QuestionGrade(
        id=question.id,
        score=round(earned, 2),
        max_score=question.points,
        concepts=results,
        answer=answer,
        flags=tuple(flags),
        feedback=feedback,
        label=question.label,
    )


def _answers_another_question(question: Question, answer: Answer) -> QuestionGrade:
    asked = answer.other_question if len(answer.other_question) < 120 else answer.other_question[:117] + "..."
    return QuestionGrade(
        id=question.id,
        score=0.0,
        max_score=question.points,
        concepts=tuple(ConceptResult(c.id, c.points, False, hint=c.hint, hidden=c.hidden) for c in question.concepts),
        answer=answer,
        flags=(f"needs review: this answer follows a different question: “{asked}”",),
        feedback="This answer is written for a different question, so it earns no points here.",
        label=question.label,
    )


def _uses_semantic(question: Question) -> bool:
    return question.reference_weight > 0 or any(c.examples for c in question.concepts)
