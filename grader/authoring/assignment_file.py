"""The assignment.yaml that goes with a drafted rubric: what an instructor would otherwise copy by hand.

Its questions are the rubric's ids and prompts in the rubric's order (the grader refuses the pair
when they differ); its paths are written relative to the assignment folder, as the grader reads
them; the data files the solution reads are listed under ``files:`` when they sit beside it, and
named in a comment otherwise, so that no student's notebook fails for a file the grader lacks.
"""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import yaml

from grader.environment.failures import file_name
from grader.extract.needs import notebook_needs


def assignment_yaml(
    folder: Path, rubric: dict, rubric_path: Path, template: Path | None = None, solution: Path | None = None
) -> str:
    """The text of ``folder``/assignment.yaml for the drafted ``rubric`` written to ``rubric_path``."""
    config: dict = {
        "title": rubric["title"],
        "questions": [{"id": q["id"], "prompt": q["prompt"]} for q in rubric["questions"]],
        "rubric": _relative(rubric_path, folder),
    }
    if template is not None:
        config["template"] = _relative(template, folder)
    if solution is not None:
        config["solution"] = _relative(solution, folder)
    staged, missing = _data_files(folder, solution)
    if staged:
        config["files"] = staged
    lines = [
        "# Written by `grader rubric draft`: the questions are the rubric's ids and prompts, in its order (keep the",
        "# two files in step). Every key, with an example: docs/assignment.md.",
        *(
            f"# The solution reads {path}: put {file_name(path)} in this folder and list it under `files:`, "
            "or students' notebooks that read it are flagged."
            for path in missing
        ),
        yaml.safe_dump(config, sort_keys=False, allow_unicode=True, width=110).rstrip(),
    ]
    return "\n".join(lines) + "\n"


def _relative(path: Path, folder: Path) -> str:
    return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()


def _data_files(folder: Path, solution: Path | None) -> tuple[list[str], list[str]]:
    """(names under ``files:`` of the data files the solution reads that are in ``folder``, the paths of
    those that are not)."""
    if solution is None:
        return [], []
    staged, missing = [], []
    for path in sorted(notebook_needs(nbformat.read(solution, as_version=4)).files):
        name = file_name(path)
        if name and (folder / name).is_file():
            staged.append(name)
        else:
            missing.append(path)
    return sorted(set(staged)), missing
