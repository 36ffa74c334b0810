"""`grader rubric draft`: a first rubric from reference answers, worth editing rather than rewriting.

Each question gets three to five concepts, each a key idea of its reference answer: a content
word (never a digit, a common word or a word of the question: repeating the question shows no
understanding), with the words that mean the same grouped into one concept when the semantic
model is installed. A key word the reference negates keeps its negator, so only the same claim
earns it. Points are whole or half points that add up exactly to the question's; each hint says
what to explain without giving the words away. Every choice the draft made is written as a
comment above the question, so the instructor sees what to check.

With the semantic extra, half of each question's points (``reference_weight``) come from
similarity to the reference answer: calibrated on SciEntsBank train/ (docs/agreement.md).
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from grader.score.semantic import Encoder, SemanticUnavailable, encoder, installed, is_key_word
from grader.text import NEGATORS, tokenize

MIN_CONCEPTS, MAX_CONCEPTS = 3, 5
SYNONYM_SIMILARITY = 0.9  # key words this close on their own mean the same ("larger", "bigger" 0.93)
NEGATION_WINDOW = 3
DRAFT_REFERENCE_WEIGHT = 0.5  # calibrated on SciEntsBank train/ (docs/agreement.md)
MIN_WORDS_SHARE = 0.25  # an answer under a quarter of the reference's length earns at most half
MAX_MIN_WORDS = 30
DEFAULT_POINTS = 10.0
_CLAUSE = re.compile(
    r"[.;:!?]+(?=\s|$)|,|\(|\)|\[|\]|\s-\s|\b(?:because|so that|so|but|when|whereas|while|which|since|therefore|then|if|although|though)\b",
    re.IGNORECASE,
)
# Words that carry no idea of a science or ML answer on their own (on top of the scorer's function words).
GENERIC_WORDS = frozenset(
    """refers refer occurs occur plays play helps help starts start set ensure ensures tends tend results result
    leads lead becomes become allows allow provides provide involves involve essential crucial fundamental concept
    concepts technique techniques process approach specific effectively typically particular especially
    significantly overall able case cases type types form forms role part parts certain simply basically""".split()
)
# Words too vague to show an idea alone ("more", "same"): a concept of one of them earns any answer that
# says it. The draft uses them only when the reference has nothing more specific; lint warns about them.
VAGUE_WORDS = frozenset(
    "more less most least same up down out off over under back better worse good bad big small large high low".split()
)
_KEY = re.compile(r"[^A-Za-z0-9_\-]+")


class DraftError(ValueError):
    pass


@dataclass(frozen=True)
class QuestionRow:
    """One question as the instructor wrote it: ``label`` is the id people see ("1.1", "Q1a")."""

    label: str
    prompt: str
    reference: str
    points: float = DEFAULT_POINTS
    part: int | None = None
    number: int | None = None


def question_key(label: str, taken: set[str]) -> str:
    """A rubric id for any question id people use: ``1.1`` -> ``q1_1``, ``Q1a`` stays ``Q1a``."""
    key = _KEY.sub("_", label.strip()).strip("_-")[:60] or "q"
    if not key[0].isalpha():
        key = "q" + key
    unique, n = key, 2
    while unique.lower() in {t.lower() for t in taken}:
        unique, n = f"{key}_{n}", n + 1
    taken.add(unique)
    return unique


def read_questions(path: Path) -> list[QuestionRow]:
    """question_id, prompt, reference, and optionally points, part, number: one row per question."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            missing = {"question_id", "prompt", "reference"} - set(reader.fieldnames or [])
            if missing:
                raise DraftError(
                    f"{path}: missing column(s) {', '.join(sorted(missing))}; expected question_id,prompt,reference[,points,part,number]"
                )
            rows = [_row(path, line, row) for line, row in enumerate(reader, start=2)]
    except FileNotFoundError:
        raise DraftError(f"{path}: file not found") from None
    except UnicodeDecodeError as exc:
        raise DraftError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}); save it as CSV UTF-8") from None
    if not rows:
        raise DraftError(f"{path}: no questions")
    seen: dict[str, int] = {}
    for line, row in enumerate(rows, start=2):
        if row.label in seen:
            raise DraftError(f"{path}, line {line}: question_id {row.label!r} already used on line {seen[row.label]}")
        seen[row.label] = line
    return rows


