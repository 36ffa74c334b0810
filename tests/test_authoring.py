"""Authoring a rubric: drafts worth editing from a CSV or from notebooks, any question ids, and lint's warnings."""

import csv
from pathlib import Path

import nbformat
import pytest
import yaml
from typer.testing import CliRunner

from grader.assignment import load_assignment
from grader.authoring import common_words
from grader.authoring.draft import question_key, split_points
from grader.authoring.lint import lint_rubric
from grader.cli import app
from grader.rubric import load_rubric, parse_rubric
from grader.score.semantic import FUNCTION_WORDS
from grader.text import phrase_stems

ROOT = Path(__file__).resolve().parents[1]

QUESTIONS = [
    (
        "1.1",
        "What does a plant need to make its food?",
        "Plants use sunlight, water and carbon dioxide to make sugar in their leaves; the leaves capture light with chlorophyll.",
        "7",
        "1",
        "1",
    ),
    (
        "12.10",
        "Why do magnets stick to a fridge door?",
        "The door contains iron, and iron is attracted by the magnet's field even though the door itself is not a magnet.",
        "4.5",
        "2",
        "1",
    ),
    (
        "Q1a",
        "What is overfitting?",
        "A model that memorises noise in its 32 training examples performs poorly on unseen data.",
        "",
        "",
        "",
    ),
]


@pytest.fixture
def questions_csv(tmp_path):
    path = tmp_path / "questions.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["question_id", "prompt", "reference", "points", "part", "number"])
        writer.writerows(QUESTIONS)
    return path


def test_any_question_id_gets_a_safe_key_and_keeps_its_label():
    taken: set[str] = set()
    assert [question_key(label, taken) for label in ("1.1", "12.10", "Q1a", "1_1", "Part 2 / Q3")] == [
        "q1_1",
        "q12_10",
        "Q1a",
        "q1_1_2",
        "Part_2_Q3",
    ]


def test_points_are_whole_or_half_and_add_up_exactly():
    for points, parts in ((10, 3), (7, 4), (8, 5), (4.5, 4), (1, 5), (0.8 * 10, 5)):
        shares = split_points(points, parts)
        assert sum(shares) == points and all(s * 2 == int(s * 2) for s in shares)
    assert split_points(1, 5) == [0.5, 0.5]


def test_draft_from_a_csv_through_the_cli_is_a_rubric_worth_editing(questions_csv, tmp_path):
    out = tmp_path / "draft.yaml"
    result = CliRunner().invoke(
        app, ["rubric", "draft", "--questions", str(questions_csv), "--out", str(out), "--keywords-only"]
    )
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    assert "# min_words" in text and "# id q1_1: a rubric key made from the question id '1.1'" in text
    rubric = load_rubric(out)
    assert [(q.id, q.label) for q in rubric.questions] == [("q1_1", "1.1"), ("q12_10", "12.10"), ("Q1a", "")]
    assert rubric.question("1.1") is rubric.question("q1_1")
    first, second, third = rubric.questions
    assert first.locate.part == 1 and first.locate.number_in_part == 1 and first.min_words >= 3
    assert second.points == 4.5 and third.points == 10
    for question in rubric.questions:
        asked = set(phrase_stems(question.prompt))
        assert 1 <= len(question.concepts) <= 5
        assert sum(c.points for c in question.concepts) == question.points
        for concept in question.concepts:
            assert all(c * 2 == int(c * 2) for c in [concept.points])
            assert concept.hint.startswith("Explain") and "…" not in concept.hint
            for phrase in concept.any:
                assert not any(ch.isdigit() for ch in phrase)
                assert phrase.split()[-1] not in FUNCTION_WORDS
                assert not set(phrase_stems(phrase)) <= asked
    assert len(first.concepts) >= 3


