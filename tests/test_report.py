"""The report pages, rendered from Grade objects built by hand: fast, no kernel.

A class of three: Ana wrote a hostile answer (a script tag, an image with an onerror handler, a
javascript: link) and her notebook printed the same things, as text and as HTML; Ben found a
hidden concept and missed another; Cy's notebook could not be read.
"""

import base64
import json
import pickle
import re
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path
from types import SimpleNamespace

import nbformat.v4 as nbf
import pytest

from grader.export.common import feedback_text
from grader.export.grades_json import grade_record
from grader.export.gradescope import gradescope_results
from grader.export.write import FORMATS, build_export
from grader.facts import Evaluation, Facts, Fit, Layer, Model
from grader.models import (
    Answer,
    CellError,
    CheckGrade,
    ConceptResult,
    Execution,
    Flag,
    Grade,
    QuestionGrade,
    Submission,
)
from grader.redact import redact, redact_record
from grader.report import page_process
from grader.report.answer_html import render_answer
from grader.report.charts import Bar, bar_chart, histogram
from grader.report.fix_first import fixes
from grader.report.notebook_html import cut, notebook_body, notebook_page, sanitize
from grader.report.render import executed_notebook_page, overview_page, student_page, write_reports
from grader.rubric import parse_rubric

HOSTILE = "<script>document.title='pwned'</script> <img src=x onerror=alert(1)> [click me](javascript:alert(1))"
PNG = base64.b64encode(bytes.fromhex("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489")).decode()

RUBRIC = parse_rubric(
    {
        "title": "Regularization HW",
        "questions": [
            {
                "id": "q1",
                "prompt": "Why does dropout reduce overfitting?",
                "points": 6,
                "reference": "Dropout stops co-adaptation; it trains an implicit ensemble of thinned networks.",
                "concepts": [
                    {
                        "id": "co_adaptation",
                        "points": 3,
                        "any": ["co-adaptation"],
                        "hint": "Say what dropout stops neurons from doing.",
                    },
                    {
                        "id": "ensemble_view",
                        "points": 2,
                        "any": ["many thinned networks"],
                        "hidden": True,
                        "hint": "Think of an average of networks.",
                    },
                    {
                        "id": "inference_scaling",
                        "points": 1,
                        "any": ["scaled at test time"],
                        "hidden": True,
                        "hint": "SECRET-HINT: what changes at inference?",
                    },
                ],
            },
            {
                "id": "q2",
                "prompt": "Implement Dropout in a model and compare it with a model without Dropout.",
                "points": 4,
                "concepts": [{"id": "compares", "points": 4, "any": ["better"], "hint": "Say which model did better."}],
            },
        ],
        "checks": [
            {
                "id": "dropout_model",
                "points": 6,
                "kind": "trained_model_with_layers",
                "description": "A model with Dropout was trained.",
                "params": {"layers": ["Dropout"]},
            },
            {
                "id": "held_out",
                "points": 5,
                "kind": "evaluated_on_held_out_data",
                "description": "Evaluated on a test set.",
                "hint": "Evaluate on test data the model never saw.",
            },
        ],
    }
)
# The report reads only an assignment's title and rubric.
ASSIGNMENT = SimpleNamespace(title="Regularization HW", rubric=RUBRIC)


def notebook(output_text: str = HOSTILE):
    cells = [
        nbf.new_markdown_cell("## Q1\n" + HOSTILE),
        nbf.new_markdown_cell("Answer: dropout prevents co-adaptation. " + HOSTILE),
        nbf.new_raw_cell("<script>alert('raw')</script>"),
        nbf.new_code_cell(
            "model.fit(x, y)\nprint(model.evaluate(x_test, y_test))",
            execution_count=1,
            outputs=[
                nbf.new_output("stream", name="stdout", text=output_text + "\naccuracy 0.9123\n"),
                nbf.new_output(
                    "display_data",
                    data={
                        "text/html": HOSTILE
                        + '<iframe src="https://evil.example"></iframe><a href="javascript:alert(2)">x</a>'
                        '<div onclick="alert(3)" style="position:fixed">overlay</div><svg onload="alert(4)"></svg>',
                        "text/plain": "<IPython.core.display.HTML object>",
                    },
                ),
                nbf.new_output(
                    "display_data", data={"image/png": PNG, "text/plain": "<Figure size 640x480 with 1 Axes>"}
                ),
                nbf.new_output(
                    "display_data",
                    data={"image/svg+xml": '<svg xmlns="http://www.w3.org/2000/svg"><script>alert(5)</script></svg>'},
                ),
                nbf.new_output("display_data", data={"application/javascript": "document.title='pwned'"}),
            ],
        ),
        nbf.new_code_cell(
            "plot(history['val_accuracy'])",
            execution_count=2,
            outputs=[
                nbf.new_output(
                    "error",
                    ename="KeyError",
                    evalue="'val_accuracy'",
                    traceback=["\x1b[0;31mKeyError\x1b[0m: 'val_accuracy'"],
                ),
            ],
        ),
    ]
    return nbf.new_notebook(cells=cells)


