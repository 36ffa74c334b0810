"""How the grader words things for people: names from ids, counts with their nouns, hints joined.

One place, so the terminal, the reports and every export say it the same way.
"""

from __future__ import annotations

from typing import Iterable


def humanize(identifier: str) -> str:
    """``bias_is_underfitting`` -> ``Bias is underfitting``."""
    words = identifier.replace("_", " ").replace("-", " ").strip()
    return words[:1].upper() + words[1:]


def count(number: float, noun: str, plural: str | None = None) -> str:
    """``1 submission``, ``2 submissions``, ``0.5 points``."""
    return f"{number:g} {noun if number == 1 else plural or noun + 's'}"


def sentences(parts: Iterable[str]) -> str:
    """Hints and reasons as one text: each ends with its own stop, never ".;"."""
    cleaned = [part.strip() for part in parts if part and part.strip()]
    return " ".join(part if part[-1] in ".!?" else part + "." for part in cleaned)


def named(line: str, identifiers: Iterable[str]) -> str:
    """A line that starts with a rubric id ("dropout_model: ...") starts with its name instead."""
    head, sep, rest = line.partition(": ")
    return f"{humanize(head)}{sep}{rest}" if sep and head in set(identifiers) else line
