"""Whose fault a failing cell is, and what the code says when the environment stopped it (no kernel)."""

import importlib.util
from pathlib import Path

import nbformat.v4 as nbf
import pytest

from grader.environment.failures import NOT_VERIFIED, classify, environment_failures, file_name
from grader.execute.outputs import SAVED_TEXT
from grader.extract.evidence import gather_evidence
from grader.extract.static import code_in_text, static_facts
from grader.facts import Facts
from grader.models import CellError, Execution
from grader.pipeline import static_credit_flags
from grader.rubric import load_rubric
from grader.score.checks import run_checks

RUBRIC = load_rubric(Path(__file__).resolve().parents[1] / "rubrics" / "regularization.yaml")


@pytest.mark.parametrize(
    "ename, evalue, kind",
    [
        ("ModuleNotFoundError", "No module named 'torchsummary'", "package"),
        ("ModuleNotFoundError", "No module named 'google.colab'", "hosted"),
        ("ModuleNotFoundError", "No module named 'keras.wrappers'", "removed_api"),
        ("ImportError", "cannot import name 'np_utils' from 'keras.utils' (/x/keras/utils/__init__.py)", "removed_api"),
        ("ValueError", "Argument(s) not recognized: {'lr': 0.01}", "removed_api"),
        ("AttributeError", "'Sequential' object has no attribute 'predict_classes'", "removed_api"),
        ("AttributeError", "module 'numpy' has no attribute 'float'.", "removed_api"),
        ("FileNotFoundError", "[Errno 2] No such file or directory: '/content/wine.csv'", "data_file"),
        (
            "Exception",
            "URL fetch failure on https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz: None -- [Errno -3] Temporary failure in name resolution",
            "download",
        ),
        ("URLError", "<urlopen error [Errno 101] Network is unreachable>", "download"),
        ("ImportError", "libtorch_cuda.so: failed to map segment from shared object", "memory"),
        ("RuntimeError", "Found no NVIDIA driver on your system. Please check that you have an NVIDIA GPU", "gpu"),
        ("AssertionError", "Torch not compiled with CUDA enabled", "gpu"),
    ],
)
def test_environment_failures_are_told_apart(ename, evalue, kind):
    failure = classify(CellError(cell=3, ename=ename, evalue=evalue))
    assert failure is not None and failure.kind == kind and failure.fix


@pytest.mark.parametrize(
    "ename, evalue",
    [
        ("NameError", "name 'undefined_preprocessing' is not defined"),
        ("ValueError", "Shapes (None, 10) and (None, 1) are incompatible"),
        ("ImportError", "cannot import name 'helper' from 'mymodule'"),
        ("AttributeError", "'list' object has no attribute 'shape'"),
        ("SyntaxError", "invalid syntax"),
    ],
)
def test_the_students_own_errors_stay_theirs(ename, evalue):
    assert classify(CellError(cell=1, ename=ename, evalue=evalue)) is None


def test_a_missing_package_names_the_package_and_the_fix():
    failure = classify(CellError(cell=0, ename="ModuleNotFoundError", evalue="No module named 'cv2'"))
    assert "opencv-python-headless" in failure.what and "pip install opencv-python-headless" in failure.fix
    assert failure.flag().startswith("needs review: the grading environment could not run cell 0")


@pytest.mark.parametrize("module", ["torch", "torchvision"])
def test_torch_and_torchvision_missing_are_fixed_by_the_pinned_pair_never_a_bare_pip_install(module):
    failure = classify(CellError(cell=2, ename="ModuleNotFoundError", evalue=f"No module named '{module}'"))
    assert "notebook-grader[torch]" in failure.fix and "torch 2.14.1" in failure.fix
    assert f"pip install {module}`" not in failure.fix


def test_file_names_of_colab_windows_and_relative_paths():
    assert file_name("/content/drive/MyDrive/hw/wine.csv") == "wine.csv"
    assert file_name(r"C:\Users\me\Downloads\wine.csv") == "wine.csv"
    assert file_name("./data/wine.csv") == "wine.csv"