def test_answers_scored_by_the_ids_people_use(questions_csv, tmp_path):
    runner = CliRunner()
    rubric = tmp_path / "draft.yaml"
    assert (
        runner.invoke(
            app, ["rubric", "draft", "--questions", str(questions_csv), "--out", str(rubric), "--keywords-only"]
        ).exit_code
        == 0
    )
    answers = tmp_path / "answers.csv"
    answers.write_text(
        "question_id,answer_id,text\n"
        '1.1,a1,"Leaves capture sunlight with chlorophyll and use water and carbon dioxide to make sugar."\n'
        "12.10,a2,I do not know.\n",
        encoding="utf-8",
    )
    scores = tmp_path / "scores.csv"
    result = runner.invoke(
        app,
        ["score-answers", "--rubric", str(rubric), "--answers", str(answers), "--out", str(scores), "--keywords-only"],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.DictReader(scores.open(encoding="utf-8")))
    assert [r["question_id"] for r in rows] == ["1.1", "12.10"]
    assert float(rows[0]["score"]) == 7 and float(rows[1]["score"]) == 0


def test_draft_rejects_a_bad_csv_with_a_message_that_names_the_line(tmp_path):
    path = tmp_path / "q.csv"
    path.write_text("question_id,prompt,reference,points\n1.1,Why?,Because.,2.3\n", encoding="utf-8")
    result = CliRunner().invoke(app, ["rubric", "draft", "--questions", str(path), "--out", str(tmp_path / "o.yaml")])
    message = " ".join(result.output.split())
    assert result.exit_code != 0 and "line 2" in message and "half" in message
    result = CliRunner().invoke(app, ["rubric", "draft", "--out", str(tmp_path / "o.yaml")])
    assert result.exit_code != 0 and "--questions" in result.output


def _notebook(cells):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell(c) for c in cells]
    return notebook


PROMPTS = [
    "## Part 1: Basics",
    "### Q1. What does Batch Normalization do to the inputs of a layer?",
    "*Your answer here.*",
    "## Part 2: Training",
    "### Q2. Why can a network with Batch Normalization use a higher learning rate?",
    "*Your answer here.*",
]
ANSWERS = [
    "It standardizes each feature over the mini-batch to zero mean and unit variance, then applies a learned scale and shift.",
    "Normalized activations keep gradients well scaled, so larger steps stay stable and training converges faster.",
]


def _draft(tmp_path, *extra, code=()):
    """`grader rubric draft` from a solution and its template written under ``tmp_path``; ``code``: the
    solution's code cells."""
    template, solution = tmp_path / "template.ipynb", tmp_path / "solution.ipynb"
    nbformat.write(_notebook(PROMPTS), template)
    written = _notebook([PROMPTS[0], PROMPTS[1], ANSWERS[0], PROMPTS[3], PROMPTS[4], ANSWERS[1]])
    written.cells += [nbformat.v4.new_code_cell(source) for source in code]
    nbformat.write(written, solution)
    arguments = ["--solution", str(solution), "--template", str(template), "--keywords-only", *extra]
    return CliRunner().invoke(app, ["rubric", "draft", "--out", str(tmp_path / "draft.yaml"), *arguments])


def test_draft_from_a_solution_and_its_template(tmp_path):
    result = _draft(tmp_path)
    assert result.exit_code == 0, result.output
    out, answers = tmp_path / "draft.yaml", ANSWERS
    rubric = load_rubric(out)
    assert [q.id for q in rubric.questions] == ["Q1", "Q2"]
    assert rubric.questions[0].reference == answers[0]
    assert rubric.questions[1].locate.part == 2 and rubric.questions[1].locate.number_in_part == 1
    assert rubric.questions[1].locate.numbers == [2]


def test_draft_writes_the_assignment_file_the_grader_loads(tmp_path):
    folder = tmp_path / "assignments" / "bn"
    folder.mkdir(parents=True)
    (folder / "wine.csv").write_text("a,b\n1,2\n", encoding="utf-8")
    reads = "import pandas as pd\nwine = pd.read_csv('/content/wine.csv')\nextra = pd.read_csv('data/extra.csv')"
    result = _draft(tmp_path, "--assignment", str(folder), code=[reads])
    assert result.exit_code == 0, result.output
    assignment = load_assignment(folder)
    assert [q.id for q in assignment.rubric.questions] == ["Q1", "Q2"]
    assert assignment.rubric_path == (tmp_path / "draft.yaml").resolve()
    assert assignment.template == (tmp_path / "template.ipynb").resolve()
    assert [path.name for path in assignment.files] == ["wine.csv"]  # beside the assignment: staged
    text = (folder / "assignment.yaml").read_text(encoding="utf-8")
    assert "# The solution reads data/extra.csv: put extra.csv in this folder" in text  # not there: said
    again = _draft(tmp_path, "--assignment", str(folder))
    assert again.exit_code != 0 and "already exists" in again.output
    assert (folder / "assignment.yaml").read_text(encoding="utf-8") == text


