"""A class of four, exported to each LMS: the files are byte-for-byte what the LMS should get.

Ana has a comma, quotes and accents in her name; Bob's name starts with '=' and he found a hidden
concept; Chen's notebook could not be read; Dée has no LMS ids and a path-unsafe student id.
"""

import csv
import io
import json
from pathlib import Path

import pytest

from grader.export.common import number, safe_cell, safe_dirname
from grader.export.gradescope import gradescope_results, run_in_gradescope
from grader.export.table import question_columns
from grader.export.write import ExportError, ExportOptions, build_export, export_grades, load_records
from grader.overrides import with_overrides
from grader.rubric import parse_rubric

EXPECTED = Path(__file__).resolve().parent / "expected" / "exports"

RUBRIC = parse_rubric(
    {
        "title": "Regularization HW",
        "questions": [
            {
                "id": "q1",
                "prompt": "Why does dropout reduce overfitting?\nAnswer in two or three sentences.",
                "points": 5,
                "concepts": [
                    {
                        "id": "co_adaptation",
                        "points": 3,
                        "any": ["co-adaptation"],
                        "hint": "Say what dropout stops neurons from doing.",
                    },
                    {
                        "id": "ensemble",
                        "points": 2,
                        "any": ["ensemble"],
                        "hidden": True,
                        "hint": "Think of many thinned networks.",
                    },
                ],
            },
            {
                "id": "q2",
                "prompt": "What does the validation curve show?",
                "points": 5,
                "min_words": 20,
                "concepts": [
                    {"id": "gap", "points": 5, "any": ["gap"], "hint": "Compare training and validation loss."}
                ],
            },
        ],
        "checks": [
            {
                "id": "baseline",
                "points": 2,
                "kind": "results_reported",
                "description": "Reports the test accuracy",
                "hint": "Print the test accuracy of each model.",
            }
        ],
    }
)


def concept(id, points, found, evidence="", negated=False):
    return {"id": id, "found": found, "points": points, "evidence": evidence, "negated": negated}


def question(id, score, concepts, flags=()):
    return {
        "id": id,
        "score": score,
        "max_score": 5.0,
        "concepts": concepts,
        "flags": list(flags),
        "answer_cells": [3],
        "confidence": 0.9,
    }


def check(passed, evidence):
    return {
        "id": "baseline",
        "passed": passed,
        "score": 2.0 if passed else 0.0,
        "max_score": 2.0,
        "evidence": evidence,
        "source": "runtime",
    }


def record(
    student, identity, score, questions=(), checks=(), status="graded", error=None, flags=(), late=False, seconds=12.0
):
    return {
        "student": student,
        "identity": {"id": student, **identity},
        "late": late,
        "notes": [],
        "source": f"{student}.ipynb",
        "sha256": "0" * 64,
        "status": status,
        "error": error,
        "score": score,
        "max_score": 12.0,
        "percent": round(100 * score / 12, 1),
        "flags": list(flags),
        "questions": list(questions),
        "checks": list(checks),
        "execution": {
            "mode": "full",
            "status": "ok",
            "seconds": seconds,
            "cells_failed": [],
            "skipped": [],
            "cached": False,
        },
        "report": f"{student}.html",
    }


