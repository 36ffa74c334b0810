"""The gradebook keeps everything (history, not overwrites) and gives back exactly what it stored."""

import json
import shutil
from dataclasses import replace
from pathlib import Path

import nbformat.v4 as nbf
import numpy as np
import pytest

import grader.execute as grader_execute
from grader.assignment import load_assignment
from grader.batch import code_digest, execution_settings
from grader.export.grades_json import grade_record
from grader.facts import Facts
from grader.gradebook import Gradebook, GradebookError
from grader.identical import mark_identical
from grader.models import CellError, CheckGrade, Execution, Grade, QuestionGrade, SkippedLine, Student, Submission
from grader.overrides import Override, apply_overrides, with_overrides
from grader.pipeline import RunOptions
from grader.stored import NewGrade, dump_execution, load_execution

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "regularization"


def execution(status="ok") -> Execution:
    notebook = nbf.new_notebook(cells=[nbf.new_markdown_cell("## Q1\nAnswer: ünïcode"), nbf.new_code_cell("print(1)")])
    notebook.cells[1].outputs = [nbf.new_output("stream", name="stdout", text="1\n")]
    facts = Facts.model_validate(
        {"models": [{"id": 1, "framework": "keras", "cls": "Sequential", "layers": [{"cls": "Dropout", "rate": 0.5}]}]}
    )
    return Execution(
        notebook=notebook,
        facts=facts,
        status=status,
        seconds=1.25,
        cell_errors=(CellError(cell=1, ename="ValueError", evalue="boom", line="raise ValueError('boom')"),),
        skipped=(SkippedLine(cell=1, line="!pip install x", reason="shell command"),),
        message="cell 1 failed",
    )


def submission(student="ana", sha="a" * 64, **changes) -> Submission:
    base = Submission(
        student, f"{student}.ipynb", sha, {"cells": []}, identity=Student(id=student, name=student.title())
    )
    return replace(base, **changes)


def test_a_stored_execution_comes_back_equal():
    original = execution()
    payload = dump_execution(original)
    json.dumps(payload)  # plain data: it can travel to a cluster worker and back
    restored = load_execution(payload, cached=True)
    assert restored == replace(original, cached=True)
    assert restored.facts.models[0].layers[0].rate == 0.5


def test_the_database_is_in_wal_mode_and_reopens(tmp_path):
    with Gradebook(tmp_path) as book:
        assert book.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        book.record_submissions([submission()])
    with Gradebook(tmp_path, create=False) as book:
        assert [s.student for s in book.current_submissions()] == ["ana"]


def test_opening_a_folder_without_a_gradebook_says_what_to_do(tmp_path):
    with pytest.raises(GradebookError, match="run `grader grade"):
        Gradebook(tmp_path / "nothing", create=False)


def test_a_resubmission_adds_a_row_and_the_same_file_does_not(tmp_path):
    with Gradebook(tmp_path) as book:
        first = book.record_submissions([submission(sha="a" * 64)])["ana"]
        again = book.record_submissions([submission(sha="a" * 64)])["ana"]
        assert again.id == first.id
        newer = book.record_submissions([submission(sha="b" * 64)])["ana"]
        back = book.record_submissions([submission(sha="a" * 64)])["ana"]  # handed the first file in again
        assert len({first.id, newer.id, back.id}) == 3
        assert book.count("submissions") == 3
        assert book.current_submissions()[0].id == back.id
        assert book.current_submissions()[0].identity["name"] == "Ana"


def test_runs_are_reused_unless_the_grader_itself_failed_or_the_notebook_file_is_gone(tmp_path):
    with Gradebook(tmp_path) as book:
        book.record_settings("s1", {"mode": "full"})
        payload = dump_execution(execution(status="error"))
        path = book.save_run_file("a" * 64, "s1", payload)
        with book.transaction():
            book.add_run("a" * 64, "s1", payload, path)
        assert book.find_run("a" * 64, "s1") is None  # a kernel that did not start says nothing about the notebook

        timed_out = execution(status="timeout")
        payload = dump_execution(timed_out)
        path = book.save_run_file("a" * 64, "s1", payload)
        with book.transaction():
            run_id = book.add_run("a" * 64, "s1", payload, path)
        found = book.find_run("a" * 64, "s1")
        assert found.id == run_id and book.find_run("a" * 64, "s2") is None
        assert book.load_run(found) == replace(timed_out, cached=True)
        (tmp_path / path).unlink()
        assert book.find_run("a" * 64, "s1") is None


def test_a_failed_transaction_leaves_no_row(tmp_path):
    with Gradebook(tmp_path) as book:
        book.record_settings("s1", {})
        payload = dump_execution(execution())
        with pytest.raises(RuntimeError):
            with book.transaction():
                book.add_run("a" * 64, "s1", payload, "runs/x.ipynb")
                raise RuntimeError("killed here")
        assert book.count("runs") == 0


def test_grades_are_history_and_the_newest_is_current(tmp_path):
    with Gradebook(tmp_path) as book:
        stored = book.record_submissions([submission()])["ana"]
        for score, how in ((10, "grade"), (12, "rescore")):
            book.add_grades([NewGrade(stored.id, "r1", how, "graded", None, score, 100, {"score": score})])
        (current,) = book.current()
        assert current.grade.score == 12 and current.grade.how == "rescore"
        assert [g.score for _, g in book.history("ana")] == [10, 12]


