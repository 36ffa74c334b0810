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
