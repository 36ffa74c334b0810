"""Which text answers which question.

The notebook is read top to bottom as a stream of prose lines. A line can be a *marker* that
starts a question: a number in any form ("Q5", "Ans 5", "### 5", "5." where the numbering may
restart in each Part), or a copy of the question's own words, even garbled. Text after a marker
belongs to that question until the next marker. Copies of the question are not answer text.
Each answer carries the cells it came from and how sure the mapping is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rapidfuzz import fuzz

from grader.extract.cells import CellText, normalise_line
from grader.models import Answer
from grader.rubric import Question
from grader.score.text import stem

_KEYWORD_NUMBER = re.compile(
    r"^[\s#>*_]*(?:q|ques|question|ans|answer|solution|sol)\s*(?:no\.?|number)?\s*[-.:#]?\s*\(?\s*(\d{1,2})\s*\)?(?![\d.]\d)"
    r"\s*[-.:)]*\s*[*_]*\s*(.*)$",
    re.IGNORECASE,
)
_PLAIN_NUMBER = re.compile(r"^(?P<indent>\s*)(?P<lead>[#>*_]*)\s*\(?(\d{1,2})\s*[.):](?!\d)\s*[*_]*\s*(.*)$")
_PART = re.compile(r"^[\s#>*_]*part\s*[-:]?\s*(\d|i{1,3}|iv|l|one|two|three|four)\b", re.IGNORECASE)
_LABEL_ONLY = re.compile(
    r"^[\s#>*_]*(?:ans(?:wer)?s?|solutions?|sol|your answer here\.?|type your answer here\.?"
    r"|(?:assignment|notebook)\s+(?:is\s+)?(?:completed?|done|ends?)|thank\s*you|the\s+end)[\s:\-–.!>*_]*$",
    re.IGNORECASE,
)
_WORDLIKE = re.compile(r"[A-Za-z0-9]")
_PART_WORDS = {"i": 1, "l": 1, "ii": 2, "iii": 3, "iv": 4, "one": 1, "two": 2, "three": 3, "four": 4}

PROMPT_MATCH = 80
TITLE_SHARE = 0.75
CONTENT_MATCH = 0.12
OTHER_QUESTION_SHARE = 0.34

CONFIDENCE = {
    "numbered": 0.95,
    "question text": 0.9,
    "list number": 0.8,
    "number within its Part": 0.75,
    "title": 0.7,
    "what it is about": 0.45,
}


@dataclass
class _Collected:
    cells: list[int] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)
    confidence: float = 0.0
    how: str = ""
    other_question: str = ""

    def add(self, cell: int, line: str) -> None:
        if not self.cells or self.cells[-1] != cell:
            self.cells.append(cell)
        self.lines.append(line)

    @property
    def text(self) -> str:
        return "\n".join(self.lines).strip()


class _Questions:
    """Numbering facts about the rubric's questions."""

    def __init__(self, questions: list[Question]):
        self.questions = questions
        self.by_number: dict[int, Question] = {}
        self.by_part: dict[tuple[int, int], Question] = {}
        for position, question in enumerate(questions, start=1):
            for number in question.locate.numbers or [position]:
                self.by_number.setdefault(number, question)
            if question.locate.part and question.locate.number_in_part:
                self.by_part[(question.locate.part, question.locate.number_in_part)] = question
        self.prompts = {q.id: normalise_line(q.prompt) for q in questions}
        self.prompt_words = {q.id: _content_words(q.prompt + " " + " ".join(q.locate.keywords)) for q in questions}
        self.topic_words = {
            q.id: self.prompt_words[q.id] | _content_words(" ".join(p for c in q.concepts for p in c.any))
            for q in questions
        }

    def for_number(self, number: int, context: "_Context") -> tuple[Question | None, bool]:
        """The question a number names; True when it was read as counting within a Part.

        "2." under "Part 2" is question 6 when it follows question 5, or when question 2 is
        already answered; otherwise numbers count from the start.
        """
        absolute = self.by_number.get(number)
        in_part = self.by_part.get((context.part, number)) if context.part else None
        if in_part is None or in_part is absolute:
            return absolute, False
        if absolute is None or context.is_next(in_part.id):
            return in_part, True
        if context.is_next(absolute.id) or absolute.locate.part in (None, context.part):
            return absolute, False
        if context.answered(absolute.id) and not context.answered(in_part.id):
            return in_part, True
        return absolute, False

    def prompt_match(self, line: str, threshold: float) -> Question | None:
        """The question whose prompt this line copies (typos and PDF garbling allowed)."""
        text = normalise_line(line)
        best, best_score = None, 0.0
        for question in self.questions:
            prompt = self.prompts[question.id]
            if len(text) < max(12, 0.5 * len(prompt)):
                continue
            score = fuzz.ratio(text, prompt) if len(text) >= len(prompt) else fuzz.partial_ratio(text, prompt)
            if score > best_score:
                best, best_score = question, score
        return best if best_score >= threshold else None

    def is_other_question(self, text: str, question: Question) -> bool:
        """A question the student copied that is not this one: the notebook answers another homework."""
        words = _plain_words(text)
        asks = text.rstrip("*_` ").endswith("?") or re.match(_ASKING, text.strip("*_` "), re.IGNORECASE)
        if len(words) < 5 or not asks:
            return False
        shared = words & _plain_words(question.prompt + " " + " ".join(question.locate.keywords))
        return len(shared) / len(words) < OTHER_QUESTION_SHARE

    def continues_prompt(self, line: str, question_id: str) -> bool:
        """The rest of a question that wrapped onto the next line."""
        text = normalise_line(line)
        return 0 < len(text.split()) <= 20 and fuzz.partial_ratio(text, self.prompts[question_id]) >= 90

    def shares_words(self, text: str, question: Question) -> bool:
        """A short numbered heading read within a Part must name something of its question."""
        return len(text.split()) > 4 or bool(_content_words(text) & self.prompt_words[question.id])

    def title_match(self, line: str) -> Question | None:
        """A short heading naming a question's subject ("Early Stopping:", "L1 and L2")."""
        words = _content_words(line)
        if len(words) < 2:
            return None
        best, best_share = None, 0.0
        for question in self.questions:
            share = len(words & self.prompt_words[question.id]) / len(words)
            if share > best_share:
                best, best_share = question, share
        return best if best_share >= TITLE_SHARE else None


