"""Which text answers which question, in whatever layout the student chose.

The prose is split into blocks (blocks.py); every (block, question) pair is scored from what the
block's first line claims (a number, a copy of the question, a topic heading) and from what the
block is about (the question's distinctive words); then the assignment of blocks to questions
that maximises the total, with answers following the questions' order, is chosen by dynamic
programming (alignment.py). Markers make the alignment near certain; where there are none,
content and order decide. Each answer's confidence comes from the margin between the best
alignment and the best one that places its text elsewhere. Prose placed under no question is
kept, so that a question left without an answer can say what text it may have missed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from grader.extract.alignment import SKIP, align
from grader.extract.blocks import KEYWORD, LIST_ITEM, LIST_START, Block, read_blocks
from grader.extract.cells import CellText
from grader.extract.questions import QuestionIndex
from grader.models import Answer, Unplaced
from grader.rubric import Question

CONTENT = 1.5  # weight of what a block is about, against the markers' strengths
CONTENT_FLOOR = 20
OPENING = 2.0  # a paragraph whose first words restate a question's
OPENING_MIN_WORDS = 15  # words: short blocks say less about their topic
SUBJECT = 1.5  # a first sentence whose subject names a question ("The bias-variance tradeoff is ..."), in proportion
# to how few questions the notebook marks, like a topic heading but weaker
RIVAL_CLAIM = 0.5  # a block that names another question counts against this one
SCOPE = 0.75
NOWHERE = -0.1  # prose after an answer belongs to it unless something says otherwise
SCOPE_SKIP = 2.0
PART_AHEAD = 2.0  # text before a Part's label ("Part 3: Applying Optimizers") is unlikely to answer that Part
OUTSIDE_SCOPE = 2.0  # after a question list, text is unlikely to belong to a question not on it  # leaving a listed question unanswered while answering the list  # a Part's question list makes the answers after it likely to be those questions
CONFIDENCE_SCALE = 2.0  # margin at which confidence is 1 - 0.5/e
LOW_CONFIDENCE = 0.6  # below it, where an answer was found is for a person to confirm
UNPLACED_MIN_WORDS = 8  # shorter prose that went nowhere (a label, a name) is not worth a flag


@dataclass(frozen=True)
class Placement:
    answers: dict[str, Answer]
    unplaced: tuple[Unplaced, ...]


def locate_answers(
    cells: list[CellText], questions: list[Question], template_lines: frozenset[str] = frozenset(), title: str = ""
) -> Placement:
    known = QuestionIndex(questions, title)
    read, labelled = read_blocks(cells, known, template_lines)
    blocks = _with_heads_carried(read)
    if not blocks:
        return Placement({}, ())
    scores, marked, closed, skips = _scored(blocks, known)
    scores[:, 1:] -= PART_AHEAD * _before_their_part(blocks, known, labelled)
    alignment = align(scores, marked, closed, skips, _continuing(blocks))
    answers = {}
    for index, question in enumerate(questions):
        mine = [
            (block, margin)
            for (block, _), label, margin in zip(blocks, alignment.labels, alignment.margins)
            if label == index
        ]
        answer = _answer(question, [b for b, _ in mine], max((m for _, m in mine), default=0.0))
        if answer.text:
            answers[question.id] = answer
    unplaced = tuple(
        Unplaced(block.cell, block.text)
        for (block, _), label in zip(blocks, alignment.labels)
        if label < 0 and len(block.text.split()) >= UNPLACED_MIN_WORDS
    )
    return Placement(answers, unplaced)


def _with_heads_carried(blocks: list[Block]) -> list[tuple[Block, frozenset[str]]]:
    """Blocks with text, each with the questions a preceding question list scoped it to.

    A heading with nothing under it hands its claims to the text that follows ("### Q1 ..." in one
    cell, the answer in the next). Several questions copied into one cell (a Part's questions
    listed together) instead scope the answers that follow to those questions, in any split, until
    a marker names a question that list did not hold.
    """
    carried: list[tuple[Block, frozenset[str]]] = []
    pending: list[Block] = []
    scope: frozenset[str] = frozenset()
    for block in blocks:
        if not block.lines:
            pending.append(block)
            continue
        listing = _last_listing(pending)
        if listing is not None:
            scope, after = listing
            if after and all(c.strength < LIST_START for c in block.claims):
                block.claims = [c for c in after[-1].claims if c.how == "title"] + block.claims
        elif pending and all(c.strength < LIST_START for c in block.claims):
            marked = [b for b in pending if any(c.how != "title" for c in b.claims)]
            handed = list(marked[-1].claims) if marked else []
            handed += [c for c in pending[-1].claims if c.how == "title" and c not in handed]
            block.claims = handed + block.claims
            block.other_question = next((b.other_question for b in reversed(pending) if b.other_question), "")
        if listing is None and any(c.strength >= LIST_START and c.question not in scope for c in block.claims):
            scope = frozenset()  # a marker of a question the list did not hold: its answers are over
        pending = []
        carried.append((block, scope))
    return carried


def _continuing(blocks: list[tuple[Block, frozenset[str]]]) -> np.ndarray:
    """Blocks that go on the previous block's cell under no heading of their own (a weak list number is
    none). After a question list, a plain paragraph may start the next answer within the cell; an
    item of a numbered list inside an answer still goes on it."""
    return np.array(
        [
            row > 0
            and block.cell == blocks[row - 1][0].cell
            and all(c.how != "title" and c.strength < LIST_START for c in block.claims)
            and (not scope or any(c.how == "list number" for c in block.claims))
            for row, (block, scope) in enumerate(blocks)
        ],
        dtype=bool,
    )


def _last_listing(heads: list[Block]) -> tuple[frozenset[str], list[Block]] | None:
    """The questions of the last cell among these headings that lists several, and the headings after it."""
    cells = list(dict.fromkeys(b.cell for b in heads))
    for cell in reversed(cells):
        group = [b for b in heads if b.cell == cell]
        listed = {c.question for b in group for c in b.claims if c.how == "question text"}
        if any(b.lists_questions for b in group) or len(listed) >= 2:
            return frozenset(listed), [b for b in heads if b.cell > cell]
    return None


def _scored(blocks: list[tuple[Block, frozenset[str]]], known: QuestionIndex):
    """The alignment's inputs: (block x label) scores, where answers are marked to start, and where they may not.

    Numbers and copied questions are markers; where a question is marked by name ("Q7", "Ans 7", its
    text), or was numbered before, a plain "7." elsewhere is only a list item. Topic headings count in proportion to how few
    questions the notebook marks: in a numbered notebook "Sparsity:" is a subheading of an answer;
    in one written under topic headings, "Early Stopping:" is where an answer starts.
    """
    order = {q.id: i for i, q in enumerate(known.questions)}
    marked = np.zeros((len(blocks), len(order)))
    titled = np.zeros((len(blocks), len(order)))
    seen = np.zeros(len(order), dtype=bool)
    for row, (block, _) in enumerate(blocks):
        for claim in block.claims:
            column = order[claim.question]
            strength = claim.strength
            if claim.how == "title":
                titled[row, column] = max(titled[row, column], strength)
                continue
            if seen[column] and claim.how in ("list number", "number within its Part"):
                strength = min(strength, LIST_ITEM)
            marked[row, column] = max(marked[row, column], strength)
        seen |= marked[row] >= LIST_START
    keyworded = (marked >= KEYWORD) & ((marked > 0).sum(axis=1, keepdims=True) == 1)
    plain_elsewhere = keyworded.any(axis=0)[None, :] & ~keyworded & (marked > 0)
    marked = np.where(plain_elsewhere, np.minimum(marked, LIST_ITEM), marked)
    unmarked = 1 - (marked >= LIST_START).any(axis=0).mean()
    titled *= unmarked
    top_title = titled.max(axis=1, keepdims=True)
    sole_title = (
        (titled == top_title) & (top_title >= LIST_START) & ((titled == top_title).sum(axis=1, keepdims=True) == 1)
    )
    unambiguous = ((marked > 0).sum(axis=1) == 1) & (marked.max(axis=1) >= KEYWORD)
    rivals = np.where(marked > 0, 0.0, marked.max(axis=1, keepdims=True)) * unambiguous[:, None]
    scores = np.full((len(blocks), len(order) + 1), NOWHERE)
    skips = np.full((len(blocks), len(order)), SKIP)
    before: frozenset[str] = frozenset()
    for row, (block, scope) in enumerate(blocks):
        content = CONTENT * known.about(block.text) / math.sqrt(len(block.text.split()) + CONTENT_FLOOR)
        if marked[row].max() < LIST_START and len(block.text.split()) >= OPENING_MIN_WORDS:
            content += OPENING * known.opening(block.text) + SUBJECT * unmarked * known.subject_shares(block.text)
        listed = np.array([q.id in scope for q in known.questions])
        scoped = np.where(listed, SCOPE, -OUTSIDE_SCOPE) if scope else np.zeros(len(order))
        skips[row, listed | np.array([q.id in before and not scope for q in known.questions])] = SCOPE_SKIP
        before = scope
        scores[row, 1:] = marked[row] + titled[row] - RIVAL_CLAIM * rivals[row] + content + scoped
    sole_mark = (marked >= LIST_START) & ((marked >= LIST_START).sum(axis=1, keepdims=True) == 1)
    closed = (sole_mark | sole_title).any(axis=0)[None, :] & ~((marked > 0) | (titled > 0))
    return scores, marked >= LIST_START, closed, skips


def _before_their_part(
    blocks: list[tuple[Block, frozenset[str]]], known: QuestionIndex, labelled: frozenset[int]
) -> np.ndarray:
    """(block x question): the block comes before the label of the question's Part, where the notebook has one."""
    return np.array(
        [
            [q.locate.part in labelled and q.locate.part not in block.parts_before for q in known.questions]
            for block, _ in blocks
        ],
        dtype=bool,
    ).reshape(len(blocks), len(known.questions))


def _answer(question: Question, blocks: list[Block], margin: float) -> Answer:
    if not blocks:
        return Answer(question.id, "")
    claims = [c for b in blocks for c in b.claims if c.question == question.id]
    strongest = max(claims, key=lambda c: c.strength, default=None)
    how = strongest.how if strongest and strongest.strength >= LIST_START else "what it is about"
    cells = tuple(dict.fromkeys(b.cell for b in blocks))
    other = next((b.other_question for b in blocks if b.other_question), "")
    confidence = round(1 - 0.5 * math.exp(-margin / CONFIDENCE_SCALE), 3)
    return Answer(question.id, "\n".join(b.text for b in blocks).strip(), cells, confidence, how, other)
