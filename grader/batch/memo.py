"""What a rescore need not work out again, kept in the gradebook's ``parts`` table as JSON.

Scoring a stored run is mostly reading the notebook (static facts, code, outputs) and placing its
answers; a rubric edit changes neither, nor the grade of a question it did not touch. So each part
of a grade is kept under a key that hashes everything it was worked out from:

- ``evidence``: the notebook's text (sha256) and the scoring code (``code_version.scoring_code``);
- ``internals``: the same (what the code reaches for);
- ``placement``: the same plus the questions' locating fields and the template's prose;
- ``question``: the placement's key plus that question's part of the rubric;
- ``elsewhere`` (an unanswered question's ideas in another question's answer): the same plus the
  questions' ids and names;
- ``checks``: the placement's key plus the run's record (facts, errors, status) and the checks.

A changed input is another key, so a kept part is the one a full scoring would work out
(tests/test_rescore.py compares whole grades). A question scored by meaning (a semantic model)
is always scored again: its result depends on a model outside the key.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from typing import Any, Callable

from pydantic import TypeAdapter

from grader.code_version import scoring_code
from grader.extract.answers import Placement
from grader.extract.evidence import locating_part, place_answers, read_evidence
from grader.gradebook import Gradebook
from grader.models import Answer, CheckGrade, Evidence, Execution, Flag, QuestionGrade
from grader.pipeline import Parts

# What a run's row holds besides the notebook (``stored.dump_execution``): the checks read them.
RUN_FIELDS = ("status", "mode", "message", "seconds", "facts", "cell_errors", "skipped", "sandbox", "tampered")

_EVIDENCE = TypeAdapter(Evidence)
_PLACEMENT = TypeAdapter(Placement)
_FLAGS = TypeAdapter(list[str])
_CHECKS = TypeAdapter(tuple[CheckGrade, ...])


@dataclass(frozen=True)
class _KeptQuestion:
    """A question's grade as kept: its flags apart, each with the concept ids it names (``Flag``)."""

    grade: QuestionGrade
    flags: tuple[tuple[str, tuple[str, ...]], ...]


_QUESTION = TypeAdapter(_KeptQuestion)


def _key(*inputs: str) -> str:
    return hashlib.sha256("\0".join(inputs).encode()).hexdigest()


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


class PartStore:
    """The gradebook's kept parts for one rescore: read on demand, new ones written by ``save``."""

    def __init__(self, book: Gradebook):
        self.book = book
        self.version = scoring_code()
        self.new: dict[str, tuple[str, str]] = {}
        self.reused = 0
        self.worked_out = 0
        self._digests: dict[tuple[str, int], tuple[Any, str]] = {}

    def for_run(self, notebook_text: str, run_payload: dict[str, Any]) -> "KeptParts":
        """The parts of one stored run (its notebook's text and its row's fields)."""
        notebook = hashlib.sha256(notebook_text.encode()).hexdigest()
        run = hashlib.sha256()
        for field in RUN_FIELDS:
            run.update(f"\0{field}\0{run_payload.get(field)!r}".encode())
        return KeptParts(self, notebook, run.hexdigest())

    def digest(self, kind: str, source: Any, describe: Callable[[], Any]) -> str:
        """The hash of ``describe()`` for this rubric object, worked out once per rescore."""
        found = self._digests.get((kind, id(source)))
        if found is None or found[0] is not source:
            found = (source, _digest(describe()))
            self._digests[(kind, id(source))] = found
        return found[1]

    def get(self, kind: str, key: str, adapter: TypeAdapter, work_out: Callable[[], Any]) -> Any:
        kept = self.new[key][1] if key in self.new else self.book.part(key)
        if kept is not None:
            self.reused += 1
            return adapter.validate_json(kept)
        self.worked_out += 1
        value = work_out()
        self.new[key] = (kind, adapter.dump_json(value).decode())
        return value

    def save(self) -> None:
        self.book.add_parts((key, kind, value) for key, (kind, value) in self.new.items())
        self.new.clear()


class KeptParts(Parts):
    """``pipeline.Parts`` for one stored run, each part read from the store when kept there."""

    def __init__(self, store: PartStore, notebook: str, run: str):
        self.store = store
        self.notebook = notebook
        self.run = run
        self.placement = ""  # the placement's key, once ``evidence`` has placed the answers

    def evidence(self, notebook, rubric, template_lines: frozenset[str]) -> Evidence:
        store = self.store
        read = store.get("evidence", _key("evidence", store.version, self.notebook), _EVIDENCE,
                         lambda: read_evidence(notebook))  # fmt: skip
        locating = store.digest(
            "locating",
            rubric,
            lambda: ([locating_part(q) for q in rubric.questions], rubric.title, sorted(template_lines)),
        )
        self.placement = _key("placement", store.version, self.notebook, locating)
        placed = store.get("placement", self.placement, _PLACEMENT,
                           lambda: place_answers(notebook, rubric, template_lines))  # fmt: skip
        return replace(read, answers=placed.answers, unplaced=placed.unplaced)

    def internals(self, code_cells: tuple[tuple[int, str], ...]) -> list[str]:
        key = _key("internals", self.store.version, self.notebook)
        return self.store.get("internals", key, _FLAGS, lambda: super(KeptParts, self).internals(code_cells))

    def question(self, question, answer: Answer | None, semantic) -> QuestionGrade:
        if semantic is not None or not self.placement:
            return super().question(question, answer, semantic)
        part = self.store.digest("question", question, lambda: question.model_dump(mode="json"))
        key = _key("question", self.placement, question.id, part)

        def work_out() -> _KeptQuestion:
            grade = super(KeptParts, self).question(question, answer, semantic)
            flags = tuple((str(flag), tuple(getattr(flag, "concepts", ()))) for flag in grade.flags)
            return _KeptQuestion(replace(grade, flags=()), flags)

        kept = self.store.get("question", key, _QUESTION, work_out)
        return replace(kept.grade, flags=tuple(Flag(text, concepts) for text, concepts in kept.flags))

    def answered_elsewhere(self, question, questions: list, evidence: Evidence) -> list[str]:
        if not self.placement:
            return super().answered_elsewhere(question, questions, evidence)
        part = self.store.digest("question", question, lambda: question.model_dump(mode="json"))
        names = self.store.digest("names", questions, lambda: [[q.id, q.name] for q in questions])
        key = _key("elsewhere", self.placement, question.id, part, names)
        return self.store.get(
            "elsewhere", key, _FLAGS, lambda: super(KeptParts, self).answered_elsewhere(question, questions, evidence)
        )

    def checks(self, checks: list, execution: Execution, evidence: Evidence) -> tuple[CheckGrade, ...]:
        if not self.placement:
            return super().checks(checks, execution, evidence)
        part = _digest([check.model_dump(mode="json") for check in checks])
        key = _key("checks", self.placement, self.run, part)
        return self.store.get(
            "checks", key, _CHECKS, lambda: super(KeptParts, self).checks(checks, execution, evidence)
        )
