"""What the benchmarks measured, turned into the table rows, the console table and docs/performance.md."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

from rich.console import Console
from rich.table import Table

from bench.measure import Sample


@dataclass
class Row:
    benchmark: str
    measured: str
    baseline: str = "—"
    ratio: str = "—"
    target: str = "—"
    met: bool | None = None  # None: no target, or not measured

    def met_text(self) -> str:
        return {True: "yes", False: "NO", None: "—"}[self.met]


@dataclass
class Section:
    """One benchmark's rows and its notes for the document."""

    number: int
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    skipped: str | None = None


def median(samples: list[Sample]) -> float:
    return statistics.median(s.wall for s in samples)


def spread(samples: list[Sample]) -> str:
    """``97.3 s (94.1–103.0, n=3)``: the median, the range and how many runs."""
    walls = [s.wall for s in samples]
    if len(walls) == 1:
        return f"{walls[0]:.1f} s (n=1)"
    return f"{statistics.median(walls):.1f} s ({min(walls):.1f}–{max(walls):.1f}, n={len(walls)})"


def others(samples: list[Sample]) -> float:
    return statistics.median(s.others for s in samples) if samples else 0.0


def megabytes(value: float) -> str:
    return f"{value / 2**20:,.0f} MB" if value < 2**30 else f"{value / 2**30:.2f} GB"


def console_table(sections: list[Section], title: str) -> Table:
    table = Table(title=title, show_lines=False)
    for column, justify in (("benchmark", "left"), ("measured", "right"), ("baseline", "right"),
                            ("ratio", "right"), ("target", "right"), ("met?", "center")):  # fmt: skip
        table.add_column(column, justify=justify, overflow="fold")
    for section in sections:
        if section.skipped:
            table.add_row(f"{section.number}. {section.title}", "skipped", "", "", "", "—")
            continue
        for row in section.rows:
            style = {True: "green", False: "bold red", None: ""}[row.met]
            table.add_row(row.benchmark, row.measured, row.baseline, row.ratio, row.target,
                          f"[{style}]{row.met_text()}[/]" if style else row.met_text())  # fmt: skip
    return table


def markdown_table(headers: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" * len(headers)
    marks = {"l": "---", "r": "---:", "c": ":---:"}
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    for row in rows:
        lines.append("| " + " | ".join(str(cell).replace("|", "\\|").replace("\n", " ") for cell in row) + " |")
    return "\n".join(lines)


def summary_markdown(sections: list[Section]) -> str:
    rows = []
    for section in sections:
        if section.skipped:
            rows.append([f"{section.number}. {section.title}", "skipped: " + section.skipped, "", "", "", "—"])
            continue
        for row in section.rows:
            rows.append([row.benchmark, row.measured, row.baseline, row.ratio, row.target,
                         f"**{row.met_text()}**" if row.met is False else row.met_text()])  # fmt: skip
    return markdown_table(["benchmark", "measured", "baseline", "ratio", "target", "met?"], rows, "lrrrrc")


def samples_markdown(samples: list[Sample]) -> str:
    rows = [
        [s.name, f"{s.wall:.1f}", f"{s.cpu:.1f}", f"{s.others:.2f}", f"{s.load_start:.2f} → {s.load_end:.2f}",
         megabytes(s.peak_rss), str(s.peak_processes), s.extra.get("status", ""), s.extra.get("code", "")]
        for s in samples
    ]  # fmt: skip
    headers = ["run", "wall s", "CPU s (tree)", "other load (cores)", "load avg 1 min", "peak tree RSS",
               "peak processes", "execution", "grader code"]  # fmt: skip
    return markdown_table(headers, rows, "lrrrrrrll")


def console() -> Console:
    return Console(stderr=True, highlight=False)
