"""The student's story: check my notebook before I submit, in the terminal or inside Jupyter."""

import os
import re
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import yaml
from nbclient import NotebookClient
from typer.testing import CliRunner

from grader.cli import app
from grader.rubric import load_rubric

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "regularization"
RUBRIC = ROOT / "rubrics" / "regularization.yaml"


def test_the_published_rubric_reveals_no_hidden_phrase_and_no_reference(tmp_path):
    out = tmp_path / "public.yaml"
    assert CliRunner().invoke(app, ["rubric", "publish", str(RUBRIC), "--out", str(out)]).exit_code == 0
    full = load_rubric(RUBRIC)
    text = "\n".join(line for line in out.read_text(encoding="utf-8").lower().splitlines() if "id:" not in line)
    visible = " ".join(
        [q.prompt for q in full.questions]
        + [c.hint for q in full.questions for c in q.concepts]
        + [p for q in full.questions for c in q.concepts if not c.hidden for p in c.any]
    ).lower()
    secret = [p for q in full.questions for c in q.concepts if c.hidden for p in c.any if p.lower() not in visible]
    assert secret, "the rubric should have hidden phrases to protect"
    leaked = [p for p in secret if re.search(rf"(?<![a-z]){re.escape(p.lower())}(?![a-z])", text)]
    assert leaked == []
    assert "reference:" not in text
    public = yaml.safe_load(out.read_text(encoding="utf-8"))
    hidden = [c for q in public["questions"] for c in q.get("concepts", []) if c.get("hidden")]
    assert hidden and all(c.get("hint") and c.get("points") and not c.get("any") for c in hidden)


def test_grader_check_prints_the_visible_total_and_what_is_graded_later(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "check",
            str(ASSIGNMENT / "examples" / "weak.ipynb"),
            "--assignment",
            str(ASSIGNMENT),
            "--report",
            str(tmp_path / "r.html"),
        ],
    )
    assert result.exit_code == 0, result.output
    total = result.output.strip().splitlines()[-1]
    assert re.fullmatch(r"Total: [\d.]+ / 100 \(14 more points are graded after submission\)", total), total
    assert "raise errors" in result.output  # the weak example has a failing cell
    steps = [line for line in result.output.splitlines() if line.startswith("Checking weak.ipynb: ")]
    assert steps[0].endswith("starting a fresh kernel") and steps[-1].endswith("checking the answers and the code")
    assert re.search(r"running code cell 1 of \d+ \(cell \d+\)", steps[1]), steps
    baseline = result.output[result.output.index("│ Baseline model") : result.output.index("│ Evaluated on")]
    assert "no model without" in baseline and "Hint: Train a second network" in baseline  # why, then what to do
    page = (tmp_path / "r.html").read_text(encoding="utf-8")
    assert "Content-Security-Policy" in page


