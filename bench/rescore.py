"""`grader rescore` of 1,000 stored submissions: the median of several runs of the whole command.

    .venv/bin/python bench/rescore.py [--submissions 1000] [--runs 5] [--keep DIR] [--before CHECKOUT]

Two notebooks are graded once (real kernels, bench/batch.py's notebooks); one stored run is then
copied into the rest of the submissions (each its own submission, run and grade rows and its own
notebook file, so that no kept part is shared). Measured, as a user types it:

- the first rescore: nothing kept yet for the copies (they were never graded; a graded class has
  its parts kept by `grader grade`), and their executed-notebook pages rendered;
- a rescore with nothing changed;
- a rescore after a rubric edit: one concept of q1 worth 1 point instead of 3, then back (each run
  changes q1's grade of every student, so their pages are rendered again).

``--before CHECKOUT`` runs the same commands with the grader of another checkout (for instance the
commit before the parts were kept) on a copy of the same gradebook, alternating with this one, so a
change in the machine's load hits both; the table gives the medians and their ratio. Wall time and
CPU time (user + system of the command's process tree) are both shown: on a shared machine wall
time stretches with other people's load, CPU time much less. Target: under 5 s for 1,000.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import yaml
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).resolve().parent))
from batch import ASSIGNMENT, ROOT, copy_one_run, grade, student_notebook  # noqa: E402


def rescore(checkout: Path, out: Path, assignment: Path) -> tuple[float, float]:
    """(wall, CPU) seconds of `grader rescore` run with the grader of ``checkout``."""
    command = [sys.executable, "-m", "grader.cli", "rescore", "--out", str(out), "--assignment", str(assignment)]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run([*command, "--quiet"], check=True, stdout=subprocess.DEVNULL, cwd=checkout,
                   env={**os.environ, "PYTHONPATH": str(checkout)})  # fmt: skip
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def edited_assignment(folder: Path) -> Path:
    """The benchmark's assignment with q1's concept ``constrains_model`` worth 1 point instead of 3."""
    shutil.copytree(ASSIGNMENT, folder, dirs_exist_ok=True)
    config = yaml.safe_load((folder / "assignment.yaml").read_text(encoding="utf-8"))
    rubric_file = (ASSIGNMENT / config["rubric"]).resolve()
    rubric = yaml.safe_load(rubric_file.read_text(encoding="utf-8"))
    q1 = next(q for q in rubric["questions"] if q["id"] == "q1")
    next(c for c in q1["concepts"] if c["id"] == "constrains_model")["points"] = 1
    (folder / rubric_file.name).write_text(yaml.safe_dump(rubric, sort_keys=False), encoding="utf-8")
    config["rubric"] = rubric_file.name
    (folder / "assignment.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return folder


def gradebook(work: Path, submissions: int, console: Console) -> Path:
    """A graded class of ``submissions`` stored submissions (made once; reused with --keep)."""
    out = work / "graded"
    if not (out / "gradebook.sqlite").is_file():
        folder = work / "submissions"
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(2):
            nbformat.write(student_notebook(index), folder / f"student{index:02d}.ipynb")
        console.print("grading 2 notebooks ...")
        grade(folder, out, 1)
        console.print(f"copying one stored run into {submissions - 2} submissions ...")
        copy_one_run(out, submissions - 2)
    return out


def measure(sides: dict[str, Path], work: Path, runs: int, console: Console) -> dict[str, dict[str, list]]:
    """Each scenario's (wall, CPU) seconds per side, the sides alternating run by run."""
    edited = edited_assignment(work / "edited")
    found: dict[str, dict[str, list]] = {name: {} for name in sides}
    outs = {}
    for name in sides:
        outs[name] = work / f"out-{name}"
        shutil.rmtree(outs[name], ignore_errors=True)
        shutil.copytree(work / "graded", outs[name])
    plan = [("first rescore (nothing kept for the copies)", [ASSIGNMENT])]
    plan.append(("rescore, nothing changed", [ASSIGNMENT] * runs))
    plan.append(("rescore after a rubric edit (q1)", [edited if i % 2 == 0 else ASSIGNMENT for i in range(runs)]))
    for scenario, assignments in plan:
        for index, assignment in enumerate(assignments):
            order = list(sides) if index % 2 == 0 else list(reversed(sides))
            for name in order:
                console.print(f"{scenario}, run {index + 1}: {name} ...")
                found[name].setdefault(scenario, []).append(rescore(sides[name], outs[name], assignment))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="work in this folder and keep it (a second call reuses the class)")
    parser.add_argument("--before", type=Path, help="another checkout of the grader to compare with")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="grader-rescore-"))
    console = Console(stderr=True)
    try:
        gradebook(work, args.submissions, console)
        sides = {"this": ROOT} | ({"before": args.before.resolve()} if args.before else {})
        found = measure(sides, work, args.runs, console)
        table = Table(title=f"grader rescore, {args.submissions} stored submissions (target < 5 s)")
        for column in ("scenario", "this: wall s", "CPU s", "before: wall s", "CPU s", "ratio (wall)"):
            table.add_column(column)
        for scenario, times in found["this"].items():
            row = [scenario, *_median(times)]
            if "before" in found:
                before = found["before"][scenario]
                ratio = statistics.median(w for w, _ in before) / statistics.median(w for w, _ in times)
                row += [*_median(before), f"{ratio:.1f}x faster"]
            table.add_row(*row)
        Console().print(table)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def _median(times: list[tuple[float, float]]) -> list[str]:
    walls, cpus = [w for w, _ in times], [c for _, c in times]
    spread = f" ({min(walls):.1f}-{max(walls):.1f}, n={len(walls)})" if len(walls) > 1 else ""
    return [f"{statistics.median(walls):.2f}{spread}", f"{statistics.median(cpus):.2f}"]


if __name__ == "__main__":
    main()
