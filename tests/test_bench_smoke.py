"""The benchmark harness (bench/run.py) runs end to end: its toy configuration swaps every notebook
for a trivial one (no TensorFlow) and runs each benchmark once, so this checks the code, not the speed."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_every_benchmark_runs_once_on_toy_notebooks_and_writes_its_document(tmp_path):
    doc = tmp_path / "performance.md"
    command = [
        sys.executable,
        str(ROOT / "bench" / "run.py"),
        "--toy",
        "--work",
        str(tmp_path / "work"),
        "--doc",
        str(doc),
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-4000:]
    text = doc.read_text(encoding="utf-8")
    for heading in (
        "## 1. ",
        "## 2. ",
        "## 3. ",
        "## 4. ",
        "## 5. ",
        "## Profile: where the seconds go",
        "## Every run",
    ):
        assert heading in text, heading
    assert "| benchmark | measured | baseline | ratio | target | met? |" in text
    assert "identical in 1 fast + 1 full runs" in text  # the two budgets gave the toy notebook the same verdicts
    assert "execute: kernel start" in text  # the profile's timeline was read
    assert "Grader performance" in result.stdout  # the console table


def test_batch_copies_have_distinct_bytes_so_that_each_one_runs(tmp_path):
    sys.path.insert(0, str(ROOT))
    from bench.workloads import batch_folder, toy_seed

    seed = toy_seed(tmp_path / "seed.ipynb")
    files = batch_folder((seed,), 3, tmp_path / "batch")
    assert [f.name for f in files] == ["s00_seed.ipynb", "s01_seed.ipynb", "s02_seed.ipynb"]
    assert len({hashlib.sha256(f.read_bytes()).hexdigest() for f in files}) == 3
