"""A rescore with the parts kept in the gradebook (grader.batch.memo) gives exactly the grades of a
full scoring, and a rubric edit re-scores what it touched: on the real notebooks of the corpus,
saved (--no-run: no kernel), through the command as well as the functions."""

import json
import shutil
import sqlite3
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest
import yaml
from typer.testing import CliRunner

from grader.assignment import load_assignment
from grader.batch.memo import PartStore
from grader.cli import app
from grader.gradebook import Gradebook
from grader.models import Execution, Submission
from grader.pipeline import score

CORPUS = Path("/work/shared/corpus/regularization")
NOTEBOOKS = sorted(CORPUS.glob("*.ipynb"))[:4]

pytestmark = pytest.mark.skipif(not NOTEBOOKS, reason="the corpus is not on this machine")


def with_concept_points(folder: Path, question: str, concept: str, points: float) -> Path:
    """The assignment in ``folder`` with one concept of one question worth ``points``: a rubric
    edit that moves no answer (points are not what placing answers reads)."""
    config = yaml.safe_load((folder / "assignment.yaml").read_text(encoding="utf-8"))
    rubric_path = folder / config["rubric"]
    rubric = yaml.safe_load(rubric_path.read_text(encoding="utf-8"))
    target = next(q for q in rubric["questions"] if q["id"] == question)
    next(c for c in target["concepts"] if c["id"] == concept)["points"] = points
    rubric_path.write_text(yaml.safe_dump(rubric, sort_keys=False), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def assignments(tmp_path_factory, copy_assignment):
    """The shipped assignment, and a copy whose q1 concept ``constrains_model`` is worth 1 point, not 3."""
    base = tmp_path_factory.mktemp("assignments")
    original = copy_assignment(base / "original")
    edited = with_concept_points(copy_assignment(base / "edited"), "q1", "constrains_model", 1)
    return load_assignment(original), load_assignment(edited)


NEGATED = (  # q1's concepts only denied: flags that name them (models.Flag), which redaction reads
    "Regularization does not add a penalty and it does not prevent overfitting; it is not about generalization"
    " to new data at all, in my view of deep learning."
)


@pytest.fixture(scope="module")
def saved():
    """(submission, saved execution, notebook text) of each corpus notebook and of one written here."""
    texts = {path.stem: path.read_text(encoding="utf-8") for path in NOTEBOOKS}
    cells = [nbf.new_markdown_cell("## Q1"), nbf.new_markdown_cell(NEGATED)]
    texts["negated"] = nbformat.writes(nbf.new_notebook(cells=cells))
    found = []
    for name, text in texts.items():
        notebook = nbformat.reads(text, as_version=4)
        found.append((Submission(name, f"{name}.ipynb", name, notebook), Execution.not_run(notebook), text))
    return found


def scored_with_parts(book: Gradebook, saved, assignment):
    store = PartStore(book)
    grades = [score(s, e, assignment, store.for_run(text, {"status": e.status})) for s, e, text in saved]
    store.save()
    return grades, store


def flag_concepts(grade) -> list:
    return [getattr(flag, "concepts", ()) for q in grade.questions for flag in q.flags]


def test_kept_parts_give_the_grades_of_a_full_scoring(tmp_path, saved, assignments):
    original, _ = assignments
    full = [score(s, e, original) for s, e, _ in saved]
    with Gradebook(tmp_path) as book:
        first, cold = scored_with_parts(book, saved, original)
        again, warm = scored_with_parts(book, saved, original)
    assert first == full and again == full
    assert [flag_concepts(g) for g in again] == [flag_concepts(g) for g in full]  # Flag's concept ids survive JSON
    assert ("prevents_overfitting",) in flag_concepts(again[-1])
    assert cold.reused == 0 and warm.worked_out == 0


def test_a_rubric_edit_re_scores_only_the_question_it_touched(tmp_path, saved, assignments):
    original, edited = assignments
    with Gradebook(tmp_path) as book:
        before, _ = scored_with_parts(book, saved, original)
        after, store = scored_with_parts(book, saved, edited)
    assert after == [score(s, e, edited) for s, e, _ in saved]
    assert store.worked_out == 2 * len(saved)  # q1's grade and flags of each notebook; the rest kept
    q1 = [(b.questions[0].score, a.questions[0].score) for b, a in zip(before, after)]
    assert any(a < b for b, a in q1)
    assert [b.questions[1:] for b in before] == [a.questions[1:] for a in after]


def invoke(*args) -> None:
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def records(out: Path) -> dict[str, dict]:
    return {r["student"]: r for r in json.loads((out / "grades.json").read_text(encoding="utf-8"))}


def parts_by_kind(out: Path) -> dict[str, int]:
    with sqlite3.connect(out / "gradebook.sqlite") as db:
        return dict(db.execute("SELECT kind, COUNT(*) FROM parts GROUP BY kind"))


def test_grader_rescore_after_a_rubric_edit_equals_a_rescore_from_nothing_kept(tmp_path, assignments):
    original, edited = (a.folder for a in assignments)
    folder = tmp_path / "submissions"
    folder.mkdir()
    for path in NOTEBOOKS[:3]:  # each costs a notebook page (nbconvert) when graded
        shutil.copyfile(path, folder / path.name)
    out = tmp_path / "out"
    invoke("grade", folder, "--assignment", original, "--out", out, "--no-run", "--quiet")
    graded, kept = records(out), parts_by_kind(out)
    assert kept["evidence"] == 3  # grading kept the parts: the first rescore is quick

    invoke("rescore", "--out", out, "--assignment", edited, "--quiet")
    rescored = records(out)
    new = {kind: count - kept.get(kind, 0) for kind, count in parts_by_kind(out).items()}
    assert new == {"evidence": 0, "internals": 0, "placement": 0, "question": 3, "elsewhere": 3, "checks": 0}
    changed = [s for s in graded if rescored[s]["questions"][0]["score"] < graded[s]["questions"][0]["score"]]
    assert changed and all(rescored[s]["score"] < graded[s]["score"] for s in changed)
    page = (out / "reports" / f"{changed[0]}.html").read_text(encoding="utf-8")
    assert f"{rescored[changed[0]]['score']:g}" in page

    pages = {path: path.stat().st_mtime_ns for path in (out / "reports").iterdir()}
    invoke("rescore", "--out", out, "--assignment", edited, "--quiet")
    assert records(out) == rescored
    assert {path: path.stat().st_mtime_ns for path in (out / "reports").iterdir()} == pages  # nothing to render

    from_nothing = tmp_path / "from-nothing"
    shutil.copytree(out, from_nothing)
    with sqlite3.connect(from_nothing / "gradebook.sqlite") as db:
        db.execute("DELETE FROM parts")
    invoke("rescore", "--out", from_nothing, "--assignment", edited, "--quiet")
    assert records(from_nothing) == rescored
