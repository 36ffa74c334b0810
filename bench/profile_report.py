"""The profile section: where the seconds of one grade go (fast mode, and full mode against plain nbclient).

Runs ``bench/profile_fast.py`` (the real `grader grade` code path with timing wrappers) as a
subprocess, folds its timeline into stages and returns the document's markdown; the console gets
the same table.
"""

from __future__ import annotations

import json
import shutil
import statistics
import sys
import time
from pathlib import Path

from rich.table import Table

from bench.results import markdown_table, median
from bench.workloads import ASSIGNMENT

PROFILER = Path(__file__).with_name("profile_fast.py")
CELL_KINDS = ("TensorFlow/Keras import", "data loading", "training (fit)", "evaluation", "other cells")
SETUP = ("read the assignment and rubric", "read the submissions", "open the gradebook",
         "settings hash (hashes the data files)", "make the job (hashes the data files)")  # fmt: skip
STORE = ("store the executed notebook", "load the stored execution", "gradebook rows")
REPORTS = ("class grades (rescore others, overrides)", "report: executed notebook page (nbconvert)",
           "report: student page", "report: class overview", "write grades.json")  # fmt: skip
KERNEL_PARTS = (
    "stage the data files (copy)",
    "kernel start (process + ipykernel ready)",
    "probe install (in the kernel)",
)


def profile_once(bench, notebook: Path, budget: str, name: str) -> tuple[dict, float]:
    """One profiled grade; (the timeline JSON, the wall time the parent saw)."""
    index = sum(1 for s in bench.samples if s.name == name)
    out = bench.work / "profile" / f"{name}-{index}"
    shutil.rmtree(out, ignore_errors=True)
    result = bench.work / "profile" / f"{name}-{index}.json"
    result.parent.mkdir(parents=True, exist_ok=True)
    launched = time.time()
    command = [sys.executable, str(PROFILER), str(notebook), "--assignment", str(ASSIGNMENT), "--out", str(out), "--budget", budget,
               "--launched", repr(launched), "--json", str(result), *bench.workload.data_args()]  # fmt: skip
    sample = bench.measure(name, command)
    return json.loads(result.read_text(encoding="utf-8")), sample.wall


def _top_level(events: list[dict]) -> list[dict]:
    """Events not inside another event of the same thread (so nested calls are not counted twice)."""
    kept = []
    for event in events:
        inside = any(
            other is not event and other["thread"] == event["thread"] and other["start"] <= event["start"]
            and event["end"] <= other["end"] and (other["end"] - other["start"]) > (event["end"] - event["start"])
            for other in events
        )  # fmt: skip
        if not inside:
            kept.append(event)
    return kept


def stages(timeline: dict, wall: float) -> dict[str, float]:
    """Seconds per stage of one profiled grade (the rows of the profile table, in order)."""
    events = timeline["events"]
    main = [e for e in events if e["thread"] == "MainThread"]
    worker = [e for e in events if e["thread"] != "MainThread"]

    def total(label: str, pool: list[dict]) -> float:
        return sum(e["end"] - e["start"] for e in pool if e["label"] == label)

    top_main = _top_level(main)
    found: dict[str, float] = {}
    found["Python start-up"] = timeline["main"] - timeline["launched"]
    found["import the grader's modules (grader.cli, then what `grade` imports)"] = timeline[
        "import_seconds"
    ] + timeline.get("lazy_import_seconds", 0.0)
    found["read assignment + submission, open gradebook, hash data files"] = sum(
        total(label, top_main) for label in SETUP
    )
    run_job = total("run_job (whole execute stage)", worker)
    parts = {label: total(label, worker) for label in KERNEL_PARTS}
    cells = {kind: sum(e["end"] - e["start"] for e in worker if e["label"] == "cell" and e.get("kind") == kind)
             for kind in CELL_KINDS}  # fmt: skip
    facts = total("facts report from the probe", worker)
    shutdown = total("kernel shutdown", worker)
    for label, seconds in parts.items():
        found[f"execute: {label}"] = seconds
    for kind, seconds in cells.items():
        found[f"execute: cells, {kind}"] = seconds
    found["execute: facts report from the probe"] = facts
    found["execute: kernel shutdown"] = shutdown
    found["execute: the rest (temp folder, nbclient, serialising)"] = max(
        0.0, run_job - sum(parts.values()) - sum(cells.values()) - facts - shutdown
    )
    found["store the run (notebook file, load back, gradebook rows)"] = sum(total(label, top_main) for label in STORE)
    found["score (answers + checks)"] = total("score (answers + checks)", top_main)
    for label in REPORTS:
        found[label] = total(label, top_main)
    found["interpreter exit"] = max(0.0, timeline["launched"] + wall - timeline["ended"])
    found["unaccounted (CLI glue, thread hand-offs)"] = max(0.0, wall - sum(found.values()))
    return found


