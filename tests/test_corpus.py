"""Real student notebooks (../shared/corpus, beside the checkout): the grader reaches a careful reader's labels.

Skipped when the corpus is not there; the project's own tests cover the same shapes with notebooks they write.
"""

import csv
from pathlib import Path

import nbformat
import numpy as np
import pytest

from grader.assignment import load_assignment
from grader.extract.evidence import gather_evidence
from grader.score.concepts import score_answer

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
pytestmark = pytest.mark.skipif(not CORPUS.is_dir(), reason="../shared/corpus is not beside this checkout")
ASSIGNMENT = load_assignment(ROOT / "assignments" / "regularization")


def labelled_answers():
    with open(CORPUS / "regularization" / "labels-answers.tsv", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def cell_set(where: str) -> set[int]:
    cells: set[int] = set()
    for part in filter(None, (p.strip() for p in where.split(","))):
        first, _, last = part.partition("-")
        cells.update(range(int(first), int(last or first) + 1))
    return cells


def evidence_for(path: Path):
    return gather_evidence(nbformat.read(path, as_version=4), ASSIGNMENT.rubric, ASSIGNMENT.template_lines)


@pytest.fixture(scope="module")
def located():
    return {p.name: evidence_for(p) for p in sorted((CORPUS / "regularization").glob("*.ipynb"))}


def test_every_answer_is_found_in_the_cells_a_reader_marked(located):
    misplaced = []
    for row in labelled_answers():
        answer = located[row["file"]].answers.get(row["question"].lower())
        found = set(answer.cells) if answer else set()
        expected = cell_set(row["where"])
        if row["answered"] == "y" and row["question"] != "Q8" and not (found and found <= expected):
            misplaced.append((row["file"], row["question"], sorted(found), sorted(expected)))
        if found - expected:
            misplaced.append((row["file"], row["question"], sorted(found), sorted(expected)))
    assert misplaced == []


def test_written_scores_follow_the_readers_quality(located):
    ours, theirs = [], []
    for row in labelled_answers():
        if row["question"] == "Q8":
            continue
        question = ASSIGNMENT.rubric.question(row["question"].lower())
        grade = score_answer(question, located[row["file"]].answers.get(question.id))
        ours.append(grade.score / grade.max_score)
        theirs.append(int(row["quality"]))
    assert np.corrcoef(ours, theirs)[0, 1] > 0.7


@pytest.mark.parametrize("name", ["01_ankitzanzmera_optimizers.ipynb", "05_ankitzanzmera_activation.ipynb"])
def test_other_homeworks_score_under_a_fifth_of_the_written_points(name):
    evidence = evidence_for(CORPUS / "other-assignments" / name)
    written = [q for q in ASSIGNMENT.rubric.questions]
    earned = sum(score_answer(q, evidence.answers.get(q.id)).score for q in written)
    assert earned < 0.2 * sum(q.points for q in written)
