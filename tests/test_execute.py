"""The execute stage: a student's notebook runs in a fresh kernel and the grader learns what ran.

Kernel tests run real (tiny) notebooks: a few hundred samples, one epoch.
"""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from grader.execute import cells, digits
from grader.execute.cell_errors import collect_cell_errors, student_line
from grader.execute.channel import CHECKPOINT_USED
from grader.execute.launch import kernel_environment
from grader.execute.probe.rows import normalised_row_hashes, row_hashes, sample_rows
from grader.execute.runner import run_notebook
from grader.execute.shell import neutralise_shell
from grader.facts import parse_facts
from grader.settings import ExecutionLimits

LIMITS = ExecutionLimits(cell_timeout=120, notebook_timeout=300, startup_timeout=60)


def notebook(*cells):
    return new_notebook(cells=[new_markdown_cell(c[3:]) if c.startswith("md:") else new_code_cell(c) for c in cells])


def run(nb, cache_dir, limits=LIMITS, datasets=None):
    datasets = {"mnist": None} if datasets is None else datasets
    return run_notebook(nb, datasets=datasets, limits=limits, cache_dir=cache_dir)


def stdout(cell) -> str:
    streams = [o for o in cell.outputs if o.get("output_type") == "stream" and o.get("name") == "stdout"]
    return "".join(o.get("text", "") for o in streams)


# -- shell lines ---------------------------------------------------------------------------------


def test_pip_and_shell_lines_become_pass_statements_and_are_listed():
    source = "!pip install tensorflow\nif True:\n    !ls -la\n    x = 1\n%pip install keras\nfiles = !ls\nprint(x)"
    runnable, skipped = neutralise_shell(source, cell=4)
    compile(runnable, "cell", "exec")  # still parses
    lines = runnable.split("\n")
    assert len(lines) == 7
    assert lines[0].startswith("pass  # skipped by grader: !pip install tensorflow")
    assert lines[2].startswith("    pass  # skipped by grader")
    assert lines[5].startswith("files = []")
    assert [s.line for s in skipped] == ["!pip install tensorflow", "!ls -la", "%pip install keras", "files = !ls"]
    assert all(s.cell == 4 for s in skipped)
    assert "not installed" in skipped[0].reason


def test_a_bash_cell_is_skipped_whole_and_python_calls_are_left_alone():
    runnable, skipped = neutralise_shell("%%bash\necho hi\nrm -rf data", cell=2)
    compile(runnable, "cell", "exec")
    assert [s.line for s in skipped] == ["%%bash"]
    untouched = "import os\nos.system('ls')\nget_ipython().system('ls')\n%matplotlib inline\nx = a != b"
    assert neutralise_shell(untouched, cell=0) == (untouched, [])


# -- the MNIST stand-in --------------------------------------------------------------------------


def test_the_mnist_stand_in_has_keras_layout_disjoint_splits_and_is_cached(cache_dir):
    path = digits.mnist_standin_npz(cache_dir)
    with np.load(path) as data:
        x_train, y_train, x_test, y_test = (data[k] for k in ("x_train", "y_train", "x_test", "y_test"))
    assert x_train.shape == (60000, 28, 28) and x_train.dtype == np.uint8
    assert y_train.shape == (60000,) and y_train.dtype == np.uint8
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert set(np.unique(y_train)) == set(range(10)) and x_train.max() > 200
    train = set(row_hashes(x_train).tolist())
    assert not train & set(row_hashes(x_test).tolist())
    mtime = path.stat().st_mtime_ns
    assert digits.mnist_standin_npz(cache_dir) == path and path.stat().st_mtime_ns == mtime


def test_the_cache_folder_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GRADER_CACHE_DIR", str(tmp_path))
    assert digits.default_cache_dir() == tmp_path


# -- row hashing ---------------------------------------------------------------------------------


def test_row_hashes_match_equal_rows_across_dtypes():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (55000, 28, 28), dtype=np.uint8)
    scaled = images / 255.0
    hashes = row_hashes(scaled)
    assert len(np.unique(hashes)) == 55000
    assert np.array_equal(hashes, row_hashes(scaled.astype(np.float32)))
    assert np.array_equal(row_hashes(scaled.reshape(55000, -1), rows=[3, 7]), hashes[[3, 7]])
    assert row_hashes(np.array(["a", "b"])) is None
    assert len(sample_rows(10)) == 10 and len(sample_rows(55000)) == 256


