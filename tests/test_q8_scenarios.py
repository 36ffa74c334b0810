"""Q8 through the CLI with real kernels: every way a Dropout comparison falls short, Keras and PyTorch.

One batch grades all the scenario notebooks (small data, one epoch, enough for the verifier outside
the kernel to see that the models learned); each test reads its row.
"""

import json
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest
from typer.testing import CliRunner

from grader.cli import app

pytestmark = pytest.mark.slow  # real kernels with TensorFlow or PyTorch, or a whole batch of kernels

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "regularization"

DATA = (
    "import keras, numpy as np\n"
    "(x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
    "x_train, y_train = x_train[:2048] / 255.0, y_train[:2048]\n"
    "x_test, y_test = x_test[:64] / 255.0, y_test[:64]"
)
BUILD = (
    "def build(rate=0.0, l2=None):\n"
    "    reg = keras.regularizers.l2(l2) if l2 else None\n"
    "    layers = [keras.Input((28, 28)), keras.layers.Flatten(), keras.layers.Dense(32, activation='relu', kernel_regularizer=reg)]\n"
    "    if rate is not None and rate != 'none':\n"
    "        layers.append(keras.layers.Dropout(rate))\n"
    "    layers.append(keras.layers.Dense(10, activation='softmax', kernel_regularizer=reg))\n"
    "    model = keras.Sequential(layers)\n"
    "    model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
    "    return model"
)
FIT = "{name}.fit(x_train, y_train, epochs=1, batch_size=32, verbose=0)"  # enough to learn: verified outside the kernel
EVAL = "print('{name}', {name}.evaluate({x}, {y}, verbose=0))"

SCENARIOS = {
    "full": [DATA, BUILD, "with_dropout = build(0.5)\n" + FIT.format(name="with_dropout"),
             "plain = build('none')\n" + FIT.format(name="plain"),
             EVAL.format(name="with_dropout", x="x_test", y="y_test") + "\n" + EVAL.format(name="plain", x="x_test", y="y_test")],
    "no_baseline": [DATA, BUILD, "with_dropout = build(0.5)\n" + FIT.format(name="with_dropout"),
                    EVAL.format(name="with_dropout", x="x_test", y="y_test")],
    "baseline_twice": [DATA, BUILD, "with_dropout = build(0.5)\nplain = build('none')\n" + FIT.format(name="plain") + "\n" + FIT.format(name="plain"),
                       EVAL.format(name="plain", x="x_test", y="y_test")],
    "l2_instead": [DATA, BUILD, "with_dropout = build(0.5)\n" + FIT.format(name="with_dropout"),
                   "l2_model = build('none', l2=0.01)\n" + FIT.format(name="l2_model"),
                   EVAL.format(name="with_dropout", x="x_test", y="y_test") + "\n" + EVAL.format(name="l2_model", x="x_test", y="y_test")],
    "eval_on_train": [DATA, BUILD, "with_dropout = build(0.5)\n" + FIT.format(name="with_dropout"),
                      "plain = build('none')\n" + FIT.format(name="plain"),
                      EVAL.format(name="with_dropout", x="x_train", y="y_train") + "\n" + EVAL.format(name="plain", x="x_train", y="y_train")],
    "error_before_fit": [DATA, BUILD, "with_dropout = build(0.5)\nplain = build('none')",
                         "x_train = undefined_preprocessing(x_train)\n" + FIT.format(name="with_dropout") + "\n" + FIT.format(name="plain")],
    "rate_zero": [DATA, BUILD, "with_dropout = build(0.0)\n" + FIT.format(name="with_dropout")],
    "subclassed": [DATA,
                   "class Net(keras.Model):\n    def __init__(self, rate):\n        super().__init__()\n        self.flat = keras.layers.Flatten()\n"
                   "        self.hidden = keras.layers.Dense(16, activation='relu')\n        self.drop = keras.layers.Dropout(rate)\n"
                   "        self.out = keras.layers.Dense(10, activation='softmax')\n"
                   "    def call(self, x, training=False):\n        return self.out(self.drop(self.hidden(self.flat(x)), training=training))",
                   "net = Net(0.3)\nnet.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n" + FIT.format(name="net"),
                   EVAL.format(name="net", x="x_test", y="y_test")],
    "pytorch": [
        "import torch\nfrom torch import nn\ntorch.manual_seed(0)\nX, y = torch.randn(192, 20), torch.randint(0, 3, (192,))\n"
        "X_train, y_train, X_test, y_test = X[:128], y[:128], X[128:], y[128:]",
        "def make(p):\n    layers = [nn.Linear(20, 16), nn.ReLU()] + ([nn.Dropout(p)] if p else []) + [nn.Linear(16, 3)]\n    return nn.Sequential(*layers)\n"
        "def train(model):\n    opt = torch.optim.Adam(model.parameters(), lr=0.01)\n    model.train()\n"
        "    for start in range(0, 128, 32):\n        opt.zero_grad()\n        loss = nn.functional.cross_entropy(model(X_train[start:start + 32]), y_train[start:start + 32])\n"
        "        loss.backward()\n        opt.step()\n"
        "def accuracy(model):\n    model.eval()\n    with torch.no_grad():\n        return (model(X_test).argmax(1) == y_test).float().mean().item()",
        "drop, plain = make(0.5), make(0)\ntrain(drop)\ntrain(plain)\nprint('dropout', accuracy(drop), 'plain', accuracy(plain))",
    ],
}


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    folder = tmp_path_factory.mktemp("q8")
    for name, cells in SCENARIOS.items():
        nbformat.write(nbf.new_notebook(cells=[nbf.new_markdown_cell("## Q8")] + [nbf.new_code_cell(c) for c in cells]), folder / f"{name}.ipynb")
    out = tmp_path_factory.mktemp("out")
    result = CliRunner().invoke(app, ["grade", str(folder), "--assignment", str(ASSIGNMENT), "--out", str(out), "--quiet"])
    assert result.exit_code == 0, result.output
    return {row["student"]: {c["id"]: c for c in row["checks"]} for row in json.loads((out / "grades.json").read_text())}


