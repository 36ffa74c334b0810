"""The grader's performance benchmarks: one command prints a table and writes docs/performance.md.

    .venv/bin/python bench/run.py                  # everything: medians of 3 (about 30 minutes here)
    .venv/bin/python bench/run.py --quick          # one run of each, a batch of 10: a smoke run
    .venv/bin/python bench/run.py --only 1,4 --repeats 5 --cpus 0,1

1. grader overhead in full mode vs plain nbclient (`jupyter execute`) on the same notebook, kernel and data;
2. fast vs full budget on the seed solution with full-size MNIST (speed-up and identical verdicts),
   and fast vs the floor (a notebook that only imports TensorFlow and Keras, graded the same way),
   split into the seed's own budgeted work (plain nbclient on a twin whose Keras calls are cut as
   the fast budget cuts them) and what the grader adds to it;
3. a batch of 40 distinct submissions in fast mode with --jobs 1 and --jobs 2: wall time, peak memory;
4. fixed cost per submission: grading the import-only notebook vs executing it with plain nbclient;
5. the cached re-run (`grader grade` again on the same folder) and `grader rescore --out DIR`
   (40 stored submissions, and 1,000 via bench/batch.py's copies), when the commands exist;
6. what verification outside the kernel adds per notebook in fast mode (bench/verification.py);
and a profile of one fast-mode grade (where the seconds go), by timestamps around the stages.

Every measurement is a subprocess started the way a user types it, so process start counts. Runs
of one benchmark alternate (A B, B A, ...) so that a change in the machine's load hits both sides;
the table quotes medians and ratios, and each run records the load other processes put on the
cores meanwhile. Benchmarks 1 and 2 need ../shared (the seed solution and the MNIST files) and are
skipped without it; benchmark 3 then batches the shipped examples alone. ``--toy`` swaps every
notebook for a trivial one (no TensorFlow): the smoke test's configuration, not a measurement.
"""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import profile_report, workloads  # noqa: E402
from bench.measure import CommandFailed, Sample, run_measured  # noqa: E402
from bench.results import (  # noqa: E402  # noqa: E402
    Row,
    Section,
    console,
    console_table,
    median,
    megabytes,
    others,
    samples_markdown,
    spread,
    summary_markdown,
)

BIN = Path(sys.executable).parent
GRADER = str(BIN / "grader")
JUPYTER = str(BIN / "jupyter")
ASSIGNMENT = workloads.ASSIGNMENT
TITLES = {
    1: "grader overhead, full mode, vs plain nbclient",
    2: "fast vs full budget; fast vs the floor",
    3: "batch of submissions, fast mode",
    4: "fixed cost per submission",
    5: "cached re-run and rescore",
    6: "verification outside the kernel, fast mode",
}
COMMAND_TIMEOUT = 3600.0


@dataclass
class Settings:
    repeats: int
    cheap_runs: int  # runs per round of the cheap single-notebook arms (the floors)
    batch_size: int
    batch_repeats: int
    rescore_copies: int
    profile_runs: int
    profile_full: bool
    cpus: str | None
    quick: bool
    toy: bool


@dataclass
class Bench:
    settings: Settings
    work: Path
    workload: workloads.Workload
    samples: list[Sample] = field(default_factory=list)
    arms: dict[str, list[Sample]] = field(default_factory=dict)
    outputs: dict[str, list[Path]] = field(default_factory=dict)  # arm -> its runs' output (folder or notebook)
    batch_out: Path | None = None
    batch_command: list[str] | None = None
    counter: int = 0
    code_at_start: str = ""

    # -- running ---------------------------------------------------------------------------------

    def measure(self, name: str, command: list[str], cwd: Path | None = None) -> Sample:
        self.counter += 1
        log = self.work / "logs" / f"{self.counter:03d}-{name}.log"
        say(f"[{time.strftime('%H:%M:%S')}] {name} ...")
        code = package_version()
        sample = run_measured(name, command, log=log, cwd=cwd, cpus=self.settings.cpus, timeout=COMMAND_TIMEOUT)
        after = package_version()
        sample.extra["code"] = code if code == after else f"{code}→{after}"
        say(f"    {sample.wall:.1f} s, CPU {sample.cpu:.1f} s, others kept {sample.others:.2f} cores busy, "
            f"peak {megabytes(sample.peak_rss)}")  # fmt: skip
        self.samples.append(sample)
        return sample

    def grade_command(self, notebook: Path, out: Path, budget: str, jobs: int = 1) -> list[str]:
        return [GRADER, "grade", str(notebook), "--assignment", str(ASSIGNMENT), "--out", str(out),
                "--budget", budget, "--jobs", str(jobs), "--quiet", *self.workload.data_args()]  # fmt: skip

    def run_arm(self, key: str) -> None:
        """One run of a single-notebook arm (see ``ARMS``)."""
        notebook_kind, how = ARMS[key]
        index = len(self.arms.setdefault(key, []))
        notebook = {"seed": self.workload.seed, "floor": self.workload.floor, "empty": self.workload.empty}[
            notebook_kind
        ]
        if how in ("plain", "plain-budget"):
            plain = {"plain": self.workload.plain, "plain-budget": self.workload.plain_budget}[how]
            plain = plain if notebook_kind == "seed" else notebook
            output = plain.parent / f"{key}-{index}.ipynb"
            command = [
                JUPYTER,
                "execute",
                "--allow-errors",
                "--kernel_name=python3",
                f"--output={output.stem}",
                str(plain),
            ]
            sample = self.measure(key, command, cwd=plain.parent)
        else:
            output = self.work / "runs" / f"{key}-{index}"
            shutil.rmtree(output, ignore_errors=True)
            sample = self.measure(key, self.grade_command(notebook, output, how))
            try:
                sample.extra["status"] = execution_status(grades(output)[0])
            except (OSError, ValueError, IndexError, KeyError):
                sample.extra["status"] = "?"
        self.arms[key].append(sample)
        self.outputs.setdefault(key, []).append(output)

    def run_arms(self, keys: list[str]) -> None:
        """``repeats`` rounds; the order flips every round (A B C, C B A, ...)."""
        for round_ in range(self.settings.repeats):
            order = keys if round_ % 2 == 0 else list(reversed(keys))
            for key in order:
                runs = self.settings.cheap_runs if ARMS[key][0] in ("floor", "empty") else 1
                for _ in range(runs):
                    self.run_arm(key)