def torch_notebook(saved_training: str = "", saved_results: str = ""):
    cells = [
        nbf.new_code_cell(
            "import torch\nfrom torch import nn\nimport torchsummary\nX_train, y_train = torch.randn(64, 4), torch.randint(0, 2, (64,))\nX_test, y_test = X_train[:8], y_train[:8]"
        ),
        nbf.new_code_cell(
            "def make(p):\n    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Dropout(p), nn.Linear(8, 2))\n"
            "def train(model, opt):\n    model.train()\n    for xb, yb in zip(X_train.split(16), y_train.split(16)):\n"
            "        opt.zero_grad()\n        loss = nn.functional.cross_entropy(model(xb), yb)\n        loss.backward()\n        opt.step()\n"
            "def accuracy(model):\n    model.eval()\n    with torch.no_grad():\n        return (model(X_test).argmax(1) == y_test).float().mean().item()"
        ),
        nbf.new_code_cell(
            "drop, plain = make(0.5), make(0.0)\ntrain(drop, torch.optim.SGD(drop.parameters(), lr=0.1))\ntrain(plain, torch.optim.SGD(plain.parameters(), lr=0.1))"
        ),
        nbf.new_code_cell("print('dropout', accuracy(drop), 'plain', accuracy(plain))"),
    ]
    notebook = nbf.new_notebook(cells=cells)
    if saved_training:
        cells[2].metadata[SAVED_TEXT] = saved_training
    if saved_results:
        cells[3].metadata[SAVED_TEXT] = saved_results
    return notebook


def stopped_run(notebook):
    errors = (
        CellError(0, "ModuleNotFoundError", "No module named 'torchsummary'"),
        CellError(2, "NameError", "name 'X_train' is not defined"),
        CellError(3, "NameError", "name 'X_test' is not defined"),
    )
    return Execution(notebook=notebook, facts=Facts(), status="ok", mode="full", cell_errors=errors)


def test_a_name_the_failed_cell_should_have_defined_is_its_consequence():
    failures = environment_failures(stopped_run(torch_notebook()))
    assert [(f.cell, f.kind, f.cause) for f in failures] == [
        (0, "package", None),
        (2, "consequence", 0),
        (3, "consequence", 0),
    ]


def test_a_pytorch_loop_is_read_as_training_and_a_no_grad_loop_as_evaluation():
    facts = static_facts(torch_notebook())
    assert {
        (m.variable, dict(zip(m.layers, m.rates))["Dropout"]) for m in facts.models if m.variable in ("drop", "plain")
    } == {("drop", 0.5), ("plain", 0.0)}
    assert {(c.method, c.variable) for c in facts.calls} == {
        ("fit", "drop"),
        ("fit", "plain"),
        ("evaluate", "drop"),
        ("evaluate", "plain"),
    }


def grade_stopped(notebook):
    execution = stopped_run(notebook)
    evidence = gather_evidence(execution.notebook, RUBRIC)
    return {c.id: c for c in run_checks(list(RUBRIC.checks), execution.facts, evidence, execution)}


def test_checks_the_environment_stopped_read_the_code_and_the_saved_outputs():
    checks = grade_stopped(torch_notebook("loss: 0.61\nloss: 0.52", "dropout 0.625 plain 0.5"))
    for check in checks.values():
        assert check.source == "static" and check.evidence[0].startswith(NOT_VERIFIED)
        assert check.score == check.max_score / 2
    assert all(c.passed for c in checks.values()), checks
    assert "needs review" in static_credit_flags(tuple(checks.values()))[0]


def test_without_saved_outputs_the_code_earns_its_share_but_does_not_pass():
    checks = grade_stopped(torch_notebook())
    assert not any(c.passed for c in checks.values())
    assert all(c.score == c.max_score / 2 for c in checks.values())


def test_code_in_raw_and_markdown_cells_is_read_but_never_ran():
    notebook = nbf.new_notebook(
        cells=[
            nbf.new_markdown_cell(
                "My model:\n```python\nmodel = Sequential([Dense(10), Dropout(0.5)])\nmodel.fit(x_train, y_train)\n```"
            ),
            nbf.new_raw_cell("base = Sequential([Dense(10)])\nbase.fit(x_train, y_train)"),
            nbf.new_markdown_cell("Dropout(0.5) drops half the units, so the network cannot rely on one."),
        ]
    )
    facts = static_facts(notebook)
    assert {(c.variable, c.cell_type) for c in facts.calls} == {("model", "markdown"), ("base", "raw")}
    evidence = gather_evidence(notebook, RUBRIC)
    execution = Execution(notebook=notebook, facts=Facts(), status="ok", mode="full")
    checks = {c.id: c for c in run_checks(list(RUBRIC.checks), Facts(), evidence, execution)}
    assert "markdown cell, which never runs" in checks["dropout_model"].evidence[0]
    assert "raw cell, which never runs" in checks["baseline_model"].evidence[0]


