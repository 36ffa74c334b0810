"""The records that flow between the pipeline's stages.

ingest -> Submission -> execute -> Execution -> extract -> Evidence -> score -> Grade
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from grader.facts import Facts

ExecutionStatus = Literal["ok", "timeout", "kernel_died", "error", "not_run"]


@dataclass(frozen=True)
class StaticModel:
    """A model the code defines, read from its syntax (``extract/static.py``)."""

    variable: str
    cell: int
    layers: tuple[str, ...]
    rates: tuple[float | None, ...]


@dataclass(frozen=True)
class StaticCall:
    method: str  # fit, evaluate or predict (a PyTorch training loop is a fit, an eval loop an evaluate), or
    # validate: a Keras fit given validation_data, which evaluates on it after every epoch (``argument``: its inputs)
    variable: str
    cell: int
    output_shows_training: bool = False
    argument: str = ""  # the data it was given, as written (``x_test``, ``test_loader``)
    cell_type: str = "code"  # raw or markdown: written, but never run


@dataclass(frozen=True)
class StaticFacts:
    models: tuple[StaticModel, ...] = ()
    calls: tuple[StaticCall, ...] = ()

    def calls_on(self, variable: str, method: str) -> list[StaticCall]:
        return [c for c in self.calls if c.variable == variable and c.method == method]


@dataclass(frozen=True)
class Student:
    """Who handed a notebook in, as far as file names and the roster tell."""

    id: str
    name: str = ""
    email: str = ""
    lms_user_id: str = ""
    sis_id: str = ""
    login_id: str = ""
    section: str = ""


@dataclass(frozen=True)
class Submission:
    """One student's notebook as received; ``notebook`` is None when it could not be read."""

    student: str
    source: str
    sha256: str
    notebook: Any | None
    error: str | None = None
    identity: Student | None = None
    late: bool = False
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class CellError:
    cell: int
    ename: str
    evalue: str
    line: str = ""


@dataclass(frozen=True)
class SkippedLine:
    cell: int
    line: str
    reason: str


@dataclass(frozen=True)
class Execution:
    """What happened when the notebook ran (or why it did not)."""

    notebook: Any
    facts: Facts
    status: ExecutionStatus
    mode: Literal["full", "fast", "no-run"] = "full"
    seconds: float = 0.0
    cell_errors: tuple[CellError, ...] = ()
    skipped: tuple[SkippedLine, ...] = ()
    message: str | None = None
    cached: bool = False
    sandbox: str | None = None  # what contained the kernel (sandbox.Enforcement.describe), for the report header
    tampered: bool = False  # the grader's recorders in the kernel were tampered with: its facts were discarded

    @classmethod
    def not_run(cls, notebook: Any, message: str | None = None) -> "Execution":
        """A notebook graded as it was saved (``--no-run``, or a question that needs no kernel)."""
        return cls(notebook=notebook, facts=Facts(), status="not_run", mode="no-run", message=message)


@dataclass(frozen=True)
class Answer:
    """The text a student wrote for one question and where it came from."""

    question_id: str
    text: str
    cells: tuple[int, ...] = ()
    confidence: float = 0.0
    how: str = ""
    other_question: str = ""


@dataclass(frozen=True)
class Unplaced:
    """Prose the alignment gave to no question: what a question without an answer may have missed."""

    cell: int
    text: str


@dataclass(frozen=True)
class Evidence:
    answers: dict[str, Answer]
    unplaced: tuple[Unplaced, ...] = ()
    outputs: tuple[tuple[int, str], ...] = ()
    images: tuple[int, ...] = ()
    code_cells: tuple[tuple[int, str], ...] = ()
    saved_outputs: tuple[tuple[int, str], ...] = ()  # what the submitted notebook showed before our run cleared it
    static: StaticFacts = field(default_factory=StaticFacts)


@dataclass(frozen=True)
class ConceptResult:
    id: str
    points: float
    found: bool
    evidence: str = ""
    hint: str = ""
    hidden: bool = False
    negated: bool = False
    pending: bool = False
    similarity: float | None = None  # set when a sentence was matched by meaning: its cosine similarity
    redacted: bool = False  # hidden from this audience: only its name and points, when found (grader.redact)


class Flag(str):
    """A flag's words, and the ids of the concepts it names: data, so that hiding a concept never
    has to search the words (``grader.redact``). Everywhere else it is the string it reads."""

    concepts: tuple[str, ...]

    def __new__(cls, text: str, concepts: tuple[str, ...] = ()) -> "Flag":
        flag = super().__new__(cls, text)
        flag.concepts = tuple(concepts)
        return flag

    def __reduce__(self):
        return (Flag, (str(self), self.concepts))


@dataclass(frozen=True)
class QuestionGrade:
    id: str
    score: float
    max_score: float
    concepts: tuple[ConceptResult, ...]
    answer: Answer | None
    flags: tuple[str, ...] = ()
    feedback: str = ""
    label: str = ""  # the id people see ("1.1") when ``id`` is a safe key made from it (``q1_1``)

    @property
    def name(self) -> str:
        """The question as people call it: its label, else its id in capitals ("Q1")."""
        return self.label or self.id.upper()


@dataclass(frozen=True)
class CheckGrade:
    id: str
    passed: bool
    score: float
    max_score: float
    evidence: tuple[str, ...]
    description: str = ""
    hint: str = ""
    source: Literal["runtime", "static", "none"] = "runtime"


@dataclass(frozen=True)
class Grade:
    submission: Submission
    status: Literal["graded", "error"]
    error: str | None
    score: float
    max_score: float
    questions: tuple[QuestionGrade, ...] = ()
    checks: tuple[CheckGrade, ...] = ()
    execution: Execution | None = None
    flags: tuple[str, ...] = field(default_factory=tuple)
    report_path: Path | None = None