# arm -> (notebook, how): how is "plain" (jupyter execute), "plain-budget" (jupyter execute on the
# twin whose first cells cut Keras' calls as the fast budget does) or the grader's budget
ARMS = {
    "plain-budget-seed": ("seed", "plain-budget"),
    "grader-full-seed": ("seed", "full"),
    "plain-full-seed": ("seed", "plain"),
    "grader-fast-seed": ("seed", "fast"),
    "grader-fast-floor": ("floor", "fast"),
    "plain-floor": ("floor", "plain"),
    "grader-fast-empty": ("empty", "fast"),
    "plain-empty": ("empty", "plain"),
}
NEEDS = {1: ["grader-full-seed", "plain-full-seed"],
         2: ["grader-full-seed", "grader-fast-seed", "grader-fast-floor", "plain-budget-seed", "plain-floor"],
         4: ["grader-fast-floor", "plain-floor", "grader-fast-empty", "plain-empty"]}  # fmt: skip


def what(bench: Bench) -> str:
    return "toy notebook" if bench.workload.toy else "seed solution, full-size MNIST"


def say(message: str) -> None:
    console().print(message)


def shown(command: list[str], bench: Bench) -> str:
    """A command as the document shows it: the work folder as $WORK, the checkout as ., the venv's tools by name."""
    text = shlex.join(command)
    for path, name in ((str(bench.work), "$WORK"), (str(BIN) + "/", ".venv/bin/"), (str(ROOT) + "/", "")):
        text = text.replace(path, name)
    return text


# --------------------------------------------------------------------------- reading results


def grades(out: Path) -> list[dict]:
    return json.loads((out / "grades.json").read_text(encoding="utf-8"))


def verdicts(record: dict) -> dict:
    """What must not depend on the budget: each check's passed/score, each written answer's score, the total."""
    return {
        "checks": {c["id"]: (c["passed"], c["score"]) for c in record.get("checks", [])},
        "questions": {q["id"]: q["score"] for q in record.get("questions", [])},
        "score": record.get("score"),
        "status": record.get("status"),
    }


def execution_status(record: dict) -> str:
    return record["status"] if record.get("status") == "error" else (record.get("execution") or {}).get("status", "?")