def _row(path: Path, line: int, row: dict) -> QuestionRow:
    label = (row.get("question_id") or "").strip()
    if not label:
        raise DraftError(f"{path}, line {line}: empty question_id")
    if not (row.get("prompt") or "").strip():
        raise DraftError(f"{path}, line {line}: question {label!r} has an empty prompt")
    points = _number(path, line, row, "points", float)
    if points is not None and (points < 0 or points * 2 != int(points * 2)):
        raise DraftError(f"{path}, line {line}: points {points:g} must be a whole or half number of points")
    return QuestionRow(
        label,
        row["prompt"].strip(),
        (row.get("reference") or "").strip(),
        DEFAULT_POINTS if points is None else points,
        _number(path, line, row, "part", int),
        _number(path, line, row, "number", int),
    )


def _number(path: Path, line: int, row: dict, column: str, kind: type):
    value = (row.get(column) or "").strip()
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        raise DraftError(
            f"{path}, line {line}: {column} {value!r} is not a {'whole ' if kind is int else ''}number"
        ) from None


# --------------------------------------------------------------------------- key ideas of a reference


@dataclass
class KeyWord:
    stem: str
    phrase: str  # as the rubric will list it: the word, after its negator when the reference negates it
    clause: str
    clause_index: int


def clauses(reference: str) -> list[str]:
    return [c.strip(" ,-") for c in _CLAUSE.split(reference) if c and c.strip(" ,-") and tokenize(c).words]


def key_words(reference: str, prompt: str, demote_question: bool = True) -> list[KeyWord]:
    """The reference's content words in order, one per stem: no digits, no common words, and no
    words of the question when ``demote_question``."""
    asked = set(tokenize(prompt).stems) if demote_question else set()
    found: dict[str, KeyWord] = {}
    for clause_index, clause in enumerate(clauses(reference)):
        tokens = tokenize(clause)
        for index, stem_ in enumerate(tokens.stems):
            word = clause[tokens.spans[index][0] : tokens.spans[index][1]].lower()
            if stem_ in NEGATORS or stem_ in asked or stem_ in found or any(ch.isdigit() for ch in word):
                continue
            if len(word) < 3 or word in GENERIC_WORDS or not is_key_word(tokens, index):
                continue
            negator = next(
                (tokens.stems[p] for p in range(max(0, index - NEGATION_WINDOW), index) if tokens.stems[p] in NEGATORS),
                None,
            )
            phrase = f"{negator} {word}" if negator else word
            found[stem_] = KeyWord(stem_, phrase, clause, clause_index)
    return list(found.values())


def key_ideas(reference: str, prompt: str) -> tuple[list[KeyWord], bool]:
    """The key words concepts are drafted from, and whether they are the question's own words (the
    reference says nothing else). A vague word alone ("more", "same": lint's "only common words") is
    left out while anything more specific is left. Measured on SciEntsBank train/ (docs/agreement.md)."""
    words, asked = key_words(reference, prompt), False
    if not words and reference:
        words, asked = key_words(reference, prompt, demote_question=False), True
    return [w for w in words if w.phrase.split()[-1] not in VAGUE_WORDS] or words, asked


def _weights(reference: str) -> dict[str, float]:
    """How central each stem is to the reference: the words it repeats carry it. (Weighting by rarity
    across a homework's references was tried: it picked rare words students do not use, and the
    regularization draft's correlation with the reader fell from 0.67 to 0.53.)"""
    return {s: 1 + math.log(n) for s, n in Counter(tokenize(reference).stems).items()}


