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


# ------------------------------------------------------------------ students' notebooks, not run
# Re-created from public notebooks of this homework (assignments/batchnorm/make_student_examples.py names
# each source). Graded once with --no-run: what the saved notebooks show.

STUDENTS = ("raw_prompts", "markdown_code", "pytorch_claims")


@pytest.fixture(scope="module")
def students_out(tmp_path_factory):
    out = tmp_path_factory.mktemp("students")
    notebooks = [str(ASSIGNMENT / "examples" / f"{name}.ipynb") for name in STUDENTS]
    result = CliRunner().invoke(
        app, ["grade", *notebooks, "--assignment", str(ASSIGNMENT), "--out", str(out), "--no-run", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def students(students_out):
    return {row["student"]: row for row in json.loads((students_out / "grades.json").read_text())}


def _questions(record):
    return {q["label"]: q for q in record["questions"]}


def _answered_or_flagged(question):
    """No silent zero: the answer was found and scored, or a person is told where it may be."""
    found = question["score"] > 0 and question["answer_cells"]
    return found or any("but the answer placed under" in f for f in question["flags"])


def _checks(record):
    return {c["id"]: c for c in record["checks"]}


def test_code_pasted_into_markdown_earns_at_most_half_and_is_flagged(students):
    record = students["markdown_code"]
    checks = _checks(record)
    assert all(c["source"] == "static" for k, c in checks.items() if k != "comparison_reported")
    assert all(c["score"] <= c["max_score"] / 2 for c in checks.values())
    assert "a markdown cell, which never runs" in checks["bn_model"]["evidence"][0]
    assert any("come from reading the code" in f for f in record["flags"])
    questions = _questions(record)
    assert questions["3.1"]["score"] == 0  # "try different batch sizes" is not an experiment
    # 2.2 claims the higher accuracy of a network that never ran: its points are for a person to confirm
    assert any("discussing results, but none of the checks it discusses passed" in f for f in questions["2.2"]["flags"])
    assert _answered_or_flagged(questions["1.2"]) and _answered_or_flagged(questions["1.3"])  # one cell for Part 1


def test_answers_listed_under_one_heading_are_not_a_silent_zero(students):
    questions = _questions(students["pytorch_claims"])
    assert questions["1.1"]["score"] == 10
    for label in ("1.2", "1.3"):
        assert _answered_or_flagged(questions[label]), questions[label]
    assert questions["3.2"]["score"] == 15
    assert _checks(students["pytorch_claims"])["comparison_reported"]["passed"]  # the saved accuracies


def test_a_wrong_formula_does_not_earn_the_formula_and_raw_cell_answers_are_flagged(students):
    record = students["raw_prompts"]
    questions = _questions(record)
    found = {c["id"]: c["found"] for c in questions["1.3"]["concepts"]}
    assert not found["normalization_formula"]  # (x - µ) / √σ
    assert found["gamma_beta"] and found["batch_mean_variance"]
    assert _answered_or_flagged(questions["2.2"])  # its 2.5 and 2.6 answers are raw cells
    checks = _checks(record)
    assert checks["bn_model"]["passed"] and checks["bn_model"]["source"] == "static"  # the saved training log
    assert not checks["comparison_reported"]["passed"]  # no numbers compared in words or printed
    held_out = checks["evaluated_on_held_out_data"]  # only fit(..., validation_data=(test_images, test_labels))
    assert (
        held_out["source"] == "static" and held_out["passed"]
    )  # its saved log shows val_accuracy: what a reader credits
    assert "fit() validated on test_images" in held_out["evidence"][0] and "unverified" in held_out["evidence"][0]
    assert any("come from reading the code" in f for f in record["flags"])


def test_the_spreadsheet_names_question_columns_as_students_see_them(students_out):
    result = CliRunner().invoke(app, ["export", "--out", str(students_out), "--format", "csv"])
    assert result.exit_code == 0, result.output
    header = (students_out / "exports" / "grades.csv").read_text(encoding="utf-8-sig").splitlines()[0].split(",")
    assert header[11:17] == ["Q1.1", "Q1.2", "Q1.3", "Q2.2", "Q3.1", "Q3.2"]
    assert header[17] == "check:bn_model"