def served_train_samples(out: Path) -> int | None:
    """How many training images the graded notebook's ``load_data()`` returned (the probe's facts)."""
    try:
        with sqlite3.connect(out / "gradebook.sqlite") as db:
            row = db.execute("SELECT facts FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        for dataset in json.loads(row[0]).get("datasets", []):
            if dataset.get("name") == "mnist":
                return int(dataset["train_samples"])
    except (sqlite3.Error, OSError, TypeError, ValueError, KeyError):
        return None
    return None


def plain_saw(notebook: Path, text: str) -> bool:
    try:
        executed = json.loads(notebook.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    for cell in executed.get("cells", []):
        for output in cell.get("outputs", []):
            body = output.get("text") or "".join(output.get("data", {}).get("text/plain", ""))
            if text in ("".join(body) if isinstance(body, list) else str(body)):
                return True
    return False


def cell_seconds(notebook: Path) -> list[tuple[int, str, float]]:
    """(index, first line, seconds) of each code cell of an executed notebook, from nbclient's timing metadata."""
    executed = json.loads(notebook.read_text(encoding="utf-8"))
    found = []
    for index, cell in enumerate(executed.get("cells", [])):
        timing = cell.get("metadata", {}).get("execution", {})
        busy, idle = timing.get("iopub.status.busy"), timing.get("iopub.status.idle")
        if cell.get("cell_type") != "code" or not busy or not idle:
            continue
        seconds = (_timestamp(idle) - _timestamp(busy)).total_seconds()
        source = "".join(cell.get("source", ""))
        found.append((index, source.strip().splitlines()[0][:60] if source.strip() else "", seconds))
    return found


def _timestamp(text: str) -> datetime.datetime:
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


# --------------------------------------------------------------------------- the benchmarks


def bench_overhead(bench: Bench) -> Section:
    section = Section(1, TITLES[1])
    grader, plain = bench.arms["grader-full-seed"], bench.arms["plain-full-seed"]
    ratio = median(grader) / median(plain)
    section.rows.append(Row(f"1. full mode: grader vs plain nbclient ({what(bench)})", spread(grader), spread(plain),
                            f"{ratio:.3f}x", "≤ 1.05x", ratio <= 1.05))  # fmt: skip
    section.commands += [shown(bench.grade_command(bench.workload.seed, bench.work / "runs/grader-full-seed-N", "full"), bench),
                         shown([JUPYTER, "execute", "--allow-errors", "--kernel_name=python3", "--output=plain-full-seed-N",
                                str(bench.workload.plain)], bench)]  # fmt: skip
    if not bench.workload.toy:
        trained = [served_train_samples(out) for out in bench.outputs["grader-full-seed"]]
        plain_ok = all(plain_saw(nb, "(60000, 28, 28)") for nb in bench.outputs["plain-full-seed"])
        statuses = [execution_status(grades(out)[0]) for out in bench.outputs["grader-full-seed"]]
        section.notes.append(
            "Same data on both sides: in each grader run the probe reported load_data() returning "
            + ", ".join(f"{n if n is not None else 'no facts'} ({status})" for n, status in zip(trained, statuses))
            + f" training images; every plain run printed the shape (60000, 28, 28): {plain_ok}."
        )
    section.notes.append(
        f"Median load from other processes during these runs: grader {others(grader):.2f} cores, "
        f"plain {others(plain):.2f} cores (of {os.cpu_count()})."
    )
    section.notes.append(cpu_note("grader", grader, "plain nbclient", plain))
    section.notes.append(
        "Threads: the grader gives its kernel OMP/OpenBLAS/MKL/TF intra- and inter-op caps equal to the usable cores "
        f"({len(os.sched_getaffinity(0))}); plain nbclient's kernel uses TensorFlow's defaults, which are the same number here."
    )
    return section


def cpu_note(a_name: str, a: list[Sample], b_name: str, b: list[Sample]) -> str:
    """CPU time moves less than wall time when other processes compete for the cores: a second opinion."""
    ca, cb = statistics.median(s.cpu for s in a), statistics.median(s.cpu for s in b)
    return (
        f"CPU time of the whole process tree (medians; less sensitive to other load than wall time): "
        f"{a_name} {ca:.1f} s, {b_name} {cb:.1f} s, ratio {ca / cb:.3f}x."
        if cb
        else ""
    )


def bench_budget(bench: Bench) -> Section:
    section = Section(2, TITLES[2])
    full, fast, floor = bench.arms["grader-full-seed"], bench.arms["grader-fast-seed"], bench.arms["grader-fast-floor"]
    speedup = median(full) / median(fast)
    section.rows.append(Row(f"2. fast vs full budget ({what(bench)})", spread(fast), spread(full),
                            f"{speedup:.2f}x faster", "≥ 6x faster", speedup >= 6))  # fmt: skip
    runs = [(f"{budget}-{index}", out) for budget in ("full", "fast")
            for index, out in enumerate(bench.outputs[f"grader-{budget}-seed"])]  # fmt: skip
    groups: dict[str, list[tuple[str, dict]]] = {}
    for name, out in runs:
        record = grades(out)[0]
        groups.setdefault(json.dumps(verdicts(record), sort_keys=True), []).append((name, record))
    same = len(groups) == 1
    ok_groups = {key for key, members in groups.items() if any(execution_status(r) == "ok" for _, r in members)}
    reference = verdicts(runs and grades(runs[0][1])[0])
    checks = reference["checks"]
    passed = sum(1 for ok, _ in checks.values() if ok)
    counts = f"{len(bench.outputs['grader-fast-seed'])} fast + {len(bench.outputs['grader-full-seed'])} full runs"
    if same:
        measured = f"identical in {counts}"
    else:
        clean = len(ok_groups) == 1 and all(execution_status(r) == "ok" for key in ok_groups for _, r in groups[key])
        measured = f"DIFFERENT in {counts}" + ("; identical among the runs that executed ok" if clean else "")
    section.rows.append(Row(
        "2. same verdicts fast and full (checks passed/score, written scores)", measured,
        f"{passed}/{len(checks)} checks passed, score {reference['score']} (full-0)", "—", "identical", same,
    ))  # fmt: skip
    if not same:
        for members in groups.values():
            verdict = verdicts(members[0][1])
            ok = sum(1 for passed_, _ in verdict["checks"].values() if passed_)
            statuses = sorted({execution_status(r) for _, r in members})
            flags = sorted({flag for _, r in members for flag in r.get("flags", [])})
            section.notes.append(
                f"Verdict group {', '.join(name for name, _ in members)}: {ok}/{len(verdict['checks'])} checks passed, "
                f"score {verdict['score']}, execution {', '.join(statuses)}"
                + (f"; flags: {' | '.join(flags)[:600]}" if flags else "")
            )
    ratio = median(fast) / median(floor)
    section.rows.append(Row("2. fast (seed) vs the floor (import-only notebook, graded fast)", spread(fast), spread(floor),
                            f"{ratio:.2f}x", "≤ 1.5x", ratio <= 1.5))  # fmt: skip
    section.notes.append(cpu_note("fast", fast, "full", full))
    section.notes.append(cpu_note("fast (seed)", fast, "the floor", floor))
    section.commands += [shown(bench.grade_command(bench.workload.seed, bench.work / "runs/grader-fast-seed-N", "fast"), bench),
                         shown(bench.grade_command(bench.workload.floor, bench.work / "runs/grader-fast-floor-N", "fast"), bench)]  # fmt: skip
    section.notes.append(
        "The floor is the same command (`grader grade --budget fast`, same --data) on a notebook whose only cell is "
        f"`{(workloads.TOY_FLOOR_SOURCE if bench.workload.toy else workloads.FLOOR_SOURCE).replace(chr(10), '; ')}`: process start, kernel start, "
        "the TensorFlow import and the grader's fixed work, no training."
    )
    if bench.arms.get("plain-budget-seed"):
        budget_without_grader(bench, section, fast, floor)
    return section


def budget_without_grader(bench: Bench, section: Section, fast: list[Sample], floor: list[Sample]) -> None:
    """The fast seed's extra over the floor, split into the seed's own budgeted work (what any tool
    running the same cut fits pays) and what the grader adds to it."""
    plain_budget, plain_floor = bench.arms["plain-budget-seed"], bench.arms["plain-floor"]
    own = median(plain_budget) - median(plain_floor)
    graded = median(fast) - median(floor)
    section.rows.append(Row("2. the fast seed's own work without the grader (plain nbclient, Keras calls cut as fast mode "
                            "cuts them) vs plain nbclient on the floor", spread(plain_budget), spread(plain_floor),
                            f"{median(plain_budget) / median(plain_floor):.2f}x (+{own:.1f} s)", "(for information)"))  # fmt: skip
    section.rows.append(Row("2. what the grader adds to the fast seed's own work: its extra over the floor, graded vs plain",
                            f"+{graded:.1f} s", f"+{own:.1f} s", f"{graded - own:+.1f} s", "(for information)"))  # fmt: skip
    section.commands.append(shown([JUPYTER, "execute", "--allow-errors", "--kernel_name=python3",
                                   "--output=plain-budget-seed-N", str(bench.workload.plain_budget)], bench))  # fmt: skip
    section.notes.append(
        "The budgeted twin is the plain twin with a second cell that cuts Keras' `fit` and `evaluate` as the probe's fast "
        "budget does (at most one epoch and the first 2,048 training rows; validation and evaluation rows capped at "
        "2,000), recording nothing: the seed's own work in fast mode (its data preparation, Keras' per-fit graph "
        "building, the cut training and evaluation), which no grader can skip. The grader's share is the rest: its "
        "probe, the verifier's wait after the kernel, and the longer executed-notebook page."
    )


def bench_fixed(bench: Bench) -> Section:
    section = Section(4, TITLES[4])
    grader, plain = bench.arms["grader-fast-floor"], bench.arms["plain-floor"]
    extra = median(grader) - median(plain)
    section.rows.append(Row("4. fixed cost: grade vs plain nbclient, import-only notebook", spread(grader), spread(plain),
                            f"{median(grader) / median(plain):.2f}x ({extra:+.2f} s)", "< +1 s", extra < 1.0))  # fmt: skip
    section.commands += [shown(bench.grade_command(bench.workload.floor, bench.work / "runs/grader-fast-floor-N", "fast"), bench),
                         shown([JUPYTER, "execute", "--allow-errors", "--kernel_name=python3", "--output=plain-floor-N",
                                str(bench.workload.floor)], bench)]  # fmt: skip
    section.notes.append(cpu_note("grader", grader, "plain nbclient", plain))
    section.notes.append(
        f"Median load from other processes: grader {others(grader):.2f} cores, plain {others(plain):.2f} cores. "
        "The grader's side includes staging and hashing the --data file; see the profile below for the split."
    )
    if bench.arms.get("grader-fast-empty"):
        empty_grader, empty_plain = bench.arms["grader-fast-empty"], bench.arms["plain-empty"]
        extra_empty = median(empty_grader) - median(empty_plain)
        section.rows.append(Row(f"4. fixed cost without TensorFlow (one cell: `{workloads.EMPTY_SOURCE}`)", spread(empty_grader),
                                spread(empty_plain), f"{median(empty_grader) / median(empty_plain):.2f}x ({extra_empty:+.2f} s)",
                                "(for information)"))  # fmt: skip
        section.commands += [shown(bench.grade_command(bench.workload.empty, bench.work / "runs/grader-fast-empty-N", "fast"), bench),
                             shown([JUPYTER, "execute", "--allow-errors", "--kernel_name=python3", "--output=plain-empty-N",
                                    str(bench.workload.empty)], bench)]  # fmt: skip
        section.notes.append(
            "Why the two rows differ: the grader ends its kernel at once (`shutdown_kernel(now=True)`), while "
            "`jupyter execute` asks the kernel to shut down and waits for it; a Python process that has imported "
            "TensorFlow takes about a second to exit. On the import-only notebook that wait offsets the grader's own "
            "extra work (importing the grader, the gradebook, the executed-notebook page; see the profile); the "
            "TensorFlow-free row shows that extra work alone."
        )
    return section


def bench_verification(bench: Bench) -> Section:
    """Seconds the clean verifier adds per notebook (bench/verification.py, in one process: the
    verifier starts once, as in a batch)."""
    section = Section(6, TITLES[6])
    if bench.workload.toy:
        section.skipped = "needs TensorFlow (not measured with --toy)"
        return section
    command = [
        sys.executable,
        str(ROOT / "bench" / "verification.py"),
        "--json",
        "--runs",
        str(max(3, bench.settings.repeats)),
    ]
    done = subprocess.run(command, capture_output=True, text=True, timeout=COMMAND_TIMEOUT)
    if done.returncode != 0:
        raise CommandFailed(f"{shlex.join(command)}: {done.stderr[-2000:]}")
    for result in json.loads(done.stdout.strip().splitlines()[-1]):
        added, framework = result["added_median"], result["framework"]
        section.rows.append(Row(f"6. {framework}: added per notebook: models saved in the kernel + verified outside ({result['runs']} runs)",
                                f"{added:.2f} s", f"notebook {result['notebook_median']:.1f} s", f"{added / result['notebook_median']:.0%}",
                                "< 2 s", added < 2.0))  # fmt: skip
        section.rows.append(
            Row(
                f"6. {framework}: the verifier's start (import), once per grader process",
                f"{result['verifier_start']:.1f} s",
            )
        )
        section.notes.append(
            f"{framework}: the probe's final report (which now saves {result['models_verified']} models) "
            f"{result['report_median']:.2f} s, the clean verifier's load and measure {result['verify_median']:.2f} s (medians)."
        )
    section.commands.append(shown(command, bench))
    return section


def bench_batch(bench: Bench) -> Section:
    settings = bench.settings
    section = Section(3, TITLES[3])
    folder = bench.work / "batch" / "submissions"
    shutil.rmtree(folder, ignore_errors=True)
    files = workloads.batch_folder(bench.workload.batch_sources, settings.batch_size, folder)
    runs: dict[int, list[Sample]] = {1: [], 2: []}
    outs: dict[int, Path] = {}
    counts = (2,) if settings.toy else (1, 2)  # the toy run (the smoke test) saves a few seconds here
    for round_ in range(settings.batch_repeats):
        for jobs in counts if round_ % 2 == 0 else counts[::-1]:
            out = bench.work / "batch" / f"jobs{jobs}-{round_}"
            shutil.rmtree(out, ignore_errors=True)
            command = bench.grade_command(folder, out, "fast", jobs)
            runs[jobs].append(bench.measure(f"batch-{len(files)}-jobs{jobs}", command))
            outs[jobs] = out
            if jobs == 2:
                bench.batch_out, bench.batch_command = out, command
    limit = 360.0 * len(files) / 40  # the target: 40 in under 6 minutes
    records = {jobs: grades(out) for jobs, out in outs.items()}
    for jobs in counts:
        peak = max(s.peak_rss for s in runs[jobs])
        wall = median(runs[jobs])
        speed = (
            f"{median(runs[1]) / wall:.2f}x vs --jobs 1"
            if jobs == 2 and runs[1]
            else f"{wall / len(files):.1f} s/notebook"
        )
        section.rows.append(Row(f"3. batch of {len(files)}, fast, --jobs {jobs}", f"{spread(runs[jobs])}, peak {megabytes(peak)}",
                                "—", speed, f"< {limit:.0f} s", wall < limit))  # fmt: skip
        section.commands.append(
            shown(bench.grade_command(folder, bench.work / f"batch/jobs{jobs}-R", "fast", jobs), bench)
        )
    statuses: dict[str, int] = {}
    for record in records[2]:
        status = record["status"] if record["status"] == "error" else (record.get("execution") or {}).get("status", "?")
        statuses[status] = statuses.get(status, 0) + 1
    same = (
        [r["score"] for r in records[1]] == [r["score"] for r in records[2]] if 1 in records else "not compared (--toy)"
    )
    ran = sum(1 for r in records[2] if (r.get("execution") or {}).get("status") not in (None, "not_run"))
    section.notes += [
        f"{len(files)} submissions copied from {len(bench.workload.batch_sources)} sources ({', '.join(p.name for p in bench.workload.batch_sources)}), "
        "each under its own name with distinct bytes (a `bench_copy` number in the notebook metadata) so that "
        "every readable one runs (identical files would run once).",
        f"{ran} of the {len(files)} were executed (the others could not be read: not JSON). "
        f"Outcomes with --jobs 2: {', '.join(f'{n} {s}' for s, n in sorted(statuses.items()))}; same scores with "
        f"--jobs 1 and --jobs 2: {same}.",
        "Peak memory: the largest sum of resident memory (RSS) over the whole process tree (grader + kernels + "
        "their helpers), sampled every 0.2 s; a page shared by several processes counts in each of them, so it errs high.",
        "Median load from other processes: "
        + ", ".join(f"--jobs {j} {others(runs[j]):.2f} cores" for j in counts)
        + ".",
    ]
    if settings.batch_size != 40:
        section.notes.append(
            f"Batch of {len(files)} instead of 40 (--quick or --batch); the target is scaled to {limit:.0f} s."
        )
    return section


def bench_cached(bench: Bench) -> Section:
    section = Section(5, TITLES[5])
    help_text = subprocess.run([GRADER, "--help"], capture_output=True, text=True).stdout
    has_rescore = "rescore" in help_text
    if bench.batch_out is None:  # benchmark 3 did not run: grade a small batch first (not measured)
        folder = bench.work / "batch" / "small"
        shutil.rmtree(folder, ignore_errors=True)
        workloads.batch_folder(bench.workload.batch_sources, min(len(bench.workload.batch_sources), 6), folder)
        out = bench.work / "batch" / "small-out"
        shutil.rmtree(out, ignore_errors=True)
        bench.batch_command = bench.grade_command(folder, out, "fast", 2)
        bench.measure("setup-small-batch", bench.batch_command)
        bench.batch_out = out
    out, command = bench.batch_out, bench.batch_command
    count = len(grades(out))
    cached_runs, retried = [], False
    for _ in range(bench.settings.cheap_runs):
        before = code_version()
        sample = bench.measure(f"cached-rerun-{count}", command)
        records = grades(out)
        executed = [r for r in records if r.get("status") != "error" and r.get("execution")]
        cached = sum(1 for r in executed if r["execution"].get("cached"))
        if cached < len(executed) and not retried and (before != bench.code_at_start or code_version() != before):
            # Someone changed grader/execute since the batch ran: a new grader version runs everything
            # again, by design. Not a cached re-run; measure once more, now that the runs are stored.
            retried = True
            section.notes.append(f"grader/execute/ changed while the benchmark ran, so the first re-run executed "
                                 f"{len(executed) - cached} notebooks again ({sample.wall:.0f} s, by design: a new "
                                 "execute stage means new runs); the figure is from the re-runs after it.")  # fmt: skip
            sample = bench.measure(f"cached-rerun-{count}", command)
            records = grades(out)
            executed = [r for r in records if r.get("status") != "error" and r.get("execution")]
            cached = sum(1 for r in executed if r["execution"].get("cached"))
        cached_runs.append(sample)
    kernels = max(s.peak_processes for s in cached_runs) - 1
    all_cached = bool(executed) and cached == len(executed)
    section.rows.append(Row(f"5. `grader grade` again, same folder ({count} stored)", spread(cached_runs), "—", "—",
                            "all cached, no kernel", all_cached and kernels == 0,))  # fmt: skip
    section.notes.append(f"Cached re-run: {cached} of the {len(executed)} runnable submissions reported `cached: true`; "
                         f"at most {kernels} processes besides the grader were seen during the re-run.")  # fmt: skip
    section.commands.append(shown(command, bench) + "   # the batch command, a second time")
    if not has_rescore:
        section.rows.append(Row("5. `grader rescore --out DIR`", "not available", target="< 5 s for 1,000"))
        section.notes.append("`grader --help` lists no rescore command in this checkout.")
        return section
    rescore = [GRADER, "rescore", "--out", str(out), "--quiet"]
    section.commands.append(shown(rescore, bench))
    if not bench.settings.toy:  # the toy run measures only the big rescore below (the smoke test's time)
        runs = [bench.measure(f"rescore-{count}", rescore) for _ in range(bench.settings.cheap_runs)]
        section.rows.append(Row(f"5. `grader rescore`, {count} stored submissions", spread(runs), "—",
                                f"{1000 * median(runs) / count:.0f} ms each"))  # fmt: skip
    try:
        from bench.batch import copy_one_run
    except ImportError as exc:
        section.notes.append(f"The 1,000-submission rescore needs bench/batch.py's copy_one_run ({exc}); not measured.")
        return section
    many = bench.work / "batch" / "rescore-many"
    shutil.rmtree(many, ignore_errors=True)
    shutil.copytree(out, many)
    copies = max(0, bench.settings.rescore_copies - count)
    copy_one_run(many, copies)
    total = count + copies
    command = [GRADER, "rescore", "--out", str(many), "--quiet"]
    # The copies have no executed-notebook pages yet: the first rescore renders them all (nbconvert), which a
    # rescore after a rubric edit does not do (the runs did not change). Measured apart, not as the figure.
    first = bench.measure(f"rescore-{total}-first", command)
    toy = bench.settings.toy
    many_runs = (
        [first] if toy else [bench.measure(f"rescore-{total}", command) for _ in range(bench.settings.cheap_runs)]
    )
    big = total >= 1000  # the target (5 s) is for 1,000 submissions; smaller runs are dominated by start-up
    section.rows.append(Row(f"5. `grader rescore`, {total} stored submissions", spread(many_runs), "—",
                            f"{1000 * median(many_runs) / total:.1f} ms each", "< 5 s" if big else "(< 5 s for 1,000)",
                            median(many_runs) < 5.0 if big else None))  # fmt: skip
    section.notes.append(
        f"The {total}-submission gradebook is the batch's plus {copies} copies of one stored run (bench/batch.py's "
        "`copy_one_run`: each its own submission, run and grade rows). Each rescore re-scores every stored submission "
        "and rewrites the reports and grades.json"
        + (
            "."
            if toy
            else f"; the figure is of the rescores after the first. The first rescore of the copied gradebook took "
            f"{first.wall:.1f} s: it also rendered the {copies} executed-notebook pages the copies did not have yet, "
            "which a rescore after a rubric edit does not redo."
        )
    )
    return section


# --------------------------------------------------------------------------- machine and document


def code_version(folder: Path = ROOT / "grader" / "execute") -> str:
    """A hash of the execute stage's code, as the grader's cache key has it (grader.batch.grader_version)."""
    import hashlib

    digest = hashlib.sha256()
    for file in sorted(folder.glob("*.py")):
        digest.update(file.name.encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:10]


def package_version(folder: Path = ROOT / "grader") -> str:
    """A hash of all the grader's code: did it change while the benchmark ran?"""
    import hashlib

    digest = hashlib.sha256()
    for file in sorted(folder.rglob("*")):
        if file.suffix in (".py", ".html", ".css") and "__pycache__" not in file.parts:
            digest.update(str(file.relative_to(folder)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()[:10]


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for name in ("tensorflow-cpu", "tensorflow", "keras", "nbclient", "ipykernel", "notebook-grader"):
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def machine() -> dict[str, str]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        memory = f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.1f} GB"
    except (ValueError, OSError):
        memory = "?"
    try:
        commit = subprocess.run(
            ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(ROOT), "status", "--porcelain", "grader"], capture_output=True, text=True
        ).stdout.strip()
        commit += " (grader/ has uncommitted changes)" if dirty else ""
    except OSError:
        commit = "?"
    return {"nproc": str(os.cpu_count()), "affinity": str(len(os.sched_getaffinity(0))), "cpu": model or "?",
            "memory": memory, "commit": commit}  # fmt: skip


def write_document(path: Path, bench: Bench, sections: list[Section], started: dict, ended: dict, argv: list[str],
                   profile_md: str) -> None:  # fmt: skip
    settings = bench.settings
    info = machine()
    lines = [
        "# Performance",
        "",
        "Written by `bench/run.py` (do not edit by hand; run it again). Every figure is the wall time of a command "
        "started the way a user types it (process start included), the median of several runs measured side by "
        "side in one session: the two sides of a comparison alternate (A B, B A, ...), so a change in the "
        "machine's load hits both. Ratios are of medians.",
        "",
        f"Run: `{shown([sys.executable, 'bench/run.py', *argv], bench)}` on {started['date']}, {ended['seconds'] / 60:.0f} minutes.",
        "",
        summary_markdown(sections),
        "",
        "## Machine and load",
        "",
        f"- {info['nproc']} cores ({info['affinity']} usable by the benchmark"
        + (f", commands pinned with `taskset -c {settings.cpus}`" if settings.cpus else ", no pinning")
        + f"), {info['cpu']}, {info['memory']} RAM",
        f"- load average (1, 5, 15 min) at the start {started['load']}, at the end {ended['load']}; other people's tests "
        "ran on this machine at the same time. Each run's own record (below) gives the cores other processes kept busy "
        "while it ran: /proc/stat busy time minus the measured process tree's CPU time.",
        "- " + ", ".join(f"{k} {v}" for k, v in versions().items()),
        f"- commit {info['commit']}; grader code hash {started['code']} at the start, {ended['code']} at the end"
        + (
            " (**the grader's code changed during the run**: other people were editing it; runs before and after "
            "the change measured different code)"
            if started["code"] != ended["code"]
            else " (unchanged)"
        ),
        f"- repeats {settings.repeats} (floors {settings.repeats * settings.cheap_runs}), batch {settings.batch_size} "
        f"× {settings.batch_repeats}"
        + ("; --quick" if settings.quick else "")
        + ("; --toy (not a measurement)" if settings.toy else ""),
        f"- environment: PYTHONDONTWRITEBYTECODE={os.environ.get('PYTHONDONTWRITEBYTECODE', '(unset)')} (the grader's own "
        "modules are compiled at every start when their .pyc files are missing)",
        "",
        "## What is compared",
        "",
        "- **Plain nbclient** is `jupyter execute --allow-errors --kernel_name=python3` (nbclient's own command, the same "
        "venv and kernel) on a twin of the notebook: the same cells, with shell lines (`!pip install ...`) turned into "
        "`pass` exactly as the grader does (otherwise pip would try the network), and, for the seed, a first cell that "
        "makes `keras.datasets.mnist.load_data()` read the same npz file the grader serves (the grader stages a copy of "
        "the file and its probe patches the same function). `--allow-errors` because the seed has two failing cells, "
        "which the grader also runs past. The executed notebook is written (`--output`), as the grader stores its own.",
        "- **The grader** is `grader grade NOTEBOOK --assignment assignments/regularization --out NEW_DIR --budget "
        "full|fast --jobs 1 --quiet --data mnist=FILE`: ingest, a fresh kernel in a private folder with the probe, "
        "the cells, the facts, scoring, the gradebook, the executed notebook page, the report and grades.json. A new "
        "--out folder every run, so nothing is cached.",
        "- **Full-size data** is `make_npz.py OUT --full`: 60,000 training images (six shifted copies of the 10,000 "
        "MNIST test images) and the 10,000 test images.",
        "- **Pinning**: by default no `taskset`: both sides of every comparison get the same two cores, which TensorFlow "
        "uses (pinning to one core would measure another configuration, and pinning our processes does not keep other "
        "people's off those cores). `--cpus 0,1` pins every measured command when the machine has cores to spare.",
        "",
    ]
    for section in sections:
        lines += [f"## {section.number}. {section.title}", ""]
        if section.skipped:
            lines += [f"Skipped: {section.skipped}", ""]
            continue
        if section.commands:
            lines += ["```", *section.commands, "```", ""]
        lines += [f"- {note}" for note in section.notes] + [""]
    if profile_md:
        lines += [profile_md, ""]
    lines += ["## Every run", "",
              "In the order they ran. *CPU s*: user + system time of the whole process tree; *other load*: the cores other "
              "processes kept busy meanwhile; *execution*: the grader's execution status in grades.json; *grader code*: a "
              "hash of grader/ when the run started (two hashes when it changed during the run).", "",
              samples_markdown(bench.samples), ""]  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.splitlines()[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="one run of each, a batch of 10: a smoke run")
    parser.add_argument("--repeats", type=int, help="rounds of each single-notebook comparison (default 3; --quick 1)")
    parser.add_argument("--only", help="benchmarks to run, e.g. 1,2 (default: all six)")
    parser.add_argument("--batch", type=int, help="submissions in the batch (default 40; --quick 10)")
    parser.add_argument("--batch-repeats", type=int, default=1, help="runs of each batch (default 1)")
    parser.add_argument(
        "--rescore", type=int, help="stored submissions for the big rescore (default 1000; --quick 200)"
    )
    parser.add_argument("--cpus", help="run every measured command under taskset -c CPUS (default: no pinning)")
    parser.add_argument("--no-profile", action="store_true", help="skip the fast-mode profile")
    parser.add_argument("--work", type=Path, help="work folder, kept afterwards (default: a temporary one, removed)")
    parser.add_argument(
        "--doc", type=Path, default=ROOT / "docs" / "performance.md", help="where to write the document"
    )
    parser.add_argument("--no-doc", action="store_true", help="print the table only")
    parser.add_argument(
        "--toy", action="store_true", help="trivial notebooks, no TensorFlow: the smoke test's configuration"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    small = args.quick or args.toy
    selected = sorted({int(n) for n in args.only.split(",")}) if args.only else [1, 2, 3, 4, 5, 6]
    if unknown := [n for n in selected if n not in TITLES]:
        raise SystemExit(f"--only: no benchmark {unknown}; choose from 1-6")
    settings = Settings(
        repeats=args.repeats or (1 if small else 3),
        cheap_runs=1 if small else 2,
        batch_size=args.batch or (1 if args.toy else 10 if args.quick else 40),
        batch_repeats=args.batch_repeats,
        rescore_copies=args.rescore or (5 if args.toy else 200 if args.quick else 1000),
        profile_runs=1 if small else 3,
        profile_full=not small and 1 in selected,
        cpus=args.cpus,
        quick=args.quick,
        toy=args.toy,
    )
    if settings.cpus and not shutil.which("taskset"):
        raise SystemExit("--cpus needs taskset (util-linux)")
    work = args.work or Path(tempfile.mkdtemp(prefix="grader-perf-"))
    work.mkdir(parents=True, exist_ok=True)
    started = {"date": time.strftime("%Y-%m-%d %H:%M %Z"), "load": ", ".join(f"{v:.2f}" for v in os.getloadavg())}
    clock = time.monotonic()
    say(f"work folder {work}; load average {started['load']} on {os.cpu_count()} cores")
    sections: list[Section] = []
    profile_md = ""
    try:
        real_ok = args.toy or workloads.shared_available()
        needs_shared = f"needs {workloads.SHARED} (the seed solution and the MNIST files); not found"
        if not real_ok:
            say(f"[yellow]{needs_shared}: benchmarks 1 and 2 are skipped, the batch uses the shipped examples alone[/]")
        workload = workloads.build(work, toy=args.toy, shared=real_ok)
        bench = Bench(settings, work, workload, code_at_start=code_version())
        started["code"] = package_version()
        if not args.toy:  # the first kernel after a while reads TensorFlow from disk: not a fair first run
            say("warm-up (not measured): grading the import-only notebook once")
            bench.measure("warm-up", bench.grade_command(workload.floor, work / "runs" / "warm-up", "fast"))
            bench.samples.clear()
        single = [n for n in selected if n in NEEDS and (real_ok or n == 4)]
        arms = list(dict.fromkeys(key for n in single for key in NEEDS[n]))
        if workload.empty is None:  # --toy: its floor has no TensorFlow already
            arms = [key for key in arms if ARMS[key][0] != "empty"]
        if workload.plain_budget is None:  # --toy: no Keras calls to cut
            arms = [key for key in arms if ARMS[key][1] != "plain-budget"]
        bench.run_arms(arms)
        builders = {
            1: bench_overhead,
            2: bench_budget,
            3: bench_batch,
            4: bench_fixed,
            5: bench_cached,
            6: bench_verification,
        }
        for number in selected:
            if number in (1, 2) and not real_ok:
                sections.append(Section(number, TITLES[number], skipped=needs_shared))
                continue
            sections.append(builders[number](bench))
        if not args.no_profile and (2 in selected or 4 in selected):
            profile_md = profile_report.run_profiles(bench, settings)
    except CommandFailed as exc:
        say(f"[bold red]a measured command failed:[/] {exc}\n(the work folder {work} is kept)")
        return 1
    ended = {
        "seconds": time.monotonic() - clock,
        "load": ", ".join(f"{v:.2f}" for v in os.getloadavg()),
        "code": package_version(),
    }
    sections.sort(key=lambda s: s.number)
    title = f"Grader performance ({os.cpu_count()} cores; load {started['load']} → {ended['load']})"
    from rich.console import Console

    Console(width=max(140, Console().width)).print(console_table(sections, title))
    if not args.no_doc:
        write_document(args.doc, bench, sections, started, ended, argv, profile_md)
        say(f"wrote {args.doc}")
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