def _group(words: list[KeyWord], weights: dict[str, float], model: Encoder | None) -> list[list[KeyWord]]:
    """Key words that mean the same ("larger", "bigger") share a concept; the MAX_CONCEPTS most
    salient concepts are kept, in the reference's order. Only near-identical meanings group:
    embeddings put antonyms close too ("larger", "smaller" 0.88)."""
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
    last = max((w.clause_index for w in words), default=0) + 1

    def salience(group: list[int]) -> float:
        """Central words first; long words are specific; earlier clauses break ties."""
        return max(
            weights.get(words[i].stem, 1.0) + 0.5 * (len(words[i].phrase) >= 7) - 0.1 * words[i].clause_index / last
            for i in group
        )

    kept = sorted(sorted(groups, key=salience, reverse=True)[:MAX_CONCEPTS], key=min)
    return [[words[i] for i in g] for g in kept]


def split_points(points: float, parts: int) -> list[float]:
    """Whole or half points, as equal as possible, adding up exactly to ``points``; the first concepts
    take the remainder. Fewer parts than asked when there are not enough half points to go round."""
    halves = round(points * 2)
    parts = min(parts, halves)
    if parts <= 0:
        return []
    base, extra = divmod(halves, parts)
    return [(base + (1 if i < extra else 0)) / 2 for i in range(parts)]


def _hint(group: list[KeyWord], prompt: str, weights: dict[str, float]) -> str:
    """What to explain, without the concept's own words: the most central other words of its clause."""
    own = {w.stem for w in group}
    asked = set(tokenize(prompt).stems)
    around = [w for w in _clause_words(group[0]) if w.stem not in own and w.stem not in asked]
    around = sorted(around, key=lambda w: -weights.get(w.stem, 0.0))[:2]
    if around:
        return f"Explain the point a full answer makes about {_listed([w.phrase for w in around])}."
    return "Explain one more key idea of a full answer: what happens, and why."


def _clause_words(word: KeyWord) -> list[KeyWord]:
    return key_words(word.clause, "", demote_question=False)


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _concept_id(group: list[KeyWord], taken: set[str]) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "_", group[0].phrase).strip("_")[:40] or "concept"
    ident, n = (slug if slug[0].isalpha() else "c_" + slug), 2
    base = ident
    while ident in taken:
        ident, n = f"{base}_{n}", n + 1
    taken.add(ident)
    return ident


# --------------------------------------------------------------------------- the draft


@dataclass
class Draft:
    """The drafted rubric (a mapping ``parse_rubric`` accepts) and, per question id, the choices made."""

    rubric: dict
    notes: dict[str, list[str]] = field(default_factory=dict)
    header: list[str] = field(default_factory=list)

    def to_yaml(self, source: str) -> str:
        """The rubric as YAML, each choice the draft made written as a comment where it applies."""
        lines = [f"# Drafted by `grader rubric draft` from {source}: edit the phrases, points and hints,"]
        lines.append("# then check it with `grader rubric lint` and `grader rubric try`.")
        lines += [f"# {note}" for note in self.header]
        top = {k: v for k, v in self.rubric.items() if k != "questions"}
        lines.append(_dump(top).rstrip())
        lines.append("questions:")
        for question in self.rubric["questions"]:
            lines.append("")
            lines += [f"  # {note}" for note in self.notes.get(question["id"], [])]
            block = _dump([question]).rstrip().splitlines()
            lines += ["  " + line for line in block]
        return "\n".join(lines) + "\n"


def _dump(data) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=100)


def draft_question(
    row: QuestionRow, key: str, model: Encoder | None = None, locate: dict | None = None
) -> tuple[dict, list[str]]:
    """One question's rubric entry, and the choices made for it."""
    notes: list[str] = []
    weights = _weights(row.reference)
    words, asked = key_ideas(row.reference, row.prompt)
    if asked:
        notes.append(
            "The reference only uses the question's own words: its concepts repeat the question; rewrite them."
        )
    concepts = _draft_concepts(row, words, weights, model)
    question: dict = {"id": key}
    if key != row.label:
        question["label"] = row.label
        notes.append(
            f"id {key}: a rubric key made from the question id {row.label!r}, which reports and CSVs show as written."
        )
    question.update({"prompt": row.prompt, "points": row.points})
    reference_words = len(row.reference.split())
    if reference_words:
        question["min_words"] = min(MAX_MIN_WORDS, max(3, round(MIN_WORDS_SHARE * reference_words)))
        notes.append(
            f"min_words {question['min_words']}: {MIN_WORDS_SHARE:.0%} of the reference's {reference_words} words; "
            "a shorter answer earns at most half the points."
        )
    if locate:
        question["locate"] = locate
        notes.append("locate: from the part and number columns, so numbering that restarts in each Part is understood.")
    if row.reference:
        question["reference"] = row.reference
    if not row.reference:
        notes.append("No reference answer: write the concepts by hand.")
    elif concepts:
        notes.extend(_concept_notes(concepts, row.points))
        if model is not None:
            notes.append(
                f"reference_weight {DRAFT_REFERENCE_WEIGHT}: {DRAFT_REFERENCE_WEIGHT:.0%} of the points from similarity to the "
                "reference answer (calibrated on SciEntsBank, docs/agreement.md); the concepts share the rest."
            )
            question["reference_weight"] = DRAFT_REFERENCE_WEIGHT
    question["concepts"] = concepts
    return question, notes