def test_prose_that_happens_to_parse_is_not_code():
    assert code_in_text("Dropout reduces overfitting.") == []
    assert code_in_text("model.fit(x, y)\n\nThen we compare.") == ["model.fit(x, y)"]


def test_a_rate_zero_dropout_model_is_a_baseline_when_read_statically():
    notebook = nbf.new_notebook(
        cells=[
            nbf.new_raw_cell(
                "a = Sequential([Dense(10), Dropout(0.0)])\na.fit(x_train, y_train)\nb = Sequential([Dense(10), Dropout(rate=0)])\nb.fit(x_train, y_train)"
            )
        ]
    )
    evidence = gather_evidence(notebook, RUBRIC)
    checks = {
        c.id: c
        for c in run_checks(
            list(RUBRIC.checks), Facts(), evidence, Execution(notebook=notebook, facts=Facts(), status="ok")
        )
    }
    assert checks["dropout_model"].score == 0 and checks["baseline_model"].score > 0


def test_a_training_function_called_with_the_model_and_its_loader():
    notebook = nbf.new_notebook(
        cells=[
            nbf.new_code_cell(
                "class Net(nn.Module):\n    def __init__(self, p=0.5):\n        super().__init__()\n        self.fc = nn.Linear(4, 2)\n        self.drop = nn.Dropout(p)\n"
                "    def forward(self, x):\n        return self.drop(self.fc(x))\n"
                "def fit(model, loader, opt):\n    for xb, yb in loader:\n        opt.zero_grad()\n        criterion(model(xb), yb).backward()\n        opt.step()\n"
                "def test(model, loader):\n    model.eval()\n    with torch.no_grad():\n        for xb, yb in loader:\n            model(xb)\n"
                "net, base = Net(), Net(p=0)\nfit(net, train_loader, opt)\ntest(net, test_loader)\ntest(base, loader=test_loader)"
            )
        ]
    )
    facts = static_facts(notebook)
    assert {(m.variable, m.rates[-1]) for m in facts.models} == {("net", 0.5), ("base", 0.0)}
    assert {(c.method, c.variable, c.argument) for c in facts.calls} == {
        ("fit", "net", "train_loader"),
        ("evaluate", "net", "test_loader"),
        ("evaluate", "base", "test_loader"),
    }


def test_names_bound_before_the_failing_line_are_not_lost():
    notebook = nbf.new_notebook(
        cells=[
            nbf.new_code_cell("import numpy as np\nimport torchsummary\nsize = 3"),
            nbf.new_code_cell("np.zeros(size)"),
            nbf.new_code_cell("np.array([1, 2]).reshape(5)"),
        ]
    )
    errors = (
        CellError(0, "ModuleNotFoundError", "No module named 'torchsummary'", line="import torchsummary"),
        CellError(1, "NameError", "name 'size' is not defined"),
        CellError(
            2, "ValueError", "cannot reshape array of size 2 into shape (5,)", line="np.array([1, 2]).reshape(5)"
        ),
    )
    failures = environment_failures(Execution(notebook=notebook, facts=Facts(), status="ok", cell_errors=errors))
    assert [(f.cell, f.kind) for f in failures] == [(0, "package"), (1, "consequence")]


def test_a_loader_reached_through_a_name_bound_to_its_module_is_found():
    """``mnist = tf.keras.datasets.mnist`` then ``mnist.load_data()`` (a corpus notebook's layout)."""
    from grader.extract.needs import Loader, notebook_needs

    def loaders(code):
        return notebook_needs(nbf.new_notebook(cells=[nbf.new_code_cell(code)])).loaders

    assert loaders("import tensorflow as tf\nmnist = tf.keras.datasets.mnist\n(x, y), _ = mnist.load_data()") == {
        Loader("keras", "mnist")
    }
    assert loaders("import keras\nds = keras.datasets\n(x, y), _ = ds.cifar10.load_data()") == {
        Loader("keras", "cifar10")
    }
    assert loaders("x = x.y\nx.load_data()") == set()


