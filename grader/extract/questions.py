"""What a notebook's prose can be matched against: each question's numbers, words and topic.

Every look-up answers "which questions could this be", never "which question is it": the
alignment decides (answers.py).
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Callable

import numpy as np
from rapidfuzz import fuzz

from grader.extract.cells import normalise_line
from grader.rubric import Question
from grader.text import stem

# Words any question may use: they say nothing about which one. The homework's own shared words
# ("regularization", "batch normalization") come from its rubric: ``homework_words``.
_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from given how in into is it its of on or the their "
    "this to what when which why with work works your concept role explain describe discuss".split()
)
_ENGLISH = frozenset(
    "a an and are as at be by can do does for from how in into is it its of on or the their this "
    "to what when which why with you your they them these those that there".split()
)
# A task ("Explain the role of ...") asks even without a question mark; "How much data there is." does not.
_TASK = re.compile(r"(explain|describe|discuss|compare|implement|define|list)\b", re.IGNORECASE)
# What a first sentence says it is about: "The bias-variance tradeoff is ...", "**Early stopping** refers to ...".
_SUBJECT = re.compile(
    r"^[\W_]*(?:the\s+|an?\s+)?(?P<subject>[^.,;:!?]{2,60}?)\s+(?:is|are|refers?|means|involves)\b", re.IGNORECASE
)
SUBJECT_WORDS = 6

OTHER_QUESTION_SHARE = 0.34
TITLE_SHARE = 0.3
LISTED_MATCH = 85
RUN_ON_MATCH = 90  # a copied question with its answer run on; a first sentence restating the question scores below
RUN_ON_LEAD = 6  # characters allowed before the copy ("**", "Q:")
RUN_ON_MIN_WORDS = 3
OPENING_WORDS = 12
OPENING_FLOOR = 60
HOMEWORK_SHARE = 0.5  # a word in more than this share of the prompts names the homework, not a question
# How much each source of a question's words tells about an answer to it.
PROFILE_WEIGHTS = {"prompt": 1.0, "concepts": 0.7, "reference": 0.4}


@lru_cache(maxsize=16384)
def content_words(text: str) -> frozenset[str]:
    return frozenset({stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS and len(w) > 1})


def homework_words(questions: list[Question], title: str = "") -> frozenset[str]:
    """The words of the homework's title and those most of its prompts share ("regularization" in all
    nine); a word of one prompt alone always tells its question, however few questions there are."""
    counts = Counter(word for q in questions for word in content_words(q.prompt))
    shared = {word for word, count in counts.items() if count > max(1, HOMEWORK_SHARE * len(questions))}
    return frozenset(shared) | content_words(title)


def _plain_words(text: str) -> set[str]:
    return {stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _ENGLISH and len(w) > 1}


class QuestionIndex:
    """Numbering facts, prompt text and topic words of the rubric's questions."""

    def __init__(self, questions: list[Question], title: str = ""):
        self.questions = questions
        self.homework_words = homework_words(questions, title)
        self.by_id = {q.id: q for q in questions}
        self.by_number: dict[int, Question] = {}
        self.by_part: dict[tuple[int, int], Question] = {}
        for position, question in enumerate(questions, start=1):
            for number in question.locate.numbers or [position]:
                self.by_number.setdefault(number, question)
            if question.locate.part and question.locate.number_in_part:
                self.by_part[(question.locate.part, question.locate.number_in_part)] = question
        self.prompts = {q.id: normalise_line(q.prompt) for q in questions}
        self.prompt_words = {q.id: self.words(q.prompt + " " + " ".join(q.locate.keywords)) for q in questions}
        self.vocabulary, self.profiles = _profiles(questions, self.prompt_words, self.words)

    def words(self, text: str) -> frozenset[str]:
        """The stems of the text that can tell its question: neither stop words nor the homework's own."""
        return content_words(text) - self.homework_words

    def numbered(self, number: int, part: int | None) -> list[tuple[Question, bool]]:
        """The questions a number can name, each with whether it counts within the current Part."""
        absolute = self.by_number.get(number)
        within = self.by_part.get((part, number)) if part else None
        found = [(absolute, False)] if absolute is not None else []
        return found + ([(within, True)] if within is not None and within is not absolute else [])

    def prompt_match(self, line: str, threshold: float) -> Question | None:
        """The question whose prompt this line copies (typos and PDF garbling allowed)."""
        text = normalise_line(line)
        words = self.words(line)
        best, best_score = None, threshold - 1e-9
        for question in self.questions:
            prompt = self.prompts[question.id]
            if len(text) < max(12, 0.5 * len(prompt)) or len(words & self.prompt_words[question.id]) < 1:
                continue
            measure = fuzz.ratio if len(text) >= len(prompt) else fuzz.partial_ratio
            score = measure(text, prompt, score_cutoff=best_score)
            if score > best_score:
                best, best_score = question, score
        return best

    def prompt_prefix(self, line: str) -> tuple[Question, str] | None:
        """The question this line starts by copying, and the answer run on after it on the same line
        ("What is regularization ...? Why is it important?**Regularization** keeps ...")."""
        text = line.lower()
        best = None
        for question in self.questions:
            prompt = question.prompt.lower()
            if len(text) <= len(prompt):
                continue
            copy = fuzz.partial_ratio_alignment(prompt, text, score_cutoff=RUN_ON_MATCH)
            if copy is not None and copy.dest_start <= RUN_ON_LEAD and (best is None or copy.score > best[0].score):
                best = (copy, question)
        if best is None:
            return None
        answer = line[best[0].dest_end :].lstrip(" ?.:;,-\u2013")
        return (best[1], answer) if len(answer.split()) >= RUN_ON_MIN_WORDS else None

    def prompts_within(self, line: str) -> list[str]:
        """The questions whose prompts this one line holds, in order: a Part's questions run together."""
        text = normalise_line(line)
        words = self.words(line)
        found = []
        for question in self.questions:
            prompt = self.prompts[question.id]
            needed = self.prompt_words[question.id]
            if len(text) < 1.3 * len(prompt) or len(words & needed) < 0.5 * len(needed):
                continue
            if fuzz.partial_ratio(prompt, text) >= LISTED_MATCH:
                found.append(question.id)
        return found

    def continues_prompt(self, line: str, question_id: str) -> bool:
        """The rest of a question that wrapped onto the next line."""
        text = normalise_line(line)
        return 0 < len(text.split()) <= 20 and fuzz.partial_ratio(text, self.prompts[question_id]) >= 90

    def shares_words(self, text: str, question: Question) -> bool:
        """A short numbered heading read within a Part must name something of its question."""
        return len(text.split()) > 4 or bool(self.words(text) & self.prompt_words[question.id])

    def is_other_question(self, text: str, question_id: str) -> bool:
        """A question the student copied that is not this one: the notebook answers another homework."""
        sentence = re.split(r"(?<=[.?!])\s", text.strip("*_` "), maxsplit=1)[0].rstrip("*_` ")
        words = _plain_words(text)
        asks = sentence.endswith("?") or _TASK.match(sentence)
        if len(words) < 5 or not asks:
            return False
        question = self.by_id[question_id]
        shared = words & _plain_words(question.prompt + " " + " ".join(question.locate.keywords))
        return len(shared) / len(words) < OTHER_QUESTION_SHARE

    def title_shares(self, title: str) -> dict[str, float]:
        """Questions a short heading names ("Early Stopping:", "L1 and L2"), with the share of its words they hold."""
        words = self.words(title)
        if not words:
            return {}
        shares = {q.id: len(words & self.prompt_words[q.id]) / len(words) for q in self.questions}
        return {qid: share for qid, share in shares.items() if share >= TITLE_SHARE}

    def subject_shares(self, text: str) -> np.ndarray:
        """The questions the first sentence names as its subject, read as a topic heading is (one number a question)."""
        match = _SUBJECT.match(text.strip())
        if not match or len(match.group("subject").split()) > SUBJECT_WORDS:
            return np.zeros(len(self.questions))
        shares = self.title_shares(match.group("subject"))
        return np.array([shares.get(q.id, 0.0) for q in self.questions])

    def opening(self, text: str) -> np.ndarray:
        """How closely the text's first words restate each question ("L1 and L2 regularization are ...")."""
        first = normalise_line(" ".join(text.split()[:OPENING_WORDS]))
        if len(first) < 12:
            return np.zeros(len(self.questions))
        ratios = np.array(
            [fuzz.partial_ratio(first, self.prompts[q.id], score_cutoff=OPENING_FLOOR) for q in self.questions]
        )
        return np.clip((ratios - OPENING_FLOOR) / (100 - OPENING_FLOOR), 0.0, 1.0)

    def about(self, text: str) -> np.ndarray:
        """How much of each question's distinctive vocabulary the text uses (one number per question)."""
        counts = Counter(stem(w) for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOPWORDS and len(w) > 1)
        columns = [self.vocabulary[w] for w in counts if w in self.vocabulary]
        if not columns:
            return np.zeros(len(self.questions))
        return self.profiles[:, columns].sum(axis=1)


def _profiles(
    questions: list[Question], prompt_words: dict[str, frozenset[str]], distinctive: Callable[[str], frozenset[str]]
) -> tuple[dict[str, int], np.ndarray]:
    """A (questions x words) matrix: how strongly each word points to each question (weight times rarity)."""
    weights: list[dict[str, float]] = []
    for question in questions:
        weight: dict[str, float] = {}
        sources = {
            "reference": distinctive(question.reference),
            "concepts": distinctive(" ".join(p for c in question.concepts for p in c.any)),
            "prompt": prompt_words[question.id],
        }
        for source, words in sources.items():
            for word in words:
                weight[word] = max(weight.get(word, 0.0), PROFILE_WEIGHTS[source])
        weights.append(weight)
    vocabulary = {w: i for i, w in enumerate(sorted({w for weight in weights for w in weight}))}
    matrix = np.zeros((len(questions), len(vocabulary)))
    for row, weight in enumerate(weights):
        for word, value in weight.items():
            matrix[row, vocabulary[word]] = value
    spread = (matrix > 0).sum(axis=0)
    matrix *= np.log((len(questions) + 1) / np.maximum(spread, 1))[None, :]
    return vocabulary, matrix