def lint_messages(question: dict, *others: dict) -> list[str]:
    rubric = parse_rubric({"title": "T", "questions": [question, *others]})
    return [f.message for f in lint_rubric(rubric)]


def question(concepts, **extra):
    return {
        "id": "q1",
        "prompt": "Compare the two optimizers.",
        "points": sum(c["points"] for c in concepts),
        "concepts": concepts,
        **extra,
    }


def test_lint_sums_exactly_and_warns_about_digits_and_common_words():
    tenths = [{"id": f"c{i}", "points": 0.8, "any": [f"word{chr(97 + i)}"]} for i in range(10)]
    messages = lint_messages({"id": "q1", "prompt": "Why?", "points": 8, "concepts": tenths})
    assert not any("full marks" in m for m in messages)
    messages = lint_messages(question([{"id": "a", "points": 2, "any": ["32", "more", "the same"]}]))
    assert any("'32' is only a number" in m for m in messages)
    assert any("'more' is only common words" in m for m in messages)
    assert any("'the same' is only common words" in m for m in messages)


@pytest.mark.skipif(not common_words.available(), reason="the authoring extra (wordfreq) is not installed")
def test_lint_names_stems_shared_with_common_words():
    messages = lint_messages(question([{"id": "a", "points": 2, "any": ["difference", "experiment", "overfitting"]}]))
    assert any("'difference' shares its stem with different" in m for m in messages)
    assert any("'experiment' shares its stem with experience" in m for m in messages)
    assert not any("overfitting" in m and "shares" in m for m in messages)


@pytest.mark.skipif(not common_words.available(), reason="the authoring extra (wordfreq) is not installed")
def test_lint_warns_about_a_concept_one_common_word_earns():
    """What a draft of a technical homework leaves ('loss' of "loss function", 'points' of "saddle
    points"): none of the shipped, hand-written rubrics has such a concept."""
    concepts = [
        {"id": "loss", "points": 2, "any": ["loss", "points"]},
        {"id": "loss_function", "points": 2, "any": ["loss function"]},
        {"id": "saddle", "points": 2, "any": ["saddle"]},
        {"id": "both", "points": 2, "all": [["loss"], ["minimize", "minimise"]]},
    ]
    lone = [m for m in lint_messages(question(concepts)) if "single common word" in m]
    assert lone == [
        "concept loss is earned by a single common word ('loss', 'points'): an answer may say it in passing; "
        "write the term it stands for (a longer phrase) or add a second word with `all:`"
    ]
    for shipped in ("regularization", "batchnorm"):
        rubric = load_rubric(ROOT / "rubrics" / f"{shipped}.yaml")
        assert not [f for f in lint_rubric(rubric) if "single common word" in f.message], shipped


def test_lint_warns_about_a_phrase_inside_a_hyphenated_compound():
    first = question(
        [
            {"id": "full_batch", "points": 2, "any": ["batch gradient descent"]},
            {"id": "lr", "points": 2, "any": ["learning rate"]},
        ],
        reference="Batch gradient descent uses the whole training set; mini-batch gradient descent uses a few examples and a learning rate.",
    )
    messages = lint_messages(first)
    assert any("'batch gradient descent' also matches inside 'mini-batch gradient descent'" in m for m in messages)


def test_lint_warns_only_about_phrases_another_question_asks_about():
    momentum = {
        "id": "q1",
        "prompt": "What does momentum add to gradient descent?",
        "points": 2,
        "reference": "Momentum keeps a running average of past gradients, so oscillations cancel.",
        "concepts": [
            {
                "id": "average",
                "points": 2,
                # asked by q2 (warned); said only in q2's reference (shared vocabulary); in its own prompt
                "any": ["running average", "learning rate schedule", "steps shrink", "gradient descent"],
            }
        ],
    }
    schedule = {
        "id": "q2",
        "label": "2.1",
        "prompt": "Why use a learning rate schedule?",
        "points": 2,
        "reference": "Decaying the learning rate lets the steps shrink near the minimum of gradient descent.",
        "concepts": [{"id": "decay", "points": 2, "any": ["decaying", "steps shrink"]}],
    }
    messages = lint_messages(momentum, schedule)
    elsewhere = [m for m in messages if "asks about" in m]
    assert len(elsewhere) == 1, messages
    assert "'learning rate schedule' are what q2 asks about" in elsewhere[0]
    assert "an answer to that question would earn this concept" in elsewhere[0]
    assert not any(p in elsewhere[0] for p in ("steps shrink", "gradient descent", "running average"))


