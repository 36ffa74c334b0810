"""`grader rubric draft`: a first rubric from reference answers, for an instructor to edit.

The key words of each reference answer become its concepts: every word that carries content,
except the words of the question (repeating the question shows no understanding) and common
words. A key word the reference negates ("the veins do not meet") keeps its negator, so only
the same claim earns it. Each concept's hint is the reference's clause with the phrase masked.

With the semantic extra installed, the model groups key words that mean the same thing
("larger", "bigger") into one concept, and half of each question's points
(``reference_weight``) come from similarity to the reference answer; the rubric's `semantic:`
block spells out the thresholds. Without it the draft is keywords only.

(Giving each concept its clause of the reference as ``examples`` was measured too: on SciEntsBank
it lowered agreement with people at semantic thresholds 0.6 and 0.7 and made no difference at 0.8,
so drafts leave examples to the instructor. See docs/agreement.md.)
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grader.score.semantic import Encoder, SemanticUnavailable, encoder, installed, is_key_word
from grader.score.text import NEGATORS, tokenize

MAX_CONCEPTS = 10
SYNONYM_SIMILARITY = 0.9  # key words this close on their own mean the same ("larger", "bigger" 0.93)
NEGATION_WINDOW = 3
DRAFT_REFERENCE_WEIGHT = 0.5  # calibrated on SciEntsBank train/ (docs/agreement.md)
_CLAUSE = re.compile(
    r"[.;:!?]+(?=\s|$)|,|\(|\)|\[|\]|\s-\s|\b(?:because|so that|so|but|when|whereas|while|which|since|therefore|then|if|although|though)\b",
    re.IGNORECASE,
)


class DraftError(ValueError):
    pass


@dataclass(frozen=True)
class QuestionRow:
    id: str
    prompt: str
    reference: str
    points: float = 10.0


def read_questions(path: Path) -> list[QuestionRow]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"question_id", "prompt", "reference"} - set(reader.fieldnames or [])
            if missing:
                raise DraftError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected question_id,prompt,reference[,points]")
            rows = []
            for line, row in enumerate(reader, start=2):
                if not (row["question_id"] or "").strip():
                    raise DraftError(f"{path}, line {line}: empty question_id")
                try:
                    points = float(row.get("points") or 10)
                except ValueError:
                    raise DraftError(f"{path}, line {line}: points {row.get('points')!r} is not a number") from None
                rows.append(QuestionRow(row["question_id"].strip(), row["prompt"].strip(), row["reference"].strip(), points))
    except FileNotFoundError:
        raise DraftError(f"{path}: file not found") from None
    if not rows:
        raise DraftError(f"{path}: no questions")
    return rows


@dataclass
class KeyWord:
    stem: str
    phrase: str  # as the rubric will list it: the word, after its negator when the reference negates it
    clause: str
    clause_index: int
    word_index: int


def clauses(reference: str) -> list[str]:
    return [c.strip(" ,-") for c in _CLAUSE.split(reference) if c and c.strip(" ,-") and tokenize(c).words]


def key_words(reference: str, prompt: str, demote_question: bool = True) -> list[KeyWord]:
    """The reference's content words in order, one per stem; question words left out when ``demote_question``."""
    asked = set(tokenize(prompt).stems) if demote_question else set()
    found: dict[str, KeyWord] = {}
    for clause_index, clause in enumerate(clauses(reference)):
        tokens = tokenize(clause)
        for index, stem_ in enumerate(tokens.stems):
            if stem_ in NEGATORS or stem_ in asked or stem_ in found or not is_key_word(tokens, index):
                continue
            word = clause[tokens.spans[index][0] : tokens.spans[index][1]].lower()
            negator = next(
                (tokens.stems[p] for p in range(max(0, index - NEGATION_WINDOW), index) if tokens.stems[p] in NEGATORS),
                None,
            )
            phrase = f"{negator} {word}" if negator else word
            found[stem_] = KeyWord(stem_, phrase, clause, clause_index, index)
    return list(found.values())