ANA = record(
    "ana",
    {
        "name": 'Núñez, Ana "Ani"',
        "email": "ana@example.edu",
        "lms_user_id": "1001",
        "sis_id": "S1001",
        "login_id": "anunez",
        "section": "Section 1",
    },
    10.0,
    [
        question(
            "q1", 3.0, [concept("co_adaptation", 3.0, True, "prevents co-adaptation"), concept("ensemble", 2.0, False)]
        ),
        question("q2", 5.0, [concept("gap", 5.0, True, "the gap between the curves")]),
    ],
    [check(True, ["printed test accuracy 0.91"])],
)
BOB = record(
    "bob",
    {
        "name": '=HYPERLINK("http://x.example","click")',
        "email": "bob@example.edu",
        "lms_user_id": "1002",
        "sis_id": "S1002",
        "login_id": "bsmith",
        "section": "Section 2",
    },
    5.0,
    [
        question(
            "q1",
            5.0,
            [
                concept("co_adaptation", 3.0, True, "co-adaptation"),
                concept("ensemble", 2.0, True, "an ensemble of networks"),
            ],
        ),
        question("q2", 0.0, [concept("gap", 5.0, False, negated=True)], ["concept gap appears only in negated form"]),
    ],
    [check(False, ["no test accuracy was printed"])],
    flags=["concept gap appears only in negated form"],
    seconds=41.6,
)
CHEN = record(
    "chen",
    {
        "name": "Chen Wei 陈伟",
        "email": "chen@example.edu",
        "lms_user_id": "1003",
        "login_id": "cwei",
        "section": "Section 1",
    },
    0.0,
    status="error",
    error="notebook is not valid JSON (line 3, column 5); export it again from Jupyter",
    seconds=0.0,
)
DEE = record(
    "../Dée",
    {"name": "O'Brien, Dee", "section": ""},
    7.5,
    [
        question(
            "q1", 3.0, [concept("co_adaptation", 3.0, True, "=SUM(A1) co-adaptation"), concept("ensemble", 2.0, False)]
        ),
        question("q2", 2.5, [concept("gap", 5.0, True, "gap")]),
    ],
    [check(True, ["printed test accuracy 0.88"])],
    late=True,
)
CLASS = [DEE, CHEN, BOB, ANA]  # not in student order: exports sort by student id


def expected(name: str) -> bytes:
    return (EXPECTED / name).read_bytes()


def test_canvas_csv_is_a_gradebook_import_with_points_possible():
    export = build_export("canvas", CLASS, RUBRIC, ExportOptions(assignment_id="4242"))
    assert export.files == {"canvas.csv": expected("canvas.csv")}
    rows = list(csv.reader(io.StringIO(export.files["canvas.csv"].decode("utf-8"))))
    assert rows[0] == ["Student", "ID", "SIS User ID", "SIS Login ID", "Section", "Regularization HW (4242)"]
    assert rows[1] == ["    Points Possible", "", "", "", "", "12"]
    by_id = {row[1]: row for row in rows[2:]}
    assert by_id["1001"][0] == 'Núñez, Ana "Ani"' and by_id["1001"][5] == "10"
    assert by_id["1002"][0].startswith("'=HYPERLINK")  # no formula runs in a spreadsheet
    assert by_id["1003"][5] == ""  # could not be graded: blank, not 0
    assert export.warnings == (
        "canvas: '../Dée' has no Canvas user id, SIS User ID or SIS Login ID; "
        "Canvas will ask you to match this row by hand (add a roster to match automatically)",
    )


def test_canvas_without_assignment_id_warns_that_a_new_column_is_made():
    export = build_export("canvas", [ANA], RUBRIC)
    assert export.files["canvas.csv"].startswith(b"Student,ID,SIS User ID,SIS Login ID,Section,Regularization HW\n")
    assert "Canvas will create a new assignment column 'Regularization HW'" in export.warnings[0]


def test_moodle_refuses_to_leave_out_a_graded_student_unless_told():
    with pytest.raises(ExportError, match=r"1 of 3 graded students has no email address \(\.\./Dée\).*--roster"):
        build_export("moodle", CLASS, RUBRIC)
    no_sis = {**BOB, "identity": {**BOB["identity"], "sis_id": ""}}
    with pytest.raises(ExportError, match=r"1 of 2 graded students has no id number \(bob\).*use --moodle-id email"):
        build_export("moodle", [ANA, no_sis, CHEN], RUBRIC, ExportOptions(moodle_identifier="idnumber"))


