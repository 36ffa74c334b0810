"""Answers in any layout: the shipped examples' own answers, laid out as real students lay them out,
score as they did, and a good answer is never scored 0 without a flag for a person.

The whole suite (corpus and seed included) is bench/layouts.py; these run the same variants on the
shipped examples, which need nothing beside the checkout.
"""

import json
import sys
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest
from typer.testing import CliRunner

from grader.assignment import load_assignment
from grader.cli import app
from grader.extract.evidence import gather_evidence
from grader.models import Answer, Unplaced
from grader.rubric import parse_rubric
from grader.score import placement

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from bench.layouts import VARIANTS, compare, question_scores  # noqa: E402

ASSIGNMENT_DIR = ROOT / "assignments" / "regularization"
ASSIGNMENT = load_assignment(ASSIGNMENT_DIR)
EXAMPLES = ASSIGNMENT_DIR / "examples"


@pytest.fixture(scope="module", params=["strong", "average"])
def original(request):
    notebook = nbformat.read(EXAMPLES / f"{request.param}.ipynb", as_version=4)
    return request.param, question_scores(notebook, ASSIGNMENT)


@pytest.mark.parametrize("layout", sorted(VARIANTS))
def test_the_same_answers_in_another_layout_score_the_same(original, layout):
    name, scores = original
    answers = {qid: text for qid, (_, _, text) in scores.items() if text}
    variant = question_scores(nbf.new_notebook(cells=VARIANTS[layout](ASSIGNMENT.rubric, answers)), ASSIGNMENT)
    within, pairs, silent = compare(scores, variant, ASSIGNMENT.rubric, layout, name)
    assert silent == []
    assert within >= 0.9 * pairs, {q: (scores[q][0], variant[q][0]) for q in scores}


def test_a_question_without_an_answer_quotes_the_prose_that_went_nowhere():
    unplaced = (Unplaced(3, "I read the lecture notes twice and worked through the examples before writing this."),)
    flags = placement.question_flags(None, unplaced)
    assert flags and flags[0].startswith("needs review: no answer was found") and "cell 3" in flags[0]
    assert "I read the lecture notes twice" in flags[0]
    sure = Answer("q1", "Regularization limits complexity.", (1,), 0.97, "numbered")
    assert placement.question_flags(sure, unplaced) == []
    doubtful = Answer("q1", "Regularization limits complexity.", (1,), 0.55, "what it is about")
    assert placement.question_flags(doubtful, unplaced)[0].startswith(
        "needs review: the answer was located with low confidence"
    )
    assert placement.question_flags(None, ()) == []


def test_a_notebook_with_many_empty_questions_and_much_unplaced_prose_asks_for_review():
    prose = "word " * 160
    flags = placement.notebook_flags([None] * 4 + [Answer("q5", "text", (1,), 0.9)] * 5, (Unplaced(0, prose),), 9)
    assert len(flags) == 1 and "4 of 9 questions have no answer" in flags[0]
    assert placement.notebook_flags([None] * 2 + [Answer("q5", "text", (1,), 0.9)] * 7, (Unplaced(0, prose),), 9) == []


def test_an_empty_question_whose_points_stand_under_another_question_is_flagged():
    rubric = parse_rubric(
        {
            "title": "T",
            "questions": [
                {
                    "id": "q1_1",
                    "label": "1.1",
                    "prompt": "What is it?",
                    "points": 2,
                    "concepts": [{"id": "what", "points": 2, "any": ["normalizes"]}],
                },
                {
                    "id": "q1_2",
                    "label": "1.2",
                    "prompt": "Its benefits?",
                    "points": 3,
                    "concepts": [{"id": c, "points": 1, "any": [c]} for c in ("faster", "stable", "regularizes")],
                },
            ],
        }
    )
    first, second = rubric.questions
    both = Answer("q1_1", "It normalizes each batch. Training is faster and more stable.", (2, 3), 0.9)
    flags = placement.shared_answer_flags(second, None, rubric.questions, {"q1_1": both})
    assert flags == [
        "needs review: no answer was found, but the answer placed under 1.1 (cells 2, 3) makes this question's "
        "points (faster, stable): it may answer both"
    ]
    one = Answer("q1_1", "It normalizes each batch, so training is faster.", (2,), 0.9)  # one of three: not enough
    assert placement.shared_answer_flags(second, None, rubric.questions, {"q1_1": one}) == []
    own = Answer("q1_2", "Faster.", (4,), 0.9)
    assert placement.shared_answer_flags(second, own, rubric.questions, {"q1_1": both, "q1_2": own}) == []
    elsewhere = Answer("q1_2", "Q2-- import tensorflow as tf", (5,), 0.9)  # a cell of another Part, showing nothing
    flags = placement.shared_answer_flags(second, elsewhere, rubric.questions, {"q1_1": both, "q1_2": elsewhere})
    assert flags[0].startswith(
        "needs review: the answer found (cell 5) shows none of its points, but the answer placed under 1.1"
    )


