"""Answers in any layout: the same answers, laid out as real students lay them out, score the same.

    .venv/bin/python bench/layouts.py [--doc docs/layouts.md]

Each source notebook (the shipped examples, the seed solution and ../shared/corpus when it is
beside the checkout) is graded as handed in; its located answers are then written out again in
the layouts seen in real submissions (question text removed, numbering removed, a Part's answers
merged into one cell, topic headings instead of numbers, all questions of a Part followed by all
answers, answers in raw or uncommented code cells, PDF-garbled questions followed by one
chat-style answer per Part). Per (variant, question) pair the table counts how often the
variant's score stays within 15% of the question's points of the original's, and lists every
answer that scored at least half its points in the original and dropped to 0 without a review
flag. It also times aligning one notebook (target: under 50 ms without the semantic extra).
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import nbformat
import nbformat.v4 as nbf

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from grader.assignment import Assignment, load_assignment  # noqa: E402
from grader.extract.answers import locate_answers  # noqa: E402
from grader.extract.cells import read_cell  # noqa: E402
from grader.extract.evidence import gather_evidence  # noqa: E402
from grader.rubric import Question, Rubric  # noqa: E402
from grader.score import placement  # noqa: E402
from grader.score.concepts import score_answer  # noqa: E402

TOLERANCE = 0.15

# Topic headings students write instead of question numbers (seen in the corpus and in public notebooks).
TOPICS = {
    "q1": "Regularization in Deep Learning",
    "q2": "Bias-Variance Tradeoff and Regularization",
    "q3": "L1 and L2 Regularization",
    "q4": "Preventing Overfitting and Improving Generalization",
    "q5": "Dropout Regularization",
    "q6": "Early Stopping",
    "q7": "Batch Normalization",
    "q8": "Dropout in Practice: Results",
    "q9": "Choosing a Regularization Technique",
}


def md(text: str):
    return nbf.new_markdown_cell(text)


def parts(rubric: Rubric, answers: dict[str, str]) -> list[tuple[int, list[Question]]]:
    """The rubric's Parts in order, each with its questions that the original answered."""
    grouped: dict[int, list[Question]] = {}
    for question in rubric.questions:
        if question.id in answers:
            grouped.setdefault(question.locate.part or 1, []).append(question)
    return sorted(grouped.items())


_OCR = {"n": "p", "s": "z"}


def garble(text: str, seed: int) -> str:
    """OCR damage as in PDFs students pasted from: n->p, s->z, L1/L2 -> =1/=2, ? -> H, . -> k."""
    rng = random.Random(seed)
    text = text.replace("L1", "=1").replace("L2", "=2").replace("?", "H").replace(". ", "k ")
    return "".join(_OCR[c] if c in _OCR and rng.random() < 0.15 else c for c in text)


def no_question_text(rubric, answers):
    cells = []
    for part, questions in parts(rubric, answers):
        cells.append(md(f"## Part {part}"))
        cells += [md(f"{q.locate.numbers[0]}. {answers[q.id]}") for q in questions]
    return cells


def no_numbers(rubric, answers):
    cells = []
    for _, questions in parts(rubric, answers):
        for q in questions:
            cells += [md(f"**{q.prompt}**"), md(answers[q.id])]
    return cells


def part_merged(rubric, answers):
    return [
        md(f"# Part {part}\n\n" + "\n\n".join(f"**{q.prompt}**\n\n{answers[q.id]}" for q in questions))
        for part, questions in parts(rubric, answers)
    ]


def topic_headings(rubric, answers):
    cells = []
    for index, (part, questions) in enumerate(parts(rubric, answers)):
        cells.append(md(f"# Part {part}"))
        body = "**Overview:**\n\n" if index == 0 else ""
        body += "\n\n".join(f"**{TOPICS[q.id]}:**\n\n{answers[q.id]}" for q in questions)
        cells.append(md(body))
    return cells


def listed_then_answers(rubric, answers):
    cells = []
    for part, questions in parts(rubric, answers):
        listing = "\n".join(f"{n}. {q.prompt}" for n, q in enumerate(questions, start=1))
        cells += [md(f"### Part {part}\n\n{listing}"), md("Ans."), md("\n\n".join(answers[q.id] for q in questions))]
    return cells


def raw_cells(rubric, answers):
    cells = []
    for _, questions in parts(rubric, answers):
        for q in questions:
            cells += [md(f"Q{q.locate.numbers[0]}. {q.prompt}"), nbf.new_raw_cell(answers[q.id])]
    return cells


def code_cells(rubric, answers):
    cells = []
    for _, questions in parts(rubric, answers):
        for q in questions:
            cells += [md(f"### {q.locate.numbers[0]}. {q.prompt}"), nbf.new_code_cell(answers[q.id])]
    return cells


def garbled_chat(rubric, answers):
    cells = []
    for part, questions in parts(rubric, answers):
        prompts = " ".join(garble(f"{n}k {q.prompt}", seed=n + 10 * part) for n, q in enumerate(questions, start=1))
        sections = [
            f"**{TOPICS[q.id]}:**\n{answers[q.id]}" if n % 2 else f"{n}. {answers[q.id]}"
            for n, q in enumerate(questions, start=1)
        ]
        chat = "Certainly, let's go through each question:\n\n" + "\n\n".join(sections[:-1])
        cells += [md(f"Part {part}: {prompts}"), md(chat), nbf.new_raw_cell(sections[-1])]
    return cells


