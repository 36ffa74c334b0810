"""Common English words that share a stem with a rubric's word but mean something else.

Snowball folds "difference" and "different" to ``differ``, "experiment" and "experience" to
``experi``: a phrase written with one matches the other. The words come from wordfreq (the
``authoring`` extra); without it the check is skipped and lint says so.
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache

from grader.text import stem

VOCABULARY_SIZE = 12_000
COMMON_ZIPF = 4.5  # at least ~30 per million words: likely to turn up in any answer (different, experience, computer)
SAME_FAMILY = 3  # letters past the stem two words share when they are one family (experimental, experimentation)
_INFLECTIONS = ("'s", "es", "s", "ed", "d", "ing", "ly")


def available() -> bool:
    return importlib.util.find_spec("wordfreq") is not None


@lru_cache(maxsize=1)
def _vocabulary() -> tuple[str, ...]:
    import wordfreq

    return tuple(
        w
        for w in wordfreq.top_n_list("en", VOCABULARY_SIZE)
        if w.isalpha() and len(w) > 2 and wordfreq.zipf_frequency(w, "en") >= COMMON_ZIPF
    )


def _base(word: str) -> str:
    if word.endswith(("ies", "ied")):
        return word[:-3] + "y"
    for suffix in _INFLECTIONS:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            word = word[: -len(suffix)]
            break
    if len(word) > 3 and word[-1] == word[-2]:  # stopped -> stop, fitted -> fit
        word = word[:-1]
    return word.removesuffix("e")


@lru_cache(maxsize=4096)
def is_common(word: str) -> bool:
    """A word any answer may use in passing ("loss", "points", "whole"): as frequent in English as
    ``COMMON_ZIPF``."""
    import wordfreq

    return wordfreq.zipf_frequency(word.lower(), "en") >= COMMON_ZIPF


def colliding_words(word: str) -> list[str]:
    """Common words with ``word``'s stem that are neither its inflections nor built on it."""
    word = word.lower()
    own_stem, own_base = stem(word), _base(word)
    prefix = own_stem[:4]
    found = []
    for other in _vocabulary():
        if not other.startswith(prefix) or other == word or stem(other) != own_stem:
            continue
        other_base = _base(other)
        if (
            other.startswith(own_base)
            or word.startswith(other_base)
            or _shared(word, other) >= len(own_stem) + SAME_FAMILY
        ):
            continue
        found.append(other)
    return found


def _shared(a: str, b: str) -> int:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return n
