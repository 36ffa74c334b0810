"""Turning free text into stemmed tokens that keep their place in the original.

Matching works on Snowball stems so that every form of a word counts (overfit, overfitting,
overfits), and keeps character spans so the report can quote the student's own words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import snowballstemmer

_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)?")
_SENTENCE_END = re.compile(r"[.;!?:]\s|\n\s*\n|\n\s*[-*+]\s|\n\s*\d+[.)]\s|\n#")
_CLAUSE_END = re.compile(r"[,;:()\[\]]|\s[-–—]\s")  # within a sentence: where one claim ends and the next begins
CONTRASTS = frozenset({"but", "whereas", "while", "although", "though", "however", "yet"})
_STEMMER = snowballstemmer.stemmer("english")

NEGATORS = frozenset({"not", "no", "never", "neither", "nor", "cannot", "hardly", "barely"})


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    word = word.lower()
    if word.endswith("n't"):
        return "not"
    return _STEMMER.stemWord(word.removesuffix("'s"))


@dataclass(frozen=True)
class Tokens:
    """The words of a text with their stems, character spans, sentence and clause numbers."""

    text: str
    stems: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]
    sentences: tuple[int, ...]
    clauses: tuple[int, ...] = ()  # a clause ends at a sentence end, , ; : ( ) a dash, or before "but", "while"...

    def quote(self, first: int, last: int) -> str:
        return self.text[self.spans[first][0] : self.spans[last][1]]

    @property
    def words(self) -> int:
        return len(self.stems)


def tokenize(text: str) -> Tokens:
    boundaries = [m.start() for m in _SENTENCE_END.finditer(text)]
    stems: list[str] = []
    spans: list[tuple[int, int]] = []
    sentences: list[int] = []
    sentence = 0
    next_boundary = 0
    for match in _WORD.finditer(text):
        while next_boundary < len(boundaries) and boundaries[next_boundary] < match.start():
            sentence += 1
            next_boundary += 1
        word = match.group()
        if word.lower() == "cannot":
            stems.extend(("can", "not"))
            spans.extend((match.span(), match.span()))
            sentences.extend((sentence, sentence))
            continue
        stems.append(stem(word))
        spans.append(match.span())
        sentences.append(sentence)
    return Tokens(text, tuple(stems), tuple(spans), tuple(sentences), _clause_numbers(text, spans, sentences))


def _clause_numbers(text: str, spans: list[tuple[int, int]], sentences: list[int]) -> tuple[int, ...]:
    clauses: list[int] = []
    clause = 0
    for index, (start, _) in enumerate(spans):
        if index:
            between = text[spans[index - 1][1] : start]
            word = text[start : spans[index][1]].lower()
            if sentences[index] != sentences[index - 1] or _CLAUSE_END.search(between) or word in CONTRASTS:
                clause += 1
        clauses.append(clause)
    return tuple(clauses)


def phrase_stems(phrase: str) -> tuple[str, ...]:
    return tuple(stem(word) for word in _WORD.findall(phrase))


def is_symbolic(phrase: str) -> bool:
    """Phrases like ``|w|`` or ``w^2`` lose their meaning as words; they match as written."""
    letters_and_spaces = re.sub(r"[A-Za-z0-9\s\-'/]", "", phrase)
    return bool(letters_and_spaces)


def squash(text: str) -> str:
    return re.sub(r"\s+", "", text.lower())
