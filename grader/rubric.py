"""The rubric file: typed, validated on load, with error messages that name the bad field.

Instructors write rubrics in YAML; a mistake must come back as
``rubrics/x.yaml: questions[2].concepts[1].points: must be > 0``, not a traceback.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator, model_validator

from grader.check_specs import CHECK_KINDS, Check, check_references_are_earlier
from grader.files import read_yaml
from grader.schema import Identifier, Phrase, Strict

REFERENCE_CONCEPT = "similar_to_reference"  # the grade's line for a question's reference_weight share


class RubricError(ValueError):
    """A rubric that cannot be used, with every problem spelled out for a person."""


class Concept(Strict):
    """One idea an answer should show, and the phrases that show it."""

    id: Identifier
    points: float = Field(gt=0)
    any: list[Phrase] = []
    all: list[Phrase | list[Phrase]] = []
    regex: list[Phrase] = []
    hint: str = ""
    hidden: bool = False
    any_polarity: bool = False  # the concept names what to avoid: "does not memorize" shows it too
    # The relation, not only the words: every `all` entry in one clause, and phrases whose presence in
    # a match's sentence cancels it ("noise" next to "fitting the noise of the data").
    same_clause: bool = False
    not_with: list[Phrase] = []
    # Semantic matching (optional extra): sentences that show the concept in other words, and the
    # similarity a sentence of the answer needs to show it (default: the rubric's semantic.threshold).
    examples: list[Annotated[str, Field(min_length=1, max_length=500)]] = []
    threshold: float | None = Field(default=None, gt=0, le=1)

    @model_validator(mode="after")
    def _needs_a_way_to_match(self) -> "Concept":
        if not (self.any or self.all or self.regex or self.examples or self.hidden):
            raise ValueError("a concept needs at least one of any, all, regex or examples")
        return self

    @property
    def published(self) -> bool:
        """A hidden concept in a student-safe rubric: its phrases were removed."""
        return self.hidden and not (self.any or self.all or self.regex or self.examples)

    @field_validator("regex")
    @classmethod
    def _regex_compiles(cls, patterns: list[str]) -> list[str]:
        for pattern in patterns:
            _compile(pattern)
        return patterns

    def all_groups(self) -> list[list[str]]:
        """Each `all` entry as a list of alternatives."""
        return [[entry] if isinstance(entry, str) else list(entry) for entry in self.all]


class Locate(Strict):
    """Extra cues for finding a question's answer in a notebook."""

    numbers: list[int] = []
    part: int | None = None
    number_in_part: int | None = None
    keywords: list[Phrase] = []


class Question(Strict):
    """A question: free text scored by concepts, or a quiz item (choice, numeric, short)."""

    id: Identifier
    label: str = Field(default="", max_length=64)  # the id people see ("1.1", "Q1a") when `id` had to be made safe
    prompt: str = Field(min_length=1)
    points: float = Field(ge=0)
    kind: Literal["text", "choice", "numeric", "short"] = "text"
    min_words: int = Field(default=0, ge=0)
    locate: Locate = Locate()
    reference: str = ""
    reference_weight: float = Field(default=0.0, ge=0, le=1)  # share of the points from similarity to `reference`
    concepts: list[Concept] = []
    options: list[Annotated[str, Field(min_length=1, max_length=40)]] = []
    answer: list[str] = []
    value: float | None = None
    tolerance: float = Field(default=0.0, ge=0)
    accept: list[Phrase] = []
    accept_regex: list[Phrase] = []
    discusses: list[Identifier] = []  # checks whose results the answer discusses (none passed: flagged)

    @property
    def name(self) -> str:
        """The question as people call it: its label, else its id in capitals ("Q1")."""
        return self.label or self.id.upper()

    @model_validator(mode="after")
    def _fits_its_kind(self) -> "Question":
        for index, concept in enumerate(self.concepts):
            if concept.points > self.points:
                raise ValueError(
                    f"concepts[{index}] ({concept.id}) is worth {concept.points} points, "
                    f"more than the question's {self.points}"
                )
        if self.kind != "text" and self.concepts:
            raise ValueError(f"a {self.kind} question is scored by its answer, not by concepts")
        if self.kind != "text" and self.reference_weight:
            raise ValueError(f"reference_weight: a {self.kind} question is scored by its answer, not by similarity")
        if self.reference_weight and any(c.id == REFERENCE_CONCEPT for c in self.concepts):
            raise ValueError(f"concept id {REFERENCE_CONCEPT!r} is reserved for the similarity to the reference answer")
        if self.kind == "choice":
            if not self.options or not self.answer:
                raise ValueError("a choice question needs options and answer (the correct options)")
            unknown = [a for a in self.answer if a not in self.options]
            if unknown:
                raise ValueError(f"answer {unknown} not among options {self.options}")
        if self.kind == "numeric" and self.value is None:
            raise ValueError("a numeric question needs value (and usually tolerance)")
        if self.kind == "short" and not (self.accept or self.accept_regex):
            raise ValueError("a short question needs accept or accept_regex")
        for pattern in self.accept_regex:
            _compile(pattern)
        return self