def _group(words: list[KeyWord], model: Encoder | None) -> list[list[KeyWord]]:
    """One concept per key word; with the model, words that mean the same ("larger", "bigger") share
    one. Only near-identical meanings merge: embeddings put antonyms close too ("larger", "smaller"
    0.88), and a concept whose phrases are alternatives must not accept the opposite claim."""
    groups: list[list[int]] = []
    alone = np.stack([e.vector for e in model.embed(w.phrase for w in words)]) if model is not None and words else None
    for i in range(len(words)):
        same = None
        if alone is not None:
            same = next((g for g in groups if max(float(alone[m] @ alone[i]) for m in g) >= SYNONYM_SIMILARITY), None)
        if same is not None:
            same.append(i)
        else:
            groups.append([i])
    concepts = [[words[i] for i in g] for g in groups]
    while len(concepts) > MAX_CONCEPTS:  # merge the neighbours of one clause first, then any neighbours
        pairs = range(len(concepts) - 1)
        same_clause = [i for i in pairs if concepts[i][-1].clause_index == concepts[i + 1][0].clause_index]
        i = min(same_clause or list(pairs), key=lambda i: len(concepts[i]) + len(concepts[i + 1]))
        concepts[i : i + 2] = [concepts[i] + concepts[i + 1]]
    return concepts


def _concept_id(question_id: str, group: list[KeyWord], taken: set[str]) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", group[0].phrase).strip("_")[:30] or "concept"
    base = f"{question_id}_{slug}"[:60]
    ident, n = base, 2
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


def draft_question(row: QuestionRow, model: Encoder | None = None) -> dict:
    words = key_words(row.reference, row.prompt) or key_words(row.reference, row.prompt, demote_question=False)
    groups = _group(words, model) if row.points > 0 else []
    shares = _split_points(row.points, len(groups))
    taken: set[str] = set()
    concepts = []
    for group, share in zip(groups, shares):
        phrases = list(dict.fromkeys(w.phrase for w in group))
        concept = {
            "id": _concept_id(row.id, group, taken),
            "points": share,
            "any": phrases,
            "hint": "The reference answer makes this point: " + _masked(group[0].clause, phrases),
        }
        concepts.append(concept)
    question = {"id": row.id, "prompt": row.prompt, "points": row.points, "reference": row.reference}
    if model is not None and row.reference and concepts:
        question["reference_weight"] = DRAFT_REFERENCE_WEIGHT
    question["concepts"] = concepts
    return question


def _split_points(points: float, parts: int) -> list[float]:
    """Equal shares to the cent, the last one taking the rounding."""
    if parts == 0:
        return []
    share = round(points / parts, 2)
    shares = [share] * (parts - 1)
    return shares + [round(points - sum(shares), 2)]


def _masked(sentence: str, phrases: list[str]) -> str:
    masked = sentence
    for phrase in sorted(phrases, key=len, reverse=True):
        masked = re.sub(rf"\b{re.escape(phrase.split()[-1])}\b", "…", masked, flags=re.IGNORECASE)
    return masked if len(masked) <= 160 else masked[:157] + "..."


def draft_model(semantic: bool | None = None) -> Encoder | None:
    """The model for drafting: None for keywords only (asked, or the extra is not installed)."""
    if semantic is False or (semantic is None and not installed()):
        return None
    try:
        return encoder()
    except SemanticUnavailable:
        if semantic:
            raise
        return None


def draft_rubric(rows: list[QuestionRow], title: str, semantic: bool | None = None) -> dict:
    """A rubric for ``rows``; ``semantic`` None uses the model when the extra is installed."""
    model = draft_model(semantic)
    questions = [draft_question(row, model) for row in rows]
    rubric: dict = {"title": title}
    if model is not None:
        from grader.rubric import SemanticSettings

        defaults = SemanticSettings()
        rubric["semantic"] = {"threshold": defaults.threshold, "reference_ramp": list(defaults.reference_ramp)}
    rubric["questions"] = questions
    return rubric
