"""The second assignment, Batch Normalization: its files load, its solution earns full marks from what
really ran, and a weak submission (plain network only, evaluated on its training data) does not."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from grader.assignment import load_assignment
from grader.authoring.lint import lint_rubric
from grader.cli import app

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "batchnorm"


def test_the_assignment_loads_with_the_ids_people_see():
    assignment = load_assignment(ASSIGNMENT)
    rubric = assignment.rubric
    assert rubric.max_score == 100
    assert [q.label for q in rubric.questions] == ["1.1", "1.2", "1.3", "2.2", "3.1", "3.2"]
    assert rubric.question("2.2").id == "q2_2"
    findings = lint_rubric(rubric)
    assert not any("full marks are impossible" in f.message or "reference answer scores" in f.message for f in findings)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("batchnorm")
    shutil.copy(ASSIGNMENT / "solution.ipynb", folder / "solution.ipynb")
    shutil.copy(ASSIGNMENT / "examples" / "weak.ipynb", folder / "weak.ipynb")
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(
        app, ["grade", str(folder), "--assignment", str(ASSIGNMENT), "--out", str(out), "--quiet", "--jobs", "2"]
    )
    assert result.exit_code == 0, result.output
    return {row["student"]: row for row in json.loads((out / "grades.json").read_text())}


@pytest.mark.slow
def test_the_solution_earns_full_marks_from_what_ran(graded):
    solution = graded["solution"]
    checks = {c["id"]: c for c in solution["checks"]}
    assert all(c["passed"] for c in checks.values()), checks
    assert "BatchNormalization" in checks["bn_model"]["evidence"][0]
    assert solution["score"] == 100, [(q["id"], q["score"]) for q in solution["questions"]]


@pytest.mark.slow
def test_a_plain_network_evaluated_on_its_training_data_fails_the_comparison(graded):
    weak = graded["weak"]
    checks = {c["id"]: c for c in weak["checks"]}
    assert not checks["bn_model"]["passed"] and not checks["comparison_reported"]["passed"]
    assert not checks["evaluated_on_held_out_data"]["passed"]
    assert checks["plain_model"]["passed"]  # the plain network did train: that part is credited
    assert weak["score"] == checks["plain_model"]["score"] == 7
