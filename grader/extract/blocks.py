"""A notebook's prose as blocks, each with what its first line claims about which question it answers.

A block starts at a heading, a numbered line, a copy of a question, or a blank line, and runs to
the next one. The claims are evidence, not decisions: "4." may start the answer to question 4 or
be item 4 of a list inside another answer, and "**Dropout Regularization:**" may head question 5
or be a sentence of question 9's answer. The alignment (answers.py) weighs them against the
questions' order and what each block is about.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field, replace

from grader.extract.cells import CellText, normalise_line
from grader.extract.questions import QuestionIndex

_KEYWORD_NUMBER = re.compile(
    r"^[\s#>*_]*(?:q|ques|question|ans|answer|solution|sol)\s*(?:no\.?|number)?\s*[-.:#]?\s*\(?\s*(\d{1,2})\s*\)?(?![\d.]\d)"
    r"\s*[-.:)]*\s*[*_]*\s*(.*)$",
    re.IGNORECASE,
)
_PLAIN_NUMBER = re.compile(r"^(?P<indent>\s*)(?P<lead>[#>*_]*)\s*\(?(\d{1,2})\s*[.):](?!\d)\s*[*_]*\s*(.*)$")
_PART = re.compile(r"^[\s#>*_]*part\s*[-:]?\s*(\d|i{1,3}|iv|l|one|two|three|four)\b[\s:.\-–]*", re.IGNORECASE)
_LABEL_ONLY = re.compile(
    r"^[\s#>*_]*(?:ans(?:wer)?s?|solutions?|sol|your answer here\.?|type your answer here\.?"
    r"|(?:assignment|notebook)\s+(?:is\s+)?(?:completed?|done|ends?)|thank\s*you|the\s+end)[\s:\-–.!>*_]*$",
    re.IGNORECASE,
)
_HEADING = re.compile(
    r"^\s*(?:#{1,6}\s+(?P<hash>.+?)|[*_]{2}(?P<bold>[^*_].*?)[*_]{2}\s*:?|(?P<colon>[^.!?]{3,60}):)\s*$"
)
_WORDLIKE = re.compile(r"[A-Za-z0-9]")
_PART_WORDS = {"i": 1, "l": 1, "ii": 2, "iii": 3, "iv": 4, "one": 1, "two": 2, "three": 3, "four": 4}

PROMPT_MATCH = 80
HEADING_WORDS = 10

KEYWORD = 6.0
PROMPT = 6.0
NUMBERED_HEADING = 4.0
LIST_START = 3.0
LIST_ITEM = 0.75
TITLE = 4.0


@dataclass(frozen=True)
class Claim:
    question: str
    strength: float
    how: str


@dataclass
class Block:
    cell: int
    claims: list[Claim] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    lists_questions: bool = False  # the head copies several questions at once: a Part's question list
    other_question: str = ""  # a numbered question that is not this assignment's
    heading: str = ""  # a heading that names no question: dropped when another heading follows at once
    parts_before: frozenset[int] = frozenset()  # the Parts whose labels ("Part 2: ...") came before it

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip()


@dataclass
class _Reader:
    """Reads one cell's lines into blocks, remembering the Part across cells."""

    known: QuestionIndex
    template_lines: frozenset[str]
    part: int | None = None
    cell: int = 0
    single_line: bool = False  # a numbered line alone in its cell is a heading, not an answer
    blocks: list[Block] = field(default_factory=list)
    labelled: set[int] = field(default_factory=set)  # the Parts whose labels were read

    def read(self, cell: CellText) -> None:
        self.cell = cell.index
        self.single_line = sum(1 for line in cell.text.splitlines() if _WORDLIKE.search(line)) == 1
        current: Block | None = None
        first = True
        numbered_cell = False
        next_number: int | None = None  # a cell opening "1. <question 1>" numbers its answers on: "2." starts one
        previous_prompt: str | None = None
        lines = cell.text.splitlines()
        for position, raw in enumerate(lines):
            line = raw.rstrip()
            if not _WORDLIKE.search(line) or _LABEL_ONLY.match(line):
                if current is not None and current.lines and current.lines != [current.heading]:
                    current = self._close(current)
                continue
            part = _PART.match(line)
            if part:
                current = self._close(current)
                self.part = _part_number(part)
                self.labelled.add(self.part)
                line = line[part.end() :]
                if len(line.split()) <= 6:
                    continue
            if previous_prompt and self.known.continues_prompt(line, previous_prompt):
                continue
            wrapped = lines[position + 1].strip() if position + 1 < len(lines) else ""
            head = self._head(line, first, numbered_cell, next_number, wrapped)
            if head is not None:
                current = self._close(current, next_is_heading=True)
                current, rest, prompt_of = head
                plain = _PLAIN_NUMBER.match(line)
                numbered_cell = numbered_cell or (first and bool(plain) and not prompt_of)
                if plain:
                    number = int(plain.group(3))
                    next_number = number + 1 if first or number == next_number else None
                previous_prompt = prompt_of
                first = False
                if rest and normalise_line(line) not in self.template_lines:
                    current.lines.append(rest)
                continue
            first = False
            previous_prompt = None
            if normalise_line(line) in self.template_lines:
                continue
            if current is not None and not current.lines and self._ends_question_list(current):
                current = self._close(current)  # the list's last question: the text below answers the whole list
            if current is None:
                current = Block(cell.index)
            current.lines.append(line)
        self._close(current)

    def _ends_question_list(self, head: Block) -> bool:
        """A copied question right after other copied questions of the same cell, with no text between them."""
        copied = {c.question for c in head.claims if c.how == "question text"}
        before = self.blocks[-1] if self.blocks else None
        if not copied or before is None or before.cell != head.cell or before.lines:
            return False
        return before.lists_questions or bool({c.question for c in before.claims if c.how == "question text"} - copied)

    def _close(self, block: Block | None, next_is_heading: bool = False) -> None:
        if block is not None and next_is_heading and block.lines == [block.heading]:
            block.lines = []
        if block is not None and (block.lines or block.claims):
            block.parts_before = frozenset(self.labelled)
            self.blocks.append(block)
        return None

    def _head(self, line: str, first: bool, numbered_cell: bool, next_number: int | None, wrapped: str = ""):
        """(a new block, the answer text on its first line, the question it copies) or None.

        ``next_number`` goes on the numbering the cell's first line began: after "1. <question 1's topic>",
        "2." starts an answer, while a list restarting at "1." inside the answer is a list. ``wrapped``: the
        next line, which may go on a numbered question pasted from a PDF ("8. Implement ... of your" / "choice. ...").
        """
        known = self.known
        listed = known.prompts_within(line)
        if len(listed) >= 2:
            return Block(self.cell, [Claim(q, PROMPT, "question text") for q in listed], lists_questions=True), "", None
        keyword = _KEYWORD_NUMBER.match(line)
        if keyword:
            rest = keyword.group(2).strip()
            copies, answer = self._copy_in(rest)
            claims = [
                _number_claim(q, within, KEYWORD, "numbered")
                for q, within in known.numbered(int(keyword.group(1)), self.part)
            ]
            if claims:
                return self._with_rest(claims, rest, copies, answer)
        plain = _PLAIN_NUMBER.match(line)
        if plain and len(plain.group("indent").expandtabs(4)) < 2:
            rest = plain.group(4).strip()
            copies, answer = self._copy_in(rest)
            if not copies and wrapped:
                copies = self.known.prompt_match(f"{rest} {wrapped}", PROMPT_MATCH)
            starts_list = first or numbered_cell or int(plain.group(3)) == next_number
            claims = self._plain_number_claims(plain, rest, copies, starts_list)
            if claims:
                return self._with_rest(claims, rest, copies, answer)
        copies, answer = self._copy_in(line)
        if copies:
            return Block(self.cell, [Claim(copies.id, PROMPT, "question text")]), answer, None if answer else copies.id
        heading = _HEADING.match(line)
        if heading or (first and len(line.split()) <= 6 and not line.rstrip().endswith(".")):
            title = (heading and next(g for g in heading.groups() if g)) or line
            if len(title.split()) <= HEADING_WORDS:
                claims = [Claim(q, TITLE * share, "title") for q, share in known.title_shares(title).items()]
                return Block(self.cell, claims, heading=line), "" if claims else line, None
        return None

    def _plain_number_claims(self, plain: re.Match, rest: str, copies, starts_list: bool) -> list[Claim]:
        """ "5." claims question 5 strongly as a heading or the start of a numbered cell, weakly inside a list."""
        if copies:
            strength, how = PROMPT, "question text"
        elif "#" in plain.group("lead"):
            strength, how = NUMBERED_HEADING, "list number"
        else:
            strength, how = (LIST_START if starts_list else LIST_ITEM), "list number"
        numbered = [
            (q, within)
            for q, within in self.known.numbered(int(plain.group(3)), self.part)
            if (q is copies or not copies) and (not within or copies or self.known.shares_words(rest, q))
        ]
        named = self.known.title_shares(rest) if not copies and _is_title(rest) else {}
        if named and not any(q.id in named for q, _ in numbered):
            strength = min(strength, LIST_ITEM)  # "1. Considerations ... choosing the appropriate optimizer:" is 9's
        return [_number_claim(q, within, strength, how) for q, within in numbered]

    def _copy_in(self, text: str):
        """The question this text copies, and the answer run on after the copy on the same line, if any."""
        copies = self.known.prompt_match(text, PROMPT_MATCH)
        if copies:
            return copies, ""
        return self.known.prompt_prefix(text) or (None, "")

    def _with_rest(self, claims: list[Claim], rest: str, copies, answer: str = ""):
        block = Block(self.cell, claims)
        if copies:
            return block, answer, None if answer else copies.id
        if (
            rest
            and claims[0].strength >= LIST_START
            and all(self.known.is_other_question(rest, c.question) for c in claims)
        ):
            block.other_question = rest
            return block, "", None
        return block, "" if _is_title(rest) or (self.single_line and len(rest.split()) <= 12) else rest, None