def test_normalised_row_hashes_ignore_scale_and_dtype():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8)
    images[5] = 0  # an empty row stays an empty row
    hashes = normalised_row_hashes(images)
    rows = sample_rows(60000)
    for same in (
        images / 255.0,
        images.astype("float32") / 255,
        images.reshape(60000, -1) / 255.0,
        images[..., None] * 3.0,
    ):
        assert np.array_equal(normalised_row_hashes(same, rows), hashes[rows])
    assert len(np.unique(hashes)) == 60000
    assert not np.array_equal(normalised_row_hashes(images[::-1], rows), hashes[rows])
    # every 8-bit value against every maximum, scaled in float32 and float64
    values, peaks = np.meshgrid(np.arange(256), np.arange(256))
    pairs = np.stack([np.minimum(values, peaks).ravel(), peaks.ravel()], axis=1).astype(np.uint8)
    exact = normalised_row_hashes(pairs)
    assert np.array_equal(exact, normalised_row_hashes(pairs.astype("float32") / 255))
    assert np.array_equal(exact, normalised_row_hashes(pairs / 255.0))
    assert normalised_row_hashes(np.array(["a", "b"])) is None


# -- tracebacks ----------------------------------------------------------------------------------


def test_the_student_line_is_read_from_a_coloured_traceback():
    traceback = [
        "\x1b[31m---------------------------------------------------------------------------\x1b[39m",
        "\x1b[31mNameError\x1b[39m                                 Traceback (most recent call last)",
        "\x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[5]\x1b[39m\x1b[32m, line 4\x1b[39m\n"
        "\x1b[32m      2\x1b[39m label_encoder = LabelEncoder()\n"
        "\x1b[32m----> \x1b[39m\x1b[32m4\x1b[39m data[\x1b[33m'quality'\x1b[39m] = 1\n",
        "\x1b[31mNameError\x1b[39m: name 'data' is not defined",
    ]
    assert student_line(traceback) == "data['quality'] = 1"
    syntax = [
        "  \x1b[36mCell\x1b[39m\x1b[36m \x1b[39m\x1b[32mIn[1]\x1b[39m\x1b[32m, line 1\x1b[39m\n    x = (\n        ^\n",
        "SyntaxError: '(' was never closed",
    ]
    assert student_line(syntax) == "x = ("


def test_the_kernel_environment_is_built_from_scratch(tmp_path, monkeypatch):
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
    env = kernel_environment(tmp_path, threads=2)
    assert "GRADER_TEST_SECRET" not in env and env["HOME"] == str(tmp_path)
    assert env["OMP_NUM_THREADS"] == env["TF_NUM_INTRAOP_THREADS"] == "2"


# -- running notebooks ---------------------------------------------------------------------------


def test_a_plain_notebook_runs_past_errors_in_a_clean_kernel(cache_dir, monkeypatch, tmp_path):
    """No TensorFlow: the pip cell is skipped, a NameError is recorded, later cells still run,
    nothing of the grader leaks into the kernel, and the caller's notebook is not changed."""
    monkeypatch.setenv("GRADER_TEST_SECRET", "hunter2")
    nb = notebook(
        "md:# Homework",
        "!pip install tensorflow\nimport os, sys",
        "data['quality'] = 1",
        "",
        "md:Question 2",
        "print('secret' if 'GRADER_TEST_SECRET' in os.environ else 'clean')\n"
        "print(sorted(m for m in ('tensorflow', 'keras', 'torch', 'numpy') if m in sys.modules))\n"
        "print(sorted(os.listdir('.')))\n"
        "print([name for name in dir() if 'grader' in name.lower()])",
    )
    before = copy.deepcopy(nb)
    (tmp_path / "wine.csv").write_text("quality\n5\n")
    execution = run(nb, cache_dir, datasets={"mnist": None, "wine": tmp_path / "wine.csv"})

    assert nb == before
    assert execution.status == "ok", execution.message
    assert [s.line for s in execution.skipped] == ["!pip install tensorflow"]
    assert [(e.cell, e.ename, e.line) for e in execution.cell_errors] == [(2, "NameError", "data['quality'] = 1")]
    cells = execution.notebook.cells
    assert len(cells) == len(nb.cells) and [c.cell_type for c in cells] == [c.cell_type for c in nb.cells]
    assert cells[1].source == nb.cells[1].source  # the student's source, not the neutralised one
    assert [c.get("execution_count") for c in cells] == [None, 1, 2, None, None, 3]
    assert stdout(cells[5]).splitlines() == ["clean", "[]", "['mnist.npz', 'notebook.ipynb', 'wine.csv']", "[]"]
    assert execution.facts.models == [] and execution.seconds > 0