def test_moodle_csv_has_identifier_grade_and_feedback_and_leaves_out_rows_it_cannot_match():
    export = build_export("moodle", CLASS, RUBRIC, ExportOptions(leave_out=True))
    assert export.files == {"moodle.csv": expected("moodle.csv")}
    rows = list(csv.DictReader(io.StringIO(export.files["moodle.csv"].decode("utf-8"))))
    assert [r["Email address"] for r in rows] == ["ana@example.edu", "bob@example.edu", "chen@example.edu"]
    ana, bob, chen = rows
    assert ana["Regularization HW"] == "10"
    assert ana["Feedback"].splitlines()[1] == "Q1: 3 / 5"  # the hidden concept she missed is not named
    assert "Gap (Compare training and validation loss.)" in bob["Feedback"]
    assert chen["Regularization HW"] == "" and chen["Feedback"].startswith("Not graded: notebook is not valid JSON")
    assert export.warnings[0].startswith("moodle: '../Dée' has no email address, so the row is left out")


def test_moodle_by_idnumber_uses_the_sis_id():
    export = build_export("moodle", [ANA, CHEN], RUBRIC, ExportOptions(moodle_identifier="idnumber", errors="zero"))
    rows = list(csv.reader(io.StringIO(export.files["moodle.csv"].decode("utf-8"))))
    assert rows[0] == ["ID number", "Full name", "Regularization HW", "Feedback"]
    assert [r[:3] for r in rows[1:]] == [["S1001", 'Núñez, Ana "Ani"', "10"]]
    assert "moodle: 'chen' has no id number" in export.warnings[0]


@pytest.mark.parametrize("delimiter,name", [("comma", "blackboard.csv"), ("tab", "blackboard.txt")])
def test_blackboard_upload_has_username_and_the_column_id(delimiter, name):
    export = build_export("blackboard", CLASS, RUBRIC, ExportOptions(assignment_id="_123_1", delimiter=delimiter))
    assert export.files == {name: expected(name)}
    text = export.files[name].decode("utf-8")
    rows = list(csv.reader(io.StringIO(text, newline=""), delimiter="\t" if delimiter == "tab" else ","))
    assert rows == [
        ["Username", "Regularization HW |_123_1"],
        ["../Dée", "7.5"],
        ["anunez", "10"],
        ["bsmith", "5"],
        ["cwei", ""],
    ]
    assert text.endswith("\r\n")
    assert export.warnings == ("blackboard: '../Dée' has no login, so the student id is used as Username",)


def test_gradescope_results_follow_the_autograder_schema():
    export = build_export("gradescope", CLASS, RUBRIC)
    assert sorted(export.files) == [
        "gradescope/Dee/results.json",
        "gradescope/ana/results.json",
        "gradescope/bob/results.json",
        "gradescope/chen/results.json",
    ]
    for path, content in export.files.items():
        assert content == expected(path), path
    bob = json.loads(export.files["gradescope/bob/results.json"])
    assert set(bob) == {"score", "execution_time", "output", "visibility", "stdout_visibility", "tests"}
    assert bob["score"] == 5.0 and bob["execution_time"] == 42
    assert [(t["name"], t["score"], t["max_score"], t["visibility"]) for t in bob["tests"]] == [
        ("Q1: Why does dropout reduce overfitting? Answer in two or three sentences.", 3.0, 3.0, "visible"),
        (
            "Q1: Why does dropout reduce overfitting? Answer in two or three sentences. (more points, shown when grades are published)",
            2.0,
            2.0,
            "after_published",
        ),
        ("Q2: What does the validation curve show?", 0.0, 5.0, "visible"),
        ("Baseline: Reports the test accuracy", 0.0, 2.0, "visible"),
    ]
    assert "ensemble" not in "".join(t["output"] for t in bob["tests"] if t["visibility"] == "visible")
    for results in map(json.loads, export.files.values()):
        assert sum(t["score"] for t in results["tests"]) == results["score"]
    chen = json.loads(export.files["gradescope/chen/results.json"])
    assert chen["score"] == 0.0 and chen["tests"] == [] and "not valid JSON" in chen["output"]