def test_grader_check_on_the_reference_solution_earns_every_visible_point(tmp_path):
    result = CliRunner().invoke(
        app,
        [
            "check",
            str(ASSIGNMENT / "solution.ipynb"),
            "--assignment",
            str(ASSIGNMENT),
            "--report",
            str(tmp_path / "r.html"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.strip().splitlines()[-1] == "Total: 86 / 100 (14 more points are graded after submission)"


def test_stale_and_out_of_order_notebooks_are_warned_about(tmp_path):
    notebook = tmp_path / "hw.ipynb"
    cells = [
        nbf.new_code_cell("x = 1", execution_count=5),
        nbf.new_code_cell("y = x", execution_count=2),
        nbf.new_markdown_cell("## Q1\nRegularization prevents overfitting."),
    ]
    nbformat.write(nbf.new_notebook(cells=cells), notebook)
    checkpoint = tmp_path / ".ipynb_checkpoints" / "hw-checkpoint.ipynb"
    checkpoint.parent.mkdir()
    checkpoint.write_text(notebook.read_text())
    os.utime(notebook, (1_000_000, 1_000_000))
    result = CliRunner().invoke(app, ["check", str(notebook), "--assignment", str(ASSIGNMENT), "--question", "q1"])
    assert result.exit_code == 0, result.output
    assert "checkpoint is newer" in result.output
    assert "out of order" in result.output


def test_grader_check_inside_a_real_kernel_shows_the_table_inline(tmp_path):
    """As in VS Code (which names the notebook in ``__vsc_ipynb_file__``), with the template's grader.yaml."""
    notebook = tmp_path / "homework.ipynb"
    (tmp_path / "grader.yaml").write_text(f"assignment: {ASSIGNMENT}\n", encoding="utf-8")
    cells = [
        nbf.new_markdown_cell(
            "## Q1\nRegularization adds a penalty so the network does not overfit and generalizes to unseen data."
        ),
        nbf.new_code_cell(f"__vsc_ipynb_file__ = {str(notebook)!r}\nimport grader\ngrader.check()"),
    ]
    nb = nbf.new_notebook(
        cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
    )
    nbformat.write(nb, notebook)
    NotebookClient(nb, timeout=180, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    shown = [o["data"]["text/html"] for o in nb.cells[1].outputs if "text/html" in o.get("data", {})]
    assert len(shown) == 2, nb.cells[1].outputs
    assert shown[0] == "<p>Checked <code>homework.ipynb</code>.</p>"  # the progress line, updated as the check went
    assert (
        "<table class='grader-check'>" in shown[1]
        and "<td>Q1</td>" in shown[1]
        and "<td>Dropout model</td>" in shown[1]
    )
    assert "more points are graded after submission" in shown[1]
    assert (tmp_path / "homework-feedback.html").is_file()


def test_the_check_table_is_made_from_the_redacted_grade():
    """A hidden concept that reached the check unpublished (a public_rubric that kept one) is not
    named in the table, nor is its hint: the table reads the grade as students see it."""
    from grader.models import ConceptResult, Grade, QuestionGrade, Submission
    from grader.redact import redact
    from grader.selfcheck import SelfCheck, summary_rows
    from grader.words import humanize

    rubric = load_rubric(RUBRIC)
    asked = next(q for q in rubric.questions if any(c.hidden for c in q.concepts))
    missed = tuple(ConceptResult(c.id, c.points, False, hint=c.hint, hidden=c.hidden) for c in asked.concepts)
    question = QuestionGrade(asked.id, 0, asked.points, missed, None)
    grade = Grade(Submission("ana", "ana.ipynb", "0" * 64, {}), "graded", None, 0, asked.points, (question,))
    advice = summary_rows(SelfCheck(redact(grade, rubric, "student"), (), 0.0, 0))[0][2]
    hidden = [c for c in asked.concepts if c.hidden]
    visible = [c for c in asked.concepts if not c.hidden]
    assert not [c.id for c in hidden if humanize(c.id) in advice or (c.hint and c.hint in advice)]
    assert all(c.hint in advice for c in visible if c.hint)


def test_a_self_check_is_never_run_again_in_full(tmp_path, monkeypatch):
    """A student's check stays quick: its fast run is not confirmed in full (grading does that); a
    model still near chance after the cut training is shown as not verified instead."""
    from grader import selfcheck
    from grader.assignment import load_assignment

    asked = []

    def grade_submission(submission, assignment, options, on_progress=None):
        asked.append(options)
        raise RuntimeError("stop here")

    monkeypatch.setattr(selfcheck, "grade_submission", grade_submission)
    notebook = tmp_path / "hw.ipynb"
    nbformat.write(nbf.new_notebook(cells=[nbf.new_code_cell("x = 1")]), notebook)
    try:
        selfcheck.self_check(notebook, load_assignment(ASSIGNMENT))
    except RuntimeError:
        pass
    assert [(o.mode, o.confirm_in_full) for o in asked] == [("fast", False)]
