"""Forging the Q8 code checks with nothing but a notebook: one notebook per attack class that once
earned the 20 points without training anything, and an honest control.

Every forging notebook earns 0 check points and carries a ``needs review`` flag saying why; the
control earns full marks, with both models verified outside the kernel. One batch through the CLI
(fast budget, two kernels at a time) grades them all; each test reads its row.
"""

import json
import os
import pickle
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import numpy as np
import pytest
from typer.testing import CliRunner

from grader.cli import app
from grader.execute import sandbox, verify

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
ASSIGNMENT = ROOT / "assignments" / "regularization"

DATA = (
    "import keras, numpy as np\n"
    "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
    "x_train, y_train, x_test, y_test = x_train[:2048] / 255.0, y_train[:2048], x_test[:500] / 255.0, y_test[:500]"
)
BUILD = (
    "def build(dropout=None):\n"
    "    layers = [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(32, activation='relu')]\n"
    "    if dropout is not None:\n"
    "        layers.append(dropout)\n"
    "    model = keras.Sequential(layers + [keras.layers.Dense(10, activation='softmax')])\n"
    "    model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
    "    return model\n"
    "with_dropout, plain = build(keras.layers.Dropout(0.3)), build()"
)
TRAIN = "for model in (with_dropout, plain):\n    model.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)"
EVALUATE = "scores = [model.evaluate(x_test, y_test, verbose=0)[1] for model in (with_dropout, plain)]"
REPORT = "print(f'with dropout: {scores[0]:.4f}  without: {scores[1]:.4f}')"
PROBE = "import sys\nprobe = next(getattr(sys, name) for name in dir(sys) if name.startswith('_grader_probe'))"
FAKE_FACTS = (
    "def forged(facts):\n"
    "    layers = [{'cls': 'Flatten'}, {'cls': 'Dense', 'units': 32}, {'cls': 'Dropout', 'rate': 0.3}, {'cls': 'Dense', 'units': 10}]\n"
    "    plain_layers = [layer for layer in layers if layer['cls'] != 'Dropout']\n"
    "    facts['models'] = [{'id': 1, 'framework': 'keras', 'cls': 'Sequential', 'variable': 'with_dropout', 'layers': layers},\n"
    "                       {'id': 2, 'framework': 'keras', 'cls': 'Sequential', 'variable': 'plain', 'layers': plain_layers}]\n"
    "    facts['fits'] = [{'model': m, 'cell': 3, 'epochs_run': 5, 'samples': 2048} for m in (1, 2)]\n"
    "    facts['evaluations'] = [{'model': m, 'cell': 4, 'samples': 500, 'overlap_with_training': 0.0,\n"
    "                             'metrics': {'accuracy': 0.9712}} for m in (1, 2)]\n"
    "    facts['warnings'] = []\n"
    "    return facts"
)

TORCH_DATA = (
    "import numpy as np, torch\nfrom torch import nn\nfrom torch.utils.data import DataLoader, TensorDataset\n"
    "torch.manual_seed(0)\nwith np.load('mnist.npz') as mnist:\n"
    "    x_train = torch.tensor(mnist['x_train'][:2048] / 255.0, dtype=torch.float32)\n"
    "    y_train = torch.tensor(mnist['y_train'][:2048], dtype=torch.long)\n"
    "    x_test = torch.tensor(mnist['x_test'][:500] / 255.0, dtype=torch.float32)\n"
    "    y_test = torch.tensor(mnist['y_test'][:500], dtype=torch.long)\n"
    "train_loader = DataLoader(TensorDataset(x_train, y_train), batch_size=64, shuffle=True)"
)
TORCH_BUILD = (
    "def build(dropout=None):\n"
    "    layers = [nn.Flatten(), nn.Linear(784, 64), nn.ReLU()] + ([dropout] if dropout else []) + [nn.Linear(64, 10)]\n"
    "    return nn.Sequential(*layers)\n"
    "with_dropout, plain = build(nn.Dropout(0.3)), build()"
)
TORCH_TRAIN = (
    "def train(model, rate=0.05):\n"
    "    optimizer = torch.optim.SGD(model.parameters(), lr=rate, momentum=0.9)\n"
    "    model.train()\n"
    "    for images, labels in train_loader:\n"
    "        optimizer.zero_grad()\n"
    "        nn.functional.cross_entropy(model(images), labels).backward()\n"
    "        optimizer.step()\n"
)
TORCH_EVALUATE = (
    "def accuracy(model):\n    model.eval()\n    with torch.no_grad():\n"
    "        return (model(x_test).argmax(1) == y_test).float().mean().item()\n"
    "scores = [accuracy(model) for model in (with_dropout, plain)]"
)

