"""Batch grading: one kernel vs two, the cached re-run, and re-scoring 1,000 stored submissions.

    .venv/bin/python bench/batch.py [--notebooks 20] [--rescore 1000] [--keep DIR]

Each notebook answers the written questions and trains a tiny Keras model on the built-in MNIST
stand-in (300 images, one epoch), so most of a run is the kernel starting and importing
TensorFlow. The commands run as a user would type them (`grader grade`, `grader rescore`).
For the rescore, one stored run is copied into 1,000 submissions (each its own submission, run
and grade rows, all pointing at that run's notebook file); the rescore is then timed through the
command and, in this process, split into scoring (load + score + gradebook) and writing the reports.
Target: the 1,000-submission rescore under 5 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "regularization"
GRADER = [sys.executable, "-m", "grader.cli"]

ANSWERS = [
    "Regularization adds a penalty on large weights so the network cannot memorize the training set; it prevents "
    "overfitting and helps the model generalize to new data.",
    "High bias underfits and high variance overfits; regularization lowers variance at the cost of a little bias.",
    "L1 adds the sum of absolute weights and drives some weights to exactly zero (sparse); L2 adds the sum of squared "
    "weights and shrinks all of them (weight decay).",
    "By constraining the model, regularization stops it from fitting noise, so validation accuracy stays close to training accuracy.",
    "Dropout randomly sets a fraction of neurons to zero during training, which reduces co-adaptation; at inference "
    "it is turned off and activations are scaled.",
    "Early stopping monitors the validation loss and stops training when it stops improving, keeping the best weights.",
    "Batch normalization normalizes each layer's inputs over the mini-batch; the batch noise acts as a mild regularizer.",
    "The model with dropout had a smaller gap between training and test accuracy.",
    "Choose by dataset size, model capacity and compute: dropout for large dense nets, L2 almost always, early stopping as a cheap default.",
]

CODE = [
    "import keras\n(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
    "x_train, y_train = x_train[:300] / 255.0, y_train[:300]\nx_test, y_test = x_test[:100] / 255.0, y_test[:100]",
    "def build(rate, units={units}):\n    layers = [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(units, activation='relu')]\n"
    "    if rate:\n        layers.append(keras.layers.Dropout(rate))\n    layers.append(keras.layers.Dense(10, activation='softmax'))\n"
    "    model = keras.Sequential(layers)\n    model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n    return model",
    "with_dropout = build(0.5)\nwith_dropout.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)\n"
    "without_dropout = build(0)\nwithout_dropout.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)",
    "_, a = with_dropout.evaluate(x_test, y_test, verbose=0)\n_, b = without_dropout.evaluate(x_test, y_test, verbose=0)\n"
    "print(f'with dropout: {a:.3f}  without: {b:.3f}')",
]


def student_notebook(index: int) -> nbformat.NotebookNode:
    cells = []
    for number, answer in enumerate(ANSWERS, 1):
        cells.append(nbf.new_markdown_cell(f"## Q{number}"))
        if number == 8:
            cells.extend(nbf.new_code_cell(code.replace("{units}", str(16 + index))) for code in CODE)
        if (number + index) % 4:  # students leave different answers out
            cells.append(nbf.new_markdown_cell(answer))
    kernelspec = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nbf.new_notebook(cells=cells, metadata={"kernelspec": kernelspec})


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def grade(folder: Path, out: Path, jobs: int) -> float:
    return timed(
        [
            *GRADER,
            "grade",
            str(folder),
            "--assignment",
            str(ASSIGNMENT),
            "--out",
            str(out),
            "--jobs",
            str(jobs),
            "--quiet",
        ]
    )


def copy_one_run(out: Path, count: int) -> None:
    """``count`` more submissions, each with its own run row and its own copy of one stored run's
    notebook (a ``bench_copy`` number in its metadata: distinct bytes, so that no kept part of a
    grade is shared between copies, as between real students)."""
    from grader.gradebook import Gradebook
    from grader.models import Student, Submission
    from grader.stored import NewGrade

    with Gradebook(out, create=False) as book:
        template = next(c for c in book.current() if c.run is not None and c.run.status == "ok")
        run = template.run
        notebook = json.loads((out / run.notebook).read_text(encoding="utf-8"))
        submissions = [
            Submission(f"copy{i:04d}", f"copy{i:04d}.ipynb", f"{i:064x}", None, identity=Student(id=f"copy{i:04d}"))
            for i in range(count)
        ]
        stored = book.record_submissions(submissions)
        with book.transaction():
            for index, submission in enumerate(submissions):
                notebook["metadata"]["bench_copy"] = index
                payload = {**run.payload, "notebook": json.dumps(notebook, ensure_ascii=False)}
                path = book.save_run_file(submission.sha256, run.settings, payload)
                run_id = book.add_run(submission.sha256, run.settings, run.payload, path)
                book.add_grades([NewGrade(stored[submission.student].id, template.grade.rubric, "grade", "graded",
                                          None, 0.0, 100.0, {}, run_id)])  # fmt: skip


def _runs(out: Path) -> int:
    from grader.gradebook import Gradebook

    with Gradebook(out, create=False) as book:
        return book.count("runs")


def rescore_phases(out: Path) -> tuple[float, float, int]:
    from grader.assignment import load_assignment
    from grader.batch.class_results import class_grades, write_outputs
    from grader.gradebook import Gradebook

    assignment = load_assignment(ASSIGNMENT)
    with Gradebook(out, create=False) as book:
        started = time.perf_counter()
        view = class_grades(book, assignment, {}, record="all")
        scored = time.perf_counter()
        write_outputs(view, assignment, out, "instructor")
        written = time.perf_counter()
    return scored - started, written - scored, len(view.grades)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--notebooks", type=int, default=20)
    parser.add_argument("--rescore", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    console = Console(stderr=True)
    try:
        folder = work / "submissions"
        folder.mkdir(exist_ok=True)
        for index in range(args.notebooks):
            nbformat.write(student_notebook(index), folder / f"student{index:02d}.ipynb")
        rows = []
        console.print(f"grading {args.notebooks} notebooks with --jobs 1 ...")
        one = grade(folder, work / "jobs1", 1)
        console.print(f"grading {args.notebooks} notebooks with --jobs 2 ...")
        two = grade(folder, work / "jobs2", 2)
        graded = json.loads((work / "jobs2" / "grades.json").read_text(encoding="utf-8"))
        same = [r["score"] for r in json.loads((work / "jobs1" / "grades.json").read_text(encoding="utf-8"))] == [
            r["score"] for r in graded
        ]
        ok = sum(1 for r in graded if r["execution"]["status"] == "ok")
        if ok < len(graded):
            for r in graded:
                if r["execution"]["status"] != "ok":
                    console.print(
                        f"{r['student']}: {r['execution']['status']}: {'; '.join(r['flags'])[:300]}", highlight=False
                    )
        rows.append(
            (f"grade {args.notebooks} notebooks, --jobs 1", f"{one:.1f} s", f"{one / args.notebooks:.2f} s/notebook")
        )
        rows.append(
            (
                f"grade {args.notebooks} notebooks, --jobs 2",
                f"{two:.1f} s",
                f"{one / two:.2f}x faster; {ok} ran ok; same scores: {same}",
            )
        )
        before = _runs(work / "jobs2")
        cached = grade(folder, work / "jobs2", 2)
        again = _runs(work / "jobs2") - before
        note = (
            "no kernel started"
            if not again
            else f"{again} notebooks ran again (the execute stage's code or settings changed)"
        )
        rows.append(("the same command again (all cached)", f"{cached:.1f} s", note))

        rescored = work / "rescore"
        shutil.copytree(work / "jobs2", rescored)
        copy_one_run(rescored, args.rescore)
        total = args.notebooks + args.rescore
        command = timed([*GRADER, "rescore", "--out", str(rescored), "--quiet"])
        rows.append((f"grader rescore, {total} stored submissions", f"{command:.1f} s", "target < 5 s (whole command)"))
        scoring, writing, count = rescore_phases(rescored)
        rows.append(
            (f"  load + score + gradebook ({count})", f"{scoring:.1f} s", f"{1000 * scoring / count:.1f} ms each")
        )
        rows.append(("  reports + grades.json", f"{writing:.1f} s", f"{1000 * writing / count:.1f} ms each"))

        table = Table(title="Batch grading")
        for column in ("what", "time", "note"):
            table.add_column(column)
        for row in rows:
            table.add_row(*row)
        Console().print(table)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
