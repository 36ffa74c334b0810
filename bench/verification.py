"""What verification outside the kernel adds to one notebook in fast mode.

    .venv/bin/python bench/verification.py             # 5 runs after a warm-up, Keras then PyTorch; a table
    .venv/bin/python bench/verification.py --json      # the medians as JSON (bench/run.py's benchmark 6)
    .venv/bin/python bench/verification.py --framework torch

Runs a two-model Dropout notebook (the honest controls of tests/hostile/test_forging.py: Keras or
PyTorch, the built-in MNIST stand-in, 2,048 training rows, one epoch) through ``run_notebook`` in
fast mode, in this process, so that the clean verifier is started once (the warm-up) and reused,
as it is in a batch. Per run it reads the two parts of the cost from the runner's timings:
``report`` (the probe's final report, which now also saves the trained models in the kernel:
``.keras`` files, or traced PyTorch graphs with safetensors weights) and ``verify`` (loading and
measuring them in the clean verifier). The verifier's start (importing Keras or torch, once per
grader process) is the warm-up's ``verify`` and is reported apart.
"""

from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import nbformat.v4 as nbf  # noqa: E402

from grader.assignment import load_assignment  # noqa: E402
from grader.execute.runner import run_notebook  # noqa: E402

CELLS = {}
CELLS["keras"] = [
    "import keras\n(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
    "x_train, y_train, x_test, y_test = x_train[:2048] / 255.0, y_train[:2048], x_test[:500] / 255.0, y_test[:500]",
    "def build(rate):\n    layers = [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(32, activation='relu')]\n"
    "    if rate:\n        layers.append(keras.layers.Dropout(rate))\n"
    "    model = keras.Sequential(layers + [keras.layers.Dense(10, activation='softmax')])\n"
    "    model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n    return model\n"
    "with_dropout, plain = build(0.3), build(0)",
    "for model in (with_dropout, plain):\n    model.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)",
    "print([model.evaluate(x_test, y_test, verbose=0)[1] for model in (with_dropout, plain)])",
]
CELLS["torch"] = [
    "import numpy as np, torch\nfrom torch import nn\nfrom torch.utils.data import DataLoader, TensorDataset\n"
    "with np.load('mnist.npz') as mnist:\n"
    "    x_train, y_train = torch.tensor(mnist['x_train'][:2048] / 255.0, dtype=torch.float32), torch.tensor(mnist['y_train'][:2048])\n"
    "    x_test, y_test = torch.tensor(mnist['x_test'][:500] / 255.0, dtype=torch.float32), torch.tensor(mnist['y_test'][:500])\n"
    "loader = DataLoader(TensorDataset(x_train, y_train.long()), batch_size=64, shuffle=True)",
    "def build(rate):\n    layers = [nn.Flatten(), nn.Linear(784, 32), nn.ReLU()] + ([nn.Dropout(rate)] if rate else [])\n"
    "    return nn.Sequential(*layers, nn.Linear(32, 10))\nwith_dropout, plain = build(0.3), build(0)",
    "for model in (with_dropout, plain):\n    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)\n"
    "    model.train()\n    for images, labels in loader:\n        optimizer.zero_grad()\n"
    "        nn.functional.cross_entropy(model(images), labels).backward()\n        optimizer.step()",
    "def accuracy(model):\n    model.eval()\n    with torch.no_grad():\n"
    "        return (model(x_test).argmax(1) == y_test).float().mean().item()\n"
    "print([accuracy(model) for model in (with_dropout, plain)])",
]


class _Timings(logging.Handler):
    """Keeps the runner's per-run timings (its debug line ``run timings: {...}``)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.runs: list[dict[str, float]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "run timings: %s" and record.args:
            self.runs.append(dict(record.args[0] if isinstance(record.args, tuple) else record.args))


def measure(runs: int, framework: str) -> dict:
    assignment = load_assignment(ROOT / "assignments" / "regularization")
    notebook = nbf.new_notebook(cells=[nbf.new_code_cell(source) for source in CELLS[framework]])
    timings = _Timings()
    runner_log = logging.getLogger("grader.execute.runner")
    runner_log.setLevel(logging.DEBUG)
    runner_log.addHandler(timings)
    walls, verified = [], []
    for _ in range(runs + 1):  # the first run starts the verifier: the warm-up
        started = time.monotonic()
        execution = run_notebook(notebook, datasets=assignment.datasets, limits=assignment.limits, mode="fast")
        walls.append(time.monotonic() - started)
        verified.append(
            sum(1 for m in (execution.facts.verification.models if execution.facts.verification else []) if m.loaded)
        )
    warm, measured = timings.runs[0], timings.runs[1:]
    verify = [t.get("verify", 0.0) for t in measured]
    report = [t.get("report", 0.0) for t in measured]
    runner_log.removeHandler(timings)
    return {
        "framework": framework,
        "runs": runs,
        "verify_median": statistics.median(verify),
        "report_median": statistics.median(report),
        "added_median": statistics.median(v + r for v, r in zip(verify, report)),
        "verifier_start": warm.get("verify", 0.0),
        "notebook_median": statistics.median(walls[1:]),
        "models_verified": min(verified[1:]),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--framework", choices=[*CELLS, "both"], default="both")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    frameworks = list(CELLS) if args.framework == "both" else [args.framework]
    results = [measure(args.runs, framework) for framework in frameworks]
    if args.json:
        print(json.dumps(results))
        return 0
    for result in results:
        print(
            f"| {result['framework']}: verification outside the kernel, fast mode ({result['runs']} runs, medians) | seconds |"
        )
        print("|---|---|")
        for key, label in (("added_median", "added per notebook: report (saving the models) + verify"),
                           ("report_median", "the probe's final report, models saved in the kernel"),
                           ("verify_median", "the clean verifier: load and measure both models"),
                           ("verifier_start", "the verifier's start, once per grader process (framework import)"),
                           ("notebook_median", "the whole notebook, for scale")):  # fmt: skip
            print(f"| {label} | {result[key]:.2f} |")
        print(f"models verified per run: {result['models_verified']}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
