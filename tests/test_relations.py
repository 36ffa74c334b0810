"""Concepts that need the relation, not only the words: phrases within one clause, `not_with:`, `all:` with
`same_clause:`; and the one-letter typo tolerance, on a word the stemmer does not fix."""

from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.extract.evidence import gather_evidence
from grader.models import Answer
from grader.rubric import Concept, Question, publish
from grader.score.concepts import score_answer
from grader.text import stem

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "regularization"
ASSIGNMENT = load_assignment(ROOT / "assignments" / "regularization")
RUBRIC = ASSIGNMENT.rubric


def earned(question: Question, concept_id: str, text: str) -> bool:
    grade = score_answer(question, Answer(question.id, text, (1,), 0.95, "numbered"))
    return next(c for c in grade.concepts if c.id == concept_id).found


def one(concept: Concept) -> Question:
    return Question(id="q1", prompt="Explain the bias-variance tradeoff.", points=concept.points, concepts=[concept])


def test_a_phrase_does_not_cross_a_clause():
    reduction = one(Concept(id="variance_reduction", points=1, any=["variance reduction"]))
    assert not earned(reduction, "variance_reduction", "Variance Impact: Bias Reduction")
    assert earned(reduction, "variance_reduction", "It brings a variance reduction")
    increase = one(Concept(id="bias_up", points=1, any=["bias increases"]))
    reversed_claim = "Increasing the complexity can reduce the bias but increase the variance."
    assert not earned(increase, "bias_up", reversed_claim)
    assert earned(increase, "bias_up", "With a stronger penalty the bias increases a little.")


def test_not_with_cancels_a_match_in_its_sentence_only():
    noise = one(Concept(id="noise", points=1, any=["noise"], not_with=["fit noise", "noise in the data"]))
    assert not earned(noise, "noise", "An overfitting model learns to fit the noise.")
    assert not earned(noise, "noise", "It adapts to noise in the data.")
    assert earned(
        noise, "noise", "An overfitting model learns to fit the noise. Batch statistics add noise to each step."
    )


def test_all_with_same_clause_needs_both_sides_together():
    compares = one(
        Concept(id="compares", points=1, same_clause=True, all=[["higher", "closer"], ["dropout", "baseline"]])
    )
    assert earned(compares, "compares", "The dropout model reached a higher test accuracy.")
    assert not earned(compares, "compares", "We added dropout, and the accuracy was higher.")
    assert not earned(compares, "compares", "Train and validation accuracy became closer. Dropout was used.")
    loose = one(Concept(id="compares", points=1, all=[["higher", "closer"], ["dropout", "baseline"]]))
    assert earned(loose, "compares", "We added dropout, and the accuracy was higher.")


def test_a_one_letter_typo_the_stemmer_does_not_fix_is_forgiven():
    assert stem("panalty") != stem("penalty") and stem("droput") != stem("dropout")
    penalty = one(Concept(id="penalty", points=1, any=["penalty"]))
    assert earned(penalty, "penalty", "It adds a panalty on large weights.")
    dropout = one(Concept(id="dropout", points=1, any=["dropout layer"]))
    assert earned(dropout, "dropout", "I used a droput layer.")
    assert not earned(dropout, "dropout", "I used a dripput layer.")


def test_publishing_drops_the_phrases_that_cancel_a_hidden_concept():
    public = publish(RUBRIC)
    assert all(not c.not_with for q in public.questions for c in q.concepts if c.hidden)


@pytest.mark.parametrize(
    ("question", "concept", "text"),
    [
        (
            "q2",
            "regularization_trades_bias_for_variance",
            "Variance Impact: Bias Reduction. Regularization makes the model generalize.",
        ),
        (
            "q7",
            "batch_noise_regularizes",
            "Overfitting means learning too much noise or irrelevant details from the training data.",
        ),
        ("q6", "patience_best_weights", "The evaluation can be done after a certain number of epochs."),
        (
            "q8",
            "compares_models",
            "Training and validation accuracy differ at first but after some epochs they become very close.",
        ),
        ("q8", "compares_models", "Similarly, the loss went down during training."),
    ],
)
def test_the_shipped_rubric_no_longer_credits_the_corpus_false_matches(question, concept, text):
    assert not earned(RUBRIC.question(question), concept, text)


@pytest.mark.parametrize(
    ("question", "concept", "text"),
    [
        ("q2", "regularization_trades_bias_for_variance", "A penalty lowers variance at the cost of some bias."),
        ("q7", "batch_noise_regularizes", "The batch statistics add noise to every step, which acts as a regularizer."),
        ("q6", "patience_best_weights", "Training stops after a number of consecutive epochs without improvement."),
        ("q8", "compares_models", "The model with dropout reached a higher test accuracy than the baseline."),
    ],
)
def test_the_shipped_rubric_still_credits_the_claims(question, concept, text):
    assert earned(RUBRIC.question(question), concept, text)


CORPUS_CASES = [  # (notebook, question, concept, what was wrongly quoted before)
    ("20_vijaytate.ipynb", "q2", "regularization_trades_bias_for_variance", "tradeoff"),
    ("06_shadab-khannn.ipynb", "q7", "batch_noise_regularizes", "noise"),
    ("10_shubham36842.ipynb", "q6", "patience_best_weights", "number of epochs"),
    ("10_shubham36842.ipynb", "q8", "compares_models", "close"),
]


@pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not beside this checkout")
@pytest.mark.parametrize(("name", "question", "concept", "wrong"), CORPUS_CASES)
def test_corpus_answers_the_reader_marked_wrong_do_not_earn_by_the_wrong_words(name, question, concept, wrong):
    answers = gather_evidence(nbformat.read(CORPUS / name, as_version=4), RUBRIC, ASSIGNMENT.template_lines).answers
    grade = score_answer(RUBRIC.question(question), answers.get(question))
    result = next(c for c in grade.concepts if c.id == concept)
    assert wrong not in result.evidence