def cell_table(timeline: dict) -> dict[int, tuple[str, float]]:
    return {
        e["cell"]: (e.get("first_line", ""), e["end"] - e["start"]) for e in timeline["events"] if e["label"] == "cell"
    }


def profile_many(bench, notebook: Path, count: int, name: str) -> tuple[dict[str, float], float, list]:
    """Median seconds per stage, the median wall time and the runs, over ``count`` profiled fast-mode grades."""
    runs = [profile_once(bench, notebook, "fast", name) for _ in range(count)]
    per_stage = [stages(timeline, wall) for timeline, wall in runs]
    medians = {stage: statistics.median(s[stage] for s in per_stage) for stage in per_stage[0]}
    return medians, statistics.median(wall for _, wall in runs), runs


def run_profiles(bench, settings) -> str:
    from bench.run import cell_seconds, say  # the runner's helpers (imported late: run imports this module)

    workload = bench.workload
    notebook = workload.seed or workload.floor
    profiled = [(notebook, "profile-fast", "seed, fast" if workload.seed else notebook.name)]
    if workload.empty is not None:
        profiled.append((workload.empty, "profile-empty", "one-cell notebook"))
    columns = []
    for path, name, label in profiled:
        say(f"profile: {settings.profile_runs} fast-mode grade(s) of {path.name} with timing wrappers")
        columns.append((label, name, *profile_many(bench, path, settings.profile_runs, name)))
    stage_names = list(columns[0][2])
    rows = []
    for stage in stage_names:
        values = [column[2].get(stage, 0.0) for column in columns]
        if max(values) < 0.005:
            continue
        row = [stage]
        for value, column in zip(values, columns):
            row += [f"{value:.2f}", f"{100 * value / column[3]:.0f}%"]
        rows.append(row)
    total = ["**total (wall, as the parent saw it)**"]
    for column in columns:
        total += [f"**{column[3]:.2f}**", "100%"]
    rows.append(total)
    headers = ["stage"]
    for column in columns:
        headers += [f"{column[0]}: s", "share"]
    table = Table(title=f"Where the seconds go: one fast-mode grade (median of {settings.profile_runs})")
    for index, header in enumerate(headers):
        table.add_column(header, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*(cell.replace("**", "") for cell in row))
    from rich.console import Console

    Console(stderr=True, width=max(120, Console().width)).print(table)
    busy = statistics.median(s.others for s in bench.samples if s.name.startswith("profile-"))
    lines = [
        "## Profile: where the seconds go",
        "",
        f"One fast-mode grade (median of {settings.profile_runs} per notebook) of "
        + " and of ".join(f"`{path.name}` ({label})" for path, _, label in profiled)
        + ", by timestamps around the grader's stage functions (`bench/profile_fast.py` runs the same `grader grade` "
        "code path with thin wrappers; the kernel's side is the time of each notebook cell, labelled by what the cell "
        f"does). Under load each stage stretches with it: other processes kept a median {busy:.2f} cores busy during "
        "these runs.",
        "",
        markdown_table(headers, rows, "l" + "rr" * len(columns)),
        "",
    ]
    missing = sorted({n for column in columns for timeline, _ in column[4] for n in timeline.get("missing", [])})
    if missing:
        lines += [
            f"Not timed (the grader no longer has these functions; their time is in *unaccounted*): {', '.join(missing)}.",
            "",
        ]
    seed_runs = columns[0][4]
    timeline = seed_runs[len(seed_runs) // 2][0]
    slow = sorted(cell_table(timeline).items(), key=lambda item: -item[1][1])[:6]
    if slow:
        lines += [f"Slowest cells of `{notebook.name}` in fast mode (one run): "
                  + "; ".join(f"cell {i} `{text}` {sec:.2f} s" for i, (text, sec) in slow), ""]  # fmt: skip
    if settings.profile_full and workload.seed is not None and bench.outputs.get("plain-full-seed"):
        lines += full_comparison(bench, cell_seconds)
    return "\n".join(lines)


def full_comparison(bench, cell_seconds) -> list[str]:
    """Full mode, cell by cell: one profiled grader run against the plain nbclient runs' own cell timings."""
    from bench.run import say

    say("profile: one full-mode grade with timing wrappers, for the cell-by-cell comparison with plain nbclient")
    timeline, wall = profile_once(bench, bench.workload.seed, "full", "profile-full")
    grader_cells = cell_table(timeline)
    plain_runs = [cell_seconds(path) for path in bench.outputs["plain-full-seed"] if path.is_file()]
    if not plain_runs:
        return []
    offset = 1  # the plain twin's first cell serves the data
    plain_cells: dict[int, list[float]] = {}
    plain_text: dict[int, str] = {}
    for run in plain_runs:
        for index, text, seconds in run:
            plain_cells.setdefault(index - offset, []).append(seconds)
            plain_text[index - offset] = text
    data_cell = statistics.median(plain_cells.pop(-1, [0.0]))
    rows = []
    for index in sorted(set(grader_cells) | set(plain_cells)):
        text, grader_seconds = grader_cells.get(index, (plain_text.get(index, ""), 0.0))
        plain_seconds = statistics.median(plain_cells.get(index, [0.0]))
        if max(grader_seconds, plain_seconds) >= 0.3:
            rows.append(
                [
                    str(index),
                    f"`{text}`",
                    f"{plain_seconds:.2f}",
                    f"{grader_seconds:.2f}",
                    f"{grader_seconds - plain_seconds:+.2f}",
                ]
            )
    grader_sum = sum(seconds for _, seconds in grader_cells.values())
    plain_sum = statistics.median(sum(s for _, _, s in run) for run in plain_runs) - data_cell
    plain_wall = median(bench.arms["plain-full-seed"])
    rows.append(["", "**all cells**", f"{plain_sum:.2f}", f"{grader_sum:.2f}", f"{grader_sum - plain_sum:+.2f}"])
    rows.append(["", "the plain twin's data cell (imports TensorFlow first)", f"{data_cell:.2f}", "—", ""])
    rows.append(["", "**outside the cells** (process, kernel, probe, facts, storing, reports)",
                 f"{plain_wall - plain_sum - data_cell:.2f}", f"{wall - grader_sum:.2f}",
                 f"{(wall - grader_sum) - (plain_wall - plain_sum - data_cell):+.2f}"])  # fmt: skip
    rows.append(["", "**wall**", f"{plain_wall:.2f}", f"{wall:.2f}", f"{wall - plain_wall:+.2f}"])
    return [
        "### Full mode, cell by cell: grader vs plain nbclient",
        "",
        "One profiled full-mode grade of the seed against the median of the plain nbclient runs of benchmark 1 "
        "(nbclient's own per-cell timestamps, busy to idle). Cells of at least 0.3 s; the plain twin's first cell "
        "(the data shim, which also imports TensorFlow, so the seed's own import cell is instant there) is shown apart. "
        "The grader's single profiled run and the plain medians were not measured at the same moment, so only "
        "differences well above the run-to-run spread mean something.",
        "",
        markdown_table(["cell", "first line", "plain s", "grader s", "difference"], rows, "llrrr"),
        "",
    ]