def test_points_every_answer_makes_do_not_claim_an_empty_question_under_an_answer_about_something_else():
    """Real notebooks with no written Q8 were flagged because their Q7 (or Q4) answer says "better accuracy"
    and "overfitting", which are Q8's points too; a passage about Q1 inside Q2's answer still is."""
    rubric = load_assignment(ROOT / "assignments" / "regularization").rubric
    q1, q8 = rubric.question("q1"), rubric.question("q8")
    batchnorm = Answer(
        "q7",
        "Batch normalization normalizes each mini-batch with its mean and variance; it trains faster, reaches better "
        "accuracy than a model without it and fits less noise, so it reduces overfitting and generalizes better.",
        (15,),
        0.95,
    )
    assert placement.shared_answer_flags(q8, None, rubric.questions, {"q7": batchnorm}) == []
    merged = Answer(
        "q2",
        "Regularization adds a penalty to the loss to prevent overfitting, so the network generalizes to new data.\n"
        "The bias variance tradeoff balances underfitting (high bias) against overfitting (high variance).",
        (0, 1),
        0.75,
    )
    flags = placement.shared_answer_flags(q1, None, rubric.questions, {"q2": merged})
    assert flags and "the answer placed under Q2 (cells 0, 1)" in flags[0]


def test_prose_before_any_question_is_kept_and_named_by_the_question_it_may_answer():
    cells = [
        nbf.new_markdown_cell(
            "Before the answers: I read the lecture notes twice, worked through every example in the slides and "
            "asked my tutor about the parts I did not follow."
        ),
        nbf.new_markdown_cell(f"Q5. {ASSIGNMENT.rubric.question('q5').prompt}"),
        nbf.new_markdown_cell("Dropout switches off random neurons in training so they cannot co-adapt."),
    ]
    evidence = gather_evidence(nbf.new_notebook(cells=cells), ASSIGNMENT.rubric, ASSIGNMENT.template_lines)
    assert [u.cell for u in evidence.unplaced] == [0]
    assert "q5" in evidence.answers
    assert "I read the lecture notes" in placement.question_flags(evidence.answers.get("q1"), evidence.unplaced)[0]


def test_the_unchanged_template_is_flagged_not_shown_as_a_plain_zero(tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["grade", str(EXAMPLES / "blank.ipynb"), str(EXAMPLES / "weak.ipynb"), "--assignment", str(ASSIGNMENT_DIR),
              "--out", str(out), "--no-run", "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    grades = {row["student"]: row for row in json.loads((out / "grades.json").read_text())}
    assert placement.UNCHANGED_TEMPLATE in grades["blank"]["flags"]
    assert placement.UNCHANGED_TEMPLATE not in grades["weak"]["flags"]
    review = CliRunner().invoke(app, ["review", "--out", str(out)])
    assert "blank" in review.stdout and "unchanged template" in review.stdout
    assert CliRunner().invoke(app, ["rescore", "--out", str(out), "--quiet"]).exit_code == 0
    rescored = {row["student"]: row for row in json.loads((out / "grades.json").read_text())}
    assert placement.UNCHANGED_TEMPLATE in rescored["blank"]["flags"]  # read from the stored run, not the upload
