"""`grader score-answers`: written answers from a CSV scored by the same rubric scorer, keywords only."""

import csv

import yaml
from typer.testing import CliRunner

from grader.cli import app
from grader.rubric import parse_rubric
from grader.score.answers_api import score_answers

RUBRIC = {
    "title": "Regularization quiz",
    "questions": [
        {
            "id": "q1",
            "prompt": "What is overfitting?",
            "points": 4,
            "reference": "A model that memorises noise in its training data and does poorly on new data.",
            "concepts": [
                {
                    "id": "memorises_noise",
                    "points": 2,
                    "any": ["memorize", "fits the noise"],
                    "hint": "Say what it learns.",
                },
                {"id": "fails_on_new_data", "points": 2, "any": ["new data", "unseen data", "test data"]},
            ],
        },
        {
            "id": "q2",
            "prompt": "Which layer drops units? (a) Dense (b) Dropout",
            "points": 1,
            "kind": "choice",
            "options": ["a", "b"],
            "answer": ["b"],
        },
    ],
}
ANSWERS = [
    ("q1", "ann", "The network memorizes the training set, so it fails on unseen data."),
    ("q1", "bob", "It does not memorize anything, and it works on new data."),
    ("q1", "cy", ""),
    ("q2", "ann", "(b)"),
]


def write_inputs(tmp_path, rubric=RUBRIC, answers=ANSWERS):
    rubric_path = tmp_path / "rubric.yaml"
    rubric_path.write_text(yaml.safe_dump(rubric), encoding="utf-8")
    answers_path = tmp_path / "answers.csv"
    with answers_path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question_id", "answer_id", "text"])
        writer.writerows(answers)
    return rubric_path, answers_path


def test_a_csv_of_answers_comes_back_scored_with_the_concepts_that_earned_the_points(tmp_path):
    rubric, answers = write_inputs(tmp_path)
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app, ["score-answers", "--rubric", str(rubric), "--answers", str(answers), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "4 answers, keywords only" in result.output
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert [(r["answer_id"], r["question_id"]) for r in rows] == [
        ("ann", "q1"),
        ("bob", "q1"),
        ("cy", "q1"),
        ("ann", "q2"),
    ]
    ann, bob, cy, quiz = rows
    assert (float(ann["score"]), float(ann["max_score"])) == (4.0, 4.0)
    assert ann["matched_concepts"] == "memorises_noise; fails_on_new_data"
    assert "memorises_noise: memorizes" in ann["evidence"]
    assert float(bob["score"]) == 2.0 and "memorises_noise appears only in negated form" in bob["flags"]
    assert float(cy["score"]) == 0.0 and "No answer was found" in cy["flags"]
    assert cy["missed_concepts"] == "memorises_noise; fails_on_new_data"
    assert float(quiz["score"]) == 1.0


def test_the_python_function_takes_plain_rows_and_needs_no_model():
    rubric = parse_rubric(RUBRIC)
    rows = [{"question_id": q, "answer_id": a, "text": t} for q, a, t in ANSWERS[:1]]
    [scored] = score_answers(rubric, rows)
    assert scored["score"] == 4.0 and scored["answer_id"] == "ann"


def test_an_answer_for_a_question_the_rubric_lacks_names_the_line(tmp_path):
    rubric, answers = write_inputs(tmp_path, answers=[("q1", "ann", "memorize"), ("q7", "bob", "hello")])
    result = CliRunner().invoke(
        app, ["score-answers", "--rubric", str(rubric), "--answers", str(answers), "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2
    message = " ".join(result.output.split())  # the console wraps long lines
    assert "answers.csv, line 3: question 'q7' is not in the rubric (its questions: q1, q2)" in message
    assert not (tmp_path / "o.csv").exists()


def test_a_csv_without_the_expected_columns_is_refused(tmp_path):
    rubric, _ = write_inputs(tmp_path)
    bad = tmp_path / "bad.csv"
    bad.write_text("id,answer\n1,hello\n", encoding="utf-8")
    result = CliRunner().invoke(
        app, ["score-answers", "--rubric", str(rubric), "--answers", str(bad), "--out", str(tmp_path / "o.csv")]
    )
    assert result.exit_code == 2
    assert "missing column(s) answer_id, question_id, text" in " ".join(result.output.split())


def test_keywords_only_ignores_the_reference_share_and_says_nothing_is_missing(tmp_path):
    with_share = {**RUBRIC, "questions": [{**RUBRIC["questions"][0], "reference_weight": 0.5}]}
    rubric, answers = write_inputs(tmp_path, rubric=with_share, answers=ANSWERS[:1])
    out = tmp_path / "scores.csv"
    result = CliRunner().invoke(
        app, ["score-answers", "--rubric", str(rubric), "--answers", str(answers), "--out", str(out), "--keywords-only"]
    )
    assert result.exit_code == 0, result.output
    [row] = list(csv.DictReader(out.open(encoding="utf-8")))
    assert float(row["score"]) == 4.0  # concepts carry the whole question when semantic matching is off
