"""Notebooks built to stop a parser or exhaust the grader: deep nesting, 100k cells, 20 MB of tiny
lists, and unsafe zip entries. Each becomes an error row that says why, the batch goes on, the
good notebook is graded, 20 MB of saved outputs are graded and their page rendered (in a child
process: report/page_process.py), and the grader's peak memory stays under 1 GiB."""

import json
import zipfile
from pathlib import Path

import pytest

from grader.ingest.shape import MAX_DEPTH, Shape, measure, shape_problem

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = ROOT / "assignments" / "regularization"
GOOD = "## Q1\nRegularization adds a penalty on large weights so the network does not overfit and generalizes to unseen data."
GiB = 1 << 30


def notebook(cells, metadata=None) -> str:
    return json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": metadata or {}, "cells": cells})


def markdown(text: str) -> dict:
    return {"cell_type": "markdown", "metadata": {}, "source": text}


def test_the_shape_is_measured_outside_strings_and_across_chunk_borders(monkeypatch):
    text = json.dumps({"a": ['x\\"][{', [[1, 2]]], "cell_type": "code", "s": "\\\\"}).encode()
    expected = Shape(depth=4, containers=4, values=8, cells=1)
    assert measure(text) == expected
    for size in (1, 2, 3, 7):
        monkeypatch.setattr("grader.ingest.shape._CHUNK", size)
        assert measure(text) == expected
    assert shape_problem(measure(b"[" * 200 + b"]" * 200)).startswith("the notebook's JSON is nested 200 levels deep")
    assert shape_problem(measure(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH)) is None


@pytest.fixture(scope="module")
def batch(tmp_path_factory, grader_process):
    folder = tmp_path_factory.mktemp("oversized")
    (folder / "good.ipynb").write_text(notebook([markdown(GOOD)]))
    nested = "[" * 1000 + "]" * 1000
    (folder / "deep.ipynb").write_text(
        notebook([markdown(GOOD)], {"x": json.loads("[]")}).replace('"x": []', f'"x": {nested}')
    )
    (folder / "many_cells.ipynb").write_text(notebook([markdown(GOOD)] + [markdown("x")] * 100_000))
    tiny = "[" + ",".join(["[]"] * 7_000_000) + "]"
    (folder / "tiny_lists.ipynb").write_text(
        notebook([markdown(GOOD)]).replace('"metadata": {}', f'"metadata": {{"x": {tiny}}}', 1)
    )
    printed = {"cell_type": "code", "metadata": {}, "source": "print('y' * 20_000_000)", "execution_count": 1,
               "outputs": [{"output_type": "stream", "name": "stdout", "text": "y\n" * 10_000_000}]}  # fmt: skip
    (folder / "big_outputs.ipynb").write_text(notebook([markdown(GOOD), printed]))
    big_metadata = {"widgets": {"state": "w" * 2_000_000}}
    (folder / "big_metadata.ipynb").write_text(notebook([markdown(GOOD)], big_metadata))
    archive = folder / "class.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("zoe_1_2_hw.ipynb", notebook([markdown(GOOD)]))
        zf.writestr("../escape_3_4_hw.ipynb", notebook([markdown(GOOD)]))
        zf.writestr("syllabus.pdf", b"%PDF")
    out = tmp_path_factory.mktemp("out")
    done, peak = grader_process(
        "grade", folder, archive, "--assignment", ASSIGNMENT, "--out", out, "--no-run", "--quiet"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = {row["student"]: row for row in json.loads((out / "grades.json").read_text())}
    return rows, out, peak


def test_each_hostile_notebook_is_an_error_row_saying_why(batch):
    rows, _, _ = batch
    assert "nested 1,002 levels deep" in rows["deep"]["error"]
    assert "100,001 cells, over the 20,000 limit" in rows["many_cells"]["error"]
    assert "lists and objects" in rows["tiny_lists"]["error"]
    assert all(rows[name]["status"] == "error" for name in ("deep", "many_cells", "tiny_lists"))


def test_the_batch_goes_on_and_the_good_notebooks_are_graded(batch):
    rows, _, _ = batch
    for name in ("good", "zoe", "big_metadata"):
        assert rows[name]["status"] == "graded", rows[name]
        assert next(q for q in rows[name]["questions"] if q["id"] == "q1")["score"] > 0


def test_20_mb_of_saved_outputs_are_graded_and_their_page_rendered_apart_and_cut(batch):
    rows, out, _ = batch
    row = rows["big_outputs"]
    assert row["status"] == "graded" and not any("could not be rendered" in flag for flag in row["flags"]), row
    page = out / "notebooks" / "big_outputs.html"
    assert page.stat().st_size < 1 << 20 and "characters left out" in page.read_text(encoding="utf-8")


def test_oversized_metadata_is_dropped_with_a_note_and_the_answers_kept(batch):
    rows, _, _ = batch
    assert any("metadata of the notebook was over" in note for note in rows["big_metadata"]["notes"])


def test_an_unsafe_zip_entry_is_listed_in_the_grades_and_the_overview(batch):
    rows, out, _ = batch
    row = rows["escape_3_4_hw"]
    assert row["status"] == "error" and ".. in the path" in row["error"] and "'../escape_3_4_hw.ipynb'" in row["error"]
    assert "syllabus" not in " ".join(rows)  # not a notebook: console only
    assert "escape_3_4_hw" in (out / "index.html").read_text()
    assert (out / "reports" / "escape_3_4_hw.html").is_file()


def test_the_graders_peak_memory_stays_under_one_gibibyte(batch):
    _, _, peak = batch
    assert peak < GiB, peak