def verdict(rows, scenario):
    return {check_id: check["passed"] for check_id, check in rows[scenario].items()}


def test_the_full_pattern_passes_everything(rows):
    assert all(verdict(rows, "full").values())
    assert "like-for-like" in rows["full"]["baseline_model"]["evidence"][-1]


def test_no_baseline_fails_the_baseline_and_the_comparison(rows):
    assert verdict(rows, "no_baseline") == {"dropout_model": True, "baseline_model": False, "evaluated_on_held_out_data": False, "comparison_reported": False}


def test_a_baseline_trained_twice_is_not_a_dropout_model(rows):
    checks = rows["baseline_twice"]
    assert not checks["dropout_model"]["passed"] and checks["baseline_model"]["passed"]
    assert "with_dropout = " in checks["dropout_model"]["evidence"][0] and "never trained" in checks["dropout_model"]["evidence"][0]


def test_an_l2_model_is_not_a_like_for_like_baseline(rows):
    assert "not a like-for-like comparison: it adds weight regularization" in rows["l2_instead"]["baseline_model"]["evidence"][-1]


def test_evaluating_on_training_data_is_not_held_out(rows):
    checks = rows["eval_on_train"]
    assert not checks["evaluated_on_held_out_data"]["passed"]
    assert "trained on" in checks["evaluated_on_held_out_data"]["evidence"][0]


def test_code_that_errors_before_fit_gets_the_static_share(rows):
    check = rows["error_before_fit"]["dropout_model"]
    assert check["source"] == "static" and check["score"] == check["max_score"] / 2
    assert "implemented but not shown to run" in check["evidence"][0]


def test_a_dropout_rate_of_zero_is_no_dropout(rows):
    assert not rows["rate_zero"]["dropout_model"]["passed"]


def test_a_subclassed_keras_model_is_seen(rows):
    check = rows["subclassed"]["dropout_model"]
    assert check["passed"] and "Dropout(0.3)" in check["evidence"][0]


def test_a_pytorch_loop_is_verified_like_keras(rows):
    assert all(verdict(rows, "pytorch").values()), rows["pytorch"]


def test_code_never_run_is_credited_statically_with_no_run(tmp_path):
    notebook = tmp_path / "never_run.ipynb"
    nbformat.write(nbf.new_notebook(cells=[nbf.new_code_cell(c) for c in SCENARIOS["full"]]), notebook)
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["grade", str(notebook), "--assignment", str(ASSIGNMENT), "--out", str(out), "--no-run", "--quiet"])
    assert result.exit_code == 0, result.output
    checks = {c["id"]: c for c in json.loads((out / "grades.json").read_text())[0]["checks"]}
    assert checks["dropout_model"]["source"] == "static" and checks["dropout_model"]["score"] == 3.0
    assert "not shown to run" in checks["dropout_model"]["evidence"][0]
