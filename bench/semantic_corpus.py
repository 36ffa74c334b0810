"""Does a `semantic:` block help the shipped rubric? Measured on the real notebooks' reader labels.

    .venv/bin/python bench/semantic_corpus.py [--out docs/semantic-corpus.md]

Every written answer a careful reader labelled (../shared/corpus/regularization/labels-answers.tsv,
quality 0-5; Q8's written part included) is located as the grader locates it and scored with the
shipped rubric: keywords only, then with a `semantic:` block at several thresholds, then also with
a reference share. Agreement is Pearson's r and Spearman's rho between score/max and the
reader's quality (the corpus test asks r > 0.7 of keywords only), and the mean absolute gap between
score/max and quality/5. Also shown: how many concepts the model found that keywords missed, and the
share of written points two other homeworks (not this assignment) earn, which must stay low.
Needs the semantic extra; writes the table to ``--out`` and prints it.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import nbformat
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from grader.assignment import load_assignment  # noqa: E402
from grader.extract.evidence import gather_evidence  # noqa: E402
from grader.rubric import parse_rubric  # noqa: E402
from grader.score.concepts import score_answer  # noqa: E402
from grader.score.semantic import SemanticScorer, Unavailable, encoder  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus"
VARIANTS = (  # (label, semantic block or None, reference_weight on every question)
    ("keywords only (shipped)", None, 0.0),
    ("semantic, threshold 0.70", {"threshold": 0.70}, 0.0),
    ("semantic, threshold 0.65", {"threshold": 0.65}, 0.0),
    ("semantic, threshold 0.60 (default)", {"threshold": 0.60}, 0.0),
    ("semantic, threshold 0.55", {"threshold": 0.55}, 0.0),
    ("semantic 0.60 + reference share 0.3", {"threshold": 0.60}, 0.3),
)


def ranks(values: list[float]) -> np.ndarray:
    order = np.argsort(values, kind="stable")
    ranked = np.empty(len(values))
    ranked[order] = np.arange(len(values))
    for value in set(values):  # ties share their mean rank
        where = np.array(values) == value
        ranked[where] = ranked[where].mean()
    return ranked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write the table (markdown) here")
    args = parser.parse_args()
    assignment = load_assignment(ROOT / "assignments" / "regularization")
    shipped = assignment.rubric.model_dump(mode="json", exclude_defaults=True)
    with open(CORPUS / "regularization" / "labels-answers.tsv", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle, delimiter="\t"))
    notebooks = {row["file"] for row in labels}
    evidence = {
        name: gather_evidence(
            nbformat.read(CORPUS / "regularization" / name, as_version=4), assignment.rubric, assignment.template_lines
        )
        for name in sorted(notebooks)
    }
    others = [
        gather_evidence(nbformat.read(path, as_version=4), assignment.rubric, assignment.template_lines)
        for path in sorted((CORPUS / "other-assignments").glob("*.ipynb"))
    ]
    model = encoder(threads=1)
    quality = [int(row["quality"]) for row in labels]
    lines = [
        "| variant | answers | Pearson r | Spearman rho | mean abs gap | concepts found by meaning | other homeworks' share |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, block, weight in VARIANTS:
        data = dict(shipped)
        if block is not None:
            data["semantic"] = block
        if weight:
            data["questions"] = [{**q, "reference_weight": weight} for q in shipped["questions"]]
        rubric = parse_rubric(data, label)
        scorer = None
        if rubric.wants_semantic:
            scorer = SemanticScorer(rubric.semantic, model)
            scorer.prepare_rubric(rubric.questions)
        ratios, by_meaning = [], 0
        for row in labels:
            question = rubric.question(row["question"].lower())
            grade = score_answer(question, evidence[row["file"]].answers.get(question.id), scorer)
            ratios.append(grade.score / grade.max_score)
            by_meaning += sum(1 for c in grade.concepts if c.found and c.similarity is not None)
        written = sum(q.points for q in rubric.questions)
        other_share = max(
            sum(score_answer(q, found.answers.get(q.id), scorer).score for q in rubric.questions) / written
            for found in others
        )
        pearson = np.corrcoef(ratios, quality)[0, 1]
        spearman = np.corrcoef(ranks(ratios), ranks(quality))[0, 1]
        gap = float(np.mean(np.abs(np.array(ratios) - np.array(quality) / 5)))
        lines.append(
            f"| {label} | {len(ratios)} | {pearson:.3f} | {spearman:.3f} | {gap:.3f} | {by_meaning} | {other_share:.1%} |"
        )
        assert not isinstance(scorer, Unavailable)
    table = "\n".join(lines)
    print(table)
    if args.out:
        args.out.write_text(
            "# Semantic matching on the shipped rubric, measured on real notebooks\n\n"
            "Written by `bench/semantic_corpus.py` (see its docstring for what is measured).\n\n" + table + "\n",
            encoding="utf-8",
        )


if __name__ == "__main__":
    main()