FORGERIES = {
    # The probe's recorded lists, edited: two real but untrained models, with fits that never happened,
    # said to be of Fashion-MNIST, whose held-out split the grader does not hold (so that the models would
    # go unmeasured): a dataset the notebook never names ('fashion_' + 'mnist') is never staged, nor believed.
    "edit_lists": [
        DATA,
        BUILD,
        "with_dropout.predict(x_test[:1], verbose=0); plain.predict(x_test[:1], verbose=0)",
        PROBE
        + "\nfor model_id in (1, 2):\n    probe.fits.append({'model': model_id, 'cell': 3, 'epochs_requested': 5, 'epochs_run': 5,\n"
        "        'samples': 2048, 'steps': 320, 'data': None, 'validation': 'none', 'validation_data': None, 'history': {},\n"
        "        'dataset': 'fashion_' + 'mnist'})\n"
        "    probe.evaluations.append({'model': model_id, 'cell': 4, 'kind': 'evaluate', 'samples': 500, 'data': None,\n"
        "        'overlap_with_training': 0.0, 'overlap_with_validation': None, 'metrics': {'accuracy': 0.9712}})",
        "print('with dropout: 0.9712  without: 0.9712')",
    ],
    # The path the facts leave by, hooked: json.dumps rewrites the report.
    "hook_json": [
        DATA,
        BUILD,
        FAKE_FACTS,
        "import json\nreal_dumps = json.dumps\n"
        "def dumps(obj, *args, **kwargs):\n"
        "    if isinstance(obj, dict) and 'nonce' in obj:\n        obj = forged(dict(obj))\n"
        "    return real_dumps(obj, *args, **kwargs)\njson.dumps = dumps",
        "print('with dropout: 0.9712  without: 0.9712')",
    ],
    # A thread that keeps publishing forged facts with the run's nonce, the final request's answer among them.
    "late_thread": [
        DATA,
        BUILD,
        FAKE_FACTS,
        PROBE,
        "import threading, time, json\nfrom IPython.display import publish_display_data\n"
        "def flood():\n    while True:\n"
        "        publish_display_data({'application/x-grader-facts+json': json.dumps(forged({'nonce': probe.nonce}))})\n"
        "        time.sleep(0.02)\nthreading.Thread(target=flood, daemon=True).start()",
        "print('with dropout: 0.9712  without: 0.9712')",
    ],
    # The checkpoint written by hand, then the kernel killed so that the grader would read it.
    "checkpoint_kill": [
        DATA,
        BUILD,
        FAKE_FACTS,
        PROBE,
        "import json, os, signal\nwith open(probe.checkpoint_path, 'w') as f:\n"
        "    f.write(json.dumps(forged({'nonce': probe.nonce})))\nos.kill(os.getpid(), signal.SIGKILL)",
    ],
    # A home-made layer named Dropout that does nothing.
    "fake_dropout": [
        DATA,
        "class Dropout(keras.layers.Layer):\n    def __init__(self, rate, **kwargs):\n        super().__init__(**kwargs)\n"
        "        self.rate = rate\n    def call(self, x):\n        return x\n"
        + BUILD.replace("keras.layers.Dropout(0.3)", "Dropout(0.3)")
        .replace(", plain = ", ", _ = ")
        .replace("build()", "None"),
        "with_dropout.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)",
        "print('with dropout', with_dropout.evaluate(x_test, y_test, verbose=0))",
    ],
    # A keras.Model whose train_step learns nothing and whose layers property lists layers it never uses.
    "noop_train_step": [
        DATA,
        "class Net(keras.Model):\n    def __init__(self):\n        super().__init__()\n"
        "        self.flat, self.out = keras.layers.Flatten(), keras.layers.Dense(10, activation='softmax')\n"
        "    def call(self, x, training=False):\n        return self.out(self.flat(x))\n"
        "    @property\n    def layers(self):\n        return [keras.layers.Dense(32), keras.layers.Dropout(0.3), keras.layers.Dense(10)]\n"
        "    def train_step(self, data):\n        x, y = data\n        y_pred = self(x, training=True)\n"
        "        self.compute_loss(x=x, y=y, y_pred=y_pred)\n        return {**self.compute_metrics(x, y, y_pred), 'accuracy': 0.99}\n"
        "    def test_step(self, data):\n        x, y = data\n        y_pred = self(x)\n        self.compute_loss(x=x, y=y, y_pred=y_pred)\n"
        "        return {**self.compute_metrics(x, y, y_pred), 'accuracy': 0.9712}\n"
        "with_dropout = Net()\nwith_dropout.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])",
        "with_dropout.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)",
        "print('with dropout', with_dropout.evaluate(x_test, y_test, verbose=0))",
    ],
    # The real fit swapped inside the probe's own wrapper: the wrapper stays in place, the original it calls does not.
    "swap_original": [
        DATA,
        BUILD,
        "def fake_fit(model, *args, callbacks=None, **kwargs):\n"
        "    for callback in callbacks or []:\n        for epoch in range(5):\n            callback.on_epoch_end(epoch, {'loss': 0.05})\n"
        "    return keras.callbacks.History()\n"
        "for cell in keras.Model.fit.__closure__:\n"
        "    if getattr(cell.cell_contents, '__name__', '') == 'fit':\n        cell.cell_contents = fake_fit",
        TRAIN,
        EVALUATE,
        REPORT,
    ],
    # PyTorch: a home-made module named Dropout that does nothing, in a model that trains.
    "torch_fake_dropout": [
        TORCH_DATA,
        "class Dropout(nn.Module):\n    def __init__(self, p=0.5):\n        super().__init__()\n        self.p = p\n"
        "    def forward(self, x):\n        return x\n" + TORCH_BUILD.replace("nn.Dropout(0.3)", "Dropout(0.3)"),
        TORCH_TRAIN + "train(with_dropout)",
        TORCH_EVALUATE,
        REPORT,
    ],
    # PyTorch, training that leaves the weights as they were: a loop with every step of training at a
    # rate of 0; a model whose forward the verifier cannot trace (so only the probe speaks of it),
    # trained honestly and then, in the next cell, given back the weights it had before.
    # Trained, reported, then given back the weights it had before training (a later cell).
    "keras_weights_restored": [
        DATA,
        BUILD,
        "initial = {model.name: model.get_weights() for model in (with_dropout, plain)}",
        TRAIN,
        EVALUATE,
        REPORT,
        "for model in (with_dropout, plain):\n    model.set_weights(initial[model.name])",
    ],
    "torch_no_learning": [
        TORCH_DATA,
        TORCH_BUILD.replace(", plain = build(nn.Dropout(0.3)), build()", " = build(nn.Dropout(0.3))")
        + "\nclass Plain(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
        "        self.layers = build()\n    def forward(self, x):\n        if x.sum() < 0:\n            x = -x\n"
        "        return self.layers(x)\nplain = Plain()",
        TORCH_TRAIN + "train(with_dropout, rate=0.0)\n"
        "untrained = {name: value.clone() for name, value in plain.state_dict().items()}\n"
        "train(plain)",
        "plain.load_state_dict(untrained)",
        TORCH_EVALUATE,
        "print('with dropout: 0.9712  without: 0.9688')",
    ],
    # Honest training, but instead of the results, every number from 0.0000 to 0.9999.
    "number_dump": [DATA, BUILD, TRAIN, EVALUATE, "print('\\n'.join(f'{n / 10000:.4f}' for n in range(10000)))"],
}
HONEST = [DATA, BUILD, TRAIN, EVALUATE, REPORT]
HONEST_TORCH = [
    TORCH_DATA,
    TORCH_BUILD,
    TORCH_TRAIN + "for model in (with_dropout, plain):\n    train(model)",
    TORCH_EVALUATE,
    REPORT,
]
# Not a forgery: a message over the channel's limit (20 MB of widget state, which the probe's output
# guards do not cut).
HUGE_MESSAGE = "from comm import create_comm\nbig = create_comm(target_name='big', data={'blob': 'x' * 20_000_000})"


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("forging")
    notebooks = {
        **FORGERIES,
        "honest": HONEST,
        "honest_torch": HONEST_TORCH,
        "huge_message": [HUGE_MESSAGE, "print('after')"],
    }
    for name, cells in notebooks.items():
        nb = nbf.new_notebook(cells=[nbf.new_markdown_cell("## Q8")] + [nbf.new_code_cell(source) for source in cells])
        nbformat.write(nb, folder / f"{name}.ipynb")
    out = tmp_path_factory.mktemp("out")
    arguments = [
        "grade",
        str(folder),
        "--assignment",
        str(ASSIGNMENT),
        "--out",
        str(out),
        "--budget",
        "fast",
        "--jobs",
        "2",
        "--quiet",
    ]
    result = CliRunner().invoke(app, arguments)
    assert result.exit_code == 0, result.output
    return {row["student"]: row for row in json.loads((out / "grades.json").read_text())}


