"""Precision per concept on the corpus: does an answer earn a concept the careful reader did not see in it?

    .venv/bin/python bench/precision.py [--root CHECKOUT]

The corpus labels are mostly 5 of 5, so a correlation says little about wrong credit. For the
concepts below, the reader's key points (and notes) of each answer say whether the idea is there;
an answer the reader marked as missing the idea but the grader credits is a false credit.
``--root`` scores with another checkout's grader and rubric (to compare before and after a change).
"""

from __future__ import annotations

import argparse
import csv
import re
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
CORPUS = HERE.parent / "shared" / "corpus" / "regularization"

# concept -> what in the reader's key points shows the idea was there (or, starting with "!", what in the
# reader's note says it is missing)
READER_SAW = {
    (
        "q2",
        "regularization_trades_bias_for_variance",
    ): r"reduces variance|lowers variance|less variance|bias cost|cost of some bias|trades bias|reduces complexity",
    ("q6", "patience_best_weights"): r"patience|best (model|param)|consecutive|checkpoint",
    ("q7", "batch_noise_regularizes"): r"noise",
    ("q7", "scale_and_shift"): r"scale/shift|gamma/beta|learnable",
    ("q5", "inference_behaviour"): r"inference|test time|scal",
    ("q8", "compares_models"): r"!not discussed|not interpreted|no explicit comparison|not implemented",
}


def measure(root: Path) -> list[tuple[str, int, int, int, int]]:
    """Per concept: (concept, answers the reader marked missing it, of those credited, credited in all, credited rightly)."""
    sys.path.insert(0, str(root))
    import nbformat

    from grader.assignment import load_assignment
    from grader.extract.evidence import gather_evidence
    from grader.score.concepts import score_answer

    assignment = load_assignment(root / "assignments" / "regularization")
    with open(CORPUS / "labels-answers.tsv", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle, delimiter="\t"))
    answers = {
        name: gather_evidence(
            nbformat.read(CORPUS / name, as_version=4), assignment.rubric, assignment.template_lines
        ).answers
        for name in {r["file"] for r in labels}
    }
    rows = []
    for (question_id, concept_id), pattern in READER_SAW.items():
        missing = credited_missing = credited = right = 0
        for label in (r for r in labels if r["question"].lower() == question_id):
            if pattern.startswith("!"):
                saw = not re.search(pattern[1:], label["note"], re.IGNORECASE)
            else:
                saw = bool(re.search(pattern, label["key_points"], re.IGNORECASE))
            grade = score_answer(assignment.rubric.question(question_id), answers[label["file"]].get(question_id))
            found = next(c for c in grade.concepts if c.id == concept_id).found
            missing += not saw
            credited_missing += found and not saw
            credited += found
            right += found and saw
        rows.append((f"{question_id}.{concept_id}", missing, credited_missing, credited, right))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=HERE)
    args = parser.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"{CORPUS}: not found; the corpus must sit beside the checkout")
    print("| concept | answers the reader marked missing it | of those, credited | credited | precision |")
    print("|---|---:|---:|---:|---:|")
    for concept, missing, wrong, credited, right in measure(args.root.resolve()):
        precision = f"{right / credited:.2f}" if credited else "–"
        print(f"| {concept} | {missing} | {wrong} | {credited} | {precision} |")


if __name__ == "__main__":
    main()
