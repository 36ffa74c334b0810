"""The instructor's story for a whole class: a Canvas zip graded with two kernels, graded again
for free, re-scored after a rubric edit, corrected by hand, interrupted with kill -9 and resumed,
and run on a dask cluster, always with the same grades."""

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest
import yaml
from typer.testing import CliRunner

from grader.cli import app

ROOT = Path(__file__).resolve().parents[1]
RUBRIC = ROOT / "rubrics" / "regularization.yaml"

GOOD = {
    "q1": "Regularization adds a penalty on large weights so the model cannot memorize the training set; "
    "it prevents overfitting and helps the network generalize to new data it has not seen.",
    "q5": "Dropout randomly sets a fraction of the neurons to zero during training, which reduces co-adaptation; "
    "at inference it is turned off and the weights are scaled.",
    "q6": "Early stopping watches the validation loss and stops training when it stops improving, before the model overfits.",
}
SOME = {"q1": "Regularization prevents overfitting.", "q6": "Stop training early when validation loss rises."}
LITTLE = {"q1": "It is a technique used in deep learning."}


def notebook(answers: dict[str, str], code: str = "print(1 + 1)") -> bytes:
    cells = []
    for number in range(1, 10):
        cells.append(nbf.new_markdown_cell(f"## Q{number}"))
        if number == 8:
            cells.append(nbf.new_code_cell(code))
        if f"q{number}" in answers:
            cells.append(nbf.new_markdown_cell(answers[f"q{number}"]))
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbformat.writes(nbf.new_notebook(cells=cells, metadata={"kernelspec": kernelspec})).encode()


# Canvas names: login_userid_submissionid_file.ipynb
BEN = notebook(SOME)
STUDENTS = {  # login: (canvas user id, notebook bytes)
    "ana": (101, notebook(GOOD)),
    "ben": (102, BEN),
    "cara": (103, notebook(LITTLE)),
    "dan": (104, notebook({**SOME, "q5": GOOD["q5"]})),
    "eve": (105, notebook({}, code="raise ValueError('boom')")),
    "finn": (106, notebook({"q6": GOOD["q6"]}, code="!pip install tensorflow\nprint(open('notes.txt').read())")),
    "gus": (107, notebook(GOOD, code="import time\ntime.sleep(0.5)")),
    "hal": (108, notebook(SOME, code="while True:\n    pass")),  # an infinite loop: timed out, the batch goes on
    "ivy": (109, b'{"cells": [ {"cell_type": "mark'),  # broken: not JSON
    "jon": (110, notebook(GOOD)),  # his newer file; an older one is in the zip too
    "kim": (111, BEN),  # the same file as ben's
}
EXECUTED = 9  # distinct notebooks that run: all but ivy's (unreadable) and kim's (ben's file)


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    folder = tmp_path_factory.mktemp("course")
    entries = [(f"{login}_{uid}_{5000 + uid}_Regularization.ipynb", data) for login, (uid, data) in STUDENTS.items()]
    entries.append(("jon_110_4000_Regularization.ipynb", notebook(LITTLE)))  # jon's older upload
    archive = folder / "submissions.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for name, data in entries:
            zipped.writestr(name, data)
    assert len(entries) == 12
    roster = folder / "roster.csv"
    lines = ["Student,ID,SIS User ID,SIS Login ID,Section", "Points Possible,,,,"]
    lines += [f"{login.title()},{uid},S{uid},{login},A" for login, (uid, _) in STUDENTS.items()]
    lines.append("Zoe Absent,112,S112,zoe,A")
    roster.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assignment = make_assignment(folder / "assignment", RUBRIC.read_text(encoding="utf-8"))
    return archive, roster, assignment


