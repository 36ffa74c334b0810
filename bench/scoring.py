"""Written-answer scoring throughput on one core: answers per second (target: 2,000).

    .venv/bin/python bench/scoring.py [--seconds 5]

Answers come from the shipped examples and solution, and from ../shared/corpus when it is
beside the checkout. Each run re-tokenises and re-matches every answer (no caching between runs).
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

from grader.assignment import load_assignment
from grader.extract.evidence import gather_evidence
from grader.score.concepts import score_answer

ROOT = Path(__file__).resolve().parents[1]


def collect_answers(assignment):
    sources = sorted((ROOT / "assignments" / "regularization").rglob("*.ipynb"))
    corpus = ROOT.parent / "shared" / "corpus"
    sources += sorted(corpus.rglob("*.ipynb")) if corpus.is_dir() else []
    pairs = []
    for path in sources:
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception:
            continue
        answers = gather_evidence(notebook, assignment.rubric, assignment.template_lines).answers
        pairs.extend((assignment.rubric.question(qid), answer) for qid, answer in answers.items())
    return pairs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    assignment = load_assignment(ROOT / "assignments" / "regularization")
    pairs = [(q, a) for q, a in collect_answers(assignment) if q.kind == "text"]
    words = statistics.median(len(a.text.split()) for _, a in pairs)
    rates = []
    deadline = time.perf_counter() + args.seconds
    while time.perf_counter() < deadline or len(rates) < 3:
        start = time.perf_counter()
        for question, answer in pairs:
            score_answer(question, answer)
        rates.append(len(pairs) / (time.perf_counter() - start))
    table = Table(title="Written-answer scoring, one core")
    for column in ("answers", "median words", "runs", "answers/s (median)", "target", "ratio"):
        table.add_column(column, justify="right")
    median = statistics.median(rates)
    table.add_row(str(len(pairs)), f"{words:.0f}", str(len(rates)), f"{median:,.0f}", "2,000", f"{median / 2000:.2f}x")
    Console().print(table)


if __name__ == "__main__":
    main()
