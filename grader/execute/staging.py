"""What a run starts from: its private folder, the notebook's cells made ready to run, and the
dataset files copied in.

The run folder holds only the kernel's own folders (open to its user) and the grader's kernel
log (out of the kernel's reach). Code cells lose their old outputs (their text kept for checks
the environment stops) and their shell lines are neutralised; the caller puts the sources back.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from grader.execute import sandbox, standins
from grader.execute.dataset_files import FILE_PREFIX
from grader.execute.outputs import keep_saved_text
from grader.execute.sandbox import KernelUser
from grader.execute.shell import neutralise_shell
from grader.models import SkippedLine


@dataclass(frozen=True)
class RunFolder:
    """One run's temporary folder: ``work`` (the notebook and its files), ``home``, ``kernel``
    (connection, sockets, checkpoint, saved models) and ``scratch`` (its TMPDIR) are the kernel's;
    the kernel log beside them is the grader's."""

    root: Path

    @classmethod
    def create(cls, who: KernelUser | None) -> RunFolder:
        folder = cls(Path(tempfile.mkdtemp(prefix=f"grader-run-{os.getpid()}-")))
        for path in (*folder.kernels, folder.models):
            path.mkdir(mode=0o700)
        if who is not None:
            folder.root.chmod(0o711)
        return folder

    @property
    def work(self) -> Path:
        return self.root / "work"

    @property
    def home(self) -> Path:
        return self.root / "home"

    @property
    def kernel(self) -> Path:
        return self.root / "kernel"

    @property
    def scratch(self) -> Path:
        return self.root / "tmp"

    @property
    def models(self) -> Path:
        return self.kernel / "models"

    @property
    def checkpoint(self) -> Path:
        return self.kernel / "facts-checkpoint.json"

    @property
    def kernel_log(self) -> Path:
        return self.root / "kernel.log"

    @property
    def kernels(self) -> tuple[Path, ...]:
        """The folders the kernel's user owns."""
        return (self.work, self.home, self.kernel, self.scratch)

    def write_notebook(self, nb: Any) -> None:
        (self.work / "notebook.ipynb").write_text(json.dumps(nb), encoding="utf-8")

    def hand_over(self, who: KernelUser | None) -> None:
        for path in self.kernels:
            sandbox.hand_over(path, who)

    def remove(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


def cell_source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def prepare_cells(nb: Any) -> tuple[dict[int, str], list[SkippedLine]]:
    """Clears code cells' old outputs (keeping their text in the cell's metadata, for checks the
    environment stops) and neutralises their shell lines; returns the originals."""
    originals, skipped = {}, []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        source = cell_source(cell)
        originals[index] = source
        cell.setdefault("metadata", {})
        keep_saved_text(cell)
        cell.outputs = []
        cell.execution_count = None
        runnable, found = neutralise_shell(source, index)
        cell.source = runnable
        skipped.extend(found)
    return originals, skipped


def restore_sources(nb: Any, originals: dict[int, str]) -> None:
    for index, source in originals.items():
        nb.cells[index].source = source


def stage_datasets(
    datasets: dict[str, Path | None], workdir: Path, cache_dir: Path | None, mentioned: frozenset[str] = frozenset()
) -> tuple[dict[str, dict], Path | None]:
    """Copies each dataset file into the working folder; returns what the probe serves, and the
    grader's own file of ``standins.HELD_OUT`` (whose test split the verifier measures models on:
    not the kernel's copy).

    A dataset the probe can serve (``standins.SERVED``) with no file is served by its stand-in,
    when the assignment names it or the notebook's code mentions it (``mentioned``). The
    assignment's ``files:`` (named ``file:NAME``) are staged read-only under their own names."""
    served, held_out = {}, None
    wanted = {**{name: None for name in mentioned}, **datasets}
    for name, path in wanted.items():
        if name.startswith(FILE_PREFIX) and path is not None:
            target = workdir / Path(path).name
            shutil.copyfile(path, target)
            target.chmod(0o444)
            served.setdefault("files", {})[target.name] = str(target)
            continue
        if path is None:
            if name not in standins.SERVED:
                continue  # nothing to stage; the notebook's own loading code will say so
            origin, target, source = (
                standins.standin_npz(name, cache_dir),
                workdir / f"{name}.npz",
                standins.source_of(name),
            )
        else:
            origin = Path(path)
            target, source = workdir / origin.name, f"file {origin.name}"
        # A copy, not a hard link: a student writing to the file must not change the cache.
        shutil.copyfile(origin, target)
        if name in standins.SERVED:
            served[name] = {"path": str(target), "source": source}
        if name == standins.HELD_OUT:
            held_out = origin
    return served, held_out


def mentioned_datasets(nb: Any) -> frozenset[str]:
    """The served datasets whose names the notebook's code cells mention (only those are staged)."""
    code = "\n".join(cell_source(cell) for cell in nb.cells if cell.cell_type == "code")
    return frozenset(name for name, pattern in standins.MENTIONS.items() if pattern.search(code))
