"""One question's grade, whatever its kind: concepts for free text, the answer key for a quiz item."""

from __future__ import annotations

from grader.models import Answer, QuestionGrade
from grader.rubric import Question
from grader.score.concepts import score_answer
from grader.score.quiz import score_quiz


def score_question(question: Question, answer: Answer | None, semantic=None) -> QuestionGrade:
    """``semantic``: the rubric's matcher by meaning (text questions only), or None."""
    if question.kind == "text":
        return score_answer(question, answer, semantic)
    return score_quiz(question, answer)
