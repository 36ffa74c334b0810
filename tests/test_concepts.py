"""How a written answer earns a concept's points."""

from grader.models import Answer, Evidence
from grader.pipeline import _with_placement_flags
from grader.rubric import Concept, Question
from grader.score.concepts import score_answer


def question(*concepts: Concept, points: float = 4, min_words: int = 0) -> Question:
    return Question(
        id="q1", prompt="What is regularization?", points=points, concepts=list(concepts), min_words=min_words
    )


OVERFITTING = Concept(
    id="overfitting", points=2, any=["prevent overfitting", "reduce overfitting"], hint="Name the problem it solves."
)
PENALTY = Concept(id="penalty", points=2, any=["penalty term", "penalize large weights"])


def grade(text: str, *concepts: Concept, **kwargs):
    return score_answer(
        question(*(concepts or (OVERFITTING, PENALTY)), **kwargs), Answer("q1", text, (3,), 0.95, "numbered")
    )


def test_every_form_of_a_word_matches_and_the_students_words_are_quoted():
    result = grade("Regularisation PREVENTS Overfitting by adding penalty terms.")
    assert result.score == 4
    assert [c.evidence for c in result.concepts] == ["PREVENTS Overfitting", "penalty terms"]


def test_one_letter_typos_in_long_words_are_forgiven_but_not_in_short_ones():
    assert grade("it prevents overfiting").concepts[0].found
    assert not grade("It adds a penalti tern").concepts[1].found


def test_a_phrase_may_span_a_line_break_markdown_and_two_small_words():
    assert grade("It helps **reduce**\nthe overfitting").concepts[0].found
    assert not grade("reduce the risk of the overfitting").concepts[0].found


def test_negated_statements_do_not_earn_the_concept_and_say_so():
    result = grade("Dropout does not reduce overfitting. Dropout doesn't penalize large weights.")
    assert result.score == 0
    assert all(c.negated and not c.found for c in result.concepts)
    assert any("negated" in flag for flag in result.flags)


def test_not_only_is_not_a_negation():
    assert grade("It not only reduces overfitting but also speeds training").concepts[0].found


def test_symbolic_phrases_match_as_written():
    l1 = Concept(id="l1", points=2, any=["|w|"])
    assert grade("the penalty is lambda * sum | w |", l1).concepts[0].found
    assert not grade("the weights w are small", l1).concepts[0].found


def test_all_requires_every_part_and_regex_is_an_alternative():
    both = Concept(id="both", points=2, all=["l1", ["l2", "ridge"]])
    assert grade("L1 and ridge differ", both).concepts[0].found
    assert not grade("L1 alone", both).concepts[0].found
    pattern = Concept(id="rate", points=2, regex=[r"0\.[1-5]\b"])
    assert grade("a rate of 0.5 is common", pattern).concepts[0].evidence == "0.5"


def test_short_answers_get_at_most_half_and_a_hint():
    result = grade("prevents overfitting with a penalty term", min_words=30)
    assert result.score == 2
    assert "30" in result.feedback


def test_missing_answer_scores_zero_with_a_message():
    result = score_answer(question(OVERFITTING), None)
    assert result.score == 0
    assert result.feedback == "No answer was found for this question."
    assert result.concepts[0].hint == "Name the problem it solves."


def test_keyword_stuffing_is_flagged_not_penalised():
    stuffed = grade("prevent overfitting, penalty term, L1, L2, dropout, lambda")
    assert stuffed.score == 4
    assert any("list of terms" in flag for flag in stuffed.flags)
    prose = grade("Regularization adds a penalty term to the loss, which helps prevent overfitting on small datasets.")
    assert not any("list of terms" in flag for flag in prose.flags)


def test_answers_copied_from_the_question_or_the_sample_solution_are_flagged():
    reference = "Regularization adds a penalty to the loss so that the network cannot memorise its training data and generalizes to new data."
    q = Question(
        id="q1",
        prompt="What is regularization in the context of deep learning and why is it important?",
        points=4,
        reference=reference,
        concepts=[OVERFITTING, PENALTY],
    )
    copied = score_answer(
        q, Answer("q1", "What is regularization in the context of deep learning and why is it important", (1,), 0.9)
    )
    assert any("repeats the question" in flag for flag in copied.flags)
    sample = score_answer(q, Answer("q1", reference, (1,), 0.9))
    assert any("largely the reference answer, word for word" in flag for flag in sample.flags)


def test_a_concept_that_names_what_to_avoid_is_shown_by_its_negation_too():
    avoid = Concept(id="noise", points=2, any=["learn the noise"], any_polarity=True)
    assert grade("A simpler model does not learn the noise in the data.", avoid).concepts[0].found


def test_an_answer_that_earns_nothing_is_flagged_for_a_person_not_left_a_silent_zero():
    """A located answer may make the points in words no phrase lists ("it keeps the model from memorising");
    a reader looks at it instead of trusting a zero. Fewer than five words ("N/A", "see above") are not worth a look."""
    unlisted = grade("It keeps the model from memorising the training examples.")
    assert unlisted.score == 0 and any("earns none of this question's points" in str(f) for f in unlisted.flags)
    assert not any("earns none" in str(f) for f in grade("Not done, see above").flags)
    assert not grade("It adds a penalty term to the loss.").flags
    shared = "needs review: its answer may stand under question 2"  # where the answer may be instead
    placed = _with_placement_flags(unlisted, Evidence(answers={}), [shared])
    assert placed.flags == (shared,), placed.flags  # says more than the zero: it replaces that flag
