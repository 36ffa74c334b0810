"""`grader rubric draft`: a first rubric from reference answers, for an instructor to edit.

Each sentence of the reference answer that says something the question does not becomes a
concept; its phrases are the sentence's distinctive words and word pairs (question words and
common words removed), so a student who makes the same point in the same terms earns it.
"""

from __future__ import annotations

import csv
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from grader.score.text import stem

MAX_CONCEPTS = 5
PHRASES_PER_CONCEPT = 6
_SENTENCE = re.compile(r"(?<=[.!?;])\s+|\n+")
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9'-]*")
COMMON = frozenset(
    """a about above after again against all also am an and any are as at be because been before being below
    between both but by can could did do does doing down during each either else etc even ever every few for
    from further get gets getting given gives had has have having he her here hers him his how however i if in
    into is it its itself just less like made make makes making many may me might more most much must my no
    nor not now of off often on once one only or other others our out over own per rather same she should so
    some such than that the their theirs them then there these they this those through thus to too under
    until up upon us use used uses using very was we were what when where whether which while who whom why
    will with within without would yes you your also way ways thing things something called means mean kind
    example instance important different various several certain new well good better best""".split()
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


def _words(text: str) -> list[str]:
    return [w.lower().strip("'-") for w in _WORD.findall(text)]


def key_phrases(sentence: str, question_stems: set[str], document_counts: Counter) -> list[str]:
    """Distinctive words and adjacent word pairs of one sentence, best first."""
    words = _words(sentence)
    content = [w for w in words if w not in COMMON and stem(w) not in question_stems and len(w) > 2]
    scored: dict[str, float] = {}
    for word in content:
        scored[word] = max(scored.get(word, 0), len(word) / (1 + document_counts[stem(word)]))
    for first, second in zip(words, words[1:]):
        if first in COMMON or second in COMMON:
            continue
        if stem(first) in question_stems and stem(second) in question_stems:
            continue
        pair = f"{first} {second}"
        scored[pair] = max(scored.get(pair, 0), 1.5 * (len(first) + len(second)) / (2 + document_counts[stem(first)]))
    return [p for p, _ in sorted(scored.items(), key=lambda item: -item[1])]


def draft_question(row: QuestionRow) -> dict:
    question_stems = {stem(w) for w in _words(row.prompt)}
    sentences = [s.strip() for s in _SENTENCE.split(row.reference) if len(_words(s)) >= 3]
    counts = Counter(stem(w) for s in sentences for w in set(_words(s)))
    concepts = []
    for sentence in sentences:
        phrases = key_phrases(sentence, question_stems, counts)[:PHRASES_PER_CONCEPT]
        if phrases:
            concepts.append((sentence, phrases))
    concepts = concepts[:MAX_CONCEPTS]
    shares = _split_points(row.points, len(concepts))
    return {
        "id": row.id,
        "prompt": row.prompt,
        "points": row.points,
        "reference": row.reference,
        "concepts": [
            {
                "id": f"{row.id}_c{n}",
                "points": share,
                "any": phrases,
                "hint": "The reference answer makes this point: " + _masked(sentence, phrases),
            }
            for n, ((sentence, phrases), share) in enumerate(zip(concepts, shares), start=1)
        ],
    }


def _split_points(points: float, parts: int) -> list[float]:
    if parts == 0:
        return []
    share = round(points / parts * 2) / 2 or points / parts
    shares = [share] * (parts - 1)
    return shares + [round(points - sum(shares), 2)]


def _masked(sentence: str, phrases: list[str]) -> str:
    masked = sentence
    for phrase in sorted(phrases, key=len, reverse=True):
        masked = re.sub(re.escape(phrase), "…", masked, flags=re.IGNORECASE)
    return masked if len(masked) <= 160 else masked[:157] + "..."


def draft_rubric(rows: list[QuestionRow], title: str) -> dict:
    questions = [draft_question(row) for row in rows]
    return {"title": title, "questions": questions}