VARIANTS: dict[str, Callable] = {
    "question text removed": no_question_text,
    "numbering removed": no_numbers,
    "Part merged into one cell": part_merged,
    "topic headings": topic_headings,
    "questions listed, then answers": listed_then_answers,
    "answers in raw cells": raw_cells,
    "answers in code cells": code_cells,
    "garbled questions, chat answer": garbled_chat,
}


def question_scores(notebook, assignment: Assignment) -> dict[str, tuple[float, tuple[str, ...], str]]:
    """Per written question: (score, flags, answer text)."""
    evidence = gather_evidence(notebook, assignment.rubric, assignment.template_lines)
    scores = {}
    for question in assignment.rubric.questions:
        if question.kind != "text":
            continue
        answer = evidence.answers.get(question.id)
        grade = score_answer(question, answer)
        flags = grade.flags + tuple(placement.question_flags(answer, evidence.unplaced))
        scores[question.id] = (grade.score, flags, answer.text if answer and not answer.other_question else "")
    return scores


def alignment_seconds(notebook, assignment: Assignment, repeats: int = 5) -> float:
    """Median CPU time to split one notebook's prose into blocks and align them to the questions.

    CPU time of this process, not wall time, so that other work on a busy machine does not count.
    """
    cells = [read_cell(index, cell) for index, cell in enumerate(notebook.get("cells", []))]
    questions = list(assignment.rubric.questions)
    timings = []
    for _ in range(repeats):
        start = time.process_time()
        locate_answers(cells, questions, assignment.template_lines, title=assignment.rubric.title)
        timings.append(time.process_time() - start)
    return statistics.median(timings)


def compare(original, variant, rubric: Rubric, name: str, source: str):
    """(pairs within tolerance, pairs, silent drops) for one variant."""
    within, pairs, silent = 0, 0, []
    for question in rubric.questions:
        if question.id not in original or not original[question.id][2]:
            continue
        before, (after, flags, _) = original[question.id][0], variant[question.id]
        pairs += 1
        within += abs(after - before) <= TOLERANCE * question.points + 1e-9
        if before >= question.points / 2 and after == 0 and not any("needs review" in f for f in flags):
            silent.append(f"{source} · {name} · {question.id}: {before} -> 0, no flag")
    return within, pairs, silent


def sources() -> list[Path]:
    found = sorted((ROOT / "assignments" / "regularization" / "examples").glob("*.ipynb"))
    shared = ROOT.parent / "shared"
    found += sorted((shared / "corpus" / "regularization").glob("*.ipynb")) if shared.is_dir() else []
    found += [shared / "seeds" / "regularization-solution.ipynb"] if (shared / "seeds").is_dir() else []
    return found


def run(doc: Path | None) -> dict[str, tuple[int, int]]:
    assignment = load_assignment(ROOT / "assignments" / "regularization")
    totals: dict[str, list[int]] = {name: [0, 0] for name in VARIANTS}
    silent: list[str] = []
    timings: list[float] = []
    for path in sources():
        try:
            notebook = nbformat.read(path, as_version=4)
        except Exception:  # not_json.ipynb and the like: nothing to lay out
            continue
        timings.append(alignment_seconds(notebook, assignment))
        original = question_scores(notebook, assignment)
        answers = {qid: text for qid, (_, _, text) in original.items() if text}
        if not answers:
            continue
        for name, build in VARIANTS.items():
            variant = question_scores(nbf.new_notebook(cells=build(assignment.rubric, answers)), assignment)
            within, pairs, drops = compare(original, variant, assignment.rubric, name, path.stem)
            totals[name][0] += within
            totals[name][1] += pairs
            silent += drops
    lines = ["| layout | pairs within 15% | pairs | share |", "|---|---|---|---|"]
    all_within = sum(w for w, _ in totals.values())
    all_pairs = sum(p for _, p in totals.values())
    for name, (within, pairs) in totals.items():
        lines.append(f"| {name} | {within} | {pairs} | {within / max(pairs, 1):.0%} |")
    lines.append(f"| **all** | {all_within} | {all_pairs} | {all_within / max(all_pairs, 1):.0%} |")
    lines += [
        "",
        f"Silent drops to 0 (an answer worth half its points or more, then 0 with no review flag): {len(silent)}",
    ]
    lines += [f"- {s}" for s in silent]
    lines += [
        "",
        f"Aligning one notebook's prose to the questions (blocks, scores, alignment; keywords only; CPU time): median "
        f"{statistics.median(timings) * 1000:.0f} ms, slowest {max(timings) * 1000:.0f} ms, over {len(timings)} notebooks.",
    ]
    table = "\n".join(lines)
    print(table)
    if doc:
        doc.write_text(
            doc.read_text(encoding="utf-8").split("<!-- layouts -->")[0] + "<!-- layouts -->\n" + table + "\n",
            encoding="utf-8",
        )
    return {name: (w, p) for name, (w, p) in totals.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--doc", type=Path, help="a Markdown file whose text after '<!-- layouts -->' is replaced by the table"
    )
    run(parser.parse_args().doc)