def test_doctor_reads_a_mixed_class_and_says_what_to_fix(tmp_path):
    import json

    from typer.testing import CliRunner

    from grader.cli import app

    assignment = Path(__file__).resolve().parents[1] / "assignments" / "regularization"
    notebooks = {
        "colab_wine": "from google.colab import drive\ndrive.mount('/content/drive')\nimport pandas as pd\ndf = pd.read_csv('/content/wine.csv')",
        "old_keras": "import keras\nopt = keras.optimizers.SGD(lr=0.01)\n(x, y), _ = keras.datasets.cifar10.load_data()\npred = model.predict_classes(x)",
        "torch_extras": "!pip install torchsummary\nimport torchsummary\nimport torch, tensorflow\nfrom torchvision import datasets\ntrain = datasets.CIFAR10(root='./data', download=True)",
        "second_wine": "import pandas as pd\ndf = pd.read_csv(r'C:\\Users\\me\\wine.csv')\ndf.to_csv('clean.csv')\nclean = pd.read_csv('clean.csv')",
        "clean": "import keras\n(x, y), (xt, yt) = keras.datasets.mnist.load_data()\nfrom sklearn.datasets import fetch_openml\nwine = fetch_openml('wine_quality')",
        "broken": None,
    }
    for name, code in notebooks.items():
        path = tmp_path / f"{name}.ipynb"
        if code is None:
            path.write_text("{not json")
        else:
            path.write_text(nbformat_text(code))
    result = CliRunner().invoke(app, ["doctor", str(tmp_path), "--assignment", str(assignment), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    found = {(f["kind"], f["item"]): f for f in report["findings"]}
    assert report["notebooks"] == 6 and report["unreadable"] == ["broken"]
    assert (
        found[("import", "torchsummary")]["count"] == 1
        and "pip install torchsummary" in found[("import", "torchsummary")]["fix"]
    )
    assert found[("import", "google.colab")]["notebooks"] == ["colab_wine"]
    assert {f["item"] for f in report["findings"] if f["kind"] == "file"} == {
        "/content/wine.csv",
        "C:\\Users\\me\\wine.csv",
    }
    assert "`files: [wine.csv]`" in found[("file", "/content/wine.csv")]["fix"]
    loaders = {f["item"]: f["fix"] for f in report["findings"] if f["kind"] == "loader"}
    assert set(loaders) == {
        "keras.datasets.cifar10.load_data()",
        "torchvision.datasets.CIFAR10(...)",
        "keras.datasets.mnist.load_data()",
        "sklearn.datasets.fetch_openml('wine_quality')",
    }
    assert (
        "stand-in" in loaders["torchvision.datasets.CIFAR10(...)"]
        and "no offline copy" in loaders["sklearn.datasets.fetch_openml('wine_quality')"]
    )
    if importlib.util.find_spec("torchvision") is None:  # the fix installs the pair, not torchvision alone
        assert "notebook-grader[torch]" in found[("import", "torchvision")]["fix"]
        assert "torchvision" not in report["install"]
    assert {f["item"] for f in report["findings"] if f["kind"] == "removed_api"} == {
        "an optimizer's lr= argument",
        "model.predict_classes / predict_proba",
    }
    assert "torchsummary" in report["install"]
    shown = CliRunner().invoke(app, ["doctor", str(tmp_path), "--assignment", str(assignment)])
    assert shown.exit_code == 0 and "Imports that will fail" in shown.output and "6 notebooks read" in shown.output


def nbformat_text(code: str) -> str:
    import nbformat

    return nbformat.writes(nbf.new_notebook(cells=[nbf.new_markdown_cell("# Homework"), nbf.new_code_cell(code)]))


def test_a_colab_line_nothing_depended_on_is_only_noted():
    from grader.environment.failures import failure_flags

    notebook = nbf.new_notebook(
        cells=[
            nbf.new_code_cell("from google.colab import drive\ndrive.mount('/content/drive')"),
            nbf.new_code_cell("import torchsummary"),
        ]
    )
    errors = (
        CellError(0, "ModuleNotFoundError", "No module named 'google.colab'", line="from google.colab import drive"),
        CellError(1, "ModuleNotFoundError", "No module named 'torchsummary'"),
    )
    flags = failure_flags(
        environment_failures(Execution(notebook=notebook, facts=Facts(), status="ok", cell_errors=errors))
    )
    assert flags[0].startswith("not run here: cell 0") and "only on Colab" in flags[0]
    assert flags[1].startswith("needs review: the grading environment could not run cell 1")


def test_one_missing_file_read_in_several_cells_is_one_flag_naming_them():
    """A Colab notebook reads ``/content/wine.csv`` afresh in four cells: one cause, one flag for review
    (four weighed it as four problems in ``grader review``); another file keeps its own flag."""
    from grader.environment.failures import failure_flags

    read = "import pandas as pd\ndf = pd.read_csv('/content/{}')"
    notebook = nbf.new_notebook(
        cells=[nbf.new_code_cell(read.format(name)) for name in ("wine.csv", "wine.csv", "labels.csv", "wine.csv")]
    )
    errors = tuple(
        CellError(cell, "FileNotFoundError", f"[Errno 2] No such file or directory: '/content/{name}'")
        for cell, name in enumerate(("wine.csv", "wine.csv", "labels.csv", "wine.csv"))
    )
    flags = failure_flags(
        environment_failures(Execution(notebook=notebook, facts=Facts(), status="ok", cell_errors=errors))
    )
    assert len(flags) == 2
    assert flags[0].startswith("needs review: the grading environment could not run cells 0, 1, 3 (")
    assert "wine.csv" in flags[0] and "labels.csv" not in flags[0]
    assert flags[1].startswith("needs review: the grading environment could not run cell 2 (")


def test_doctor_reads_pip_install_lines_as_package_names_not_pins():
    """``!pip install tensorflow==2.0`` asked for tensorflow (installed: the run skips the line and uses it),
    not for a module named ``tensorflow==2``; pip names (``PyYAML``) are not import names (``yaml``)."""
    from grader.assignment import load_assignment
    from grader.doctor import _problems
    from grader.extract.needs import notebook_needs

    code = "!pip install PyYAML==3.0 'nbformat>=99' -q --upgrade\n%pip install surely-absent-package-0b1==1.2 -r req.txt # pinned\nimport yaml"
    # IPython's automagic runs a bare `pip install` line: the rest of its cell is still Python, read as such
    automagic = "pip install torch torchvision\nimport surely_absent_module_0b1\nnet = keras.Sequential([keras.layers.Dense(3)])"
    notebook = nbf.new_notebook(cells=[nbf.new_code_cell(code), nbf.new_code_cell(automagic)])
    needs = notebook_needs(notebook)
    assert needs.pip_installs == {"PyYAML", "nbformat", "surely-absent-package-0b1", "torch", "torchvision"}
    assert "surely_absent_module_0b1" in needs.imports
    assert [m.variable for m in static_facts(notebook).models] == ["net"]
    assignment = load_assignment(Path(__file__).resolve().parents[1] / "assignments" / "batchnorm")
    problems = [(kind, item) for kind, item, _ in _problems(needs, assignment)]
    assert ("import", "surely-absent-package-0b1") in problems and ("import", "surely_absent_module_0b1") in problems
    assert not {("import", "PyYAML"), ("import", "nbformat"), ("import", "tensorflow==2")} & set(problems)


def test_a_flag_that_switches_batch_norm_off_builds_the_model_without_it():
    """``Net(use_bn=False)`` of a class that builds BatchNorm1d only ``if self.use_bn:`` has no BatchNorm1d
    when read from code, and a PyTorch loop's "Epoch [1/2]" log shows it training (--no-run, failed cells)."""
    code = (
        "class Net(nn.Module):\n    def __init__(self, use_bn=True, extra=False):\n        super().__init__()\n"
        "        self.use_bn = use_bn\n        self.fc1, self.fc2 = nn.Linear(784, 64), nn.Linear(64, 10)\n"
        "        if self.use_bn:\n            self.bn1 = nn.BatchNorm1d(64)\n"
        "        if not extra:\n            self.act = nn.ReLU()\n        else:\n            self.act = nn.GELU()\n"
        "    def forward(self, x):\n        x = self.fc1(x)\n        if self.use_bn:\n            x = self.bn1(x)\n"
        "        return self.fc2(self.act(x))\n"
        "plain = Net(use_bn=False)\nnormed = Net()\nwide = Net(True, True)\ntrain(plain, loader)\ntrain(normed, loader)"
    )
    training = "Epoch [1/2], Train Accuracy: 0.91, Validation Accuracy: 0.90\n"
    notebook = nbf.new_notebook(
        cells=[
            nbf.new_code_cell(
                "def train(model, loader):\n    model.train()\n    for x, y in loader:\n        optimizer.zero_grad()\n"
                "        loss = criterion(model(x), y)\n        loss.backward()\n        optimizer.step()"
            ),
            nbf.new_code_cell(code, outputs=[nbf.new_output("stream", name="stdout", text=training)]),
        ]
    )
    facts = static_facts(notebook)
    models = {m.variable: m.layers for m in facts.models}
    assert models["plain"] == ("Linear", "Linear", "ReLU")
    assert models["normed"] == ("Linear", "Linear", "BatchNorm1d", "ReLU")
    assert models["wide"] == ("Linear", "Linear", "BatchNorm1d", "GELU")
    assert any(c.variable == "plain" and c.method == "fit" and c.output_shows_training for c in facts.calls)