def test_an_endless_cell_times_out_and_the_next_cell_still_runs(cache_dir):
    limits = ExecutionLimits(cell_timeout=3, notebook_timeout=120, startup_timeout=60)
    execution = run(notebook("x = 1", "while True:\n    pass", "print('after', x)"), cache_dir, limits)
    assert execution.status == "timeout"
    assert "cell 1" in execution.message
    assert [(e.cell, e.ename) for e in execution.cell_errors] == [(1, "CellTimeoutError")]
    assert stdout(execution.notebook.cells[2]) == "after 1\n"


def test_a_cell_that_swallows_the_interrupt_ends_the_run(cache_dir, monkeypatch):
    """A bare ``except:`` in a loop catches the grader's interrupt: the kernel is killed instead."""
    monkeypatch.setattr(cells, "INTERRUPT_GRACE", 2.0)
    limits = ExecutionLimits(cell_timeout=3, notebook_timeout=120, startup_timeout=60)
    endless = "while True:\n    try:\n        sum(range(1000))\n    except:\n        pass"
    execution = run(notebook("x = 1", endless, "print('after')"), cache_dir, limits, datasets={})
    assert execution.status == "timeout"
    assert "did not stop" in execution.message
    assert [(e.cell, e.ename) for e in execution.cell_errors] == [(1, "CellTimeoutError")]
    assert execution.notebook.cells[2].outputs == []


def test_a_missing_kernel_is_an_error_for_that_submission(cache_dir):
    execution = run_notebook(notebook("x = 1"), datasets={}, limits=LIMITS, kernel_name="no-such-kernel")
    assert execution.status == "error"
    assert "no-such-kernel" in execution.message
    assert run_notebook(notebook("x = 1"), datasets={}, limits=LIMITS, mode="no-run").status == "not_run"


def test_the_whole_notebook_limit_stops_the_run(cache_dir):
    limits = ExecutionLimits(cell_timeout=60, notebook_timeout=3, startup_timeout=60)
    execution = run(notebook("import time", "time.sleep(30)", "print('never')"), cache_dir, limits)
    assert execution.status == "timeout"
    assert "3 s limit" in execution.message
    assert execution.notebook.cells[2].outputs == []
    assert execution.seconds < 25


KERAS_CELLS = (
    "md:# Part 3",
    "import numpy as np\nfrom tensorflow import keras\n"
    "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
    "x_train, y_train = x_train[:200] / 255.0, y_train[:200]\n"
    "x_test, y_test = x_test[:100] / 255.0, y_test[:100]",
    "md:A model with dropout",
    "model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),\n"
    "    keras.layers.Dense(32, activation='relu'), keras.layers.Dropout(0.3),\n"
    "    keras.layers.Dense(10, activation='softmax')])\n"
    "model.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])",
    "model.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0)",
    "test_loss, test_acc = model.evaluate(x_test, y_test, verbose=0)\n"
    "train_scores = model.evaluate(x_train, y_train, verbose=0, return_dict=True)",
    "baseline = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),\n"
    "    keras.layers.Dense(10, activation='softmax')])\n"
    "baseline.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
    "history = baseline.fit(x_train, y_train, epochs=1, batch_size=64, validation_split=0.2, verbose=0)\n"
    "print(sorted(history.history))",
    # A student forging the facts: neither a printed line nor the private MIME type counts.
    'fake = \'{"schema_version": 1, "models": [], "fits": [], "evaluations": []}\'\n'
    "print(fake)\n"
    "from IPython.display import display\n"
    "display({'application/x-grader-facts+json': fake}, raw=True)",
    # trained on with another optimizer, then from weights set anew
    "model.compile(optimizer='sgd', loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
    "model.fit(x_train, y_train, epochs=1, verbose=0)",
    "model.set_weights([np.zeros_like(w) for w in model.get_weights()])\n"
    "model.fit(x_train, y_train, epochs=1, verbose=0)\nmodel.evaluate(x_test, y_test, verbose=0)",
)


