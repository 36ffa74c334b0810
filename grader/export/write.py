"""`grader export`: read OUT/grades.json, build the chosen format, write it under OUT/exports/.

The formats themselves are pure (records + rubric + options -> file contents); this module is
the only one that touches the disk.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from grader.atomic import write_atomically
from grader.export.blackboard import Delimiter, blackboard_file
from grader.export.canvas import canvas_csv
from grader.export.common import ErrorPolicy, Export, ExportError
from grader.export.gradescope import gradescope_files
from grader.export.moodle import MoodleIdentifier, moodle_csv
from grader.export.table import grades_csv, grades_table_json
from grader.files import read_json
from grader.out_folder import OutFolder
from grader.rubric import Rubric

FORMATS = ("canvas", "moodle", "blackboard", "gradescope", "csv", "json")
MADE = "made-with.json"  # under exports/: the options each format was last made with


@dataclass(frozen=True)
class ExportOptions:
    """What the command line can set; each format reads only the options it needs."""

    assignment_id: str | None = None  # Canvas assignment id / Blackboard column id
    title: str | None = None  # grade column name; the rubric's title by default
    moodle_identifier: MoodleIdentifier = "email"
    delimiter: Delimiter = "comma"  # Blackboard only
    errors: ErrorPolicy = "blank"  # score of a submission that could not be graded
    leave_out: bool = False  # Moodle: write the file even when graded students lack the identifier


def build_export(fmt: str, records: list[dict], rubric: Rubric, options: ExportOptions = ExportOptions()) -> Export:
    if options.errors not in ("blank", "zero"):
        raise ExportError(f"--errors {options.errors!r}: use blank or zero")
    if fmt == "canvas":
        return canvas_csv(
            records, rubric, assignment_id=options.assignment_id, title=options.title, errors=options.errors
        )
    if fmt == "moodle":
        if options.moodle_identifier not in ("email", "idnumber"):
            raise ExportError(f"--moodle-id {options.moodle_identifier!r}: use email or idnumber")
        return moodle_csv(
            records, rubric, identifier=options.moodle_identifier, title=options.title, errors=options.errors,
            leave_out=options.leave_out,
        )  # fmt: skip
    if fmt == "blackboard":
        if options.delimiter not in ("comma", "tab"):
            raise ExportError(f"--delimiter {options.delimiter!r}: use comma or tab")
        return blackboard_file(
            records,
            rubric,
            column_id=options.assignment_id,
            title=options.title,
            delimiter=options.delimiter,
            errors=options.errors,
        )
    if fmt == "gradescope":
        return gradescope_files(records, rubric)
    if fmt == "csv":
        return grades_csv(records, rubric, errors=options.errors)
    if fmt == "json":
        return grades_table_json(records, rubric, errors=options.errors)
    raise ExportError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")


def load_records(out: Path) -> list[dict]:
    path = OutFolder(out).grades_json
    records = read_json(path, ExportError, missing=f"not found; run `grader grade ... --out {out}` first")
    if not isinstance(records, list) or not all(isinstance(r, dict) and "student" in r for r in records):
        raise ExportError(f"{path}: expected a list of grade records, each with a student")
    return records


def write_export(export: Export, out: Path) -> list[Path]:
    """Write every file of ``export`` under ``out/exports/``; return the paths written."""
    root = OutFolder(out).exports.resolve()
    written = []
    for relative, content in export.files.items():
        path = (root / relative).resolve()
        if root not in path.parents:
            raise ExportError(f"refusing to write {relative!r} outside {root}")
        write_atomically(path, content)
        written.append(path)
    return written


def export_grades(
    out: Path, rubric: Rubric, fmt: str, options: ExportOptions = ExportOptions()
) -> tuple[list[Path], tuple[str, ...]]:
    """The whole command: grades.json in ``out`` -> ``out/exports/...``; returns (paths, warnings).

    The format's options are remembered (``MADE``) so that ``refresh_exports`` can make it again.
    """
    export = build_export(fmt, load_records(out), rubric, options)
    paths = write_export(export, out)
    made = _made(out)
    exports = OutFolder(out).exports
    made[fmt] = {"options": asdict(options), "files": [str(p.relative_to(exports.resolve())) for p in paths]}
    (exports / MADE).write_text(json.dumps(made, indent=2), encoding="utf-8")
    return paths, export.warnings


@dataclass(frozen=True)
class Refreshed:
    format: str
    paths: list[Path]
    problem: str | None  # why it could not be made again: its files are stale


def refresh_exports(out: Path, rubric: Rubric) -> list[Refreshed]:
    """Every export made earlier in ``out``, made again from the current grades.json (after a
    rescore, a manual grade or a new batch), so that no file in exports/ is older than the grades."""
    refreshed = []
    for fmt, entry in _made(out).items():
        try:
            options = ExportOptions(
                **{k: v for k, v in entry.get("options", {}).items() if k in ExportOptions.__dataclass_fields__}
            )
            paths, _ = export_grades(out, rubric, fmt, options)
        except (ExportError, TypeError) as exc:
            stale = [OutFolder(out).exports / name for name in entry.get("files", [])]
            refreshed.append(Refreshed(fmt, stale, str(exc)))
        else:
            refreshed.append(Refreshed(fmt, paths, None))
    return refreshed


def _made(out: Path) -> dict:
    try:
        made = json.loads((OutFolder(out).exports / MADE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return made if isinstance(made, dict) else {}
