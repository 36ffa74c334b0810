"""`grader rubric lint`: what a schema cannot catch, said before students are graded with it."""

from __future__ import annotations

from dataclasses import dataclass

from grader.models import Answer
from grader.rubric import Rubric
from grader.score.concepts import score_answer
from grader.score.text import NEGATORS, is_symbolic, phrase_stems


@dataclass(frozen=True)
class Finding:
    where: str
    message: str


def lint_rubric(rubric: Rubric) -> list[Finding]:
    findings: list[Finding] = []
    for q_index, question in enumerate(rubric.questions):
        where = f"questions[{q_index}] ({question.id})"
        if question.kind == "text":
            findings.extend(_question_findings(where, question))
    return findings


def _question_findings(where: str, question) -> list[Finding]:
    findings = []
    reachable = sum(c.points for c in question.concepts)
    if question.points and reachable < question.points:
        findings.append(Finding(where, f"its concepts add up to {reachable:g} of its {question.points:g} points: full marks are impossible"))
    prompt_stems = set(phrase_stems(question.prompt))
    owners: dict[tuple[str, ...], str] = {}
    for c_index, concept in enumerate(question.concepts):
        here = f"{where}.concepts[{c_index}] ({concept.id})"
        phrases = list(concept.any) + [p for group in concept.all_groups() for p in group]
        for phrase in phrases:
            stems = phrase_stems(phrase)
            if not stems and not is_symbolic(phrase):
                findings.append(Finding(here, f"phrase {phrase!r} has no words and can never match"))
            elif stems and all(s in NEGATORS for s in stems):
                findings.append(Finding(here, f"phrase {phrase!r} is only a negation and can never match"))
            elif stems and set(stems) <= prompt_stems and phrase in concept.any:
                findings.append(Finding(here, f"phrase {phrase!r} only repeats the question's words: restating the question would earn it"))
            if stems in owners and owners[stems] != concept.id:
                findings.append(Finding(here, f"phrase {phrase!r} also belongs to concept {owners[stems]}: one sentence would earn both"))
            owners.setdefault(stems, concept.id)
    if question.reference:
        graded = score_answer(question, Answer(question.id, question.reference, (), 1.0))
        if graded.score < question.points:
            missed = ", ".join(c.id for c in graded.concepts if not c.found)
            findings.append(Finding(where, f"its reference answer scores {graded.score:g}/{question.points:g} under its own concepts (missed: {missed})"))
    return findings
