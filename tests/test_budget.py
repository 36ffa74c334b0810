"""The fast budget: training and evaluation are cut, the student's code runs as before, and the
facts that decide verdicts (row overlaps, dataset splits) are those of a full run.

Real (tiny) kernels; ``max_train_samples`` and friends are set low so that the budget cuts them.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from grader.execute import digits
from grader.execute.runner import run_notebook
from grader.score.checks.base import held_out
from grader.settings import ExecutionLimits, FastBudget

pytestmark = pytest.mark.slow  # real kernels with TensorFlow or PyTorch, or a whole batch of kernels

LIMITS = ExecutionLimits(cell_timeout=120, notebook_timeout=300, startup_timeout=60)
SMALL = FastBudget(max_epochs=1, max_train_samples=500, max_eval_samples=300, max_torch_batches=3)


def notebook(*cells):
    return new_notebook(cells=[new_code_cell(c) for c in cells])


def run(nb, cache_dir, mode="fast", budget=SMALL, datasets=None, confirm_in_full=True):
    return run_notebook(
        nb, datasets=datasets or {}, limits=LIMITS, mode=mode, budget=budget, cache_dir=cache_dir, threads=1,
        confirm_in_full=confirm_in_full,
    )  # fmt: skip


def printed(cell) -> list:
    """The JSON lines a cell printed."""
    text = "".join(o.get("text", "") for o in cell.outputs if o.get("output_type") == "stream")
    return [json.loads(line) for line in text.splitlines() if line.startswith(("{", "["))]


KERAS_SETUP = (
    "import json\nimport numpy as np\nfrom tensorflow import keras\n"
    "rng = np.random.default_rng(0)\n"
    "x, y = rng.normal(size=(3000, 20)).astype('float32'), rng.integers(0, 3, 3000)\n"
    "x_new, y_new = rng.normal(size=(1000, 20)).astype('float32'), rng.integers(0, 3, 1000)\n"
    "class Batches(keras.callbacks.Callback):\n"
    "    def on_train_begin(self, logs=None):\n"
    "        self.count = 0\n"
    "    def on_train_batch_end(self, batch, logs=None):\n"
    "        self.count += 1\n"
    "def small():\n"
    "    m = keras.Sequential([keras.Input((20,)), keras.layers.Dense(8, activation='relu'),\n"
    "                          keras.layers.Dropout(0.2), keras.layers.Dense(3, activation='softmax')])\n"
    "    m.compile(optimizer='adam', loss='sparse_categorical_crossentropy', metrics=['accuracy'])\n"
    "    return m"
)


def test_fast_mode_cuts_a_keras_fit_and_the_students_code_still_runs(cache_dir):
    nb = notebook(
        KERAS_SETUP,
        "model = small()\nbatches = Batches()\n"
        "history = model.fit(x, y, epochs=5, batch_size=100, callbacks=[batches], verbose=0)\n"
        "h = history.history\n"
        "print(json.dumps([batches.count, len(h['loss']), h['loss'][4] == h['loss'][0], history.params['epochs'],"
        " history.epoch]))",
        "other = small()\n"
        "history = other.fit(x, y, epochs=3, batch_size=50, validation_split=0.2, verbose=0)\n"
        "print(json.dumps(sorted(history.history)))\n"
        "print(json.dumps([len(history.history['val_accuracy']), history.history['val_loss'][2]]))",
        "loss, accuracy = model.evaluate(x_new, y_new, verbose=0)\n"
        "predictions = model.predict(x_new, verbose=0)\n"
        "print(json.dumps([list(predictions.shape), float((predictions.argmax(1) == y_new).mean()) >= 0]))",
        "import tensorflow as tf\nbatched = tf.data.Dataset.from_tensor_slices((x, y)).batch(100)\n"
        "history = small().fit(batched, epochs=2, verbose=0)\nprint(json.dumps([len(history.history['loss'])]))",
    )
    execution = run(nb, cache_dir)
    assert execution.status == "ok", execution.message
    assert execution.cell_errors == () and execution.mode == "fast"
    cells = execution.notebook.cells
    assert printed(cells[1]) == [[5, 5, True, 5, [0, 1, 2, 3, 4]]]  # 500 samples / 100 a batch, 1 epoch
    keys, (validated, _) = printed(cells[2])
    assert keys == ["accuracy", "loss", "val_accuracy", "val_loss"] and validated == 3
    assert printed(cells[3]) == [[[1000, 3], True]]
    assert printed(cells[4]) == [[2]]

    facts = execution.facts
    assert facts.budget == {key: float(value) for key, value in SMALL.model_dump().items()}
    plain, split, _ = facts.fits
    assert (plain.epochs_requested, plain.epochs_run, plain.samples, plain.steps) == (5, 1, 500, 5)
    assert plain.budgeted and plain.data.shape == [3000, 20]  # the student's array, cut only in the run
    assert len(plain.history["loss"]) == 1  # the facts are not padded
    assert (split.epochs_requested, split.epochs_run, split.samples, split.validation) == (3, 1, 500, "split")
    assert split.validation_data.shape == [600, 20] and split.budgeted
    batched = facts.fits[2]  # tf.data: 5 batches of 100 (a shorter dataset), not 30
    assert (batched.epochs_requested, batched.epochs_run, batched.steps, batched.budgeted) == (2, 1, 5, True)
    evaluated, predicted = facts.evaluations
    assert (evaluated.kind, evaluated.samples, evaluated.budgeted) == ("evaluate", 300, True)
    assert set(evaluated.metrics) == {"loss", "accuracy"}
    assert (predicted.kind, predicted.samples, predicted.budgeted) == ("predict", 300, True)
    assert evaluated.overlap_with_training == 0.0
    assert any("padded to 5 epochs" in w for w in facts.warnings)
    assert any("predict ran on the first 300 of 1,000" in w for w in facts.warnings)


def mnist_with_test_in_train(cache_dir, path, train=900, test=300):
    """MNIST layout; the test images also occur among the training images (as in the full-size
    benchmark file)."""
    with np.load(digits.mnist_standin_npz(cache_dir)) as data:
        x_test, y_test = data["x_test"][:test], data["y_test"][:test]
        x_train = np.concatenate([data["x_train"][: train - test], x_test])
        y_train = np.concatenate([data["y_train"][: train - test], y_test])
    np.savez_compressed(path, x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)
    return path


def test_held_out_facts_are_the_same_in_fast_and_full_mode(cache_dir, tmp_path):
    path = mnist_with_test_in_train(cache_dir, tmp_path / "mnist.npz")
    nb = notebook(
        "from tensorflow import keras\nkeras.utils.set_random_seed(0)\n"
        "(x_train_full, y_train_full), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
        "x_valid, x_train = x_train_full[:100] / 255., x_train_full[100:] / 255.\n"
        "y_valid, y_train = y_train_full[:100], y_train_full[100:]\n"
        "model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),\n"
        "    keras.layers.Dropout(0.5), keras.layers.Dense(10, activation='softmax')])\n"
        "model.compile(optimizer=keras.optimizers.Adam(0.02), loss='sparse_categorical_crossentropy', metrics=['accuracy'])",
        "model.fit(x_train, y_train, epochs=2, validation_split=0.2, verbose=0)",
        "model.evaluate(x_test / 255., y_test, verbose=0)\n"
        "model.evaluate(x_valid, y_valid, verbose=0)\n"
        "model.evaluate(x_train, y_train, verbose=0)\n"
        "model.fit(x_test / 255., y_test, epochs=1, validation_data=(x_valid, y_valid), verbose=0)\n"
        "model.predict(x_test / 255., verbose=0)",
    )
    budget = FastBudget(max_train_samples=128, max_eval_samples=64)
    full = run(nb, cache_dir, mode="full", budget=None, datasets={"mnist": path})
    fast = run(nb, cache_dir, mode="fast", budget=budget, datasets={"mnist": path})
    for execution in (full, fast):
        assert execution.status == "ok", execution.message
        assert execution.cell_errors == ()
    assert fast.mode == "fast", fast.message  # it learned enough in its 8 steps: not run again in full

    def verdict_inputs(facts):
        fits = [
            (f.model, f.epochs_requested, f.dataset_split, f.validation, f.data.id, f.validation_data.id)
            for f in facts.fits
        ]
        evaluations = [
            (e.model, e.kind, e.data.id, e.dataset_split, e.overlap_with_training, e.overlap_with_validation)
            for e in facts.evaluations
        ]
        return fits, evaluations, [(d.test_in_train, d.train_samples) for d in facts.datasets]

    assert verdict_inputs(fast.facts) == verdict_inputs(full.facts)
    fits, evaluations, datasets = verdict_inputs(fast.facts)
    assert datasets == [(1.0, 900)]
    assert [f[2] for f in fits] == [None, "test"]
    # the test split, although 140 of its 300 images sit among the 640 rows the model trained on
    assert [(e[3], round(e[4], 1)) for e in evaluations[:3]] == [("test", 0.5), (None, 0.0), (None, 0.8)]
    assert all(f.budgeted for f in fast.facts.fits) and all(e.budgeted for e in fast.facts.evaluations)
    assert [f.samples for f in fast.facts.fits] == [128, 128] and [f.samples for f in full.facts.fits] == [640, 300]
    assert [f.epochs_run for f in fast.facts.fits] == [1, 1] and [f.epochs_run for f in full.facts.fits] == [2, 1]


def test_a_pytorch_loop_draws_at_most_the_batch_cap_per_epoch(cache_dir):
    nb = notebook(
        "import json, torch\nfrom torch import nn\nfrom torch.utils.data import DataLoader, TensorDataset\n"
        "torch.manual_seed(0)\n"
        "train = TensorDataset(torch.randn(500, 8), torch.randint(0, 2, (500,)))\n"
        "test = TensorDataset(torch.randn(200, 8), torch.randint(0, 2, (200,)))\n"
        "loader = DataLoader(train, batch_size=10, shuffle=True)\n"
        "test_loader = DataLoader(test, batch_size=10)\n"
        "net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 2))\n"
        "opt = torch.optim.SGD(net.parameters(), lr=0.1)\nloss_fn = nn.CrossEntropyLoss()",
        "drawn = []\n"
        "for epoch in range(2):\n"
        "    net.train()\n    count = 0\n"
        "    for xb, yb in loader:\n"
        "        opt.zero_grad()\n        loss_fn(net(xb), yb).backward()\n        opt.step()\n"
        "        count += 1\n"
        "    drawn.append(count)\n"
        "print(json.dumps([drawn, len(loader)]))",
        # one function on both loaders, as notebooks print train and test accuracy: two evaluations
        "def correct(data):\n    net.eval()\n    with torch.no_grad():\n"
        "        return sum(int((net(xb).argmax(1) == yb).sum()) for xb, yb in data)\n"
        "held_out, on_training = correct(test_loader), correct(loader)\n"
        "print(json.dumps([held_out >= 0, on_training >= 0]))",
    )
    execution = run(nb, cache_dir)
    assert execution.status == "ok", execution.message
    assert execution.cell_errors == ()
    cells = execution.notebook.cells
    assert printed(cells[1]) == [[[3, 3], 50]]
    (fit,) = execution.facts.fits
    assert (fit.epochs_run, fit.steps, fit.budgeted) == (2, 6, True)
    assert fit.samples <= 60
    held_out, on_training = execution.facts.evaluations
    assert (held_out.samples, held_out.budgeted, held_out.overlap_with_training) == (30, True, 0.0)
    # drawn from the training loader: other rows than the six batches it trained on, yet training rows
    assert (on_training.samples, on_training.overlap_with_training) == (30, 1.0)
    assert (held_out.dataset_samples, on_training.dataset_samples) == (200, 500)  # what len(loader.dataset) says


def verdicts(facts, names) -> dict[str, list[bool]]:
    """For the models in the order they were made, one for each of ``names``: whether each of the
    model's evaluations counts as held-out."""
    assert len(facts.models) == len(names)
    found = {}
    for name, model in zip(names, facts.models):
        kept = {id(e) for e in held_out(facts, model)}
        found[name] = [id(e) in kept for e in facts.evaluations if e.model == model.id]
    return found