def _compile(pattern: str) -> None:
    import re

    try:
        re.compile(pattern)
    except re.error as exc:
        raise ValueError(f"regex {pattern!r} does not compile: {exc}") from None


class SemanticSettings(Strict):
    """How sentences are matched by meaning (optional extra; see docs/rubric.md, "Semantic matching").

    A concept is shown by a sentence whose similarity to one of its phrases or examples reaches
    ``threshold``; a question's ``reference_weight`` share earns nothing below ``reference_ramp[0]``
    and all of it from ``reference_ramp[1]``, linearly in between.
    """

    enabled: bool = True
    threshold: float = Field(default=0.75, gt=0, le=1)  # semantic-only matches precise from here (docs/agreement.md)
    reference_ramp: tuple[float, float] = (0.45, 0.6)  # calibrated on SciEntsBank train/ (docs/agreement.md)

    @field_validator("reference_ramp")
    @classmethod
    def _ramp_rises(cls, ramp: tuple[float, float]) -> tuple[float, float]:
        low, high = ramp
        if not 0 <= low < high <= 1:
            raise ValueError(f"must be [low, high] with 0 <= low < high <= 1, got [{low}, {high}]")
        return ramp


class Rubric(Strict):
    title: str = Field(min_length=1)
    total: float | None = Field(default=None, gt=0)
    semantic: SemanticSettings | None = None
    questions: list[Question] = Field(min_length=1)
    checks: list[Check] = []

    @property
    def wants_semantic(self) -> bool:
        """Semantic matching is asked for by a `semantic:` block (unless disabled), or by a reference_weight."""
        if self.semantic is not None:
            return self.semantic.enabled
        return any(q.reference_weight > 0 for q in self.questions)

    @model_validator(mode="after")
    def _ids_unique_and_total_adds_up(self) -> "Rubric":
        _require_unique([q.id for q in self.questions], "questions")
        _require_unique([c.id for c in self.checks], "checks")
        check_references_are_earlier(self.checks)
        checks = {c.id for c in self.checks}
        for index, question in enumerate(self.questions):
            _require_unique([c.id for c in question.concepts], f"questions[{index}].concepts")
            for name in question.discusses:
                if name not in checks:
                    raise ValueError(f"questions[{index}].discusses: {name!r} names no check")
        if self.total is not None and abs(self.total - self.max_score) > 1e-9:
            raise ValueError(f"total is {self.total} but the questions and checks add up to {self.max_score}")
        return self

    @property
    def max_score(self) -> float:
        return sum(q.points for q in self.questions) + sum(c.points for c in self.checks)

    def question(self, question_id: str) -> Question:
        """By id, or by the label people see ("1.1")."""
        return next(q for q in self.questions if q.id == question_id or (q.label and q.label == question_id))

    def fingerprint(self) -> str:
        """Stable hash of the rubric's content: a changed rubric means grades need re-scoring."""
        content = self.model_dump(mode="json")
        for check, dumped in zip(
            self.checks, content["checks"]
        ):  # params as written: defaults added later change nothing
            dumped["params"] = check.params.model_dump(mode="json", exclude_unset=True)
        for question in content["questions"]:  # a field added later, left empty, changes nothing
            if not question["discusses"]:
                del question["discusses"]
        canonical = json.dumps(content, sort_keys=True)
        return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _require_unique(ids: list[str], where: str) -> None:
    seen: set[str] = set()
    for index, ident in enumerate(ids):
        if ident in seen:
            raise ValueError(f"{where}[{index}].id: duplicate id {ident!r}")
        seen.add(ident)


