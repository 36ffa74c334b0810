"""Q8 through the CLI with real kernels: every way a Dropout comparison falls short, Keras and PyTorch.

One batch grades all the scenario notebooks (small data, one epoch, enough for the verifier outside
the kernel to see that the models learned); each test reads its row.
"""

import importlib.util
import json
import re
import shutil
from pathlib import Path

import nbformat
import nbformat.v4 as nbf
import pytest
from typer.testing import CliRunner

from grader.cli import app

pytestmark = pytest.mark.slow  # real kernels with TensorFlow or PyTorch, or a whole batch of kernels

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENT = ROOT / "assignments" / "regularization"
ENVIRONMENT_FLAG = "needs review: the grading environment"

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
VALIDATED_FIT = FIT[:-1] + ", validation_data=(x_test, y_test))"

SCENARIOS = {
    "full": [
        DATA,
        BUILD,
        "with_dropout = build(0.5)\n" + FIT.format(name="with_dropout"),
        "plain = build('none')\n" + FIT.format(name="plain"),
        EVAL.format(name="with_dropout", x="x_test", y="y_test")
        + "\n"
        + EVAL.format(name="plain", x="x_test", y="y_test"),
    ],
    "no_baseline": [
        DATA,
        BUILD,
        "with_dropout = build(0.5)\n" + FIT.format(name="with_dropout"),
        EVAL.format(name="with_dropout", x="x_test", y="y_test"),
    ],
    "baseline_twice": [
        DATA,
        BUILD,
        "with_dropout = build(0.5)\nplain = build('none')\n"
        + FIT.format(name="plain")
        + "\n"
        + FIT.format(name="plain"),
        EVAL.format(name="plain", x="x_test", y="y_test"),
    ],
    "l2_instead": [
        DATA,
        BUILD,
        "with_dropout = build(0.5)\n" + FIT.format(name="with_dropout"),
        "l2_model = build('none', l2=0.01)\n" + FIT.format(name="l2_model"),
        EVAL.format(name="with_dropout", x="x_test", y="y_test")
        + "\n"
        + EVAL.format(name="l2_model", x="x_test", y="y_test"),
    ],
    "eval_on_train": [
        DATA,
        BUILD,
        "with_dropout = build(0.5)\n" + FIT.format(name="with_dropout"),
        "plain = build('none')\n" + FIT.format(name="plain"),
        EVAL.format(name="with_dropout", x="x_train", y="y_train")
        + "\n"
        + EVAL.format(name="plain", x="x_train", y="y_train"),
    ],
    "error_before_fit": [
        DATA,
        BUILD,
        "with_dropout = build(0.5)\nplain = build('none')",
        "x_train = undefined_preprocessing(x_train)\n"
        + FIT.format(name="with_dropout")
        + "\n"
        + FIT.format(name="plain"),
    ],
    "rate_zero": [DATA, BUILD, "with_dropout = build(0.0)\n" + FIT.format(name="with_dropout")],
    "subclassed": [
        DATA,
        "class Net(keras.Model):\n    def __init__(self, rate):\n        super().__init__()\n        self.flat = keras.layers.Flatten()\n"
        "        self.hidden = keras.layers.Dense(16, activation='relu')\n        self.drop = keras.layers.Dropout(rate)\n"
        "        self.out = keras.layers.Dense(10, activation='softmax')\n"
        "    def call(self, x, training=False):\n        return self.out(self.drop(self.hidden(self.flat(x)), training=training))",
        "net = Net(0.3)\nnet.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        + FIT.format(name="net"),
        EVAL.format(name="net", x="x_test", y="y_test"),
    ],
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
    "rate_zero_baseline": [
        DATA,
        BUILD,
        "with_dropout = build(0.5)\n" + FIT.format(name="with_dropout"),
        "plain = build(0.0)\n" + FIT.format(name="plain"),
        EVAL.format(name="with_dropout", x="x_test", y="y_test")
        + "\n"
        + EVAL.format(name="plain", x="x_test", y="y_test"),
    ],
    "raw_cell": [
        DATA,
        BUILD,
        nbf.new_raw_cell("with_dropout = build(0.5)\n" + FIT.format(name="with_dropout")),
        "plain = build('none')\n" + FIT.format(name="plain"),
    ],
    "tensorboard": [
        DATA,
        BUILD,
        "with_dropout = build(0.5)\nboard = keras.callbacks.TensorBoard(log_dir='logs')\n"
        "with_dropout.fit(x_train, y_train, epochs=1, batch_size=64, verbose=0, callbacks=[board])",
        EVAL.format(name="with_dropout", x="x_test", y="y_test"),
    ],
    # Keras 2: SGD(lr=...), each model measured on the test set by fit's validation_data, its History
    # read by the key names Keras 2.2 gave accuracy.
    "sgd_lr": [
        DATA,
        BUILD,
        "with_dropout = build(0.5)\nwith_dropout.compile(keras.optimizers.SGD(lr=0.05), 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        "hist_drop = " + VALIDATED_FIT.format(name="with_dropout"),
        "plain = build('none')\nhist_plain = " + VALIDATED_FIT.format(name="plain"),
        "import matplotlib.pyplot as plt\nfor history in (hist_drop, hist_plain):\n"
        "    plt.plot(history.history['acc'])\n    plt.plot(history.history['val_acc'])\nplt.show()",
    ],
    # Validated on rows kept back from the training images (X_valid = X_train_full[:N]), the test set never used.
    "kept_back_validation": [
        "import keras\n(x_full, y_full), (x_test, y_test) = keras.datasets.mnist.load_data()\n"
        "x_train, y_train = x_full[:2048] / 255.0, y_full[:2048]\nx_valid, y_valid = x_full[2048:2560] / 255.0, y_full[2048:2560]",
        BUILD,
        "with_dropout = build(0.5)\n" + FIT[:-1].format(name="with_dropout") + ", validation_data=(x_valid, y_valid))",
        "plain = build('none')\n" + FIT[:-1].format(name="plain") + ", validation_data=(x_valid, y_valid))",
    ],
    # Written on Colab: Drive mounted, the data read from it; the assignment serves data.csv (files:).
    "colab_csv": [
        "from google.colab import drive\ndrive.mount('/content/drive')",
        "import pandas as pd, keras\ndf = pd.read_csv('/content/drive/MyDrive/hw/data.csv')\nX, y = df.drop(columns='label').to_numpy('float32'), df['label'].to_numpy()\n"
        "x_train, y_train, x_test, y_test = X[:96], y[:96], X[96:], y[96:]",
        "def build(rate):\n    layers = [keras.Input((4,)), keras.layers.Dense(8, activation='relu')] + ([keras.layers.Dropout(rate)] if rate else [])\n"
        "    model = keras.Sequential(layers + [keras.layers.Dense(3, activation='softmax')])\n"
        "    model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n    return model",
        "with_dropout, plain = build(0.5), build(0)\n"
        + FIT.format(name="with_dropout")
        + "\n"
        + FIT.format(name="plain"),
        EVAL.format(name="with_dropout", x="x_test", y="y_test")
        + "\n"
        + EVAL.format(name="plain", x="x_test", y="y_test"),
    ],
    # Datasets the grader cannot download: served by stand-ins with the real shapes.
    "keras_cifar10": [
        "import keras\n(x_train, y_train), (x_test, y_test) = keras.datasets.cifar10.load_data()\n"
        "x_train, y_train, x_test, y_test = x_train[:256] / 255.0, y_train[:256], x_test[:64] / 255.0, y_test[:64]",
        "def build(rate):\n    layers = [keras.Input((32, 32, 3)), keras.layers.Flatten(), keras.layers.Dense(16, activation='relu')]\n"
        "    layers += [keras.layers.Dropout(rate)] if rate else []\n"
        "    model = keras.Sequential(layers + [keras.layers.Dense(10, activation='softmax')])\n"
        "    model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n    return model",
        "with_dropout, plain = build(0.4), build(0)\n"
        + FIT.format(name="with_dropout")
        + "\n"
        + FIT.format(name="plain"),
        EVAL.format(name="with_dropout", x="x_test", y="y_test")
        + "\n"
        + EVAL.format(name="plain", x="x_test", y="y_test"),
    ],
    # Two served datasets in one notebook: the dropout model learns Fashion-MNIST, the baseline MNIST.
    "mnist_and_fashion": [
        DATA + "\n(f_train, fy_train), (f_test, fy_test) = keras.datasets.fashion_mnist.load_data()\n"
        "f_train, fy_train, f_test, fy_test = f_train[:2048] / 255.0, fy_train[:2048], f_test[:64] / 255.0, fy_test[:64]",
        BUILD,
        "with_dropout = build(0.5)\nwith_dropout.fit(f_train, fy_train, epochs=1, batch_size=32, verbose=0)",
        "plain = build('none')\n" + FIT.format(name="plain"),
        EVAL.format(name="with_dropout", x="f_test", y="fy_test")
        + "\n"
        + EVAL.format(name="plain", x="x_test", y="y_test"),
    ],
    "torchvision_cifar10": [
        "import torch, torchvision\nfrom torch import nn\nfrom torchvision import datasets, transforms\ntorch.manual_seed(0)\n"
        "train_set = datasets.CIFAR10(root='./data', train=True, download=True, transform=transforms.ToTensor())\n"
        "test_set = datasets.CIFAR10(root='./data', train=False, download=True, transform=transforms.ToTensor())\n"
        "train_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(train_set, range(256)), batch_size=64, shuffle=True)\n"
        "test_loader = torch.utils.data.DataLoader(torch.utils.data.Subset(test_set, range(64)), batch_size=64)",
        "def make(p):\n    return nn.Sequential(nn.Flatten(), nn.Linear(3072, 32), nn.ReLU(), nn.Dropout(p), nn.Linear(32, 10))\n"
        "def train(model):\n    opt = torch.optim.SGD(model.parameters(), lr=0.05)\n    model.train()\n    for images, labels in train_loader:\n"
        "        opt.zero_grad()\n        nn.functional.cross_entropy(model(images), labels).backward()\n        opt.step()\n"
        "def accuracy(model):\n    model.eval()\n    right = 0\n    with torch.no_grad():\n        for images, labels in test_loader:\n"
        "            right += (model(images).argmax(1) == labels).sum().item()\n    return right / 64",
        # Percentages with every digit, as real notebooks print them: matched to the accuracy the probe scored
        "drop, plain = make(0.5), make(0.0)\ntrain(drop)\ntrain(plain)\nprint('dropout', 100 * accuracy(drop), 'plain', 100 * accuracy(plain))",
    ],
    # Written on Colab's GPU (the device named without a fallback) for torchvision before 0.3 (three
    # means for grey images, here leaving the pixels as they are), each model scored before training
    # and after every epoch by one evaluate(): the record measures the final weights, on the CPU.
    "torch_colab_gpu": [
        "import torch\nfrom torch import nn\nfrom torch.utils.data import DataLoader, Subset\nfrom torchvision import datasets, transforms\n"
        "torch.manual_seed(0)\ndevice = torch.device('cuda')\n"
        "transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))])\n"
        "train_set = datasets.MNIST('./data', train=True, download=True, transform=transform)\n"
        "test_set = datasets.MNIST('./data', train=False, download=True, transform=transform)\n"
        "train_loader = DataLoader(Subset(train_set, range(512)), batch_size=32, shuffle=True)\n"
        "test_loader = DataLoader(Subset(test_set, range(256)), batch_size=64)",
        "def make(p):\n    layers = [nn.Flatten(), nn.Linear(784, 64), nn.ReLU()] + ([nn.Dropout(p)] if p else []) + [nn.Linear(64, 10)]\n"
        "    return nn.Sequential(*layers)\n"
        "def train_epoch(model, opt):\n    model.train()\n    for images, labels in train_loader:\n"
        "        images, labels = images.to(device), labels.to(device)\n        opt.zero_grad()\n"
        "        nn.functional.cross_entropy(model(images), labels).backward()\n        opt.step()\n"
        "def evaluate(model):\n    model.eval()\n    right = 0\n    with torch.no_grad():\n        for images, labels in test_loader:\n"
        "            images, labels = images.to(device), labels.to(device)\n"
        "            right += (model(images).argmax(1) == labels).sum().item()\n    return 100 * right / 256\n"
        "def run(model):\n    opt = torch.optim.Adam(model.parameters(), lr=0.005)\n    accuracies = [evaluate(model)]\n"
        "    for epoch in range(2):\n        train_epoch(model, opt)\n        accuracies.append(evaluate(model))\n    return accuracies",
        "drop, plain = make(0.5).to(device), make(0).to(device)\ndrop_acc, plain_acc = run(drop), run(plain)\n"
        "print(f'dropout: {drop_acc[-1]:.2f}%  baseline: {plain_acc[-1]:.2f}%')",
    ],
    "optimizers": [
        DATA,
        BUILD,
        "sgd_model = build('none')\nsgd_model.compile(keras.optimizers.SGD(learning_rate=0.05, momentum=0.9), 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
        + FIT.format(name="sgd_model"),
        "adam_model = build('none')\n" + FIT.format(name="adam_model"),
        EVAL.format(name="sgd_model", x="x_test", y="y_test")
        + "\n"
        + EVAL.format(name="adam_model", x="x_test", y="y_test"),
    ],
    # The grading environment lacks a package the student's machine had: their saved outputs show
    # the training and the results, which our run cannot reproduce.
    "torch_missing_package": [
        "import torch\nfrom torch import nn\nimport torchsummary\ntorch.manual_seed(0)\nX, y = torch.randn(192, 20), torch.randint(0, 3, (192,))\n"
        "X_train, y_train, X_test, y_test = X[:128], y[:128], X[128:], y[128:]",
        "def make(p):\n    return nn.Sequential(nn.Linear(20, 16), nn.ReLU(), nn.Dropout(p), nn.Linear(16, 3))\n"
        "def train(model):\n    opt = torch.optim.Adam(model.parameters(), lr=0.01)\n    model.train()\n"
        "    for start in range(0, 128, 32):\n        opt.zero_grad()\n        loss = nn.functional.cross_entropy(model(X_train[start:start + 32]), y_train[start:start + 32])\n"
        "        loss.backward()\n        opt.step()\n    print('loss:', round(loss.item(), 3))\n"
        "def accuracy(model):\n    model.eval()\n    with torch.no_grad():\n        return (model(X_test).argmax(1) == y_test).float().mean().item()",
        nbf.new_code_cell(
            "drop, plain = make(0.5), make(0.0)\ntrain(drop)\ntrain(plain)",
            outputs=[nbf.new_output("stream", name="stdout", text="loss: 0.912\nloss: 0.874\n")],
        ),
        nbf.new_code_cell(
            "print('dropout', accuracy(drop), 'plain', accuracy(plain))",
            outputs=[nbf.new_output("stream", name="stdout", text="dropout 0.4531 plain 0.4219\n")],
        ),
    ],
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """The folder one batch of every scenario was graded into, and its grades.json by student."""
    folder = tmp_path_factory.mktemp("q8")
    for name, cells in SCENARIOS.items():
        cells = [c if isinstance(c, dict) else nbf.new_code_cell(c) for c in cells]
        nbformat.write(nbf.new_notebook(cells=[nbf.new_markdown_cell("## Q8")] + cells), folder / f"{name}.ipynb")
    out = tmp_path_factory.mktemp("out")
    assignment = assignment_with_files(tmp_path_factory.mktemp("course"))
    result = CliRunner().invoke(
        app, ["grade", str(folder), "--assignment", str(assignment), "--out", str(out), "--quiet", "--jobs", "2"]
    )
    assert result.exit_code == 0, result.output
    return out, {row["student"]: row for row in json.loads((out / "grades.json").read_text())}


def assignment_with_files(course: Path) -> Path:
    """The regularization assignment, serving data.csv (4 features, 3 classes) under `files:`."""
    shutil.copytree(ASSIGNMENT, course / "assignments" / "regularization")
    shutil.copytree(ROOT / "rubrics", course / "rubrics")
    folder = course / "assignments" / "regularization"
    rows = ["a,b,c,d,label"] + [f"{i % 7},{i % 5},{i % 3},{(i * 7) % 11},{i % 3}" for i in range(128)]
    (folder / "data.csv").write_text("\n".join(rows) + "\n")
    with open(folder / "assignment.yaml", "a", encoding="utf-8") as config:
        config.write("files: [data.csv]\n")
    rubric = course / "rubrics" / "regularization.yaml"
    rubric.write_text(rubric.read_text().replace("\ntotal: 100\n", "\ntotal: 102\n") + VARIANT_CHECKS)
    return folder


VARIANT_CHECKS = """
  - {id: dropout_compared, points: 1, kind: compared_variants, params: {vary: layers, values: [Dropout, none]}}
  - {id: optimizers_compared, points: 1, kind: compared_variants,
     params: {vary: optimizer, values: [SGD, Adam, RMSprop], min_distinct: 2, fresh_weights: true}}
"""


@pytest.fixture(scope="module")
def rows(graded):
    return {student: {c["id"]: c for c in row["checks"]} for student, row in graded[1].items()}


Q8_CHECKS = ("dropout_model", "baseline_model", "evaluated_on_held_out_data", "comparison_reported")


def verdict(rows, scenario):
    """The regularization rubric's four Q8 checks (the batch's rubric adds VARIANT_CHECKS)."""
    return {check_id: rows[scenario][check_id]["passed"] for check_id in Q8_CHECKS}


def test_the_full_pattern_passes_everything(rows):
    assert all(verdict(rows, "full").values())
    assert "like-for-like" in rows["full"]["baseline_model"]["evidence"][-1]


def test_no_baseline_fails_the_baseline_and_the_comparison(rows):
    assert verdict(rows, "no_baseline") == {
        "dropout_model": True,
        "baseline_model": False,
        "evaluated_on_held_out_data": False,
        "comparison_reported": False,
    }


def test_a_baseline_trained_twice_is_not_a_dropout_model(rows):
    checks = rows["baseline_twice"]
    assert not checks["dropout_model"]["passed"] and checks["baseline_model"]["passed"]
    assert (
        "with_dropout = " in checks["dropout_model"]["evidence"][0]
        and "never trained" in checks["dropout_model"]["evidence"][0]
    )


def test_an_l2_model_is_not_a_like_for_like_baseline(rows):
    assert (
        "not a like-for-like comparison: it adds weight regularization"
        in rows["l2_instead"]["baseline_model"]["evidence"][-1]
    )


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


def test_a_rate_zero_dropout_model_is_a_like_for_like_baseline(rows):
    assert all(verdict(rows, "rate_zero_baseline").values()), rows["rate_zero_baseline"]
    assert "like-for-like" in rows["rate_zero_baseline"]["baseline_model"]["evidence"][-1]


def test_code_in_a_raw_cell_is_read_but_never_ran(rows):
    check = rows["raw_cell"]["dropout_model"]
    assert not check["passed"] and check["source"] == "static" and check["score"] == check["max_score"] / 2
    assert "raw cell, which never runs" in check["evidence"][0]
    assert rows["raw_cell"]["baseline_model"]["passed"]


def test_a_tensorboard_callback_trains_like_any_other(rows, graded):
    assert rows["tensorboard"]["dropout_model"]["passed"], rows["tensorboard"]["dropout_model"]
    assert graded[1]["tensorboard"]["execution"]["cells_failed"] == []


def test_a_colab_notebook_reads_the_staged_file_where_it_said(rows, graded):
    assert all(verdict(rows, "colab_csv").values()), rows["colab_csv"]
    record = graded[1]["colab_csv"]
    assert record["execution"]["translations"] == [
        "/content/drive/MyDrive/hw/data.csv was read from the staged data.csv (files: in assignment.yaml)"
    ]
    assert [flag for flag in record["flags"] if "cell 1" in flag][0].startswith("not run here: cell 1")
    assert not any(flag.startswith(ENVIRONMENT_FLAG) for flag in record["flags"])


def test_keras_cifar10_is_served_offline_by_a_stand_in(rows, graded):
    assert all(verdict(rows, "keras_cifar10").values()), rows["keras_cifar10"]
    record = graded[1]["keras_cifar10"]
    assert record["execution"]["cells_failed"] == [] and not any(
        f.startswith(ENVIRONMENT_FLAG) for f in record["flags"]
    )
    assert any(served.startswith("cifar10: stand-in for CIFAR-10") for served in record["execution"]["served"])


def test_each_model_is_measured_only_on_the_held_out_split_of_the_dataset_it_trained_on(rows, graded):
    """MNIST and Fashion-MNIST loaded: the Fashion-MNIST model, near chance on digits, is not
    measured on MNIST (so not contradicted) and says why; the MNIST model still is."""
    record = graded[1]["mnist_and_fashion"]
    evidence = [line for check in record["checks"] for line in check["evidence"]]
    assert (
        "with_dropout: not independently verified: trained on Fashion-MNIST: no held-out split to measure it on"
        " (the grader holds MNIST's only)" in evidence
    ), evidence
    assert any(line.startswith("plain: verified outside the kernel: held-out accuracy") for line in evidence), evidence
    assert not any("contradicted" in line or "near chance" in line for line in evidence + record["flags"]), record
    assert rows["mnist_and_fashion"]["dropout_model"]["passed"]


def test_torchvision_cifar10_with_download_is_served_or_its_import_flagged(rows, graded):
    record = graded[1]["torchvision_cifar10"]
    if importlib.util.find_spec("torchvision") is not None:
        assert all(verdict(rows, "torchvision_cifar10").values()), rows["torchvision_cifar10"]
        assert any(served.startswith("cifar10: stand-in for CIFAR-10") for served in record["execution"]["served"])
        reported = rows["torchvision_cifar10"]["comparison_reported"]["evidence"]
        assert all(re.match(r"(dropout|baseline)_model: accuracy 0\.\d{4} appears in the output of cell 3", line)
                   for line in reported), reported  # fmt: skip
        return
    # Installed without the `torch` extra: the environment's failure, with the fix.
    assert record["flags"][0].startswith(
        f"{ENVIRONMENT_FLAG} could not run cell 1 (ModuleNotFoundError: No module named 'torchvision')"
    )
    assert "notebook-grader[torch]" in record["flags"][0]
    checks = rows["torchvision_cifar10"]
    assert all(
        checks[c]["source"] == "static" and checks[c]["score"] == checks[c]["max_score"] / 2 for c in Q8_CHECKS
    ), checks


def test_old_colab_torch_code_runs_here_and_an_evaluation_per_epoch_measures_the_final_weights(rows, graded):
    record = graded[1]["torch_colab_gpu"]
    if importlib.util.find_spec("torchvision") is None:
        pytest.skip("installed without the `torch` extra")
    assert record["execution"]["translations"] == [
        ".to('cuda') and .cuda() ran on the CPU: the grading machine has no GPU",
        "Normalize(mean=(0.0, 0.0, 0.0), std=(1.0, 1.0, 1.0)) on 1-channel images ran with the first 1: torchvision"
        " before 0.3 used one value per channel and ignored the rest",
    ]
    assert all(verdict(rows, "torch_colab_gpu").values()), rows["torch_colab_gpu"]
    assert not any("contradicted" in flag for flag in record["flags"]), record["flags"]
    reported = rows["torch_colab_gpu"]["comparison_reported"]["evidence"]
    assert all("appears in the output of cell 3" in line for line in reported), reported


def test_variants_compared_on_one_architecture(rows):
    optimizers = rows["optimizers"]["optimizers_compared"]
    assert optimizers["passed"], optimizers
    assert any(line.startswith("sgd: sgd_model") and "SGD lr 0.05" in line for line in optimizers["evidence"])
    assert rows["full"]["dropout_compared"]["passed"] and rows["pytorch"]["dropout_compared"]["passed"]
    assert not rows["no_baseline"]["dropout_compared"]["passed"] and not rows["full"]["optimizers_compared"]["passed"]


def test_keras_2_code_runs_translated_with_a_note(rows, graded):
    assert all(verdict(rows, "sgd_lr").values()), rows["sgd_lr"]
    execution = graded[1]["sgd_lr"]["execution"]
    assert execution["cells_failed"] == [] and execution["translations"] == [
        "SGD(lr=0.05) ran as SGD(learning_rate=0.05): lr was removed in Keras 3",
        "history['acc'] ran as history['accuracy']: Keras 2.3 renamed the key",
        "history['val_acc'] ran as history['val_accuracy']: Keras 2.3 renamed the key",
    ]
    assert not any(flag.startswith(ENVIRONMENT_FLAG) for flag in graded[1]["sgd_lr"]["flags"])
    evidence = rows["sgd_lr"]["evaluated_on_held_out_data"]["evidence"]  # Keras evaluated on it every epoch
    assert all("evaluated every epoch on the validation_data given to fit()" in line for line in evidence), evidence


def test_validation_rows_kept_back_from_the_training_images_are_not_the_test_set(rows):
    held_out = rows["kept_back_validation"]["evaluated_on_held_out_data"]
    assert not held_out["passed"] and all("kept back from the training images" in line for line in held_out["evidence"])
    assert rows["kept_back_validation"]["dropout_model"]["passed"]
    assert rows["sgd_lr"]["evaluated_on_held_out_data"]["passed"]  # validated on 64 rows of the test split: counts


def test_a_missing_package_is_the_environments_failure_flagged_first(rows, graded):
    out, records = graded
    flags = records["torch_missing_package"]["flags"]
    assert flags[0].startswith(
        "needs review: the grading environment could not run cell 1 (ModuleNotFoundError: No module named 'torchsummary')"
    )
    assert "pip install torchsummary" in flags[0]
    assert any("come from reading the code, not from a run" in flag for flag in flags)
    checks = {check_id: rows["torch_missing_package"][check_id] for check_id in Q8_CHECKS}
    for check in checks.values():
        assert check["source"] == "static" and check["score"] == check["max_score"] / 2, check
        assert check["evidence"][0].startswith("not verified: the grading environment could not run this")
    assert all(check["passed"] for check in checks.values()), checks  # the saved outputs show each step
    listed = CliRunner().invoke(app, ["review", "--out", str(out)])
    assert listed.exit_code == 0 and "torch_missing_package" in listed.output
    order = [line.split("│")[2].strip() for line in listed.output.splitlines() if re.match(r"│ \d+ ", line.strip())]
    stopped = {
        student for student, record in records.items() if any(f.startswith(ENVIRONMENT_FLAG) for f in record["flags"])
    }
    assert "torch_missing_package" in stopped and set(order[: len(stopped)]) == stopped  # listed first
    overview = (out / "index.html").read_text()
    assert overview.index("torch_missing_package") < overview.index("error_before_fit")
    assert "Environment failed" in overview


def test_code_never_run_is_credited_statically_with_no_run(tmp_path):
    notebook = tmp_path / "never_run.ipynb"
    nbformat.write(nbf.new_notebook(cells=[nbf.new_code_cell(c) for c in SCENARIOS["full"]]), notebook)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["grade", str(notebook), "--assignment", str(ASSIGNMENT), "--out", str(out), "--no-run", "--quiet"]
    )
    assert result.exit_code == 0, result.output
    checks = {c["id"]: c for c in json.loads((out / "grades.json").read_text())[0]["checks"]}
    assert checks["dropout_model"]["source"] == "static" and checks["dropout_model"]["score"] == 3.0
    assert "not shown to run" in checks["dropout_model"]["evidence"][0]
