"""An assignment folder: assignment.yaml, its rubric, its data, its execution limits."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import nbformat
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from grader.execute.dataset_files import FILE_PREFIX, DatasetError, check_dataset
from grader.extract.cells import code_lines, prose_lines
from grader.files import read_yaml
from grader.redact import visible_rubric
from grader.rubric import Rubric, RubricError, format_validation_error, load_rubric
from grader.settings import Budget, ExecutionLimits, SandboxLimits


class AssignmentError(ValueError):
    """An assignment folder that cannot be used; the message says which file and field."""


class AssignmentQuestion(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    prompt: str


class AssignmentFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    title: str
    questions: list[AssignmentQuestion] = Field(min_length=1)
    rubric: str
    public_rubric: str | None = None
    template: str | None = None
    solution: str | None = None
    datasets: dict[str, str | None] = {}
    files: list[str] = []
    execution: ExecutionLimits = ExecutionLimits()
    sandbox: SandboxLimits = SandboxLimits()
    budget: Budget = Budget()


@dataclass(frozen=True)
class Assignment:
    folder: Path
    title: str
    rubric: Rubric
    rubric_path: Path
    datasets: dict[str, Path | None]
    limits: ExecutionLimits
    budget: Budget
    template: Path | None
    solution: Path | None
    template_lines: frozenset[str] = frozenset()
    template_code: frozenset[str] = frozenset()  # the template's code lines: a notebook with no others is unchanged
    files: tuple[Path, ...] = ()  # data files staged read-only beside the notebook (``files:``)

    def run_inputs(self) -> dict[str, Path | None]:
        """What the runner stages: the datasets, and each of ``files`` under ``file:NAME``."""
        return {**self.datasets, **{FILE_PREFIX + path.name: path for path in self.files}}

    def with_data(self, overrides: dict[str, Path]) -> "Assignment":
        """The same assignment with some dataset files replaced (``--data mnist=FILE``)."""
        unknown = set(overrides) - set(self.datasets)
        if unknown:
            known = ", ".join(sorted(self.datasets)) or "none"
            raise AssignmentError(
                f"--data {', '.join(sorted(unknown))}: not a dataset of this assignment (known: {known})"
            )
        for name, path in overrides.items():
            if not path.is_file():
                raise AssignmentError(f"--data {name}={path}: file not found")
            _check_dataset(f"--data {name}={path}", name, path)
        return Assignment(
            **{**self.__dict__, "datasets": {**self.datasets, **{k: v.resolve() for k, v in overrides.items()}}}
        )


def load_assignment(folder: Path, audience: Literal["instructor", "student"] = "instructor") -> Assignment:
    """The assignment; for students, its published rubric (hidden phrases and answer keys removed).

    A folder handed to students may hold only ``public_rubric``; without one, the student view
    is published on the fly from the full rubric.
    """
    config_path = folder / "assignment.yaml"
    raw = read_yaml(config_path, AssignmentError, missing=f"not found (is {folder} an assignment folder?)")
    try:
        config = AssignmentFile.model_validate(raw)
    except ValidationError as exc:
        raise AssignmentError(
            format_validation_error(str(config_path), exc).replace("rubric is", "assignment is")
        ) from None
    if "sandbox" in (raw.get("execution") or {}):
        raise AssignmentError(
            f"{config_path}: execution.sandbox: write the sandbox limits in their own `sandbox:` section"
        )

    rubric_path = (folder / config.rubric).resolve()
    public_path = (folder / config.public_rubric).resolve() if config.public_rubric else None
    if audience == "student" and public_path is not None and public_path.is_file():
        rubric_path = public_path
    try:
        rubric = load_rubric(rubric_path)
    except RubricError as exc:
        raise AssignmentError(str(exc)) from None
    rubric = visible_rubric(rubric, audience)
    asked = [q.id for q in config.questions]
    graded = [q.id for q in rubric.questions]
    if asked != graded:
        raise AssignmentError(
            f"{config_path}: questions {asked} do not match the rubric's questions {graded} in {rubric_path}"
        )
    datasets = {}
    for name, relative in config.datasets.items():
        path = (folder / relative).resolve() if relative else None
        if path is not None:
            if not path.is_file():
                raise AssignmentError(f"{config_path}: datasets.{name}: file {path} not found")
            _check_dataset(f"{config_path}: datasets.{name}: {path}", name, path)
        datasets[name] = path
    template = (folder / config.template).resolve() if config.template else None
    files = _files(config_path, folder, config.files)
    return Assignment(
        folder=folder.resolve(),
        title=config.title,
        rubric=rubric,
        rubric_path=rubric_path,
        datasets=datasets,
        limits=config.execution.model_copy(update={"sandbox": config.sandbox}),
        budget=config.budget,
        template=template,
        solution=(folder / config.solution).resolve() if config.solution else None,
        **_template_text(config_path, template),
        files=files,
    )


def _check_dataset(where: str, name: str, path: Path) -> None:
    try:
        check_dataset(name, path)
    except DatasetError as exc:
        raise AssignmentError(f"{where}: {exc}") from None


def _files(config_path: Path, folder: Path, listed: list[str]) -> tuple[Path, ...]:
    """The ``files:`` entries as paths; each must be a file, and no two may share a name (the
    notebook finds them by name)."""
    paths, names = [], {}
    for index, relative in enumerate(listed):
        path = (folder / relative).resolve()
        if not path.is_file():
            raise AssignmentError(
                f"{config_path}: files[{index}]: file {path} not found (paths are relative to {folder})"
            )
        if path.name in names:
            raise AssignmentError(
                f"{config_path}: files[{index}]: {relative} has the same file name as {names[path.name]}"
            )
        names[path.name] = relative
        paths.append(path)
    return tuple(paths)


def _template_text(config_path: Path, template: Path | None) -> dict[str, frozenset[str]]:
    if template is None:
        return {}
    try:
        notebook = nbformat.read(template, as_version=4)
    except FileNotFoundError:
        raise AssignmentError(f"{config_path}: template: file {template} not found") from None
    except Exception as exc:
        raise AssignmentError(f"{config_path}: template: {template} is not a readable notebook ({exc})") from None
    return {"template_lines": prose_lines(notebook), "template_code": code_lines(notebook)}