def format_validation_error(source: str, error: ValidationError) -> str:
    lines = [f"{source}: the rubric is not valid:"]
    for problem in error.errors():
        path = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}"
            for part in problem["loc"]
            if part
            not in CHECK_KINDS  # the union's tag: the path is checks[2].params..., not checks[2].python.params...
        ).lstrip(".")
        message = problem["msg"].removeprefix("Value error, ")
        if problem["type"] == "union_tag_invalid":
            path, message = (
                f"{path}.kind",
                f"unknown check kind {problem['ctx']['tag']!r}; one of {', '.join(CHECK_KINDS)}",
            )
        elif problem["type"] == "union_tag_not_found":
            path, message = f"{path}.kind", f"missing; one of {', '.join(CHECK_KINDS)}"
        elif problem["type"] == "greater_than":
            message = f"must be > {problem['ctx']['gt']}"
        elif problem["type"] == "extra_forbidden":
            message = "unknown field (check the spelling; see docs/rubric.md)"
        if not path and not message.startswith("checks["):  # a check's own message names its place
            path = "(top level)"
        lines.append(f"  {path}: {message}" if path else f"  {message}")
    return "\n".join(lines)


def parse_rubric(data: Any, source: str = "<rubric>") -> Rubric:
    if not isinstance(data, dict):
        raise RubricError(f"{source}: expected a mapping with title, questions and checks at the top level")
    try:
        return Rubric.model_validate(data)
    except ValidationError as exc:
        raise RubricError(format_validation_error(source, exc)) from None


def load_rubric(path: Path) -> Rubric:
    rubric = parse_rubric(read_yaml(path, RubricError, missing="rubric file not found"), str(path))
    return rubric.model_copy(
        update={"checks": [_resolve_python_check(path, i, c) for i, c in enumerate(rubric.checks)]}
    )


def _resolve_python_check(rubric_path: Path, index: int, check: Check) -> Check:
    """``function: checks.py:name`` is read relative to the rubric file; the file must exist."""
    if check.kind != "python":
        return check
    target = check.params.function
    file, sep, name = target.rpartition(":")
    if not sep or not file or not name.isidentifier():
        raise RubricError(f"{rubric_path}: checks[{index}].params.function: expected FILE.py:FUNCTION, got {target!r}")
    location = (rubric_path.parent / file).resolve()
    if not location.is_file():
        raise RubricError(f"{rubric_path}: checks[{index}].params.function: {location} not found")
    return check.model_copy(update={"params": check.params.model_copy(update={"function": f"{location}:{name}"})})


def publish(rubric: Rubric) -> Rubric:
    """The student-safe rubric: hidden concepts keep id, points and hint but lose every phrase,
    and reference answers are removed. Quiz keys stay: a quiz item that must stay secret is
    better left out of the published rubric altogether."""
    secret = {p.lower() for q in rubric.questions for c in q.concepts if c.hidden for p in c.any}
    questions = []
    for question in rubric.questions:
        concepts = [
            c.model_copy(update={"any": [], "all": [], "regex": [], "examples": [], "not_with": []}) if c.hidden else c
            for c in question.concepts
        ]
        locate = question.locate.model_copy(
            update={"keywords": [k for k in question.locate.keywords if k.lower() not in secret]}
        )
        questions.append(question.model_copy(update={"concepts": concepts, "reference": "", "locate": locate}))
    return rubric.model_copy(update={"questions": questions})