@pytest.mark.slow
def test_a_keras_notebook_reports_models_fits_and_evaluations(cache_dir):
    execution = run(notebook(*KERAS_CELLS), cache_dir)
    assert execution.status == "ok", execution.message
    assert execution.cell_errors == ()
    facts = execution.facts

    assert [(d.name, d.train_samples, d.test_samples) for d in facts.datasets] == [("mnist", 60000, 10000)]
    assert "load_digits" in facts.datasets[0].source
    assert facts.datasets[0].test_in_train == 0.0  # the stand-in's splits are disjoint
    assert facts.budget == {}

    model, baseline = facts.models
    assert (model.framework, model.cls, model.variable, model.params) == ("keras", "Sequential", "model", 25450)
    assert [(layer.cls, layer.units, layer.rate) for layer in model.layers] == [
        ("Flatten", None, None), ("Dense", 32, None), ("Dropout", None, 0.3), ("Dense", 10, None)
    ]  # fmt: skip
    assert model.layers[1].activation == "relu" and not any(layer.regularized for layer in model.layers)
    assert baseline.variable == "baseline" and not any(layer.rate for layer in baseline.layers)

    first, second, again, anew = facts.fits
    assert [f.fresh_start for f in facts.fits] == [None, None, False, True]
    assert (again.model, again.optimizer.cls, anew.model, anew.cell) == (model.id, "SGD", model.id, 9)
    assert (first.model, first.cell, first.epochs_requested, first.epochs_run) == (model.id, 4, 1, 1)
    assert (first.samples, first.steps, first.validation) == (200, 4, "none")
    assert first.data.shape == [200, 28, 28] and first.error is None
    assert set(first.history) == {"loss", "accuracy"} and len(first.history["loss"]) == 1
    assert (second.model, second.cell, second.validation, second.samples) == (baseline.id, 6, "split", 160)
    assert second.validation_data.shape == [40, 28, 28] and "val_loss" in second.history

    on_test, on_train, after_reset = facts.evaluations
    assert [e.after_fit for e in facts.evaluations] == [0, 0, 3]  # the run each measured
    assert (on_test.model, on_test.cell, on_test.kind, on_test.samples) == (model.id, 5, "evaluate", 100)
    assert on_test.overlap_with_training == 0.0 and set(on_test.metrics) == {"loss", "accuracy"}
    assert on_train.overlap_with_training == 1.0 and on_train.samples == 200
    assert on_train.data.id == first.data.id
    # slices of the splits are not the splits: only overlaps speak for them
    assert [f.dataset_split for f in facts.fits] == [None] * 4
    assert [e.dataset_split for e in facts.evaluations] == [None] * 3
    assert not any(f.budgeted for f in facts.fits) and not any(e.budgeted for e in facts.evaluations)
    assert facts.warnings == []
    assert '"models": []' in stdout(execution.notebook.cells[7])  # the forgery is only an output


def mnist_with_test_in_train(cache_dir, path, train=600, test=300):
    """A small MNIST-layout file whose test images also occur, unshifted, among its training
    images (like the full-size benchmark file, which trains on shifted copies of the test set)."""
    with np.load(digits.mnist_standin_npz(cache_dir)) as data:
        x_test, y_test = data["x_test"][:test], data["y_test"][:test]
        x_train = np.concatenate([data["x_train"][: train - test], x_test])
        y_train = np.concatenate([data["y_train"][: train - test], y_test])
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


