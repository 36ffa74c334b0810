"""The notebooks and data the benchmarks run: the seed solution with full-size MNIST, its plain
nbclient twin, the import-only floor, a batch of distinct submissions, and a toy set for the smoke test.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import nbformat
import nbformat.v4 as nbf

from grader.execute.shell import neutralise_shell
from grader.settings import FastBudget

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "regularization"
SHARED = ROOT.parent / "shared"
SEED = SHARED / "seeds" / "regularization-solution.ipynb"
MAKE_NPZ = SHARED / "data" / "mnist-t10k" / "make_npz.py"
CORPUS = SHARED / "corpus"
KERNELSPEC = {"name": "python3", "display_name": "Python 3", "language": "python"}

# The first cell of the plain twin: the same file behind keras.datasets.mnist.load_data() that the
# grader's probe serves (the grader stages the file and patches keras.src.datasets.mnist).
PLAIN_DATA_CELL = """# benchmark: serve keras.datasets.mnist.load_data() from the same npz file the grader serves
import sys as _sys
import numpy as _np
import tensorflow as _tf
def _bench_load_data(path="mnist.npz"):
    with _np.load({path!r}, allow_pickle=False) as _data:
        return (_data["x_train"], _data["y_train"]), (_data["x_test"], _data["y_test"])
_tf.keras.datasets.mnist  # resolves the lazily loaded tf.keras alias
for _name, _module in list(_sys.modules.items()):
    if _name.startswith(("keras", "tensorflow")) and _name.endswith("mnist") and hasattr(_module, "load_data"):
        _module.load_data = _bench_load_data
"""

# The second cell of the budgeted plain twin (after the data cell): Keras fit/evaluate cut to
# the fast budget's defaults the way the grader's probe cuts them (grader/execute/probe/budget.py),
# with nothing recorded. What the seed's own work costs in fast mode without the grader.
PLAIN_BUDGET_CELL = """# benchmark: the fast budget without the grader (epochs, training rows, evaluation rows)
import math as _math
import keras as _keras
_EPOCHS, _TRAIN, _EVAL = {max_epochs}, {max_train_samples}, {max_eval_samples}
_fit, _evaluate = _keras.Model.fit, _keras.Model.evaluate
def _bench_fit(self, x=None, y=None, epochs=1, validation_split=0.0, validation_data=None, **kwargs):
    epochs = min(epochs, kwargs.get("initial_epoch", 0) + _EPOCHS)
    if validation_split and validation_data is None and hasattr(x, "__len__"):
        split_at = int(_math.floor(len(x) * (1.0 - validation_split)))
        validation_data = (x[split_at:split_at + _EVAL], y[split_at:split_at + _EVAL])
        x, y, validation_split = x[:split_at], y[:split_at], 0.0
    elif isinstance(validation_data, (list, tuple)):
        validation_data = tuple(None if part is None else part[:_EVAL] for part in validation_data)
    if hasattr(x, "__len__"):
        x, y = x[:_TRAIN], None if y is None else y[:_TRAIN]
    return _fit(self, x, y, epochs=epochs, validation_split=validation_split, validation_data=validation_data, **kwargs)
def _bench_evaluate(self, x=None, y=None, **kwargs):
    if hasattr(x, "__len__"):
        x, y = x[:_EVAL], None if y is None else y[:_EVAL]
    return _evaluate(self, x, y, **kwargs)
_keras.Model.fit, _keras.Model.evaluate = _bench_fit, _bench_evaluate
"""

FLOOR_SOURCE = "import tensorflow as tf\nfrom tensorflow import keras"
EMPTY_SOURCE = "print('hello')"
TOY_FLOOR_SOURCE = "import json"


@dataclass(frozen=True)
class Workload:
    """What the benchmarks run; ``toy`` swaps TensorFlow for trivial cells (the smoke test)."""

    toy: bool
    floor: Path  # a notebook that only imports TensorFlow and Keras
    batch_sources: tuple[Path, ...]  # the notebooks the batch is copied from
    seed: Path | None = None  # the notebook graded by benchmarks 1 and 2 (None without ../shared)
    plain: Path | None = None  # its twin for plain nbclient: data cell first, shell lines neutralised like the grader
    plain_budget: Path | None = None  # that twin with the fast budget's cuts (PLAIN_BUDGET_CELL) after the data cell
    empty: Path | None = None  # a notebook with one trivial cell (no TensorFlow): the fixed cost alone (None in --toy)
    data: Path | None = None  # the full-size MNIST npz (None: the assignment's built-in stand-in)

    def data_args(self) -> list[str]:
        return ["--data", f"mnist={self.data}"] if self.data else []


def shared_available() -> bool:
    return SEED.is_file() and MAKE_NPZ.is_file()


def make_full_mnist(out: Path) -> Path:
    """``make_npz.py OUT --full``: 60,000 training images (shifted copies), 10,000 test images."""
    if not out.is_file():
        out.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, str(MAKE_NPZ), str(out), "--full"], check=True, stdout=subprocess.DEVNULL)
    return out


def plain_twin(notebook: Path, out: Path, data: Path | None, budget: bool = False) -> Path:
    """A copy for plain nbclient: the same cells, shell lines neutralised exactly as the grader does
    (``!pip install`` would otherwise try the network), plus a first cell serving ``data`` and, with
    ``budget``, a second cutting Keras' fits and evaluations as ``--budget fast`` does."""
    nb = nbformat.read(notebook, as_version=4)
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            source = "".join(cell.source) if isinstance(cell.source, list) else cell.source
            cell.source, _ = neutralise_shell(source, index)
            cell.outputs, cell.execution_count = [], None
    if budget:
        nb.cells.insert(0, nbf.new_code_cell(PLAIN_BUDGET_CELL.format(**FastBudget().model_dump())))
    if data is not None:
        nb.cells.insert(0, nbf.new_code_cell(PLAIN_DATA_CELL.format(path=str(data))))
    nb.metadata["kernelspec"] = KERNELSPEC
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, out)
    return out