def make_assignment(folder: Path, rubric_text: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rubric.yaml").write_text(rubric_text, encoding="utf-8")
    rubric = yaml.safe_load(rubric_text)
    config = {
        "title": "Regularization (batch test)",
        "questions": [{"id": q["id"], "prompt": q["prompt"]} for q in rubric["questions"]],
        "rubric": "rubric.yaml",
        "datasets": {"notes": "notes.txt"},  # a data file each kernel gets beside the notebook
        "execution": {"cell_timeout": 3, "notebook_timeout": 20},
    }
    (folder / "notes.txt").write_text("the course's data file", encoding="utf-8")
    (folder / "assignment.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return folder


def grade_args(course, out: Path, *extra: str) -> list[str]:
    archive, roster, assignment = course
    return ["grade", str(archive), "--assignment", str(assignment), "--out", str(out), "--roster", str(roster), *extra]


def invoke(*args: str):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output + repr(result.exception)
    return result


def records(out: Path) -> dict[str, dict]:
    rows = json.loads((out / "grades.json").read_text(encoding="utf-8"))
    by_student = {row["student"]: row for row in rows}
    assert len(by_student) == len(rows), "a student appears twice"
    return by_student


def comparable(rows: dict[str, dict]) -> dict[str, dict]:
    """The grades without what legitimately differs between two runs: timings and the cache flag."""
    kept = {}
    for student, row in rows.items():
        row = json.loads(json.dumps(row))
        row["execution"].pop("seconds")
        row["execution"].pop("cached")
        kept[student] = row
    return kept


def table(out: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        return db.execute(sql).fetchall()


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    out = tmp_path_factory.mktemp("graded")
    invoke(*grade_args(course, out, "--jobs", "2", "--quiet"))
    return out, records(out)


def test_a_class_zip_is_graded_with_two_kernels_and_every_student_is_one_row(graded):
    out, rows = graded
    assert set(rows) == {login for login in STUDENTS}
    assert rows["ivy"]["status"] == "error" and "JSON" in rows["ivy"]["error"]
    assert rows["hal"]["execution"]["status"] == "timeout"
    assert any("timeout" in flag for flag in rows["hal"]["flags"])
    assert rows["ana"]["score"] > rows["ben"]["score"] > rows["cara"]["score"]
    assert rows["jon"]["score"] == rows["ana"]["score"]  # his newer file is the one graded
    assert any("older file" in note for note in rows["jon"]["notes"])
    assert rows["eve"]["execution"]["cells_failed"] and rows["finn"]["execution"]["skipped"] == [
        "!pip install tensorflow"
    ]
    assert all(row["overrides"] == [] for row in rows.values())
    assert {p.name for p in (out / "reports").glob("*.html")} >= {f"{login}.html" for login in STUDENTS}


def test_a_file_handed_in_by_two_students_runs_once_and_both_are_flagged(graded):
    out, rows = graded
    assert rows["ben"]["sha256"] == rows["kim"]["sha256"]
    assert [rows["ben"]["execution"]["cached"], rows["kim"]["execution"]["cached"]].count(True) == 1
    assert any("also handed in by kim" in flag for flag in rows["ben"]["flags"])
    assert rows["kim"]["score"] == rows["ben"]["score"]


def test_the_gradebook_holds_each_submission_run_and_grade(graded):
    out, _ = graded
    assert table(out, "SELECT COUNT(*) FROM submissions") == [(len(STUDENTS),)]
    assert table(out, "SELECT COUNT(*), COUNT(DISTINCT sha256) FROM runs") == [(EXECUTED, EXECUTED)]
    assert table(out, "SELECT COUNT(*) FROM grades") == [(len(STUDENTS),)]
    assert table(out, "PRAGMA journal_mode") == [("wal",)]
    for (notebook_path,) in table(out, "SELECT notebook FROM runs"):
        assert nbformat.reads((out / notebook_path).read_text(encoding="utf-8"), as_version=4).cells


def test_grading_the_same_zip_again_runs_nothing(course, graded, tmp_path):
    first_out, first = graded
    out = tmp_path / "again"
    shutil.copytree(first_out, out)
    result = invoke(*grade_args(course, out, "--jobs", "2"))
    rows = records(out)
    assert table(out, "SELECT COUNT(*) FROM runs") == [(EXECUTED,)]  # no new run
    assert table(out, "SELECT COUNT(*) FROM grades") == [(2 * len(STUDENTS),)]  # a re-grade adds rows
    readable = [row for row in rows.values() if row["status"] == "graded"]
    assert all(row["execution"]["cached"] for row in readable)
    assert comparable(rows) == comparable(first)
    assert "0 notebooks run" in result.stdout and "cached" in result.stdout


def edited_rubric(course, tmp_path: Path) -> Path:
    """The same assignment with q1's "prevents overfitting" concept made unmatchable."""
    rubric = yaml.safe_load(RUBRIC.read_text(encoding="utf-8"))
    q1 = next(q for q in rubric["questions"] if q["id"] == "q1")
    concept = next(c for c in q1["concepts"] if c["id"] == "prevents_overfitting")
    concept["any"] = ["zzz never written zzz"]
    return make_assignment(tmp_path / "edited", yaml.safe_dump(rubric, sort_keys=False))


def q1(row: dict) -> float:
    return next(q["score"] for q in row["questions"] if q["id"] == "q1")


def test_a_rubric_edit_and_rescore_change_scores_without_starting_a_kernel(course, graded, tmp_path, monkeypatch):
    first_out, first = graded
    out = tmp_path / "rescored"
    shutil.copytree(first_out, out)
    edited = edited_rubric(course, tmp_path)

    def no_kernel(*args, **kwargs):
        raise AssertionError("rescore started a kernel")

    monkeypatch.setattr("grader.execute.runner.run_notebook", no_kernel)
    invoke("rescore", "--out", out, "--assignment", edited, "--quiet")
    rows = records(out)
    assert q1(rows["ana"]) == q1(first["ana"]) - 2 and rows["ana"]["score"] == first["ana"]["score"] - 2
    assert rows["cara"]["score"] == first["cara"]["score"]  # never mentioned overfitting
    assert rows["hal"]["execution"]["status"] == "timeout"  # what ran is kept as it was
    assert table(out, "SELECT COUNT(*) FROM runs") == [(EXECUTED,)]
    hows = table(out, "SELECT how, COUNT(DISTINCT rubric) FROM grades GROUP BY how ORDER BY how")
    assert hows == [("grade", 1), ("rescore", 1)]


def test_a_manual_grade_survives_rescoring_and_regrading_and_reaches_the_exports(course, graded, tmp_path):
    first_out, first = graded
    out = tmp_path / "override"
    shutil.copytree(first_out, out)
    result = invoke(
        "override", "ana", "q1", "7.5", "--out", out, "--comment", "fine answer in other words", "--by", "ta1"
    )
    assert "7.5" in result.stdout
    invoke("override", "ivy", "total", "40", "--out", out, "--comment", "graded by hand from the PDF", "--by", "prof")

    def check(rows):
        ana = rows["ana"]
        assert q1(ana) == 7.5
        assert ana["score"] == round(first["ana"]["score"] - q1(first["ana"]) + 7.5, 2)
        (manual,) = ana["overrides"]
        assert (manual["id"], manual["score"], manual["by"], manual["comment"]) == (
            "q1",
            7.5,
            "ta1",
            "fine answer in other words",
        )
        assert manual["at"]
        flags = next(q["flags"] for q in ana["questions"] if q["id"] == "q1")
        assert "manually graded by ta1: fine answer in other words" in flags
        assert (rows["ivy"]["status"], rows["ivy"]["score"]) == ("graded", 40)

    check(records(out))
    assert "manually graded by ta1" in (out / "reports" / "ana.html").read_text(encoding="utf-8")
    invoke("rescore", "--out", out, "--quiet")
    check(records(out))
    invoke(*grade_args(course, out, "--quiet"))
    check(records(out))

    invoke("export", "--out", out, "--format", "csv")
    exported = "\n".join(p.read_text(encoding="utf-8") for p in (out / "exports").rglob("*.csv"))
    assert exported and "40" in exported

    invoke("override", "ana", "q1", "auto", "--out", out)
    assert q1(records(out)["ana"]) == q1(first["ana"]) and records(out)["ana"]["overrides"] == []


def test_a_manual_grade_is_checked_against_the_rubric(graded):
    out, _ = graded
    runner = CliRunner()
    for args, message in (
        (["nobody", "q1", "3"], "no such student"),
        (["ana", "q99", "3"], "not a question or check"),
        (["ana", "q1", "80"], "worth 0 to 8"),
        (["ana", "q1", "lots"], "a number of points"),
    ):
        result = runner.invoke(app, ["override", *args, "--out", str(out)])
        assert result.exit_code == 2 and message in result.output, result.output
    assert table(out, "SELECT COUNT(*) FROM overrides") == [(0,)]


def test_review_lists_what_needs_a_person_worst_first(graded, tmp_path):
    first_out, _ = graded
    out = tmp_path / "review"
    shutil.copytree(first_out, out)
    listed = invoke("review", "--out", out).stdout
    order = [name for name in ("ivy", "hal", "ben") if name in listed]
    assert order == ["ivy", "hal", "ben"] and listed.index("ivy") < listed.index("hal") < listed.index("ben")
    assert "cara" not in listed or listed.index("cara") > listed.index("hal")
    invoke("override", "ivy", "total", "40", "--out", out, "--comment", "graded by hand")
    assert "ivy" not in invoke("review", "--out", out).stdout  # settled by a person
    assert "ivy" in invoke("review", "--out", out, "--all").stdout


def wait_for_runs(out: Path, count: int, process: subprocess.Popen, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, "the batch ended before it could be killed"
        try:
            done = table(out, "SELECT COUNT(*) FROM runs")[0][0]
        except sqlite3.Error:
            done = 0
        if done >= count:
            return done
        time.sleep(0.05)
    raise AssertionError(f"no {count} results in {timeout} s")


def test_a_batch_killed_midway_resumes_and_grades_everyone_once(course, graded, tmp_path):
    _, first = graded
    out = tmp_path / "killed"
    command = [sys.executable, "-m", "grader.cli", *grade_args(course, out, "--jobs", "1", "--quiet")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        done = wait_for_runs(out, 2, process)
        os.kill(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    kept = table(out, "SELECT id, sha256 FROM runs")
    assert done <= len(kept) < EXECUTED, "killed too late to test anything"

    invoke(*grade_args(course, out, "--jobs", "1", "--quiet"))
    rows = records(out)
    assert set(rows) == set(STUDENTS)
    assert table(out, "SELECT COUNT(*), COUNT(DISTINCT sha256) FROM runs") == [(EXECUTED, EXECUTED)]
    assert set(kept) <= set(table(out, "SELECT id, sha256 FROM runs"))  # what finished was not run again
    assert comparable(rows) == comparable(first)  # and one kernel at a time gives the two-kernel grades


def test_a_dask_cluster_gives_the_same_grades_as_the_local_run(course, graded, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    _, first = graded
    out = tmp_path / "dask"
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "worker-cache"))  # where workers keep the files sent to them
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        invoke(*grade_args(course, out, "--scheduler", cluster.scheduler_address, "--quiet"))
    rows = records(out)
    assert comparable(rows) == comparable(first)
    workers = {worker.rsplit(":", 1)[1] for (worker,) in table(out, "SELECT worker FROM runs")}
    assert str(os.getpid()) not in workers  # the notebooks ran in the cluster's worker processes
    (finn,) = table(out, f"SELECT notebook FROM runs WHERE sha256 = '{rows['finn']['sha256']}'")
    assert "the course's data file" in (out / finn[0]).read_text(encoding="utf-8")  # the data file reached the worker
    assert list((tmp_path / "worker-cache" / "datasets").glob("*/notes.txt"))


def test_late_submissions_graded_later_join_the_class(course, graded, tmp_path):
    first_out, first = graded
    out = tmp_path / "late"
    shutil.copytree(first_out, out)
    late = tmp_path / "late.zip"
    with zipfile.ZipFile(late, "w") as zipped:
        zipped.writestr("zoe_LATE_112_6112_Regularization.ipynb", notebook(GOOD))
    invoke("grade", late, "--assignment", course[2], "--out", out, "--roster", course[1], "--quiet")
    rows = records(out)
    assert set(rows) == set(STUDENTS) | {"zoe"}
    assert rows["zoe"]["late"] and rows["zoe"]["score"] > 0
    assert comparable({s: r for s, r in rows.items() if s != "zoe"}) == comparable(first)
    assert table(out, "SELECT COUNT(*) FROM runs") == [(EXECUTED + 1,)]


def test_one_grader_writes_to_an_out_folder_at_a_time(graded, tmp_path):
    from grader.gradebook import Gradebook, GradebookError

    first_out, _ = graded
    out = tmp_path / "locked"
    shutil.copytree(first_out, out)
    with Gradebook(out, create=False) as busy:
        busy.lock()
        result = CliRunner().invoke(app, ["rescore", "--out", str(out)])
        assert result.exit_code == 2 and "another grader" in result.output
        with pytest.raises(GradebookError, match=f"pid {os.getpid()}"):
            Gradebook(out, create=False).lock()
    invoke("rescore", "--out", out, "--quiet")  # free again once the first one is done


def test_no_cluster_at_the_address_is_a_clear_error(course, tmp_path):
    pytest.importorskip("distributed")
    result = CliRunner().invoke(
        app, grade_args(course, tmp_path / "out", "--scheduler", "tcp://127.0.0.1:9", "--quiet")
    )
    assert result.exit_code == 2 and "no dask scheduler answered" in result.output


def test_cluster_workers_get_the_dataset_files_they_do_not_have(tmp_path, monkeypatch):
    from grader.batch.jobs import _datasets_here

    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path / "cache"))
    refs = {
        "mnist": {"path": "/coordinator/only/mnist.npz", "sha256": "ab" * 32, "name": "mnist.npz"},
        "extra": {"path": None, "sha256": None, "name": None},
    }
    found = _datasets_here(refs, {"mnist": b"the bytes"})
    assert found["extra"] is None and found["mnist"].read_bytes() == b"the bytes"
    assert found["mnist"].parent.name == "ab" * 32
    assert _datasets_here(refs, None)["mnist"] == Path("/coordinator/only/mnist.npz")  # same machine: used in place