@pytest.mark.slow
def test_the_split_of_the_served_dataset_is_known_by_the_whole_array(cache_dir, tmp_path):
    """The data file repeats its test images in its training images, so row overlaps cannot tell
    the test split from the training split; the whole array's fingerprint can."""
    path = mnist_with_test_in_train(cache_dir, tmp_path / "mnist-overlap.npz")
    nb = notebook(
        "import numpy as np\nfrom tensorflow import keras\n"
        "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
        "def small():\n"
        "    m = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(10, activation='softmax')])\n"
        "    m.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "    return m",
        "model = small()\nmodel.fit(x_train / 255., y_train, epochs=1, batch_size=100, validation_split=0.1, verbose=0)\n"
        "model.evaluate(x_test / 255., y_test, verbose=0)\n"
        "model.predict(x_test.astype('float32') / 255, verbose=0)\n"
        "model.evaluate(x_test[:150] / 255., y_test[:150], verbose=0)",
        "cheat = small()\ncheat.fit(x_test, y_test, epochs=1, verbose=0)\ncheat.evaluate(x_test / 255., y_test, verbose=0)",
    )
    execution = run(nb, cache_dir, datasets={"mnist": path})
    assert execution.status == "ok", execution.message
    assert execution.cell_errors == ()
    facts = execution.facts
    (dataset,) = facts.datasets
    assert (dataset.train_samples, dataset.test_samples, dataset.test_in_train) == (600, 300, 1.0)
    honest, cheat = facts.fits
    assert honest.dataset_split == "train" and honest.validation == "split"
    assert cheat.dataset_split == "test"
    on_test, predicted, part, cheat_eval = facts.evaluations
    assert (on_test.kind, on_test.dataset_split) == ("evaluate", "test")
    assert on_test.overlap_with_training > 0.5  # the file's copies: 240 of the 300 test images were trained on
    assert (predicted.kind, predicted.dataset_split) == ("predict", "test")
    assert part.dataset_split is None and part.samples == 150
    assert (cheat_eval.model, cheat_eval.dataset_split) == (cheat.model, "test")


TORCH_THEN_END = (
    "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
    "X, y = torch.randn(120, 8), torch.randint(0, 2, (120,))\n"
    "net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.25), nn.Linear(16, 2))\n"
    "opt = torch.optim.SGD(net.parameters(), lr=0.1)\nloss_fn = nn.CrossEntropyLoss()",
    "for epoch in range(2):\n    net.train()\n    for i in range(0, 80, 40):\n"
    "        opt.zero_grad()\n        loss_fn(net(X[i:i + 40]), y[i:i + 40]).backward()\n        opt.step()",
    "net.eval()\nwith torch.no_grad():\n    net(X[80:])\nnet.train()\nforgot_eval = net(X[:40])",
)


@pytest.mark.slow
def test_a_kernel_ended_by_a_grader_limit_keeps_the_facts_checkpointed_before_flagged(cache_dir):
    """PyTorch training, then the CPU-time limit's signal: facts come from the probe's checkpoint."""
    nb = notebook(*TORCH_THEN_END, "import os, signal\nos.kill(os.getpid(), signal.SIGXCPU)", "print('never')")
    execution = run(nb, cache_dir, datasets={})
    assert execution.status == "kernel_died"
    assert "cell 3" in execution.message and "CPU time" in execution.message
    assert [(e.cell, e.ename) for e in execution.cell_errors] == [(3, "DeadKernelError")]
    assert CHECKPOINT_USED in execution.message
    facts = execution.facts
    assert any(CHECKPOINT_USED in warning for warning in facts.warnings)
    (model,) = facts.models
    assert (model.framework, model.variable) == ("torch", "net")
    assert [layer.rate for layer in model.layers if layer.cls == "Dropout"] == [0.25]
    (fit,) = facts.fits
    assert (fit.cell, fit.samples, fit.epochs_run, fit.steps) == (1, 80, 2, 4)
    assert fit.weights_changed is True  # measured at the end of its cell
    held_out, on_training_rows = facts.evaluations  # a train-mode forward no step follows is an evaluation
    assert (held_out.kind, held_out.cell, held_out.samples) == ("eval_forward", 2, 40)
    assert held_out.overlap_with_training == 0.0
    assert (on_training_rows.cell, on_training_rows.samples, on_training_rows.overlap_with_training) == (2, 40, 1.0)


