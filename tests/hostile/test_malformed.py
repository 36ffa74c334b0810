"""Malformed submissions: each is graded or becomes an error row with a clear message, and the
batch still finishes with every other student graded."""

import base64
import json
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest
from typer.testing import CliRunner

from grader.cli import app

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = ROOT / "assignments" / "regularization"
GOOD_ANSWER = "## Q1\nRegularization adds a penalty on large weights so the network does not overfit and generalizes to unseen data."
PNG = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64).decode()


def v4(cells, minor=5, **extra):
    notebook = {"nbformat": 4, "nbformat_minor": minor, "metadata": {}, "cells": cells, **extra}
    return json.dumps(notebook)


def md(text, **extra):
    return {"cell_type": "markdown", "metadata": {}, "source": text, **extra}


def write_cases(folder: Path) -> dict[str, str]:
    """name -> what we expect: "graded" or a fragment of the error message."""
    cases = {}

    def put(name, data, expect):
        path = folder / f"{name}.ipynb"
        path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
        cases[name] = expect

    nbformat.write(nbf.new_notebook(cells=[nbf.new_markdown_cell(GOOD_ANSWER)]), folder / "good.ipynb")
    cases["good"] = "graded"
    put("invalid_json", '{"cells": [', "JSON is broken")
    put("truncated", v4([md(GOOD_ANSWER)])[:-40], "JSON is broken")
    put("empty", b"", "empty")
    put("binary", b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 4, "not UTF-8")
    put(
        "not_utf8",
        json.dumps(
            {"nbformat": 4, "nbformat_minor": 4, "metadata": {}, "cells": [md("caf\xe9 " + GOOD_ANSWER)]},
            ensure_ascii=False,
        ).encode("latin-1"),
        "not UTF-8",
    )
    put("json_but_not_a_notebook", json.dumps({"hello": "world"}), "no cells")
    put(
        "v3",
        json.dumps(
            {
                "nbformat": 3,
                "nbformat_minor": 0,
                "metadata": {},
                "worksheets": [{"cells": [{"cell_type": "markdown", "metadata": {}, "source": GOOD_ANSWER}]}],
            }
        ),
        "graded",
    )
    for minor in range(0, 6):
        cell = md(GOOD_ANSWER, id=f"c{minor}") if minor >= 5 else md(GOOD_ANSWER)
        put(f"v4_{minor}", v4([cell], minor=minor), "graded")
    put("no_metadata", json.dumps({"nbformat": 4, "nbformat_minor": 4, "cells": [md(GOOD_ANSWER)]}), "graded")
    put("no_cells", json.dumps({"nbformat": 4, "nbformat_minor": 4, "metadata": {}}), "no cells")
    put(
        "no_kernelspec",
        v4(
            [
                md(GOOD_ANSWER),
                {"cell_type": "code", "metadata": {}, "source": "x = 1", "outputs": [], "execution_count": None},
            ]
        ),
        "graded",
    )
    put("duplicate_ids", v4([md(GOOD_ANSWER, id="same"), md("more", id="same")]), "graded")
    put(
        "absurd_counts",
        v4(
            [
                md(GOOD_ANSWER),
                {"cell_type": "code", "metadata": {}, "source": "y = 2", "outputs": [], "execution_count": 10**12},
            ],
            minor=4,
        ),
        "graded",
    )
    put("five_thousand_cells", v4([md(GOOD_ANSWER)] + [md(f"note {n}") for n in range(5000)], minor=4), "graded")
    put(
        "attachments_and_images",
        v4(
            [
                md(GOOD_ANSWER + "\n![x](attachment:x.png)", attachments={"x.png": {"image/png": PNG}}),
                {
                    "cell_type": "code",
                    "metadata": {},
                    "source": "1",
                    "execution_count": 1,
                    "outputs": [{"output_type": "display_data", "metadata": {}, "data": {"image/png": PNG}}],
                },
            ],
            minor=4,
        ),
        "graded",
    )
    huge_output = {
        "cell_type": "code",
        "metadata": {},
        "source": "z = 3",
        "execution_count": 1,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "x" * (50 * 1024 * 1024)}],
    }
    put("fifty_megabytes", v4([md(GOOD_ANSWER), huge_output], minor=4), "graded")
    return cases


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    folder = tmp_path_factory.mktemp("malformed")
    cases = write_cases(folder)
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(
        app, ["grade", str(folder), "--assignment", str(ASSIGNMENT), "--out", str(out), "--quiet", "--jobs", "2"]
    )
    assert result.exit_code == 0, result.output
    rows = {row["student"]: row for row in json.loads((out / "grades.json").read_text())}
    return cases, rows, out


def test_every_malformed_file_is_a_row_and_the_good_one_is_graded(batch):
    cases, rows, _ = batch
    assert set(rows) == set(cases)
    q1 = next(q for q in rows["good"]["questions"] if q["id"] == "q1")
    assert q1["score"] > 0


def test_each_case_has_the_expected_outcome(batch):
    cases, rows, _ = batch
    wrong = {}
    for name, expect in cases.items():
        row = rows[name]
        if expect == "graded":
            ok = row["status"] == "graded"
        else:
            ok = row["status"] == "error" and expect in (row["error"] or "")
        if not ok:
            wrong[name] = (row["status"], row["error"])
    assert wrong == {}


def test_readable_old_and_odd_notebooks_keep_their_answers(batch):
    _, rows, _ = batch
    for name in ("v3", "v4_0", "v4_5", "no_metadata", "duplicate_ids", "five_thousand_cells", "fifty_megabytes"):
        q1 = next(q for q in rows[name]["questions"] if q["id"] == "q1")
        assert q1["score"] > 0, name


def test_reports_stay_small_when_a_notebook_carries_megabytes_of_output(batch):
    _, _, out = batch
    assert (out / "reports" / "fifty_megabytes.html").stat().st_size < 5 * 1024 * 1024