def test_the_newest_override_per_item_wins_and_auto_withdraws_it(tmp_path):
    with Gradebook(tmp_path) as book:
        book.add_override("ana", "a" * 64, "q1", 5, "ta1", "first look")
        book.add_override("ana", "a" * 64, "q1", 6, "ta2", "second look")
        book.add_override("ana", "a" * 64, "q2", 1, "ta1", "")
        book.add_override("ana", "a" * 64, "q2", None, "ta1", "withdrawn")
        (only,) = book.overrides()["ana"]
        assert (only.target, only.score, only.by) == ("q1", 6, "ta2")
        assert book.count("overrides") == 4


def graded(score_q1=2.0, score_q2=3.0, check=0.0) -> Grade:
    questions = (
        QuestionGrade("q1", score_q1, 8, (), None),
        QuestionGrade("q2", score_q2, 8, (), None, flags=("needs review: low confidence",)),
    )
    checks = (CheckGrade("dropout_model", check > 0, check, 5, ("no model with Dropout was trained",)),)
    return Grade(submission(), "graded", None, score_q1 + score_q2 + check, 21, questions, checks, execution())


@pytest.mark.parametrize(
    "overrides",
    [
        [Override("q1", 7.5, "ta1", "2026-01-01T00:00:00+00:00", "good answer, unusual words")],
        [Override("dropout_model", 5, "ta1", "t", "trained in a loop the probe missed")],
        [Override("q2", 0, "ta1", "t", ""), Override("total", 19, "prof", "t", "regrade request")],
    ],
)
def test_manual_grades_give_the_same_scores_as_the_exports_rules(overrides):
    grade = apply_overrides(graded(), overrides)
    record = grade_record(graded()) | {"overrides": [o.record() for o in overrides]}
    exported = with_overrides(record)
    assert grade.score == exported["score"]
    assert [q.score for q in grade.questions] == [q["score"] for q in exported["questions"]]
    assert [(c.score, c.passed) for c in grade.checks] == [(c["score"], c["passed"]) for c in exported["checks"]]
    # applying the export's rules again to what we wrote changes nothing
    again = with_overrides(grade_record(grade) | {"overrides": [o.record() for o in overrides]})
    assert again["score"] == grade.score


def test_a_manual_grade_is_flagged_with_who_and_why():
    grade = apply_overrides(
        graded(), [Override("q1", 7.5, "ta1", "t", "good answer"), Override("dropout_model", 5, "ta1", "t", "ok")]
    )
    assert "manually graded by ta1: good answer" in grade.questions[0].flags
    assert grade.checks[0].passed and grade.checks[0].evidence[0] == "manually graded by ta1: ok"
    error = Grade(submission(), "error", "the notebook could not be read", 0, 21)
    fixed = apply_overrides(error, [Override("total", 12, "prof", "t", "graded by hand from the PDF")])
    assert (fixed.status, fixed.error, fixed.score) == ("graded", None, 12)
    assert fixed.flags == ("total manually graded by prof: graded by hand from the PDF",)


def test_identical_files_from_two_students_are_flagged_on_both():
    same = [replace(graded(), submission=submission(name, sha="c" * 64)) for name in ("ben", "kim")]
    other = replace(graded(), submission=submission("ana", sha="d" * 64))
    marked = {g.submission.student: g.flags for g in mark_identical([*same, other])}
    assert any("also handed in by kim" in f for f in marked["ben"])
    assert any("also handed in by ben" in f for f in marked["kim"])
    assert marked["ana"] == ()


def test_execution_settings_change_with_what_changes_a_run_and_not_with_the_number_of_kernels(tmp_path):
    assignment = load_assignment(ASSIGNMENT)
    full, description = execution_settings(assignment, RunOptions(threads=1))
    assert execution_settings(assignment, RunOptions(threads=8))[0] == full
    assert execution_settings(assignment, RunOptions(mode="fast"))[0] != full
    assert execution_settings(assignment, RunOptions(run=False))[0] != full
    tighter = replace(assignment, limits=assignment.limits.model_copy(update={"cell_timeout": 5}))
    assert execution_settings(tighter, RunOptions())[0] != full
    data = tmp_path / "mnist.npz"
    images = {"x_train": np.zeros((2, 28, 28), np.uint8), "x_test": np.zeros((1, 28, 28), np.uint8)}
    np.savez(data, **images, y_train=np.array([1, 2]), y_test=np.array([3]))
    first = execution_settings(assignment.with_data({"mnist": data}), RunOptions())[0]
    np.savez(data, **images, y_train=np.array([1, 2]), y_test=np.array([4]))
    assert execution_settings(assignment.with_data({"mnist": data}), RunOptions())[0] not in (first, full)
    assert description["datasets"] == {"mnist": "built-in digits-v1"} and description["grader"]


def test_the_code_hash_that_decides_re_runs_covers_every_part_of_the_probe(tmp_path):
    execute = Path(grader_execute.__file__).parent
    copy = tmp_path / "execute"
    shutil.copytree(execute, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_digest(copy) == code_digest(execute)
    keras_part = copy / "probe" / "keras.py"
    keras_part.write_text(keras_part.read_text() + "\n# changed\n")
    assert code_digest(copy) != code_digest(execute)