def read_blocks(
    cells: list[CellText], known: QuestionIndex, template_lines: frozenset[str]
) -> tuple[list[Block], frozenset[int]]:
    """The blocks, and the Parts the notebook labels ("Part 3: Applying Optimizers"), wherever the labels are."""
    reader = _Reader(known, template_lines)
    for cell in cells:
        if cell.kind == "prose" or cell.text:
            reader.read(cell)
        elif _is_part_label(cell.code):
            reader.read(replace(cell, text=cell.code))  # "Part 3: Applying Optimizers" typed into a code cell
    return reader.blocks, frozenset(reader.labelled)


def _is_part_label(code: str) -> bool:
    if len(code.strip().splitlines()) != 1 or not _PART.match(code):
        return False
    try:
        ast.parse(code)
    except SyntaxError:
        return True
    return False


def _number_claim(question, within_part: bool, strength: float, how: str) -> Claim:
    """A number read in a Part may count within the Part ("1." under Part 2) or from the start: both are claimed."""
    return Claim(question.id, strength, "number within its Part" if within_part and how != "question text" else how)


def _part_number(match: re.Match) -> int:
    word = match.group(1).lower()
    return int(word) if word.isdigit() else _PART_WORDS[word]


def _is_title(rest: str) -> bool:
    return len(rest.split()) <= 12 and rest.rstrip("*_` ").endswith(("?", ":"))