def check_points(row) -> float:
    return sum(check["score"] for check in row["checks"])


@pytest.mark.parametrize("name", sorted(FORGERIES))
def test_a_forging_notebook_earns_no_check_points_and_is_flagged_for_review(rows, name):
    row = rows[name]
    assert check_points(row) == 0, [(c["id"], c["evidence"]) for c in row["checks"]]
    assert any("needs review" in flag for flag in row["flags"]), row["flags"]


def test_each_forgery_is_caught_for_what_it_did(rows):
    flags = {name: " ".join(rows[name]["flags"]) for name in FORGERIES}
    assert "contradicted outside the kernel" in flags["edit_lists"] and "scores" in flags["edit_lists"]
    assert "json.dumps, which the facts leave by, was replaced" in flags["hook_json"]
    assert "reaches for the kernel's display publisher" in flags["late_thread"]
    assert (
        "checkpoint was not used" in rows["checkpoint_kill"]["execution"].get("message", "")
        or "tampering" in flags["checkpoint_kill"]
    )
    assert "the notebook's own class, not the framework's" in " ".join(
        e for c in rows["fake_dropout"]["checks"] for e in c["evidence"]
    )
    assert "its weights did not change" in flags["noop_train_step"]
    assert "inside the grader's recorder was swapped" in flags["swap_original"]
    assert "0.0000 to 0.9999" in flags["number_dump"]
    assert "__main__.Dropout is the notebook's own class, not the framework's" in flags["torch_fake_dropout"]
    unchanged = [e for c in rows["torch_no_learning"]["checks"] for e in c["evidence"] if "did not change" in e]
    assert {line.split(":")[0] for line in unchanged} == {"with_dropout", "plain"}, rows["torch_no_learning"]
    assert "its weights did not change" in flags["torch_no_learning"]
    restored = [e for c in rows["keras_weights_restored"]["checks"] for e in c["evidence"] if "did not change" in e]
    assert {line.split(":")[0] for line in restored} == {"with_dropout", "plain"}, rows["keras_weights_restored"]


