"""What a new user trips on (issue 18), each through the command line as they would meet it."""

import csv
import json
import re
import shutil
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import numpy as np
import pytest
from typer.testing import CliRunner

from grader.cli import app

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "regularization"


def invoke(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def last_line(text: str) -> str:
    return text.strip().splitlines()[-1]


def save_mnist(path: Path, **changes) -> Path:
    arrays = {
        "x_train": np.zeros((12, 28, 28), np.uint8), "y_train": np.zeros(12, np.uint8),
        "x_test": np.zeros((4, 28, 28), np.uint8), "y_test": np.zeros(4, np.uint8),
    }  # fmt: skip
    arrays.update(changes)
    np.savez(path, **{k: v for k, v in arrays.items() if v is not None})
    return path


@pytest.fixture(scope="module")
def submissions(tmp_path_factory) -> Path:
    """One readable notebook with an answer, one broken file."""
    folder = tmp_path_factory.mktemp("submissions")
    cells = [nbf.new_markdown_cell("## Q1"), nbf.new_markdown_cell("Regularization prevents overfitting.")]
    nbformat.write(nbf.new_notebook(cells=cells), folder / "ann.ipynb")
    (folder / "ben.ipynb").write_text('{"cells": [', encoding="utf-8")
    return folder


# --- 1. inputs checked before any kernel starts -------------------------------------------------


@pytest.mark.parametrize(
    "name, changes, complaint",
    [
        ("pickled.npz", {"x_train": np.array([{"a": 1}] * 12, dtype=object)}, "x_train holds pickled Python objects"),
        ("partial.npz", {"y_test": None}, "missing y_test"),
        ("flat.npz", {"x_train": np.zeros((12, 784), np.uint8)}, "x_train has shape (12, 784)"),
        ("labels.npz", {"y_train": np.zeros(11, np.uint8)}, "y_train has shape (11,)"),
        ("text_labels.npz", {"y_test": np.array(["a", "b", "c", "d"])}, "y_test holds <U1"),
    ],
)
def test_a_bad_data_file_stops_the_batch_before_anything_runs(tmp_path, submissions, name, changes, complaint):
    data = save_mnist(tmp_path / name, **changes)
    out = tmp_path / "out"
    result = invoke("grade", submissions, "--assignment", ASSIGNMENT, "--out", out, "--data", f"mnist={data}")
    assert result.exit_code == 2, result.output
    line = last_line(result.output)
    assert line.startswith(f"error: --data mnist={data}: ") and complaint in line, line
    assert not (out / "gradebook.sqlite").exists() and not (out / "grades.json").exists()


def test_a_file_that_is_not_an_npz_at_all_is_named_as_such(tmp_path, submissions):
    data = tmp_path / "mnist.pkl"
    data.write_bytes(b"\x80\x04\x95not an npz")
    result = invoke(
        "grade", submissions, "--assignment", ASSIGNMENT, "--out", tmp_path / "out", "--data", f"mnist={data}"
    )
    assert result.exit_code == 2
    assert "it is not a zip archive" in last_line(result.output)


def test_a_good_data_file_is_accepted(tmp_path, submissions):
    data = save_mnist(tmp_path / "mnist.npz")
    out = tmp_path / "out"
    result = invoke(
        "grade", submissions, "--assignment", ASSIGNMENT, "--out", out, "--data", f"mnist={data}", "--no-run"
    )
    assert result.exit_code == 0, result.output
    assert (out / "grades.json").exists()


def test_a_bad_data_file_named_in_assignment_yaml_is_refused_with_its_field(tmp_path, submissions):
    folder = tmp_path / "assignment"
    folder.mkdir()
    config = (ASSIGNMENT / "assignment.yaml").read_text(encoding="utf-8")
    config = config.replace("../../rubrics/", f"{ROOT}/rubrics/").replace("template: template.ipynb", "")
    config = config.replace("solution: solution.ipynb", "").replace("mnist: null", "mnist: digits.npz")
    (folder / "assignment.yaml").write_text(config, encoding="utf-8")
    save_mnist(folder / "digits.npz", x_test=np.zeros((4, 8, 8), np.float32))
    result = invoke("grade", submissions, "--assignment", folder, "--out", tmp_path / "out")
    assert result.exit_code == 2
    line = last_line(result.output)
    assert "assignment.yaml: datasets.mnist:" in line and "x_test has shape (4, 8, 8)" in line, line


def test_a_bad_roster_stops_the_batch_with_its_line(tmp_path, submissions):
    roster = tmp_path / "roster.csv"
    roster.write_text("id,name,email\nann,Ann,ann@example.edu\nann,Ann Again,other@example.edu\n", encoding="utf-8")
    out = tmp_path / "out"
    result = invoke("grade", submissions, "--assignment", ASSIGNMENT, "--out", out, "--roster", roster, "--no-run")
    assert result.exit_code == 2
    assert f"{roster}: line 3:" in last_line(result.output)
    assert not (out / "gradebook.sqlite").exists()


def test_a_missing_kernel_stops_the_batch_before_anything_runs(tmp_path, submissions, monkeypatch):
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    def no_such_kernel(self, name):
        raise NoSuchKernel(name)

    monkeypatch.setattr(KernelSpecManager, "get_kernel_spec", no_such_kernel)  # as on a machine without ipykernel
    out = tmp_path / "out"
    result = invoke("grade", submissions, "--assignment", ASSIGNMENT, "--out", out)
    assert result.exit_code == 2
    assert "the Jupyter kernel 'python3' is not installed" in last_line(result.output)
    assert not (out / "gradebook.sqlite").exists()


# --- 6. one truth per score ---------------------------------------------------------------------


def test_the_progress_bar_counts_every_submission(tmp_path, submissions):
    result = invoke("grade", submissions, "--assignment", ASSIGNMENT, "--out", tmp_path / "out", "--no-run")
    assert result.exit_code == 0, result.output
    assert "2/2 graded 1 · failed 1" in result.output, result.output


def canvas_class(folder: Path) -> Path:
    """Three Canvas downloads: ann on time, cal late, ben's file broken; no code, so runs are short."""
    answers = {"ann": "Regularization prevents overfitting.", "cal": "Regularization adds a penalty to the loss."}
    for login, user, text in (("ann", 101, answers["ann"]), ("cal_LATE", 103, answers["cal"])):
        cells = [nbf.new_markdown_cell("## Q1"), nbf.new_markdown_cell(text)]
        nbformat.write(nbf.new_notebook(cells=cells), folder / f"{login}_{user}_{user}0_hw.ipynb")
    (folder / "ben_102_1020_hw.ipynb").write_text('{"cells": [', encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    """One real run (two short kernels) shared by the checks of items 2 and 6: an id,name roster, no emails."""
    folder = canvas_class(tmp_path_factory.mktemp("canvas"))
    roster = folder.parent / "roster.csv"
    roster.write_text("id,name\nann,Ann Apple\nben,Ben Bell\ncal,Cal Cole\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("out")
    result = invoke("grade", folder, "--assignment", ASSIGNMENT, "--out", out, "--roster", roster, "--jobs", "2")
    assert result.exit_code == 0, result.output
    return out, result.output


def attention_in_index(out: Path) -> list[str]:
    index = (out / "index.html").read_text(encoding="utf-8")
    section = re.search(r'id="attention".*?</section>', index, re.S)
    return re.findall(r'<p class="who">(?:<a href="[^"]*">|<strong>)([^<]+)<', section.group(0)) if section else []


def attention_in_review(out: Path) -> list[str]:
    result = invoke("review", "--out", out)
    assert result.exit_code == 0, result.output
    return re.findall(r"│\s*\d+\s*│\s*(\S+)\s*│", result.output)


def test_a_submission_that_could_not_be_graded_says_not_graded_everywhere(graded_class):
    out, terminal = graded_class
    row = next(line for line in terminal.splitlines() if "│ ben " in line)
    assert "not graded" in row and "0 / 100" not in row
    record = next(r for r in json.loads((out / "grades.json").read_text()) if r["student"] == "ben")
    assert (record["status"], record["score"], record["percent"]) == ("error", None, None)
    report = (out / "reports" / "ben.html").read_text(encoding="utf-8")
    assert "Not graded" in report and "0 / 100" not in report and "Score recorded" not in report
    index = (out / "index.html").read_text(encoding="utf-8")
    assert re.search(r">ben<.*?✘ Not graded", index, re.S)
    for fmt, file in (("csv", "grades.csv"), ("canvas", "canvas.csv")):
        assert invoke("export", "--out", out, "--format", fmt).exit_code == 0
        line = next(
            line for line in (out / "exports" / file).read_text(encoding="utf-8-sig").splitlines() if "Ben Bell" in line
        )
        assert ",0," not in line and not line.rstrip().endswith(",0"), line


def test_review_and_the_overview_list_the_same_students_late_ones_included(graded_class, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(graded_class[0], out)
    assert attention_in_review(out) == attention_in_index(out) == ["ben", "cal"]
    assert "Canvas marked this file LATE" in (out / "index.html").read_text(encoding="utf-8")
    assert invoke("override", "cal", "total", "5", "--out", out, "--comment", "late, accepted").exit_code == 0
    assert attention_in_review(out) == attention_in_index(out) == ["ben"]  # a settled grade leaves both


# --- 2. exports complete or failing loudly --------------------------------------------------------


def test_a_moodle_export_that_would_drop_graded_students_fails_and_names_the_fix(graded_class, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(graded_class[0], out)
    result = invoke("export", "--out", out, "--format", "moodle")
    assert result.exit_code == 2
    line = last_line(result.output)
    assert "2 of 2 graded students have no email address (ann, cal)" in line and "--roster" in line, line
    assert not (out / "exports" / "moodle.csv").exists()
    result = invoke("export", "--out", out, "--format", "moodle", "--leave-out")
    assert result.exit_code == 0 and (out / "exports" / "moodle.csv").exists()


def test_a_moodle_roster_with_id_numbers_makes_idnumber_the_fix(graded_class, tmp_path):
    roster = tmp_path / "moodle-roster.csv"
    roster.write_text("ID number,First name,Surname\nann,Ann,Apple\nben,Ben,Bell\ncal,Cal,Cole\n", encoding="utf-8")
    folder = canvas_class(tmp_path)
    out = tmp_path / "out"
    assert (
        invoke(
            "grade", folder, "--assignment", ASSIGNMENT, "--out", out, "--roster", roster, "--no-run", "--quiet"
        ).exit_code
        == 0
    )
    result = invoke("export", "--out", out, "--format", "moodle")
    assert result.exit_code == 2 and "use --moodle-id idnumber" in last_line(result.output)
    assert invoke("export", "--out", out, "--format", "moodle", "--moodle-id", "idnumber").exit_code == 0
    rows = (out / "exports" / "moodle.csv").read_text(encoding="utf-8").splitlines()
    assert rows[0].startswith("ID number,") and [
        r.split(",")[0] for r in rows[1:] if r[:3] in ("ann", "ben", "cal")
    ] == ["ann", "ben", "cal"]


def test_export_from_a_folder_without_grades_says_to_grade_first(tmp_path):
    result = invoke("export", "--out", tmp_path / "missing", "--format", "csv")
    assert result.exit_code == 2
    line = last_line(result.output)
    assert "no grades here" in line and "grader grade" in line and "--assignment" not in line


def test_exports_are_made_again_after_a_manual_grade_and_a_rescore(graded_class, tmp_path):
    out = tmp_path / "out"
    shutil.copytree(graded_class[0], out)
    assert invoke("export", "--out", out, "--format", "csv").exit_code == 0
    assert invoke("export", "--out", out, "--format", "canvas", "--assignment-id", "77").exit_code == 0
    result = invoke("override", "ann", "total", "42", "--out", out)
    assert result.exit_code == 0 and "refreshed" in result.output

    def ann(file: str) -> str:
        return next(
            line
            for line in (out / "exports" / file).read_text(encoding="utf-8-sig").splitlines()
            if "Ann Apple" in line
        )

    assert ",42," in ann("grades.csv") and ann("canvas.csv").endswith(",42")
    assert "(77)" in (out / "exports" / "canvas.csv").read_text(encoding="utf-8")  # made with the same options
    result = invoke("rescore", "--out", out, "--quiet")
    assert result.exit_code == 0 and "refreshed" in result.output and f"{out}/exports/canvas.csv" in result.output


# --- 3, 4, 5. a self-check that talks, one question alone, found from inside Jupyter -------------


def answered_notebook(folder: Path, name: str = "hw.ipynb") -> Path:
    cells = [nbf.new_markdown_cell("## Q1"), nbf.new_markdown_cell("Regularization adds a penalty so the model does not overfit."),
             nbf.new_markdown_cell("## Q3"), nbf.new_markdown_cell("L1 adds the absolute values of the weights to the loss.")]  # fmt: skip
    path = folder / name
    nbformat.write(nbf.new_notebook(cells=cells), path)
    return path


def test_check_without_an_assignment_points_to_the_flag(tmp_path):
    result = invoke("check", answered_notebook(tmp_path), "--question", "q1")
    assert result.exit_code == 2
    line = last_line(result.output)
    assert "no assignment.yaml" in line and "pass --assignment DIR" in line and "grader.check" not in line, line


def test_checking_one_question_shows_that_question_and_leaves_the_full_page_alone(tmp_path):
    notebook = answered_notebook(tmp_path)
    page = tmp_path / "hw-feedback.html"
    page.write_text("the whole notebook's feedback", encoding="utf-8")
    result = invoke("check", notebook, "--assignment", ASSIGNMENT, "--question", "q3")
    assert result.exit_code == 0, result.output
    assert re.fullmatch(
        r"Q3: [\d.]+ / 10( \(\d+ more points? (is|are) graded after submission\))?", last_line(result.output)
    )
    assert "Total" not in result.output and "│ q1 " not in result.output and "dropout_model" not in result.output
    assert page.read_text(encoding="utf-8") == "the whole notebook's feedback"


def test_in_jupyter_the_session_names_the_notebook_and_grader_yaml_the_assignment(tmp_path, monkeypatch):
    import grader

    course = tmp_path / "course"
    course.mkdir()
    (course / "grader.yaml").write_text(f"# from the instructor\nassignment: {ASSIGNMENT}\n", encoding="utf-8")
    (course / "week3").mkdir()
    notebook = answered_notebook(course / "week3")  # grader.yaml is found above the notebook
    monkeypatch.setenv("JPY_SESSION_NAME", str(notebook))  # what JupyterLab and Notebook 7 set
    shown = grader.check("q1").data
    assert "<td>Q1</td>" in shown and "Q1: " in shown and "Total" not in shown and "<td>Q3</td>" not in shown
    assert not (notebook.parent / "hw-feedback.html").exists()
    monkeypatch.delenv("JPY_SESSION_NAME")
    with pytest.raises(FileNotFoundError, match=r"grader.check\(notebook='my_homework.ipynb'\)"):
        grader.check("q1")


def test_a_grader_yaml_pointing_nowhere_says_so(tmp_path):
    notebook = answered_notebook(tmp_path)
    (tmp_path / "grader.yaml").write_text("assignment: ../nowhere\n", encoding="utf-8")
    result = invoke("check", notebook, "--question", "q1")
    assert result.exit_code == 2 and "grader.yaml: assignment '../nowhere'" in last_line(result.output)


# --- 7. reports and feedback read cleanly ------------------------------------------------------

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
SNAKE_CASE = re.compile(r"\b[a-z]+_[a-z_]+\b")


def test_a_plot_shows_inline_and_a_bold_heading_leaves_no_debris(tmp_path):
    training = nbf.new_code_cell(
        "import keras\nimport matplotlib.pyplot as plt\n"
        "model = keras.Sequential([keras.layers.Dense(32), keras.layers.Dropout(0.5), keras.layers.Dense(10)])\n"
        "history = model.fit(x, y, epochs=1)\nplt.plot(history.history['loss'])",
        execution_count=1,
        outputs=[nbf.new_output("stream", name="stdout", text="Epoch 1/1\n10/10 [==============================] - 1s - loss: 0.3000\n"),
                 nbf.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure size 640x480 with 1 Axes>"})],
    )  # fmt: skip
    answer = nbf.new_markdown_cell(
        "**Answer 8 (discussion)**\nThe model with dropout had a smaller gap between training and validation accuracy."
    )
    folder = tmp_path / "in"
    folder.mkdir()
    nbformat.write(nbf.new_notebook(cells=[nbf.new_markdown_cell("## Q8"), training, answer]), folder / "dan.ipynb")
    out = tmp_path / "out"
    assert invoke("grade", folder, "--assignment", ASSIGNMENT, "--out", out, "--no-run", "--quiet").exit_code == 0
    report = (out / "reports" / "dan.html").read_text(encoding="utf-8")
    assert f'<img class="plot" src="data:image/png;base64,{PNG}"' in report and "[image" not in report
    quoted = re.search(r'id="q8".*?<div class="answer">(.*?)</div>', report, re.S).group(1)
    assert quoted.startswith("<p>The model with") and "(discussion)" not in quoted and "**" not in quoted
    assert invoke("export", "--out", out, "--format", "gradescope").exit_code == 0
    results = json.loads((out / "exports" / "gradescope" / "dan" / "results.json").read_text(encoding="utf-8"))
    feedback = "\n".join(t["name"] + "\n" + t["output"] for t in results["tests"])
    assert SNAKE_CASE.findall(feedback) == [] and "Dropout model" in feedback, feedback


def test_the_sandbox_line_and_the_hints_read_cleanly(graded_class, tmp_path):
    out, _ = graded_class
    report = (out / "reports" / "ann.html").read_text(encoding="utf-8")
    assert "Sandbox: " in report and "Sandbox: sandbox" not in report
    check = invoke("check", answered_notebook(tmp_path), "--assignment", ASSIGNMENT, "--question", "q1")
    assert check.exit_code == 0 and ".;" not in check.output
    assert invoke("export", "--out", out, "--format", "csv").exit_code == 0
    assert ".;" not in (out / "exports" / "grades.csv").read_text(encoding="utf-8-sig")


# --- 10. words -----------------------------------------------------------------------------------


def test_one_submission_is_counted_in_the_singular(tmp_path):
    result = invoke(
        "grade",
        ASSIGNMENT / "examples" / "weak.ipynb",
        "--assignment",
        ASSIGNMENT,
        "--out",
        tmp_path / "out",
        "--no-run",
    )
    assert result.exit_code == 0, result.output
    assert "1 submission: 1 notebook run" in result.output and "The gradebook holds 1 student." in result.output
    assert "1 report in" in result.output and "1 submissions" not in result.output


def test_grading_the_examples_folder_prints_no_noise(tmp_path):
    result = invoke("grade", ASSIGNMENT / "examples", "--assignment", ASSIGNMENT, "--out", tmp_path / "out", "--no-run")
    assert result.exit_code == 0, result.output
    assert "skipped" not in result.output and "not a notebook" not in result.output
    assert "6 submissions: 5 notebooks run" in result.output


# --- 8. docs -------------------------------------------------------------------------------------


def doc_block(text: str, header: str) -> str:
    """The indented example in the docs that starts with ``header``."""
    found = re.search(rf"\n( +){re.escape(header)}\n((?:\1.*\n)+)", text)
    assert found, header
    return header + "\n" + "".join(line.strip() + "\n" for line in found.group(2).splitlines())


@pytest.mark.parametrize("header, student, name", [
    ("id,name,email", "anunez", "Núñez, Ana"),
    ("First name,Surname,ID number,Email address", "S1001", "Ana Núñez"),
])  # fmt: skip
def test_the_roster_examples_in_the_docs_work(tmp_path, header, student, name):
    roster = tmp_path / "roster.csv"
    roster.write_text(doc_block((ROOT / "docs" / "lms.md").read_text(encoding="utf-8"), header), encoding="utf-8")
    folder = tmp_path / "in"
    folder.mkdir()
    answered_notebook(folder, f"{student}.ipynb")
    out = tmp_path / "out"
    result = invoke(
        "grade", folder, "--assignment", ASSIGNMENT, "--out", out, "--roster", roster, "--no-run", "--quiet"
    )
    assert result.exit_code == 0, result.output
    (record,) = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    assert record["identity"]["name"] == name and record["identity"]["email"] == "ana@example.edu"


def test_the_readme_says_what_the_test_command_leaves_out_and_which_reports_to_release():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    setup = readme[readme.index("Set up and run the tests") : readme.index("## What it does")]
    assert "apt-get install -y chromium" in setup and "skipped" in setup
    assert "torch 2.14.1 with torchvision 0.29.1" in setup
    assert "--audience student" in readme and re.search(r"Never\s+hand those out", readme)


# --- 9. semantic matching: what it takes, what it changes -----------------------------------------


def test_the_shipped_rubric_scores_by_keywords_and_a_semantic_block_is_what_turns_meaning_on(tmp_path):
    """README: the extra alone changes nothing for the shipped rubric; a `semantic:` block (and examples) does."""
    import yaml

    answers = tmp_path / "answers.csv"
    paraphrase = "It keeps the network from memorising its training examples, so that it also works on new data."
    answers.write_text(f'question_id,answer_id,text\nq1,a1,"{paraphrase}"\n', encoding="utf-8")
    shipped = ROOT / "rubrics" / "regularization.yaml"
    assert "semantic" not in yaml.safe_load(shipped.read_text(encoding="utf-8"))
    result = invoke("score-answers", "--rubric", shipped, "--answers", answers, "--out", tmp_path / "keywords.csv")
    assert result.exit_code == 0 and last_line(result.output).endswith("(1 answer, keywords only)"), result.output
    pytest.importorskip(
        "sentence_transformers", reason="the semantic extra is not installed: pip install -e '.[semantic]'"
    )
    rubric = yaml.safe_load(shipped.read_text(encoding="utf-8"))
    rubric["semantic"] = {"threshold": 0.6}
    q1 = next(q for q in rubric["questions"] if q["id"] == "q1")
    concept = next(c for c in q1["concepts"] if c["id"] == "prevents_overfitting")
    concept["examples"] = ["it stops the model from memorising the training data"]
    (tmp_path / "semantic.yaml").write_text(yaml.safe_dump(rubric, sort_keys=False), encoding="utf-8")
    result = invoke(
        "score-answers",
        "--rubric",
        tmp_path / "semantic.yaml",
        "--answers",
        answers,
        "--out",
        tmp_path / "semantic.csv",
    )
    assert result.exit_code == 0 and last_line(result.output).endswith("(1 answer, keywords + semantic)"), result.output
    row = first_row(tmp_path / "semantic.csv")
    assert "prevents_overfitting (similarity 0.7" in row["matched_concepts"] and "memorising" in row["evidence"], row
    assert "prevents_overfitting" not in first_row(tmp_path / "keywords.csv")["matched_concepts"]


def first_row(path: Path) -> dict:
    with open(path, encoding="utf-8", newline="") as handle:
        return next(csv.DictReader(handle))