def _draft_concepts(
    row: QuestionRow, words: list[KeyWord], weights: dict[str, float], model: Encoder | None
) -> list[dict]:
    """The question's concepts: its key words grouped (synonyms together when ``model`` is given),
    the points split between the groups."""
    groups = _group(words, weights, model) if row.points > 0 else []
    shares = split_points(row.points, len(groups))
    groups = groups[: len(shares)]
    taken: set[str] = set()
    concepts = []
    for group, share in zip(groups, shares):
        phrases = list(dict.fromkeys(w.phrase for w in group))
        concepts.append(
            {
                "id": _concept_id(group, taken),
                "points": share,
                "any": phrases,
                "hint": _hint(group, row.prompt, weights),
            }
        )
    return concepts


def _concept_notes(concepts: list[dict], points: float) -> list[str]:
    count = len(concepts)
    split = " + ".join(f"{c['points']:g}" for c in concepts)
    notes = [
        f"{count} concept{'s' * (count != 1)}: the reference's most central key words (the words it repeats; "
        f"question words, digits and common words left out), points split {split} = {points:g}."
    ]
    if count < MIN_CONCEPTS:
        notes.append(
            f"The reference has fewer than {MIN_CONCEPTS} key ideas: add concepts by hand if the answer should show more."
        )
    return notes


def locate_fields(rows: list[QuestionRow], row: QuestionRow) -> dict:
    """Where the answer to ``row`` sits in a notebook: its number, and its place in its Part. When the
    numbers run on across Parts (Q5 is the first of Part 2), the place in the Part is counted."""
    if row.number is None:
        return {}
    if row.part is None:
        return {"numbers": [row.number]}
    in_part = [r.number for r in rows if r.part == row.part and r.number is not None]
    runs_on = min(in_part) > 1 and len({r.number for r in rows}) == len(rows)
    if not runs_on:
        return {"part": row.part, "number_in_part": row.number}
    return {"numbers": [row.number], "part": row.part, "number_in_part": row.number - min(in_part) + 1}


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


def draft_rubric(rows: list[QuestionRow], title: str, semantic: bool | None = None) -> Draft:
    """A rubric for ``rows``; ``semantic`` None uses the model when the extra is installed."""
    model = draft_model(semantic)
    taken: set[str] = set()
    questions, notes = [], {}
    for row in rows:
        locate = locate_fields(rows, row)
        question, question_notes = draft_question(row, question_key(row.label, taken), model, locate)
        questions.append(question)
        notes[question["id"]] = question_notes
    rubric: dict = {"title": title}
    header = []
    if model is not None:
        from grader.rubric import SemanticSettings

        defaults = SemanticSettings()
        rubric["semantic"] = {"threshold": defaults.threshold, "reference_ramp": list(defaults.reference_ramp)}
        header.append(
            f"semantic: the defaults; a sentence shows a concept from similarity {defaults.threshold}, the reference share "
            f"rises from {defaults.reference_ramp[0]} to {defaults.reference_ramp[1]}."
        )
    else:
        header.append(
            "Keywords only: the semantic extra is not installed (pip install '.[semantic]'), so no reference share."
        )
    rubric["questions"] = questions
    return Draft(rubric, notes, header)