def test_the_honest_control_earns_full_marks_verified_outside_the_kernel(rows):
    row = rows["honest"]
    assert all(check["passed"] for check in row["checks"]), [(c["id"], c["evidence"]) for c in row["checks"]]
    assert check_points(row) == sum(check["max_score"] for check in row["checks"])
    verified = [line for check in row["checks"] for line in check["evidence"] if "verified outside the kernel" in line]
    assert {line.split(":")[0] for line in verified} == {"with_dropout", "plain"}
    doubts = ("tampering", "verified", "contradicted", "did not change", "own class", "checkpoint")
    assert not any(doubt in flag for flag in row["flags"] for doubt in doubts), row["flags"]


def test_an_honest_pytorch_notebook_earns_full_marks_verified_outside_the_kernel(rows):
    row = rows["honest_torch"]
    assert check_points(row) == sum(check["max_score"] for check in row["checks"]), row["checks"]
    verified = [line for check in row["checks"] for line in check["evidence"] if "verified outside the kernel" in line]
    assert {line.split(":")[0] for line in verified} == {"with_dropout", "plain"}
    assert not row["flags"], row["flags"]


def test_the_verifier_sees_only_its_own_folder(rows):
    """The verifier loads files a notebook made: with bubblewrap it runs in a view holding its own
    folder and its Python, so a file any user may read (the rubric) is not there for it."""
    enforcement = sandbox.plan(False, "auto")
    if enforcement.bubblewrap is None:
        pytest.skip(f"bubblewrap is not used here: {enforcement.describe()}")
    verifier, rubric = verify.VERIFIERS["torch"], ROOT / "rubrics" / "regularization.yaml"
    with verifier.lock:  # still running: it verified the PyTorch notebooks of the batch
        assert verifier.process is not None and verifier.process.args[0] == enforcement.bubblewrap
        verifier.process.stdin.write(json.dumps({"model": str(rubric), "split": None}) + "\n")
        verifier.process.stdin.flush()
        answer = json.loads(verifier._read_line(verify.REQUEST_TIMEOUT))
    assert rubric.is_file() and not answer["loaded"] and "No such file" in answer["error"], answer


