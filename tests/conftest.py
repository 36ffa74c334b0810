"""Fixtures more than one test module needs: the shipped assignment, a changed copy of it, the
dataset cache, and the grader run as a process of its own (so that its peak memory is its own,
whatever other tests ran before in the test process)."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
REGULARIZATION = ROOT / "assignments" / "regularization"


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory) -> Path:
    """The dataset stand-ins' cache, made once for every test that runs a kernel."""
    return tmp_path_factory.mktemp("grader-cache")


@pytest.fixture(scope="session")
def copy_assignment():
    """``copy_assignment(folder, **changes)``: the shipped assignment in ``folder`` (its rubric,
    template and solution copied beside it) with ``changes`` to its assignment.yaml."""

    def copy(folder: Path, **changes) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        config = yaml.safe_load((REGULARIZATION / "assignment.yaml").read_text(encoding="utf-8"))
        rubric = (REGULARIZATION / config["rubric"]).resolve()
        shutil.copyfile(rubric, folder / rubric.name)
        for name in ("template.ipynb", "solution.ipynb"):
            shutil.copyfile(REGULARIZATION / name, folder / name)
        config.update(rubric=rubric.name, **changes)
        (folder / "assignment.yaml").write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
        return folder

    return copy


@pytest.fixture(scope="session")
def grader_process(tmp_path_factory):
    """``grader_process(*args)``: ``grader ARGS`` in a process of its own; returns (the finished
    process, its peak resident memory in bytes)."""

    def run(*args: str, timeout: float = 1200) -> tuple[subprocess.CompletedProcess, int]:
        peak_file = tmp_path_factory.mktemp("peak") / "peak"
        # The grader's own peak resident memory (kB), written when the command ends: VmHWM, the high
        # water mark of this program's memory since exec. Not ru_maxrss, which Linux carries over from
        # the process that forked it (here, a test process that may have loaded TensorFlow).
        measured = (
            "import atexit, sys; from grader.cli import app; "
            "peak = lambda: next(line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM:')); "
            f"atexit.register(lambda: open({str(peak_file)!r}, 'w').write(peak())); "
            "sys.argv[0] = 'grader'; app()"
        )
        done = subprocess.run(
            [sys.executable, "-c", measured, *map(str, args)], capture_output=True, text=True, timeout=timeout
        )
        return done, int(peak_file.read_text()) * 1024  # ru_maxrss is in kB on Linux

    return run
