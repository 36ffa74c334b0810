"""`grader rubric lint`: what a schema cannot catch, said before students are graded with it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from grader.authoring import common_words
from grader.authoring.draft import GENERIC_WORDS, VAGUE_WORDS
from grader.models import Answer
from grader.rubric import Concept, Question, Rubric
from grader.score.concepts import AnswerIndex, find_phrase, match_phrase, score_answer
from grader.score.semantic import FUNCTION_WORDS
from grader.text import NEGATORS, is_symbolic, phrase_stems, tokenize

MAX_HOLDERS = 2  # a phrase more questions say is the homework's vocabulary, not another question's idea
EPSILON = 1e-6  # points are whole, half or cents: sums closer than this are equal
_WORD = re.compile(r"[A-Za-z]+")
_HYPHENATED = re.compile(r"\b[A-Za-z]+-(?=[A-Za-z])")


@dataclass(frozen=True)
class Finding:
    where: str
    message: str


def lint_rubric(rubric: Rubric) -> list[Finding]:
    findings: list[Finding] = []
    texts = [t for q in rubric.questions for t in (q.prompt, q.reference) if t]
    warned: set[str] = set()
    for q_index, question in enumerate(rubric.questions):
        where = f"questions[{q_index}] ({question.id})"
        if question.kind == "text":
            findings.extend(_question_findings(where, question))
            findings.extend(_phrase_findings(where, question, rubric, texts, warned))
    if not common_words.available():
        findings.append(Finding("(rubric)", "stems shared with common words not checked: pip install '.[authoring]'"))
    return findings


def _question_findings(where: str, question: Question) -> list[Finding]:
    findings = []
    reachable = sum(c.points for c in question.concepts)
    if question.concepts and reachable < question.points - EPSILON:
        findings.append(
            Finding(
                where,
                f"its concepts add up to {reachable:g} of its {question.points:g} points: full marks are impossible",
            )
        )
    if question.reference:
        graded = score_answer(question, Answer(question.id, question.reference, (), 1.0))
        if graded.score < question.points - EPSILON:
            missed = ", ".join(c.id for c in graded.concepts if not c.found)
            findings.append(
                Finding(
                    where,
                    f"its reference answer scores {graded.score:g}/{question.points:g} under its own concepts (missed: {missed})",
                )
            )
    return findings


def _phrases(concept: Concept) -> list[str]:
    return list(concept.any) + [p for group in concept.all_groups() for p in group]


def _phrase_findings(
    where: str, question: Question, rubric: Rubric, texts: list[str], warned: set[str]
) -> list[Finding]:
    findings = []
    prompt_stems = set(phrase_stems(question.prompt))
    owners: dict[tuple[str, ...], str] = {}
    for c_index, concept in enumerate(question.concepts):
        here = f"{where}.concepts[{c_index}] ({concept.id})"
        for phrase in _phrases(concept):
            stems = phrase_stems(phrase)
            problem = _phrase_problem(phrase, stems, concept, prompt_stems)
            if problem:
                findings.append(Finding(here, problem))
            if stems in owners and owners[stems] != concept.id:
                findings.append(
                    Finding(
                        here, f"phrase {phrase!r} also belongs to concept {owners[stems]}: one sentence would earn both"
                    )
                )
            owners.setdefault(stems, concept.id)
            if stems and not is_symbolic(phrase):
                findings.extend(Finding(here, m) for m in _trap_messages(phrase, texts, warned))
        elsewhere = _elsewhere_message(concept, question, rubric)
        if elsewhere:
            findings.append(Finding(here, elsewhere))
        lone = _lone_common_word(concept)
        if lone:
            findings.append(Finding(here, lone))
    return findings


def _lone_common_word(concept: Concept) -> str:
    """A concept any single common English word earns ("loss", "function", "points" drafted from
    "loss function" and "saddle points"): an answer says it in passing, so it shows no idea. None of
    the hand-written rubrics has one; a draft of a technical homework has a dozen."""
    if not common_words.available() or concept.all_groups() or not concept.any:
        return ""
    words = [phrase.strip() for phrase in concept.any]
    if not all(_WORD.fullmatch(w) and common_words.is_common(w) for w in words):
        return ""
    if all(w.lower() in FUNCTION_WORDS or w.lower() in VAGUE_WORDS or w.lower() in GENERIC_WORDS for w in words):
        return ""  # said already: "only common words"
    listed = ", ".join(repr(w) for w in words)
    return (
        f"concept {concept.id} is earned by a single common word ({listed}): an answer may say it in passing; "
        "write the term it stands for (a longer phrase) or add a second word with `all:`"
    )


def _phrase_problem(phrase: str, stems: tuple[str, ...], concept: Concept, prompt_stems: set[str]) -> str:
    words = [w.lower() for w in re.findall(r"[A-Za-z0-9]+", phrase)]
    if not stems and not is_symbolic(phrase):
        return f"phrase {phrase!r} has no words and can never match"
    if stems and all(s in NEGATORS for s in stems):
        return f"phrase {phrase!r} is only a negation and can never match"
    if stems and set(stems) <= prompt_stems and phrase in concept.any:
        return f"phrase {phrase!r} only repeats the question's words: restating the question would earn it"
    if words and all(w.isdigit() for w in words) and not is_symbolic(phrase):
        return f"phrase {phrase!r} is only a number: any answer that mentions {phrase} earns it"
    if words and all(w in FUNCTION_WORDS or w in NEGATORS or w in VAGUE_WORDS or w in GENERIC_WORDS for w in words):
        return f"phrase {phrase!r} is only common words: almost any answer earns it"
    return ""


def _trap_messages(phrase: str, texts: list[str], warned: set[str]) -> list[str]:
    """Words that match the phrase but mean something else: shared stems (said once per word), and
    hyphenated compounds of the rubric's own texts."""
    messages = []
    if common_words.available():
        for word in _WORD.findall(phrase):
            others = [] if word.lower() in warned else common_words.colliding_words(word)
            warned.add(word.lower())
            if others:
                messages.append(
                    f"phrase {phrase!r}: {word!r} shares its stem with {', '.join(others[:4])}, so those words match it too"
                )
    compounds = sorted({c for text in texts for c in _compounds_around(text, phrase)})
    if compounds:
        messages.append(
            f"phrase {phrase!r} also matches inside {', '.join(repr(c) for c in compounds[:3])} "
            "(add not_with: with the compound, or use a longer phrase)"
        )
    return messages