def _node(op, name, target, *args):
    return {"op": op, "name": name, "target": target, "args": {"list": list(args)}, "kwargs": {"dict": {}}}


INPUT, LINEAR = _node("placeholder", "x", "x"), _node("call_module", "fc", "fc", {"node": "x"})
WEIGHTS = {"fc.weight": (10, 784), "fc.bias": (10,)}
HAND_WRITTEN = {
    "a class outside torch": (
        [INPUT, LINEAR],
        {"fc": "subprocess.Popen"},
        WEIGHTS,
        "not one of torch's own layer classes",
    ),
    "a function outside the list": (
        [INPUT, _node("call_function", "e", "builtins.eval", "1")],
        {},
        {},
        "builtins.eval",
    ),
    "a dunder method": ([INPUT, _node("call_method", "c", "__class__", {"node": "x"})], {}, {}, "__class__"),
    "weights of other shapes": (
        [INPUT, LINEAR],
        {"fc": "torch.nn.modules.linear.Linear"},
        {"fc.weight": (5, 784)},
        "weights",
    ),
}


@pytest.mark.parametrize("case", sorted(HAND_WRITTEN))
def test_a_hand_written_pytorch_file_is_refused_before_anything_of_it_runs(rows, tmp_path, case):
    """Files a notebook wrote by hand in place of the probe's: refused with the reason, never run."""
    save_file = pytest.importorskip("safetensors.numpy").save_file
    nodes, classes, weights, reason = HAND_WRITTEN[case]
    modules = {
        name: {"class": cls, "config": {"in_features": 784, "out_features": 10}} for name, cls in classes.items()
    }
    graph = {"version": 1, "nodes": [*nodes, _node("output", "output", "output", {"node": "x"})], "modules": modules}
    path = tmp_path / f"1{verify.SUFFIXES['torch']}"
    arrays = {name: np.zeros(shape, "float32") for name, shape in weights.items()} or {"unused": np.zeros(1)}
    save_file(arrays, str(path), metadata={"grader-graph": json.dumps(graph)})
    found = verify._verify_one(1, "torch", path, None)
    assert not found.loaded and reason in found.reason, found.reason


def test_a_pickle_in_place_of_the_pytorch_file_is_not_loaded(rows, tmp_path):
    path = tmp_path / f"1{verify.SUFFIXES['torch']}"
    path.write_bytes(pickle.dumps(os.system))
    found = verify._verify_one(1, "torch", path, None)
    assert not found.loaded and "SafetensorError" in found.reason, found.reason


def test_a_message_too_large_for_the_channel_is_reported_as_that_not_as_tampering(rows):
    flags = " ".join(rows["huge_message"]["flags"])
    assert "output too large" in flags and "tamper" not in flags