def test_grades_csv_and_json_have_a_column_per_question_and_check():
    csv_export = build_export("csv", CLASS, RUBRIC)
    json_export = build_export("json", CLASS, RUBRIC)
    assert csv_export.files == {"grades.csv": expected("grades.csv")}
    assert json_export.files == {"grades.json": expected("grades.json")}
    text = csv_export.files["grades.csv"].decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    table = json.loads(json_export.files["grades.json"])
    assert [r["student"] for r in rows] == [r["student"] for r in table] == ["../Dée", "ana", "bob", "chen"]
    assert list(rows[0])[11:14] == ["q1", "q2", "check:baseline"]
    assert rows[2]["name"].startswith("'=") and table[2]["name"].startswith("=")  # JSON is not a spreadsheet
    assert rows[3]["score"] == "" and table[3]["score"] is None and table[3]["q1"] is None
    assert table[1]["q1"] == 3.0 and table[1]["check:baseline"] == 2.0


def _labelled(*labels):
    return RUBRIC.model_copy(
        update={"questions": [q.model_copy(update={"label": label}) for q, label in zip(RUBRIC.questions, labels)]}
    )


def test_question_columns_are_named_as_people_see_the_questions():
    """The label students and reports use ("1.10", "Q2a"), kept from being read as a number by a
    spreadsheet; the LMS files, keyed on their own columns, do not change."""
    rubric = _labelled("1.10", "Q2a")
    text = build_export("csv", CLASS, rubric).files["grades.csv"].decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert list(rows[0])[11:14] == ["Q1.10", "Q2a", "check:baseline"]
    assert rows[1]["Q1.10"] == "3" and rows[1]["Q2a"] == "5"
    table = json.loads(build_export("json", CLASS, rubric).files["grades.json"])
    assert table[1]["Q1.10"] == 3.0 and table[1]["Q2a"] == 5.0
    options = ExportOptions(assignment_id="4242", leave_out=True)
    for form in ("canvas", "moodle", "blackboard"):
        assert build_export(form, CLASS, rubric, options).files == build_export(form, CLASS, RUBRIC, options).files


def test_a_label_that_would_clash_or_run_as_a_formula_keeps_a_safe_column():
    assert question_columns(_labelled("score", "q1")) == {"q1": "q1", "q2": "q2"}  # a total column, the other's id
    assert question_columns(_labelled("Q1", "")) == {"q1": "Q1", "q2": "q2"}  # its own id in capitals
    header = build_export("csv", [ANA], _labelled("=cmd()", "2")).files["grades.csv"].decode("utf-8-sig")
    assert header.splitlines()[0].split(",")[11:13] == ["'=cmd()", "Q2"]


def test_errors_zero_puts_a_zero_for_submissions_that_could_not_be_graded():
    canvas = build_export("canvas", [CHEN], RUBRIC, ExportOptions(assignment_id="1", errors="zero"))
    assert canvas.files["canvas.csv"].decode().splitlines()[2] == "Chen Wei 陈伟,1003,,cwei,Section 1,0"
    table = json.loads(build_export("json", [CHEN], RUBRIC, ExportOptions(errors="zero")).files["grades.json"])
    assert table[0]["score"] == 0.0 and table[0]["q1"] == 0.0


def test_manual_overrides_replace_scores_and_are_ignored_when_absent():
    assert with_overrides(ANA) is ANA
    fixed = with_overrides(
        {**ANA, "overrides": [{"id": "q1", "score": 5, "by": "ta", "why": "ensemble said differently"}]}
    )
    assert fixed["score"] == 12.0 and fixed["percent"] == 100.0
    regraded = with_overrides({**CHEN, "overrides": [{"id": "total", "score": 9}]})
    assert regraded["status"] == "graded" and regraded["score"] == 9.0
    canvas = build_export(
        "canvas", [{**CHEN, "overrides": [{"id": "total", "score": 9}]}], RUBRIC, ExportOptions(assignment_id="1")
    )
    assert canvas.files["canvas.csv"].decode().splitlines()[2].endswith(",9")