_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from given how in into is it its of on or the their "
    "this to what when which why with work works your deep learning model models regularization "
    "concept role explain describe discuss".split()
)


_ENGLISH = frozenset(
    "a an and are as at be by can do does for from how in into is it its of on or the their this "
    "to what when which why with you your they them these those that there".split()
)
_ASKING = r"(what|why|how|explain|describe|discuss|compare|implement|define|list|when|which)\b"


def _plain_words(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _ENGLISH and len(w) > 1}


def _content_words(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS and len(w) > 1}




def _part_number(match: re.Match) -> int:
    word = match.group(1).lower()
    return int(word) if word.isdigit() else _PART_WORDS[word]


@dataclass(frozen=True)
class _Context:
    known: _Questions
    part: int | None
    current: str | None
    collected: dict[str, _Collected]
    order: list[str]
    first_line: bool
    numbered_cell: bool

    def answered(self, question_id: str) -> bool:
        return bool(self.collected[question_id].lines)

    def is_next(self, question_id: str) -> bool:
        if self.current is None:
            return True
        return self.order.index(question_id) == self.order.index(self.current) + 1


def locate_answers(
    cells: list[CellText], questions: list[Question], template_lines: frozenset[str] = frozenset()
) -> dict[str, Answer]:
    known = _Questions(questions)
    collected = {q.id: _Collected() for q in questions}
    order = [q.id for q in questions]
    current: str | None = None
    part: int | None = None
    orphans: dict[int, list[str]] = {}

    for cell in cells:
        if cell.kind != "prose":
            continue
        lines = [line for line in cell.text.splitlines() if _WORDLIKE.search(line) and not _LABEL_ONLY.match(line)]
        listed: list[str] = []
        numbered_cell = False
        previous_was_prompt = False
        content_seen = False
        for line in lines:
            part_match = _PART.match(line)
            if part_match:
                part = _part_number(part_match)
                line = line[part_match.end():]
                if len(line.split()) <= 6:
                    continue
            if previous_was_prompt and current and known.continues_prompt(line, current):
                continue
            context = _Context(known, part, current, collected, order, not content_seen, numbered_cell)
            content_seen = True
            marker = _marker(line, context)
            previous_was_prompt = bool(marker and marker[3])
            if marker is None:
                if normalise_line(line) in template_lines:
                    continue
                if current is not None:
                    collected[current].add(cell.index, line)
                else:
                    orphans.setdefault(cell.index, []).append(line)
                continue
            question, how, rest, is_prompt = marker
            full_copy = is_prompt and len(normalise_line(rest)) >= 0.8 * len(known.prompts[question.id])
            numbered_cell = numbered_cell or (context.first_line and bool(_PLAIN_NUMBER.match(line)) and not full_copy)
            current = question.id
            entry = collected[current]
            if CONFIDENCE[how] >= entry.confidence:
                entry.confidence, entry.how = CONFIDENCE[how], how
            if rest and not is_prompt and known.is_other_question(rest, question):
                entry.other_question = entry.other_question or rest
            elif rest and not is_prompt and not _is_title(rest, lines):
                entry.add(cell.index, rest)
            elif not entry.lines:
                listed.append(current)
        unanswered = [q for q in listed if not collected[q].lines]
        if len(unanswered) >= 2:
            current = unanswered[0]

    _place_by_content(orphans, known, collected)
    return {
        q.id: Answer(q.id, entry.text, tuple(entry.cells), entry.confidence, entry.how, entry.other_question)
        for q in questions
        if (entry := collected[q.id]).text
    }