@pytest.mark.skipif(
    importlib.util.find_spec("torchvision") is None, reason="torchvision is not installed (pyproject.toml)"
)
def test_fast_mode_keeps_the_held_out_verdicts_of_every_torchvision_stand_in(cache_dir):
    """A fast run draws a few batches of each loader: the training split evaluated is still its
    training data (a whole pass's rows count), the test split still held-out."""
    nb = notebook(
        "import torch\nfrom torch import nn\nfrom torchvision import datasets, transforms\ntorch.manual_seed(0)\n"
        "loaders = {}\nfor name in ('MNIST', 'FashionMNIST', 'CIFAR10', 'CIFAR100'):\n"
        "    train, test = (getattr(datasets, name)('./data', train=split, download=True, transform=transforms.ToTensor())\n"
        "                   for split in (True, False))\n"
        "    loaders[name] = (torch.utils.data.DataLoader(train, batch_size=50, shuffle=True),\n"
        "                     torch.utils.data.DataLoader(test, batch_size=50), train[0][0].numel())",
        "for train_loader, test_loader, size in loaders.values():\n"
        "    net = nn.Sequential(nn.Flatten(), nn.Linear(size, 100))\n"
        "    opt = torch.optim.SGD(net.parameters(), lr=0.05)\n"
        "    for images, labels in train_loader:\n"
        "        opt.zero_grad()\n        nn.functional.cross_entropy(net(images), labels).backward()\n        opt.step()\n"
        "    net.eval()\n"
        "    with torch.no_grad():\n"
        "        held_out = [net(images) for images, _ in test_loader]\n"
        "        on_training = [net(images) for images, _ in train_loader]",
    )
    # Three batches leave the MNIST model near chance on MNIST's held-out split, which would have the run
    # confirmed in full; this test is about the fast run's facts.
    execution = run(nb, cache_dir, confirm_in_full=False)
    assert execution.status == "ok", execution.message
    assert execution.cell_errors == () and execution.mode == "fast", execution.message
    assert all(f.budgeted for f in execution.facts.fits) and len(execution.facts.fits) == 4
    names = ("mnist", "fashion_mnist", "cifar10", "cifar100")
    assert [d.name for d in execution.facts.datasets] == list(names)
    assert verdicts(execution.facts, names) == dict.fromkeys(names, [True, False])
    # each fit knows the dataset its loader served, and only the MNIST model is measured on MNIST's split
    assert [fit.dataset for fit in execution.facts.fits] == list(names)
    measured = [found.samples > 0 for found in execution.facts.verification.models]
    assert measured == [True, False, False, False], execution.facts.verification