def single_cell_notebook(source: str, out: Path) -> Path:
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbf.new_notebook(cells=[nbf.new_code_cell(source)], metadata={"kernelspec": KERNELSPEC}), out)
    return out


def toy_seed(out: Path) -> Path:
    """A small submission without TensorFlow: two answers and two quick code cells."""
    cells = [
        nbf.new_markdown_cell("## Q1"),
        nbf.new_markdown_cell("Regularization adds a penalty on large weights; it prevents overfitting."),
        nbf.new_markdown_cell("## Q8"),
        nbf.new_code_cell("values = [x * x for x in range(1000)]"),
        nbf.new_code_cell("print(sum(values))"),
    ]
    out.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nbf.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), out)
    return out


def batch_sources(include_corpus: bool) -> tuple[Path, ...]:
    """The shipped examples, plus ../shared/corpus (regularization and other homeworks) when present."""
    sources = sorted((ASSIGNMENT / "examples").glob("*.ipynb"))
    if include_corpus and CORPUS.is_dir():
        sources += sorted((CORPUS / "regularization").glob("*.ipynb"))
        sources += sorted((CORPUS / "other-assignments").glob("*.ipynb"))
    return tuple(sources)


def batch_folder(sources: tuple[Path, ...], count: int, folder: Path) -> list[Path]:
    """``count`` submissions cycling through ``sources``, each under its own name and with distinct
    bytes (a ``bench_copy`` number in the notebook metadata), so that none is skipped as identical
    to another: every readable one is run. Unreadable files (not JSON) are copied as they are."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index in range(count):
        source = sources[index % len(sources)]
        target = folder / f"s{index:02d}_{source.stem}.ipynb"
        raw = source.read_bytes()
        try:
            data = json.loads(raw)
            data.setdefault("metadata", {})["bench_copy"] = index
            target.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
        except (ValueError, AttributeError):
            target.write_bytes(raw)
        written.append(target)
    return written


def build(work: Path, toy: bool, shared: bool = True) -> Workload:
    """Writes the notebooks (and data) under ``work``. Without ../shared (``shared=False``) there is
    no seed and no full-size data: only the floor and the shipped examples."""
    notebooks = work / "notebooks"
    if toy:
        seed = toy_seed(notebooks / "seed.ipynb")
        return Workload(
            toy=True, seed=seed, plain=plain_twin(seed, notebooks / "plain" / "seed.ipynb", None),
            floor=single_cell_notebook(TOY_FLOOR_SOURCE, notebooks / "floor.ipynb"), batch_sources=(seed,),
        )  # fmt: skip
    floor = single_cell_notebook(FLOOR_SOURCE, notebooks / "floor.ipynb")
    empty = single_cell_notebook(EMPTY_SOURCE, notebooks / "empty.ipynb")
    if not shared:
        return Workload(toy=False, floor=floor, empty=empty, batch_sources=batch_sources(False))
    data = make_full_mnist(work / "data" / "mnist-full.npz")
    seed = notebooks / "seed.ipynb"
    seed.parent.mkdir(parents=True, exist_ok=True)
    seed.write_bytes(SEED.read_bytes())
    plain = plain_twin(seed, notebooks / "plain" / "seed.ipynb", data)
    plain_budget = plain_twin(seed, notebooks / "plain" / "seed-budget.ipynb", data, budget=True)
    return Workload(
        toy=False, floor=floor, batch_sources=batch_sources(True), seed=seed, plain=plain, plain_budget=plain_budget,
        empty=empty, data=data,
    )  # fmt: skip