def _place_by_content(orphans: dict[int, list[str]], known: "_Questions", collected: dict[str, _Collected]) -> None:
    """Prose no marker claimed goes, in order, to the unanswered question it is most about."""
    last = -1
    for cell, lines in sorted(orphans.items()):
        words = _content_words(" ".join(lines))
        if len(words) < 5:
            continue
        best, best_score = None, CONTENT_MATCH
        for position, question in enumerate(known.questions):
            if position <= last or collected[question.id].lines:
                continue
            topic = known.topic_words[question.id]
            score = len(words & topic) / len(topic) if topic else 0.0
            if score > best_score:
                best, best_score = position, score
        if best is None:
            continue
        entry = collected[known.questions[best].id]
        for line in lines:
            entry.add(cell, line)
        entry.confidence, entry.how = CONFIDENCE["what it is about"], "what it is about"
        last = best


def _marker(line: str, context: _Context):
    """(question, how, text after the marker, whether that text is the question itself) or None."""
    known = context.known
    keyword = _KEYWORD_NUMBER.match(line)
    if keyword:
        question, _ = known.for_number(int(keyword.group(1)), context)
        if question:
            rest = keyword.group(2).strip()
            return question, "numbered", rest, known.prompt_match(rest, PROMPT_MATCH) is question
    plain = _PLAIN_NUMBER.match(line)
    if plain and len(plain.group("indent").expandtabs(4)) < 2:
        question, within_part = known.for_number(int(plain.group(3)), context)
        rest = plain.group(4).strip()
        if question:
            is_prompt = known.prompt_match(rest, PROMPT_MATCH) is question
            heading = "#" in plain.group("lead")
            fresh = not context.answered(question.id)
            if within_part and not is_prompt and not known.shares_words(rest, question):
                return None
            starts_list = context.first_line and fresh
            continues_list = context.numbered_cell and fresh and context.is_next(question.id)
            if is_prompt or (heading and fresh) or starts_list or continues_list:
                how = "number within its Part" if within_part else "list number"
                return question, "question text" if is_prompt else how, rest, is_prompt
    prompt = known.prompt_match(line, PROMPT_MATCH)
    if prompt:
        return prompt, "question text", "", True
    if context.first_line and len(line.split()) <= 16:
        title = known.title_match(line)
        if title and title.id != context.current and not context.answered(title.id):
            return title, "title", "", True
    return None


def _is_title(rest: str, lines: list[str]) -> bool:
    words = len(rest.split())
    return words <= 12 and (rest.rstrip("*_` ").endswith(("?", ":")) or len(lines) == 1)
