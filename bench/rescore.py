"""`grader rescore` of 1,000 stored submissions: the median of several runs of the whole command.

    .venv/bin/python bench/rescore.py [--submissions 1000] [--runs 5] [--keep DIR]

Two notebooks are graded once (real kernels, bench/batch.py's notebooks); one stored run is then
copied into the rest of the submissions (each its own submission, run and grade rows). The first
rescore also renders the copies' executed-notebook pages, which a rescore after a rubric edit does
not redo: it is shown apart, and the median is of the runs after it. The same process then splits
one rescore into scoring (gradebook reads, scoring, grade rows) and writing (reports, grades.json).
Target: under 5 s for 1,000.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import nbformat
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch import GRADER, copy_one_run, grade, rescore_phases, student_notebook, timed  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--keep", type=Path, help="work in this folder and keep it (a second call reuses the gradebook)"
    )
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-rescore-"))
    out = work / "out"
    console = Console(stderr=True)
    try:
        if not (out / "gradebook.sqlite").is_file():
            folder = work / "submissions"
            folder.mkdir(parents=True, exist_ok=True)
            for index in range(2):
                nbformat.write(student_notebook(index), folder / f"student{index:02d}.ipynb")
            console.print("grading 2 notebooks ...")
            grade(folder, out, 1)
            copy_one_run(out, args.submissions - 2)
        command = [*GRADER, "rescore", "--out", str(out), "--quiet"]
        first = timed(command)
        runs = [timed(command) for _ in range(args.runs)]
        scoring, writing, count = rescore_phases(out)
        table = Table(title=f"grader rescore, {count} stored submissions (target < 5 s)")
        for column in ("what", "seconds"):
            table.add_column(column)
        table.add_row(f"median of {len(runs)} runs", f"{statistics.median(runs):.2f}")
        table.add_row("fastest, slowest", f"{min(runs):.2f}, {max(runs):.2f}")
        table.add_row("first run (renders the copies' notebook pages)", f"{first:.2f}")
        table.add_row("  of one run: load + score + gradebook", f"{scoring:.2f}")
        table.add_row("  of one run: reports + grades.json", f"{writing:.2f}")
        Console().print(table)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
