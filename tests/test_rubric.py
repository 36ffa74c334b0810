"""A rubric with a mistake fails on load with the path of the bad field."""

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from grader.assignment import load_assignment
from grader.cli import app
from grader.rubric import RubricError, parse_rubric

ROOT = Path(__file__).resolve().parents[1]


def minimal(**question_changes):
    question = {"id": "q1", "prompt": "Why?", "points": 5, "concepts": [{"id": "a", "points": 5, "any": ["because"]}]}
    question.update(question_changes)
    return {"title": "T", "questions": [question]}


def test_bad_points_name_the_field_and_the_rule():
    data = minimal(concepts=[{"id": "a", "points": 0, "any": ["x"]}])
    with pytest.raises(RubricError, match=r"questions\[0\]\.concepts\[0\]\.points: must be > 0"):
        parse_rubric(data, "r.yaml")


def test_unknown_fields_and_duplicate_ids_are_reported():
    with pytest.raises(RubricError, match=r"questions\[0\]\.concepts\[0\]\.anny: unknown field"):
        parse_rubric(minimal(concepts=[{"id": "a", "points": 1, "anny": ["x"]}]))
    data = minimal(concepts=[{"id": "a", "points": 1, "any": ["x"]}, {"id": "a", "points": 1, "any": ["y"]}])
    with pytest.raises(RubricError, match="duplicate id 'a'"):
        parse_rubric(data)


def test_a_concept_worth_more_than_its_question_and_a_wrong_total_fail():
    with pytest.raises(RubricError, match="more than the question"):
        parse_rubric(minimal(concepts=[{"id": "a", "points": 9, "any": ["x"]}]))
    with pytest.raises(RubricError, match="total is 50"):
        parse_rubric({**minimal(), "total": 50})


def test_the_shipped_assignment_loads_and_is_worth_100():
    assignment = load_assignment(ROOT / "assignments" / "regularization")
    assert assignment.rubric.max_score == 100
    assert [q.id for q in assignment.rubric.questions] == [f"q{n}" for n in range(1, 10)]


def test_rubric_lint_through_the_cli(tmp_path):
    runner = CliRunner()
    good = runner.invoke(app, ["rubric", "lint", str(ROOT / "rubrics" / "regularization.yaml")])
    assert good.exit_code == 0 and "100 points" in good.output
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(minimal(points=-1)))
    result = runner.invoke(app, ["rubric", "lint", str(bad)])
    assert result.exit_code == 2
    assert "questions[0].points" in result.output


def test_lint_warns_about_rubrics_that_would_grade_badly(tmp_path):
    data = minimal(
        points=6,
        reference="Because it is so.",
        concepts=[
            {"id": "a", "points": 2, "any": ["because"]},
            {"id": "b", "points": 2, "any": ["not"]},
            {"id": "c", "points": 1, "any": ["why"]},
        ],
    )
    path = tmp_path / "weak.yaml"
    path.write_text(yaml.safe_dump(data))
    result = CliRunner().invoke(app, ["rubric", "lint", str(path), "--strict"])
    assert result.exit_code == 1
    assert "full marks are impossible" in result.output
    assert "only a negation" in result.output
    assert "only repeats the question" in result.output
    assert "reference answer scores" in result.output


def test_draft_writes_a_rubric_that_grader_uses_as_is(tmp_path):
    questions = tmp_path / "questions.csv"
    questions.write_text(
        "question_id,prompt,reference\n"
        'q1,What is overfitting?,"A model that memorises noise in the training data performs poorly on unseen data."\n',
        encoding="utf-8",
    )
    out = tmp_path / "rubric.yaml"
    result = CliRunner().invoke(app, ["rubric", "draft", "--questions", str(questions), "--out", str(out)])
    assert result.exit_code == 0, result.output
    from grader.models import Answer
    from grader.rubric import load_rubric
    from grader.score.concepts import score_answer

    rubric = load_rubric(out)
    question = rubric.question("q1")
    assert score_answer(question, Answer("q1", question.reference, (), 1.0)).score == question.points
    assert score_answer(question, Answer("q1", "I do not know.", (), 1.0)).score == 0


def with_check(**check):
    return {**minimal(), "checks": [{"id": "dropout_model", "points": 5, "kind": "trained_model_with_layers",
                                     "params": {"layers": ["Dropout"]}}, check]}  # fmt: skip


def test_a_misspelt_check_param_or_kind_is_an_error_naming_it():
    misspelt = {
        "id": "c",
        "points": 1,
        "kind": "trained_model_with_layers",
        "params": {"layers": ["Dropout"], "min_epoch": 2},
    }
    with pytest.raises(RubricError, match=r"checks\[1\]\.params\.min_epoch: unknown field"):
        parse_rubric(with_check(**misspelt))
    with pytest.raises(RubricError, match=r"checks\[1\]\.kind: unknown check kind 'trained_with'"):
        parse_rubric(with_check(id="c", points=1, kind="trained_with"))
    with pytest.raises(RubricError, match=r"checks\[1\]\.params\.layers: Field required"):
        parse_rubric(with_check(id="c", points=1, kind="trained_model_without_layers", params={}))


def test_a_check_may_use_only_the_models_of_a_check_above_it():
    later = with_check(id="c", points=1, kind="results_reported", params={"models": ["dropout_model", "baseline"]})
    with pytest.raises(
        RubricError, match=r"checks\[1\]\.params\.models\[1\]: 'baseline' names no check; name a check above"
    ):
        parse_rubric(later)
    assert parse_rubric(with_check(id="c", points=1, kind="results_reported", params={"models": ["dropout_model"]}))


def test_every_check_kind_of_the_rubric_has_its_verdicts_and_typed_params():
    from grader.check_specs import CHECK_KINDS
    from grader.rubric import load_rubric
    from grader.score.checks import KINDS

    assert set(KINDS) == set(CHECK_KINDS)
    rubric = load_rubric(ROOT / "rubrics" / "regularization.yaml")
    assert rubric.checks[0].params.min_rate == 0.0 and rubric.checks[0].params.min_epochs == 1


def test_a_question_discusses_only_checks_the_rubric_has_and_leaving_it_out_keeps_the_fingerprint():
    with pytest.raises(RubricError, match=r"discusses: 'bn_model' names no check"):
        parse_rubric(minimal(discusses=["bn_model"]))
    assert parse_rubric(minimal()).fingerprint() == parse_rubric(minimal(discusses=[])).fingerprint()
    assert parse_rubric(minimal()).fingerprint() != parse_rubric(minimal(prompt="Why not?")).fingerprint()
