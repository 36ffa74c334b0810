"""Quiz items in notebooks: choice with partial credit, numbers with a tolerance, short answers."""

from grader.models import Answer
from grader.rubric import Question
from grader.score.quiz import score_quiz

CHOICE = Question(
    id="q1", prompt="Which layers regularize?", points=4, kind="choice", options=["a", "b", "c", "d"], answer=["b", "d"]
)
NUMERIC = Question(id="q2", prompt="Dropout rate used?", points=2, kind="numeric", value=0.5, tolerance=0.01)
SHORT = Question(
    id="q3",
    prompt="Name the problem.",
    points=1,
    kind="short",
    accept=["overfitting"],
    accept_regex=[r"\bhigh variance\b"],
)


def grade(question, text):
    return score_quiz(question, Answer(question.id, text, (1,), 0.95))


def test_choice_full_partial_and_penalised():
    assert grade(CHOICE, "b, d").score == 4
    assert grade(CHOICE, "Answer: (b)").score == 2
    assert grade(CHOICE, "(b) (c)").score == 0
    assert grade(CHOICE, "I think it is a hard question, so (b) and (d)").score == 4


def test_numeric_from_text_or_percent():
    assert grade(NUMERIC, "I used 0.5").score == 2
    assert grade(NUMERIC, "50%").score == 2
    assert grade(NUMERIC, "0.3").score == 0
    assert grade(NUMERIC, "").score == 0


def test_short_answers_by_words_or_regex_not_negated():
    assert grade(SHORT, "Overfiting").score == 1
    assert grade(SHORT, "it has high variance").score == 1
    assert grade(SHORT, "not overfitting").score == 0