FACTS = Facts(
    models=[
        Model(
            id=1,
            framework="keras",
            cls="Sequential",
            variable="net",
            params=1234,
            layers=[Layer(cls="Dense", units=64), Layer(cls="Dropout", rate=0.5), Layer(cls="Dense", units=10)],
        )
    ],
    fits=[Fit(model=1, cell=3, epochs_run=2, samples=6000)],
    evaluations=[Evaluation(model=1, cell=3, samples=1000, overlap_with_training=0.0, metrics={"accuracy": 0.9123})],
)


def grade(student="ana", answer=HOSTILE, q1_concepts=None, checks=None, output_text=HOSTILE, flags=()) -> Grade:
    q1_concepts = q1_concepts or (
        ConceptResult("co_adaptation", 3, True, "co-adaptation"),
        ConceptResult("ensemble_view", 2, False, hint="Think of an average of networks.", hidden=True),
        ConceptResult("inference_scaling", 1, False, hint="SECRET-HINT: what changes at inference?", hidden=True),
    )
    questions = (
        QuestionGrade(
            "q1",
            sum(c.points for c in q1_concepts if c.found),
            6,
            q1_concepts,
            Answer("q1", "Dropout prevents co-adaptation. " + answer, (1,), 0.9, "heading"),
        ),
        QuestionGrade(
            "q2",
            0,
            4,
            (ConceptResult("compares", 4, False, hint="Say which model did better."),),
            None,
            feedback="No answer was found for this question.",
        ),
    )
    checks = (
        checks
        if checks is not None
        else (
            CheckGrade(
                "dropout_model",
                True,
                6,
                6,
                ("net: Dense(64) Dropout(0.5) Dense(10); trained 2 epochs on 6,000 samples",),
                "A model with Dropout was trained.",
            ),
            CheckGrade(
                "held_out",
                False,
                0,
                5,
                ("net: evaluated only on data it was trained on",),
                "Evaluated on a test set.",
                "Evaluate on test data the model never saw.",
            ),
        )
    )
    execution = Execution(
        notebook=notebook(output_text),
        facts=FACTS,
        status="ok",
        seconds=3.2,
        cell_errors=(CellError(4, "KeyError", "'val_accuracy'", "plot(history['val_accuracy'])"),),
    )
    score = sum(q.score for q in questions) + sum(c.score for c in checks)
    return Grade(
        Submission(student, f"{student}.ipynb", "0" * 64, {}),
        "graded",
        None,
        score,
        21,
        questions,
        checks,
        execution,
        flags,
    )


def failed_grade(student="cy") -> Grade:
    return Grade(
        Submission(student, f"{student}.ipynb", "0" * 64, None),
        "error",
        "not a valid notebook: the JSON is broken at line 3",
        0.0,
        21,
    )