def test_lint_cli_stays_quiet_on_a_clean_rubric(tmp_path):
    path = tmp_path / "clean.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "title": "T",
                "questions": [
                    question(
                        [
                            {"id": "a", "points": 2, "any": ["momentum"]},
                            {"id": "b", "points": 2, "any": ["learning rate"]},
                        ],
                        reference="Momentum smooths the steps and the learning rate sets their size.",
                    )
                ],
            }
        )
    )
    result = CliRunner().invoke(app, ["rubric", "lint", str(path), "--strict"])
    assert result.exit_code == 0, result.output


def test_rubric_try_shows_the_matching_sentence_and_the_nearest_miss(tmp_path):
    rubric = tmp_path / "rubric.yaml"
    rubric.write_text(
        yaml.safe_dump(
            {
                "title": "Optimizers <b>",
                "questions": [
                    {
                        "id": "q1",
                        "label": "1.1",
                        "prompt": "How does momentum help gradient descent?",
                        "points": 4,
                        "concepts": [
                            {"id": "running_average", "points": 2, "any": ["running average of gradients"]},
                            {"id": "damps_oscillation", "points": 2, "any": ["damps oscillations"]},
                        ],
                    }
                ],
            }
        )
    )
    notebook = _notebook(
        [
            "### Q1. How does momentum help gradient descent?",
            "It keeps a running average of past gradients. The <script>alert(1)</script> steps oscillate less.",
        ]
    )
    path = tmp_path / "student.ipynb"
    nbformat.write(notebook, path)
    broken = tmp_path / "broken.ipynb"
    broken.write_text("not json", encoding="utf-8")
    page = tmp_path / "try.html"
    result = CliRunner().invoke(
        app, ["rubric", "try", str(rubric), str(path), str(broken), "--out", str(page), "--keywords-only"]
    )
    assert result.exit_code == 0, result.output
    assert "student.ipynb: 2 / 4" in result.output
    assert (
        '+ running_average (2): matched by its phrases: running average of past gradients "It keeps a running average'
        in result.output
    )
    assert "- damps_oscillation (2): nearest to 'damps oscillations': lacks 'damps'" in result.output
    assert "broken.ipynb" in result.output and "not a readable notebook" in result.output
    html = page.read_text(encoding="utf-8")
    assert "Content-Security-Policy" in html and "<script>" not in html and "&lt;script&gt;" in html
    assert "Optimizers &lt;b&gt;" in html and "1.1: 2 / 4" in html


def test_the_assignment_reference_example_is_a_valid_assignment_file():
    from grader.assignment import AssignmentFile

    text = (Path(__file__).resolve().parents[1] / "docs" / "assignment.md").read_text(encoding="utf-8")
    example = text.split("```yaml\n", 1)[1].split("```", 1)[0]
    config = AssignmentFile.model_validate(yaml.safe_load(example))
    documented = set(AssignmentFile.model_fields)
    assert documented <= set(yaml.safe_load(example)), "every key of assignment.yaml has an example"
    assert config.sandbox.memory == 4 * 2**30 and config.budget.fast.max_epochs == 1


def test_the_nearest_miss_of_a_two_sided_concept_names_the_missing_side():
    from grader.authoring.try_rubric import nearest_miss
    from grader.rubric import Concept
    from grader.score.semantic import split_sentences

    concept = Concept(id="both", points=1, same_clause=True, all=[["mean"], ["variance", "standard deviation"]])
    sentence, note = nearest_miss(concept, split_sentences("It subtracts the mean. Then it trains."))
    assert sentence == "It subtracts the mean" and note == "lacks 'variance / standard deviation'"
    sentence, note = nearest_miss(concept, split_sentences("The mean is used, and so is the variance."))
    assert note == "has every part, but not together in one clause"