SLOW_LEARNER = (
    "import keras\nkeras.utils.set_random_seed(0)\n"
    "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
    "x_train, x_test = x_train / 255.0, x_test / 255.0\n"
    "model = keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(32, activation='relu'),\n"
    "                          keras.layers.Dropout(0.2), keras.layers.Dense(10, activation='softmax')])\n"
    "model.compile(keras.optimizers.SGD(0.1), 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
    "warm_up = keras.callbacks.LearningRateScheduler(lambda epoch: 1e-6 if epoch == 0 else 0.1)\n"
    "model.fit(x_train, y_train, epochs=3, batch_size=32, callbacks=[warm_up], verbose=0)\n"
    "print(model.evaluate(x_test, y_test, verbose=0))"
)


def test_a_model_near_chance_after_the_budget_cut_its_training_is_run_again_in_full(cache_dir):
    """A warm-up epoch at a tiny learning rate: after the one epoch fast mode allows, the model is
    still at chance, which would read as "did not learn"; the full run is the verdict."""
    execution = run(notebook(SLOW_LEARNER), cache_dir)
    assert execution.status == "ok", execution.message
    assert execution.mode == "full"
    assert "run again with the full budget: in the fast run, model scored near chance" in execution.message
    (fit,) = execution.facts.fits
    assert (fit.epochs_requested, fit.epochs_run, fit.budgeted) == (3, 3, False)
    (verified,) = execution.facts.verification.models
    assert verified.loaded and not verified.near_chance(), verified
