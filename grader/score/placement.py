"""No silent zero: when answers may have been missed, say so, and quote what was missed.

A question the grader found no answer for (or placed with little confidence) is a zero only if
the student really wrote nothing for it. When prose in the notebook went to no question, or a
third of the questions are empty while much prose went nowhere, or the notebook is the template
as handed out, a person should look before the grade stands.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from grader.execute.shell import SKIP_MARK
from grader.extract.answers import LOW_CONFIDENCE
from grader.extract.cells import code_lines, prose_lines
from grader.extract.questions import QuestionIndex
from grader.models import Answer, Evidence, Unplaced
from grader.rubric import Question
from grader.score.concepts import AnswerIndex, match_concept
from grader.text import tokenize

EMPTY_SHARE = 1 / 3
NOTEBOOK_UNPLACED_WORDS = 150
SHARED_MIN_CONCEPTS = 2  # and at least two thirds of the question's concepts
QUOTE_CHARS = 90
ABOUT_SHARE = 0.6  # of a passage's best question: how much it must be about this one to count as its answer


def question_flags(answer: Answer | None, unplaced: tuple[Unplaced, ...]) -> list[str]:
    """A question without an answer, or with a doubtful one, in a notebook with prose placed nowhere."""
    if not unplaced:
        return []
    if answer is not None and answer.text and answer.confidence >= LOW_CONFIDENCE:
        return []
    first = unplaced[0]
    what = "no answer was found" if answer is None or not answer.text else "the answer was located with low confidence"
    more = f" (and {len(unplaced) - 1} more passages)" if len(unplaced) > 1 else ""
    return [f"needs review: {what}, while prose in cell {first.cell} went to no question{more}: “{_quote(first.text)}”"]


def shared_answer_flags(
    question: Question, answer: Answer | None, questions: list[Question], answers: Mapping[str, Answer]
) -> list[str]:
    """A question whose answer is missing, or shows none of its concepts, while its ideas stand in the answer
    placed under another question: one cell for a whole Part, or a Part's prompts listed together and
    answered below them, went to one question (and the next question took a cell of another Part).

    Only the passages of that answer that are about this question about as much as about any other count: ideas
    every answer voices ("overfitting", "better generalization") in an answer about something else are not
    this question's answer."""
    concepts = [c for c in question.concepts if not c.published]
    if not concepts or (answer is not None and answer.text and _shown(concepts, answer.text)):
        return []
    needed = max(SHARED_MIN_CONCEPTS, -(-2 * len(concepts) // 3))
    known = QuestionIndex(list(questions))
    for other in questions:
        placed = answers.get(other.id)
        if other.id == question.id or placed is None or not placed.text:
            continue
        shown = _shown(concepts, _passages_about(known, question, placed.text))
        if len(shown) >= needed:
            what = (
                f"the answer found (cell{_plural(answer.cells)} {_cells(answer.cells)}) shows none of its points"
                if answer is not None and answer.text
                else "no answer was found"
            )
            return [
                f"needs review: {what}, but the answer placed under {other.name} (cell{_plural(placed.cells)} "
                f"{_cells(placed.cells)}) makes this question's points ({', '.join(shown)}): it may answer both"
            ]
    return []


def _passages_about(known: QuestionIndex, question: Question, text: str) -> str:
    """The passages (lines) of another question's answer that are about this question nearly as much as about
    any: close questions (what batch normalization is, how it works) share their passages."""
    mine = known.questions.index(question)
    lines = text.splitlines()
    about = [known.about(line) for line in lines]
    return "\n".join(line for line, shares in zip(lines, about) if 0 < shares[mine] >= ABOUT_SHARE * shares.max())


def _shown(concepts, text: str) -> list[str]:
    index = AnswerIndex(tokenize(text))
    return [c.id for c in concepts if match_concept(index, c).found]


def _plural(cells) -> str:
    return "s" * (len(cells) > 1)


def _cells(cells) -> str:
    return ", ".join(str(c) for c in cells)


def notebook_flags(answers: Iterable[Answer | None], unplaced: tuple[Unplaced, ...], questions: int) -> list[str]:
    """Many empty questions beside much prose that went nowhere: the layout was probably not understood."""
    empty = sum(1 for answer in answers if answer is None or not answer.text)
    words = sum(len(passage.text.split()) for passage in unplaced)
    if questions and empty >= EMPTY_SHARE * questions and words >= NOTEBOOK_UNPLACED_WORDS:
        return [
            f"needs review: {empty} of {questions} questions have no answer while {words} words of prose "
            f"went to no question; the answers may be laid out in a way the grader did not follow"
        ]
    return []


def unchanged_template(
    notebook, template_lines: frozenset[str], template_code: frozenset[str], evidence: Evidence
) -> bool:
    """The notebook as handed out: the template's prose, and no answer, prose or code of the student's own.

    Read from the notebook as it ran (a rescore has no other), so lines the runner neutralised
    (``pass  # skipped by grader``) do not count as the student's.
    """
    if evidence.answers or evidence.unplaced or not template_lines:
        return False
    own_code = {line for line in code_lines(notebook) - template_code if SKIP_MARK not in line}
    prose = prose_lines(notebook)
    return not own_code and bool(prose) and prose <= template_lines


UNCHANGED_TEMPLATE = "needs review: unchanged template: nothing was written beyond the handed-out notebook (was the wrong file handed in?)"


def _quote(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= QUOTE_CHARS else flat[: QUOTE_CHARS - 1].rstrip() + "…"