def _compounds_around(text: str, phrase: str) -> list[str]:
    """Where the phrase starts right after a hyphenated prefix of ``text``: "mini-batch gradient descent"
    for ``batch gradient descent``."""
    found = []
    for prefix in _HYPHENATED.finditer(text):
        rest = text[prefix.end() : prefix.end() + 200]
        hit = find_phrase(AnswerIndex(tokenize(rest)), phrase_stems(phrase))
        if hit is not None and hit.first == 0:
            found.append((prefix.group() + tokenize(rest).quote(0, hit.last)).lower())
    return found


def _elsewhere_message(concept: Concept, question: Question, rubric: Rubric) -> str:
    """Phrases that another question asks about while this question's own prompt and reference never
    say them: an answer to that other question, misplaced or copied, earns this concept. Only a
    distinctive phrase is said: one that the other question's prompt names (a word that merely recurs
    in its reference is shared vocabulary) and that at most MAX_HOLDERS other questions say."""
    own = [t for t in (question.prompt, question.reference) if t]
    others = [q for q in rubric.questions if q.kind == "text" and q.id != question.id]
    strays: dict[str, list[str]] = {}
    for phrase in _phrases(concept):
        if not phrase_stems(phrase) or is_symbolic(phrase) or any(_shows(t, phrase) for t in own):
            continue
        holders = [q for q in others if any(_shows(t, phrase) for t in (q.prompt, q.reference) if t)]
        asking = [q.id for q in holders if _shows(q.prompt, phrase)]
        if asking and len(holders) <= MAX_HOLDERS:
            strays[phrase] = asking
    if not strays:
        return ""
    where = sorted({qid for asking in strays.values() for qid in asking})
    shown = ", ".join(repr(p) for p in list(strays)[:4])
    return (
        f"phrase(s) {shown} are what {', '.join(where[:4])} ask{'s' * (len(where) == 1)} about, and this question's prompt and reference "
        "never say them: an answer to that question would earn this concept"
    )


def _shows(text: str, phrase: str) -> bool:
    hit = match_phrase(AnswerIndex(tokenize(text)), phrase)
    return hit is not None and not hit.negated
