"""A notebook that tampers with the grader's recorders gets no facts and no check: it is flagged,
never passed. The probe checks its own recorders at every cell and, at the end, a fresh copy of
its code checks the probe before asking it for the facts."""

import ast
import sys
import types
from pathlib import Path

import nbformat.v4 as nbf
import pytest

from grader.assignment import load_assignment
from grader.execute.probe import TAMPERED, probe_files, probe_source
from grader.execute.runner import run_notebook
from grader.models import Submission
from grader.pipeline import score
from grader.settings import ExecutionLimits

ROOT = Path(__file__).resolve().parents[2]


def probe_copy() -> dict:
    """The probe's code as the runner sends it to a kernel: a module namespace of its own."""
    namespace = {"__name__": "grader_probe"}
    exec(compile(probe_source(), "<grader-probe>", "exec"), namespace)
    return namespace


@pytest.fixture
def installed():
    """A probe as ``install`` leaves it, on a stand-in for keras.src.models.model (no TensorFlow),
    and a fresh copy of the probe's code to audit it with (as the runner's last request does)."""
    attribute = "_grader_probe_test"
    code = probe_copy()
    probe = code["_Probe"]({"nonce": "n", "attribute": attribute})
    setattr(sys, attribute, probe)
    keras_model = types.ModuleType("keras.src.models.model")

    class Model:
        def fit(self, *args, **kwargs):
            return "trained"

        def evaluate(self, *args, **kwargs):
            return 0.0

        def predict(self, *args, **kwargs):
            return []

    Model.__module__, Model.__qualname__ = keras_model.__name__, "Model"
    keras_model.Model = Model
    probe.hooks.pop("keras.src.models.model")(keras_model)
    probe.hooks.clear()  # no import hook is pending
    yield probe, Model, code, probe_copy()["_audit"]
    delattr(sys, attribute)


def test_the_recorders_in_place_verify_clean(installed):
    probe, _, _, audit = installed
    assert probe.integrity.verify() == [] and audit(probe) == []


def test_putting_fit_back_is_noticed_at_the_next_cell_and_leads_the_warnings(installed):
    probe, Model, _, _ = installed
    probe.warnings.extend(f"noise {n}" for n in range(200))  # a flood of warnings cannot hide it
    Model.fit = Model.fit.__wrapped__
    probe.enter_cell(3)
    probe.enter_cell(4)  # still missing: said once, when first seen
    probe.integrity.tamper("keras.src.models.model.Model.fit is no longer the grader's recorder")  # the final audit
    problems = [w for w in probe.facts()["warnings"] if w.startswith(TAMPERED)]
    assert len(problems) == 1 and problems[0].startswith(f"{TAMPERED}: keras.src.models.model.")
    assert problems[0].endswith("Model.fit is no longer the grader's recorder (before the first cell)")
    assert probe.facts()["warnings"][0] == problems[0]


def test_removing_or_replacing_the_probe_or_its_methods_is_found(installed):
    probe, _, code, audit = installed
    probe.report = lambda: None
    assert audit(probe) == ["the probe's report was overridden on the probe"]
    del probe.report
    assert audit(None) == ["the probe was removed from sys"]
    assert audit(object()) == ["the probe was replaced by another object"]
    code["_Probe"].payload = lambda self: "{}"
    assert audit(probe) == ["the probe's method payload was replaced"]
    code["_Probe"].payload = probe_copy()["_Probe"].payload
    code["row_hashes"] = lambda array, rows=None: None
    assert audit(probe) == ["the probe's function row_hashes was replaced"]


def test_replacing_a_recorder_or_one_of_its_methods_is_found(installed):
    probe, _, code, audit = installed
    keras = probe.keras
    probe.keras = object()
    assert audit(probe) == ["the probe's keras recorder was replaced by another object"]
    probe.keras = keras
    keras._keras_call = lambda *args: None
    assert audit(probe) == ["the probe's keras recorder's _keras_call was overridden on the probe's keras recorder"]
    del keras._keras_call
    code["_TorchRecorder"]._torch_step = lambda self, optimizer: None
    problems = audit(probe)
    assert "the probe's torch recorder's method _torch_step was replaced" in problems
    assert "the probe's _TorchRecorder._torch_step was replaced" in problems


def test_the_probe_parts_join_into_one_namespace_without_a_name_defined_twice():
    defined = {}
    for path in probe_files():
        for node in ast.parse(path.read_text()).body:
            targets = node.targets if isinstance(node, ast.Assign) else []
            names = [node.name] if isinstance(node, (ast.FunctionDef, ast.ClassDef)) else []
            names += [leaf.id for target in targets for leaf in ast.walk(target) if isinstance(leaf, ast.Name)]
            for name in names:
                defined.setdefault(name, []).append(path.stem)
    assert {name: parts for name, parts in defined.items() if len(parts) > 1} == {}
    assert "from grader" not in probe_source() and "_Probe" in probe_copy()


def test_a_framework_module_from_the_notebooks_own_folder_is_not_recorded(installed, tmp_path):
    probe, *_ = installed
    probe.integrity.student_roots = [str(tmp_path) + "/"]
    assert probe.integrity.foreign(str(tmp_path / "keras" / "src" / "models" / "model.py"))
    assert not probe.integrity.foreign(str(probe_files()[0]))


# -- a real Keras run ------------------------------------------------------------------------------

TRAIN = (
    "import numpy as np, keras\nx, y = np.random.rand(64, 8), np.random.randint(0, 2, 64)\n"
    "def build(rate):\n    layers = [keras.Input((8,)), keras.layers.Dense(8)]\n    if rate:\n"
    "        layers.append(keras.layers.Dropout(rate))\n    layers.append(keras.layers.Dense(2, activation='softmax'))\n"
    "    model = keras.Sequential(layers)\n    model.compile('adam', 'sparse_categorical_crossentropy', metrics=['accuracy'])\n"
    "    return model\nwith_dropout, without = build(0.5), build(0)\n"
    "with_dropout.fit(x, y, epochs=1, verbose=0)\nwithout.fit(x, y, epochs=1, verbose=0)"
)
PUT_BACK = "keras.Model.fit = keras.Model.fit.__wrapped__\nwith_dropout.fit(x, y, epochs=1, verbose=0)"


@pytest.fixture(scope="module")
def keras_runs():
    assignment = load_assignment(ROOT / "assignments" / "regularization")
    limits = ExecutionLimits(cell_timeout=120, notebook_timeout=300)
    graded = {}
    for name, cells in (("honest", [TRAIN]), ("tampered", [TRAIN, PUT_BACK])):
        nb = nbf.new_notebook(cells=[nbf.new_code_cell(source) for source in cells])
        execution = run_notebook(nb, datasets={}, limits=limits)
        graded[name] = (execution, score(Submission(name, name, name, nb), execution, assignment))
    return graded


@pytest.mark.slow
def test_an_honest_run_records_the_dropout_model(keras_runs):
    execution, grade = keras_runs["honest"]
    assert execution.status == "ok" and not execution.tampered, execution.message
    assert {check.id: check.passed for check in grade.checks}["dropout_model"]


@pytest.mark.slow
def test_putting_keras_fit_back_discards_the_facts_fails_every_check_and_flags_the_grade(keras_runs):
    execution, grade = keras_runs["tampered"]
    assert execution.tampered and execution.status == "error"
    assert "keras.src.models.model.Model.fit is no longer the grader's recorder" in execution.message
    assert execution.facts.fits == [] and execution.facts.models == []
    assert not any(check.passed for check in grade.checks)
    assert any(TAMPERED in flag for flag in grade.flags)
