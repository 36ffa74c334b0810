"""The pages in a real browser: headless Chromium shows what matters and runs nothing a student wrote.

A student's answer and notebook carry every trick we know (a script tag, an <img onerror>, a
javascript: link, <details ontoggle>, an iframe srcdoc, a meta refresh, an <svg onload>); each
would set ``window.pwned`` or the page title. The pages are loaded as written, and again with
their Content-Security-Policy removed, so that escaping and sanitising are shown to hold on
their own. The browser is driven over the Chrome DevTools Protocol (websocket-client), whose
evaluations are not subject to the page's CSP.

Needs Debian's ``chromium`` package (.ci/run installs it); skipped with a reason when it is absent.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace
from urllib.request import urlopen

import nbformat.v4 as nbf
import pytest

from grader.facts import Evaluation, Facts, Fit, Layer, Model
from grader.models import Answer, CheckGrade, ConceptResult, Execution, Grade, QuestionGrade, Submission
from grader.report.render import write_reports
from grader.rubric import parse_rubric

websocket = pytest.importorskip("websocket", reason="websocket-client is not installed: pip install -e '.[dev]'")
CHROMIUM = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome") if shutil.which(name)), None
)
pytestmark = pytest.mark.skipif(
    CHROMIUM is None, reason="chromium is not installed: apt-get install -y chromium (see .ci/run)"
)

ATTACKS = (
    "<script>window.pwned='script';document.title='pwned'</script> "
    "<img src=x onerror=\"window.pwned='img'\"> "
    "[claim your grade](javascript:window.pwned='link') "
    "<svg onload=\"window.pwned='svg'\"></svg> "
    "<details open ontoggle=\"window.pwned='toggle'\"><summary>s</summary></details>"
)
HTML_ATTACKS = ATTACKS + (
    "<iframe srcdoc=\"<script>parent.pwned='iframe'</script>\"></iframe>"
    '<meta http-equiv="refresh" content="0;url=javascript:window.pwned=\'refresh\'">'
    '<a id="js" href="javascript:window.pwned=\'click\'">click</a>'
    "<object data=\"javascript:window.pwned='object'\"></object>"
    "<style>body{display:none}</style>"
)
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="

RUBRIC = parse_rubric(
    {
        "title": "Regularization HW",
        "questions": [
            {
                "id": "q1",
                "prompt": "Why does dropout reduce overfitting?",
                "points": 6,
                "reference": "Co-adaptation; an ensemble.",
                "concepts": [
                    {
                        "id": "co_adaptation",
                        "points": 4,
                        "any": ["co-adaptation"],
                        "hint": "Say what dropout stops neurons from doing.",
                    },
                    {
                        "id": "ensemble_view",
                        "points": 2,
                        "any": ["ensemble"],
                        "hidden": True,
                        "hint": "Think of many networks.",
                    },
                ],
            },
            {
                "id": "q2",
                "prompt": "Implement Dropout and compare with a model without it.",
                "points": 4,
                "concepts": [{"id": "compares", "points": 4, "any": ["better"], "hint": "Say which model did better."}],
            },
        ],
        "checks": [
            {
                "id": "dropout_model",
                "points": 6,
                "kind": "trained_model_with_layers",
                "params": {"layers": ["Dropout"]},
            },
            {"id": "held_out", "points": 4, "kind": "evaluated_on_held_out_data", "hint": "Evaluate on test data."},
        ],
    }
)
ASSIGNMENT = SimpleNamespace(title="Regularization HW", rubric=RUBRIC)


def hostile_grade(student: str, score_share: float) -> Grade:
    notebook = nbf.new_notebook(
        cells=[
            nbf.new_markdown_cell("## Q1\nDropout prevents co-adaptation. " + HTML_ATTACKS),
            nbf.new_code_cell(
                "net.fit(x, y)",
                execution_count=1,
                outputs=[
                    nbf.new_output("stream", name="stdout", text=ATTACKS + "\naccuracy 0.9123\n"),
                    nbf.new_output("display_data", data={"text/html": HTML_ATTACKS, "text/plain": "<HTML>"}),
                    nbf.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure size 1x1>"}),
                    nbf.new_output("display_data", data={"application/javascript": "window.pwned='js-output'"}),
                ],
            ),
        ]
    )
    facts = Facts(
        models=[
            Model(
                id=1,
                framework="keras",
                cls="Sequential",
                variable="net",
                layers=[Layer(cls="Dense", units=8), Layer(cls="Dropout", rate=0.5)],
            )
        ],
        fits=[Fit(model=1, cell=1, epochs_run=1, samples=100)],
        evaluations=[Evaluation(model=1, cell=1, samples=50, overlap_with_training=0.0, metrics={"accuracy": 0.9123})],
    )
    questions = (
        QuestionGrade(
            "q1",
            4,
            6,
            (
                ConceptResult("co_adaptation", 4, True, "co-adaptation"),
                ConceptResult("ensemble_view", 2, False, hint="Think of many networks.", hidden=True),
            ),
            Answer("q1", "Dropout prevents co-adaptation. " + ATTACKS, (0,), 0.9, "heading"),
        ),
        QuestionGrade("q2", 0, 4, (ConceptResult("compares", 4, False, hint="Say which model did better."),), None),
    )
    checks = (
        CheckGrade("dropout_model", True, 6, 6, ("net: Dense(8) Dropout(0.5); trained 1 epoch on 100 samples",)),
        CheckGrade(
            "held_out",
            score_share > 0.5,
            4 if score_share > 0.5 else 0,
            4,
            ("net: evaluated on 50 held-out samples",),
            hint="Evaluate on test data.",
        ),
    )
    score = sum(q.score for q in questions) + sum(c.score for c in checks)
    execution = Execution(notebook=notebook, facts=facts, status="ok", seconds=2.0)
    return Grade(
        Submission(student, f"{student}.ipynb", "0" * 64, {}), "graded", None, score, 20, questions, checks, execution
    )


class Chromium:
    """Just enough of the DevTools protocol: navigate, evaluate, resize."""

    def __init__(self, binary: str, profile: Path):
        self.process = subprocess.Popen(
            [
                binary,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--remote-debugging-port=0",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file, deadline = profile / "DevToolsActivePort", time.monotonic() + 60
        while not (port_file.exists() and len(port_file.read_text().split()) >= 2):
            if time.monotonic() > deadline or self.process.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not start its DevTools endpoint")
            time.sleep(0.1)
        port = int(port_file.read_text().split()[0])
        page = next(
            t for t in json.load(urlopen(f"http://127.0.0.1:{port}/json/list", timeout=30)) if t["type"] == "page"
        )
        self.socket = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
        self.ids = itertools.count(1)

    def send(self, method: str, **params):
        ident = next(self.ids)
        self.socket.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})

    def evaluate(self, expression: str):
        result = self.send("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, path: Path, width: int = 1200, height: int = 1600, mobile: bool = False) -> None:
        self.send("Emulation.setDeviceMetricsOverride", width=width, height=height, deviceScaleFactor=1, mobile=mobile)
        self.send("Page.navigate", url=path.as_uri())
        deadline = time.monotonic() + 30
        while self.evaluate("document.readyState + ' ' + location.href") != f"complete {path.as_uri()}":
            if time.monotonic() > deadline:
                raise RuntimeError(f"{path} did not finish loading")
            time.sleep(0.05)
        time.sleep(0.3)  # let error events, toggles and refreshes fire, if anything could fire them

    def visible(self, selector: str) -> int:
        return self.evaluate(
            f"[...document.querySelectorAll({json.dumps(selector)})].filter(e => {{ const r = e.getBoundingClientRect();"
            " return r.width > 0 && r.height > 0 && e.checkVisibility({visibilityProperty: true, opacityProperty: true}); }).length"
        )

    def text(self, selector: str) -> str:
        return self.evaluate(
            f"[...document.querySelectorAll({json.dumps(selector)})].map(e => e.innerText).join('\\n')"
        )

    def close(self) -> None:
        try:
            self.socket.close()
        except Exception:
            pass
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    chromium = Chromium(CHROMIUM, tmp_path_factory.mktemp("chromium-profile"))
    yield chromium
    chromium.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("out")
    broken = Submission("cy", "cy.ipynb", "1" * 64, None, error="not a valid notebook: the JSON is broken at line 3")
    grades = [hostile_grade("ana", 0.3), hostile_grade("ben", 0.9), Grade(broken, "error", broken.error, 0.0, 20)]
    write_reports(grades, ASSIGNMENT, out, "student")
    return out


def without_csp(page: Path) -> Path:
    """The same page with its Content-Security-Policy taken out: escaping must hold on its own."""
    html = page.read_text(encoding="utf-8")
    stripped = re.sub(r'<meta http-equiv="Content-Security-Policy"[^>]*>', "", html)
    assert stripped != html
    copy = page.with_name(page.stem + ".nocsp.html")
    copy.write_text(stripped, encoding="utf-8")
    return copy


def assert_nothing_ran(browser: Chromium, title: str) -> None:
    assert browser.evaluate("typeof window.pwned") == "undefined", browser.evaluate("String(window.pwned)")
    assert browser.evaluate("document.title") == title
    assert (
        browser.evaluate("document.querySelectorAll('script, iframe, object, embed, meta[http-equiv=refresh]').length")
        == 0
    )
    assert browser.evaluate("document.querySelectorAll('a[href^=\"javascript:\" i]').length") == 0
    assert browser.evaluate("document.querySelectorAll('[onerror], [onload], [ontoggle], [onclick]').length") == 0
    assert browser.visible("body") == 1


@pytest.mark.parametrize("csp", [True, False], ids=["as-written", "csp-removed"])
def test_the_student_report_shows_the_feedback_and_runs_nothing(browser, pages, csp):
    page = pages / "reports" / "ana.html"
    browser.open(page if csp else without_csp(page))
    assert_nothing_ran(browser, "ana · Regularization HW")
    assert "10 / 20 points" in browser.text(".scorecard").replace("\n", " ")
    assert browser.visible("section.fix li") == 2 and "Code check: Held out" in browser.text("section.fix")
    assert browser.visible("article.question") == 2
    assert browser.visible(".answer mark") == 1
    answer = browser.text("#q1 .answer")
    assert "<script>window.pwned='script'" in answer and "<img src=x onerror=" in answer  # shown, as text
    assert "1 more concept is graded after submission." in browser.text("#q1")
    assert "Think of many networks" not in browser.text("body")
    assert browser.visible("#checks .check") == 2 and "✘ Not passed" in browser.text("#checks")
    assert "accuracy 0.9123" in browser.text("#checks .cell-out pre.output")
    plots = "[...document.querySelectorAll('#checks .cell-out img.plot')]"
    assert browser.evaluate(f"{plots}.filter(i => i.complete && i.naturalWidth > 0).length") == 1  # the plot, inline
    assert browser.visible("#checks .cell-out img.plot") == 1 and "[image" not in browser.text("#checks")


@pytest.mark.parametrize("csp", [True, False], ids=["as-written", "csp-removed"])
def test_a_submission_that_could_not_be_graded_reads_not_graded(browser, pages, csp):
    page = pages / "reports" / "cy.html"
    browser.open(page if csp else without_csp(page))
    assert_nothing_ran(browser, "cy · Regularization HW")
    callout = browser.text(".callout.error")
    assert (
        callout.startswith("Not graded")
        and "the JSON is broken at line 3" in callout
        and "No score is recorded" in callout
    )
    assert "0 / 20" not in browser.text("body")
    browser.open(pages / "index.html")
    row = browser.evaluate(
        "[...document.querySelectorAll('#by-score tbody tr')].map(r => r.innerText).find(t => t.startsWith('cy'))"
    )
    assert "Not graded" in row and "0 / 20" not in row
    assert "Not graded" in browser.text("#attention + ul") and "the JSON is broken" in browser.text("#attention + ul")


@pytest.mark.parametrize("csp", [True, False], ids=["as-written", "csp-removed"])
def test_the_executed_notebook_shows_outputs_and_runs_nothing(browser, pages, csp):
    page = pages / "notebooks" / "ana.html"
    browser.open(page if csp else without_csp(page))
    assert_nothing_ran(browser, "ana · notebook · Regularization HW")
    assert browser.visible("#cell-0") == 1 and browser.visible("#cell-1") == 1
    assert (
        browser.evaluate("[...document.images].filter(i => i.complete && i.naturalWidth > 0).length") == 1
    )  # the PNG output
    assert "claim your grade" in browser.text("#cell-0")
    assert "accuracy 0.9123" in browser.text("#cell-1")


@pytest.mark.parametrize("csp", [True, False], ids=["as-written", "csp-removed"])
def test_the_class_overview_shows_charts_and_tables(browser, pages, csp):
    page = pages / "index.html"
    browser.open(page if csp else without_csp(page))
    assert_nothing_ran(browser, "Regularization HW · class overview")
    assert browser.visible("svg.chart") == 4
    assert browser.evaluate("document.querySelector('svg.chart title').textContent") == "Score distribution"
    assert browser.visible("#by-score tbody tr") == 3 and browser.visible("#by-name tbody tr") == 0  # closed <details>
    assert browser.text("#by-score tbody tr:first-child th").startswith("ben")
    checks = 'section[aria-labelledby="checks"]'
    assert "1 / 2" in browser.text(checks) and browser.visible(checks + " svg.chart rect") == 4
    assert "1 of 2 passed (50%)" in browser.evaluate(f"document.querySelector('{checks} svg').textContent")


@pytest.mark.parametrize("page", ["reports/ana.html", "index.html", "notebooks/ana.html"])
def test_pages_fit_a_phone_screen(browser, pages, page):
    browser.open(pages / page, width=390, height=844, mobile=True)
    assert browser.evaluate("document.documentElement.scrollWidth") <= 390 + 1
    assert browser.evaluate("parseFloat(getComputedStyle(document.body).fontSize)") >= 14
