"""The instructor's story: grade a folder of notebooks with one command and read the results."""

import json
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest
from typer.testing import CliRunner

from grader.cli import app

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "regularization"

Q8_CODE = [
    "import keras\nimport numpy as np\n(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
    "x_train, y_train = x_train[:2048] / 255.0, y_train[:2048]\nx_test, y_test = x_test[:100] / 255.0, y_test[:100]",
    "def build(rate):\n    layers = [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(32, activation='relu')]\n"
    "    if rate:\n        layers.append(keras.layers.Dropout(rate))\n    layers.append(keras.layers.Dense(10, activation='softmax'))\n"
    "    model = keras.Sequential(layers)\n    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n    return model",
    # enough rows and steps to learn: the models are verified outside the kernel
    "model_with_dropout = build(0.5)\nmodel_with_dropout.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)\n"
    "model_without_dropout = build(0)\nmodel_without_dropout.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)",
    "_, acc_dropout = model_with_dropout.evaluate(x_test, y_test, verbose=0)\n_, acc_plain = model_without_dropout.evaluate(x_test, y_test, verbose=0)\n"
    "print(f'with dropout: {acc_dropout:.4f}  without: {acc_plain:.4f}')",
]


def student_notebook(answers: dict[str, str], code: list[str]) -> nbformat.NotebookNode:
    cells = []
    for number in range(1, 10):
        cells.append(nbf.new_markdown_cell(f"## Q{number}"))
        if number == 8:
            cells.extend(nbf.new_code_cell(source) for source in code)
        if f"q{number}" in answers:
            cells.append(nbf.new_markdown_cell(answers[f"q{number}"]))
    return nbf.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    answers = {
        "q1": "Regularization prevents overfitting so the network generalizes to unseen data. <script>alert('x')</script>",
        "q5": "Dropout randomly sets a fraction of the neurons to zero during training, which reduces co-adaptation; at inference it is turned off.",
        "q8": "The model with dropout had a smaller gap between training and validation accuracy, so dropout reduced overfitting.",
    }
    nbformat.write(student_notebook(answers, Q8_CODE), folder / "alice.ipynb")
    nbformat.write(student_notebook({}, ["!pip install tensorflow", "raise ValueError('boom')"]), folder / "bob.ipynb")
    (folder / "carol.ipynb").write_text('{"cells": [ {"cell_type": "mark', encoding="utf-8")
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(
        app, ["grade", str(folder), "--assignment", str(ASSIGNMENT), "--out", str(out), "--quiet"]
    )
    assert result.exit_code == 0, result.output
    grades = {row["student"]: row for row in json.loads((out / "grades.json").read_text())}
    return out, grades


def test_every_submission_is_a_row_and_a_broken_file_is_an_error_row(graded):
    out, grades = graded
    assert set(grades) == {"alice", "bob", "carol"}
    assert grades["carol"]["status"] == "error"
    assert "JSON is broken" in grades["carol"]["error"]
    assert (out / "index.html").exists()
    assert {p.name for p in (out / "reports").iterdir()} == {"alice.html", "bob.html", "carol.html"}


def test_the_code_checks_pass_from_what_really_ran(graded):
    _, grades = graded
    checks = {c["id"]: c for c in grades["alice"]["checks"]}
    assert all(c["passed"] for c in checks.values()), checks
    assert "Dropout(0.5)" in checks["dropout_model"]["evidence"][0]
    assert grades["alice"]["execution"]["status"] == "ok"


def test_written_answers_earn_concepts_with_evidence(graded):
    _, grades = graded
    q1 = next(q for q in grades["alice"]["questions"] if q["id"] == "q1")
    assert q1["score"] > 0 and any(c["found"] for c in q1["concepts"])
    assert grades["alice"]["score"] > grades["bob"]["score"]


def test_failures_and_skipped_shell_lines_are_reported(graded):
    out, grades = graded
    bob = grades["bob"]
    assert bob["execution"]["skipped"] == ["!pip install tensorflow"]
    assert len(bob["execution"]["cells_failed"]) == 1
    assert bob["score"] == 0
    page = (out / "reports" / "bob.html").read_text()
    assert "ValueError" in page and "!pip install tensorflow" in page


def test_student_text_is_escaped_in_the_report(graded):
    out, _ = graded
    page = (out / "reports" / "alice.html").read_text()
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert" in page
    assert "Content-Security-Policy" in page