class Elements(HTMLParser):
    """Every start tag with its attributes, as a browser would build them."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def named(self, name):
        return [attrs for tag, attrs in self.tags if tag == name]


def assert_inert(page: str) -> None:
    """No element that could run script or load something: the test of every page we write."""
    elements = Elements(page)
    names = {tag for tag, _ in elements.tags}
    assert not names & {"script", "iframe", "object", "embed", "form", "base"}, names
    for tag, attrs in elements.tags:
        assert not [a for a in attrs if a.startswith("on")], (tag, attrs)
        for key in ("href", "src", "action", "formaction", "xlink:href"):
            assert not attrs.get(key, "").strip().lower().startswith(("javascript:", "vbscript:")), (tag, attrs)
        if tag == "img":
            assert attrs.get("src", "").startswith("data:image/"), attrs
        if tag == "a" and "href" in attrs:
            assert re.match(r"(https?:|mailto:|#|\.\./|[\w.-]+\.html|reports/|notebooks/)", attrs["href"]), attrs
    csp = [a["content"] for a in elements.named("meta") if a.get("http-equiv", "").lower() == "content-security-policy"]
    assert csp and "default-src 'none'" in csp[0] and "script-src" not in csp[0], csp


# ------------------------------------------------------------------ student page: escaping


def test_a_hostile_answer_is_shown_as_text_and_runs_nothing():
    page = student_page(grade(), ASSIGNMENT, "instructor")
    assert_inert(page)
    assert "&lt;script&gt;document.title=" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "[click me](javascript:alert(1))" in page  # not a link: markdown refuses javascript: URLs
    assert "<mark>co-adaptation</mark>" in page


def test_cell_outputs_in_the_report_are_escaped_text():
    page = student_page(grade(output_text="<b onmouseover=alert(1)>loud</b>"), ASSIGNMENT, "student")
    assert_inert(page)
    assert "&lt;b onmouseover=alert(1)&gt;loud&lt;/b&gt;" in page
    assert "accuracy 0.9123" in page  # the relevant output of the cell the checks refer to


def test_answers_are_rendered_markdown_with_the_earning_words_marked():
    rendered = render_answer(
        "**Dropout** stops *co-adaptation*:\n\n- thinned networks\n- `p = 0.5`", ["co-adaptation", "thinned networks"]
    )
    assert "<strong>Dropout</strong>" in rendered
    assert "<em><mark>co-adaptation</mark></em>" in rendered
    assert "<li><mark>thinned networks</mark></li>" in rendered
    assert "<code>p = 0.5</code>" in rendered


def test_a_quote_across_formatting_is_marked_inside_each_text_node():
    rendered = render_answer("it **prevents** overfitting", ["prevents** overfitting"])
    assert rendered == "<p>it <strong><mark>prevents</mark></strong><mark> overfitting</mark></p>\n"


def test_only_web_links_survive_in_answers():
    rendered = render_answer(
        "[a](https://example.org) [b](javascript:alert(1)) [c](data:text/html,x) ![d](data:image/png;base64,AA)"
    )
    assert '<a href="https://example.org" rel="nofollow noopener noreferrer">a</a>' in rendered
    assert rendered.count("<a ") == 1 and "<img" not in rendered


# ------------------------------------------------------------------ audiences


NEGATED = Flag(
    "concept inference_scaling appears only in negated form", ("inference_scaling",)
)  # as the scorer makes it


def ben_grade() -> Grade:
    """Ben found one hidden concept and wrote the other only in negated form (a flag names it)."""
    ben = grade(
        "ben",
        answer="It trains many thinned networks.",
        q1_concepts=(
            ConceptResult("co_adaptation", 3, False, hint="Say what dropout stops neurons from doing."),
            ConceptResult("ensemble_view", 2, True, "many thinned networks", hidden=True),
            ConceptResult(
                "inference_scaling", 1, False, hint="SECRET-HINT: what changes at inference?", hidden=True, negated=True
            ),
        ),
    )
    return replace(ben, questions=(replace(ben.questions[0], flags=(NEGATED,)), ben.questions[1]))


def test_hidden_concepts_are_not_revealed_to_students():
    ben = ben_grade()
    student = student_page(ben, ASSIGNMENT, "student")
    instructor = student_page(ben, ASSIGNMENT, "instructor")

    assert "many thinned networks" in student  # the student's own words stay...
    assert "<mark>many thinned networks</mark>" not in student  # ...but are not marked as what scored
    assert "“many thinned networks”" not in student and "<q>many thinned networks</q>" not in student
    assert "Ensemble view" in student and "+2" in student  # a found hidden concept: its name and points
    assert "SECRET-HINT" not in student and "Inference scaling" not in student and "inference_scaling" not in student
    assert "1 more concept is graded after submission" in student
    assert "co-adaptation; it trains an implicit ensemble" not in student  # the reference answer

    assert "<mark>many thinned networks</mark>" in instructor
    assert "<q>many thinned networks</q>" in instructor
    assert (
        "SECRET-HINT" in instructor
        and "Inference scaling" in instructor
        and "inference_scaling appears only" in instructor
    )
    assert "hidden from students" in instructor
    reference = re.search(r"<details class=\"reference\">(.*?)</details>", instructor, re.S)
    assert reference and "implicit ensemble of thinned networks" in reference.group(1)


def test_the_student_view_is_the_default_and_has_no_class_overview_link():
    page = student_page(grade(), ASSIGNMENT, overview_href="../index.html", notebook_href="../notebooks/ana.html")
    assert "SECRET-HINT" not in page
    assert "../index.html" not in page
    assert 'href="../notebooks/ana.html#cell-1"' in page  # the answer's cell, in the executed notebook
    with pytest.raises(ValueError):
        student_page(grade(), ASSIGNMENT, "teacher")


# ------------------------------------------------------------------ summary


def test_fix_first_lists_the_costliest_misses_in_order():
    items = fixes(redact(grade(), ASSIGNMENT.rubric, "student"))
    assert [(f.label, f.points) for f in items] == [
        ("Code check: Held out", 5),
        ("Q2: no answer found", 4),
    ]
    instructor = fixes(redact(grade(), ASSIGNMENT.rubric, "instructor"))
    assert [f.label for f in instructor] == [
        "Code check: Held out",
        "Q2: no answer found",
        "Q1: Ensemble view",
        "Q1: Inference scaling",
    ]

    page = student_page(grade(), ASSIGNMENT, "student")
    section = re.search(r'<section class="fix".*?</section>', page, re.S).group(0)
    assert section.index("Held out") < section.index("Q2: no answer found")
    assert "Evaluate on test data the model never saw." in section
    assert "9 <small>/ 21 points</small>" in page and "42.9%" in page


def test_q8_shows_checks_models_failed_cells_and_outputs():
    page = student_page(grade(), ASSIGNMENT, "student")
    checks = page[page.index('id="checks"') :]
    assert page.index('id="q2"') < page.index('id="checks"')  # under the question that asks for code
    assert "✔ Passed" in checks and "✘ Not passed" in checks
    assert "Dense(64) Dropout(0.5) Dense(10)" in checks  # the model's layers
    assert "2 epochs on 6,000 samples" in checks and "1,234" in checks
    assert "held-out: accuracy 0.9123" in checks
    assert "KeyError: &#39;val_accuracy&#39;" in checks and "plot(history[&#39;val_accuracy&#39;])" in checks
    assert "Cell 3" in checks and "accuracy 0.9123" in checks


def test_long_outputs_are_cut_with_a_note():
    page = student_page(grade(output_text="\n".join(f"line {i}" for i in range(500))), ASSIGNMENT, "student")
    assert "line 0" in page and "line 499" not in page.split("characters left out")[0]
    assert "characters left out" in page
    assert cut("x" * 10) == "x" * 10


def test_a_submission_that_could_not_be_read_says_why():
    page = student_page(failed_grade(), ASSIGNMENT, "student")
    assert_inert(page)
    assert "could not be graded" in page and "the JSON is broken at line 3" in page


# ------------------------------------------------------------------ executed notebook


def test_the_executed_notebook_page_is_sanitised_and_keeps_images():
    page = executed_notebook_page(grade(), ASSIGNMENT, report_href="../reports/ana.html")
    assert_inert(page)
    assert "<svg" not in page and "<script" not in page and "onerror=alert" in page  # only as escaped text
    assert f'src="data:image/png;base64,{PNG}"' in page
    assert 'src="data:image/svg+xml;base64,' in page  # an SVG output, as an image that cannot run script
    assert "position:fixed" not in page and "evil.example" not in page
    assert 'id="cell-3"' in page and "cell 3" in page
    assert "&lt;script&gt;alert('raw')&lt;/script&gt;" in page  # a raw cell, shown as text
    assert "KeyError" in page


def test_a_notebook_cannot_plant_a_fake_cell_anchor():
    planted = notebook()
    planted.cells[
        0
    ].source += '<div id="cell-3">fake</div><div class="cell x" id="cell-id=grader-0000000000000000-3">fake</div>'
    body = notebook_body(planted)
    assert body.count('id="cell-3"') == 1 and body.count('<p class="cell-label">cell 3</p>') == 1
    assert body.index('id="cell-3"') > body.index('id="cell-2"')


def test_a_notebook_nbconvert_cannot_render_gets_a_page_that_says_so():
    broken = notebook()
    broken.cells[3].outputs[0]["output_type"] = "no-such-output"
    page = notebook_page(broken, "ana", "HW")
    assert_inert(page)
    assert "This notebook could not be shown" in page


def test_the_sanitiser_keeps_tables_and_drops_everything_active():
    clean = sanitize(
        '<table><tr><td colspan="2" onclick="x()">1</td></tr></table><a href="vbscript:x">v</a><p style="color:red">p</p>'
    )
    assert (
        clean
        == '<table><tbody><tr><td colspan="2">1</td></tr></tbody></table><a rel="nofollow noopener noreferrer">v</a><p>p</p>'
    )
    assert "grader-cell" not in notebook_body(notebook())


# ------------------------------------------------------------------ overview


def class_of_three():
    ana = grade(flags=("execution timeout: cell 3 ran over 300 s",))
    ben = grade(
        "ben",
        answer="It trains many thinned networks.",
        checks=(
            CheckGrade("dropout_model", True, 6, 6, ("ok",)),
            CheckGrade("held_out", True, 5, 5, ("ok",)),
        ),
    )
    return [ana, ben, failed_grade()]


def test_the_overview_has_the_histogram_pass_rates_and_both_sort_orders():
    page = overview_page(class_of_three(), ASSIGNMENT)
    assert_inert(page)
    histogram_svg = re.search(r'<svg class="chart".*?</svg>', page, re.S).group(0)
    assert "<title" in histogram_svg and "Score distribution" in histogram_svg and "<desc" in histogram_svg
    assert "Dropout model" in page and "2 of 2 passed (100%)" in page and "1 of 2 passed (50%)" in page
    assert "1 / 2" in page  # the pass-rate table
    by_score = re.search(r'id="by-score".*?</details>', page, re.S).group(0)
    by_name = re.search(r'id="by-name".*?</details>', page, re.S).group(0)
    assert by_score.index(">ben<") < by_score.index(">ana<") < by_score.index(">cy<")
    assert by_name.index(">ana<") < by_name.index(">ben<") < by_name.index(">cy<")
    attention = re.search(r'id="attention".*?</section>', page, re.S).group(0)
    assert "the JSON is broken at line 3" in attention and "execution timeout" in attention
    missed = re.search(r'id="concepts".*?</section>', page, re.S).group(0)
    assert "Ensemble view" in missed and "2 / 2" in missed  # missed by both who answered Q1
    assert "Q1" in page and "Q2" in page and "Std" in page


def test_charts_carry_text_alternatives_and_escape_labels():
    svg = bar_chart("c", [Bar("<b>q</b>", 50, "1 of 2")], "Pass <rates>", "desc & more")
    assert '<title id="c-t">Pass &lt;rates&gt;</title>' in svg and "desc &amp; more" in svg
    assert "&lt;b&gt;q&lt;/b&gt;" in svg
    hist = histogram("h", [0, 2, 1], ["0–9", "10–19", "20–100"], "Scores", "three bins", "score")
    assert hist.count("<rect") == 3 and ">2</text>" in hist


# ------------------------------------------------------------------ files


def test_write_reports_writes_each_page_and_links_them(tmp_path: Path):
    written = write_reports(class_of_three(), ASSIGNMENT, tmp_path, "student")
    assert [g.report_path.name for g in written] == ["ana.html", "ben.html", "cy.html"]
    assert sorted(p.name for p in (tmp_path / "reports").iterdir()) == ["ana.html", "ben.html", "cy.html"]
    assert sorted(p.name for p in (tmp_path / "notebooks").iterdir()) == ["ana.html", "ben.html"]
    report = (tmp_path / "reports" / "ana.html").read_text()
    assert 'href="../notebooks/ana.html"' in report and "SECRET-HINT" not in report
    assert 'href="../reports/ana.html"' in (tmp_path / "notebooks" / "ana.html").read_text()
    index = (tmp_path / "index.html").read_text()
    assert 'href="reports/ana.html"' in index and 'href="notebooks/ana.html"' in index
    for page in [*(tmp_path / "reports").iterdir(), *(tmp_path / "notebooks").iterdir(), tmp_path / "index.html"]:
        assert_inert(page.read_text())


READY = "import sys; from grader.report.page_process import _send; _send(sys.stdout.buffer, {'ready': True}); "
HANGS = READY + "import time; time.sleep(600)"
ALLOCATES = READY + (  # answers what 2 GiB, over the child's limit, came to
    "from grader.report.page_process import _send\nsys.stdin.buffer.read(8)\n"
    "try:\n    block = bytearray(2 << 30)\n    _send(sys.stdout.buffer, {'page': 'allocated'})\n"
    "except MemoryError:\n    _send(sys.stdout.buffer, {'error': 'MemoryError'})"
)


def test_a_page_that_renders_too_long_is_a_plain_page_that_says_why_and_a_flag(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(page_process, "_RENDERER", page_process._Renderer())
    monkeypatch.setattr(page_process, "_CHILD", HANGS)
    monkeypatch.setattr(page_process, "TIMEOUT", 1.0)
    written = {g.submission.student: g for g in write_reports(class_of_three(), ASSIGNMENT, tmp_path, "instructor")}
    assert "the executed notebook page could not be rendered: rendering took longer than 1 s" in written["ana"].flags
    page = (tmp_path / "notebooks" / "ana.html").read_text()
    assert "This notebook could not be shown" in page and "longer than 1 s" in page
    assert_inert(page)
    assert 'href="../notebooks/ana.html"' in (tmp_path / "reports" / "ana.html").read_text()


def test_the_page_renderer_runs_under_a_memory_limit_and_a_new_one_serves_the_next_page(monkeypatch):
    renderer = page_process._Renderer()
    monkeypatch.setattr(page_process, "_CHILD", ALLOCATES)
    with pytest.raises(page_process.RenderFailed, match="MemoryError"):
        renderer.render({"notebook": dict(notebook()), "student": "ana", "title": "HW"})
    monkeypatch.undo()
    try:
        page = renderer.render({"notebook": dict(notebook()), "student": "ana", "title": "HW"})
    finally:
        renderer.close()
    assert "cell-3" in page and "could not be shown" not in page


def test_a_warmed_up_renderer_serves_the_first_page_and_a_failed_warm_up_leaves_it_to_that_page(monkeypatch):
    """``warm_up`` starts the child while kernels run; the first page is then rendered by that child.
    A child that cannot start says nothing at warm-up: the page that needs it reports the failure."""
    request = {"notebook": dict(notebook()), "student": "ana", "title": "HW"}
    renderer = page_process._Renderer()
    try:
        renderer.start_quietly()
        warmed = renderer.process.pid
        assert "cell-3" in renderer.render(request) and renderer.process.pid == warmed
    finally:
        renderer.close()
    monkeypatch.setattr(page_process, "_CHILD", "raise SystemExit(3)")
    broken = page_process._Renderer()
    broken.start_quietly()
    assert broken.process is None
    with pytest.raises(page_process.RenderFailed, match="ended"):
        broken.render(request)


def test_one_redaction_hides_by_the_concept_ids_a_flag_carries_not_by_its_words():
    words_only = "needs review: compare with inference_scaling"  # names no concept as data: kept
    q1 = replace(grade().questions[0], flags=(NEGATED, words_only))
    graded = replace(grade(), questions=(q1, grade().questions[1]))
    seen = redact(graded, ASSIGNMENT.rubric, "student")
    assert seen.questions[0].flags == (words_only,)
    hidden = {c.id: c for c in seen.questions[0].concepts if c.redacted}
    assert set(hidden) == {"ensemble_view", "inference_scaling"} and not any(c.hint for c in hidden.values())
    assert redact(graded, ASSIGNMENT.rubric, "instructor") is graded
    assert pickle.loads(pickle.dumps(NEGATED)).concepts == ("inference_scaling",)  # a flag crosses processes whole
    assert json.dumps([NEGATED]) == json.dumps([str(NEGATED)])  # and is its words in grades.json


# A hidden concept's phrase and the reference answer: never in any export. The names and hints of
# hidden concepts: never in what students read before grades are published.
NEVER_EXPORTED = ("scaled at test time", "implicit ensemble of thinned networks")
HIDDEN_FROM_STUDENTS = ("inference_scaling", "Inference scaling", "Ensemble view", "SECRET-HINT", "average of networks")


@pytest.mark.parametrize("fmt", FORMATS)
def test_no_export_leaks_hidden_concepts_or_the_reference_answer(fmt):
    records = [grade_record(g) for g in (grade(), ben_grade())]
    for record in records:  # the LMS files match students by email or login
        record["identity"] |= {"email": f"{record['student']}@example.edu", "login_id": record["student"]}
    files = build_export(fmt, records, RUBRIC).files
    text = b"".join(files.values()).decode("utf-8")
    assert not [secret for secret in NEVER_EXPORTED if secret in text]
    if fmt in ("canvas", "moodle", "blackboard"):  # files students see in their LMS
        assert not [name for name in HIDDEN_FROM_STUDENTS if name in text]


def test_moodle_feedback_is_the_student_view_of_the_record():
    feedback = feedback_text(grade_record(ben_grade()), RUBRIC)
    assert "Missing: Co adaptation (Say what dropout stops neurons from doing.)" in feedback
    assert not [name for name in HIDDEN_FROM_STUDENTS if name in feedback]


def test_gradescope_shows_what_the_redaction_hides_only_once_grades_are_published():
    results = gradescope_results(grade_record(ben_grade()), RUBRIC)
    before = json.dumps([results["output"], [t for t in results["tests"] if t["visibility"] == "visible"]])
    assert not [name for name in (*HIDDEN_FROM_STUDENTS, "thinned") if name in before]
    (later,) = [t for t in results["tests"] if t["visibility"] == "after_published"]
    assert "Found Ensemble view: “many thinned networks”" in later["output"]
    assert "Inference scaling (mentioned only in negated form)" in later["output"]


def test_a_record_is_redacted_by_the_same_policy_as_a_grade():
    words_only = "needs review: compare with inference_scaling"  # names no concept as data: kept
    ben = ben_grade()
    ben = replace(ben, questions=(replace(ben.questions[0], flags=(NEGATED, words_only)), ben.questions[1]))
    record = grade_record(ben)
    assert record["questions"][0]["flag_concepts"] == [["inference_scaling"], []]
    by_grade = grade_record(redact(ben, RUBRIC, "student"))["questions"]
    by_record = redact_record(record, RUBRIC, "student")["questions"]
    fields = by_grade[0]["concepts"][0].keys()
    assert [{**q, "concepts": [{k: c[k] for k in fields} for c in q["concepts"]]} for q in by_record] == by_grade
    assert by_record[0]["flags"] == [words_only]
    assert redact_record(record, RUBRIC, "instructor") is record
    with pytest.raises(ValueError, match="audience"):
        redact_record(record, RUBRIC, "public")


def test_a_record_without_the_concepts_of_its_flags_shows_students_no_flag_of_a_hidden_question():
    old = grade_record(
        replace(ben_grade(), questions=(ben_grade().questions[0], replace(grade().questions[1], flags=("late",))))
    )
    for question in old["questions"]:
        del question["flag_concepts"]
    seen = redact_record(old, RUBRIC, "student")["questions"]
    assert seen[0]["flags"] == [] and seen[1]["flags"] == ["late"]


def test_a_question_is_shown_by_its_label_and_keyed_by_its_id():
    """A rubric key made safe from "1.1" (q1_1) is what grades.json keys on; people read "1.1"."""
    from grader.attention import attention
    from grader.export.common import feedback_text
    from grader.export.grades_json import grade_record

    labelled = grade(flags=())
    first = replace(
        labelled.questions[0],
        id="q1_1",
        label="1.1",
        flags=("needs review: the answer was located with low confidence",),
    )
    labelled = replace(labelled, questions=(first, *labelled.questions[1:]))
    record = grade_record(labelled)
    assert [(q["id"], q["label"]) for q in record["questions"]] == [("q1_1", "1.1"), ("q2", "Q2")]
    assert any(r.startswith("1.1: needs review") for r in attention(record).reasons)
    assert feedback_text(record, ASSIGNMENT.rubric).splitlines()[1].startswith("1.1: ")
    page = student_page(labelled, ASSIGNMENT, "instructor")
    assert "Question 1.1</h3>" in page and '<span class="label">1.1</span>' in page
    assert '<a href="#q1_1">1.1</a>: needs review' in page
    assert "Q1_1" not in page
    assert [f.label for f in fixes(labelled)][1:] == [
        "Q2: no answer found",
        "1.1: Ensemble view",
        "1.1: Inference scaling",
    ]