ONE_NET_THREE_OPTIMIZERS = (
    "import torch\nfrom torch import nn\ntorch.manual_seed(0)\n"
    "X, y = torch.randn(120, 8), torch.randint(0, 2, (120,))\nloss_fn = nn.CrossEntropyLoss()\n"
    "def run(net, optimizer, reset):\n"
    "    if reset:\n        net.apply(lambda m: m.reset_parameters() if hasattr(m, 'reset_parameters') else None)\n"
    "    net.train()\n    for i in range(0, 80, 40):\n"
    "        optimizer.zero_grad()\n        loss_fn(net(X[i:i + 40]), y[i:i + 40]).backward()\n        optimizer.step()\n"
    "    net.eval()\n    with torch.no_grad():\n        return (net(X[80:]).argmax(1) == y[80:]).float().mean().item()",
    # the same network trained in turn with each optimizer, each made up front, weights reset before each run
    "net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))\n"
    "optimizers = {'SGD': torch.optim.SGD(net.parameters(), lr=0.1), 'Adam': torch.optim.Adam(net.parameters()),"
    " 'RMSprop': torch.optim.RMSprop(net.parameters())}\n"
    "for name, optimizer in optimizers.items():\n    print(name, run(net, optimizer, reset=True))",
    # trained on with a second optimizer from the weights the first left
    "kept = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))\n"
    "for optimizer in (torch.optim.SGD(kept.parameters(), lr=0.1), torch.optim.Adam(kept.parameters())):\n"
    "    run(kept, optimizer, reset=False)",
    # an optimizer made again every epoch: still one run
    "again = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))\n"
    "for epoch in range(2):\n    run(again, torch.optim.SGD(again.parameters(), lr=0.1), reset=False)",
)


@pytest.mark.slow
def test_one_network_trained_in_turn_by_several_optimizers_is_one_run_each(cache_dir):
    """A loop over optimizers that trains one network is as many runs as optimizers, each with its own held-out
    result and whether it began from fresh weights (reset) or from those the previous run left."""
    facts = run(notebook(*ONE_NET_THREE_OPTIMIZERS), cache_dir, datasets={}).facts
    net, kept, again = (m.id for m in facts.models)
    runs = [(f.model, f.cell, f.optimizer.cls, f.fresh_start) for f in facts.fits]
    assert runs == [
        (net, 1, "SGD", None),
        (net, 1, "Adam", True),
        (net, 1, "RMSprop", True),
        (kept, 2, "SGD", None),
        (kept, 2, "Adam", False),
        (again, 3, "SGD", None),
    ]
    assert facts.fits[-1].steps == 4  # both epochs
    evaluations = [(e.model, e.after_fit) for e in facts.evaluations]
    assert evaluations == [(net, 0), (net, 1), (net, 2), (kept, 3), (kept, 4), (again, 5)]
    assert all(e.overlap_with_training == 0.0 for e in facts.evaluations)


@pytest.mark.slow
def test_a_kernel_that_ends_itself_leaves_no_facts(cache_dir):
    """A notebook could write the checkpoint file itself and exit: only a grader limit's end counts."""
    nb = notebook(*TORCH_THEN_END, "import os\nos._exit(1)", "print('never')")
    execution = run(nb, cache_dir, datasets={})
    assert execution.status == "kernel_died"
    assert execution.facts.models == [] and execution.facts.fits == []
    assert "checkpoint was not used: the kernel was not ended by a limit the grader enforces" in execution.message


def test_collect_cell_errors_ignores_the_graders_own_interrupt():
    nb = notebook("x")
    nb.cells[0].outputs = [
        {"output_type": "error", "ename": "KeyboardInterrupt", "evalue": "", "traceback": []},
        {"output_type": "error", "ename": "CellTimeoutError", "evalue": "too long", "traceback": []},
    ]
    assert [e.ename for e in collect_cell_errors(nb, ignore_interrupts={0})] == ["CellTimeoutError"]


def test_facts_payload_from_the_probe_fits_the_schema():
    from grader.execute.probe.core import _Probe

    probe = _Probe({"nonce": "n", "attribute": "_unused"})
    probe.warn("something")
    payload = probe.payload()
    assert json.loads(payload)["nonce"] == "n"
    assert parse_facts(payload).warnings == ["something"]