def test_cells_numbers_and_folder_names_are_safe():
    assert [safe_cell(v) for v in ["=1+1", "+1", "-1", "@SUM", "\tx", "Ana", "", None]] == [
        "'=1+1",
        "'+1",
        "'-1",
        "'@SUM",
        "'\tx",
        "Ana",
        "",
        "",
    ]
    assert [number(v) for v in [10.0, 7.5, 3.333, 0.0, None]] == ["10", "7.5", "3.33", "0", ""]
    taken: set[str] = set()
    assert [safe_dirname(n, taken) for n in ["../../etc", "ana", "ANA", "", "CON", "陈伟"]] == [
        "etc",
        "ana",
        "ANA-2",
        "student",
        "_CON",
        "student-2",
    ]


def test_export_grades_reads_grades_json_and_writes_under_exports(tmp_path):
    (tmp_path / "grades.json").write_text(json.dumps(CLASS), encoding="utf-8")
    paths, warnings = export_grades(tmp_path, RUBRIC, "gradescope")
    assert sorted(p.relative_to(tmp_path).as_posix() for p in paths) == [
        "exports/gradescope/Dee/results.json",
        "exports/gradescope/ana/results.json",
        "exports/gradescope/bob/results.json",
        "exports/gradescope/chen/results.json",
    ]
    paths, warnings = export_grades(tmp_path, RUBRIC, "canvas", ExportOptions(assignment_id="4242"))
    assert paths == [(tmp_path / "exports" / "canvas.csv").resolve()]
    assert paths[0].read_bytes() == expected("canvas.csv") and len(warnings) == 1
    assert not list((tmp_path / "exports").glob("*.tmp"))


def test_export_errors_say_what_to_do(tmp_path):
    with pytest.raises(ExportError, match="grades.json: not found; run `grader grade"):
        load_records(tmp_path)
    (tmp_path / "grades.json").write_text("[{", encoding="utf-8")
    with pytest.raises(ExportError, match="not valid JSON"):
        load_records(tmp_path)
    with pytest.raises(ExportError, match="--format 'pdf': use one of canvas, moodle"):
        build_export("pdf", CLASS, RUBRIC)
    with pytest.raises(ExportError, match="--moodle-id 'username'"):
        build_export("moodle", CLASS, RUBRIC, ExportOptions(moodle_identifier="username"))


def test_run_in_gradescope_grades_the_submitted_notebook(tmp_path):
    submission, results = tmp_path / "submission", tmp_path / "results" / "results.json"
    submission.mkdir()
    (submission / "b.ipynb").write_text("{}")
    (submission / "a.ipynb").write_text("{}")
    graded = []

    def grade(path: Path) -> dict:
        graded.append(path.name)
        return BOB

    written = run_in_gradescope(submission, results, grade, RUBRIC)
    assert graded == ["a.ipynb"]
    assert json.loads(results.read_text(encoding="utf-8")) == written
    assert written["output"].startswith("Graded a.ipynb; also submitted, not graded: b.ipynb.\n")
    assert written["tests"] == gradescope_results(BOB, RUBRIC)["tests"]


def test_run_in_gradescope_without_a_notebook_tells_the_student_what_to_upload(tmp_path):
    submission = tmp_path / "submission"
    submission.mkdir()
    (submission / "homework.pdf").write_bytes(b"%PDF")
    results = run_in_gradescope(
        submission, tmp_path / "results.json", lambda path: pytest.fail("nothing to grade"), RUBRIC
    )
    assert results["score"] == 0.0
    assert "No Jupyter notebook (.ipynb) was found in your submission (it had: homework.pdf)" in results["output"]


def test_feedback_names_what_was_missed_and_why_points_were_capped_but_no_hidden_concept():
    from grader.export.common import feedback_text

    assert feedback_text(DEE, RUBRIC).splitlines() == [
        "Score: 7.5 / 12",
        "Q1: 3 / 5",
        "Q2: 2.5 / 5. Capped: a full answer needs about 20 words",
        "Baseline: passed, 2 / 2",
    ]
